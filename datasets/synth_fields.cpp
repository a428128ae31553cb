// Spatial fields of the synthetic generators: Gaussian bumps, hashed value noise and quantile
// thresholds (datasets/synth_fields.hpp). Everything here is deterministic in its inputs.
#include "datasets/synth_fields.hpp"

#include <algorithm>
#include <cmath>

namespace resilinet::synth {

constexpr size_t kQuantileLattice = 256;  // field samples per side used to place the thresholds

std::vector<Bump> random_bumps(Draws& d, int count, double width, double height, double min_sigma,
                               double max_sigma) {
  const double scale = std::sqrt(width * height);
  std::vector<Bump> out;
  for (int i = 0; i < count; ++i) {
    Bump b;
    b.x = (-0.1 + 1.2 * d.uniform()) * width;
    b.y = (-0.1 + 1.2 * d.uniform()) * height;
    double sigma = std::max(1.5, (min_sigma + (max_sigma - min_sigma) * d.uniform()) * scale);
    b.inv_two_sigma2 = 1.0 / (2.0 * sigma * sigma);
    b.amplitude = (0.5 + 0.5 * d.uniform()) * (d.uniform() < 0.5 ? -1.0 : 1.0);
    out.push_back(b);
  }
  return out;
}

double bumps_at(const std::vector<Bump>& bumps, double x, double y) {
  double f = 0;
  for (const Bump& b : bumps) {
    double dx = x - b.x, dy = y - b.y;
    f += b.amplitude * std::exp(-(dx * dx + dy * dy) * b.inv_two_sigma2);
  }
  return f;
}

double ValueNoise::lattice_value(int octave, int64_t ix, int64_t iy) const {
  uint64_t h = splitmix64(key_ ^ (uint64_t(octave) * 0x9e3779b97f4a7c15ULL));
  h = splitmix64(h ^ uint64_t(ix));
  h = splitmix64(h ^ uint64_t(iy));
  return double(h >> 11) * 0x1.0p-52 - 1.0;  // in [-1, 1)
}

double ValueNoise::at(double x, double y) const {
  auto smooth = [](double t) { return t * t * (3.0 - 2.0 * t); };
  double sum = 0, amplitude = 1, spacing = spacing_;
  for (int o = 0; o < octaves_; ++o, amplitude *= 0.5, spacing *= 0.5) {
    const double gx = x / spacing, gy = y / spacing;
    const double fx = std::floor(gx), fy = std::floor(gy);
    const int64_t ix = int64_t(fx), iy = int64_t(fy);
    const double tx = smooth(gx - fx), ty = smooth(gy - fy);
    const double south = lattice_value(o, ix, iy) * (1 - tx) + lattice_value(o, ix + 1, iy) * tx;
    const double north = lattice_value(o, ix, iy + 1) * (1 - tx) + lattice_value(o, ix + 1, iy + 1) * tx;
    sum += amplitude * (south * (1 - ty) + north * ty);
  }
  return sum;
}

LevelThresholds quantile_thresholds(const SynthRegion& g, const std::function<double(double, double)>& field,
                                    const std::array<double, 4>& cumulative_shares) {
  std::vector<double> samples;
  if (g.cells <= kQuantileLattice * kQuantileLattice) {
    for (size_t i = 0; i < g.cells; ++i) samples.push_back(field(double(i % g.width) + 0.5, double(i / g.width) + 0.5));
  } else {
    const size_t full_rows = g.cells / g.width;  // sample only complete rows
    for (size_t j = 0; j < kQuantileLattice; ++j)
      for (size_t i = 0; i < kQuantileLattice; ++i)
        samples.push_back(field((double(i) + 0.5) * double(g.width) / kQuantileLattice,
                                (double(j) + 0.5) * double(full_rows) / kQuantileLattice));
  }
  std::sort(samples.begin(), samples.end());
  LevelThresholds t{};
  for (size_t q = 0; q < 4; ++q)
    t[q] = samples[std::min(samples.size() - 1, size_t(cumulative_shares[q] * double(samples.size())))];
  return t;
}

int level_of(double value, const LevelThresholds& thresholds) {
  int level = 1;
  for (double t : thresholds) level += value >= t ? 1 : 0;
  return level;
}

}  // namespace resilinet::synth
