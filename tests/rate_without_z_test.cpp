// A rating without z (rate --no-latent) skips the encoder for rows that do not need it. Its other
// outputs, and the rows marked as not rated, must be those of the rating with z, bit for bit,
// including rows whose z overflows; finite_input_bound, which decides which rows may skip, must
// be a true bound.
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "datasets/synth.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/ops.hpp"
#include "trainer/model/config.hpp"
#include "trainer/model/model.hpp"

using namespace resilinet;

namespace {

template <class T> bool same_bytes(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

// 320 rows: a 64-row tile without a missing value, one where a few rows have one, the rest with
// one in a fifth of their values; some rows all zero (they skip the encoder whatever the model).
void rows_with_gaps(size_t F, std::vector<float>& raw, std::vector<float>& scaled) {
  const size_t rows = 320;
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  raw.resize(rows * F);
  scaled.resize(rows * F);
  for (size_t k = 0; k < rows * F; ++k) {
    const size_t row = k / F;
    const float rate = row < 64 ? 0.0f : row < 128 ? (row % 9 == 0 ? 0.3f : 0.0f) : 0.2f;
    scaled[k] = row % 17 == 5 ? 0.0f : u(rng);
    raw[k] = u(rng) < rate ? std::numeric_limits<float>::quiet_NaN() : scaled[k];
  }
}

struct Rated {
  RatingBuffers out;
  size_t marked = 0;
};

Rated rate(const ModelOnBackend& on, const std::vector<float>& raw, const std::vector<float>& scaled, bool with_z) {
  Rated r;
  const size_t rows = scaled.size() / size_t(on.model().features());
  rate_scaled(on, raw.data(), scaled.data(), rows, r.out, true, with_z);
  r.marked = mark_not_rated(r.out, rows);
  return r;
}

void expect_same_but_z(const Rated& with, const Rated& without) {
  EXPECT_EQ(with.marked, without.marked);
  EXPECT_TRUE(without.out.z.empty());
  EXPECT_TRUE(same_bytes(with.out.space, without.out.space));
  EXPECT_TRUE(same_bytes(with.out.q, without.out.q));
  EXPECT_TRUE(same_bytes(with.out.logits, without.out.logits));
  EXPECT_EQ(with.out.level, without.out.level);
  EXPECT_EQ(with.out.cluster_level, without.out.cluster_level);
}

Model completed_model(uint64_t seed) {
  TrainConfig config;
  config.seed = seed;
  Model m = assemble_model(config, default_schema());
  m.cluster_scale = 2.5;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(0.0f, 2.5f);
  m.centroids.resize(size_t(m.clusters) * size_t(m.features()));
  for (float& c : m.centroids) c = u(rng);
  return m;
}

}  // namespace

TEST(RateWithoutZ, SameOutputsAsWithZ) {
  const Model m = completed_model(5);
  ASSERT_TRUE(m.clusters_completed());
  std::vector<float> raw, scaled;
  rows_with_gaps(size_t(m.features()), raw, scaled);
  const ModelOnBackend on(m, kernels::cpu::host_backend());
  const Rated with = rate(on, raw, scaled, true), without = rate(on, raw, scaled, false);
  EXPECT_EQ(with.marked, 0u);
  expect_same_but_z(with, without);
}

// An encoder whose last two layers are scaled by 10^20 each: z overflows on every row that is not
// all zero (those are not rated) while the completed rows and the head stay finite, so only z
// tells them apart. Without z the bound sends those rows through the encoder, and a z that is not
// finite must mark them.
TEST(RateWithoutZ, RowsWhoseZOverflowsAreNotRatedEither) {
  Model m = completed_model(6);
  ASSERT_GE(m.latent_layer, 1);
  for (int l : {m.latent_layer - 1, m.latent_layer}) {
    const kernels::LayerShape& s = m.autoencoder.layers[size_t(l)];
    for (size_t k = s.weight_offset; k < s.weight_offset + size_t(s.in) * s.out; ++k) m.autoencoder_params[k] *= 1e20f;
  }
  std::vector<float> raw, scaled;
  rows_with_gaps(size_t(m.features()), raw, scaled);
  const ModelOnBackend on(m, kernels::cpu::host_backend());
  const Rated with = rate(on, raw, scaled, true), without = rate(on, raw, scaled, false);
  const size_t rows = with.out.level.size();
  EXPECT_GT(with.marked, rows / 4);  // the case this test is about occurs
  EXPECT_LT(with.marked, rows);      // and the all-zero rows are rated
  expect_same_but_z(with, without);
}

// A NaN in the encoder (here a bias of the latent layer) makes every z NaN, rows of zeros included:
// no row is rated, with z or without.
TEST(RateWithoutZ, ANonFiniteEncoderLeavesEveryRowNotRatedEither) {
  Model m = completed_model(7);
  m.autoencoder_params[m.autoencoder.layers[size_t(m.latent_layer)].bias_offset] = std::nanf("");
  std::vector<float> raw, scaled;
  rows_with_gaps(size_t(m.features()), raw, scaled);
  const ModelOnBackend on(m, kernels::cpu::host_backend());
  const Rated with = rate(on, raw, scaled, true), without = rate(on, raw, scaled, false);
  EXPECT_EQ(with.marked, with.out.level.size());
  expect_same_but_z(with, without);
}

// The bound holds: rows of magnitude B give outputs of magnitude at most 10^30 (computed in double,
// over every sign pattern of a few rows and the worst row for the first layer); it is exact for
// one linear unit; it is negative (no row skips) where a parameter is not finite.
TEST(FiniteInputBound, OutputsStayWithinTheLimitUpToTheBound) {
  const kernels::MlpLayout layout = kernels::MlpLayout::build(
      6, {{24, kernels::Activation::relu}, {16, kernels::Activation::relu}, {4, kernels::Activation::linear}});
  std::vector<float> params(layout.param_count);
  kernels::init_params(layout, 9, params.data());
  for (size_t l = 0; l < layout.layers.size(); ++l)
    for (int o = 0; o < layout.layers[l].out; ++o) params[layout.layers[l].bias_offset + o] = 0.1f * float(o % 3);
  const float B = kernels::cpu::finite_input_bound(layout, params.data());
  ASSERT_GT(B, 1e25f);
  auto largest_output = [&](const std::vector<double>& x) {
    std::vector<double> h = x;
    double largest = 0;
    for (const kernels::LayerShape& s : layout.layers) {
      std::vector<double> next(size_t(s.out));
      for (int o = 0; o < s.out; ++o) {
        double v = params[s.bias_offset + o];
        for (int i = 0; i < s.in; ++i) v += double(params[s.weight_offset + size_t(o) * s.in + i]) * h[size_t(i)];
        next[size_t(o)] = s.act == kernels::Activation::relu ? std::max(0.0, v) : v;
        largest = std::max(largest, std::fabs(next[size_t(o)]));
      }
      h = next;
    }
    return largest;
  };
  double seen = 0;
  for (unsigned signs = 0; signs < 64; ++signs) {
    std::vector<double> x(6);
    for (int i = 0; i < 6; ++i) x[size_t(i)] = (signs >> i & 1) ? double(B) : -double(B);
    seen = std::max(seen, largest_output(x));
  }
  EXPECT_LE(seen, 1e30);
  EXPECT_GT(seen, 1e27);  // not vacuous (2.7e28 with these parameters): within a few orders of magnitude of the limit

  const kernels::MlpLayout one = kernels::MlpLayout::build(1, {{1, kernels::Activation::linear}});
  std::vector<float> wb = {-4.0f, 2e29f};
  EXPECT_FLOAT_EQ(kernels::cpu::finite_input_bound(one, wb.data()), float((1e30 - 2e29) / 4));
  wb[0] = std::numeric_limits<float>::infinity();  // inf x 0 is NaN: not even a row of zeros is safe
  EXPECT_LT(kernels::cpu::finite_input_bound(one, wb.data()), 0.0f);
  wb = {1.0f, std::nanf("")};
  EXPECT_LT(kernels::cpu::finite_input_bound(one, wb.data()), 0.0f);
  wb = {1.0f, 3e30f};  // the bias alone is beyond the limit
  EXPECT_LT(kernels::cpu::finite_input_bound(one, wb.data()), 0.0f);
}
