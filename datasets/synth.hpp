// The synthetic region generator behind `resilinet synth`: grids of cells with a planted,
// spatially coherent resilience level (1..5) and 12 features that depend on it nonlinearly, with
// noise, interactions across systems, a hazard column and missing values. Several generators
// (`metro`, `factors`, `skewed`) plant levels with different geometry, noise and missingness; all
// write the same schema. Streams in blocks whose randomness derives from (seed, region, block), so
// output is byte-identical for the same options and memory does not grow with the cell count. It
// does not train or rate anything.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "datasets/schema.hpp"
#include "datasets/shard.hpp"

namespace resilinet {

// One rectangular region: cells in row-major order from the south-west corner; the first `cells`
// cells of the width x height grid are generated (the last row may be partial).
struct SynthRegion {
  std::string name;
  size_t width = 0;
  size_t height = 0;
  size_t cells = 0;  // 0 = width * height
  double origin_lon = 0;  // south-west corner of the grid, degrees
  double origin_lat = 0;
  double cell_deg = 0.005;  // cell size in degrees (about 500 m)
  bool operator==(const SynthRegion&) const = default;
};

struct SynthOptions {
  uint64_t seed = 0;
  std::string generator = "metro";   // one of synth_generator_names()
  std::vector<SynthRegion> regions;  // empty = default_regions()
  size_t shard_rows = 1'000'000;
  size_t block_rows = 65536;         // unit of randomness and of the parallel generation
  // Share of feature values set to NaN; unset = the generator's default_missing_rate().
  std::optional<double> missing_rate;
  int deflate_level = 0;
  double noise = 1.0;                // multiplies the within-level noise of every feature
  bool overwrite = false;            // replace existing part-*.h5 files in the output folder
};

struct SynthSummary {
  std::string generator;
  double missing_rate = 0;  // as resolved for the generator
  size_t cells = 0;
  std::vector<std::string> shard_paths;
  std::string manifest_path;  // out_dir/synth.yaml
  std::vector<std::string> region_names;
  std::array<size_t, 5> level_cells{};  // planted level 1..5
  size_t missing_values = 0;
  size_t districts = 0;    // labels of the `district` grouping
  double population = 0;   // residents in all cells
  double seconds = 0;
};

// rows_done of rows_total generated and written so far.
using SynthProgress = std::function<void(size_t rows_done, size_t rows_total)>;

inline constexpr size_t kDefaultSynthCells = 100'000;
inline constexpr size_t kDefaultSynthRegions = 3;
inline constexpr const char* kSynthManifestName = "synth.yaml";
// The grouping every generator writes (/groups/district): blocks of a coarse grid in each region.
inline constexpr const char* kSynthGrouping = "district";

// The generators, default first: metro, factors, skewed.
const std::vector<std::string>& synth_generator_names();
// The missing_rate a generator uses when none is given: 0.15 for metro (more missing at low
// levels), 0.05 for the others (missing completely at random). Throws std::invalid_argument for an
// unknown name.
double default_missing_rate(const std::string& generator);

// The 12 default features (the same as configs/schema/default.yaml), built in code.
Schema default_schema();
// Region names: metro-a .. metro-z, then region-27, region-28, ...
std::string synth_region_name(size_t index);
// `cells` split over `regions` near-square regions with distinct origins (cell size shrinks for
// very large regions so that a region spans at most about 10 degrees).
std::vector<SynthRegion> regions_for_cells(size_t cells, size_t regions);
// `regions` regions of width x height cells each.
std::vector<SynthRegion> regions_for_grid(size_t width, size_t height, size_t regions);
// The default synthetic region set: 3 regions, 100,000 cells.
std::vector<SynthRegion> default_regions();

// Throws InputError (file = source, e.g. "command line" or a config path) on bad options.
void validate_synth_options(const SynthOptions& options, const std::string& source);

namespace synth {
class Generator;
}

// The pure part: everything decided before any cell is drawn (level field, thresholds, offsets).
class SynthPlan {
 public:
  explicit SynthPlan(SynthOptions options);
  ~SynthPlan();
  SynthPlan(const SynthPlan&) = delete;
  SynthPlan& operator=(const SynthPlan&) = delete;

  // The options as resolved: regions and missing_rate are set.
  const SynthOptions& options() const { return options_; }
  const Schema& schema() const { return schema_; }
  std::vector<std::string> region_names() const;
  size_t total_cells() const { return total_cells_; }
  size_t region_cells(size_t region) const;
  size_t region_blocks(size_t region) const;
  uint64_t first_cell_id(size_t region) const { return first_id_[region]; }

  // The planted level (1..5) of the cell at column x, row y of a region.
  int level_at(size_t region, size_t x, size_t y) const;
  // Labels of the district grouping, region after region ("metro-a/d00", ...): each region is cut
  // into square blocks of a coarse grid (at most 5 x 5, shifted by an offset drawn from the seed).
  const std::vector<std::string>& district_labels() const { return district_labels_; }
  // The district (an index into district_labels()) of the cell at column x, row y of a region.
  uint32_t district_at(size_t region, size_t x, size_t y) const;
  // [first, end) of district_labels(): the districts of the regions that hold the cells
  // [first_cell, first_cell + cells) of the output order (regions one after another).
  std::pair<uint32_t, uint32_t> district_range(size_t first_cell, size_t cells) const;
  // Fills out with the cells [block * block_rows, ...) of a region (all columns incl. hazard and
  // planted_level; not the district and population). Depends only on (seed, options, region, block).
  void generate_block(size_t region, size_t block, ShardColumns& out) const;
  // Adds the district (groups, one grouping: codes into district_labels()) and the population of
  // the cells generate_block(region, block, out) filled. Depends only on (seed, options, region,
  // block), from a stream of its own.
  void generate_districts(size_t region, size_t block, ShardColumns& out) const;

 private:
  // Per region: the district grid and the centre the population density peaks at.
  struct Districts {
    size_t side = 1, offset_x = 0, offset_y = 0, columns = 1;
    uint32_t first_label = 0;
    double centre_x = 0.5, centre_y = 0.5;  // share of the width and height
  };
  SynthOptions options_;
  Schema schema_;
  std::unique_ptr<const synth::Generator> generator_;
  std::vector<uint64_t> first_id_;
  size_t total_cells_ = 0;
  void plan_districts();
  std::vector<Districts> districts_;
  std::vector<std::string> district_labels_;
};

// Writes out_dir/part-00000.h5, ... through ShardWriter (temporary file + rename), then
// out_dir/synth.yaml: the generator and the resolved options as a synth config that writes the same
// shards again. Refuses a folder that already holds .h5 files unless options.overwrite.
SynthSummary generate_synthetic(const SynthOptions& options, const std::string& out_dir,
                                const SynthProgress& progress = {});

}  // namespace resilinet
