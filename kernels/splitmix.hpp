// SplitMix64's output function: a fast, well-mixed 64-bit hash. Every deterministic draw in the
// project (shuffles, samples by cell id, per-block seeds) derives its seeds through it.
#pragma once
#include <cstdint>

namespace resilinet {

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace resilinet
