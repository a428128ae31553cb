// The synthetic region driver: options, region layout, validation, and the plan that hands each
// block of cells to the chosen generator (datasets/synth_generator.hpp) and writes the shards and
// the synth.yaml manifest. Blocks are generated in parallel and written in order, so the bytes
// depend only on the options. The generators' formulas are documented in configs/schema/README.md.
#include "datasets/synth.hpp"

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include <fmt/format.h>

#include "datasets/input_error.hpp"
#include "datasets/output_files.hpp"
#include "datasets/synth_generator.hpp"

namespace resilinet {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxRegionCells = size_t(1) << 40;
using synth::kFeatures;

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
  take(src.groups, dst.groups, src.rows ? src.groups.size() / src.rows : 0);
  take(src.population, dst.population, 1);
}

std::string shard_name(size_t index) { return fmt::format("part-{:05d}.h5", index); }

// Makes out_dir ready: creates it, or clears our old part files when overwriting.
void prepare_output_dir(const std::string& out_dir, bool overwrite) {
  make_output_dir(out_dir, "--out");
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
  std::error_code ignored;  // describes the removed shards
  if (overwrite) fs::remove(fs::path(out_dir) / kSynthManifestName, ignored);
}

// A YAML double-quoted scalar.
std::string yaml_quoted(const std::string& text) {
  std::string q = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  return q + "\"";
}

// The resolved options as a synth config (trainer/commands/command_synth.cpp reads it back): numbers in
// their shortest round-trip form, so the same shards can be written again from this file alone.
std::string manifest_yaml(const SynthOptions& o, const SynthSummary& s) {
  std::string text = fmt::format(
      "# Written by `resilinet synth`: the generator and options of the shards in this folder.\n"
      "# `resilinet synth --config {} --out DIR` writes the same shards again.\n"
      "# planted levels 1..5: {} {} {} {} {} cells; missing feature values: {}\n"
      "generator: {}\nseed: {}\nmissing_rate: {}\nnoise: {}\nshard_rows: {}\nblock_rows: {}\ndeflate: {}\n"
      "regions:\n",
      kSynthManifestName, s.level_cells[0], s.level_cells[1], s.level_cells[2], s.level_cells[3],
      s.level_cells[4], s.missing_values, o.generator, o.seed, *o.missing_rate, o.noise, o.shard_rows,
      o.block_rows, o.deflate_level);
  for (const SynthRegion& g : o.regions)
    text += fmt::format("  - {{name: {}, width: {}, height: {}, cells: {}, origin_lon: {}, origin_lat: {}, "
                        "cell_deg: {}}}\n",
                        yaml_quoted(g.name), g.width, g.height, g.cells, g.origin_lon, g.origin_lat, g.cell_deg);
  return text;
}

// Writes out_dir/synth.yaml under a temporary name and renames it into place.
std::string write_manifest(const std::string& out_dir, const std::string& text) {
  const fs::path path = fs::path(out_dir) / kSynthManifestName;
  const fs::path temp = path.string() + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream out(temp, std::ios::binary);
    out << text;
    out.close();
    if (!out) {
      const int error = errno;
      std::error_code ec;
      fs::remove(temp, ec);
      throw WriteError(path.string(), std::strerror(error));
    }
  }
  fs::rename(temp, path);
  return path.string();
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

namespace {

// Every generator: its name, the missing_rate it uses when none is given, and its factory.
struct GeneratorEntry {
  const char* name;
  double default_missing_rate;
  std::unique_ptr<synth::Generator> (*make)(const SynthOptions&);
};

const std::vector<GeneratorEntry>& generator_registry() {
  static const std::vector<GeneratorEntry> entries = {
      {"metro", 0.15, synth::make_metro_generator},
      {"factors", 0.05, synth::make_factors_generator},
      {"skewed", 0.05, synth::make_skewed_generator},
  };
  return entries;
}

const GeneratorEntry* find_generator(const std::string& name) {
  for (const auto& entry : generator_registry())
    if (name == entry.name) return &entry;
  return nullptr;
}

std::string joined_generator_names() {
  std::string s;
  for (const auto& name : synth_generator_names()) s += (s.empty() ? "" : ", ") + name;
  return s;
}

}  // namespace

const std::vector<std::string>& synth_generator_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& entry : generator_registry()) out.push_back(entry.name);
    return out;
  }();
  return names;
}

double default_missing_rate(const std::string& generator) {
  const GeneratorEntry* entry = find_generator(generator);
  if (!entry) throw std::invalid_argument("default_missing_rate: unknown generator '" + generator + "'");
  return entry->default_missing_rate;
}

void validate_synth_options(const SynthOptions& o, const std::string& source) {
  if (!find_generator(o.generator))
    throw InputError(source, "generator", "one of " + joined_generator_names(), "'" + o.generator + "'");
  if (o.shard_rows == 0) throw InputError(source, "shard_rows", "a positive number of rows", "0");
  if (o.block_rows == 0 || o.block_rows > (size_t(1) << 24))
    throw InputError(source, "block_rows", "a number of rows in [1, 16777216]", std::to_string(o.block_rows));
  if (o.missing_rate && !(*o.missing_rate >= 0.0 && *o.missing_rate < 1.0))
    throw InputError(source, "missing_rate", "a share in [0, 1)", fmt::format("{}", *o.missing_rate));
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
  if (!options_.missing_rate) options_.missing_rate = default_missing_rate(options_.generator);
  for (const auto& g : options_.regions) {
    first_id_.push_back(total_cells_);
    total_cells_ += g.cells;
  }
  generator_ = find_generator(options_.generator)->make(options_);
  plan_districts();
}

// Districts: square blocks of side ceil(longest side / 4) cells (at least 8), the grid shifted by an
// offset drawn from the seed, so that a region has 4 x 4 to 5 x 5 of them and their borders cut
// across the level patches. Population: a log-normal number of residents whose median rises from
// 300 at the edge of a region to about 1,800 at a centre drawn from the seed (a 500 m cell of a
// metro area), independent of the levels.
void SynthPlan::plan_districts() {
  for (size_t r = 0; r < options_.regions.size(); ++r) {
    const SynthRegion& g = options_.regions[r];
    synth::Draws d(synth::stream_seed(options_.seed, r, 0, /*purpose=*/6));
    Districts D;
    D.side = std::max<size_t>(8, (std::max(g.width, g.height) + 3) / 4);
    D.offset_x = d.below(D.side);
    D.offset_y = d.below(D.side);
    D.columns = (g.width - 1 + D.offset_x) / D.side + 1;
    const size_t rows = (g.height - 1 + D.offset_y) / D.side + 1;
    D.first_label = uint32_t(district_labels_.size());
    D.centre_x = 0.3 + 0.4 * d.uniform();
    D.centre_y = 0.3 + 0.4 * d.uniform();
    for (size_t k = 0; k < D.columns * rows; ++k) district_labels_.push_back(fmt::format("{}/d{:02d}", g.name, k));
    districts_.push_back(D);
  }
}

std::pair<uint32_t, uint32_t> SynthPlan::district_range(size_t first_cell, size_t cells) const {
  // Regions in output order: region r holds the cells [first_id_[r], first_id_[r + 1]).
  const auto region_of = [&](size_t cell) {
    return size_t(std::upper_bound(first_id_.begin(), first_id_.end(), uint64_t(cell)) - first_id_.begin()) - 1;
  };
  const size_t last = region_of(first_cell + std::max<size_t>(cells, 1) - 1);
  const uint32_t end = last + 1 < districts_.size() ? districts_[last + 1].first_label
                                                    : uint32_t(district_labels_.size());
  return {districts_[region_of(first_cell)].first_label, end};
}

uint32_t SynthPlan::district_at(size_t region, size_t x, size_t y) const {
  const Districts& D = districts_[region];
  return D.first_label + uint32_t((y + D.offset_y) / D.side * D.columns + (x + D.offset_x) / D.side);
}

SynthPlan::~SynthPlan() = default;

std::vector<std::string> SynthPlan::region_names() const {
  std::vector<std::string> names;
  for (const auto& g : options_.regions) names.push_back(g.name);
  return names;
}

size_t SynthPlan::region_cells(size_t region) const { return options_.regions[region].cells; }

size_t SynthPlan::region_blocks(size_t region) const {
  return (region_cells(region) + options_.block_rows - 1) / options_.block_rows;
}

int SynthPlan::level_at(size_t region, size_t x, size_t y) const {
  return generator_->level_at(region, x, y);
}

void SynthPlan::generate_block(size_t region, size_t block, ShardColumns& out) const {
  const SynthRegion& g = options_.regions[region];
  const size_t first = block * options_.block_rows;
  const size_t rows = std::min(options_.block_rows, g.cells - std::min(first, g.cells));
  out.resize(rows, kFeatures, true, false, true);
  synth::Draws d(synth::stream_seed(options_.seed, region, block, /*purpose=*/2));
  for (size_t i = 0; i < rows; ++i) {
    const size_t cell = first + i, x = cell % g.width, y = cell / g.width;
    const int level = generator_->level_at(region, x, y);
    generator_->draw_cell(region, x, y, level, d, out.features.data() + i * kFeatures, out.hazard[i]);
    out.planted_level[i] = int8_t(level);
    out.cell_id[i] = int64_t(first_id_[region] + cell);
    out.region[i] = uint32_t(region);
    out.lonlat[2 * i] = g.origin_lon + (double(x) + 0.5) * g.cell_deg;
    out.lonlat[2 * i + 1] = g.origin_lat + (double(y) + 0.5) * g.cell_deg;
  }
}

void SynthPlan::generate_districts(size_t region, size_t block, ShardColumns& out) const {
  const SynthRegion& g = options_.regions[region];
  const Districts& D = districts_[region];
  const size_t first = block * options_.block_rows;
  out.groups.resize(out.rows);
  out.population.resize(out.rows);
  // Its own stream, so that generate_block's columns are those of shards written before these were.
  synth::Draws people(synth::stream_seed(options_.seed, region, block, /*purpose=*/7));
  for (size_t i = 0; i < out.rows; ++i) {
    const size_t cell = first + i, x = cell % g.width, y = cell / g.width;
    out.groups[i] = district_at(region, x, y);
    const double dx = (double(x) + 0.5) / double(g.width) - D.centre_x;
    const double dy = (double(y) + 0.5) / double(g.height) - D.centre_y;
    const double centrality = std::exp(-(dx * dx + dy * dy) / (2 * 0.25 * 0.25));
    out.population[i] = float(std::round(300.0 * std::exp(1.8 * centrality + 0.7 * people.normal())));
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
  summary.generator = o.generator;
  summary.missing_rate = *o.missing_rate;
  summary.region_names = plan.region_names();
  ShardWriterOptions wo;
  wo.chunk_rows = std::max<size_t>(1, std::min({size_t(65536), o.shard_rows, plan.total_cells()}));
  wo.deflate_level = o.deflate_level;
  wo.has_hazard = true;
  wo.has_planted_level = true;
  wo.has_population = true;
  summary.districts = plan.district_labels().size();
  uint32_t label_base = 0;  // the current shard's first district label, in the plan's labels

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
      for (size_t k = 0; k < count; ++k) {
        plan.generate_block(blocks[w0 + k].first, blocks[w0 + k].second, generated[k]);
        plan.generate_districts(blocks[w0 + k].first, blocks[w0 + k].second, generated[k]);
      }
      for (size_t k = 0; k < count; ++k) {
        const ShardColumns& block = generated[k];
        for (int8_t level : block.planted_level) ++summary.level_cells[level - 1];
        for (float v : block.features) summary.missing_values += std::isnan(v) ? 1 : 0;
        for (float v : block.population) summary.population += v;
        for (size_t done = 0; done < block.rows;) {
          if (!writer) {
            summary.shard_paths.push_back((fs::path(out_dir) / shard_name(summary.shard_paths.size())).string());
            // A shard holds the districts of its own regions only: with many regions, every shard
            // holding every label would cost more than the cells.
            const auto [first, end] =
                plan.district_range(summary.cells, std::min(o.shard_rows, plan.total_cells() - summary.cells));
            const auto& labels = plan.district_labels();
            wo.groups = {{kSynthGrouping, std::vector<std::string>(labels.begin() + first, labels.begin() + end)}};
            label_base = first;
            writer = std::make_unique<ShardWriter>(summary.shard_paths.back(), plan.schema(),
                                                   summary.region_names, wo);
          }
          const size_t take = std::min(block.rows - done, o.shard_rows - in_shard);
          if (done == 0 && take == block.rows && label_base == 0) {
            writer->append(block);
          } else {
            slice_rows(block, kFeatures, done, take, part);
            for (uint32_t& code : part.groups) code -= label_base;
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
    summary.manifest_path = write_manifest(out_dir, manifest_yaml(o, summary));
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
