// Strict YAML binding of ExplainConfig and the composite it describes.
#include "trainer/explain/explain_config.hpp"

#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "datasets/input_error.hpp"
#include "trainer/model/yaml_binding.hpp"

namespace resilinet {
namespace {

template <class V> void visit_rule(V& v, LrpRuleConfig& r) {
  v.choice("rule", r.rule, kernels::lrp_rule_names());
  v.field("epsilon", r.epsilon);
  v.field("stabilizer", r.stabilizer);
  v.field("gamma", r.gamma);
  v.field("alpha", r.alpha);
  v.field("beta", r.beta);
}

template <class V> void visit_explain(V& v, ExplainConfig& c) {
  v.section("lrp", [&](V& s) {
    s.section("input", [&](V& r) { visit_rule(r, c.input); });
    s.section("middle", [&](V& r) { visit_rule(r, c.middle); });
    s.section("top", [&](V& r) { visit_rule(r, c.top); });
    s.field("seed", c.seed);
  });
  v.section("sensitivity", [&](V& s) {
    s.field("enabled", c.sensitivity);
    s.field("delta", c.delta);
  });
}

kernels::LrpRule make_rule(const LrpRuleConfig& r, const std::string& file, const std::string& field,
                           std::vector<float> low, std::vector<float> high) {
  // The epsilon rule's epsilon and the other rules' stabilizer are one float of the kernel: the
  // error names the key that was written, and a value past a float's range is refused here before
  // it turns into infinity.
  const bool epsilon_rule = r.rule == "epsilon";
  const double constant = epsilon_rule ? r.epsilon : r.stabilizer;
  if (!(constant >= 0 && constant <= std::numeric_limits<float>::max())) {
    std::ostringstream found;
    found << constant;
    throw InputError(file, field + (epsilon_rule ? ".epsilon" : ".stabilizer"), "a finite number >= 0", found.str());
  }
  kernels::LrpRule settings;
  settings.epsilon = float(r.rule == "epsilon" ? r.epsilon : r.stabilizer);
  settings.gamma = float(r.gamma);
  settings.alpha = float(r.alpha);
  settings.beta = float(r.beta);
  settings.low = std::move(low);
  settings.high = std::move(high);
  try {
    return kernels::make_lrp_rule(r.rule, settings, file, field);
  } catch (const kernels::LrpRuleError& e) {
    throw InputError(e.file(), e.field(), e.expected(), e.found());
  }
}

}  // namespace

ExplainConfig parse_explain_config(const std::string& yaml_text, const std::string& file) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::ParserException& e) {
    throw InputError(file, "line " + std::to_string(e.mark.line + 1), "valid YAML", e.msg);
  }
  ExplainConfig c;
  c.source_file = file;
  yaml_binding::Reader r(root, file, "");
  visit_explain(r, c);
  r.finish();
  // zbox bounds relevance by the input's range: it has no meaning on a hidden layer.
  for (const auto& [rule, key] : {std::pair{&c.middle, "lrp.middle.rule"}, std::pair{&c.top, "lrp.top.rule"}})
    if (rule->rule == "zbox") throw InputError(file, key, "a rule other than zbox (zbox is for the input layer)", "zbox");
  if (!(c.delta > 0 && c.delta <= 1e3))
    throw InputError(file, "sensitivity.delta", "a number in (0, 1000]", std::to_string(c.delta));
  return c;
}

ExplainConfig load_explain_config(const std::string& path) {
  if (path.empty()) return ExplainConfig{};
  if (std::filesystem::is_directory(path)) throw InputError(path, "", "a config file", "a folder");
  std::ifstream in(path);
  if (!in) throw InputError(path, "", "a readable config file", "cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_explain_config(ss.str(), path);
}

std::string to_yaml(const ExplainConfig& config) {
  ExplainConfig c = config;
  YAML::Emitter out;
  out << YAML::BeginMap;
  yaml_binding::Writer w(out);
  visit_explain(w, c);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

kernels::LrpComposite build_composite(const ExplainConfig& c, const Model& model) {
  const size_t layers = model.classifier.layers.size();
  kernels::LrpComposite composite;
  for (size_t l = 0; l < layers; ++l) {
    const bool input = l == 0, top = l + 1 == layers && l > 0;
    const LrpRuleConfig& r = input ? c.input : top ? c.top : c.middle;
    const std::string field = input ? "lrp.input" : top ? "lrp.top" : "lrp.middle";
    if (r.rule == "zbox" && !input)
      throw InputError(c.source_file, field + ".rule", "zbox only on the input layer (its bounds are the scaled feature range)", "zbox");
    std::vector<float> low, high;
    if (r.rule == "zbox") {
      low = model.scaler.scaled_min();
      high = model.scaler.scaled_max();
    }
    composite.push_back(make_rule(r, c.source_file, field, std::move(low), std::move(high)));
  }
  return composite;
}

int fixed_seed_class(const ExplainConfig& c, int clusters) {
  if (c.seed == "rated") return -1;
  int level = 0;
  try {
    size_t used = 0;
    level = std::stoi(c.seed, &used);
    if (used != c.seed.size()) level = 0;
  } catch (const std::exception&) {
    level = 0;
  }
  if (level < 1 || level > clusters)
    throw InputError(c.source_file, "lrp.seed", "'rated' or a level 1.." + std::to_string(clusters), "'" + c.seed + "'");
  return level - 1;
}

}  // namespace resilinet
