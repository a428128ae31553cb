// rate_scaled runs encoder, soft assignment, cluster level and classifier head tile by tile in one
// parallel region; it must give exactly what the ops give when called one after another.
#include <algorithm>
#include <cmath>
#include <limits>
#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "datasets/synth.hpp"
#include "kernels/ops.hpp"
#include "trainer/model/config.hpp"
#include "trainer/model/model.hpp"

using namespace resilinet;

namespace {

template <class T> bool same_bytes(const std::vector<T>& a, const T* b, size_t n) {
  return a.size() >= n && std::memcmp(a.data(), b, n * sizeof(T)) == 0;
}

}  // namespace

TEST(RateScaled, FusedTilesMatchTheOpsOneAfterAnother) {
  TrainConfig config;
  config.seed = 7;
  config.clusters.space = "latent";
  Model m = assemble_model(config, default_schema());
  const size_t F = size_t(m.features()), d = size_t(m.latent_dims()), K = size_t(m.clusters);
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> x(2000 * F);
  for (float& v : x) v = u(rng);
  // Centroids at the codes of the first K rows, and a level map that is not the identity.
  m.centroids.resize(K * d);
  kernels::cpu::mlp_forward(m.autoencoder, m.autoencoder_params.data(), x.data(), K, m.centroids.data(),
                            m.latent_layer);
  m.cluster_level = {3, 1, 5, 2, 4};

  for (size_t rows : {size_t(1), size_t(63), size_t(65), size_t(2000)}) {
    SCOPED_TRACE(rows);
    RatingBuffers out;
    rate_scaled(m, nullptr, x.data(), rows, out, true);

    std::vector<float> z(rows * d), q(rows * K), logits(rows * K);
    kernels::cpu::mlp_forward(m.autoencoder, m.autoencoder_params.data(), x.data(), rows, z.data(),
                              m.latent_layer);
    kernels::cpu::soft_assign(z.data(), rows, int(d), m.centroids.data(), int(K), float(m.alpha), q.data());
    kernels::cpu::mlp_forward(m.classifier, m.classifier_params.data(), x.data(), rows, logits.data());
    EXPECT_TRUE(same_bytes(out.z, z.data(), z.size()));
    EXPECT_TRUE(same_bytes(out.q, q.data(), q.size()));
    EXPECT_TRUE(same_bytes(out.logits, logits.data(), logits.size()));
    std::vector<int> used(K + 1, 0);
    for (size_t r = 0; r < rows; ++r) {
      const float* qr = q.data() + r * K;
      const float* lr = logits.data() + r * K;
      ASSERT_EQ(out.cluster_level[r], m.cluster_level[std::max_element(qr, qr + K) - qr]) << "row " << r;
      ASSERT_EQ(out.level[r], int32_t(std::max_element(lr, lr + K) - lr) + 1) << "row " << r;
      ++used[out.cluster_level[r]];
    }
    if (rows == 2000)  // every cluster wins rows, so the level map is exercised
      for (size_t l = 1; l <= K; ++l) EXPECT_GT(used[l], 0) << "level " << l;
  }
}

// In the completed space a row is the scaled row with each missing value replaced by the decoder's
// reconstruction, times the cluster scale; q is the soft assignment of that row. Only rows with a
// missing value are decoded: the rows include a 64-row tile without any, one with a few, and tiles
// where most rows have some.
TEST(RateScaled, CompletedSpaceFillsMissingValuesFromTheDecoder) {
  TrainConfig config;
  config.seed = 5;
  Model m = assemble_model(config, default_schema());
  m.cluster_scale = 2.5;
  const size_t F = size_t(m.features()), d = size_t(m.latent_dims()), K = size_t(m.clusters);
  ASSERT_EQ(m.cluster_dims(), int(F));
  const size_t rows = 300;
  std::mt19937_64 rng(4);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> scaled(rows * F), raw(rows * F);
  for (size_t k = 0; k < rows * F; ++k) {
    const size_t row = k / F;
    const float rate = row >= 64 && row < 128 ? 0.0f : row >= 128 && row < 192 ? (row % 7 == 0 ? 0.3f : 0.0f) : 0.2f;
    scaled[k] = u(rng);
    raw[k] = u(rng) < rate ? std::numeric_limits<float>::quiet_NaN() : scaled[k];
  }
  m.centroids.resize(K * F);
  for (float& c : m.centroids) c = 2.5f * u(rng);

  RatingBuffers out;
  rate_scaled(m, raw.data(), scaled.data(), rows, out, false);

  std::vector<float> recon(rows * F), expected(rows * F), q(rows * K);
  kernels::cpu::mlp_forward(m.autoencoder, m.autoencoder_params.data(), scaled.data(), rows, recon.data());
  size_t missing = 0;
  for (size_t k = 0; k < rows * F; ++k) {
    const bool absent = std::isnan(raw[k]);
    missing += absent;
    expected[k] = 2.5f * (absent ? recon[k] : scaled[k]);
  }
  ASSERT_GT(missing, rows * F / 10);
  for (size_t k = 0; k < rows * F; ++k) ASSERT_NEAR(out.space[k], expected[k], 1e-5f * (1 + std::fabs(expected[k]))) << k;
  kernels::cpu::soft_assign(out.space.data(), rows, int(F), m.centroids.data(), int(K), float(m.alpha), q.data());
  EXPECT_TRUE(same_bytes(out.q, q.data(), q.size()));
  std::vector<float> z(rows * d), space(rows * F);
  clustering_space(m, raw.data(), scaled.data(), rows, space.data(), z.data());
  EXPECT_TRUE(same_bytes(out.z, z.data(), z.size()));
  EXPECT_TRUE(same_bytes(out.space, space.data(), space.size()));
}
