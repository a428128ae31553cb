// Tests of the Adam step: the CPU kernel and the fp64 reference against the closed form for a
// constant gradient (bias correction makes every step -lr * g / (|g| + eps)), and the CPU kernel
// against the reference on varying gradients with weight decay, on both instruction-set paths.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "isa_support.hpp"

#include "kernels/ops.hpp"
#include "kernels/reference/reference.hpp"

namespace resilinet::kernels {
namespace {

using resilinet::testing::ScopedIsa;

std::vector<float> random_values(size_t n, uint64_t seed, float lo, float hi) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

// With a constant gradient g, m_t = (1 - beta1^t) g and v_t = (1 - beta2^t) g^2, so the
// bias-corrected step is exactly -lr * g / (|g| + eps) at every t, including t = 1.
TEST(AdamStep, ConstantGradientMatchesClosedForm) {
  // Gradients across magnitudes, including ~eps (where the step is about lr/2) and zero.
  const std::vector<float> grad_values = {1.0f,   -3.0f, 1e-3f, -2e-6f, 1e-8f,
                                          -1e-8f, 0.0f,  0.25f, 7.5f};
  const size_t n = 1003;  // not a multiple of the vector width
  std::vector<float> grads(n);
  for (size_t i = 0; i < n; ++i) grads[i] = grad_values[i % grad_values.size()];
  const auto start = random_values(n, 1, -1.0f, 1.0f);
  cpu::AdamConfig config;
  config.lr = 1e-3f;
  const int steps = 4;

  for (const char* isa : {"auto", "baseline"}) {
    SCOPED_TRACE(isa);
    ScopedIsa scoped(isa);
    std::vector<float> p = start, m(n, 0.0f), v(n, 0.0f);
    std::vector<double> p64(start.begin(), start.end()), m64(n, 0.0), v64(n, 0.0);
    const std::vector<double> g64(grads.begin(), grads.end());
    for (int t = 1; t <= steps; ++t) {
      cpu::adam_step(p.data(), grads.data(), m.data(), v.data(), n, config, t);
      reference::adam_step(p64.data(), g64.data(), m64.data(), v64.data(), n, config, t);
      for (size_t i = 0; i < n; ++i) {
        const double g = grads[i];
        const double expected =
            double(start[i]) - t * double(config.lr) * g / (std::abs(g) + double(config.eps));
        // fp32 parameters near 1 carry ~6e-8 of rounding per step.
        ASSERT_NEAR(p[i], expected, 1e-7 * t + 1e-9) << "cpu, step " << t << ", element " << i;
        ASSERT_NEAR(p64[i], expected, 1e-12) << "reference, step " << t << ", element " << i;
        ASSERT_NEAR(m[i], (1 - std::pow(0.9, t)) * g, 1e-6 * std::abs(g)) << "element " << i;
        ASSERT_NEAR(v[i], (1 - std::pow(0.999, t)) * g * g, 1e-5 * g * g) << "element " << i;
      }
    }
    // At step 1 a unit gradient moves the parameter by lr (to within eps), opposite to its sign.
    EXPECT_NEAR(double(p[0]) - start[0], -steps * 1e-3, 1e-6);
    EXPECT_EQ(p[6], start[6]);  // zero gradient: no move
  }
}

TEST(AdamStep, MatchesReferenceWithWeightDecayAndVaryingGradients) {
  cpu::AdamConfig config;
  config.lr = 2e-3f;
  config.beta1 = 0.8f;
  config.beta2 = 0.99f;
  config.eps = 1e-6f;
  config.weight_decay = 0.05f;
  // 1003 elements run on one thread; 70001 on the threaded path (with a ragged last chunk).
  for (size_t n : {size_t(1003), size_t(70001)}) {
    for (const char* isa : {"auto", "baseline"}) {
      SCOPED_TRACE(std::string(isa) + ", n = " + std::to_string(n));
      ScopedIsa scoped(isa);
      const auto start = random_values(n, n, -1.0f, 1.0f);
      std::vector<float> p = start, m(n, 0.0f), v(n, 0.0f);
      std::vector<double> p64(start.begin(), start.end()), m64(n, 0.0), v64(n, 0.0);
      for (int t = 1; t <= 5; ++t) {
        const auto grads = random_values(n, 100 + t, -2.0f, 2.0f);
        const std::vector<double> g64(grads.begin(), grads.end());
        cpu::adam_step(p.data(), grads.data(), m.data(), v.data(), n, config, t);
        reference::adam_step(p64.data(), g64.data(), m64.data(), v64.data(), n, config, t);
      }
      double p_err = 0, m_err = 0, v_err = 0, moved = 0;
      for (size_t i = 0; i < n; ++i) {
        p_err = std::max(p_err, std::abs(p[i] - p64[i]));
        m_err = std::max(m_err, std::abs(m[i] - m64[i]));
        v_err = std::max(v_err, std::abs(v[i] - v64[i]) / std::max(v64[i], 1e-12));
        moved = std::max(moved, std::abs(p64[i] - start[i]));
      }
      EXPECT_GT(moved, 5e-3);  // the steps did move the parameters
      EXPECT_LT(p_err, 5e-7);  // a few fp32 ulps of a parameter in [-1, 1]
      EXPECT_LT(m_err, 1e-6);
      EXPECT_LT(v_err, 1e-5);
    }
  }
}

TEST(AdamStep, WeightDecayAloneShrinksTowardZero) {
  cpu::AdamConfig config;
  config.lr = 1e-2f;
  config.weight_decay = 0.1f;
  std::vector<float> p = {0.5f, -2.0f, 0.0f}, g(3, 0.0f), m(3, 0.0f), v(3, 0.0f);
  cpu::adam_step(p.data(), g.data(), m.data(), v.data(), 3, config, 1);
  // The gradient is wd * p, so the first step is -lr * sign(p).
  EXPECT_NEAR(p[0], 0.49f, 1e-6);
  EXPECT_NEAR(p[1], -1.99f, 1e-6);
  EXPECT_EQ(p[2], 0.0f);
}

TEST(AdamStep, RejectsStepZero) {
  std::vector<float> p(2), g(2), m(2), v(2);
  EXPECT_THROW(cpu::adam_step(p.data(), g.data(), m.data(), v.data(), 2, cpu::AdamConfig{}, 0),
               std::invalid_argument);
}

}  // namespace
}  // namespace resilinet::kernels
