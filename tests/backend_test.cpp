// The backend seam: the factory by type key, device requests that cannot be met (exit 2 naming the
// field, never a silent fallback), and the CPU backend giving the same bytes as the CPU kernels it
// wraps, staging without copies and its optimizer buffers round-tripping the checkpoint form.
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/backend.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "test_support.hpp"
#include "trainer/model/optimizer.hpp"
#if RESILINET_HAVE_CUDA
#include "kernels/cuda/cuda_ops.hpp"
#endif

namespace resilinet {
namespace {

using kernels::Activation;

bool gpu_present() {
#if RESILINET_HAVE_CUDA
  return kernels::cuda::device_available();
#else
  return false;
#endif
}

std::vector<float> random_values(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

TEST(BackendFactory, MakesTheCpuBackendByKey) {
  const auto cpu = kernels::make_backend("cpu");
  EXPECT_EQ(cpu->name(), "cpu");
  EXPECT_TRUE(cpu->host_memory());
  EXPECT_THROW(kernels::make_backend("tpu"), std::invalid_argument);
}

TEST(BackendFactory, AutoIsTheGpuWhenOneRunsElseTheCpu) {
  EXPECT_EQ(kernels::make_backend("auto")->name(), gpu_present() ? "cuda" : "cpu");
}

TEST(BackendFactory, CudaWithoutAGpuIsRefused) {
  if (gpu_present()) GTEST_SKIP() << "a GPU is present";
  EXPECT_THROW(kernels::make_backend("cuda"), kernels::BackendUnavailable);
}

TEST(BackendCli, TrainOnCudaWithoutAGpuExitsTwoNamingTheField) {
  if (gpu_present()) GTEST_SKIP() << "a GPU is present";
  const auto dir = testing::scratch_dir();
  ASSERT_EQ(testing::run_resilinet("synth --quiet --cells 200 --out " + dir.string() + "/data").exit_code, 0);
  const auto r = testing::run_resilinet("train -q --device cuda --data '" + dir.string() + "/data/*.h5' --run-dir " +
                                        dir.string() + "/run");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("run.device"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "run" / "checkpoint.h5"));
  const auto rate = testing::run_resilinet("rate -q --device cuda --checkpoint none.h5 --data none");
  EXPECT_EQ(rate.exit_code, 2) << rate.output;
}

// The seam adds no arithmetic: every op through CpuBackend gives the bytes of the kernel itself.
TEST(CpuBackend, OpsGiveTheBytesOfTheKernels) {
  kernels::cpu::CpuBackend backend;
  const auto layout = kernels::MlpLayout::build(
      7, {{12, Activation::relu, {0, 0, 1, 1, 2, 2, 2}}, {5, Activation::relu, {}}, {3, Activation::linear, {}}});
  std::vector<float> params(layout.param_count);
  kernels::init_params(layout, 5, params.data());
  const size_t rows = 131;
  const auto x = random_values(rows * 7, 6);
  const auto target = random_values(rows * 3, 7);
  const auto net = backend.network(layout);
  kernels::LossSpec loss{kernels::LossKind::mse, 1.0f, target.data(), nullptr, 0, nullptr};
  std::vector<float> g1(layout.param_count), g2(layout.param_count);
  double l1 = 0;
  backend.mlp_forward_backward(*net, params.data(), x.data(), rows, loss, nullptr, g1.data(), &l1);
  const double l2 = kernels::cpu::mlp_forward_backward(layout, params.data(), x.data(), rows, loss, nullptr, g2.data());
  EXPECT_EQ(l1, l2);
  EXPECT_EQ(0, std::memcmp(g1.data(), g2.data(), g1.size() * sizeof(float)));

  std::vector<float> y1(rows * 3), y2(rows * 3);
  backend.mlp_forward(*net, params.data(), x.data(), rows, y1.data());
  kernels::cpu::mlp_forward(layout, params.data(), x.data(), rows, y2.data());
  EXPECT_EQ(0, std::memcmp(y1.data(), y2.data(), y1.size() * sizeof(float)));

  std::vector<int32_t> classes(rows, 1);
  std::vector<float> r1(rows * 7), r2(rows * 7);
  const auto composite = kernels::default_lrp_composite(layout, {-1.0f}, {1.0f});
  backend.lrp(*net, params.data(), composite, x.data(), rows, classes.data(), r1.data());
  kernels::cpu::lrp(layout, params.data(), composite, x.data(), rows, classes.data(), r2.data());
  EXPECT_EQ(0, std::memcmp(r1.data(), r2.data(), r1.size() * sizeof(float)));
}

TEST(CpuBackend, StagingAHostBufferCopiesNothing) {
  kernels::cpu::CpuBackend backend;
  std::vector<float> host(10, 1.0f);
  kernels::Staged<float> in(backend);
  EXPECT_EQ(in.put(host.data(), host.size()), host.data());
  kernels::Landing<float> out(backend);
  EXPECT_EQ(out.at(host.data(), host.size()), host.data());
}

// Parameters and moments live in the backend; the checkpoint form comes back exactly, and an
// optimizer restored from it continues with the same bytes as one that never stopped.
TEST(OptimizedBuffer, MomentsRoundTripAndContinueExactly) {
  kernels::cpu::CpuBackend backend;
  OptimizerConfig config;
  config.lr = 0.01;
  const auto start = random_values(100, 8);
  OptimizedBuffer a(backend, start, config);
  const auto grads = random_values(100, 9);
  auto step = [&](OptimizedBuffer& o) {
    std::memcpy(o.grads(), grads.data(), grads.size() * sizeof(float));
    o.step();
  };
  step(a);
  step(a);
  const AdamState saved = a.moments();
  EXPECT_EQ(saved.step, 2);
  std::vector<float> params;
  a.download_params(params);

  OptimizedBuffer b(backend, params, config);
  b.restore(saved);
  step(a);
  step(b);
  std::vector<float> pa, pb;
  a.download_params(pa);
  b.download_params(pb);
  EXPECT_EQ(0, std::memcmp(pa.data(), pb.data(), pa.size() * sizeof(float)));
  EXPECT_NE(pa, params);  // it did move
}

}  // namespace
}  // namespace resilinet
