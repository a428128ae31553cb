// One Adam step over a flat fp32 buffer (parameters, gradients and both moments share one layout)
// with bias correction and optional L2 weight decay; vectorised, threaded only for large buffers.
// Not an optimizer object: steps and state live in the trainer. fp64 twin: reference/adam.cpp.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "kernels/cpu/isa.hpp"
#include "kernels/cpu/vec.hpp"
#include "kernels/adam_scalars.hpp"
#include "kernels/ops.hpp"

#if defined(__x86_64__)
#include <immintrin.h>  // also declares the builtins used below
#endif

// The AVX vectors only ever live inside inlined code, so the ABI note about them does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace resilinet::kernels::cpu {
namespace {

// Below this many parameters a parallel region costs more than it saves.
constexpr size_t kParallelAdam = size_t(1) << 16;


// Lane-wise square roots. Written out because without -fno-math-errno GCC vectorises no std::sqrt.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
[[gnu::always_inline]] inline Vec4 sqrt_lanes(const Vec4& x) {
  return Vec4(__builtin_ia32_sqrtps(x));
}
[[gnu::always_inline]] inline Vec8 sqrt_lanes(const Vec8& x) {
  return Vec8(__builtin_ia32_sqrtps256(x));
}
#else
template <typename V>
[[gnu::always_inline]] inline V sqrt_lanes(V x) {
  for (size_t k = 0; k < sizeof(V) / sizeof(float); ++k) x[k] = std::sqrt(x[k]);
  return x;
}
#endif
[[gnu::always_inline]] inline float sqrt_lanes(float x) { return std::sqrt(x); }


// The update of one element or one vector of elements (T = float or a vector type).
template <typename T>
[[gnu::always_inline]] inline void adam_update(T& p, const T& grad, T& m, T& v, AdamScalars s) {
  const T g = grad + s.weight_decay * p;
  m = s.beta1 * m + s.one_minus_beta1 * g;
  v = s.beta2 * v + s.one_minus_beta2 * (g * g);
  p = p - s.step_size * m / (sqrt_lanes(v) * s.inv_sqrt_correction2 + s.eps);
}

template <typename V>
[[gnu::always_inline]] inline void adam_range(float* params, const float* grads, float* m, float* v,
                                              size_t begin, size_t end, AdamScalars s) {
  constexpr size_t kLanes = sizeof(V) / sizeof(float);
  size_t i = begin;
  for (; i + kLanes <= end; i += kLanes) {
    V p = load<V>(params + i), mi = load<V>(m + i), vi = load<V>(v + i);
    adam_update(p, load<V>(grads + i), mi, vi, s);
    store(params + i, p);
    store(m + i, mi);
    store(v + i, vi);
  }
  for (; i < end; ++i) adam_update(params[i], grads[i], m[i], v[i], s);
}

void adam_range_baseline(float* params, const float* grads, float* m, float* v, size_t begin,
                         size_t end, AdamScalars s) {
  adam_range<Vec4>(params, grads, m, v, begin, end, s);
}

#if defined(__x86_64__)
[[gnu::target("avx2,fma")]] void adam_range_avx2(float* params, const float* grads, float* m,
                                                 float* v, size_t begin, size_t end,
                                                 AdamScalars s) {
  adam_range<Vec8>(params, grads, m, v, begin, end, s);
}
#endif

}  // namespace

void adam_step(float* params, const float* grads, float* m, float* v, size_t n,
               const AdamConfig& config, int64_t step) {
  const AdamScalars s = adam_scalars(config, step);

  const Isa isa = cpu_isa();
  auto range = adam_range_baseline;
#if defined(__x86_64__)
  if (isa != Isa::baseline) range = adam_range_avx2;  // AVX-512 too: this loop has no AVX-512 form
#endif
  (void)isa;
  if (n < kParallelAdam) {
    range(params, grads, m, v, 0, n, s);
    return;
  }
  constexpr size_t kChunk = 4096;
  const ptrdiff_t chunks = ptrdiff_t((n + kChunk - 1) / kChunk);
#pragma omp parallel for schedule(static)
  for (ptrdiff_t c = 0; c < chunks; ++c) {
    const size_t begin = size_t(c) * kChunk;
    range(params, grads, m, v, begin, std::min(n, begin + kChunk), s);
  }
}

}  // namespace resilinet::kernels::cpu
