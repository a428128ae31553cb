// One Adam step on a CUDA device over a flat fp32 buffer: elementwise, the update of cpu/adam.cpp
// (bias corrections folded into the step size on the host, L2 weight decay added to the gradient).
// Not an optimizer object: steps and state live in the trainer.
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "kernels/adam_scalars.hpp"
#include "kernels/cuda/cuda_ops.hpp"

namespace resilinet::kernels::cuda {
namespace {

constexpr int kThreads = 256;
constexpr size_t kMaxBlocks = 4096;  // a grid-stride loop covers the rest


__global__ void adam_kernel(float* params, const float* grads, float* m, float* v, size_t n,
                            AdamScalars s) {
  for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += size_t(gridDim.x) * blockDim.x) {
    float p = params[i];
    const float g = grads[i] + s.weight_decay * p;
    const float mi = s.beta1 * m[i] + s.one_minus_beta1 * g;
    const float vi = s.beta2 * v[i] + s.one_minus_beta2 * (g * g);
    p = p - s.step_size * mi / (sqrtf(vi) * s.inv_sqrt_correction2 + s.eps);
    params[i] = p;
    m[i] = mi;
    v[i] = vi;
  }
}

}  // namespace

void adam_step(float* params, const float* grads, float* m, float* v, size_t n,
               const cpu::AdamConfig& config, int64_t step, cudaStream_t stream) {
  const AdamScalars s = adam_scalars(config, step);
  if (n == 0) return;
  const size_t blocks = std::min((n + kThreads - 1) / kThreads, kMaxBlocks);
  adam_kernel<<<unsigned(blocks), kThreads, 0, stream>>>(params, grads, m, v, n, s);
  check(cudaGetLastError(), "adam_step: launch");
}

}  // namespace resilinet::kernels::cuda
