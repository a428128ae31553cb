// Lane traits of the matrix kernels (mlp.cpp, mlp_forward.cpp): the vector of an instruction set,
// a broadcast, and the rows of a register block.
#pragma once
#if defined(__x86_64__)
#include <immintrin.h>  // also declares the AVX builtin used below
#endif

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

#pragma GCC diagnostic pop

}  // namespace resilinet::kernels::cpu
