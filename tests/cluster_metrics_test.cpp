// Tests of the cluster and rating quality metrics against hand-computed cases, plain fp64
// restatements of each formula, and values computed once with scikit-learn 1.2.1 (Debian's
// python3-sklearn, sklearn.metrics, in fp64) that are hard-coded below. The last test trains a
// small model and checks the evaluation's tables in metrics.json against a recount from `rate`.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <numeric>
#include <random>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "datasets/h5.hpp"
#include "datasets/shard.hpp"
#include "datasets/synth.hpp"
#include "h5_rows.hpp"
#include "test_support.hpp"
#include "trainer/model/config.hpp"
#include "trainer/stages/cluster_metrics.hpp"
#include "trainer/stages/train_run.hpp"
#include "trainer/stages/training.hpp"

using namespace resilinet;

namespace {

// Eight points in the plane, three clusters (one a singleton).
const std::vector<float> kTinyZ = {0, 0, 1, 0, 0, 1, 5, 5, 6, 5, 5, 7, 10, 0, 2, 3};
const std::vector<int32_t> kTinyLabels = {0, 0, 0, 1, 1, 1, 2, 0};
constexpr size_t kTinyRows = 8;
constexpr int kTinyDims = 2;
// scikit-learn 1.2.1: silhouette_score, calinski_harabasz_score, davies_bouldin_score on the above.
constexpr double kTinySilhouette = 0.5910298884627507;
constexpr double kTinyCalinskiHarabasz = 26.413793103448278;
constexpr double kTinyDaviesBouldin = 0.28963661526537815;

double dist(const std::vector<float>& z, int dims, size_t a, size_t b) {
  double d2 = 0;
  for (int k = 0; k < dims; ++k) d2 += std::pow(double(z[a * dims + k]) - z[b * dims + k], 2);
  return std::sqrt(d2);
}

// Plain restatements for labels in [0, clusters).
double plain_silhouette(const std::vector<float>& z, int dims, const std::vector<int32_t>& l,
                        int clusters) {
  const size_t n = l.size();
  double total = 0;
  for (size_t i = 0; i < n; ++i) {
    std::vector<double> sum(clusters, 0.0), count(clusters, 0.0);
    for (size_t j = 0; j < n; ++j) {
      count[l[j]] += 1;
      if (j != i) sum[l[j]] += dist(z, dims, i, j);
    }
    if (count[l[i]] == 1) continue;
    const double a = sum[l[i]] / (count[l[i]] - 1);
    double b = 1e300;
    for (int c = 0; c < clusters; ++c)
      if (c != l[i] && count[c] > 0) b = std::min(b, sum[c] / count[c]);
    total += (b - a) / std::max(a, b);
  }
  return total / double(n);
}

std::vector<double> plain_centroids(const std::vector<float>& z, int dims,
                                    const std::vector<int32_t>& l, int clusters,
                                    std::vector<double>& count) {
  std::vector<double> c(size_t(clusters) * dims, 0.0);
  count.assign(clusters, 0.0);
  for (size_t i = 0; i < l.size(); ++i) {
    count[l[i]] += 1;
    for (int k = 0; k < dims; ++k) c[size_t(l[i]) * dims + k] += z[i * dims + k];
  }
  for (int j = 0; j < clusters; ++j)
    for (int k = 0; k < dims; ++k) c[size_t(j) * dims + k] /= count[j];
  return c;
}

double plain_calinski_harabasz(const std::vector<float>& z, int dims,
                               const std::vector<int32_t>& l, int clusters) {
  std::vector<double> count;
  const auto c = plain_centroids(z, dims, l, clusters, count);
  const double n = double(l.size());
  std::vector<double> mean(dims, 0.0);
  for (size_t i = 0; i < l.size(); ++i)
    for (int k = 0; k < dims; ++k) mean[k] += z[i * dims + k] / n;
  double within = 0, between = 0;
  for (size_t i = 0; i < l.size(); ++i)
    for (int k = 0; k < dims; ++k) within += std::pow(z[i * dims + k] - c[size_t(l[i]) * dims + k], 2);
  for (int j = 0; j < clusters; ++j)
    for (int k = 0; k < dims; ++k) between += count[j] * std::pow(c[size_t(j) * dims + k] - mean[k], 2);
  return between / (clusters - 1) / (within / (n - clusters));
}

double plain_davies_bouldin(const std::vector<float>& z, int dims, const std::vector<int32_t>& l,
                            int clusters) {
  std::vector<double> count;
  const auto c = plain_centroids(z, dims, l, clusters, count);
  std::vector<double> s(clusters, 0.0);
  for (size_t i = 0; i < l.size(); ++i) {
    double d2 = 0;
    for (int k = 0; k < dims; ++k) d2 += std::pow(z[i * dims + k] - c[size_t(l[i]) * dims + k], 2);
    s[l[i]] += std::sqrt(d2) / count[l[i]];
  }
  double total = 0;
  for (int i = 0; i < clusters; ++i) {
    double worst = 0;
    for (int j = 0; j < clusters; ++j) {
      if (j == i) continue;
      double d2 = 0;
      for (int k = 0; k < dims; ++k) d2 += std::pow(c[size_t(i) * dims + k] - c[size_t(j) * dims + k], 2);
      worst = std::max(worst, (s[i] + s[j]) / std::sqrt(d2));
    }
    total += worst;
  }
  return total / clusters;
}

// Ranks 1..n of values, tied values sharing the mean of their ranks.
std::vector<double> plain_midranks(const std::vector<int32_t>& v) {
  std::vector<size_t> order(v.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> rank(v.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j < order.size() && v[order[j]] == v[order[i]]) ++j;
    for (size_t k = i; k < j; ++k) rank[order[k]] = (double(i + 1) + double(j)) / 2.0;  // mean of i+1..j
    i = j;
  }
  return rank;
}

// Spearman's rho as Pearson's correlation of the midranks of two vectors.
double plain_spearman(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  const std::vector<double> ra = plain_midranks(a), rb = plain_midranks(b);
  const double n = double(a.size());
  double ma = 0, mb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ma += ra[i] / n;
    mb += rb[i] / n;
  }
  double cov = 0, va = 0, vb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    cov += (ra[i] - ma) * (rb[i] - mb);
    va += (ra[i] - ma) * (ra[i] - ma);
    vb += (rb[i] - mb) * (rb[i] - mb);
  }
  return cov / std::sqrt(va * vb);
}

ContingencyTable table_of(const std::vector<int32_t>& a, const std::vector<int32_t>& b, int rows, int cols) {
  ContingencyTable t(rows, cols);
  for (size_t i = 0; i < a.size(); ++i) t.add(a[i], b[i]);
  return t;
}

}  // namespace

TEST(AdjustedRandIndex, IdenticalAndRenamedLabelingsScoreOne) {
  const std::vector<int32_t> a = {0, 0, 1, 1, 2, 2, 2, 0};
  const std::vector<int32_t> renamed = {7, 7, -3, -3, 100, 100, 100, 7};
  EXPECT_DOUBLE_EQ(adjusted_rand_index(a, a), 1.0);
  EXPECT_DOUBLE_EQ(adjusted_rand_index(a, renamed), 1.0);
}

TEST(AdjustedRandIndex, HandWorkedCase) {
  // Contingency {{2,1,0},{0,1,2}}: sum C(n_ij,2) = 2, row pairs 3+3 = 6, column pairs 1+1+1 = 3,
  // C(6,2) = 15, expected 6*3/15 = 1.2, maximum (6+3)/2 = 4.5: ARI = 0.8 / 3.3.
  const std::vector<int32_t> a = {0, 0, 0, 1, 1, 1};
  const std::vector<int32_t> b = {0, 0, 1, 1, 2, 2};
  EXPECT_NEAR(adjusted_rand_index(a, b), 0.8 / 3.3, 1e-15);
  EXPECT_NEAR(adjusted_rand_index(b, a), 0.8 / 3.3, 1e-15);
  // scikit-learn 1.2.1 adjusted_rand_score on this pair: 0.15789473684210525.
  EXPECT_NEAR(adjusted_rand_index(std::vector<int32_t>{0, 0, 1, 2, 2, 2, 3, 1},
                                  std::vector<int32_t>{1, 1, 1, 0, 0, 2, 2, 2}),
              0.15789473684210525, 1e-14);
}

TEST(AdjustedRandIndex, DegenerateLabelings) {
  const std::vector<int32_t> one(5, 4), singletons = {0, 1, 2, 3, 4};
  EXPECT_DOUBLE_EQ(adjusted_rand_index(one, one), 1.0);
  EXPECT_DOUBLE_EQ(adjusted_rand_index(singletons, singletons), 1.0);
  EXPECT_DOUBLE_EQ(adjusted_rand_index(one, singletons), 0.0);
  EXPECT_THROW(adjusted_rand_index(one, std::vector<int32_t>(4, 0)), std::invalid_argument);
}

TEST(AdjustedRandIndex, LargeRowCountsDoNotOverflow) {
  // 200000 rows: C(n, 2) = 2e10 pairs, past 32-bit range.
  const size_t rows = 200000;
  std::vector<int32_t> a(rows), b(rows), noise(rows);
  std::mt19937_64 rng(5);
  for (size_t i = 0; i < rows; ++i) {
    a[i] = int32_t(i % 5);
    b[i] = int32_t(4 - i % 5);
    noise[i] = int32_t(rng() % 5);
  }
  EXPECT_DOUBLE_EQ(adjusted_rand_index(a, b), 1.0);
  EXPECT_NEAR(adjusted_rand_index(a, noise), 0.0, 1e-3);  // independent labelings
}

TEST(Silhouette, MatchesPlainFormulaAndScikitLearn) {
  const double got = silhouette_score(kTinyZ.data(), kTinyRows, kTinyDims, kTinyLabels);
  EXPECT_NEAR(got, plain_silhouette(kTinyZ, kTinyDims, kTinyLabels, 3), 1e-14);
  EXPECT_NEAR(got, kTinySilhouette, 1e-12);
  // Renaming labels changes nothing.
  const std::vector<int32_t> renamed = {9, 9, 9, -1, -1, -1, 3, 9};
  EXPECT_NEAR(silhouette_score(kTinyZ.data(), kTinyRows, kTinyDims, renamed), got, 1e-15);
  EXPECT_TRUE(std::isnan(silhouette_score(kTinyZ.data(), kTinyRows, kTinyDims,
                                          std::vector<int32_t>(kTinyRows, 0))));
}

TEST(Silhouette, SampleIsDeterministicAndCloseToFullScore) {
  const size_t rows = 3000;
  const int dims = 4;
  std::vector<float> z(rows * dims);
  std::vector<int32_t> labels(rows);
  std::mt19937_64 rng(9);
  std::normal_distribution<double> noise(0.0, 1.0);
  for (size_t i = 0; i < rows; ++i) {
    labels[i] = int32_t(i % 3);
    for (int k = 0; k < dims; ++k) z[i * dims + k] = float(3.0 * labels[i] * (k == 0) + noise(rng));
  }
  const double full = silhouette_score(z.data(), rows, dims, labels, rows);
  EXPECT_NEAR(full, plain_silhouette(z, dims, labels, 3), 1e-12);
  const double sampled = silhouette_score(z.data(), rows, dims, labels, 500, 7);
  EXPECT_EQ(sampled, silhouette_score(z.data(), rows, dims, labels, 500, 7));
  EXPECT_NE(sampled, full);  // it really is a sample
  EXPECT_NEAR(sampled, full, 0.05);
}

// Three parts each score their third of the sample; the gather hands the last part the others'
// scores (recorded from their calls), and it returns one process's mean bitwise. A gather that
// leaves the other parts' scores out changes the mean, so the parts really split the work.
TEST(Silhouette, PartsGiveOneProcessesScoreBitwise) {
  const size_t rows = 1001;
  const int dims = 3;
  std::vector<float> z(rows * dims);
  std::vector<int32_t> labels(rows);
  std::mt19937_64 rng(4);
  std::normal_distribution<double> noise(0.0, 1.0);
  for (size_t i = 0; i < rows; ++i) {
    labels[i] = int32_t(i % 4);
    for (int k = 0; k < dims; ++k) z[i * dims + k] = float(2.0 * labels[i] * (k == 1) + noise(rng));
  }
  const double whole = silhouette_score(z.data(), rows, dims, labels, 700, 3);
  const int parts = 3;
  std::vector<std::vector<double>> recorded(parts);
  double last = 0, alone = 0;
  for (int p = 0; p < parts; ++p) {
    SilhouetteShare share{p, parts, [&](std::span<const double> mine, std::span<double> all) {
                            recorded[size_t(p)].assign(mine.begin(), mine.end());
                            size_t at = 0;
                            for (int q = 0; q < parts; ++q) {
                              const size_t n = all.size() * size_t(q + 1) / parts - all.size() * size_t(q) / parts;
                              if (q != p) std::fill_n(all.begin() + at, n, 0.0);
                              if (q != p && !recorded[size_t(q)].empty())
                                std::copy(recorded[size_t(q)].begin(), recorded[size_t(q)].end(), all.begin() + at);
                              at += n;
                            }
                          }};
    const double got = silhouette_score(z.data(), rows, dims, labels, 700, 3, share);
    if (p == 0) alone = got;
    last = got;
  }
  EXPECT_EQ(recorded[0].size() + recorded[1].size() + recorded[2].size(), size_t(700));
  EXPECT_EQ(last, whole);
  EXPECT_NE(alone, whole);
}

TEST(CalinskiHarabasz, MatchesPlainFormulaAndScikitLearn) {
  const double got = calinski_harabasz(kTinyZ.data(), kTinyRows, kTinyDims, kTinyLabels);
  EXPECT_NEAR(got, plain_calinski_harabasz(kTinyZ, kTinyDims, kTinyLabels, 3), 1e-12);
  EXPECT_NEAR(got, kTinyCalinskiHarabasz, 1e-11);
  EXPECT_TRUE(std::isnan(calinski_harabasz(kTinyZ.data(), kTinyRows, kTinyDims,
                                           std::vector<int32_t>(kTinyRows, 1))));
}

TEST(DaviesBouldin, MatchesPlainFormulaAndScikitLearn) {
  const double got = davies_bouldin(kTinyZ.data(), kTinyRows, kTinyDims, kTinyLabels);
  EXPECT_NEAR(got, plain_davies_bouldin(kTinyZ, kTinyDims, kTinyLabels, 3), 1e-14);
  EXPECT_NEAR(got, kTinyDaviesBouldin, 1e-12);
  // Two tight, far clusters score near 0; two interleaved ones score high.
  const std::vector<float> z = {0, 0, 0.1f, 0, 10, 10, 10.1f, 10};
  EXPECT_LT(davies_bouldin(z.data(), 4, 2, std::vector<int32_t>{0, 0, 1, 1}), 0.01);
  EXPECT_GT(davies_bouldin(z.data(), 4, 2, std::vector<int32_t>{0, 1, 0, 1}), 10.0);
}

TEST(Classification, AccuracyConfusionAndMacroF1) {
  const std::vector<int32_t> truth = {0, 1, 2, 2, 1, 0, 3, 3, 2};
  const std::vector<int32_t> predicted = {0, 2, 2, 2, 1, 0, 3, 0, 1};
  EXPECT_DOUBLE_EQ(accuracy(truth, predicted), 6.0 / 9.0);
  const ConfusionMatrix m = confusion_matrix(truth, predicted, 4);
  EXPECT_EQ(m.at(0, 0), 2);
  EXPECT_EQ(m.at(1, 2), 1);
  EXPECT_EQ(m.at(2, 1), 1);
  EXPECT_EQ(m.at(3, 0), 1);
  EXPECT_EQ(m.at(2, 2), 2);
  int64_t total = 0;
  for (int64_t c : m.counts) total += c;
  EXPECT_EQ(total, 9);
  // Per class F1 = 2tp / (true + predicted): 4/5, 2/4, 4/6, 2/3; scikit-learn 1.2.1
  // f1_score(average='macro') gives 0.6583333333333333.
  EXPECT_NEAR(macro_f1(truth, predicted, 4), (0.8 + 0.5 + 4.0 / 6 + 2.0 / 3) / 4, 1e-15);
  EXPECT_NEAR(macro_f1(truth, predicted, 4), 0.6583333333333333, 1e-15);
  // Classes absent from both labelings are not averaged in (classes 2 and 3 here); scikit-learn
  // gives 0.38888888888888884.
  EXPECT_NEAR(macro_f1(std::vector<int32_t>{0, 1, 1, 4}, std::vector<int32_t>{0, 1, 0, 1}, 5),
              0.38888888888888884, 1e-15);
  EXPECT_THROW(confusion_matrix(std::vector<int32_t>{0, 5}, std::vector<int32_t>{0, 1}, 5),
               std::out_of_range);
  // Counts add: the tables of two halves (two ranks' passes) summed are the whole one, and give
  // the same accuracy and F1.
  ConfusionMatrix halves(4);
  for (size_t i = 0; i < truth.size(); ++i) halves.add(truth[i], predicted[i]);
  const ConfusionMatrix first = confusion_matrix(std::span(truth).first(4), std::span(predicted).first(4), 4);
  const ConfusionMatrix second = confusion_matrix(std::span(truth).subspan(4), std::span(predicted).subspan(4), 4);
  for (size_t k = 0; k < m.counts.size(); ++k) EXPECT_EQ(first.counts[k] + second.counts[k], m.counts[k]);
  EXPECT_EQ(halves.counts, m.counts);
  EXPECT_EQ(halves.total(), 9);
  EXPECT_EQ(accuracy(halves), accuracy(truth, predicted));
  EXPECT_TRUE(std::isnan(accuracy(ConfusionMatrix(3))));
  EXPECT_THROW(halves.add(4, 0), std::out_of_range);
}

TEST(Kappa, QuadraticWeightsHandWorked) {
  // k = 3, weights (a-b)^2/4. Table {{2,1,0},{0,1,1},{1,0,2}}, n = 8: observed weighted
  // disagreement (1/4 + 1/4 + 1) / 8 = 0.1875; margins 3,2,3 both ways, expected
  // (4 * 6 / 4 + 2 * 9) / 64 = 0.375; kappa = 1 - 0.1875 / 0.375 = 0.5.
  ContingencyTable t(3, 3);
  t.counts = {2, 1, 0, 0, 1, 1, 1, 0, 2};
  EXPECT_NEAR(quadratic_weighted_kappa(t), 0.5, 1e-15);
  // k = 2: the weights are 0/1, so it is Cohen's kappa: po = 35/50, pe = (25*30 + 25*20)/2500 = 0.5,
  // kappa = (0.7 - 0.5) / 0.5 = 0.4.
  ContingencyTable two(2, 2);
  two.counts = {20, 5, 10, 15};
  EXPECT_NEAR(quadratic_weighted_kappa(two), 0.4, 1e-15);
  // Identical ratings score 1. Reversed ones, cells (0,2), (1,1), (2,0) once each: observed
  // (1 + 1) / 3 = 2/3; margins all 1, expected = (sum of the nine weights) / 9 = 3/9; kappa = -1.
  ContingencyTable same(3, 3), reversed(3, 3);
  same.counts = {4, 0, 0, 0, 2, 0, 0, 0, 3};
  reversed.counts = {0, 0, 1, 0, 1, 0, 1, 0, 0};
  EXPECT_DOUBLE_EQ(quadratic_weighted_kappa(same), 1.0);
  EXPECT_NEAR(quadratic_weighted_kappa(reversed), -1.0, 1e-15);
  EXPECT_TRUE(std::isnan(quadratic_weighted_kappa(ContingencyTable(3, 3))));
  EXPECT_THROW(quadratic_weighted_kappa(ContingencyTable(3, 2)), std::invalid_argument);
}

TEST(Spearman, HandWorkedWithTies) {
  // a = {0,0,1,1,2}, b = {0,1,0,2,2}. Midranks a: 1.5 1.5 3.5 3.5 5; b: 1.5 3 1.5 4.5 4.5; both
  // mean 3. Deviations a: -1.5 -1.5 .5 .5 2, b: -1.5 0 -1.5 1.5 1.5: covariance 2.25 + 0 - .75 +
  // .75 + 3 = 5.25, variances 9 and 9: rho = 5.25 / 9 = 7/12.
  const std::vector<int32_t> a = {0, 0, 1, 1, 2}, b = {0, 1, 0, 2, 2};
  EXPECT_NEAR(spearman(table_of(a, b, 3, 3)), 7.0 / 12.0, 1e-15);
  EXPECT_NEAR(plain_spearman(a, b), 7.0 / 12.0, 1e-15);
  // Symmetric, and empty rows and columns change nothing (labels 0, 2, 4 and 1, 3, 5 of 6).
  EXPECT_NEAR(spearman(table_of(b, a, 3, 3)), 7.0 / 12.0, 1e-15);
  const std::vector<int32_t> a_spread = {0, 0, 2, 2, 4}, b_spread = {1, 3, 1, 5, 5};
  EXPECT_NEAR(spearman(table_of(a_spread, b_spread, 6, 6)), 7.0 / 12.0, 1e-15);
  // Monotone with ties: +1; reversed: -1 (not 1 as ARI would say).
  EXPECT_NEAR(spearman(table_of({0, 0, 1, 1, 1, 2}, {0, 0, 1, 1, 1, 3}, 3, 4)), 1.0, 1e-15);
  EXPECT_NEAR(spearman(table_of({0, 0, 1, 1, 1, 2}, {2, 2, 1, 1, 1, 0}, 3, 3)), -1.0, 1e-15);
}

TEST(Spearman, MatchesMidrankPearsonOnRandomTables) {
  std::mt19937_64 rng(17);
  int compared = 0;
  for (int trial = 0; trial < 20; ++trial) {
    const int rows = 2 + int(rng() % 5), cols = 2 + int(rng() % 5);
    const size_t n = 5 + rng() % 200;
    std::vector<int32_t> a(n), b(n);
    for (size_t i = 0; i < n; ++i) {
      a[i] = int32_t(rng() % rows);
      b[i] = int32_t(std::min<uint64_t>(cols - 1, (a[i] * cols) / rows + rng() % 2));  // correlated
    }
    const double plain = plain_spearman(a, b);
    if (std::isnan(plain)) continue;  // a constant side, tested below
    EXPECT_NEAR(spearman(table_of(a, b, rows, cols)), plain, 1e-12) << "trial " << trial;
    ++compared;
  }
  EXPECT_GE(compared, 15);
}

TEST(Spearman, ZeroVarianceIsNaN) {
  EXPECT_TRUE(std::isnan(spearman(ContingencyTable(3, 3))));                            // empty
  EXPECT_TRUE(std::isnan(spearman(table_of({1, 1, 1}, {0, 1, 2}, 3, 3))));              // one row
  EXPECT_TRUE(std::isnan(spearman(table_of({0, 1, 2}, {2, 2, 2}, 3, 3))));              // one column
  EXPECT_TRUE(std::isnan(spearman(table_of({0}, {0}, 1, 1))));                          // one cell
}

// A small training on synthetic regions with an external rating (levels 1..5 or 0 = none, K = 4 so
// that rating 5 falls outside 1..K too) and a region without cells. The evaluation's tables in
// metrics.json must match a recount from the per-cell levels that `rate` writes, the held-out split
// (is_holdout) and the data's regions, planted levels and ratings.
namespace {

double number(const nlohmann::json& v) {
  return v.is_null() ? std::numeric_limits<double>::quiet_NaN() : v.get<double>();
}

}  // namespace

TEST(Evaluation, MetricsJsonTablesMatchARecountFromRatings) {
  const auto dir = resilinet::testing::scratch_dir();
  const int K = 4;
  // The data: three synthetic regions of 1,200 cells each plus a region name no cell uses.
  SynthOptions options;
  options.seed = 7;
  options.regions = regions_for_cells(3600, 3);
  SynthPlan plan(options);
  std::vector<std::string> region_names = plan.region_names();
  region_names.push_back("no-cells");
  std::filesystem::create_directories(dir / "data");
  const std::string shard = (dir / "data" / "part-00000.h5").string();
  std::vector<int32_t> region, planted, external;
  {
    ShardWriterOptions w;
    w.chunk_rows = 1024;
    w.has_hazard = w.has_external_rating = w.has_planted_level = true;
    ShardWriter writer(shard, plan.schema(), region_names, w);
    for (size_t r = 0; r < plan.region_names().size(); ++r)
      for (size_t block = 0; block < plan.region_blocks(r); ++block) {
        ShardColumns c;
        plan.generate_block(r, block, c);
        c.external_rating.resize(c.rows);
        for (size_t i = 0; i < c.rows; ++i) {
          const size_t row = region.size();
          // Mostly the planted level, some shifted up, every 10th none.
          const int shifted = std::min(5, c.planted_level[i] + 1);
          c.external_rating[i] = int8_t(row % 10 == 0 ? 0 : row % 10 == 1 ? shifted : c.planted_level[i]);
          region.push_back(int32_t(c.region[i]));
          planted.push_back(c.planted_level[i]);
          external.push_back(c.external_rating[i]);
        }
        writer.append(c);
      }
    writer.commit();
  }
  const size_t N = region.size();
  ASSERT_EQ(N, 3600u);

  TrainConfig config = load_train_config(std::string(RESILINET_SOURCE_DIR) + "/configs/default.yaml");
  config.data = shard;
  config.run_dir = (dir / "run").string();
  config.seed = 3;
  config.threads = 2;
  config.clusters.k = K;
  config.pretrain.epochs = 3;
  config.pretrain.min_steps = 0;
  config.classifier.epochs = 3;
  config.classifier.min_steps = 0;
  const TrainResult trained = train_model(config, true);
  const nlohmann::json metrics =
      nlohmann::json::parse(resilinet::testing::read_text(dir / "run" / "metrics.json"));
  ASSERT_EQ(metrics["evaluation"], trained.metrics["evaluation"]);
  const nlohmann::json& e = metrics["evaluation"];

  const auto r = resilinet::testing::run_resilinet("rate --quiet --checkpoint " + trained.checkpoint_path + " --data " +
                                                   shard + " --out " + (dir / "rate").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string ratings = (dir / "rate" / "ratings.h5").string();
  const auto level = resilinet::testing::read_h5_rows<int32_t>(ratings, "level", H5T_NATIVE_INT32);
  const auto cluster_level = resilinet::testing::read_h5_rows<int32_t>(ratings, "cluster_level", H5T_NATIVE_INT32);
  const auto cell_id = resilinet::testing::read_h5_rows<int64_t>(ratings, "cell_id", H5T_NATIVE_INT64);
  ASSERT_EQ(level.size(), N);

  // The recount: held-out confusion (cluster level x rated level), per region the same and the
  // rated levels, external rating x rated level over ratings 1..K.
  const size_t R = region_names.size();
  std::vector<int64_t> confusion(K * K, 0), external_confusion(K * K, 0);
  std::vector<std::vector<int64_t>> region_confusion(R, std::vector<int64_t>(K * K, 0)),
      region_levels(R, std::vector<int64_t>(K, 0));
  std::vector<std::vector<int32_t>> region_cluster(R), region_planted(R);
  std::vector<int32_t> rated_external, external_kept;
  for (size_t i = 0; i < N; ++i) {
    ASSERT_TRUE(level[i] >= 1 && level[i] <= K && cluster_level[i] >= 1 && cluster_level[i] <= K) << "cell " << i;
    ++region_levels[region[i]][level[i] - 1];
    region_cluster[region[i]].push_back(cluster_level[i]);
    region_planted[region[i]].push_back(planted[i]);
    if (is_holdout(cell_id[i], config.seed, config.classifier.holdout)) {
      ++confusion[(cluster_level[i] - 1) * K + level[i] - 1];
      ++region_confusion[region[i]][(cluster_level[i] - 1) * K + level[i] - 1];
    }
    if (external[i] >= 1 && external[i] <= K) {
      ++external_confusion[(external[i] - 1) * K + level[i] - 1];
      rated_external.push_back(level[i]);
      external_kept.push_back(external[i]);
    }
  }
  auto flat = [&](const nlohmann::json& rows) {
    EXPECT_EQ(rows.size(), size_t(K));
    std::vector<int64_t> out;
    for (const auto& row : rows) {
      EXPECT_EQ(row.size(), size_t(K));
      for (const auto& v : row) out.push_back(v.get<int64_t>());
    }
    return out;
  };

  // classifier_confusion: the recount; sums to holdout_cells; its diagonal share is the accuracy.
  const std::vector<int64_t> got_confusion = flat(e["classifier_confusion"]);
  EXPECT_EQ(got_confusion, confusion);
  const int64_t holdout_cells = e["holdout_cells"].get<int64_t>();
  EXPECT_EQ(std::accumulate(got_confusion.begin(), got_confusion.end(), int64_t(0)), holdout_cells);
  EXPECT_GT(holdout_cells, int64_t(N / 10));  // about 20% of the cells
  int64_t diagonal = 0;
  for (int k = 0; k < K; ++k) diagonal += got_confusion[k * K + k];
  EXPECT_NEAR(e["classifier_accuracy"].get<double>(), double(diagonal) / double(holdout_cells), 1e-15);
  ConfusionMatrix recount(K);
  recount.counts = confusion;
  EXPECT_NEAR(e["classifier_macro_f1"].get<double>(), macro_f1(recount), 1e-15);

  // regions: in order, adding up to the whole.
  ASSERT_EQ(e["regions"].size(), R);
  int64_t cells = 0, holdout = 0;
  for (size_t g = 0; g < R; ++g) {
    const auto& one = e["regions"][g];
    SCOPED_TRACE("region " + region_names[g]);
    EXPECT_EQ(one["name"], region_names[g]);
    EXPECT_EQ(one["cells"].get<int64_t>(), int64_t(region_cluster[g].size()));
    EXPECT_EQ(one["rated_level_cells"].get<std::vector<int64_t>>(), region_levels[g]);
    const int64_t region_holdout = std::accumulate(region_confusion[g].begin(), region_confusion[g].end(), int64_t(0));
    EXPECT_EQ(one["holdout_cells"].get<int64_t>(), region_holdout);
    ConfusionMatrix m(K);
    m.counts = region_confusion[g];
    if (region_holdout == 0) {
      EXPECT_TRUE(one["classifier_accuracy"].is_null());
      EXPECT_TRUE(one["classifier_macro_f1"].is_null());
    } else {
      EXPECT_NEAR(one["classifier_accuracy"].get<double>(), accuracy(m), 1e-15);
      EXPECT_NEAR(one["classifier_macro_f1"].get<double>(), macro_f1(m), 1e-15);
    }
    if (region_cluster[g].empty())
      EXPECT_TRUE(one["ari_planted"].is_null());
    else
      EXPECT_NEAR(one["ari_planted"].get<double>(), adjusted_rand_index(region_cluster[g], region_planted[g]), 1e-12);
    cells += one["cells"].get<int64_t>();
    holdout += one["holdout_cells"].get<int64_t>();
  }
  EXPECT_EQ(cells, e["cells"].get<int64_t>());
  EXPECT_EQ(holdout, holdout_cells);
  EXPECT_EQ(e["regions"][R - 1]["cells"].get<int64_t>(), 0);

  // External rating: ratings 0 and 5 (outside 1..K) are left out.
  EXPECT_EQ(e["external_cells"].get<int64_t>(), int64_t(rated_external.size()));
  EXPECT_LT(rated_external.size(), N * 9 / 10);
  EXPECT_EQ(flat(e["external_confusion"]), external_confusion);
  EXPECT_NEAR(number(e["spearman_external"]), plain_spearman(external_kept, rated_external), 1e-12);
  EXPECT_GT(number(e["spearman_external"]), 0.5);  // the rating follows the planted levels
  const double base_spearman = number(e["baseline_kmeans"]["spearman_external"]);
  EXPECT_TRUE(base_spearman >= -1.0 && base_spearman <= 1.0) << e["baseline_kmeans"].dump();
}
