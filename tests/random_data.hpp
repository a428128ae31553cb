// Random inputs and networks for the kernel tests (CPU and CUDA forms alike): uniform values and
// labels from a seed, parameters with non-zero biases, small MLPs by widths, fp64 copies.
#pragma once
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/mlp_layout.hpp"

namespace resilinet::testing {

inline std::vector<float> random_values(size_t n, uint64_t seed, float lo = 0.0f, float hi = 1.0f) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

// rows x low.size() values, each uniform inside [low_i, high_i] of its column.
inline std::vector<float> uniform_rows(size_t rows, const std::vector<float>& low, const std::vector<float>& high,
                                       uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  const size_t f = low.size();
  std::vector<float> x(rows * f);
  for (size_t r = 0; r < rows; ++r)
    for (size_t i = 0; i < f; ++i) x[r * f + i] = low[i] + u(rng) * (high[i] - low[i]);
  return x;
}

inline std::vector<int32_t> random_labels(size_t n, int classes, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> v(n);
  for (auto& x : v) x = int32_t(rng() % uint64_t(classes));
  return v;
}

inline std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// init_params, then biases U(-0.2, 0.2) so that their gradients are exercised.
inline std::vector<float> random_params(const kernels::MlpLayout& layout, uint64_t seed) {
  std::vector<float> params(layout.param_count);
  kernels::init_params(layout, seed, params.data());
  std::mt19937_64 rng(seed + 1);
  std::uniform_real_distribution<float> u(-0.2f, 0.2f);
  for (const auto& l : layout.layers)
    for (int o = 0; o < l.out; ++o) params[l.bias_offset + o] = u(rng);
  return params;
}

struct Net {
  kernels::MlpLayout layout;
  std::vector<float> params;
};

// widths = {inputs, hidden..., outputs}; ReLU hidden layers, linear output. Biases U(-0.3, 0.3)
// when `bias`, else zero. groups (optional) makes the first layer block-diagonal.
inline Net make_net(const std::vector<int>& widths, uint64_t seed, bool bias, const std::vector<int>& groups = {}) {
  std::vector<kernels::LayerRequest> req;
  for (size_t k = 1; k < widths.size(); ++k) {
    kernels::LayerRequest r;
    r.out = widths[k];
    r.act = k + 1 == widths.size() ? kernels::Activation::linear : kernels::Activation::relu;
    if (k == 1) r.input_groups = groups;
    req.push_back(r);
  }
  Net n;
  n.layout = kernels::MlpLayout::build(widths[0], req);
  n.params.resize(n.layout.param_count);
  kernels::init_params(n.layout, seed, n.params.data());
  if (bias) {
    std::mt19937_64 rng(seed + 1000);
    std::uniform_real_distribution<float> u(-0.3f, 0.3f);
    for (const auto& l : n.layout.layers)
      for (int j = 0; j < l.out; ++j) n.params[l.bias_offset + j] = u(rng);
  }
  return n;
}

}  // namespace resilinet::testing
