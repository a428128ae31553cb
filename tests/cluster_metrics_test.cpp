// Tests of the cluster and rating quality metrics against hand-computed cases, plain fp64
// restatements of each formula, and values computed once with scikit-learn 1.2.1 (Debian's
// python3-sklearn, sklearn.metrics, in fp64) that are hard-coded below.
#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>

#include "trainer/stages/cluster_metrics.hpp"

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
