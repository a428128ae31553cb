// Tests of LRP and gradient x input (kernels/lrp.hpp): every rule against its fp64 matrix form
// (kernels/reference/lrp.cpp), conservation, a planted network whose known inputs must rank top,
// finite differences, rule checks and name parsing. Not a test of the explain command.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "isa_support.hpp"
#include "random_data.hpp"
#include "kernels/lrp.hpp"
#include "kernels/reference/lrp_reference.hpp"

namespace resilinet::kernels {
namespace {

using resilinet::testing::make_net;
using resilinet::testing::random_labels;
using resilinet::testing::Net;
using resilinet::testing::to_double;

using resilinet::testing::instruction_sets;
using resilinet::testing::ScopedIsa;

// Bounds with mixed signs, so that the positive and negative input terms are both exercised.
std::vector<float> low_bounds(int f) {
  std::vector<float> v(f);
  for (int i = 0; i < f; ++i) v[i] = -0.6f + 0.05f * i;
  return v;
}
std::vector<float> high_bounds(int f) {
  std::vector<float> v(f);
  for (int i = 0; i < f; ++i) v[i] = 1.0f + 0.03f * i;
  return v;
}

// Rows drawn uniformly inside [low, high] per feature.
std::vector<float> rows_in_bounds(size_t rows, int f, uint64_t seed) {
  return resilinet::testing::uniform_rows(rows, low_bounds(f), high_bounds(f), seed);
}

// Largest |fast - reference| over all cells and all instruction sets, each row divided by its
// largest |logit| (the scale of the seed; relevance is linear in the seed, and fp32 rounding of the
// seed itself is relative to that scale, not to the seed). Rows with a hidden pre-activation within
// 1e-4 of a ReLU kink are skipped: there fp32 and fp64 may take different sides of the kink.
double normalised_error(const Net& net, const LrpComposite& composite, const std::vector<float>& x,
                        const std::vector<int32_t>& classes, double* reference_mass = nullptr) {
  const size_t rows = classes.size();
  const int f = net.layout.inputs(), k = net.layout.outputs();
  std::vector<double> p = to_double(net.params), xd = to_double(x);
  std::vector<double> ref(rows * f), ref_logits(rows * k);
  reference::lrp(net.layout, p.data(), composite, xd.data(), rows, classes.data(), ref.data(),
                 ref_logits.data());
  const std::vector<double> margin = reference::relu_margin(net.layout, p.data(), xd.data(), rows);
  std::vector<double> scale(rows, 0.0);
  size_t skipped = 0;
  double mass = 0.0;
  for (size_t r = 0; r < rows; ++r) {
    for (int c = 0; c < k; ++c) scale[r] = std::max(scale[r], std::abs(ref_logits[r * k + c]));
    if (margin[r] < 1e-4 || scale[r] < 1e-3) {
      scale[r] = 0.0;  // skipped
      ++skipped;
      continue;
    }
    for (int i = 0; i < f; ++i) mass += std::abs(ref[r * f + i]) / scale[r];
  }
  EXPECT_LT(skipped, rows / 20);
  if (reference_mass) *reference_mass = mass / double(rows - skipped);
  double err = 0.0;
  for (const std::string& isa : instruction_sets()) {
    ScopedIsa use(isa);
    std::vector<float> rel(rows * f), logits(rows * k);
    cpu::lrp(net.layout, net.params.data(), composite, x.data(), rows, classes.data(), rel.data(),
             logits.data());
    for (size_t r = 0; r < rows; ++r) {
      for (int c = 0; c < k; ++c)
        EXPECT_NEAR(logits[r * k + c], ref_logits[r * k + c], 1e-5) << isa;
      if (scale[r] == 0.0) continue;
      for (int i = 0; i < f; ++i)
        err = std::max(err, std::abs(rel[r * f + i] - ref[r * f + i]) / scale[r]);
    }
  }
  return err;
}

struct Variant {
  std::string name;
  LrpRule rule;
  bool conditioned_on_dead_units;  // false: R / stab(z) at z ~ 0 makes fp32 vs fp64 meaningless
};

std::vector<Variant> variants(int inputs) {
  return {{"epsilon 1e-6", epsilon_rule(1e-6f), false},
          {"epsilon 1", epsilon_rule(1.0f), true},
          {"zplus", zplus_rule(), true},
          {"alpha_beta 2 1", alpha_beta_rule(2.0f, 1.0f), true},
          {"alpha_beta 1 0", alpha_beta_rule(1.0f, 0.0f), true},
          {"gamma 0.25", gamma_rule(0.25f), true},
          {"gamma 0.5", gamma_rule(0.5f), true},
          {"flat", flat_rule(), true},
          {"wsquare", wsquare_rule(), true},
          {"zbox", zbox_rule(low_bounds(inputs), high_bounds(inputs)), true}};
}

// The same rule on a hidden layer (zbox gets bounds that hold ReLU outputs).
LrpRule on_hidden(LrpRule rule) {
  if (rule.kind == LrpRuleKind::zbox) return zbox_rule({0.0f}, {10.0f});
  return rule;
}

TEST(Lrp, EveryRuleMatchesItsMatrixFormula) {
  // The head's shape, and a small block-diagonal one (masked first layer, odd widths).
  const std::vector<std::pair<std::vector<int>, std::vector<int>>> shapes = {
      {{12, 64, 32, 5}, {}}, {{7, 9, 6, 3}, {0, 0, 0, 1, 1, 2, 2}}};
  for (const auto& [widths, groups] : shapes)
    for (uint64_t seed : {1u, 2u, 3u})
      for (bool bias : {false, true}) {
        Net net = make_net(widths, seed, bias, groups);
        const int f = widths.front();
        const size_t rows = 150;  // two full tiles and a partial one
        auto x = rows_in_bounds(rows, f, seed + 10);
        auto classes = random_labels(rows, widths.back(), seed + 20);
        for (const Variant& v : variants(f)) {
          // Everywhere; at the input layer below flat (relevance reaches dead units and negative
          // pre-activations); in the middle below wsquare.
          std::vector<std::pair<std::string, LrpComposite>> composites = {
              {"everywhere", {v.rule, on_hidden(v.rule), on_hidden(v.rule)}}};
          if (v.conditioned_on_dead_units) {
            composites.push_back({"under flat", {v.rule, flat_rule(), epsilon_rule(1e-6f)}});
            composites.push_back(
                {"middle", {epsilon_rule(1.0f), on_hidden(v.rule), wsquare_rule()}});
          }
          for (const auto& [where, composite] : composites) {
            double mass = 0.0;
            double err = normalised_error(net, composite, x, classes, &mass);
            EXPECT_LT(err, 1e-5) << v.name << " " << where << " seed " << seed << " bias " << bias
                                 << " shape " << widths[0];
            EXPECT_GT(mass, 1e-3) << v.name << " " << where << ": relevance is all zero";
          }
        }
      }
}

// Worked by hand on a 2 -> 1 -> 1 network: W0 = [1, -1], b0 = 0, W1 = [2], b1 = 1; flat (no
// stabiliser) on top passes the seed y to the hidden unit whatever its activation, then epsilon(1)
// on the input layer gives R_in = x * W0 * y / (z + sign(z)), sign(0) = +1.
TEST(Lrp, StabiliserKeepsTheSignAndTreatsZeroAsPositive) {
  Net net = make_net({2, 1, 1}, 1, false);
  const auto& L = net.layout.layers;
  net.params[L[0].weight_offset] = 1.0f;
  net.params[L[0].weight_offset + 1] = -1.0f;
  net.params[L[1].weight_offset] = 2.0f;
  net.params[L[1].bias_offset] = 1.0f;
  const LrpComposite composite = {epsilon_rule(1.0f), flat_rule(0.0f)};
  //                       x            z     y   R_in
  const std::vector<float> x = {0.5f, 0.5f,   // 0     1   [0.5, -0.5] * 1 / (0 + 1)
                                0.5f, 2.5f,   // -2    1   [0.5, -2.5] * 1 / (-2 - 1)
                                2.0f, 0.5f};  // 1.5   4   [2, -0.5] * 4 / (1.5 + 1)
  const std::vector<double> expected = {0.5, -0.5, -1.0 / 6.0, 5.0 / 6.0, 3.2, -0.8};
  std::vector<int32_t> classes(3, 0);
  std::vector<float> rel(6);
  cpu::lrp(net.layout, net.params.data(), composite, x.data(), 3, classes.data(), rel.data());
  std::vector<double> p = to_double(net.params), xd = to_double(x), ref(6);
  reference::lrp(net.layout, p.data(), composite, xd.data(), 3, classes.data(), ref.data());
  for (size_t k = 0; k < 6; ++k) {
    EXPECT_NEAR(rel[k], expected[k], 1e-6) << k;
    EXPECT_NEAR(ref[k], expected[k], 1e-12) << k;
  }
}

TEST(Lrp, AlphaBetaOneZeroEqualsZplus) {
  Net net = make_net({12, 64, 32, 5}, 7, true);
  const size_t rows = 100;
  auto x = rows_in_bounds(rows, 12, 8);
  auto classes = random_labels(rows, 5, 9);
  std::vector<float> a(rows * 12), b(rows * 12);
  LrpComposite ab(3, alpha_beta_rule(1.0f, 0.0f)), zp(3, zplus_rule());
  cpu::lrp(net.layout, net.params.data(), ab, x.data(), rows, classes.data(), a.data());
  cpu::lrp(net.layout, net.params.data(), zp, x.data(), rows, classes.data(), b.data());
  EXPECT_EQ(a, b);
  std::vector<double> p = to_double(net.params), xd = to_double(x), ra(rows * 12), rb(rows * 12);
  reference::lrp(net.layout, p.data(), ab, xd.data(), rows, classes.data(), ra.data());
  reference::lrp(net.layout, p.data(), zp, xd.data(), rows, classes.data(), rb.data());
  for (size_t k = 0; k < ra.size(); ++k) EXPECT_NEAR(ra[k], rb[k], 1e-12);
  // And alpha_beta(2, 1) is a different rule.
  LrpComposite ab21(3, alpha_beta_rule(2.0f, 1.0f));
  cpu::lrp(net.layout, net.params.data(), ab21, x.data(), rows, classes.data(), a.data());
  EXPECT_NE(a, b);
}

TEST(Lrp, InvalidAlphaBetaThrows) {
  EXPECT_THROW(alpha_beta_rule(2.0f, 0.5f), std::invalid_argument);
  EXPECT_THROW(alpha_beta_rule(1.0f, 1.0f), std::invalid_argument);
  EXPECT_THROW(alpha_beta_rule(0.5f, -0.5f), std::invalid_argument);  // difference 1, beta < 0
  EXPECT_NO_THROW(alpha_beta_rule(3.0f, 2.0f));
  // A hand-built rule is checked by the driver too.
  Net net = make_net({4, 6, 3}, 1, false);
  LrpRule bad;
  bad.kind = LrpRuleKind::alpha_beta;
  bad.alpha = 3.0f;
  bad.beta = 1.0f;
  std::vector<float> x(4, 0.5f), rel(4);
  int32_t cls = 0;
  EXPECT_THROW(
      cpu::lrp(net.layout, net.params.data(), {bad, epsilon_rule()}, x.data(), 1, &cls, rel.data()),
      std::invalid_argument);
  // From a config name, the same problem is an LrpRuleError naming file and field.
  try {
    make_lrp_rule("alpha_beta", bad, "run.yaml", "lrp.composite[0]");
    FAIL() << "expected LrpRuleError";
  } catch (const LrpRuleError& e) {
    EXPECT_EQ(e.file(), "run.yaml");
    EXPECT_EQ(e.field(), "lrp.composite[0]");
    EXPECT_NE(std::string(e.what()).find("alpha - beta = 1"), std::string::npos) << e.what();
  }
}

TEST(Lrp, RuleNamesParseAndUnknownNamesListTheValidOnes) {
  for (const std::string& name : lrp_rule_names())
    EXPECT_EQ(lrp_rule_name(parse_lrp_rule_kind(name)), name);
  EXPECT_EQ(parse_lrp_rule_kind("gamma"), LrpRuleKind::gamma);
  try {
    parse_lrp_rule_kind("epsilonn", "run.yaml", "lrp.composite[2].rule");
    FAIL() << "expected LrpRuleError";
  } catch (const LrpRuleError& e) {
    const std::string msg = e.what();
    for (const std::string& name : lrp_rule_names())
      EXPECT_NE(msg.find(name), std::string::npos) << msg;
    EXPECT_NE(msg.find("'epsilonn'"), std::string::npos) << msg;
    EXPECT_EQ(e.file(), "run.yaml");
  }
  LrpRule settings;
  settings.gamma = 0.5f;
  LrpRule g = make_lrp_rule("gamma", settings);
  EXPECT_EQ(g.kind, LrpRuleKind::gamma);
  EXPECT_EQ(g.gamma, 0.5f);
  settings.low = {0.0f};
  settings.high = {1.0f};
  EXPECT_EQ(make_lrp_rule("zbox", settings).kind, LrpRuleKind::zbox);
  EXPECT_THROW(make_lrp_rule("zbox", LrpRule{}), LrpRuleError);  // no bounds
}

TEST(Lrp, CompositeAndClassesAreChecked) {
  Net net = make_net({12, 64, 32, 5}, 1, false);
  std::vector<float> x(12, 0.5f), rel(12);
  int32_t cls = 1;
  auto lo = std::vector<float>(12, 0.0f), hi = std::vector<float>(12, 1.0f);
  LrpComposite def = default_lrp_composite(net.layout, lo, hi);
  ASSERT_EQ(def.size(), 3u);
  EXPECT_EQ(def[0].kind, LrpRuleKind::zbox);
  EXPECT_EQ(def[1].kind, LrpRuleKind::gamma);
  EXPECT_EQ(def[1].gamma, 0.25f);
  EXPECT_EQ(def[2].kind, LrpRuleKind::epsilon);
  EXPECT_EQ(def[2].epsilon, 1e-6f);
  EXPECT_NO_THROW(cpu::lrp(net.layout, net.params.data(), def, x.data(), 1, &cls, rel.data()));
  LrpComposite two(def.begin(), def.begin() + 2);
  EXPECT_THROW(cpu::lrp(net.layout, net.params.data(), two, x.data(), 1, &cls, rel.data()),
               std::invalid_argument);
  LrpComposite short_bounds = def;
  short_bounds[0] = zbox_rule(std::vector<float>(5, 0.0f), std::vector<float>(5, 1.0f));
  EXPECT_THROW(cpu::lrp(net.layout, net.params.data(), short_bounds, x.data(), 1, &cls, rel.data()),
               std::invalid_argument);
  EXPECT_THROW(zbox_rule({1.0f}, {0.0f}), std::invalid_argument);  // low > high
  int32_t bad = 5;
  EXPECT_THROW(cpu::lrp(net.layout, net.params.data(), def, x.data(), 1, &bad, rel.data()),
               std::out_of_range);
}

TEST(Lrp, EpsilonConservesTheSeedWithoutBiases) {
  for (uint64_t seed : {11u, 12u, 13u}) {
    Net net = make_net({12, 64, 32, 5}, seed, false);
    const size_t rows = 200;
    auto x = rows_in_bounds(rows, 12, seed);
    // The class with the largest |logit| of each row, so that a relative error is meaningful.
    std::vector<float> logits(rows * 5), scratch(rows * 12);
    LrpComposite eps(3, epsilon_rule(1e-9f));
    cpu::lrp(net.layout, net.params.data(), eps, x.data(), rows, nullptr, scratch.data(),
             logits.data());
    std::vector<int32_t> classes(rows);
    for (size_t r = 0; r < rows; ++r) {
      const float* y = &logits[r * 5];
      classes[r] = int32_t(
          std::max_element(y, y + 5, [](float a, float b) { return std::abs(a) < std::abs(b); }) -
          y);
    }
    std::vector<float> rel(rows * 12);
    cpu::lrp(net.layout, net.params.data(), eps, x.data(), rows, classes.data(), rel.data());
    std::vector<double> p = to_double(net.params), xd = to_double(x), ref(rows * 12);
    reference::lrp(net.layout, p.data(), eps, xd.data(), rows, classes.data(), ref.data());
    for (size_t r = 0; r < rows; ++r) {
      const double y = logits[r * 5 + classes[r]];
      double sum = 0.0, sum_ref = 0.0;
      for (int i = 0; i < 12; ++i) {
        sum += rel[r * 12 + i];
        sum_ref += ref[r * 12 + i];
      }
      EXPECT_LT(std::abs(sum - y) / std::abs(y), 1e-4) << "row " << r << " seed " << seed;
      EXPECT_LT(std::abs(sum_ref - y) / std::abs(y), 1e-6) << "row " << r << " seed " << seed;
    }
  }
  // The invariant is not vacuous: biases absorb relevance.
  Net biased = make_net({12, 64, 32, 5}, 11, true);
  auto x = rows_in_bounds(50, 12, 1);
  std::vector<float> rel(50 * 12), logits(50 * 5);
  cpu::lrp(biased.layout, biased.params.data(), LrpComposite(3, epsilon_rule(1e-9f)), x.data(), 50,
           nullptr, rel.data(), logits.data());
  double worst = 0.0;
  for (size_t r = 0; r < 50; ++r) {
    const float* y = &logits[r * 5];
    const double seed = *std::max_element(y, y + 5);
    const double sum = std::accumulate(&rel[r * 12], &rel[r * 12] + 12, 0.0);
    worst = std::max(worst, std::abs(sum - seed) / std::abs(seed));
  }
  EXPECT_GT(worst, 1e-2);
}

// A network in which inputs {1, 6, 10} alone drive logit 2 through dedicated hidden units; the
// other inputs drive other units (strongly) that reach logit 2 only through tiny weights, and drive
// the other logits. Explaining logit 2 must rank the planted inputs top; explaining logit 3 must
// not.
TEST(Lrp, DefaultCompositeRanksPlantedInputsTop) {
  const int f = 12;
  const std::vector<int> planted = {1, 6, 10};
  const int cls = 2;
  Net net = make_net({f, 64, 32, 5}, 5, false);
  std::mt19937_64 rng(99);
  std::uniform_real_distribution<float> noise(-0.02f, 0.02f), strong(-1.0f, 1.0f);
  const auto& L = net.layout.layers;
  float* w0 = net.params.data() + L[0].weight_offset;
  float* w1 = net.params.data() + L[1].weight_offset;
  float* w2 = net.params.data() + L[2].weight_offset;
  auto is_planted = [&](int i) {
    return std::find(planted.begin(), planted.end(), i) != planted.end();
  };
  for (int j = 0; j < 64; ++j)
    for (int i = 0; i < f; ++i) {
      float w = noise(rng);
      if (j < 15 && i == planted[j % 3]) w = 1.5f;
      if (j >= 15 && !is_planted(i)) w = strong(rng);
      w0[j * f + i] = w;
    }
  for (int j = 0; j < 32; ++j)
    for (int i = 0; i < 64; ++i)
      w1[j * 64 + i] =
          (j < 8) == (i < 15) ? (j < 8 ? 0.5f + noise(rng) : strong(rng) * 0.5f) : noise(rng);
  for (int j = 0; j < 5; ++j)
    for (int i = 0; i < 32; ++i)
      w2[j * 32 + i] = j == cls ? (i < 8 ? 1.0f : noise(rng)) : (i < 8 ? noise(rng) : strong(rng));

  const size_t rows = 500;
  std::vector<float> x(rows * f);
  std::uniform_real_distribution<float> u01(0.0f, 1.0f);
  for (auto& v : x) v = u01(rng);
  LrpComposite def = default_lrp_composite(net.layout, {0.0f}, {1.0f});
  // The three inputs with the largest mean |relevance| when explaining logit `explained`.
  auto top3 = [&](int32_t explained) {
    std::vector<int32_t> classes(rows, explained);
    std::vector<float> rel(rows * f);
    cpu::lrp(net.layout, net.params.data(), def, x.data(), rows, classes.data(), rel.data());
    std::vector<double> mean_abs(f, 0.0);
    for (size_t r = 0; r < rows; ++r)
      for (int i = 0; i < f; ++i) mean_abs[i] += std::abs(rel[r * f + i]) / rows;
    std::vector<int> order(f);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int a, int b) { return mean_abs[a] > mean_abs[b]; });
    std::vector<int> top(order.begin(), order.begin() + 3);
    std::sort(top.begin(), top.end());
    return top;
  };
  EXPECT_EQ(top3(cls), planted);
  const std::vector<int> other = top3(3);
  for (int i : other) EXPECT_FALSE(is_planted(i)) << "input " << i << " when explaining logit 3";
}

TEST(GradientXInput, MatchesFiniteDifferences) {
  for (uint64_t seed : {21u, 22u}) {
    Net net = make_net({12, 64, 32, 5}, seed, true);
    const size_t rows = 40;
    auto x = rows_in_bounds(rows, 12, seed);
    auto classes = random_labels(rows, 5, seed + 1);
    std::vector<std::vector<float>> gxi;  // one per instruction set
    for (const std::string& isa : instruction_sets()) {
      ScopedIsa use(isa);
      gxi.emplace_back(rows * 12);
      cpu::gradient_x_input(net.layout, net.params.data(), x.data(), rows, classes.data(),
                            gxi.back().data());
    }
    std::vector<double> p = to_double(net.params), xd = to_double(x), ref(rows * 12);
    reference::gradient_x_input(net.layout, p.data(), xd.data(), rows, classes.data(), ref.data());
    const double h = 1e-6;
    for (size_t r = 0; r < rows; ++r)
      for (int i = 0; i < 12; ++i) {
        std::vector<double> xp(xd.begin() + r * 12, xd.begin() + r * 12 + 12), xm = xp;
        xp[i] += h;
        xm[i] -= h;
        const double fd = xd[r * 12 + i] *
                          (reference::network_output(net.layout, p.data(), xp.data(), classes[r]) -
                           reference::network_output(net.layout, p.data(), xm.data(), classes[r])) /
                          (2 * h);
        EXPECT_NEAR(ref[r * 12 + i], fd, 1e-7) << "row " << r << " input " << i;
        for (const auto& g : gxi)
          EXPECT_NEAR(g[r * 12 + i], fd, 1e-5) << "row " << r << " input " << i;
      }
  }
}

TEST(Lrp, SameBytesForAnyThreadCountAndArgmaxSeeding) {
  for (const std::string& isa : instruction_sets()) {
    SCOPED_TRACE(isa);
    ScopedIsa use(isa);
    Net net = make_net({12, 64, 32, 5}, 3, true);
    const size_t rows = 1000;
    auto x = rows_in_bounds(rows, 12, 4);
    LrpComposite def = default_lrp_composite(net.layout, low_bounds(12), high_bounds(12));
    std::vector<float> one(rows * 12), two(rows * 12), logits(rows * 5), g1(rows * 12),
        g2(rows * 12);
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    cpu::lrp(net.layout, net.params.data(), def, x.data(), rows, nullptr, one.data(),
             logits.data());
    cpu::gradient_x_input(net.layout, net.params.data(), x.data(), rows, nullptr, g1.data());
    omp_set_num_threads(2);
    cpu::lrp(net.layout, net.params.data(), def, x.data(), rows, nullptr, two.data());
    cpu::gradient_x_input(net.layout, net.params.data(), x.data(), rows, nullptr, g2.data());
    omp_set_num_threads(saved);
    EXPECT_EQ(one, two);
    EXPECT_EQ(g1, g2);
    // classes = nullptr seeds the arg max of the output.
    std::vector<int32_t> argmax(rows);
    for (size_t r = 0; r < rows; ++r)
      argmax[r] = int32_t(std::max_element(&logits[r * 5], &logits[r * 5] + 5) - &logits[r * 5]);
    std::vector<float> explicit_classes(rows * 12);
    cpu::lrp(net.layout, net.params.data(), def, x.data(), rows, argmax.data(),
             explicit_classes.data());
    EXPECT_EQ(one, explicit_classes);
  }
}

}  // namespace
}  // namespace resilinet::kernels
