// The `metro` generator (the default): a smooth random field per region thresholded at quantiles
// gives contiguous level patches; each feature is a convex, noisy curve of the cell's level
// position, and values are missing more often at low levels (missing not at random). Its bytes are
// fixed: tests compare them, so any change here is a change of the published datasets.
#include <algorithm>
#include <cmath>
#include <limits>

#include "datasets/synth_fields.hpp"
#include "datasets/synth_generator.hpp"

namespace resilinet::synth {
namespace {

// Shares of the five levels (cumulative thresholds 0.15, 0.37, 0.63, 0.85).
constexpr std::array<double, 4> kLevelQuantiles = {0.15, 0.37, 0.63, 0.85};
constexpr int kLevelBumps = 16;
constexpr int kHazardBumps = 8;
// Spread of a cell's resilience position around its level, in levels: small enough that levels stay
// separated, large enough that the convex maps stretch the high levels into elongated clusters.
constexpr double kLevelJitter = 0.16;

// Convex on [0,1] with E(0) = 0, E(1) = 1: the low levels sit closer together than the high levels,
// so equal steps in level are unequal steps in the raw feature. Much steeper curves (c >= 2) make
// level 5 so much wider than level 1 that any partition by distance, in any space that keeps the
// geometry, splits level 5 and merges levels 1 and 2.
double convex(double t) {
  constexpr double c = 1.5;
  return std::expm1(c * t) / std::expm1(c);
}

// One cell's features from its resilience position t in [0, 1] (level 1 -> 0, level 5 -> 1).
// Most features follow the convex E(t) between a level-1 and a level-5 value, with noise of about
// 3.5% of that span; interactions: hospitals count fully only where road density is adequate, and
// internet speed saturates in the number of nearby cell towers.
void draw_features(double t, double noise, Draws& d, float* x) {
  const double e = convex(t);
  const double k = noise;
  double v[kFeatures];
  v[building_age] = std::max(0.0, 55.0 - 43.0 * e + 1.5 * k * d.normal());
  v[road_density] = std::max(0.1, 1.2 + 12.0 * e + 0.42 * k * d.normal());
  const double roads_adequate = logistic((v[road_density] - 2.5) / 0.5);
  v[hospitals] = std::max(0.0, 0.1 + 2.4 * e + 0.084 * k * d.normal()) * (0.5 + 0.5 * roads_adequate);
  v[fire_stations] = std::max(0.0, 0.3 + 2.7 * e + 0.095 * k * d.normal());
  v[green_space] = std::clamp(5.0 + 40.0 * e + 1.4 * k * d.normal(), 0.0, 100.0);
  v[cell_tower_age] = std::max(0.5, 14.0 - 12.0 * e + 0.42 * k * d.normal());
  v[road_redundancy] = std::max(1.0, std::round(1.5 + 9.0 * e + 0.3 * k * d.normal()));
  v[cell_towers] = std::max(0.0, 0.5 + 6.0 * e + 0.21 * k * d.normal());
  v[internet_speed] = std::max(1.0, 25.0 + 375.0 * (1.0 - std::exp(-v[cell_towers] / 15.0)) + 8.0 * k * d.normal());
  v[poverty] = std::clamp(4.0 + 36.0 * logistic(-8.0 * (t - 0.7)) + 1.2 * k * d.normal(), 0.0, 100.0);
  v[unemployment] = std::clamp(2.5 + 9.0 * (1.0 - e) + 0.32 * k * d.normal(), 0.0, 100.0);
  v[education] = std::clamp(12.0 + 45.0 * e + 1.6 * k * d.normal(), 0.0, 100.0);
  for (int f = 0; f < kFeatures; ++f) x[f] = float(v[f]);
}

class MetroGenerator final : public Generator {
 public:
  explicit MetroGenerator(const SynthOptions& options)
      : noise_(options.noise), missing_rate_(*options.missing_rate) {
    for (size_t r = 0; r < options.regions.size(); ++r) fields_.push_back(plan_region(options, r));
  }

  int level_at(size_t region, size_t x, size_t y) const override {
    const RegionField& rf = fields_[region];
    return level_of(bumps_at(rf.level_bumps, double(x) + 0.5, double(y) + 0.5), rf.thresholds);
  }

  void draw_cell(size_t region, size_t x, size_t y, int level, Draws& d, float* row,
                 float& hazard) const override {
    // Position within [0, 1]: the level plus a small jitter, so levels stay separated.
    const double t = clamp01((level - 1 + kLevelJitter * noise_ * d.normal()) / 4.0);
    draw_features(t, noise_, d, row);
    // Records are sparser where resilience is low (rural, poorer cells): the chance that a value is
    // missing falls from 2x the rate at level 1 to 0 at level 5, averaging about the rate.
    const double missing_here = std::min(1.0, missing_rate_ * 2.0 * (1.0 - t));
    for (int f = 0; f < kFeatures; ++f)
      if (d.uniform() < missing_here) row[f] = std::numeric_limits<float>::quiet_NaN();
    // Expected annual loss: a spatial exposure field times a vulnerability that falls with level.
    const double exposure = bumps_at(fields_[region].hazard_bumps, double(x) + 0.5, double(y) + 0.5);
    hazard = float(std::exp(8.0 + 1.0 * exposure + 1.2 * (1.0 - t) + 0.5 * d.normal()));
  }

 private:
  struct RegionField {
    std::vector<Bump> level_bumps;   // the smooth field thresholded into levels
    std::vector<Bump> hazard_bumps;  // a smooth hazard-exposure field, independent of the levels
    LevelThresholds thresholds{};
  };

  static RegionField plan_region(const SynthOptions& options, size_t region) {
    const SynthRegion& g = options.regions[region];
    const double w = double(g.width), h = double(g.height);
    Draws d(stream_seed(options.seed, region, 0, /*purpose=*/1));
    RegionField rf;
    rf.level_bumps = random_bumps(d, kLevelBumps, w, h, 0.06, 0.20);
    rf.hazard_bumps = random_bumps(d, kHazardBumps, w, h, 0.10, 0.30);
    rf.thresholds = quantile_thresholds(
        g, [&](double x, double y) { return bumps_at(rf.level_bumps, x, y); }, kLevelQuantiles);
    return rf;
  }

  double noise_, missing_rate_;
  std::vector<RegionField> fields_;
};

}  // namespace

std::unique_ptr<Generator> make_metro_generator(const SynthOptions& options) {
  return std::make_unique<MetroGenerator>(options);
}

}  // namespace resilinet::synth
