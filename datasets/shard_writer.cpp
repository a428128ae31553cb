// ShardWriter: writes one HDF5 feature shard (docs/FORMAT.md) under a temporary name in the target
// directory, appending validated blocks of rows, and renames it into place on commit() so a reader
// never sees a half-written shard. Reading and validating shards is shard_reader.cpp.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>
#include <stdexcept>

#include <fmt/format.h>

#include "datasets/h5.hpp"
#include "datasets/input_error.hpp"
#include "datasets/shard.hpp"
#include "datasets/text.hpp"

namespace resilinet {

void ShardColumns::resize(size_t n, size_t features_per_row, bool with_hazard,
                          bool with_external_rating, bool with_planted_level, size_t groupings,
                          bool with_population) {
  rows = n;
  features.resize(n * features_per_row);
  cell_id.resize(n);
  lonlat.resize(n * 2);
  region.resize(n);
  // Absent optional columns are empty, as ShardColumns promises.
  if (with_hazard) hazard.resize(n); else hazard.clear();
  if (with_external_rating) external_rating.resize(n); else external_rating.clear();
  if (with_planted_level) planted_level.resize(n); else planted_level.clear();
  groups.resize(n * groupings);
  if (with_population) population.resize(n); else population.clear();
}

namespace {

void check_column(const char* column, size_t found, size_t expected, const char* why) {
  if (found != expected)
    throw std::invalid_argument(std::string("ShardWriter::append: column ") + column + " has " +
                                std::to_string(found) + " values, expected " +
                                std::to_string(expected) + " (" + why + ")");
}

void fsync_path(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags);
  if (fd < 0) return;  // best effort: the rename below is what makes the shard appear
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

void check_shard_schema(const Schema& schema, const std::vector<std::string>& region_names,
                        const std::string& path) {
  if (schema.size() == 0) throw InputError(path, "feature_names", "at least one feature", "none");
  std::set<std::string> names;
  const auto& components = known_components();
  for (size_t i = 0; i < schema.size(); ++i) {
    const FeatureSpec& f = schema.features[i];
    check_name(path, fmt::format("feature_names[{}]", i), f.name);
    std::string at = fmt::format("[{}] ({})", i, f.name);
    check_name(path, "feature_system" + at, f.system);
    check_name(path, "feature_unit" + at, f.unit);
    if (f.name.empty()) throw InputError(path, "feature_names" + at, "a non-empty name", "''");
    if (!names.insert(f.name).second)
      throw InputError(path, "feature_names" + at, "unique feature names", "a duplicate");
    if (std::find(components.begin(), components.end(), f.component) == components.end())
      throw InputError(path, "feature_component" + at,
                       "robustness, redundancy or resourcefulness", "'" + f.component + "'");
    if (f.direction != 1 && f.direction != -1)
      throw InputError(path, "feature_direction" + at, "+1 or -1", std::to_string(f.direction));
  }
  for (size_t i = 0; i < region_names.size(); ++i)
    check_name(path, fmt::format("region_names[{}]", i), region_names[i]);
}

std::string grouping_name_problem(const std::string& name) {
  if (name.empty() || name.size() > 64) return fmt::format("{} bytes", name.size());
  if (name[0] == '.') return "a name starting with '.'";
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'))
      return "a character other than ASCII letters, digits, '_', '-' and '.'";
  if (name == "region") return "'region', the name roll-ups give the regions";
  return "";
}

void check_shard_groups(const std::vector<ShardGrouping>& groups, const std::string& path) {
  if (groups.size() > kMaxGroupings)
    throw InputError(path, "/groups", fmt::format("at most {} groupings", kMaxGroupings),
                     std::to_string(groups.size()));
  for (size_t g = 0; g < groups.size(); ++g) {
    const std::string& name = groups[g].name;
    check_name(path, "/groups", name);  // first, so that the messages below print valid text
    if (const std::string problem = grouping_name_problem(name); !problem.empty())
      throw InputError(path, "/groups/" + printable(name),
                       "a grouping name of 1..64 ASCII letters, digits, '_', '-' or '.' (not 'region')",
                       problem);
    if (g > 0 && !(groups[g - 1].name < name))
      throw InputError(path, "/groups/" + name, "groupings sorted by name, each once",
                       "after '" + groups[g - 1].name + "'");
    for (size_t i = 0; i < groups[g].labels.size(); ++i)
      check_name(path, fmt::format("/groups/{} labels[{}]", name, i), groups[g].labels[i]);
  }
}

struct ShardWriter::Impl {
  std::string final_path;
  std::string temp_path;
  Schema schema;
  std::vector<std::string> region_names;
  ShardWriterOptions options;
  size_t rows = 0;
  bool committed = false;

  h5::File file;
  h5::Dataset features, cell_id, lonlat, region, hazard, external_rating, planted_level, population;
  std::vector<h5::Dataset> groups;  // /groups/<name>, in options.groups order
  std::vector<uint32_t> group_column;

  void close_all() {
    for (h5::Dataset* d : {&features, &cell_id, &lonlat, &region, &hazard, &external_rating,
                           &planted_level, &population})
      d->reset();
    groups.clear();
    file.reset();
  }
};

ShardWriter::ShardWriter(std::string final_path, Schema schema,
                         std::vector<std::string> region_names, ShardWriterOptions options)
    : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  s.final_path = std::move(final_path);
  s.schema = std::move(schema);
  s.region_names = std::move(region_names);
  s.options = options;
  check_shard_schema(s.schema, s.region_names, s.final_path);
  check_shard_groups(s.options.groups, s.final_path);
  const size_t F = s.schema.size();
  if (options.chunk_rows == 0 || options.chunk_rows * F * sizeof(float) >= (size_t(1) << 32))
    throw std::invalid_argument("ShardWriter: chunk_rows " + std::to_string(options.chunk_rows) +
                                " must be > 0 and give chunks below 4 GiB for " +
                                std::to_string(F) + " features");
  if (options.deflate_level < 0 || options.deflate_level > 9)
    throw std::invalid_argument("ShardWriter: deflate_level must be 0..9, got " +
                                std::to_string(options.deflate_level));

  std::filesystem::path target(s.final_path);
  std::filesystem::path dir = target.parent_path().empty() ? "." : target.parent_path();
  if (!std::filesystem::is_directory(dir))
    throw InputError(s.final_path, "", "an existing output directory", dir.string() + " missing");
  s.temp_path = s.final_path + ".tmp-" + std::to_string(::getpid());

  try {
    s.file = h5::create_file(s.temp_path);
    h5::write_string_attribute(s.file, "format", kShardFormat);
    h5::write_int32_attribute(s.file, "format_version", kShardFormatVersion);
    std::vector<std::string> names, systems, components, units;
    std::vector<int8_t> directions;
    for (const auto& f : s.schema.features) {
      names.push_back(f.name);
      systems.push_back(f.system);
      components.push_back(f.component);
      units.push_back(f.unit);
      directions.push_back(static_cast<int8_t>(f.direction));
    }
    h5::write_string_array_attribute(s.file, "feature_names", names);
    h5::write_string_array_attribute(s.file, "feature_system", systems);
    h5::write_string_array_attribute(s.file, "feature_component", components);
    h5::write_string_array_attribute(s.file, "feature_unit", units);
    h5::write_int8_array_attribute(s.file, "feature_direction", directions);
    h5::write_string_array_attribute(s.file, "region_names", s.region_names);

    const hsize_t chunk = options.chunk_rows;
    const int level = options.deflate_level;
    s.features = h5::create_row_dataset(s.file, "features", H5T_IEEE_F32LE, F, chunk, level);
    s.cell_id = h5::create_row_dataset(s.file, "cell_id", H5T_STD_I64LE, 0, chunk, level);
    s.lonlat = h5::create_row_dataset(s.file, "lonlat", H5T_IEEE_F64LE, 2, chunk, level);
    s.region = h5::create_row_dataset(s.file, "region", H5T_STD_U32LE, 0, chunk, level);
    if (options.has_hazard)
      s.hazard = h5::create_row_dataset(s.file, "hazard", H5T_IEEE_F32LE, 0, chunk, level);
    if (options.has_external_rating)
      s.external_rating =
          h5::create_row_dataset(s.file, "external_rating", H5T_STD_I8LE, 0, chunk, level);
    if (options.has_planted_level)
      s.planted_level =
          h5::create_row_dataset(s.file, "planted_level", H5T_STD_I8LE, 0, chunk, level);
    if (options.has_population)
      s.population = h5::create_row_dataset(s.file, "population", H5T_IEEE_F32LE, 0, chunk, level);
    if (!options.groups.empty()) {
      h5::Group groups = h5::create_group(s.file, "groups");
      for (const ShardGrouping& g : options.groups) {
        s.groups.push_back(h5::create_row_dataset(groups, g.name, H5T_STD_U32LE, 0, chunk, level));
        h5::write_string_array_attribute(s.groups.back(), "labels", g.labels);
      }
    }
  } catch (...) {
    s.close_all();
    std::error_code ignored;
    std::filesystem::remove(s.temp_path, ignored);
    throw;
  }
}

ShardWriter::~ShardWriter() {
  if (!impl_ || impl_->committed) return;
  impl_->close_all();
  std::error_code ignored;
  std::filesystem::remove(impl_->temp_path, ignored);
}

void ShardWriter::append(const ShardColumns& block) {
  Impl& s = *impl_;
  if (s.committed) throw std::logic_error("ShardWriter::append after commit: " + s.final_path);
  const size_t n = block.rows;
  check_column("features", block.features.size(), n * s.schema.size(), "rows x features");
  check_column("cell_id", block.cell_id.size(), n, "rows");
  check_column("lonlat", block.lonlat.size(), n * 2, "rows x 2");
  check_column("region", block.region.size(), n, "rows");
  check_column("hazard", block.hazard.size(), s.options.has_hazard ? n : 0,
               s.options.has_hazard ? "has_hazard is set" : "has_hazard is not set");
  check_column("external_rating", block.external_rating.size(),
               s.options.has_external_rating ? n : 0,
               s.options.has_external_rating ? "has_external_rating is set"
                                             : "has_external_rating is not set");
  check_column("planted_level", block.planted_level.size(), s.options.has_planted_level ? n : 0,
               s.options.has_planted_level ? "has_planted_level is set"
                                           : "has_planted_level is not set");
  const size_t G = s.options.groups.size();
  check_column("groups", block.groups.size(), n * G, "rows x groupings");
  check_column("population", block.population.size(), s.options.has_population ? n : 0,
               s.options.has_population ? "has_population is set" : "has_population is not set");
  for (size_t i = 0; i < n; ++i) {
    if (block.region[i] >= s.region_names.size())
      throw InputError(s.final_path, "/region",
                       "an index below " + std::to_string(s.region_names.size()) +
                           " (the number of region_names)",
                       std::to_string(block.region[i]) + " at row " + std::to_string(s.rows + i));
  }
  for (size_t i = 0; i < block.external_rating.size(); ++i) {
    int r = block.external_rating[i];
    if (r < 0 || r > 5)
      throw InputError(s.final_path, "/external_rating", "a level 1..5 or 0 for none",
                       std::to_string(r) + " at row " + std::to_string(s.rows + i));
  }
  for (size_t k = 0; k < block.groups.size(); ++k) {
    const ShardGrouping& g = s.options.groups[k % G];
    if (block.groups[k] >= g.labels.size())
      throw InputError(s.final_path, "/groups/" + g.name,
                       fmt::format("a code below {} (the number of labels)", g.labels.size()),
                       fmt::format("{} at row {}", block.groups[k], s.rows + k / G));
  }
  for (size_t i = 0; i < block.population.size(); ++i)
    if (!valid_population(block.population[i]))
      throw InputError(s.final_path, "/population", kPopulationExpected,
                       fmt::format("{:g} at row {}", block.population[i], s.rows + i));
  if (n == 0) return;

  h5::write_rows(s.features, H5T_NATIVE_FLOAT, s.rows, n, block.features.data());
  h5::write_rows(s.cell_id, H5T_NATIVE_INT64, s.rows, n, block.cell_id.data());
  h5::write_rows(s.lonlat, H5T_NATIVE_DOUBLE, s.rows, n, block.lonlat.data());
  h5::write_rows(s.region, H5T_NATIVE_UINT32, s.rows, n, block.region.data());
  if (s.options.has_hazard) h5::write_rows(s.hazard, H5T_NATIVE_FLOAT, s.rows, n, block.hazard.data());
  if (s.options.has_external_rating)
    h5::write_rows(s.external_rating, H5T_NATIVE_INT8, s.rows, n, block.external_rating.data());
  if (s.options.has_planted_level)
    h5::write_rows(s.planted_level, H5T_NATIVE_INT8, s.rows, n, block.planted_level.data());
  if (s.options.has_population)
    h5::write_rows(s.population, H5T_NATIVE_FLOAT, s.rows, n, block.population.data());
  for (size_t g = 0; g < G; ++g) {  // rows x groupings in memory, one dataset per grouping on disk
    s.group_column.resize(n);
    for (size_t i = 0; i < n; ++i) s.group_column[i] = block.groups[i * G + g];
    h5::write_rows(s.groups[g], H5T_NATIVE_UINT32, s.rows, n, s.group_column.data());
  }
  s.rows += n;
}

void ShardWriter::commit() {
  Impl& s = *impl_;
  if (s.committed) throw std::logic_error("ShardWriter::commit called twice: " + s.final_path);
  RESILINET_H5(H5Fflush(s.file, H5F_SCOPE_GLOBAL));
  for (h5::Dataset* d : {&s.features, &s.cell_id, &s.lonlat, &s.region, &s.hazard,
                         &s.external_rating, &s.planted_level, &s.population})
    d->close("H5Dclose");
  for (h5::Dataset& d : s.groups) d.close("H5Dclose");
  s.file.close("H5Fclose");
  // Data on disk before the name appears, and the new name on disk before we report success.
  fsync_path(s.temp_path, O_RDONLY);
  std::filesystem::rename(s.temp_path, s.final_path);
  std::filesystem::path dir = std::filesystem::path(s.final_path).parent_path();
  fsync_path(dir.empty() ? "." : dir.string(), O_RDONLY | O_DIRECTORY);
  s.committed = true;
}

size_t ShardWriter::rows_written() const { return impl_->rows; }

}  // namespace resilinet
