// Feature scaling on the GPU: median imputation of NaN cells, then (v - offset) * inv_scale clamped
// to [low, high], one thread per cell, as Scaler::transform (trainer/model/scaler.cpp) on the CPU.
// Not the fitting of the scaler (host, streaming) and not the choice of low/high (the caller's).
#include <algorithm>
#include <string>

#include "kernels/cuda/device_mlp.cuh"

namespace resilinet::kernels::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kMaxBlocks = 65535;  // grid-stride beyond this: huge calls need no huge grids

__global__ void scale_rows_kernel(const float* __restrict__ x, size_t cells, int features,
                                  const float* __restrict__ median,
                                  const float* __restrict__ offset,
                                  const float* __restrict__ inv_scale, float low, float high,
                                  float* __restrict__ out) {
  const size_t stride = size_t(gridDim.x) * blockDim.x;
  for (size_t c = size_t(blockIdx.x) * blockDim.x + threadIdx.x; c < cells; c += stride) {
    const int f = int(c % size_t(features));
    float v = x[c];
    if (isnan(v)) v = median[f];
    // Separately rounded subtract and multiply, and std::clamp's comparisons, as on the CPU, so
    // the two give the same bytes.
    const float s = __fmul_rn(__fsub_rn(v, offset[f]), inv_scale[f]);
    out[c] = s < low ? low : (high < s ? high : s);
  }
}

}  // namespace

void scale_rows(const float* x, size_t rows, int features, const float* median, const float* offset,
                const float* inv_scale, float low, float high, float* out, cudaStream_t stream) {
  if (features <= 0)
    throw std::invalid_argument("scale_rows: expected features > 0, found " +
                                std::to_string(features));
  const size_t cells = rows * size_t(features);
  if (cells == 0) return;
  const int blocks = int(std::min<size_t>((cells + kThreads - 1) / kThreads, kMaxBlocks));
  scale_rows_kernel<<<blocks, kThreads, 0, stream>>>(x, cells, features, median, offset, inv_scale,
                                                     low, high, out);
  check(cudaGetLastError(), "scale_rows launch");
}

}  // namespace resilinet::kernels::cuda
