// `resilinet synth`: writes synthetic region shards with planted levels (datasets/synth.hpp).
// Resolves the options from built-in defaults, then an optional YAML file, then the command line;
// bad values are InputError (exit 2). The generators live in datasets/synth*.cpp.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "datasets/input_error.hpp"
#include "datasets/yaml_keys.hpp"
#include "datasets/output_files.hpp"
#include "datasets/synth.hpp"
#include "trainer/commands/commands.hpp"
#include "trainer/outputs/progress.hpp"
#include "trainer/outputs/run_lock.hpp"

namespace resilinet {
namespace {

const std::vector<std::string> kConfigKeys = {"generator", "seed",         "cells",   "regions",
                                              "width",     "height",       "shard_rows", "block_rows",
                                              "missing_rate", "deflate",   "noise"};
const std::vector<std::string> kRegionKeys = {"name",       "width",      "height",  "cells",
                                              "origin_lon", "origin_lat", "cell_deg"};

// What the YAML file or the command line set; unset values fall through to the next source.
struct SynthSettings {
  std::optional<std::string> generator;
  std::optional<uint64_t> seed;
  std::optional<size_t> cells, regions, width, height, shard_rows, block_rows;
  std::optional<double> missing_rate, noise;
  std::optional<int> deflate;
  std::vector<SynthRegion> region_list;  // explicit regions from the YAML file
};

template <class T>
T scalar(const YAML::Node& v, const std::string& file, const std::string& key, const char* what) {
  try {
    if (!v.IsScalar()) throw YAML::Exception({}, "");
    if constexpr (std::is_unsigned_v<T>) {
      if (v.as<std::string>().find('-') != std::string::npos) throw YAML::Exception({}, "");
    }
    return v.as<T>();
  } catch (const YAML::Exception&) {
    throw InputError(file, key, what, v.IsScalar() ? "'" + v.as<std::string>() + "'" : "a list or map");
  }
}

SynthSettings read_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path, "--config", "a readable synth YAML file", "no such file");
  std::stringstream text;
  text << in.rdbuf();
  YAML::Node root;
  try {
    root = YAML::Load(text.str());
  } catch (const YAML::Exception& e) {
    throw InputError(path, "line " + std::to_string(e.mark.line + 1), "valid YAML", e.msg);
  }
  SynthSettings s;
  if (!root || root.IsNull()) return s;
  if (!root.IsMap()) throw InputError(path, "<top level>", "a map with keys " + join_names(kConfigKeys));
  known_map_keys(root, kConfigKeys, path, "");
  const char* count = "a non-negative integer";
  if (root["generator"])
    s.generator = scalar<std::string>(root["generator"], path, "generator", "a generator name");
  if (root["seed"]) s.seed = scalar<uint64_t>(root["seed"], path, "seed", count);
  if (root["cells"]) s.cells = scalar<size_t>(root["cells"], path, "cells", count);
  if (root["width"]) s.width = scalar<size_t>(root["width"], path, "width", count);
  if (root["height"]) s.height = scalar<size_t>(root["height"], path, "height", count);
  if (root["shard_rows"]) s.shard_rows = scalar<size_t>(root["shard_rows"], path, "shard_rows", count);
  if (root["block_rows"]) s.block_rows = scalar<size_t>(root["block_rows"], path, "block_rows", count);
  if (root["missing_rate"]) s.missing_rate = scalar<double>(root["missing_rate"], path, "missing_rate", "a number");
  if (root["noise"]) s.noise = scalar<double>(root["noise"], path, "noise", "a number");
  if (root["deflate"]) s.deflate = scalar<int>(root["deflate"], path, "deflate", "an integer 0..9");
  if (YAML::Node regions = root["regions"]) {
    if (regions.IsScalar()) {
      s.regions = scalar<size_t>(regions, path, "regions", "a number of regions or a list of regions");
    } else if (regions.IsSequence()) {
      for (size_t i = 0; i < regions.size(); ++i) {
        const std::string at = fmt::format("regions[{}]", i);
        const YAML::Node g = regions[i];
        if (!g.IsMap()) throw InputError(path, at, "a map with keys " + join_names(kRegionKeys));
        known_map_keys(g, kRegionKeys, path, at);
        for (const char* key : {"name", "width", "height"})
          if (!g[key]) throw InputError(path, at + "." + key, "a value (the key is required)", "nothing");
        SynthRegion r = regions_for_grid(scalar<size_t>(g["width"], path, at + ".width", count),
                                         scalar<size_t>(g["height"], path, at + ".height", count),
                                         i + 1).back();
        r.name = scalar<std::string>(g["name"], path, at + ".name", "a string");
        if (g["cells"]) r.cells = scalar<size_t>(g["cells"], path, at + ".cells", count);
        if (g["origin_lon"]) r.origin_lon = scalar<double>(g["origin_lon"], path, at + ".origin_lon", "a number");
        if (g["origin_lat"]) r.origin_lat = scalar<double>(g["origin_lat"], path, at + ".origin_lat", "a number");
        if (g["cell_deg"]) r.cell_deg = scalar<double>(g["cell_deg"], path, at + ".cell_deg", "a number");
        s.region_list.push_back(r);
      }
      if (s.region_list.empty()) throw InputError(path, "regions", "at least one region", "an empty list");
    } else {
      throw InputError(path, "regions", "a number of regions or a list of regions", "a map");
    }
  }
  return s;
}

// Command line over config file over defaults.
SynthOptions resolve(const SynthSettings& file, const SynthSettings& cli, const std::string& config_path) {
  auto pick = [](const auto& a, const auto& b, auto fallback) { return a ? *a : b ? *b : fallback; };
  SynthOptions o;
  o.generator = pick(cli.generator, file.generator, o.generator);
  o.seed = pick(cli.seed, file.seed, uint64_t(0));
  o.shard_rows = pick(cli.shard_rows, file.shard_rows, o.shard_rows);
  o.block_rows = pick(cli.block_rows, file.block_rows, o.block_rows);
  o.missing_rate = cli.missing_rate ? cli.missing_rate : file.missing_rate;  // unset: the generator's default
  o.noise = pick(cli.noise, file.noise, o.noise);
  o.deflate_level = pick(cli.deflate, file.deflate, o.deflate_level);

  const std::string where = config_path.empty() ? "command line" : config_path + " + command line";
  const bool cli_layout = cli.cells || cli.width || cli.height || cli.regions;
  if (!file.region_list.empty() && !cli_layout) {
    o.regions = file.region_list;
    for (auto& g : o.regions)
      if (g.cells == 0) g.cells = g.width * g.height;
    return o;
  }
  // Command-line values override the file's key by key; --cells drops the file's width/height and
  // --width/--height drop its cells.
  if (cli.cells && (cli.width || cli.height))
    throw InputError("command line", "--cells", "either --cells or --width/--height", "both");
  SynthSettings layout = file;
  if (cli.cells) layout.cells = cli.cells, layout.width.reset(), layout.height.reset();
  if (cli.width || cli.height) layout.cells.reset();
  if (cli.width) layout.width = cli.width;
  if (cli.height) layout.height = cli.height;
  if (cli.regions) layout.regions = cli.regions;
  const size_t regions = layout.regions.value_or(kDefaultSynthRegions);
  if (regions == 0 || regions > 100000)
    throw InputError(where, "--regions", "a number of regions in [1, 100000]", std::to_string(regions));
  if (layout.cells && (layout.width || layout.height))
    throw InputError(where, "--cells", "either --cells or --width/--height", "both");
  if (layout.width || layout.height) {
    if (!layout.width || !layout.height)
      throw InputError(where, layout.width ? "--height" : "--width", "--width and --height together",
                       "only one of them");
    o.regions = regions_for_grid(*layout.width, *layout.height, regions);
  } else {
    const size_t cells = layout.cells.value_or(kDefaultSynthCells);
    // 2^40 is the most validate_synth_options allows in a region; past it the error would name a
    // region's grid instead of the number that was given.
    if (cells < regions || cells > (size_t(1) << 40))
      throw InputError(where, "--cells", fmt::format("at least one cell per region (>= {}) and at most 2^40", regions),
                       std::to_string(cells));
    o.regions = regions_for_cells(cells, regions);
  }
  return o;
}

}  // namespace

void add_synth_command(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "synth", "Write synthetic region shards with planted levels (default: 3 regions, 100,000 cells)");
  struct Args {
    std::string out, config, generator;
    uint64_t seed = 0;
    size_t cells = 0, regions = 0, width = 0, height = 0, shard_rows = 0;
    double missing_rate = 0, noise = 0;
    int deflate = 0;
    bool overwrite = false, quiet = false;
  };
  auto args = std::make_shared<Args>();
  sub->add_option("--out", args->out, "Output folder for part-00000.h5, ... and synth.yaml (the options used)")
      ->required();
  sub->add_option("--config", args->config, "YAML file of generator settings (configs/schema/README.md)");
  auto* generator = sub->add_option("--generator", args->generator,
                                    "metro (default: smooth patches, convex curves), factors (Voronoi patches, "
                                    "factor clusters, Student-t noise) or skewed (log-normal noise, regional "
                                    "shifts, urbanity); configs/schema/README.md");
  auto* cells = sub->add_option("--cells", args->cells, "Total cells, split over the regions (default 100000)");
  auto* width = sub->add_option("--width", args->width, "Cells per region along x (with --height)");
  auto* height = sub->add_option("--height", args->height, "Cells per region along y (with --width)");
  auto* regions = sub->add_option("--regions", args->regions, "Number of regions (default 3)");
  auto* seed = sub->add_option("--seed", args->seed, "Seed; the same seed and options give the same bytes");
  auto* shard_rows = sub->add_option("--shard-rows", args->shard_rows, "Rows per shard file (default 1000000)");
  auto* missing = sub->add_option("--missing-rate", args->missing_rate,
                                  "Share of feature values left missing (default: metro 0.15, more of them at "
                                  "low levels; factors and skewed 0.05, completely at random)");
  auto* deflate = sub->add_option("--deflate", args->deflate, "Deflate level 0..9 (default 0: uncompressed)");
  auto* noise = sub->add_option("--noise", args->noise, "Factor on the within-level noise (default 1)");
  sub->add_flag("--overwrite", args->overwrite, "Replace existing part-*.h5 files in the output folder");
  sub->add_flag("--quiet", args->quiet, "No progress line and no summary");

  sub->callback([=] {
    SynthSettings file = args->config.empty() ? SynthSettings{} : read_config(args->config);
    SynthSettings cli;
    if (generator->count()) cli.generator = args->generator;
    if (cells->count()) cli.cells = args->cells;
    if (width->count()) cli.width = args->width;
    if (height->count()) cli.height = args->height;
    if (regions->count()) cli.regions = args->regions;
    if (seed->count()) cli.seed = args->seed;
    if (shard_rows->count()) cli.shard_rows = args->shard_rows;
    if (missing->count()) cli.missing_rate = args->missing_rate;
    if (deflate->count()) cli.deflate = args->deflate;
    if (noise->count()) cli.noise = args->noise;

    SynthOptions options = resolve(file, cli, args->config);
    options.overwrite = args->overwrite;
    validate_synth_options(options, args->config.empty() ? "command line" : args->config);

    // One synth at a time per folder (a second exits 2); the folder is made for the lock, and
    // checked as an output folder by generate_synthetic.
    make_output_dir(args->out, "--out");
    const RunLock lock(args->out, "--out");
    size_t total = 0;
    for (const auto& g : options.regions) total += g.cells;
    // A live line only on a terminal; logs and tests get the summary alone.
    Progress progress("", args->quiet || !isatty(fileno(stderr)));
    progress.begin("synth", total);
    SynthSummary s = generate_synthetic(options, args->out, [&](size_t done, size_t all) {
      progress.update(done, fmt::format("cells {}/{}", done, all), done);
    });
    progress.end(fmt::format("{} cells", s.cells));
    if (args->quiet) return;
    std::printf("synth: %zu cells in %zu regions (%s) -> %zu shard(s) in %s, %.1f s\n", s.cells,
                s.region_names.size(), join_names(s.region_names).c_str(), s.shard_paths.size(),
                args->out.c_str(), s.seconds);
    std::printf("generator %s; planted levels 1..5: %zu %zu %zu %zu %zu; missing feature values: %zu (%.2f%%)\n",
                s.generator.c_str(), s.level_cells[0], s.level_cells[1], s.level_cells[2], s.level_cells[3],
                s.level_cells[4], s.missing_values, 100.0 * double(s.missing_values) / double(std::max<size_t>(1, s.cells * default_schema().size())));
    std::printf("grouping %s: %zu units; population: %.0f residents\n", kSynthGrouping, s.districts, s.population);
  });
}

}  // namespace resilinet
