// The LRP rules of kernels/lrp.hpp, the same for every backend: constructors, checks of their
// settings, config names, and the hooks each rule is made of. Not the drivers that run them
// (cpu/lrp.cpp, reference/lrp.cpp), and no config reading: config code calls make_lrp_rule.
#include "kernels/lrp.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace resilinet::kernels {
namespace {

// What is wrong with a rule: {expected, found}.
using RuleProblem = std::optional<std::pair<std::string, std::string>>;

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

RuleProblem bounds_problem(const std::vector<float>& v, const char* name, int layer_inputs) {
  if (v.empty())
    return std::make_pair(std::string("zbox bounds '") + name + "' (one per input or one for all)",
                          std::string("none"));
  if (layer_inputs >= 0 && v.size() != 1 && v.size() != size_t(layer_inputs))
    return std::make_pair(std::string("zbox bounds '") + name + "' with 1 or " +
                              std::to_string(layer_inputs) + " values",
                          std::to_string(v.size()) + " values");
  for (float b : v)
    if (!std::isfinite(b))
      return std::make_pair(std::string("finite zbox bounds '") + name + "'", number(b));
  return std::nullopt;
}

RuleProblem rule_problem(const LrpRule& r, int layer_inputs) {
  if (int(r.kind) < 0 || int(r.kind) > int(LrpRuleKind::zbox))
    return std::make_pair(std::string("a known rule"), "kind " + std::to_string(int(r.kind)));
  if (!std::isfinite(r.epsilon) || r.epsilon < 0)
    return std::make_pair(std::string("epsilon >= 0"), number(r.epsilon));
  switch (r.kind) {
    case LrpRuleKind::alpha_beta:
      if (!(r.alpha >= 0) || !(r.beta >= 0) ||
          std::abs(double(r.alpha) - double(r.beta) - 1.0) > 1e-6)
        return std::make_pair(std::string("alpha - beta = 1 with alpha, beta >= 0"),
                              "alpha " + number(r.alpha) + ", beta " + number(r.beta));
      break;
    case LrpRuleKind::gamma:
      if (!std::isfinite(r.gamma) || r.gamma < 0)
        return std::make_pair(std::string("gamma >= 0"), number(r.gamma));
      break;
    case LrpRuleKind::zbox: {
      if (auto p = bounds_problem(r.low, "low", layer_inputs)) return p;
      if (auto p = bounds_problem(r.high, "high", layer_inputs)) return p;
      if (r.low.size() != 1 && r.high.size() != 1 && r.low.size() != r.high.size())
        return std::make_pair(
            std::string("zbox bounds low and high of the same length"),
            std::to_string(r.low.size()) + " and " + std::to_string(r.high.size()));
      size_t n = std::max(r.low.size(), r.high.size());
      for (size_t i = 0; i < n; ++i) {
        float lo = r.low[r.low.size() == 1 ? 0 : i], hi = r.high[r.high.size() == 1 ? 0 : i];
        if (lo > hi)
          return std::make_pair("zbox bounds low <= high (input " + std::to_string(i) + ")",
                                "low " + number(lo) + ", high " + number(hi));
      }
      break;
    }
    default: break;
  }
  return std::nullopt;
}

LrpRule checked(LrpRule r) {
  check_lrp_rule(r, -1);
  return r;
}

LrpRule rule_of(LrpRuleKind kind, float stabilizer) {
  LrpRule r;
  r.kind = kind;
  r.epsilon = stabilizer;
  return r;
}

}  // namespace

LrpRuleError::LrpRuleError(std::string file, std::string field, std::string expected,
                           std::string found)
    : std::invalid_argument((file.empty() ? std::string("<input>") : file) +
                            (field.empty() ? "" : ": " + field) + ": expected " + expected +
                            (found.empty() ? "" : ", found " + found)),
      file_(std::move(file)),
      field_(std::move(field)),
      expected_(std::move(expected)),
      found_(std::move(found)) {}

LrpRule epsilon_rule(float epsilon) { return checked(rule_of(LrpRuleKind::epsilon, epsilon)); }
LrpRule zplus_rule(float stabilizer) { return checked(rule_of(LrpRuleKind::zplus, stabilizer)); }
LrpRule flat_rule(float stabilizer) { return checked(rule_of(LrpRuleKind::flat, stabilizer)); }
LrpRule wsquare_rule(float stabilizer) {
  return checked(rule_of(LrpRuleKind::wsquare, stabilizer));
}

LrpRule alpha_beta_rule(float alpha, float beta, float stabilizer) {
  LrpRule r = rule_of(LrpRuleKind::alpha_beta, stabilizer);
  r.alpha = alpha;
  r.beta = beta;
  return checked(r);
}

LrpRule gamma_rule(float gamma, float stabilizer) {
  LrpRule r = rule_of(LrpRuleKind::gamma, stabilizer);
  r.gamma = gamma;
  return checked(r);
}

LrpRule zbox_rule(std::vector<float> low, std::vector<float> high, float stabilizer) {
  LrpRule r = rule_of(LrpRuleKind::zbox, stabilizer);
  r.low = std::move(low);
  r.high = std::move(high);
  return checked(r);
}

LrpComposite default_lrp_composite(const MlpLayout& layout, std::vector<float> low,
                                   std::vector<float> high) {
  const size_t n = layout.layers.size();
  LrpComposite c;
  for (size_t l = 0; l < n; ++l) {
    if (l == 0)
      c.push_back(zbox_rule(low, high));
    else if (l + 1 == n)
      c.push_back(epsilon_rule(1e-6f));
    else
      c.push_back(gamma_rule(0.25f));
  }
  return c;
}

void check_lrp_rule(const LrpRule& rule, int layer_inputs) {
  if (auto p = rule_problem(rule, layer_inputs)) {
    const bool known = size_t(rule.kind) < lrp_rule_names().size();
    throw std::invalid_argument("LRP rule " +
                                (known ? lrp_rule_name(rule.kind) : std::string("?")) +
                                ": expected " + p->first + ", found " + p->second);
  }
}

void check_lrp_composite(const MlpLayout& layout, const LrpComposite& composite) {
  if (composite.size() != layout.layers.size())
    throw std::invalid_argument("LRP composite: expected one rule per layer (" +
                                std::to_string(layout.layers.size()) + "), found " +
                                std::to_string(composite.size()));
  for (size_t l = 0; l < composite.size(); ++l) {
    try {
      check_lrp_rule(composite[l], layout.layers[l].in);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("layer " + std::to_string(l) + ": " + e.what());
    }
  }
}

const std::vector<std::string>& lrp_rule_names() {
  static const std::vector<std::string> names = {"epsilon", "zplus",   "alpha_beta", "gamma",
                                                 "flat",    "wsquare", "zbox"};
  return names;
}

const std::string& lrp_rule_name(LrpRuleKind kind) { return lrp_rule_names().at(size_t(kind)); }

LrpRuleKind parse_lrp_rule_kind(const std::string& name, const std::string& file,
                                const std::string& field) {
  const auto& names = lrp_rule_names();
  for (size_t k = 0; k < names.size(); ++k)
    if (names[k] == name) return LrpRuleKind(k);
  std::string valid = "one of ";
  for (size_t k = 0; k < names.size(); ++k) valid += (k ? ", " : "") + names[k];
  throw LrpRuleError(file, field, valid, "'" + name + "'");
}

LrpRule make_lrp_rule(const std::string& name, const LrpRule& settings, const std::string& file,
                      const std::string& field) {
  LrpRule r = settings;
  r.kind = parse_lrp_rule_kind(name, file, field);
  if (auto p = rule_problem(r, -1))
    throw LrpRuleError(file, field, name + " rule: " + p->first, p->second);
  return r;
}

LrpRuleTerms lrp_rule_terms(const LrpRule& rule) {
  using I = LrpInput;
  using P = LrpParam;
  LrpRuleTerms h;
  h.stabilizer = rule.epsilon;
  h.gamma = rule.gamma;
  switch (rule.kind) {
    case LrpRuleKind::epsilon:
      h.groups = {{1.0f, LrpGate::all}};
      h.terms = {{I::identity, P::identity, true, 1.0f, 0}};
      break;
    case LrpRuleKind::zplus:
      h.groups = {{1.0f, LrpGate::all}};
      h.terms = {{I::positive, P::positive, true, 1.0f, 0},
                 {I::negative, P::negative, false, 1.0f, 0}};
      break;
    case LrpRuleKind::alpha_beta:
      h.groups = {{rule.alpha, LrpGate::all}, {-rule.beta, LrpGate::all}};
      h.terms = {{I::positive, P::positive, true, 1.0f, 0},
                 {I::negative, P::negative, false, 1.0f, 0},
                 {I::positive, P::negative, true, 1.0f, 1},
                 {I::negative, P::positive, false, 1.0f, 1}};
      break;
    case LrpRuleKind::gamma:
      h.groups = {{1.0f, LrpGate::positive_z}, {1.0f, LrpGate::negative_z}};
      h.terms = {{I::positive, P::gamma_positive, true, 1.0f, 0},
                 {I::negative, P::gamma_negative, false, 1.0f, 0},
                 {I::positive, P::gamma_negative, true, 1.0f, 1},
                 {I::negative, P::gamma_positive, false, 1.0f, 1}};
      break;
    case LrpRuleKind::flat:
      h.groups = {{1.0f, LrpGate::all}};
      h.terms = {{I::ones, P::ones, false, 1.0f, 0}};
      break;
    case LrpRuleKind::wsquare:
      h.groups = {{1.0f, LrpGate::all}};
      h.terms = {{I::ones, P::square, false, 1.0f, 0}};
      break;
    case LrpRuleKind::zbox:
      h.groups = {{1.0f, LrpGate::all}};
      h.terms = {{I::identity, P::identity, true, 1.0f, 0},
                 {I::low, P::positive, true, -1.0f, 0},
                 {I::high, P::negative, true, -1.0f, 0}};
      break;
  }
  return h;
}

}  // namespace resilinet::kernels
