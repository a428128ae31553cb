// Fine-tuning from a checkpoint (init_from.hpp): the hash that pins the checkpoint, the checks that
// the run builds the checkpoint's model, and the levels stage that keeps the checkpoint's map.
#include "trainer/stages/init_from.hpp"

#include <algorithm>
#include <filesystem>
#include <numeric>
#include <string_view>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "datasets/input_error.hpp"
#include "trainer/model/checkpoint.hpp"
#include "trainer/model/file_sha256.hpp"

namespace resilinet {
namespace {

// The config keys that decide the model's shape and meaning. The scaler is the checkpoint's, so
// its settings must be too: a config that asks for another scaler would be silently overruled.
constexpr const char* kModelKeys[] = {"encoder", "clusters.k", "clusters.space", "clusters.alpha",
                                      "classifier.hidden", "scaler"};

std::string flow(const YAML::Node& n) {
  if (!n) return "(absent)";
  YAML::Emitter out;
  out << YAML::Flow << n;
  return out.c_str();
}

YAML::Node child(const YAML::Node& node, std::string_view dotted) {
  const size_t dot = dotted.find('.');
  const YAML::Node c = node[std::string(dotted.substr(0, dot))];
  return dot == std::string_view::npos ? c : child(c, dotted.substr(dot + 1));
}

struct Difference {
  std::string key, theirs, ours;
};
// The first key at or under `key` whose value differs; both are resolved configs, so a map holds
// every key on both sides.
Difference first_difference(const YAML::Node& theirs, const YAML::Node& ours, const std::string& key) {
  if (theirs.IsMap() && ours.IsMap()) {
    for (const auto& kv : theirs) {
      const std::string name = kv.first.as<std::string>();
      Difference d = first_difference(kv.second, ours[name], key + "." + name);
      if (!d.key.empty()) return d;
    }
    return {};
  }
  if (flow(theirs) == flow(ours)) return {};
  return {key, flow(theirs), flow(ours)};
}

std::string list(const std::vector<int32_t>& v) {
  std::string s;
  for (int32_t x : v) s += (s.empty() ? "" : ", ") + std::to_string(x);
  return "[" + s + "]";
}

}  // namespace

TrainConfig with_init_from_hash(const TrainConfig& config) {
  TrainConfig c = config;
  const std::string& path = c.init_from.path;
  if (path.empty()) return c;
  if (!std::filesystem::is_regular_file(path))
    throw InputError(path, "init_from.path", "a checkpoint file of a finished run to fine-tune", "no such file");
  const std::string sha = file_sha256(path);
  if (!c.init_from.sha256.empty() && c.init_from.sha256 != sha)
    throw InputError(c.source_file, "init_from.sha256",
                     c.init_from.sha256 + " (the checkpoint this config pins; --init-from names another file)",
                     sha + ", the SHA-256 of " + path);
  c.init_from.sha256 = sha;
  return c;
}

Model model_to_fine_tune(const TrainConfig& config, const Schema& data_schema) {
  const std::string& path = config.init_from.path;
  Checkpoint ck = read_checkpoint(path);
  require_finished(ck, path);
  require_same_schema(ck.model.schema, path, data_schema, config.data);
  const YAML::Node theirs = YAML::Load(to_yaml(ck.config)), ours = YAML::Load(to_yaml(config));
  for (const char* key : kModelKeys) {
    const Difference d = first_difference(child(theirs, key), child(ours, key), key);
    if (!d.key.empty()) throw InputError(path, d.key, d.theirs + " (as in the checkpoint)", d.ours);
  }
  // What those keys build, checked once more: a key that shapes the model must not slip past.
  const Model fresh = assemble_model(config, data_schema);
  auto same_layout = [](const kernels::MlpLayout& a, const kernels::MlpLayout& b) {
    if (a.param_count != b.param_count || a.layers.size() != b.layers.size()) return false;
    for (size_t i = 0; i < a.layers.size(); ++i)
      if (a.layers[i].in != b.layers[i].in || a.layers[i].out != b.layers[i].out ||
          a.layers[i].act != b.layers[i].act || a.layers[i].mask != b.layers[i].mask)
        return false;
    return true;
  };
  if (!same_layout(fresh.autoencoder, ck.model.autoencoder) || fresh.latent_layer != ck.model.latent_layer)
    throw InputError(path, "autoencoder/layout", "the layout this run's config builds", "another layout");
  if (!same_layout(fresh.classifier, ck.model.classifier))
    throw InputError(path, "classifier/layout", "the layout this run's config builds", "another layout");
  return std::move(ck.model);
}

nlohmann::json keep_checkpoint_levels(Model& model, TrainContext& ctx, nlohmann::json& init_from_metrics) {
  const int K = model.clusters;
  const size_t F = model.schema.size();
  const std::vector<int32_t> kept = model.cluster_level;
  // One pass over the new data with the identity map, so that a cell's level is its cluster + 1.
  std::vector<double> sums(size_t(K) * F, 0.0);
  std::vector<int64_t> counts(K, 0);
  std::iota(model.cluster_level.begin(), model.cluster_level.end(), 1);
  {
    RatingBuffers out;
    const ModelOnBackend on(model, ctx.backend, false);
    for_each_scaled_batch(ctx.data, ctx.config.slab_rows, &model.scaler, 8192, [&](const Batch& b, const float* x) {
      rate_scaled(on, b.x, x, b.rows, out, false);
      for (size_t i = 0; i < b.rows; ++i) {
        const int k = out.cluster_level[i] - 1;
        ++counts[k];
        for (size_t f = 0; f < F; ++f) sums[k * F + f] += x[i * F + f];
      }
    });
  }
  model.cluster_level = kept;
  const std::vector<double> score = cluster_scores(model.schema, sums, counts, ctx.config.level_order);
  const std::vector<int32_t> rule = levels_by_score(score);
  const bool agrees = rule == kept;
  nlohmann::json levels = nlohmann::json::array();
  for (int level = 1; level <= K; ++level) {
    const int k = int(std::find(kept.begin(), kept.end(), level) - kept.begin());
    levels.push_back(
        {{"level", level}, {"cluster", k}, {"cells", counts[k]}, {"score", score[k]}, {"rule_level", rule[k]}});
  }
  init_from_metrics["level_rule_agrees"] = agrees;
  ctx.progress.record({{"stage", "levels"}, {"levels", levels}, {"kept_from", ctx.config.init_from.path},
                       {"rule_agrees", agrees}});
  if (!agrees)
    ctx.progress.message(fmt::format(
        "resilinet train: warning: on this data the ordering rule (levels.order: {}) gives clusters 0..{} the "
        "levels {}, not the checkpoint's {}; the checkpoint's map is kept, so that each level means what it meant",
        ctx.config.level_order, K - 1, list(rule), list(kept)));
  return levels;
}

}  // namespace resilinet
