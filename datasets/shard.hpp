// HDF5 feature shards (docs/FORMAT.md): one file of N cells, written to a temporary name and renamed
// when complete, read back in slabs of rows. Not thread-safe: HDF5 is used from one thread per process.
#pragma once
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "datasets/schema.hpp"

namespace resilinet {

inline constexpr const char* kShardFormat = "resilinet-shard";
inline constexpr int kShardFormatVersion = 1;

// A block of rows held in memory. features is row-major [rows x F]; lonlat is [rows x 2].
// Optional columns are empty when absent.
// The largest feature magnitude a shard may hold (readers refuse more): counts, rates and dollar
// amounts stay far below it, and sums of squares over billions of cells still fit a double.
inline constexpr float kMaxFeatureMagnitude = 1e18f;

// A grouping of the cells beside their region (county, tract, district): the shard's
// /groups/<name> holds each cell's code into `labels`. Groupings are kept sorted by name, the order
// HDF5 lists them in, so every shard and every reader sees the same order.
struct ShardGrouping {
  std::string name;
  std::vector<std::string> labels;
  bool operator==(const ShardGrouping&) const = default;
};
inline constexpr size_t kMaxGroupings = 32;

// /population: residents per cell, NaN where unknown; a weight must be finite and not negative.
inline bool valid_population(float v) { return std::isnan(v) || (v >= 0 && v <= kMaxFeatureMagnitude); }
inline constexpr const char* kPopulationExpected =
    "a number of residents >= 0 and at most 1e+18 (NaN = missing)";

struct ShardColumns {
  size_t rows = 0;
  std::vector<float> features;
  std::vector<int64_t> cell_id;
  std::vector<double> lonlat;
  std::vector<uint32_t> region;
  std::vector<float> hazard;
  std::vector<int8_t> external_rating;
  std::vector<int8_t> planted_level;
  std::vector<uint32_t> groups;   // [rows x groupings]: codes into each grouping's labels
  std::vector<float> population;  // residents; NaN = missing

  void clear() { *this = ShardColumns{}; }
  // Resizes every present column to n rows for F features (optional ones only if flagged).
  void resize(size_t n, size_t features_per_row, bool with_hazard, bool with_external_rating,
              bool with_planted_level, size_t groupings = 0, bool with_population = false);
};

struct ShardMeta {
  std::string path;
  Schema schema;
  std::vector<std::string> region_names;
  size_t rows = 0;
  int format_version = 0;
  bool has_hazard = false;
  bool has_external_rating = false;
  bool has_planted_level = false;
  std::vector<ShardGrouping> groups;  // sorted by name; empty without /groups
  bool has_population = false;
};

struct ShardWriterOptions {
  size_t chunk_rows = 65536;
  int deflate_level = 0;  // 0 = uncompressed; 1..9 = deflate with shuffle
  bool has_hazard = false;
  bool has_external_rating = false;
  bool has_planted_level = false;
  std::vector<ShardGrouping> groups;  // /groups/<name>, sorted by name (check_shard_groups)
  bool has_population = false;
};

// Writes one shard. Rows are appended in blocks; commit() closes the file and renames the temporary
// file to its final name. Destroying an uncommitted writer removes the temporary file.
class ShardWriter {
 public:
  ShardWriter(std::string final_path, Schema schema, std::vector<std::string> region_names,
              ShardWriterOptions options = {});
  ~ShardWriter();
  ShardWriter(const ShardWriter&) = delete;
  ShardWriter& operator=(const ShardWriter&) = delete;

  void append(const ShardColumns& block);
  void commit();
  size_t rows_written() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The schema and region-name rules every shard obeys, on writing and on reading: at least one
// feature, unique non-empty names, known components, directions +-1, and names that are UTF-8
// without control characters (datasets/text.hpp). Throws InputError naming path and the field.
void check_shard_schema(const Schema& schema, const std::vector<std::string>& region_names,
                        const std::string& path);

// What is wrong with `name` as a grouping name ("" when nothing is): 1..64 ASCII letters, digits,
// '_', '-' or '.', not starting with '.', and not "region" (the roll-ups' name for regions). Such a
// name is an HDF5 link name, a CSV column and a JSON key as it stands.
std::string grouping_name_problem(const std::string& name);
// The grouping rules, on writing and on reading: at most kMaxGroupings, valid names in sorted order
// without repeats, labels that are names (datasets/text.hpp). Throws InputError naming path.
void check_shard_groups(const std::vector<ShardGrouping>& groups, const std::string& path);

// Opens and validates one shard (format, version, dtypes, shapes, attributes); throws InputError
// naming the file and the dataset or attribute at fault.
class ShardReader {
 public:
  explicit ShardReader(const std::string& path);
  ~ShardReader();
  ShardReader(ShardReader&&) noexcept;
  ShardReader& operator=(ShardReader&&) noexcept;

  const ShardMeta& meta() const;
  // Reads rows [first, first+count) of every present column into out (resized to count rows).
  void read_rows(size_t first, size_t count, ShardColumns& out) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace resilinet
