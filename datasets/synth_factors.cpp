// The `factors` generator: levels are patches of a Voronoi partition (each patch takes the level of
// its seed), and each level is an anisotropic cluster in a latent space of three system factors
// (facility, infrastructure, society) whose centres lie neither on a line nor equally spaced. Each
// feature is a monotone nonlinear map of its own system's factor plus a little of another's, with
// heavy-tailed Student-t noise; the count features are zero-inflated Poisson. Values are missing
// completely at random. Formulas in words: configs/schema/README.md.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "datasets/synth_fields.hpp"
#include "datasets/synth_generator.hpp"

namespace resilinet::synth {
namespace {

constexpr int kPatchSeeds = 48;          // Voronoi seeds per region
constexpr int kHazardBumps = 8;
constexpr int kNoiseDof = 4;             // degrees of freedom of the Student-t feature noise
constexpr size_t kAreaLattice = 256;     // samples per side used to measure the patch areas

enum Factor : int { facility_factor, infrastructure_factor, society_factor };
using FactorVector = std::array<double, 3>;

// One level's cluster in factor space: centre + minor * n + major * m * axis (n a standard normal
// 3-vector, m a standard normal, axis a unit vector), so each level is stretched along its own axis.
struct LevelCluster {
  double share;
  FactorVector centre;
  FactorVector axis;
  double minor, major;
};

FactorVector unit(FactorVector v) {
  const double n = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
  return {v[0] / n, v[1] / n, v[2] / n};
}

// Centres bend away from the diagonal (society improves first, then facilities and infrastructure
// catch up) and the steps between them differ. Levels 1 and 2, and levels 4 and 5, are parallel
// elongated clusters side by side: close across their long axis, far along it, which a partition by
// distance to centres cuts the wrong way. The middle level is the largest.
const std::array<LevelCluster, 5>& level_clusters() {
  static const std::array<LevelCluster, 5> clusters = {{
      {0.10, {-1.8, -1.6, -1.6}, unit({1, -1, 0}), 0.18, 0.80},
      {0.20, {-1.3, -1.1, -0.8}, unit({1, -1, 0}), 0.20, 0.90},
      {0.35, {-0.2, -0.2, 0.2}, unit({0, 1, -1}), 0.25, 0.70},
      {0.23, {1.0, 0.9, 0.7}, unit({1, 0, -1}), 0.20, 0.80},
      {0.12, {1.5, 1.7, 1.2}, unit({1, 0, -1}), 0.20, 0.80},
  }};
  return clusters;
}

FactorVector draw_factors(const LevelCluster& c, double noise, Draws& d) {
  FactorVector z = c.centre;
  for (int k = 0; k < 3; ++k) z[k] += noise * c.minor * d.normal();
  const double along = noise * c.major * d.normal();
  for (int k = 0; k < 3; ++k) z[k] += along * c.axis[k];
  return z;
}

// A count that is structurally zero with probability zero_share, else Poisson.
double zero_inflated_poisson(double zero_share, double lambda, Draws& d) {
  if (d.uniform() < zero_share) return 0.0;
  return d.poisson(lambda);
}

// The 12 features from the factors: monotone maps (logistic, log, power, saturating) of each
// feature's own system factor plus a little of another system's, with Student-t noise e().
void draw_features(const FactorVector& z, double noise, Draws& d, float* x) {
  const double F = z[facility_factor], I = z[infrastructure_factor], S = z[society_factor];
  auto e = [&] { return noise * d.student_t(kNoiseDof); };
  double v[kFeatures];
  v[building_age] = std::clamp(62.0 - 48.0 * logistic(0.9 * F + 0.2 * S) + 2.5 * e(), 1.0, 150.0);
  v[hospitals] = zero_inflated_poisson(0.15, std::exp(0.2 + 0.75 * F + 0.15 * I), d);
  v[fire_stations] = zero_inflated_poisson(0.10, std::exp(0.5 + 0.55 * F + 0.2 * S), d);
  v[green_space] = std::clamp(100.0 * logistic(-0.8 + 0.8 * F + 0.25 * I) + 3.0 * e(), 0.0, 100.0);
  v[cell_tower_age] = std::clamp(2.0 + 14.0 * logistic(-1.1 * I - 0.2 * F) + 0.8 * e(), 0.5, 40.0);
  v[road_redundancy] = 1.0 + d.poisson(std::exp(1.0 + 0.45 * I + 0.1 * F));
  v[cell_towers] = zero_inflated_poisson(0.20, std::exp(0.4 + 0.7 * I + 0.15 * F), d);
  v[road_density] = std::min(40.0, std::exp(1.0 + 0.55 * I + 0.1 * S + 0.12 * e()));
  v[internet_speed] =
      std::clamp(15.0 + 485.0 * (1.0 - std::exp(-0.4 * std::exp(0.8 * I + 0.15 * S))) + 15.0 * e(), 1.0, 2000.0);
  v[poverty] = std::clamp(3.0 + 45.0 * logistic(-1.0 * S - 0.5 - 0.2 * I) + 2.0 * e(), 0.0, 100.0);
  const double hardship = std::clamp((3.0 - S) / 6.0, 0.0, 1.0);
  v[unemployment] = std::clamp(2.0 + 12.0 * hardship * hardship + 0.6 * e(), 0.0, 100.0);
  v[education] = std::clamp(100.0 * logistic(-0.5 + 0.7 * S + 0.2 * F) + 3.0 * e(), 0.0, 100.0);
  for (int f = 0; f < kFeatures; ++f) x[f] = float(v[f]);
}

class FactorsGenerator final : public Generator {
 public:
  explicit FactorsGenerator(const SynthOptions& options)
      : noise_(options.noise), missing_rate_(*options.missing_rate) {
    for (size_t r = 0; r < options.regions.size(); ++r) regions_.push_back(plan_region(options, r));
  }

  int level_at(size_t region, size_t x, size_t y) const override {
    const RegionPatches& p = regions_[region];
    return p.seed_level[nearest_seed(p, double(x) + 0.5, double(y) + 0.5)];
  }

  void draw_cell(size_t region, size_t x, size_t y, int level, Draws& d, float* row,
                 float& hazard) const override {
    draw_features(draw_factors(level_clusters()[level - 1], noise_, d), noise_, d, row);
    drop_completely_at_random(missing_rate_, d, row);
    // Expected annual loss: a spatial exposure field times a vulnerability that falls with level.
    const double exposure = bumps_at(regions_[region].hazard_bumps, double(x) + 0.5, double(y) + 0.5);
    const double t = (level - 1) / 4.0;
    hazard = float(std::exp(8.0 + exposure + 1.2 * (1.0 - t) + 0.5 * d.normal()));
  }

 private:
  struct RegionPatches {
    std::vector<double> seed_x, seed_y;
    std::vector<int> seed_level;
    std::vector<Bump> hazard_bumps;
  };

  static size_t nearest_seed(const RegionPatches& p, double x, double y) {
    size_t best = 0;
    double best_d2 = INFINITY;
    for (size_t s = 0; s < p.seed_x.size(); ++s) {
      const double dx = x - p.seed_x[s], dy = y - p.seed_y[s], d2 = dx * dx + dy * dy;
      if (d2 < best_d2) best_d2 = d2, best = s;
    }
    return best;
  }

  // Share of the region's complete rows nearest to each seed, from every cell of a small region or
  // a lattice over a large one.
  static std::vector<double> patch_areas(const RegionPatches& p, const SynthRegion& g) {
    std::vector<double> area(p.seed_x.size(), 0.0);
    const size_t rows = std::max<size_t>(1, g.cells / g.width);
    const size_t nx = std::min(g.width, kAreaLattice), ny = std::min(rows, kAreaLattice);
    for (size_t j = 0; j < ny; ++j)
      for (size_t i = 0; i < nx; ++i)
        area[nearest_seed(p, (double(i) + 0.5) * double(g.width) / double(nx),
                          (double(j) + 0.5) * double(rows) / double(ny))] += 1.0 / double(nx * ny);
    return area;
  }

  // Seeds in a random order take levels by their cumulative area, so the level shares follow
  // level_clusters() up to about half a patch, and neighbouring patches have unrelated levels.
  static RegionPatches plan_region(const SynthOptions& options, size_t region) {
    const SynthRegion& g = options.regions[region];
    const double w = double(g.width), h = double(g.height);
    Draws d(stream_seed(options.seed, region, 0, /*purpose=*/1));
    RegionPatches p;
    for (int s = 0; s < kPatchSeeds; ++s) {
      p.seed_x.push_back(d.uniform() * w);
      p.seed_y.push_back(d.uniform() * h);
    }
    p.hazard_bumps = random_bumps(d, kHazardBumps, w, h, 0.10, 0.30);
    std::vector<size_t> order(kPatchSeeds);
    std::iota(order.begin(), order.end(), 0);
    for (size_t k = order.size() - 1; k > 0; --k) std::swap(order[k], order[d.below(k + 1)]);

    const std::vector<double> area = patch_areas(p, g);
    p.seed_level.assign(kPatchSeeds, 1);
    double covered = 0;
    for (size_t s : order) {
      const double middle = covered + 0.5 * area[s];
      double cumulative = 0;
      int level = 1;
      for (int l = 0; l < 4; ++l) {
        cumulative += level_clusters()[l].share;
        level += middle >= cumulative ? 1 : 0;
      }
      p.seed_level[s] = level;
      covered += area[s];
    }
    return p;
  }

  double noise_, missing_rate_;
  std::vector<RegionPatches> regions_;
};

}  // namespace

std::unique_ptr<Generator> make_factors_generator(const SynthOptions& options) {
  return std::make_unique<FactorsGenerator>(options);
}

}  // namespace resilinet::synth
