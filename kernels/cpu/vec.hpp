// The float vectors of the CPU kernels (GCC vector extensions; each kernel's code is compiled for
// several instruction sets and chosen at run time) and unaligned loads and stores of them.
#pragma once
#include <cstring>

namespace resilinet::kernels::cpu {

// The vectors only live inside always-inlined code, so the AVX ABI note does not apply.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"

typedef float Vec4 __attribute__((vector_size(4 * sizeof(float))));
typedef float Vec8 __attribute__((vector_size(8 * sizeof(float))));
typedef float Vec16 __attribute__((vector_size(16 * sizeof(float))));

template <class V>
[[gnu::always_inline]] inline V load(const float* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <class V>
[[gnu::always_inline]] inline void store(float* p, const V& v) {
  std::memcpy(p, &v, sizeof v);
}

#pragma GCC diagnostic pop

}  // namespace resilinet::kernels::cpu
