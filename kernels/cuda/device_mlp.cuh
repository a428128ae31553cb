// What the CUDA kernels know of a network: its layer table in device memory and on the host, and
// the connection masks of grouped layers. Shared by the fused MLP, LRP and gradient x input.
#pragma once
#include <vector>

#include "kernels/cuda/cuda_ops.hpp"

namespace resilinet::kernels::cuda {

// Rows per thread block of the fused kernels, and the widest layer they take (weights of a whole
// network and a tile's activations fit in shared memory up to this width).
inline constexpr int kMaxLayers = 16;
inline constexpr int kMaxWidth = 256;

struct DeviceLayer {
  int in = 0, out = 0;
  int relu = 0;
  size_t weight_offset = 0;  // W[out][in] in the flat parameter buffer
  size_t bias_offset = 0;    // b[out]
  const uint8_t* mask = nullptr;  // device [out x in] or nullptr (dense); masked weights are zero
};

struct DeviceMlp::Impl {
  MlpLayout layout;                 // host copy
  std::vector<DeviceLayer> layers;  // host copy of the table (mask pointers are device pointers)
  DeviceArray<uint8_t> masks;       // all masks back to back
  int max_width = 0;
};

inline int ceil_div(size_t a, int b) { return int((a + size_t(b) - 1) / size_t(b)); }

}  // namespace resilinet::kernels::cuda
