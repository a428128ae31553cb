// Tests of the deep-embedded-clustering ops: CPU soft assignment and KL target loss against the
// fp64 reference, the reference gradients against central finite differences (target held fixed),
// a hand-worked case, split batches and invariants. Not the IDEC training loop (idec tests).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "isa_support.hpp"

#include "kernels/ops.hpp"
#include "kernels/reference/reference.hpp"

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

// |got - want| <= rel * max(|want|, 1e-3 * max|want|): relative, with a floor for entries that
// cancel to near zero.
void expect_close(const std::vector<float>& got, const std::vector<double>& want, double rel,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double largest = 0;
  for (double w : want) largest = std::max(largest, std::abs(w));
  for (size_t i = 0; i < want.size(); ++i) {
    const double tolerance = rel * std::max(std::abs(want[i]), 1e-3 * largest);
    ASSERT_NEAR(got[i], want[i], tolerance) << what << " entry " << i;
  }
}

// A frequency vector as the trainer would pass it: f_j = sum of q_ij over a larger data set (here
// 500 rows of another draw), so that it differs from the batch's own sums.
std::vector<double> global_frequency(int dims, const std::vector<double>& mu, int clusters,
                                     double alpha, uint64_t seed) {
  const size_t rows = 500;
  const std::vector<double> z = to_double(normal_values(rows * dims, 2.0, seed));
  std::vector<double> q(rows * clusters);
  ref::soft_assign(z.data(), rows, dims, mu.data(), clusters, alpha, q.data());
  return ref::cluster_frequency(q.data(), rows, clusters);
}

// The loss with the target p held fixed, as finite differences need it.
double loss_with_fixed_target(const std::vector<double>& z, size_t rows, int dims,
                              const std::vector<double>& mu, int clusters, double alpha,
                              const std::vector<double>& p, double scale) {
  std::vector<double> q(rows * clusters);
  ref::soft_assign(z.data(), rows, dims, mu.data(), clusters, alpha, q.data());
  double loss = 0;
  for (size_t v = 0; v < q.size(); ++v)
    if (p[v] > 0) loss += p[v] * std::log(p[v] / q[v]);
  return scale * loss;
}

std::vector<double> target_of(const std::vector<double>& q, size_t rows, int clusters,
                              const std::vector<double>& f) {
  std::vector<double> p(q.size());
  for (size_t i = 0; i < rows; ++i) {
    double total = 0;
    for (int j = 0; j < clusters; ++j) total += (p[i * clusters + j] = q[i * clusters + j] * q[i * clusters + j] / f[j]);
    for (int j = 0; j < clusters; ++j) p[i * clusters + j] /= total;
  }
  return p;
}

struct Shape {
  size_t rows;
  int dims;
  int clusters;
  float alpha;
};

std::vector<Shape> odd_shapes() {
  std::vector<Shape> shapes;
  for (size_t rows : {1, 63, 65, 1000, 3000})  // 3000: the threaded path
    for (int dims : {3, 8})
      for (int clusters : {2, 5})
        for (float alpha : {1.0f, 0.5f, 2.0f}) shapes.push_back({rows, dims, clusters, alpha});
  return shapes;
}

std::string describe(const Shape& s) {
  return "rows " + std::to_string(s.rows) + " dims " + std::to_string(s.dims) + " clusters " +
         std::to_string(s.clusters) + " alpha " + std::to_string(s.alpha);
}

}  // namespace

TEST(SoftAssign, CpuMatchesReferenceOnOddShapes) {
  uint64_t seed = 11;
  for (const Shape& s : odd_shapes()) {
    const auto z = normal_values(s.rows * s.dims, 2.0, ++seed);
    const auto mu = normal_values(size_t(s.clusters) * s.dims, 2.0, ++seed);
    std::vector<float> q(s.rows * s.clusters);
    cpu::soft_assign(z.data(), s.rows, s.dims, mu.data(), s.clusters, s.alpha, q.data());
    std::vector<double> q_ref(q.size());
    ref::soft_assign(to_double(z).data(), s.rows, s.dims, to_double(mu).data(), s.clusters,
                     s.alpha, q_ref.data());
    expect_close(q, q_ref, 1e-5, "q " + describe(s));
    for (size_t i = 0; i < s.rows; ++i) {
      double row = 0;
      for (int j = 0; j < s.clusters; ++j) row += q[i * s.clusters + j];
      ASSERT_NEAR(row, 1.0, 1e-6) << describe(s);
    }
  }
}

// alpha = 1 runs in float: rows far from every centroid (|z - mu| ~ 1e4) still match fp64.
TEST(SoftAssign, FloatPathMatchesReferenceForFarRows) {
  const size_t rows = 200;
  const int dims = 8, clusters = 5;
  auto z = normal_values(rows * dims, 5000.0, 77);
  const auto mu = normal_values(size_t(clusters) * dims, 5000.0, 78);
  std::vector<float> q(rows * clusters);
  cpu::soft_assign(z.data(), rows, dims, mu.data(), clusters, 1.0f, q.data());
  std::vector<double> q_ref(q.size());
  ref::soft_assign(to_double(z).data(), rows, dims, to_double(mu).data(), clusters, 1.0, q_ref.data());
  expect_close(q, q_ref, 1e-5, "far rows");
}

// alpha = 1 computes several rows per vector (4, 8 or 16 by instruction set) with the operations of
// the one-row form in the same order and no fused multiply-add: every set, every row count and a
// row rated alone give the same bits, and they match fp64.
TEST(SoftAssign, Alpha1SameBitsOnEveryInstructionSetAndRowCount) {
  const std::vector<std::string> isas = resilinet::testing::instruction_sets();
  uint64_t seed = 90;
  for (int dims : {1, 3, 4, 8, 13, 64}) {
    for (int clusters : {1, 5, 9}) {
      const size_t rows = 37;
      const auto z = normal_values(rows * dims, 2.0, ++seed);
      const auto mu = normal_values(size_t(clusters) * dims, 2.0, ++seed);
      const std::string what = "dims " + std::to_string(dims) + " clusters " + std::to_string(clusters);
      std::vector<float> first;
      for (const std::string& isa : isas) {
        resilinet::testing::ScopedIsa scoped(isa);
        std::vector<float> q(rows * clusters), alone(rows * clusters);
        cpu::soft_assign(z.data(), rows, dims, mu.data(), clusters, 1.0f, q.data());
        for (size_t i = 0; i < rows; ++i)
          cpu::soft_assign(z.data() + i * dims, 1, dims, mu.data(), clusters, 1.0f, alone.data() + i * clusters);
        EXPECT_EQ(q, alone) << what << " " << isa;
        if (first.empty()) first = q;
        EXPECT_EQ(q, first) << what << " " << isa << " against " << isas[0];
      }
      std::vector<double> q_ref(first.size());
      ref::soft_assign(to_double(z).data(), rows, dims, to_double(mu).data(), clusters, 1.0, q_ref.data());
      expect_close(first, q_ref, 1e-5, what);
    }
  }
}

TEST(SoftAssign, FarRowsDoNotUnderflow) {
  // alpha = 100, |z - mu|^2 = 4e8 and 5e8: u^-50.5 is below the smallest double for both
  // centroids, yet q is well defined: q_1 / q_0 = (u_1 / u_0)^-50.5.
  const float z[2] = {2e4f, 0.0f};
  const float mu[4] = {0.0f, 0.0f, 0.0f, 1e4f};
  const double alpha = 100.0;
  const double ratio = std::pow((1.0 + 5e8 / alpha) / (1.0 + 4e8 / alpha), -(alpha + 1.0) / 2.0);
  float q[2];
  cpu::soft_assign(z, 1, 2, mu, 2, float(alpha), q);
  EXPECT_NEAR(q[0], 1.0 / (1.0 + ratio), 1e-7);
  EXPECT_NEAR(q[1], ratio / (1.0 + ratio), 1e-7 * ratio);
}

TEST(KlTargetLoss, CpuMatchesReferenceOnOddShapes) {
  uint64_t seed = 101;
  for (const Shape& s : odd_shapes()) {
    const auto z = normal_values(s.rows * s.dims, 2.0, ++seed);
    const auto mu = normal_values(size_t(s.clusters) * s.dims, 2.0, ++seed);
    const auto f = global_frequency(s.dims, to_double(mu), s.clusters, s.alpha, ++seed);
    // Gradients are added: start from nonzero buffers.
    auto dz = normal_values(z.size(), 0.01, ++seed);
    auto dmu = normal_values(mu.size(), 0.01, ++seed);
    auto dz_ref = to_double(dz), dmu_ref = to_double(dmu);
    const float weight = 0.7f;
    const size_t norm_rows = 3 * s.rows;
    const double loss = cpu::kl_target_loss_grad(z.data(), s.rows, s.dims, mu.data(), s.clusters,
                                                 s.alpha, f.data(), weight, norm_rows, dz.data(),
                                                 dmu.data());
    const double loss_ref = ref::kl_target_loss_grad(
        to_double(z).data(), s.rows, s.dims, to_double(mu).data(), s.clusters, s.alpha, f.data(),
        weight, norm_rows, dz_ref.data(), dmu_ref.data());
    EXPECT_GE(loss_ref, 0.0) << describe(s);  // a KL divergence
    EXPECT_NEAR(loss, loss_ref, 1e-5 * loss_ref + 1e-12) << describe(s);
    expect_close(dz, dz_ref, 1e-5, "dz " + describe(s));
    expect_close(dmu, dmu_ref, 1e-5, "dmu " + describe(s));
  }
}

TEST(KlTargetLoss, ReferenceGradientsMatchFiniteDifferences) {
  const size_t rows = 7;
  const int dims = 3, clusters = 4;
  for (double alpha : {1.0, 0.5, 2.0}) {
    const auto z = to_double(normal_values(rows * dims, 1.5, 7));
    const auto mu = to_double(normal_values(size_t(clusters) * dims, 1.5, 8));
    const auto f = global_frequency(dims, mu, clusters, alpha, 9);
    const double weight = 1.3;
    const size_t norm_rows = 10;
    const double scale = weight / double(norm_rows);
    std::vector<double> dz(z.size(), 0.0), dmu(mu.size(), 0.0);
    const double loss = ref::kl_target_loss_grad(z.data(), rows, dims, mu.data(), clusters, alpha,
                                                 f.data(), weight, norm_rows, dz.data(), dmu.data());

    // p from q at the base point, then frozen while differencing.
    std::vector<double> q(rows * clusters);
    ref::soft_assign(z.data(), rows, dims, mu.data(), clusters, alpha, q.data());
    const auto p = target_of(q, rows, clusters, f);
    EXPECT_NEAR(loss, loss_with_fixed_target(z, rows, dims, mu, clusters, alpha, p, scale), 1e-14);

    const double h = 1e-6;
    for (size_t v = 0; v < z.size(); ++v) {
      auto plus = z, minus = z;
      plus[v] += h;
      minus[v] -= h;
      const double numeric = (loss_with_fixed_target(plus, rows, dims, mu, clusters, alpha, p, scale) -
                              loss_with_fixed_target(minus, rows, dims, mu, clusters, alpha, p, scale)) /
                             (2 * h);
      EXPECT_NEAR(dz[v], numeric, 1e-7 + 1e-6 * std::abs(numeric)) << "alpha " << alpha << " dz " << v;
    }
    for (size_t v = 0; v < mu.size(); ++v) {
      auto plus = mu, minus = mu;
      plus[v] += h;
      minus[v] -= h;
      const double numeric = (loss_with_fixed_target(z, rows, dims, plus, clusters, alpha, p, scale) -
                              loss_with_fixed_target(z, rows, dims, minus, clusters, alpha, p, scale)) /
                             (2 * h);
      EXPECT_NEAR(dmu[v], numeric, 1e-7 + 1e-6 * std::abs(numeric)) << "alpha " << alpha << " dmu " << v;
    }
  }
}

TEST(KlTargetLoss, HandWorkedCase) {
  // One row z = 0, centroids 1 and -1, alpha = 1: q = (1/2, 1/2). With f = (1, 3) the target is
  // p = (3/4, 1/4), L = 3/4 log(3/2) + 1/4 log(1/2), and with (1 + d^2)^-1 = 1/2:
  // dL/dz = 2 [(1/4)(1/2)(0 - 1) + (-1/4)(1/2)(0 + 1)] = -1/2, dL/dmu = (1/4, 1/4).
  const double want_loss = 0.75 * std::log(1.5) + 0.25 * std::log(0.5);
  const double f[2] = {1.0, 3.0};
  const float z = 0.0f, mu[2] = {1.0f, -1.0f};
  float dz = 0.0f, dmu[2] = {0.0f, 0.0f};
  EXPECT_NEAR(cpu::kl_target_loss_grad(&z, 1, 1, mu, 2, 1.0f, f, 1.0f, 1, &dz, dmu), want_loss, 1e-12);
  EXPECT_FLOAT_EQ(dz, -0.5f);
  EXPECT_FLOAT_EQ(dmu[0], 0.25f);
  EXPECT_FLOAT_EQ(dmu[1], 0.25f);

  const double z64 = 0.0, mu64[2] = {1.0, -1.0};
  double dz64 = 0.0, dmu64[2] = {0.0, 0.0};
  EXPECT_NEAR(ref::kl_target_loss_grad(&z64, 1, 1, mu64, 2, 1.0, f, 1.0, 1, &dz64, dmu64), want_loss, 1e-15);
  EXPECT_NEAR(dz64, -0.5, 1e-15);
  EXPECT_NEAR(dmu64[0], 0.25, 1e-15);
  EXPECT_NEAR(dmu64[1], 0.25, 1e-15);

  // Equal frequencies: p = q, so loss and gradients vanish.
  const double equal[2] = {2.0, 2.0};
  float dz0 = 0.0f, dmu0[2] = {0.0f, 0.0f};
  EXPECT_NEAR(cpu::kl_target_loss_grad(&z, 1, 1, mu, 2, 1.0f, equal, 1.0f, 1, &dz0, dmu0), 0.0, 1e-15);
  EXPECT_EQ(dz0, 0.0f);
  EXPECT_EQ(dmu0[0], 0.0f);
}

TEST(KlTargetLoss, SplitRowsSumToOneCall) {
  const size_t rows = 1000, split = 411;  // split not on a tile boundary
  const int dims = 8, clusters = 5;
  const float alpha = 1.0f;
  const auto z = normal_values(rows * dims, 2.0, 31);
  const auto mu = normal_values(size_t(clusters) * dims, 2.0, 32);
  const auto f = global_frequency(dims, to_double(mu), clusters, alpha, 33);

  std::vector<float> dz_one(z.size(), 0.0f), dmu_one(mu.size(), 0.0f);
  const double loss_one = cpu::kl_target_loss_grad(z.data(), rows, dims, mu.data(), clusters, alpha,
                                                   f.data(), 1.0f, rows, dz_one.data(), dmu_one.data());
  std::vector<float> dz_two(z.size(), 0.0f), dmu_two(mu.size(), 0.0f);
  double loss_two = cpu::kl_target_loss_grad(z.data(), split, dims, mu.data(), clusters, alpha,
                                             f.data(), 1.0f, rows, dz_two.data(), dmu_two.data());
  loss_two += cpu::kl_target_loss_grad(z.data() + split * dims, rows - split, dims, mu.data(),
                                       clusters, alpha, f.data(), 1.0f, rows,
                                       dz_two.data() + split * dims, dmu_two.data());
  EXPECT_NEAR(loss_two, loss_one, 1e-12 * loss_one);
  EXPECT_EQ(dz_two, dz_one);  // per-row math does not depend on the split
  expect_close(dmu_two, to_double(dmu_one), 1e-6, "dmu split");

  // The same in the reference, against the CPU one-call result.
  const auto z64 = to_double(z), mu64 = to_double(mu);
  std::vector<double> dz_ref(z.size(), 0.0), dmu_ref(mu.size(), 0.0);
  double loss_ref = ref::kl_target_loss_grad(z64.data(), split, dims, mu64.data(), clusters, alpha,
                                             f.data(), 1.0, rows, dz_ref.data(), dmu_ref.data());
  loss_ref += ref::kl_target_loss_grad(z64.data() + split * dims, rows - split, dims, mu64.data(),
                                       clusters, alpha, f.data(), 1.0, rows,
                                       dz_ref.data() + split * dims, dmu_ref.data());
  EXPECT_NEAR(loss_one, loss_ref, 1e-6 * loss_ref);
  expect_close(dz_one, dz_ref, 1e-5, "dz split reference");
  expect_close(dmu_one, dmu_ref, 1e-5, "dmu split reference");
}

TEST(KlTargetLoss, GradientsCancelUnderCommonTranslation) {
  // Moving every z_i and mu_j by the same vector leaves q and p unchanged, so
  // sum_i dL/dz_i + sum_j dL/dmu_j = 0.
  const size_t rows = 300;
  const int dims = 8, clusters = 5;
  for (float alpha : {1.0f, 0.5f, 2.0f}) {
    const auto z = normal_values(rows * dims, 2.0, 41);
    const auto mu = normal_values(size_t(clusters) * dims, 2.0, 42);
    const auto f = global_frequency(dims, to_double(mu), clusters, alpha, 43);
    std::vector<float> dz(z.size(), 0.0f), dmu(mu.size(), 0.0f);
    cpu::kl_target_loss_grad(z.data(), rows, dims, mu.data(), clusters, alpha, f.data(), 1.0f,
                             rows, dz.data(), dmu.data());
    for (int k = 0; k < dims; ++k) {
      double total = 0, magnitude = 0;
      for (size_t i = 0; i < rows; ++i) {
        total += dz[i * dims + k];
        magnitude += std::abs(dz[i * dims + k]);
      }
      for (int j = 0; j < clusters; ++j) total += dmu[size_t(j) * dims + k];
      EXPECT_NEAR(total, 0.0, 1e-5 * magnitude) << "alpha " << alpha << " dim " << k;
      EXPECT_GT(magnitude, 0.0);
    }
  }
}

TEST(KlTargetLoss, IndependentOfThreadCount) {
  const size_t rows = 2000;
  const int dims = 8, clusters = 5;
  const auto z = normal_values(rows * dims, 2.0, 51);
  const auto mu = normal_values(size_t(clusters) * dims, 2.0, 52);
  const auto f = global_frequency(dims, to_double(mu), clusters, 1.0, 53);
  const int threads_before = omp_get_max_threads();
  std::vector<std::vector<float>> dmu_by_threads;
  std::vector<double> loss_by_threads;
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    std::vector<float> dz(z.size(), 0.0f), dmu(mu.size(), 0.0f);
    loss_by_threads.push_back(cpu::kl_target_loss_grad(z.data(), rows, dims, mu.data(), clusters,
                                                       1.0f, f.data(), 1.0f, rows, dz.data(),
                                                       dmu.data()));
    dmu_by_threads.push_back(dmu);
  }
  omp_set_num_threads(threads_before);
  EXPECT_EQ(loss_by_threads[0], loss_by_threads[1]);
  EXPECT_EQ(dmu_by_threads[0], dmu_by_threads[1]);
}

TEST(ClusterFrequency, SumsToRows) {
  const size_t rows = 65;
  const int dims = 3, clusters = 5;
  const auto z = to_double(normal_values(rows * dims, 2.0, 61));
  const auto mu = to_double(normal_values(size_t(clusters) * dims, 2.0, 62));
  std::vector<double> q(rows * clusters);
  ref::soft_assign(z.data(), rows, dims, mu.data(), clusters, 1.0, q.data());
  const auto f = ref::cluster_frequency(q.data(), rows, clusters);
  double total = 0;
  for (int j = 0; j < clusters; ++j) {
    double column = 0;
    for (size_t i = 0; i < rows; ++i) column += q[i * clusters + j];
    EXPECT_DOUBLE_EQ(f[j], column);
    total += f[j];
  }
  EXPECT_NEAR(total, double(rows), 1e-12);
}
