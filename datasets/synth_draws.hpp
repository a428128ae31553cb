// Random draws for the synthetic generators: one stream per (seed, region, block, purpose), and the
// uniform, normal, Student-t and Poisson draws written out here rather than taken from <random>'s
// distributions, so the bytes of a synthetic dataset do not depend on the standard library.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>

#include "kernels/splitmix.hpp"

namespace resilinet::synth {

// A stream seed from (seed, region, block, purpose); every stream is independent of the others.
inline uint64_t stream_seed(uint64_t seed, uint64_t region, uint64_t block, uint64_t purpose) {
  uint64_t h = splitmix64(seed ^ 0x5265736c6e6574ULL);
  h = splitmix64(h ^ region);
  h = splitmix64(h ^ (block * 0x100000001b3ULL));
  return splitmix64(h ^ purpose);
}

class Draws {
 public:
  explicit Draws(uint64_t seed) : engine_(seed) {}
  double uniform() { return double(engine_() >> 11) * 0x1.0p-53; }
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = 1.0 - uniform(), u2 = uniform();  // u1 in (0, 1]
    double radius = std::sqrt(-2.0 * std::log(u1));
    spare_ = radius * std::sin(2.0 * std::numbers::pi * u2);
    has_spare_ = true;
    return radius * std::cos(2.0 * std::numbers::pi * u2);
  }
  // Student-t with `dof` degrees of freedom: a normal over the root of a chi-square / dof.
  double student_t(int dof) {
    const double z = normal();
    double chi2 = 0;
    for (int k = 0; k < dof; ++k) {
      const double n = normal();
      chi2 += n * n;
    }
    return z / std::sqrt(std::max(chi2, 1e-12) / dof);
  }
  double poisson(double lambda) {
    if (lambda > 40) return std::max(0.0, std::round(lambda + std::sqrt(lambda) * normal()));
    double limit = std::exp(-lambda), p = uniform();
    int k = 0;
    while (p > limit) {
      p *= uniform();
      ++k;
    }
    return k;
  }
  // An index in [0, n).
  size_t below(size_t n) { return std::min(n - 1, size_t(uniform() * double(n))); }

 private:
  std::mt19937_64 engine_;
  double spare_ = 0;
  bool has_spare_ = false;
};

inline double logistic(double x) { return 1.0 / (1.0 + std::exp(-x)); }
inline double clamp01(double x) { return std::min(1.0, std::max(0.0, x)); }

}  // namespace resilinet::synth
