// The consensus of k-means restarts (trainer/stages/cluster_consensus.hpp), the contingency-table forms of
// the adjusted Rand index and the quadratic weighted kappa, and the robust scaler.
#include <algorithm>
#include <barrier>
#include <cmath>
#include <numeric>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "trainer/stages/cluster_consensus.hpp"
#include "trainer/stages/cluster_metrics.hpp"
#include "trainer/model/scaler.hpp"

using namespace resilinet;

namespace {

// Gaussian blobs around `centres` (rows of dims values), `per` rows each; labels in truth.
std::vector<float> blobs(const std::vector<std::vector<float>>& centres, const std::vector<size_t>& per, float sigma,
                         uint64_t seed, std::vector<int32_t>& truth) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> noise(0.0f, sigma);
  std::vector<float> x;
  for (size_t c = 0; c < centres.size(); ++c)
    for (size_t i = 0; i < per[c]; ++i) {
      for (float v : centres[c]) x.push_back(v + noise(rng));
      truth.push_back(int32_t(c));
    }
  return x;
}

// Overlapping blobs: restarts on different 60% parts disagree a little.
std::vector<float> overlapping_blobs(std::vector<int32_t>& truth) {
  return blobs({{0, 0}, {1.5f, 0}, {0, 1.5f}, {1.5f, 1.5f}, {3, 3}}, {300, 300, 300, 300, 300}, 0.7f, 3, truth);
}

std::vector<int64_t> keys(size_t rows) {
  std::vector<int64_t> k(rows);
  for (size_t i = 0; i < rows; ++i) k[i] = int64_t(i * 7919 + 13);
  return k;
}

}  // namespace

TEST(Consensus, SeparatedClustersAreFoundByEveryRestart) {
  std::vector<int32_t> truth;
  const std::vector<std::vector<float>> centres = {{0, 0}, {4, 0}, {0, 4}, {4, 4}, {8, 8}};
  auto x = blobs(centres, {400, 300, 300, 200, 100}, 0.5f, 1, truth);
  ConsensusOptions o;
  o.restarts = 4;
  const size_t rows = truth.size();
  const Consensus c = consensus_kmeans(x.data(), rows, 2, keys(rows), o);
  EXPECT_NEAR(adjusted_rand_index(c.labels, truth), 1.0, 1e-12);
  EXPECT_NEAR(c.min_agreement(), 1.0, 1e-12);
  ASSERT_EQ(c.agreement.size(), 16u);
  for (int a = 0; a < 4; ++a) {
    EXPECT_EQ(c.agreement[a * 4 + a], 1.0);
    for (int b = 0; b < 4; ++b) EXPECT_EQ(c.agreement[a * 4 + b], c.agreement[b * 4 + a]);
  }
  // The polished centroids are the means of their clusters' rows, near the true centres.
  for (int k = 0; k < 5; ++k) {
    double sum[2] = {0, 0};
    int64_t n = 0;
    for (size_t i = 0; i < rows; ++i)
      if (c.labels[i] == k) sum[0] += x[2 * i], sum[1] += x[2 * i + 1], ++n;
    ASSERT_GT(n, 0);
    EXPECT_NEAR(c.centroids[2 * k], sum[0] / double(n), 1e-4);
    EXPECT_NEAR(c.centroids[2 * k + 1], sum[1] / double(n), 1e-4);
    double nearest = 1e9;
    for (const auto& centre : centres)
      nearest = std::min(nearest, std::hypot(double(c.centroids[2 * k] - centre[0]), double(c.centroids[2 * k + 1] - centre[1])));
    EXPECT_LT(nearest, 0.25);
  }
  std::vector<int64_t> sizes = c.sizes;
  std::sort(sizes.begin(), sizes.end());
  EXPECT_EQ(sizes, (std::vector<int64_t>{100, 200, 300, 300, 400}));
  EXPECT_FALSE(c.near_empty);
  // Inertia is the sum of squared distances to the polished centroids.
  double inertia = 0;
  for (size_t i = 0; i < rows; ++i)
    for (int j = 0; j < 2; ++j) {
      const double d = x[i * 2 + j] - c.centroids[c.labels[i] * 2 + j];
      inertia += d * d;
    }
  EXPECT_NEAR(c.inertia, inertia, 1e-6 * inertia);
}

// Four groups plus a far group of 6 rows (0.5%): the k-means optimum gives those rows a cluster of
// their own, which every restart finds; under min_share 2% each restart and the result are flagged.
TEST(Consensus, NearEmptyClustersAreFlagged) {
  std::vector<int32_t> truth;
  auto x = blobs({{0, 0}, {3, 0}, {0, 3}, {3, 3}, {60, 60}}, {300, 300, 300, 300, 6}, 0.8f, 2, truth);
  ConsensusOptions o;
  o.restarts = 4;
  o.min_share = 0.02;
  const size_t rows = truth.size();
  const Consensus c = consensus_kmeans(x.data(), rows, 2, keys(rows), o);
  EXPECT_EQ(*std::min_element(c.sizes.begin(), c.sizes.end()), 6);
  EXPECT_EQ(c.near_empty_restarts, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_TRUE(c.near_empty);
  o.min_share = 0.004;  // 6 rows are 0.5%: not near-empty under this threshold
  const Consensus lenient = consensus_kmeans(x.data(), rows, 2, keys(rows), o);
  EXPECT_TRUE(lenient.near_empty_restarts.empty());
  EXPECT_FALSE(lenient.near_empty);
}

TEST(Consensus, RestartsSeeDifferentPartsAndAgreementIsReported) {
  std::vector<int32_t> truth;
  auto x = overlapping_blobs(truth);
  ConsensusOptions o;
  o.restarts = 5;
  o.restart_share = 0.6;
  const size_t rows = truth.size();
  const Consensus c = consensus_kmeans(x.data(), rows, 2, keys(rows), o);
  EXPECT_LT(c.min_agreement(), 1.0);
  EXPECT_GT(c.mean_agreement(), 0.3);
  EXPECT_LE(c.min_agreement(), c.mean_agreement());
  // The chosen restart has the highest total agreement with the others.
  double best = -1;
  int argbest = -1;
  for (int r = 0; r < 5; ++r) {
    double s = 0;
    for (int b = 0; b < 5; ++b) s += b == r ? 0 : c.agreement[r * 5 + b];
    if (s > best) best = s, argbest = r;
  }
  EXPECT_EQ(c.chosen, argbest);
  // Same inputs, same result.
  const Consensus again = consensus_kmeans(x.data(), rows, 2, keys(rows), o);
  EXPECT_EQ(again.centroids, c.centroids);
  EXPECT_EQ(again.agreement, c.agreement);
}

// Restarts split between two parts that run side by side, as two ranks do: part 0 fits restarts 0,
// 2 and 4, part 1 fits 1 and 3; they exchange their centroids through share and their agreement
// counts (each on its half of the rows) through sum_counts. Both end with one process's consensus,
// bitwise.
TEST(Consensus, PartsSplittingTheRestartsGiveOneProcessesResult) {
  std::vector<int32_t> truth;
  auto x = overlapping_blobs(truth);
  ConsensusOptions o;
  o.restarts = 5;
  o.restart_share = 0.6;
  const size_t rows = truth.size();
  const Consensus whole = consensus_kmeans(x.data(), rows, 2, keys(rows), o);
  std::barrier sync(2);
  std::vector<std::vector<float>> fitted[2];
  std::vector<int64_t> counted[2];
  auto run_part = [&](int p) {
    ConsensusOptions part = o;
    part.part = p;
    part.parts = 2;
    part.share = [&, p](std::vector<std::vector<float>>& centroids) {
      for (size_t r = 0; r < centroids.size(); ++r) EXPECT_EQ(centroids[r].empty(), int(r % 2) != p) << "restart " << r;
      fitted[p] = centroids;
      sync.arrive_and_wait();
      for (size_t r = size_t(1 - p); r < centroids.size(); r += 2) centroids[r] = fitted[1 - p][r];
      sync.arrive_and_wait();
    };
    part.sum_counts = [&, p](std::span<const int64_t> counts) {
      counted[p].assign(counts.begin(), counts.end());
      sync.arrive_and_wait();
      std::vector<int64_t> sum = counted[0];
      for (size_t k = 0; k < sum.size(); ++k) sum[k] += counted[1][k];
      sync.arrive_and_wait();
      return sum;
    };
    return consensus_kmeans(x.data(), rows, 2, keys(rows), part);
  };
  Consensus split[2];
  std::thread other([&] { split[1] = run_part(1); });
  split[0] = run_part(0);
  other.join();
  for (const Consensus& c : split) {
    EXPECT_EQ(c.centroids, whole.centroids);
    EXPECT_EQ(c.labels, whole.labels);
    EXPECT_EQ(c.agreement, whole.agreement);
    EXPECT_EQ(c.chosen, whole.chosen);
  }
  EXPECT_NE(counted[0], counted[1]);  // each part counted its own rows
}

TEST(ClusterMetrics, TableFormsMatchTheLabelForms) {
  std::mt19937_64 rng(5);
  std::vector<int32_t> a(3000), b(3000);
  ContingencyTable t(4, 6);
  for (size_t i = 0; i < a.size(); ++i) {
    a[i] = int32_t(rng() % 4);
    b[i] = rng() % 3 == 0 ? int32_t(rng() % 6) : a[i] + 1;
    t.add(a[i], b[i]);
  }
  EXPECT_NEAR(adjusted_rand_index(t), adjusted_rand_index(a, b), 1e-12);
  ContingencyTable same(3, 3);
  for (int k = 0; k < 3; ++k) same.counts[k * 3 + k] = 10 + k;
  EXPECT_NEAR(adjusted_rand_index(same), 1.0, 1e-12);
  EXPECT_NEAR(quadratic_weighted_kappa(same), 1.0, 1e-12);
  // kappa by hand: 2 classes, table [[20, 5], [10, 15]]: observed 15/50 disagreement,
  // expected (25*25 + 25*25)/2500 = 0.5, kappa = 1 - 0.3 / 0.5 = 0.4.
  ContingencyTable two(2, 2);
  two.counts = {20, 5, 10, 15};
  EXPECT_NEAR(quadratic_weighted_kappa(two), 0.4, 1e-12);
  // Three ordinal classes: a one-step miss costs a quarter of a two-step miss.
  ContingencyTable near(3, 3), far(3, 3);
  near.counts = {10, 2, 0, 0, 10, 0, 0, 0, 10};
  far.counts = {10, 0, 2, 0, 10, 0, 0, 0, 10};
  EXPECT_GT(quadratic_weighted_kappa(near), quadratic_weighted_kappa(far));
}

TEST(RobustScaler, CentralRangeMapsToUnitAndTailsAreClipped) {
  // Feature 0: 0..999 (uniform), feature 1: mostly zeros with a few large values.
  const size_t rows = 1000;
  std::vector<float> x(rows * 2);
  for (size_t i = 0; i < rows; ++i) {
    x[i * 2] = float(i);
    x[i * 2 + 1] = i % 200 == 0 ? 500.0f : 0.0f;
  }
  ScalerFitter fitter(2);
  std::vector<int64_t> ids(rows);
  std::iota(ids.begin(), ids.end(), int64_t(0));
  fitter.add(x.data(), ids.data(), rows);
  ScalerConfig cfg;
  const Scaler s = fitter.finish(cfg, "test");
  EXPECT_EQ(s.type, "robust");
  EXPECT_DOUBLE_EQ(s.clip, 0.2);
  EXPECT_NEAR(s.offset[0], 0.01 * 999, 1e-9);
  EXPECT_NEAR(s.scale[0], 0.98 * 999, 1e-9);
  // Feature 1 is 0 over the central range: its full range is used instead.
  EXPECT_DOUBLE_EQ(s.offset[1], 0.0);
  EXPECT_DOUBLE_EQ(s.scale[1], 500.0);
  const float in[4] = {0.0f, 500.0f, 999.0f, std::nanf("")};
  float out[4];
  s.transform(in, 2, out);
  EXPECT_NEAR(out[0], -0.01 / 0.98, 1e-6);
  EXPECT_NEAR(out[1], 1.0, 1e-6);
  EXPECT_NEAR(out[2], std::min(1.2, (999 - 9.99) / (0.98 * 999)), 1e-6);
  EXPECT_NEAR(out[3], 0.0, 1e-6);  // missing -> median 0 -> 0
  const float extreme[2] = {1e9f, -1e9f};
  s.transform(extreme, 1, out);
  EXPECT_FLOAT_EQ(out[0], 1.2f);
  EXPECT_FLOAT_EQ(out[1], -0.2f);
  EXPECT_FLOAT_EQ(s.scaled_max()[0], float(std::min(1.2, (999 - 9.99) / (0.98 * 999))));
  // minmax keeps the whole range and does not clip.
  const Scaler m = fitter.finish(ScalerConfig{.type = "minmax"}, "test");
  EXPECT_TRUE(std::isinf(m.clip));
  m.transform(extreme, 1, out);
  EXPECT_GT(out[0], 1e5f);
}
