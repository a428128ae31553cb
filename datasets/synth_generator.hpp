// The interface behind `resilinet synth --generator NAME`: a generator plans each region once
// (level geometry, regional parameters) and then draws any cell on its own from a block's stream.
// SynthPlan (datasets/synth.cpp) owns the grid, ids, coordinates and output; the generators own the
// levels, features, missing values and hazard. Formulas are documented in configs/schema/README.md.
#pragma once
#include <limits>
#include <memory>

#include "datasets/synth.hpp"
#include "datasets/synth_draws.hpp"

namespace resilinet::synth {

// The column order of default_schema().
enum Feature : int {
  building_age, hospitals, fire_stations, green_space, cell_tower_age, road_redundancy,
  cell_towers, road_density, internet_speed, poverty, unemployment, education, kFeatures
};

class Generator {
 public:
  virtual ~Generator() = default;
  // The planted level (1..5) of the cell at column x, row y of a region.
  virtual int level_at(size_t region, size_t x, size_t y) const = 0;
  // Draws the cell's kFeatures features (NaN where missing) and its hazard from d. `level` is
  // level_at(region, x, y). Cells are drawn in order within a block, each from the block's stream.
  virtual void draw_cell(size_t region, size_t x, size_t y, int level, Draws& d, float* features,
                         float& hazard) const = 0;
};

// options are resolved (regions set, missing_rate set, generator valid).
std::unique_ptr<Generator> make_metro_generator(const SynthOptions& options);
std::unique_ptr<Generator> make_factors_generator(const SynthOptions& options);
std::unique_ptr<Generator> make_skewed_generator(const SynthOptions& options);

// Sets each of the kFeatures values to NaN with probability `rate`, independently of everything
// else (missing completely at random).
inline void drop_completely_at_random(double rate, Draws& d, float* features) {
  for (int f = 0; f < kFeatures; ++f)
    if (d.uniform() < rate) features[f] = std::numeric_limits<float>::quiet_NaN();
}

}  // namespace resilinet::synth
