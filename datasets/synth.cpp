// The synthetic region generator: a smooth random field per region thresholded at quantiles gives
// the planted levels; each cell's 12 features are nonlinear, noisy functions of its level with
// interactions across systems. Blocks are generated in parallel and written in order, so the bytes
// depend only on the options. Feature formulas are documented in configs/schema/README.md.
#include "datasets/synth.hpp"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>
#include <numbers>
#include <random>

#include <fmt/format.h>

#include "datasets/input_error.hpp"
#include "kernels/splitmix.hpp"

namespace resilinet {
namespace {

namespace fs = std::filesystem;

// Shares of the five levels (cumulative thresholds 0.15, 0.37, 0.63, 0.85).
constexpr std::array<double, 4> kLevelQuantiles = {0.15, 0.37, 0.63, 0.85};
constexpr int kLevelBumps = 16;
constexpr int kHazardBumps = 8;
constexpr size_t kQuantileLattice = 256;  // field samples per side used to place the thresholds
constexpr size_t kMaxRegionCells = size_t(1) << 40;
// Spread of a cell's resilience position around its level, in levels: small enough that levels stay
// separated, large enough that the convex maps stretch the high levels into elongated clusters.
constexpr double kLevelJitter = 0.16;

// A stream seed from (seed, region, block, purpose); every stream is independent of the others.
uint64_t stream_seed(uint64_t seed, uint64_t region, uint64_t block, uint64_t purpose) {
  uint64_t h = splitmix64(seed ^ 0x5265736c6e6574ULL);
  h = splitmix64(h ^ region);
  h = splitmix64(h ^ (block * 0x100000001b3ULL));
  return splitmix64(h ^ purpose);
}

// Uniform, normal and Poisson draws written out here (not <random>'s distributions) so the bytes
// do not depend on the standard library.
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

 private:
  std::mt19937_64 engine_;
  double spare_ = 0;
  bool has_spare_ = false;
};

double logistic(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double clamp01(double x) { return std::min(1.0, std::max(0.0, x)); }

// Convex on [0,1] with E(0) = 0, E(1) = 1: the low levels sit closer together than the high levels,
// so equal steps in level are unequal steps in the raw feature. Much steeper curves (c >= 2) make
// level 5 so much wider than level 1 that any partition by distance, in any space that keeps the
// geometry, splits level 5 and merges levels 1 and 2.
double convex(double t) {
  constexpr double c = 1.5;
  return std::expm1(c * t) / std::expm1(c);
}

enum Feature : int {
  building_age, hospitals, fire_stations, green_space, cell_tower_age, road_redundancy,
  cell_towers, road_density, internet_speed, poverty, unemployment, education, kFeatures
};

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

FeatureSpec spec(const char* name, const char* system, const char* component, int direction,
                 const char* unit) {
  return FeatureSpec{name, system, component, direction, unit};
}

// Copies rows [first, first + count) of src into dst.
void slice_rows(const ShardColumns& src, size_t features, size_t first, size_t count, ShardColumns& dst) {
  auto take = [&](const auto& from, auto& to, size_t width) {
    if (from.empty()) {
      to.clear();
      return;
    }
    to.assign(from.begin() + first * width, from.begin() + (first + count) * width);
  };
  dst.rows = count;
  take(src.features, dst.features, features);
  take(src.cell_id, dst.cell_id, 1);
  take(src.lonlat, dst.lonlat, 2);
  take(src.region, dst.region, 1);
  take(src.hazard, dst.hazard, 1);
  take(src.external_rating, dst.external_rating, 1);
  take(src.planted_level, dst.planted_level, 1);
}

std::string shard_name(size_t index) { return fmt::format("part-{:05d}.h5", index); }

// Makes out_dir ready: creates it, or clears our old part files when overwriting.
void prepare_output_dir(const std::string& out_dir, bool overwrite) {
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (!fs::is_directory(out_dir))
    throw InputError(out_dir, "--out", "a folder that can be created", ec ? ec.message() : "not a folder");
  std::vector<fs::path> ours, others;
  for (const auto& entry : fs::directory_iterator(out_dir)) {
    if (entry.path().extension() != ".h5") continue;
    (entry.path().filename().string().rfind("part-", 0) == 0 ? ours : others).push_back(entry.path());
  }
  if (!others.empty() || (!ours.empty() && !overwrite))
    throw InputError(out_dir, "--out",
                     overwrite ? "a folder without .h5 files other than part-*.h5"
                               : "a folder without .h5 files (pass --overwrite to replace part-*.h5)",
                     fmt::format("{} .h5 file(s), e.g. {}", ours.size() + others.size(),
                                 (others.empty() ? ours : others).front().filename().string()));
  for (const auto& p : ours) fs::remove(p);
}

}  // namespace

Schema default_schema() {
  Schema s;
  s.features = {
      spec("building_age", "facility", "robustness", -1, "years"),
      spec("hospitals", "facility", "redundancy", +1, "hospitals within 10 km"),
      spec("fire_stations", "facility", "redundancy", +1, "stations within 5 km"),
      spec("green_space", "facility", "resourcefulness", +1, "percent of area"),
      spec("cell_tower_age", "infrastructure", "robustness", -1, "years"),
      spec("road_redundancy", "infrastructure", "redundancy", +1, "independent road links"),
      spec("cell_towers", "infrastructure", "redundancy", +1, "towers within 2 km"),
      spec("road_density", "infrastructure", "resourcefulness", +1, "km per km2"),
      spec("internet_speed", "infrastructure", "resourcefulness", +1, "Mbps"),
      spec("poverty", "society", "robustness", -1, "percent of residents"),
      spec("unemployment", "society", "robustness", -1, "percent of labour force"),
      spec("education", "society", "resourcefulness", +1, "percent with bachelor's degree"),
  };
  return s;
}

std::string synth_region_name(size_t index) {
  if (index < 26) return std::string("metro-") + char('a' + index);
  return "region-" + std::to_string(index + 1);
}

namespace {

// Origins near US metro areas, then a lattice of 11-degree steps in the southern hemisphere, so
// regions (at most 10 degrees wide) do not overlap.
void place_region(size_t index, SynthRegion& g) {
  static const double anchors[][2] = {{-95.8, 29.4}, {-84.8, 33.4}, {-122.6, 37.2},
                                      {-88.2, 41.5}, {-118.6, 33.7}, {-75.4, 39.7}};
  g.name = synth_region_name(index);
  g.cell_deg = std::min(0.005, 10.0 / double(std::max<size_t>({g.width, g.height, 1})));
  if (index < 6) {
    g.origin_lon = anchors[index][0];
    g.origin_lat = anchors[index][1];
  } else {
    g.origin_lon = -170.0 + 11.0 * double((index - 6) % 30);
    g.origin_lat = -80.0 + 11.0 * double(((index - 6) / 30) % 7);
  }
}

}  // namespace

std::vector<SynthRegion> regions_for_grid(size_t width, size_t height, size_t regions) {
  std::vector<SynthRegion> out(regions);
  for (size_t r = 0; r < regions; ++r) {
    out[r].width = width;
    out[r].height = height;
    out[r].cells = width * height;
    place_region(r, out[r]);
  }
  return out;
}

std::vector<SynthRegion> regions_for_cells(size_t cells, size_t regions) {
  std::vector<SynthRegion> out(regions);
  for (size_t r = 0; r < regions; ++r) {
    SynthRegion& g = out[r];
    g.cells = cells / regions + (r < cells % regions ? 1 : 0);
    g.width = std::max<size_t>(1, size_t(std::ceil(std::sqrt(double(g.cells)))));
    g.height = std::max<size_t>(1, (g.cells + g.width - 1) / g.width);
    place_region(r, g);
  }
  return out;
}

std::vector<SynthRegion> default_regions() {
  return regions_for_cells(kDefaultSynthCells, kDefaultSynthRegions);
}

void validate_synth_options(const SynthOptions& o, const std::string& source) {
  if (o.shard_rows == 0) throw InputError(source, "shard_rows", "a positive number of rows", "0");
  if (o.block_rows == 0 || o.block_rows > (size_t(1) << 24))
    throw InputError(source, "block_rows", "a number of rows in [1, 16777216]", std::to_string(o.block_rows));
  if (!(o.missing_rate >= 0.0 && o.missing_rate < 1.0))
    throw InputError(source, "missing_rate", "a share in [0, 1)", fmt::format("{}", o.missing_rate));
  if (o.deflate_level < 0 || o.deflate_level > 9)
    throw InputError(source, "deflate", "a level in 0..9 (0 = uncompressed)", std::to_string(o.deflate_level));
  if (!(o.noise >= 0.0 && o.noise <= 10.0))
    throw InputError(source, "noise", "a factor in [0, 10]", fmt::format("{}", o.noise));
  if (o.regions.size() > 100000)
    throw InputError(source, "regions", "at most 100000 regions", std::to_string(o.regions.size()));
  for (size_t r = 0; r < o.regions.size(); ++r) {
    const SynthRegion& g = o.regions[r];
    const std::string at = fmt::format("regions[{}]", r);
    if (g.name.empty()) throw InputError(source, at + ".name", "a non-empty region name");
    for (size_t q = 0; q < r; ++q)
      if (o.regions[q].name == g.name)
        throw InputError(source, at + ".name", "a region name used once", "'" + g.name + "' again");
    if (g.width == 0 || g.height == 0 || g.width > kMaxRegionCells / std::max<size_t>(g.height, 1))
      throw InputError(source, at, "a width and height of at least 1 cell (at most 2^40 cells)",
                       fmt::format("{} x {}", g.width, g.height));
    if (g.cells > g.width * g.height)
      throw InputError(source, at + ".cells", fmt::format("at most width x height = {}", g.width * g.height),
                       std::to_string(g.cells));
    if (!(g.cell_deg > 0.0))
      throw InputError(source, at + ".cell_deg", "a positive cell size in degrees", fmt::format("{}", g.cell_deg));
    const double east = g.origin_lon + g.cell_deg * double(g.width);
    const double north = g.origin_lat + g.cell_deg * double(g.height);
    if (!(g.origin_lon >= -180.0 && east <= 180.0))
      throw InputError(source, at + ".origin_lon", "a grid within longitudes [-180, 180]",
                       fmt::format("{} .. {}", g.origin_lon, east));
    if (!(g.origin_lat >= -90.0 && north <= 90.0))
      throw InputError(source, at + ".origin_lat", "a grid within latitudes [-90, 90]",
                       fmt::format("{} .. {}", g.origin_lat, north));
  }
}

SynthPlan::SynthPlan(SynthOptions options) : options_(std::move(options)), schema_(default_schema()) {
  if (options_.regions.empty()) options_.regions = default_regions();
  for (auto& g : options_.regions)
    if (g.cells == 0) g.cells = g.width * g.height;
  validate_synth_options(options_, "synth options");
  fields_.resize(options_.regions.size());
  for (size_t r = 0; r < options_.regions.size(); ++r) {
    first_id_.push_back(total_cells_);
    total_cells_ += options_.regions[r].cells;
    plan_region(r);
  }
}

std::vector<std::string> SynthPlan::region_names() const {
  std::vector<std::string> names;
  for (const auto& g : options_.regions) names.push_back(g.name);
  return names;
}

size_t SynthPlan::region_cells(size_t region) const { return options_.regions[region].cells; }

size_t SynthPlan::region_blocks(size_t region) const {
  return (region_cells(region) + options_.block_rows - 1) / options_.block_rows;
}

double SynthPlan::field_at(const std::vector<Bump>& bumps, double x, double y) {
  double f = 0;
  for (const Bump& b : bumps) {
    double dx = x - b.x, dy = y - b.y;
    f += b.amplitude * std::exp(-(dx * dx + dy * dy) * b.inv_two_sigma2);
  }
  return f;
}

void SynthPlan::plan_region(size_t region) {
  const SynthRegion& g = options_.regions[region];
  const double w = double(g.width), h = double(g.height);
  const double scale = std::sqrt(w * h);
  Draws d(stream_seed(options_.seed, region, 0, /*purpose=*/1));
  auto bumps = [&](int count, double min_sigma, double max_sigma) {
    std::vector<Bump> out;
    for (int i = 0; i < count; ++i) {
      Bump b;
      b.x = (-0.1 + 1.2 * d.uniform()) * w;
      b.y = (-0.1 + 1.2 * d.uniform()) * h;
      double sigma = std::max(1.5, (min_sigma + (max_sigma - min_sigma) * d.uniform()) * scale);
      b.inv_two_sigma2 = 1.0 / (2.0 * sigma * sigma);
      b.amplitude = (0.5 + 0.5 * d.uniform()) * (d.uniform() < 0.5 ? -1.0 : 1.0);
      out.push_back(b);
    }
    return out;
  };
  RegionField& rf = fields_[region];
  rf.level_bumps = bumps(kLevelBumps, 0.06, 0.20);
  rf.hazard_bumps = bumps(kHazardBumps, 0.10, 0.30);

  // Thresholds at quantiles of the field: over every cell of a small region, else over a lattice.
  std::vector<double> samples;
  if (g.cells <= kQuantileLattice * kQuantileLattice) {
    for (size_t i = 0; i < g.cells; ++i)
      samples.push_back(field_at(rf.level_bumps, double(i % g.width) + 0.5, double(i / g.width) + 0.5));
  } else {
    const size_t full_rows = g.cells / g.width;  // sample only complete rows
    for (size_t j = 0; j < kQuantileLattice; ++j)
      for (size_t i = 0; i < kQuantileLattice; ++i)
        samples.push_back(field_at(rf.level_bumps, (double(i) + 0.5) * w / kQuantileLattice,
                                   (double(j) + 0.5) * double(full_rows) / kQuantileLattice));
  }
  std::sort(samples.begin(), samples.end());
  for (size_t q = 0; q < 4; ++q)
    rf.thresholds[q] = samples[std::min(samples.size() - 1, size_t(kLevelQuantiles[q] * samples.size()))];
}

int SynthPlan::level_at(size_t region, size_t x, size_t y) const {
  const RegionField& rf = fields_[region];
  double f = field_at(rf.level_bumps, double(x) + 0.5, double(y) + 0.5);
  int level = 1;
  for (double t : rf.thresholds) level += f >= t ? 1 : 0;
  return level;
}

void SynthPlan::generate_block(size_t region, size_t block, ShardColumns& out) const {
  const SynthRegion& g = options_.regions[region];
  const RegionField& rf = fields_[region];
  const size_t first = block * options_.block_rows;
  const size_t rows = std::min(options_.block_rows, g.cells - std::min(first, g.cells));
  const double noise = options_.noise, missing = options_.missing_rate;
  out.resize(rows, kFeatures, true, false, true);
  Draws d(stream_seed(options_.seed, region, block, /*purpose=*/2));
  for (size_t i = 0; i < rows; ++i) {
    const size_t cell = first + i, x = cell % g.width, y = cell / g.width;
    const int level = level_at(region, x, y);
    // Position within [0, 1]: the level plus a small jitter, so levels stay separated.
    const double t = clamp01((level - 1 + kLevelJitter * noise * d.normal()) / 4.0);
    float* row = out.features.data() + i * kFeatures;
    draw_features(t, noise, d, row);
    // Records are sparser where resilience is low (rural, poorer cells): the chance that a value is
    // missing falls from 2x the rate at level 1 to 0 at level 5, averaging about the rate.
    const double missing_here = std::min(1.0, missing * 2.0 * (1.0 - t));
    for (int f = 0; f < kFeatures; ++f)
      if (d.uniform() < missing_here) row[f] = std::numeric_limits<float>::quiet_NaN();
    // Expected annual loss: a spatial exposure field times a vulnerability that falls with level.
    const double exposure = field_at(rf.hazard_bumps, double(x) + 0.5, double(y) + 0.5);
    out.hazard[i] = float(std::exp(8.0 + 1.0 * exposure + 1.2 * (1.0 - t) + 0.5 * d.normal()));
    out.planted_level[i] = int8_t(level);
    out.cell_id[i] = int64_t(first_id_[region] + cell);
    out.region[i] = uint32_t(region);
    out.lonlat[2 * i] = g.origin_lon + (double(x) + 0.5) * g.cell_deg;
    out.lonlat[2 * i + 1] = g.origin_lat + (double(y) + 0.5) * g.cell_deg;
  }
}

SynthSummary generate_synthetic(const SynthOptions& options, const std::string& out_dir,
                                const SynthProgress& progress) {
  const auto start = std::chrono::steady_clock::now();
  SynthPlan plan(options);
  const SynthOptions& o = plan.options();
  prepare_output_dir(out_dir, o.overwrite);

  std::vector<std::pair<size_t, size_t>> blocks;  // (region, block) in output order
  for (size_t r = 0; r < o.regions.size(); ++r)
    for (size_t b = 0; b < plan.region_blocks(r); ++b) blocks.emplace_back(r, b);

  SynthSummary summary;
  summary.region_names = plan.region_names();
  ShardWriterOptions wo;
  wo.chunk_rows = std::max<size_t>(1, std::min({size_t(65536), o.shard_rows, plan.total_cells()}));
  wo.deflate_level = o.deflate_level;
  wo.has_hazard = true;
  wo.has_planted_level = true;

  std::unique_ptr<ShardWriter> writer;
  size_t in_shard = 0;
  auto commit_current = [&] {
    writer->commit();
    writer.reset();
    in_shard = 0;
  };
  try {
    const size_t wave = std::max<size_t>(2, 2 * size_t(omp_get_max_threads()));
    std::vector<ShardColumns> generated(wave);
    ShardColumns part;
    for (size_t w0 = 0; w0 < blocks.size(); w0 += wave) {
      const size_t count = std::min(wave, blocks.size() - w0);
#pragma omp parallel for schedule(dynamic, 1)
      for (size_t k = 0; k < count; ++k)
        plan.generate_block(blocks[w0 + k].first, blocks[w0 + k].second, generated[k]);
      for (size_t k = 0; k < count; ++k) {
        const ShardColumns& block = generated[k];
        for (int8_t level : block.planted_level) ++summary.level_cells[level - 1];
        for (float v : block.features) summary.missing_values += std::isnan(v) ? 1 : 0;
        for (size_t done = 0; done < block.rows;) {
          if (!writer) {
            summary.shard_paths.push_back((fs::path(out_dir) / shard_name(summary.shard_paths.size())).string());
            writer = std::make_unique<ShardWriter>(summary.shard_paths.back(), plan.schema(),
                                                   summary.region_names, wo);
          }
          const size_t take = std::min(block.rows - done, o.shard_rows - in_shard);
          if (done == 0 && take == block.rows) {
            writer->append(block);
          } else {
            slice_rows(block, kFeatures, done, take, part);
            writer->append(part);
          }
          done += take;
          in_shard += take;
          summary.cells += take;
          if (in_shard == o.shard_rows) commit_current();
        }
      }
      if (progress) progress(summary.cells, plan.total_cells());
    }
    if (writer) commit_current();
  } catch (...) {
    writer.reset();  // removes its temporary file
    std::error_code ec;
    for (const auto& p : summary.shard_paths) fs::remove(p, ec);
    throw;
  }
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace resilinet
