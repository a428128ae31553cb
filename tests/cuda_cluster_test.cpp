// Tests of the CUDA clustering and scaling ops (kernels/cuda/dec.cu, kmeans.cu, scale.cu) against
// the fast CPU forms and the fp64 references on odd row counts and widths, with stated tolerances,
// and the same bytes on a second run. Every test skips where no CUDA device can run kernels;
// RESILINET_GPU_TEST_SMALL=1 keeps the shapes small (for compute-sanitizer).
#include <gtest/gtest.h>

#if RESILINET_HAVE_CUDA

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/cuda/cuda_ops.hpp"
#include "kernels/ops.hpp"
#include "kernels/reference/reference.hpp"
#include "trainer/model/scaler.hpp"
#include "cuda_test_support.hpp"

namespace resilinet::kernels {
namespace {

using resilinet::testing::download;
using resilinet::testing::small_shapes;
using resilinet::testing::Stream;
using resilinet::testing::upload;

std::vector<size_t> row_counts() {
  if (small_shapes()) return {1, 63, 65};
  return {1, 63, 65, 1000, 4097};
}
std::vector<int> widths() {
  if (small_shapes()) return {3, 7};
  return {3, 7, 33, 130};
}

std::vector<float> uniform(size_t n, float lo, float hi, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

template <class T>
bool same_bytes(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

// ---- soft_assign ----

// alpha = 1 with at most 64 clusters runs in float (as the CPU), the rest in double: q within
// 2e-6 of the fp64 reference and of the CPU either way.
TEST(CudaSoftAssign, MatchesCpuAndReference) {
  REQUIRE_CUDA_DEVICE();
  Stream stream;
  uint64_t seed = 1;
  for (size_t rows : row_counts())
    for (int dims : widths())
      for (int clusters : {1, 5, 70})
        for (float alpha : {1.0f, 0.7f, 2.5f}) {
          SCOPED_TRACE("rows " + std::to_string(rows) + " dims " + std::to_string(dims) +
                       " clusters " + std::to_string(clusters) + " alpha " + std::to_string(alpha));
          const auto z = uniform(rows * dims, -2.0f, 2.0f, ++seed);
          const auto mu = uniform(size_t(clusters) * dims, -2.0f, 2.0f, ++seed);
          std::vector<float> cpu_q(rows * clusters);
          cpu::soft_assign(z.data(), rows, dims, mu.data(), clusters, alpha, cpu_q.data());
          std::vector<double> ref_q(rows * clusters), zd = to_double(z), mud = to_double(mu);
          reference::soft_assign(zd.data(), rows, dims, mud.data(), clusters, alpha, ref_q.data());

          auto dz = upload(z), dmu = upload(mu);
          cuda::DeviceArray<float> dq(rows * clusters);
          cuda::soft_assign(dz.data(), rows, dims, dmu.data(), clusters, alpha, dq.data(),
                            stream.s);
          stream.sync();
          const auto q = download(dq.data(), rows * clusters);
          for (size_t k = 0; k < q.size(); ++k) {
            ASSERT_NEAR(q[k], ref_q[k], 2e-6) << "cell " << k;
            ASSERT_NEAR(q[k], cpu_q[k], 2e-6) << "cell " << k;
          }
          cuda::soft_assign(dz.data(), rows, dims, dmu.data(), clusters, alpha, dq.data(),
                            stream.s);
          stream.sync();
          EXPECT_TRUE(same_bytes(q, download(dq.data(), rows * clusters)));
        }
}

// ---- kl_target_loss_grad ----

// dz and dmu are added to (they start nonzero here). Per-row math is in double on both sides,
// so the loss agrees to 1e-10 relative; the float outputs to 1e-6 plus 1e-5 relative.
TEST(CudaKlTargetLossGrad, MatchesCpuAndReference) {
  REQUIRE_CUDA_DEVICE();
  Stream stream;
  cuda::Workspace ws;
  uint64_t seed = 100;
  for (size_t rows : row_counts())
    for (int dims : widths())
      for (int clusters : {1, 4, 9})
        for (float alpha : {1.0f, 0.7f})
          for (size_t norm_rows : {rows + 5, size_t(0)}) {
            SCOPED_TRACE("rows " + std::to_string(rows) + " dims " + std::to_string(dims) +
                         " clusters " + std::to_string(clusters) + " alpha " +
                         std::to_string(alpha) + " norm_rows " + std::to_string(norm_rows));
            const auto z = uniform(rows * dims, -2.0f, 2.0f, ++seed);
            const auto mu = uniform(size_t(clusters) * dims, -2.0f, 2.0f, ++seed);
            const auto dz0 = uniform(rows * dims, -1.0f, 1.0f, ++seed);
            const auto dmu0 = uniform(size_t(clusters) * dims, -1.0f, 1.0f, ++seed);
            const float weight = 0.3f;
            std::vector<double> zd = to_double(z), mud = to_double(mu), q(rows * clusters);
            reference::soft_assign(zd.data(), rows, dims, mud.data(), clusters, alpha, q.data());
            const std::vector<double> frequency =
                reference::cluster_frequency(q.data(), rows, clusters);

            std::vector<float> cpu_dz = dz0, cpu_dmu = dmu0;
            const double cpu_loss = cpu::kl_target_loss_grad(
                z.data(), rows, dims, mu.data(), clusters, alpha, frequency.data(), weight,
                norm_rows, cpu_dz.data(), cpu_dmu.data());

            auto d_z = upload(z), d_mu = upload(mu), d_dz = upload(dz0), d_dmu = upload(dmu0);
            auto d_freq = upload(frequency);
            cuda::DeviceArray<double> d_loss(1);
            auto run = [&] {
              cuda::kl_target_loss_grad(d_z.data(), rows, dims, d_mu.data(), clusters, alpha,
                                        d_freq.data(), weight, norm_rows, d_dz.data(), d_dmu.data(),
                                        d_loss.data(), ws, stream.s);
              stream.sync();
            };
            run();
            const auto dz = download(d_dz.data(), rows * dims);
            const auto dmu = download(d_dmu.data(), size_t(clusters) * dims);
            const double loss = download(d_loss.data(), 1)[0];

            EXPECT_NEAR(loss, cpu_loss, 1e-10 * std::max(1.0, std::abs(cpu_loss)));
            for (size_t k = 0; k < dz.size(); ++k)
              ASSERT_NEAR(dz[k], cpu_dz[k], 1e-6 + 1e-5 * std::abs(cpu_dz[k])) << "dz " << k;
            for (size_t k = 0; k < dmu.size(); ++k)
              ASSERT_NEAR(dmu[k], cpu_dmu[k], 1e-6 + 1e-5 * std::abs(cpu_dmu[k])) << "dmu " << k;

            if (norm_rows) {  // the reference takes norm_rows as given
              std::vector<double> ref_dz = to_double(dz0), ref_dmu = to_double(dmu0);
              const double ref_loss = reference::kl_target_loss_grad(
                  zd.data(), rows, dims, mud.data(), clusters, alpha, frequency.data(), weight,
                  norm_rows, ref_dz.data(), ref_dmu.data());
              EXPECT_NEAR(loss, ref_loss, 1e-10 * std::max(1.0, std::abs(ref_loss)));
              for (size_t k = 0; k < dz.size(); ++k)
                ASSERT_NEAR(dz[k], ref_dz[k], 1e-6 + 1e-5 * std::abs(ref_dz[k])) << "dz " << k;
              for (size_t k = 0; k < dmu.size(); ++k)
                ASSERT_NEAR(dmu[k], ref_dmu[k], 1e-6 + 1e-5 * std::abs(ref_dmu[k])) << "dmu " << k;
            }

            // A second run from the same starting buffers gives the same bytes.
            cuda::check(cudaMemcpy(d_dz.data(), dz0.data(), dz0.size() * sizeof(float),
                                   cudaMemcpyHostToDevice),
                        "reset dz");
            cuda::check(cudaMemcpy(d_dmu.data(), dmu0.data(), dmu0.size() * sizeof(float),
                                   cudaMemcpyHostToDevice),
                        "reset dmu");
            run();
            EXPECT_TRUE(same_bytes(dz, download(d_dz.data(), rows * dims)));
            EXPECT_TRUE(same_bytes(dmu, download(d_dmu.data(), size_t(clusters) * dims)));
            const double again = download(d_loss.data(), 1)[0];
            EXPECT_EQ(std::memcmp(&loss, &again, sizeof loss), 0);
          }
}

TEST(CudaKlTargetLossGrad, NoRowsWritesZeroLoss) {
  REQUIRE_CUDA_DEVICE();
  Stream stream;
  cuda::Workspace ws;
  auto mu = upload(std::vector<float>{0.0f, 1.0f});
  auto freq = upload(std::vector<double>{1.0, 1.0});
  auto dmu = upload(std::vector<float>{0.25f, 0.5f});
  auto loss = upload(std::vector<double>{42.0});
  cuda::kl_target_loss_grad(nullptr, 0, 1, mu.data(), 2, 1.0f, freq.data(), 1.0f, 0, nullptr,
                            dmu.data(), loss.data(), ws, stream.s);
  stream.sync();
  EXPECT_EQ(download(loss.data(), 1)[0], 0.0);
  EXPECT_EQ(download(dmu.data(), 2), (std::vector<float>{0.25f, 0.5f}));
}

// ---- kmeans_assign ----

struct KmeansOut {
  std::vector<int32_t> labels;
  std::vector<double> sums;
  std::vector<int64_t> counts;
  double inertia = 0;
};

// Sums and counts start nonzero, to see that they are added to.
KmeansOut gpu_kmeans(const std::vector<float>& x, size_t rows, int dims,
                     const std::vector<float>& centroids, int clusters, cuda::Workspace& ws,
                     const Stream& stream) {
  auto dx = upload(x), dc = upload(centroids);
  cuda::DeviceArray<int32_t> labels(std::max<size_t>(rows, 1));
  auto sums = upload(std::vector<double>(size_t(clusters) * dims, 0.5));
  auto counts = upload(std::vector<int64_t>(size_t(clusters), 3));
  cuda::DeviceArray<double> inertia(1);
  cuda::kmeans_assign(dx.data(), rows, dims, dc.data(), clusters, labels.data(), sums.data(),
                      counts.data(), inertia.data(), ws, stream.s);
  stream.sync();
  return {download(labels.data(), rows), download(sums.data(), size_t(clusters) * dims),
          download(counts.data(), size_t(clusters)), download(inertia.data(), 1)[0]};
}

KmeansOut cpu_kmeans(const std::vector<float>& x, size_t rows, int dims,
                     const std::vector<float>& centroids, int clusters) {
  KmeansOut o;
  o.labels.resize(rows);
  o.sums.assign(size_t(clusters) * dims, 0.5);
  o.counts.assign(size_t(clusters), 3);
  o.inertia = cpu::kmeans_assign(x.data(), rows, dims, centroids.data(), clusters, o.labels.data(),
                                 o.sums.data(), o.counts.data());
  return o;
}

// The GPU repeats the CPU's operations (float distances without fused multiply-adds, the same
// chunks), so labels and counts must be equal, and sums and inertia are expected to be the same
// bytes; they are held to 1e-12 relative here. Grid data makes many exact ties between distinct
// centroids, and a duplicated centroid ties everywhere: both must go to the lowest index.
TEST(CudaKmeansAssign, LabelsCountsAndSumsMatchCpu) {
  REQUIRE_CUDA_DEVICE();
  Stream stream;
  cuda::Workspace ws;
  uint64_t seed = 500;
  for (size_t rows : row_counts())
    for (int dims : widths())
      for (int clusters : {1, 5, 17})
        for (bool grid : {false, true}) {
          SCOPED_TRACE("rows " + std::to_string(rows) + " dims " + std::to_string(dims) +
                       " clusters " + std::to_string(clusters) + " grid " + std::to_string(grid));
          std::vector<float> x = uniform(rows * dims, -3.0f, 3.0f, ++seed);
          std::vector<float> c = uniform(size_t(clusters) * dims, -3.0f, 3.0f, ++seed);
          if (grid) {
            for (auto& v : x) v = std::round(v / 2.0f);
            for (auto& v : c) v = std::round(v / 2.0f);
          }
          if (clusters >= 4)  // centroid 3 repeats centroid 1
            std::copy(c.begin() + dims, c.begin() + 2 * dims, c.begin() + 3 * dims);
          const KmeansOut want = cpu_kmeans(x, rows, dims, c, clusters);
          const KmeansOut got = gpu_kmeans(x, rows, dims, c, clusters, ws, stream);
          ASSERT_EQ(got.labels, want.labels);
          EXPECT_EQ(got.counts, want.counts);
          for (size_t k = 0; k < got.sums.size(); ++k)
            EXPECT_NEAR(got.sums[k], want.sums[k], 1e-12 * (1.0 + std::abs(want.sums[k]))) << k;
          EXPECT_NEAR(got.inertia, want.inertia, 1e-12 * (1.0 + want.inertia));
          if (clusters >= 4) {
            for (int32_t l : got.labels) ASSERT_NE(l, 3) << "a tie went to the higher index";
          }

          // The fp64 reference: inertia to 1e-5 relative (float distances on the fast forms).
          std::vector<double> xd = to_double(x), cd = to_double(c),
                              ref_sums(size_t(clusters) * dims, 0.5);
          std::vector<int32_t> ref_labels(rows);
          std::vector<int64_t> ref_counts(size_t(clusters), 3);
          const double ref_inertia =
              reference::kmeans_assign(xd.data(), rows, dims, cd.data(), clusters,
                                       ref_labels.data(), ref_sums.data(), ref_counts.data());
          EXPECT_NEAR(got.inertia, ref_inertia, 1e-5 * (1.0 + ref_inertia));
          if (grid) {
            EXPECT_EQ(got.labels, ref_labels);  // integer data: exact in float too
          }

          // Same bytes on a second run.
          const KmeansOut again = gpu_kmeans(x, rows, dims, c, clusters, ws, stream);
          EXPECT_EQ(again.labels, got.labels);
          EXPECT_TRUE(same_bytes(again.sums, got.sums));
          EXPECT_EQ(again.counts, got.counts);
          EXPECT_EQ(std::memcmp(&again.inertia, &got.inertia, sizeof got.inertia), 0);
        }
}

// Worked by hand: centroids (0,0), (2,0), (0,0) again. (1,0) is as far from the first two, so it
// goes to 0; (0,0) to 0, never to its duplicate 2; (3,1) to 1.
TEST(CudaKmeansAssign, TiesGoToTheLowestIndex) {
  REQUIRE_CUDA_DEVICE();
  Stream stream;
  cuda::Workspace ws;
  const std::vector<float> c = {0, 0, 2, 0, 0, 0};
  const std::vector<float> x = {1, 0, 0, 0, 3, 1, 2, 0};
  const KmeansOut got = gpu_kmeans(x, 4, 2, c, 3, ws, stream);
  EXPECT_EQ(got.labels, (std::vector<int32_t>{0, 0, 1, 1}));
  EXPECT_EQ(got.counts, (std::vector<int64_t>{5, 5, 3}));
  EXPECT_EQ(got.sums, (std::vector<double>{1.5, 0.5, 5.5, 1.5, 0.5, 0.5}));
  EXPECT_EQ(got.inertia, 1.0 + 0.0 + 2.0 + 0.0);
}

// Without labels, sums or counts the op still gives the inertia (the labels then live in the
// workspace), and no rows give zero.
TEST(CudaKmeansAssign, OptionalOutputs) {
  REQUIRE_CUDA_DEVICE();
  Stream stream;
  cuda::Workspace ws;
  const size_t rows = 1000;
  const int dims = 7, clusters = 5;
  const auto x = uniform(rows * dims, -1.0f, 1.0f, 7);
  const auto c = uniform(size_t(clusters) * dims, -1.0f, 1.0f, 8);
  const KmeansOut full = gpu_kmeans(x, rows, dims, c, clusters, ws, stream);
  auto dx = upload(x), dc = upload(c);
  cuda::DeviceArray<double> inertia(1);
  cuda::kmeans_assign(dx.data(), rows, dims, dc.data(), clusters, nullptr, nullptr, nullptr,
                      inertia.data(), ws, stream.s);
  stream.sync();
  const double only = download(inertia.data(), 1)[0];
  EXPECT_EQ(std::memcmp(&only, &full.inertia, sizeof only), 0);
  cuda::kmeans_assign(dx.data(), 0, dims, dc.data(), clusters, nullptr, nullptr, nullptr,
                      inertia.data(), ws, stream.s);
  stream.sync();
  EXPECT_EQ(download(inertia.data(), 1)[0], 0.0);
}

// ---- scale_rows ----

// The same bytes as Scaler::transform, NaN cells (median imputation) and clipping included.
TEST(CudaScaleRows, SameBytesAsScalerTransform) {
  REQUIRE_CUDA_DEVICE();
  Stream stream;
  uint64_t seed = 900;
  for (size_t rows : row_counts())
    for (int features : widths())
      for (double clip : {0.05, std::numeric_limits<double>::infinity()}) {
        SCOPED_TRACE("rows " + std::to_string(rows) + " features " + std::to_string(features) +
                     " clip " + std::to_string(clip));
        Scaler s;
        s.clip = clip;
        const auto med = uniform(features, -1.0f, 1.0f, ++seed);
        const auto off = uniform(features, -2.0f, 0.0f, ++seed);
        const auto scl = uniform(features, 0.5f, 4.0f, ++seed);
        s.median.assign(med.begin(), med.end());
        s.offset.assign(off.begin(), off.end());
        s.scale.assign(scl.begin(), scl.end());
        auto x = uniform(rows * features, -3.0f, 5.0f, ++seed);
        std::mt19937_64 rng(++seed);
        for (auto& v : x)
          if (rng() % 10 == 0) v = std::numeric_limits<float>::quiet_NaN();
        std::vector<float> want(x.size());
        s.transform(x.data(), rows, want.data());

        // The device arrays as transform builds them: float median, offset and 1 / scale.
        std::vector<float> m(features), o(features), inv(features);
        for (int f = 0; f < features; ++f) {
          m[f] = float(s.median[f]);
          o[f] = float(s.offset[f]);
          inv[f] = float(1.0 / s.scale[f]);
        }
        auto dx = upload(x), dm = upload(m), dofs = upload(o), dinv = upload(inv);
        cuda::DeviceArray<float> out(std::max<size_t>(x.size(), 1));
        cuda::scale_rows(dx.data(), rows, features, dm.data(), dofs.data(), dinv.data(),
                         float(-clip), float(1.0 + clip), out.data(), stream.s);
        stream.sync();
        const auto got = download(out.data(), x.size());
        for (size_t k = 0; k < got.size(); ++k)
          ASSERT_EQ(std::memcmp(&got[k], &want[k], sizeof(float)), 0)
              << "cell " << k << ": " << got[k] << " vs " << want[k];
      }
}

}  // namespace
}  // namespace resilinet::kernels

#else

TEST(CudaCluster, SkippedWithoutCuda) { GTEST_SKIP() << "built without the CUDA backend"; }

#endif
