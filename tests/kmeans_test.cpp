// Tests of k-means on the CPU: the assignment step against the fp64 reference, tie and
// accumulation rules, recovery of planted blobs, inertia against plain reference Lloyd runs, and
// bitwise determinism across runs, thread counts and instruction sets. No timing here
// (bench/kmeans_bench.cpp).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "isa_support.hpp"
#include "kernels/ops.hpp"
#include "kernels/reference/reference.hpp"
#include "trainer/stages/cluster_metrics.hpp"

namespace cpu = resilinet::kernels::cpu;
namespace ref = resilinet::kernels::reference;

namespace {

std::vector<float> normal_values(size_t n, double sigma, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = float(normal(rng));
  return v;
}

std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// Rows drawn around `centers` planted centres (spread apart by center_sigma) with noise sigma;
// truth holds each row's centre.
struct Blobs {
  std::vector<float> x;
  std::vector<float> centers;
  std::vector<int32_t> truth;
};

Blobs make_blobs(size_t rows, int dims, int centers, double center_sigma, double sigma,
                 uint64_t seed) {
  Blobs b;
  b.centers = normal_values(size_t(centers) * dims, center_sigma, seed);
  std::mt19937_64 rng(seed + 1);
  std::normal_distribution<double> noise(0.0, sigma);
  b.x.resize(rows * dims);
  b.truth.resize(rows);
  for (size_t i = 0; i < rows; ++i) {
    b.truth[i] = int32_t(i % centers);
    for (int k = 0; k < dims; ++k)
      b.x[i * dims + k] = float(b.centers[size_t(b.truth[i]) * dims + k] + noise(rng));
  }
  return b;
}

double squared_distance(const double* a, const double* b, int dims) {
  double d2 = 0;
  for (int k = 0; k < dims; ++k) d2 += (a[k] - b[k]) * (a[k] - b[k]);
  return d2;
}

// Plain Lloyd in fp64 on the reference assignment step, from `clusters` distinct random rows,
// until no label changes.
double reference_lloyd(const std::vector<double>& x, size_t rows, int dims, int clusters,
                       uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<size_t> order(rows);
  for (size_t i = 0; i < rows; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<double> centroids(size_t(clusters) * dims);
  for (int j = 0; j < clusters; ++j)
    std::copy_n(x.data() + order[j] * dims, dims, centroids.data() + size_t(j) * dims);
  std::vector<int32_t> labels(rows, -1), previous;
  double inertia = 0;
  for (int iteration = 0; iteration < 500 && labels != previous; ++iteration) {
    previous = labels;
    std::vector<double> sums(centroids.size(), 0.0);
    std::vector<int64_t> counts(clusters, 0);
    inertia = ref::kmeans_assign(x.data(), rows, dims, centroids.data(), clusters, labels.data(),
                                 sums.data(), counts.data());
    for (int j = 0; j < clusters; ++j)
      if (counts[j] > 0)
        for (int k = 0; k < dims; ++k)
          centroids[size_t(j) * dims + k] = sums[size_t(j) * dims + k] / double(counts[j]);
  }
  return inertia;
}

}  // namespace

TEST(KMeansAssign, CpuMatchesReferenceOnOddShapes) {
  uint64_t seed = 3;
  for (size_t rows : {1, 63, 65, 1000, 9000})
    for (int dims : {3, 8, 17})
      for (int clusters : {2, 5}) {
        const std::string shape = "rows " + std::to_string(rows) + " dims " +
                                  std::to_string(dims) + " clusters " + std::to_string(clusters);
        const auto x = normal_values(rows * dims, 1.0, ++seed);
        const auto centroids = normal_values(size_t(clusters) * dims, 1.0, ++seed);
        const auto x64 = to_double(x), centroids64 = to_double(centroids);
        // Prefilled sums and counts: the op adds to them.
        std::vector<double> sums(centroids.size(), 1.0), sums_ref(centroids.size(), 1.0);
        std::vector<int64_t> counts(clusters, 2), counts_ref(clusters, 2);
        std::vector<int32_t> labels(rows, -7), labels_ref(rows, -7);
        const double inertia = cpu::kmeans_assign(x.data(), rows, dims, centroids.data(), clusters,
                                                  labels.data(), sums.data(), counts.data());
        const double inertia_ref =
            ref::kmeans_assign(x64.data(), rows, dims, centroids64.data(), clusters,
                               labels_ref.data(), sums_ref.data(), counts_ref.data());
        EXPECT_NEAR(inertia, inertia_ref, 1e-5 * inertia_ref) << shape;
        size_t disagreements = 0;
        for (size_t i = 0; i < rows; ++i) {
          if (labels[i] == labels_ref[i]) continue;
          // Only a near tie in fp64 may flip in fp32.
          ++disagreements;
          const double mine = squared_distance(x64.data() + i * dims,
                                               centroids64.data() + size_t(labels[i]) * dims, dims);
          const double theirs = squared_distance(
              x64.data() + i * dims, centroids64.data() + size_t(labels_ref[i]) * dims, dims);
          EXPECT_NEAR(mine, theirs, 1e-5 * theirs) << shape << " row " << i;
        }
        if (disagreements == 0) {
          EXPECT_EQ(counts, counts_ref) << shape;
          for (size_t v = 0; v < sums.size(); ++v)
            EXPECT_NEAR(sums[v], sums_ref[v], 1e-9 * (1.0 + std::abs(sums_ref[v]))) << shape;
        }
        EXPECT_LE(disagreements, rows / 1000) << shape;
      }
}

TEST(KMeansAssign, TiesGoToTheLowestIndex) {
  // x = 0 is equidistant from -1 and +1 (either order), and centroid 1 duplicates centroid 0.
  const float x[3] = {0.0f, 5.0f, -4.0f};
  for (const auto& centroids : {std::vector<float>{-1.0f, 1.0f}, std::vector<float>{1.0f, -1.0f}}) {
    int32_t labels[3];
    cpu::kmeans_assign(x, 1, 1, centroids.data(), 2, labels, nullptr, nullptr);
    EXPECT_EQ(labels[0], 0);
  }
  const float duplicated[3] = {2.0f, 2.0f, -3.0f};
  int32_t labels[3];
  double sums[3] = {0, 0, 0};
  int64_t counts[3] = {0, 0, 0};
  const double inertia = cpu::kmeans_assign(x, 3, 1, duplicated, 3, labels, sums, counts);
  EXPECT_EQ(labels[0], 0);
  EXPECT_EQ(labels[1], 0);
  EXPECT_EQ(labels[2], 2);
  EXPECT_EQ(counts[1], 0);
  EXPECT_DOUBLE_EQ(sums[0], 5.0);
  EXPECT_DOUBLE_EQ(inertia, 4.0 + 9.0 + 1.0);
}

TEST(KMeansAssign, IndependentOfThreadCount) {
  const size_t rows = 30000;
  const int dims = 8, clusters = 5;
  const auto x = normal_values(rows * dims, 1.0, 17);
  const auto centroids = normal_values(size_t(clusters) * dims, 1.0, 18);
  const int threads_before = omp_get_max_threads();
  std::vector<std::vector<double>> sums_by_threads;
  std::vector<double> inertia_by_threads;
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    std::vector<double> sums(centroids.size(), 0.0);
    std::vector<int64_t> counts(clusters, 0);
    std::vector<int32_t> labels(rows);
    inertia_by_threads.push_back(cpu::kmeans_assign(x.data(), rows, dims, centroids.data(),
                                                    clusters, labels.data(), sums.data(),
                                                    counts.data()));
    sums_by_threads.push_back(sums);
  }
  omp_set_num_threads(threads_before);
  EXPECT_EQ(inertia_by_threads[0], inertia_by_threads[1]);
  EXPECT_EQ(sums_by_threads[0], sums_by_threads[1]);
}

TEST(KMeans, RecoversPlantedBlobs) {
  const size_t rows = 5000;
  const int dims = 8, clusters = 5;
  const Blobs b = make_blobs(rows, dims, clusters, 6.0, 0.5, 21);
  cpu::KMeansOptions options;
  options.clusters = clusters;
  options.seed = 5;
  const cpu::KMeansResult result = cpu::kmeans(b.x.data(), rows, dims, options);
  EXPECT_DOUBLE_EQ(resilinet::adjusted_rand_index(b.truth, result.labels), 1.0);
  // Every planted centre has a found centroid within 4 sigma / sqrt(rows per blob).
  for (int c = 0; c < clusters; ++c) {
    double nearest = std::numeric_limits<double>::infinity();
    for (int j = 0; j < clusters; ++j) {
      double d2 = 0;
      for (int k = 0; k < dims; ++k) {
        const double diff = result.centroids[size_t(j) * dims + k] - b.centers[size_t(c) * dims + k];
        d2 += diff * diff;
      }
      nearest = std::min(nearest, std::sqrt(d2));
    }
    EXPECT_LT(nearest, 4 * 0.5 * std::sqrt(double(dims)) / std::sqrt(double(rows / clusters)))
        << "centre " << c;
  }
}

TEST(KMeans, InertiaNoWorseThanReferenceLloyd) {
  // Twelve overlapping blobs into five clusters: many local minima.
  const size_t rows = 3000;
  const int dims = 3, clusters = 5;
  const Blobs b = make_blobs(rows, dims, 12, 3.0, 1.0, 31);
  const auto x64 = to_double(b.x);
  double best_reference = std::numeric_limits<double>::infinity();
  for (uint64_t seed = 0; seed < 8; ++seed)
    best_reference = std::min(best_reference, reference_lloyd(x64, rows, dims, clusters, seed));

  cpu::KMeansOptions options;
  options.clusters = clusters;
  options.seed = 1;
  const cpu::KMeansResult result = cpu::kmeans(b.x.data(), rows, dims, options);
  EXPECT_LE(result.inertia, best_reference * (1 + 1e-6));

  // The reported inertia and labels belong to the reported centroids, which are the means of
  // their clusters (a Lloyd fixed point).
  std::vector<double> sums(size_t(clusters) * dims, 0.0);
  std::vector<int64_t> counts(clusters, 0);
  std::vector<int32_t> labels(rows);
  const double inertia = ref::kmeans_assign(x64.data(), rows, dims, to_double(result.centroids).data(),
                                            clusters, labels.data(), sums.data(), counts.data());
  EXPECT_NEAR(result.inertia, inertia, 1e-6 * inertia);
  EXPECT_EQ(result.labels, labels);
  for (int j = 0; j < clusters; ++j) {
    ASSERT_GT(counts[j], 0);
    for (int k = 0; k < dims; ++k)
      EXPECT_NEAR(result.centroids[size_t(j) * dims + k],
                  sums[size_t(j) * dims + k] / double(counts[j]), 1e-3);
  }
  EXPECT_GE(result.iterations, 2);
  EXPECT_LE(result.iterations, options.max_iterations);
}

TEST(KMeans, SameSeedSameBitsForAnyThreadCount) {
  const size_t rows = 20000;  // enough rows to run in parallel, in several reduction chunks
  const int dims = 8, clusters = 5;
  const Blobs b = make_blobs(rows, dims, 7, 2.0, 1.0, 41);
  cpu::KMeansOptions options;
  options.clusters = clusters;
  options.restarts = 2;
  options.max_iterations = 20;
  options.seed = 1234;
  const int threads_before = omp_get_max_threads();
  std::vector<cpu::KMeansResult> results;
  for (int threads : {2, 2, 1}) {
    omp_set_num_threads(threads);
    results.push_back(cpu::kmeans(b.x.data(), rows, dims, options));
  }
  omp_set_num_threads(threads_before);
  for (size_t r = 1; r < results.size(); ++r) {
    ASSERT_EQ(results[r].centroids.size(), results[0].centroids.size());
    EXPECT_EQ(std::memcmp(results[r].centroids.data(), results[0].centroids.data(),
                          results[0].centroids.size() * sizeof(float)),
              0)
        << "run " << r;
    EXPECT_EQ(results[r].labels, results[0].labels);
    EXPECT_EQ(results[r].inertia, results[0].inertia);
    EXPECT_EQ(results[r].iterations, results[0].iterations);
  }
}

TEST(KMeans, EveryInstructionSetGivesTheSameBits) {
  // Each row's distance is one lane of a vector of any width, added in the same order, and no
  // multiply-add is fused: the sets differ in speed only. Odd row and column counts leave partial
  // vectors, blocks and chunks.
  using resilinet::testing::instruction_sets;
  using resilinet::testing::ScopedIsa;
  for (const int dims : {3, 12, 17}) {
    const size_t rows = 9001;
    const int clusters = 5;
    const Blobs b = make_blobs(rows, dims, 7, 2.0, 1.0, 50 + dims);
    const auto centroids = normal_values(size_t(clusters) * dims, 1.0, 60 + dims);
    cpu::KMeansOptions options;
    options.clusters = clusters;
    options.restarts = 2;
    options.seed = 99;
    std::vector<cpu::KMeansResult> fits;
    std::vector<double> assign_inertia;
    std::vector<std::vector<int32_t>> assign_labels;
    std::vector<std::vector<double>> assign_sums;
    for (const std::string& isa : instruction_sets()) {
      ScopedIsa scoped(isa);
      fits.push_back(cpu::kmeans(b.x.data(), rows, dims, options));
      std::vector<int32_t> labels(rows);
      std::vector<double> sums(centroids.size(), 0.0);
      std::vector<int64_t> counts(clusters, 0);
      assign_inertia.push_back(cpu::kmeans_assign(b.x.data(), rows, dims, centroids.data(),
                                                  clusters, labels.data(), sums.data(),
                                                  counts.data()));
      assign_labels.push_back(labels);
      assign_sums.push_back(sums);
    }
    for (size_t i = 1; i < fits.size(); ++i) {
      const std::string what = instruction_sets()[i] + " vs baseline, dims " + std::to_string(dims);
      EXPECT_EQ(fits[i].labels, fits[0].labels) << what;
      EXPECT_EQ(fits[i].inertia, fits[0].inertia) << what;
      EXPECT_EQ(fits[i].iterations, fits[0].iterations) << what;
      ASSERT_EQ(fits[i].centroids.size(), fits[0].centroids.size()) << what;
      EXPECT_EQ(std::memcmp(fits[i].centroids.data(), fits[0].centroids.data(),
                            fits[0].centroids.size() * sizeof(float)),
                0)
          << what;
      EXPECT_EQ(assign_labels[i], assign_labels[0]) << what;
      EXPECT_EQ(assign_inertia[i], assign_inertia[0]) << what;
      EXPECT_EQ(assign_sums[i], assign_sums[0]) << what;
    }
  }
}

TEST(KMeans, FewerDistinctPointsThanClusters) {
  // Three distinct points, each repeated: four clusters cannot all be filled. The result must
  // still be finite, reproduce every point, and have zero inertia.
  const int dims = 2, clusters = 4;
  const float points[3][2] = {{0.0f, 0.0f}, {3.0f, 1.0f}, {-2.0f, 5.0f}};
  std::vector<float> x;
  for (int repeat = 0; repeat < 10; ++repeat)
    for (const auto& p : points) x.insert(x.end(), p, p + dims);
  cpu::KMeansOptions options;
  options.clusters = clusters;
  const cpu::KMeansResult result = cpu::kmeans(x.data(), x.size() / dims, dims, options);
  EXPECT_EQ(result.inertia, 0.0);
  for (float v : result.centroids) EXPECT_TRUE(std::isfinite(v));
  for (const auto& p : points) {
    bool found = false;
    for (int j = 0; j < clusters; ++j)
      found = found || (result.centroids[size_t(j) * dims] == p[0] &&
                        result.centroids[size_t(j) * dims + 1] == p[1]);
    EXPECT_TRUE(found) << p[0] << "," << p[1];
  }
}

TEST(KMeans, RejectsImpossibleArguments) {
  const std::vector<float> x(6, 0.0f);
  cpu::KMeansOptions options;
  options.clusters = 4;
  EXPECT_THROW(cpu::kmeans(x.data(), 3, 2, options), std::invalid_argument);
  options.clusters = 2;
  options.restarts = 0;
  EXPECT_THROW(cpu::kmeans(x.data(), 3, 2, options), std::invalid_argument);
}
