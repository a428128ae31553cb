// The `skewed` generator: real-data-like skew. Levels threshold a composite resilience index (rough
// multi-octave value noise plus a regional trend) at fixed quantiles with unequal shares. Features
// carry multiplicative log-normal noise and heavy right tails (counts that are mostly near zero), a
// covariate shift per region (each region has its own offsets and scales, as states do), a nuisance
// urbanity factor that moves several features together within a level, and an interaction
// (internet speed follows resilience only where there are enough cell towers). Values are missing
// completely at random. Formulas in words: configs/schema/README.md.
#include <algorithm>
#include <cmath>
#include <numbers>

#include "datasets/synth_fields.hpp"
#include "datasets/synth_generator.hpp"

namespace resilinet::synth {
namespace {

// Cumulative level shares: more low than high resilience, as in most real regions.
constexpr std::array<double, 4> kLevelQuantiles = {0.22, 0.48, 0.72, 0.89};
constexpr int kIndexOctaves = 4;
constexpr int kCityCentres = 5;
constexpr int kHazardBumps = 8;
// The resilience position of each level and the spread of cells around it. As the quantiles of a
// right-skewed index would, the low levels crowd together and the high ones spread out: the steps
// between levels grow, and so does each level's spread (about a fifth of its steps).
constexpr std::array<double, 5> kLevelPosition = {0.0, 0.21, 0.44, 0.70, 1.0};
constexpr std::array<double, 5> kLevelSpread = {0.040, 0.042, 0.048, 0.055, 0.060};
// Cell towers within 2 km needed before internet speed follows resilience (else slow fixed lines).
constexpr double kTowersForFastInternet = 2.0;

// How a region departs from the others, as states do: scales and offsets on some features.
struct RegionShift {
  double poverty_scale, internet_scale, road_density_scale, tower_age_scale;
  double education_offset, building_age_offset, unemployment_offset, green_space_offset;
};

RegionShift draw_region_shift(Draws& d) {
  auto between = [&](double lo, double hi) { return lo + (hi - lo) * d.uniform(); };
  RegionShift s;
  s.poverty_scale = std::exp(between(-0.25, 0.25));
  s.internet_scale = std::exp(between(-0.25, 0.25));
  s.road_density_scale = std::exp(between(-0.2, 0.2));
  s.tower_age_scale = std::exp(between(-0.15, 0.15));
  s.education_offset = between(-6.0, 6.0);
  s.building_age_offset = between(-8.0, 8.0);
  s.unemployment_offset = between(-1.5, 1.5);
  s.green_space_offset = between(-5.0, 5.0);
  return s;
}

// The 12 features from the level position r in [0, 1] and the urbanity u (0 in open country, 1 in a
// city core). Log-normal noise e() multiplies most values. Whatever the level, urbanity raises roads,
// towers, facilities, education, poverty and building age and lowers green space; a city core moves
// a cell by less than the distance between adjacent levels (configs/schema/README.md).
void draw_features(double r, double u, const RegionShift& shift, double noise, Draws& d, float* x) {
  auto e = [&](double sigma) { return std::exp(noise * sigma * d.normal()); };
  const double q = 1.0 - r;  // lack of resilience
  double v[kFeatures];
  v[building_age] = std::max(1.0, (22.0 + 38.0 * q + 9.0 * u) * e(0.10) + shift.building_age_offset);
  v[hospitals] = d.poisson(std::exp(-1.6 + 2.6 * r + 0.55 * u) * e(0.5));
  v[fire_stations] = d.poisson(std::exp(-0.6 + 2.0 * r + 0.35 * u) * e(0.3));
  v[green_space] = std::clamp(
      100.0 * logistic(-1.6 + 2.8 * r - 1.0 * u + noise * 0.25 * d.normal()) + shift.green_space_offset, 0.0, 100.0);
  v[cell_tower_age] = (2.5 + 11.0 * std::pow(q, 1.5)) * e(0.12) * shift.tower_age_scale;
  v[road_redundancy] = 1.0 + d.poisson(std::exp(0.2 + 1.6 * r + 0.35 * u) * e(0.25));
  v[cell_towers] = d.poisson(std::exp(-1.0 + 2.4 * r + 0.6 * u) * e(0.4));
  v[road_density] = std::exp(0.1 + 1.8 * r + 0.45 * u) * e(0.2) * shift.road_density_scale;
  // Only with enough towers does speed follow resilience; elsewhere slow fixed lines of any level.
  v[internet_speed] = v[cell_towers] >= kTowersForFastInternet
                          ? 35.0 * std::exp(2.3 * r + 0.15 * u) * e(0.2) * shift.internet_scale
                          : 12.0 * e(0.3);
  v[poverty] = std::clamp(
      100.0 * logistic(-0.4 - 2.6 * r + 0.4 * u + noise * 0.25 * d.normal()) * shift.poverty_scale, 0.0, 100.0);
  v[unemployment] = std::clamp((3.0 + 10.0 * q * q) * e(0.18) + shift.unemployment_offset, 0.5, 100.0);
  v[education] = std::clamp(
      100.0 * logistic(-1.7 + 2.8 * r + 0.55 * u + noise * 0.2 * d.normal()) + shift.education_offset, 0.0, 100.0);
  for (int f = 0; f < kFeatures; ++f) x[f] = float(v[f]);
}

struct CityCentre {
  double x, y, inv_two_sigma2, weight;
};

class SkewedGenerator final : public Generator {
 public:
  explicit SkewedGenerator(const SynthOptions& options)
      : noise_(options.noise), missing_rate_(*options.missing_rate) {
    for (size_t r = 0; r < options.regions.size(); ++r) regions_.push_back(plan_region(options, r));
  }

  int level_at(size_t region, size_t x, size_t y) const override {
    const RegionPlan& p = regions_[region];
    return level_of(resilience_index(p, double(x) + 0.5, double(y) + 0.5), p.thresholds);
  }

  void draw_cell(size_t region, size_t x, size_t y, int level, Draws& d, float* row,
                 float& hazard) const override {
    const RegionPlan& p = regions_[region];
    const double cx = double(x) + 0.5, cy = double(y) + 0.5;
    const double r = clamp01(kLevelPosition[level - 1] + kLevelSpread[level - 1] * noise_ * d.normal());
    const double u = std::max(0.0, urbanity(p, cx, cy) + 0.08 * noise_ * d.normal());
    draw_features(r, u, p.shift, noise_, d, row);
    drop_completely_at_random(missing_rate_, d, row);
    // Expected annual loss: exposure (higher in cities, where there is more to lose) times a
    // vulnerability that falls with level.
    const double exposure = bumps_at(p.hazard_bumps, cx, cy) + 0.5 * u;
    hazard = float(std::exp(8.0 + exposure + 1.2 * (1.0 - r) + 0.5 * d.normal()));
  }

 private:
  struct RegionPlan {
    ValueNoise index_noise;
    double trend_x = 0, trend_y = 0;  // gradient of the index trend, per cell
    LevelThresholds thresholds{};
    std::vector<CityCentre> cities;
    std::vector<Bump> hazard_bumps;
    RegionShift shift{};
  };

  static double resilience_index(const RegionPlan& p, double x, double y) {
    return p.index_noise.at(x, y) + p.trend_x * x + p.trend_y * y;
  }

  static double urbanity(const RegionPlan& p, double x, double y) {
    double u = 0;
    for (const CityCentre& c : p.cities) {
      const double dx = x - c.x, dy = y - c.y;
      u += c.weight * std::exp(-(dx * dx + dy * dy) * c.inv_two_sigma2);
    }
    return std::min(u, 1.0);
  }

  static RegionPlan plan_region(const SynthOptions& options, size_t region) {
    const SynthRegion& g = options.regions[region];
    const double w = double(g.width), h = double(g.height), side = std::sqrt(w * h);
    Draws d(stream_seed(options.seed, region, 0, /*purpose=*/1));
    RegionPlan p;
    p.index_noise = ValueNoise(stream_seed(options.seed, region, 0, /*purpose=*/3), std::max(4.0, 0.3 * side),
                               kIndexOctaves);
    // A gentle trend across the region (e.g. from a coast inland): 0.5 over one side, against value
    // noise of about +-1.
    const double angle = 2.0 * std::numbers::pi * d.uniform();
    p.trend_x = 0.5 * std::cos(angle) / side;
    p.trend_y = 0.5 * std::sin(angle) / side;
    for (int c = 0; c < kCityCentres; ++c) {
      CityCentre city;
      city.x = d.uniform() * w;
      city.y = d.uniform() * h;
      const double sigma = std::max(1.5, (0.08 + 0.12 * d.uniform()) * side);
      city.inv_two_sigma2 = 1.0 / (2.0 * sigma * sigma);
      city.weight = 0.6 + 0.6 * d.uniform();
      p.cities.push_back(city);
    }
    p.hazard_bumps = random_bumps(d, kHazardBumps, w, h, 0.10, 0.30);
    p.shift = draw_region_shift(d);
    p.thresholds = quantile_thresholds(
        g, [&](double x, double y) { return resilience_index(p, x, y); }, kLevelQuantiles);
    return p;
  }

  double noise_, missing_rate_;
  std::vector<RegionPlan> regions_;
};

}  // namespace

std::unique_ptr<Generator> make_skewed_generator(const SynthOptions& options) {
  return std::make_unique<SkewedGenerator>(options);
}

}  // namespace resilinet::synth
