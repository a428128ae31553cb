// Lane traits of the matrix kernels (mlp.cpp, mlp_forward.cpp): the vector of an instruction set,
// a broadcast, and the rows of a register block; and the columns of a block of rows that are zero.
#pragma once
#if defined(__x86_64__)
#include <immintrin.h>  // also declares the AVX builtin used below
#endif

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/cpu/vec.hpp"

namespace resilinet::kernels::cpu {

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"

// The vector, its lanes, a broadcast of one float, and how many rows a register block holds for
// NB vectors of columns (enough accumulators to cover FMA latency x ports, few enough to stay in
// registers).
struct Sse2Lanes {  // 16 registers of 4 lanes
  using V = Vec4;
  static constexpr int kLanes = 4;
  [[gnu::always_inline]] static V splat(const float* p) {
    const float s = *p;
    return V{s, s, s, s};
  }
  static constexpr int block_rows(int nb) { return nb == 1 ? 8 : 4; }
};
struct Avx2Lanes {  // 16 registers of 8 lanes
  using V = Vec8;
  static constexpr int kLanes = 8;
  [[gnu::always_inline]] static V splat(const float* p) {
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
    // GCC 12 builds {s, s, ...} of a strided load from eight inserts; this is one vbroadcastss.
    return V(__builtin_ia32_vbroadcastss256(p));
#else
    const float s = *p;
    return V{s, s, s, s, s, s, s, s};
#endif
  }
  static constexpr int block_rows(int nb) { return nb == 1 ? 8 : 4; }
};

// Bit j: the sign of lane j (of a compare's all-ones or zero lanes).
template <class V>
[[gnu::always_inline]] inline uint32_t sign_bits(V v) {
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
  if constexpr (sizeof(V) == 16) return uint32_t(__builtin_ia32_movmskps(v));
  if constexpr (sizeof(V) == 32) return uint32_t(__builtin_ia32_movmskps256(v));
  if constexpr (sizeof(V) == 64) {
    Vec8 low, high;
    std::memcpy(&low, &v, sizeof(low));
    std::memcpy(&high, reinterpret_cast<const char*>(&v) + sizeof(low), sizeof(high));
    return sign_bits(low) | sign_bits(high) << 8;
  }
#endif
  uint32_t bits = 0;
  for (size_t j = 0; j < sizeof(V) / sizeof(float); ++j) bits |= uint32_t(std::signbit(v[j])) << j;
  return bits;
}

// acc[r][j] += A(row r, one column) B(that column, vector j) for a register block of RB rows x NB
// vectors: a at the column in the block's first row (rows lda apart), b at the column's row of B.
template <class T, int RB, int NB>
[[gnu::always_inline]] inline void add_column_product(typename T::V (&acc)[RB][NB], const float* a, ptrdiff_t lda,
                                                      const float* b) {
  using V = typename T::V;
  constexpr int L = T::kLanes;
  V bv[NB];
#pragma GCC unroll 4
  for (int j = 0; j < NB; ++j) bv[j] = load<V>(b + j * L);
#pragma GCC unroll 16
  for (int r = 0; r < RB; ++r) {
    const V av = T::splat(a + r * lda);
#pragma GCC unroll 4
    for (int j = 0; j < NB; ++j) acc[r][j] += av * bv[j];
  }
}

// Widest row of a that nonzero_columns takes (its bit words live on the caller's stack).
inline constexpr int kMaxZeroColumns = 1024;

// For a product that may skip the columns of A that are zero in every row of a register block
// (a product with zero adds nothing): words[i / 64] bit i % 64 is set where column i (of 0..k-1,
// k <= kMaxZeroColumns) is not zero in every one of the RB rows of a (row stride lda; -0 counts
// as not zero). The rows' bits are OR-ed as integers and compared once, L columns at a time (L
// divides 64): GCC takes a float compare here apart lane by lane.
template <class T, int RB>
[[gnu::always_inline]] inline void nonzero_columns(const float* a, ptrdiff_t lda, int k, uint64_t* words) {
  using V = typename T::V;
  typedef int32_t I __attribute__((vector_size(sizeof(V))));
  constexpr int L = T::kLanes;
  // Each word is built in a register and stored once: OR-ing into memory per L columns made a
  // chain of store-to-load forwards that cost as much as the compares.
  for (int w = 0; w * 64 < k; ++w) {
    const int end = std::min(k, w * 64 + 64);
    uint64_t bits = 0;
    int i = w * 64;
    for (; i + L <= end; i += L) {
      I any = I(load<V>(a + i));
#pragma GCC unroll 16
      for (int r = 1; r < RB; ++r) any |= I(load<V>(a + r * lda + i));
      bits |= uint64_t(sign_bits(V(any != I{}))) << (i % 64);
    }
    for (; i < end; ++i) {
      bool any = false;
      for (int r = 0; r < RB; ++r) any |= a[r * lda + i] != 0.0f;
      bits |= uint64_t(any) << (i % 64);
    }
    words[w] = bits;
  }
}

// The nonzero_columns bits of each block of rows of one matrix A (at most MaxRows rows), made by
// the first panel of the product that reaches a block and read by the panels after it: a layer
// of 128 outputs in 8-lane vectors has six panels, and making the bits in each cost about a tenth
// of the product. clear() before each new A.
template <int MaxRows>
struct ZeroColumnBlocks {
  int block_rows[MaxRows];  // per first row of a block: the rows its bits were made for, 0 if none
  uint64_t words[MaxRows][kMaxZeroColumns / 64];
  void clear() { std::fill_n(block_rows, MaxRows, 0); }
  template <class T, int RB>
  [[gnu::always_inline]] const uint64_t* of_block(const float* a, ptrdiff_t lda, int k, int m0) {
    if (block_rows[m0] != RB) {
      nonzero_columns<T, RB>(a, lda, k, words[m0]);
      block_rows[m0] = RB;
    }
    return words[m0];
  }
};

#pragma GCC diagnostic pop

}  // namespace resilinet::kernels::cpu
