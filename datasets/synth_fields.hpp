// Spatial fields over a synthetic region's grid, which the generators place levels and exposures
// with: sums of Gaussian bumps, multi-octave value noise, and level thresholds at quantiles of a
// field. Coordinates are in cells from the south-west corner. No features are drawn here.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <vector>

#include "datasets/synth.hpp"
#include "datasets/synth_draws.hpp"

namespace resilinet::synth {

struct Bump {
  double x, y, inv_two_sigma2, amplitude;
};

// `count` bumps of random sign centred in (and a little beyond) a width x height grid, with widths
// between min_sigma and max_sigma times the square root of the grid's area.
std::vector<Bump> random_bumps(Draws& d, int count, double width, double height, double min_sigma,
                               double max_sigma);
double bumps_at(const std::vector<Bump>& bumps, double x, double y);

// Smooth noise: random values on a square lattice of `spacing` cells, interpolated with a
// smoothstep, summed over `octaves` halving spacings with halving amplitudes. Values come from a
// hash of (key, octave, lattice point), so it needs no memory and any cell can be read alone.
class ValueNoise {
 public:
  ValueNoise() = default;
  ValueNoise(uint64_t key, double spacing, int octaves) : key_(key), spacing_(spacing), octaves_(octaves) {}
  double at(double x, double y) const;

 private:
  double lattice_value(int octave, int64_t ix, int64_t iy) const;
  uint64_t key_ = 0;
  double spacing_ = 1;
  int octaves_ = 0;
};

using LevelThresholds = std::array<double, 4>;

// Thresholds of a field at the cumulative level shares, over every cell of a small region or a
// 256 x 256 lattice over the complete rows of a large one.
LevelThresholds quantile_thresholds(const SynthRegion& region, const std::function<double(double, double)>& field,
                                    const std::array<double, 4>& cumulative_shares);
// 1 + the number of thresholds at or below value.
int level_of(double value, const LevelThresholds& thresholds);

}  // namespace resilinet::synth
