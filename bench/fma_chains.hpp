// Twelve independent FMA chains (more than latency x ports) per call, 8 or 16 lanes: the fp32
// throughput a kernel on that instruction set could reach at best, for reading benchmarks as a
// share of the machine. Each call does iterations x 12 x lanes FMAs.
#pragma once
#if defined(__x86_64__)
#include <immintrin.h>

#include <cstdint>

namespace resilinet::bench {

[[gnu::target("avx512f")]] inline float fma_chains_16(int64_t iterations) {
  __m512 acc[12];
  for (int j = 0; j < 12; ++j) acc[j] = _mm512_set1_ps(float(j));
  const __m512 mul = _mm512_set1_ps(0.999f), add = _mm512_set1_ps(1e-3f);
  for (int64_t i = 0; i < iterations; ++i)
#pragma GCC unroll 12
    for (int j = 0; j < 12; ++j) acc[j] = _mm512_fmadd_ps(acc[j], mul, add);
  __m512 sum = acc[0];
  for (int j = 1; j < 12; ++j) sum = _mm512_add_ps(sum, acc[j]);
  return _mm512_reduce_add_ps(sum);
}

[[gnu::target("avx2,fma")]] inline float fma_chains_8(int64_t iterations) {
  __m256 acc[12];
  for (int j = 0; j < 12; ++j) acc[j] = _mm256_set1_ps(float(j));
  const __m256 mul = _mm256_set1_ps(0.999f), add = _mm256_set1_ps(1e-3f);
  for (int64_t i = 0; i < iterations; ++i)
#pragma GCC unroll 12
    for (int j = 0; j < 12; ++j) acc[j] = _mm256_fmadd_ps(acc[j], mul, add);
  __m256 sum = acc[0];
  for (int j = 1; j < 12; ++j) sum = _mm256_add_ps(sum, acc[j]);
  float lanes[8];
  _mm256_storeu_ps(lanes, sum);
  return lanes[0];
}

}  // namespace resilinet::bench
#endif
