// Throughput of the fused CPU MLP kernels on 2 threads: one autoencoder training step (forward,
// backward and Adam on a batch of 1024), classifier-head inference, and the machine's measured fp32
// FMA peak so the training step can be read as a share of it. Not a test: nothing is asserted here.
#include <omp.h>

#include <cstdint>
#include <cstdlib>
#include <random>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench/fma_chains.hpp"
#include "kernels/ops.hpp"

namespace resilinet::kernels {
namespace {

// 2 threads unless OMP_NUM_THREADS says otherwise (bench/run_mlp_peer.sh sets it for both sides).
int bench_threads() { return std::getenv("OMP_NUM_THREADS") ? omp_get_max_threads() : 2; }

MlpLayout autoencoder_layout() {
  std::vector<int> groups(12);
  for (int i = 0; i < 12; ++i) groups[i] = i / 4;  // three feature systems of four features
  return MlpLayout::build(12, {{48, Activation::relu, groups},
                               {32, Activation::relu, {}},
                               {8, Activation::linear, {}},
                               {32, Activation::relu, {}},
                               {48, Activation::relu, {}},
                               {12, Activation::linear, {}}});
}

MlpLayout classifier_layout() {
  return MlpLayout::build(
      12, {{64, Activation::relu, {}}, {32, Activation::relu, {}}, {5, Activation::linear, {}}});
}

std::vector<float> uniform(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

// Floating-point operations the kernel performs per row (masked weights count: they are computed).
double flops_per_row(const MlpLayout& layout, bool backward) {
  double flops = 0;
  for (size_t l = 0; l < layout.layers.size(); ++l) {
    const double macs = double(layout.layers[l].in) * layout.layers[l].out;
    flops += 2 * macs;                                   // forward
    if (backward) flops += 2 * macs * (l == 0 ? 1 : 2);  // weight gradient (+ input gradient)
  }
  return flops;
}

void BM_AutoencoderTrainStep(benchmark::State& state) {
  omp_set_num_threads(bench_threads());
  const size_t batch = size_t(state.range(0));
  const MlpLayout layout = autoencoder_layout();
  std::vector<float> params(layout.param_count), grads(layout.param_count);
  std::vector<float> m(layout.param_count, 0.0f), v(layout.param_count, 0.0f);
  init_params(layout, 1, params.data());
  const auto x = uniform(batch * 12, 2);
  const LossSpec loss{LossKind::mse, 1.0f, x.data(), nullptr, 0};
  const cpu::AdamConfig adam;
  int64_t step = 0;
  for (auto _ : state) {
    double value = cpu::mlp_forward_backward(layout, params.data(), x.data(), batch, loss, nullptr,
                                             grads.data());
    cpu::adam_step(params.data(), grads.data(), m.data(), v.data(), layout.param_count, adam,
                   ++step);
    benchmark::DoNotOptimize(value);
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(batch));
  state.counters["flops"] =
      benchmark::Counter(flops_per_row(layout, true) * double(batch) * double(state.iterations()),
                         benchmark::Counter::kIsRate);
}
BENCHMARK(BM_AutoencoderTrainStep)->Arg(1024)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_AutoencoderForwardBackward(benchmark::State& state) {
  omp_set_num_threads(bench_threads());
  const size_t batch = size_t(state.range(0));
  const MlpLayout layout = autoencoder_layout();
  std::vector<float> params(layout.param_count), grads(layout.param_count);
  init_params(layout, 1, params.data());
  const auto x = uniform(batch * 12, 2);
  const LossSpec loss{LossKind::mse, 1.0f, x.data(), nullptr, 0};
  for (auto _ : state) {
    double value = cpu::mlp_forward_backward(layout, params.data(), x.data(), batch, loss, nullptr,
                                             grads.data());
    benchmark::DoNotOptimize(value);
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(batch));
  state.counters["flops"] =
      benchmark::Counter(flops_per_row(layout, true) * double(batch) * double(state.iterations()),
                         benchmark::Counter::kIsRate);
}
BENCHMARK(BM_AutoencoderForwardBackward)
    ->Arg(1024)
    ->Arg(65536)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

void BM_ClassifierInference(benchmark::State& state) {
  omp_set_num_threads(bench_threads());
  const size_t cells = size_t(state.range(0));
  const MlpLayout layout = classifier_layout();
  std::vector<float> params(layout.param_count), logits(cells * 5);
  init_params(layout, 3, params.data());
  const auto x = uniform(cells * 12, 4);
  for (auto _ : state) {
    cpu::mlp_forward(layout, params.data(), x.data(), cells, logits.data());
    benchmark::DoNotOptimize(logits.data());
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(cells));
  state.counters["flops"] =
      benchmark::Counter(flops_per_row(layout, false) * double(cells) * double(state.iterations()),
                         benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ClassifierInference)
    ->Arg(1024)
    ->Arg(65536)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

#if defined(__x86_64__)
void BM_FmaPeak(benchmark::State& state) {
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
    state.SkipWithError("no AVX2/FMA");
    return;
  }
  constexpr int64_t kIterations = 1 << 20;
  const int threads = bench_threads();
  for (auto _ : state) {
#pragma omp parallel num_threads(threads)
    benchmark::DoNotOptimize(bench::fma_chains_8(kIterations));
  }
  state.counters["flops"] =
      benchmark::Counter(double(threads) * kIterations * 12 * 8 * 2 * double(state.iterations()),
                         benchmark::Counter::kIsRate);
}
BENCHMARK(BM_FmaPeak)->UseRealTime()->Unit(benchmark::kMicrosecond);
#endif

}  // namespace
}  // namespace resilinet::kernels

BENCHMARK_MAIN();
