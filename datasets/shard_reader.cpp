// ShardReader: opens one HDF5 feature shard, validates all of it that can be checked without reading
// the rows (format, version, dtypes, shapes, schema attributes) and reads contiguous slabs of rows.
// Writing shards is shard_writer.cpp; opening a set of shards is shard_set.cpp.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>

#include "datasets/h5.hpp"
#include "datasets/h5_columns.hpp"
#include "datasets/input_error.hpp"
#include "datasets/text.hpp"
#include "datasets/untrusted_file.hpp"
#include "datasets/shard.hpp"

namespace resilinet {
namespace {

// field: how messages name the attribute (default: its name).
std::vector<std::string> read_string_array(hid_t location, const std::string& path,
                                           const std::string& name, std::string field = "") {
  if (field.empty()) field = name;
  if (!h5::has_attribute(location, name))
    throw InputError(path, field, "a string array attribute", "missing");
  h5::Attribute attribute = h5::open_attribute(location, name);
  h5::Datatype type = h5::attribute_type(attribute);
  // An empty list written by a tool that does not type empty arrays is still an empty list.
  if (h5::attribute_elements(attribute) == 0) return {};
  if (H5Tget_class(type) != H5T_STRING)
    throw InputError(path, field, "a string array attribute", h5::type_name(type));
  std::vector<std::string> values = h5::read_strings(attribute);
  for (size_t i = 0; i < values.size(); ++i)
    check_name(path, fmt::format("{}[{}]", field, i), values[i]);
  return values;
}

std::vector<int64_t> read_integer_array(hid_t file, const std::string& path,
                                        const std::string& name) {
  if (!h5::has_attribute(file, name))
    throw InputError(path, name, "an integer array attribute", "missing");
  h5::Attribute attribute = h5::open_attribute(file, name);
  h5::Datatype type = h5::attribute_type(attribute);
  if (h5::attribute_elements(attribute) == 0) return {};
  if (H5Tget_class(type) != H5T_INTEGER)
    throw InputError(path, name, "an integer array attribute", h5::type_name(type));
  return h5::read_integers(attribute);
}

void check_length(const std::string& path, const std::string& name, size_t found, size_t features) {
  if (found != features)
    throw InputError(path, name, std::to_string(features) + " entries (one per feature)",
                     std::to_string(found));
}

Schema read_schema(hid_t file, const std::string& path) {
  std::vector<std::string> names = read_string_array(file, path, "feature_names");
  std::vector<std::string> systems = read_string_array(file, path, "feature_system");
  std::vector<std::string> components = read_string_array(file, path, "feature_component");
  std::vector<std::string> units = read_string_array(file, path, "feature_unit");
  std::vector<int64_t> directions = read_integer_array(file, path, "feature_direction");
  const size_t F = names.size();
  if (F == 0) throw InputError(path, "feature_names", "at least one feature", "none");
  check_length(path, "feature_system", systems.size(), F);
  check_length(path, "feature_component", components.size(), F);
  check_length(path, "feature_unit", units.size(), F);
  check_length(path, "feature_direction", directions.size(), F);

  Schema schema;
  for (size_t i = 0; i < F; ++i) {
    if (directions[i] != 1 && directions[i] != -1)  // before the narrowing below
      throw InputError(path, fmt::format("feature_direction[{}] ({})", i, names[i]), "+1 or -1",
                       std::to_string(directions[i]));
    schema.features.push_back(
        {names[i], systems[i], components[i], static_cast<int>(directions[i]), units[i]});
  }
  return schema;
}

void check_format(hid_t file, const std::string& path) {
  const std::string expected = std::string("the string \"") + kShardFormat + "\"";
  if (!h5::has_attribute(file, "format")) throw InputError(path, "format", expected, "missing");
  h5::Attribute format = h5::open_attribute(file, "format");
  h5::Datatype type = h5::attribute_type(format);
  if (H5Tget_class(type) != H5T_STRING || h5::attribute_elements(format) != 1)
    throw InputError(path, "format", expected, h5::type_name(type));
  std::string value = h5::read_strings(format).front();
  if (value != kShardFormat) throw InputError(path, "format", expected, "\"" + value + "\"");

  const std::string version = std::to_string(kShardFormatVersion);
  if (!h5::has_attribute(file, "format_version"))
    throw InputError(path, "format_version", version, "missing");
  h5::Attribute attribute = h5::open_attribute(file, "format_version");
  h5::Datatype version_type = h5::attribute_type(attribute);
  if (H5Tget_class(version_type) != H5T_INTEGER || h5::attribute_elements(attribute) != 1)
    throw InputError(path, "format_version", "the integer " + version,
                     h5::type_name(version_type));
  int64_t found = h5::read_integers(attribute).front();
  if (found != kShardFormatVersion)
    throw InputError(path, "format_version", version, std::to_string(found));
}

const ColumnSpec kFeatures{"features", H5T_FLOAT, 4, true, 0, "float32"};  // columns set per shard
const ColumnSpec kCellId{"cell_id", H5T_INTEGER, 8, true, 0, "int64"};
const ColumnSpec kLonLat{"lonlat", H5T_FLOAT, 8, true, 2, "float64"};
const ColumnSpec kRegion{"region", H5T_INTEGER, 4, false, 0, "uint32"};
const ColumnSpec kHazard{"hazard", H5T_FLOAT, 4, true, 0, "float32"};
const ColumnSpec kExternalRating{"external_rating", H5T_INTEGER, 1, true, 0, "int8"};
const ColumnSpec kPlantedLevel{"planted_level", H5T_INTEGER, 1, true, 0, "int8"};
const ColumnSpec kPopulation{"population", H5T_FLOAT, 4, true, 0, "float32"};
constexpr const char* kGroupsExpected = "a group of uint32 [N] datasets, one per grouping";

// The grouping names under /groups, sorted, each a hard link (a soft or external link could
// point anywhere, even into another file). Their datasets are opened by the caller.
std::vector<std::string> grouping_names(hid_t file, const std::string& path) {
  h5::Group groups;
  try {
    groups = h5::open_group(file, "groups");
  } catch (const h5::Error&) {
    throw InputError(path, "/groups", kGroupsExpected, "an object that is not a group");
  }
  std::vector<std::string> names;
  for (const h5::LinkName& link : h5::link_names(groups)) {
    check_name(path, "/groups", link.name);
    if (!link.hard)
      throw InputError(path, "/groups/" + link.name, "a dataset stored in the file", "a soft or external link");
    names.push_back(link.name);
    if (names.size() > kMaxGroupings)
      throw InputError(path, "/groups", fmt::format("at most {} groupings", kMaxGroupings), "more");
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

struct ShardReader::Impl {
  ShardMeta meta;
  h5::File file;
  h5::Dataset features, cell_id, lonlat, region, hazard, external_rating, planted_level, population;
  std::vector<h5::Dataset> groups;  // in meta.groups order
  mutable std::vector<uint32_t> group_column;  // read_rows' scratch

  void open(const std::string& path);
  void read_metadata(const std::string& path);
};

void ShardReader::Impl::open(const std::string& path) {
  meta.path = path;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw InputError(path, "", "an existing shard file",
                     std::filesystem::exists(path, ec) ? "not a regular file" : "no such file");
  probe_untrusted_file(path, [&] {
    Impl probe;
    probe.read_metadata(path);
  });
  read_metadata(path);
}

void ShardReader::Impl::read_metadata(const std::string& path) {
  try {
    file = h5::open_file_read_only(path);
  } catch (const h5::Error& e) {
    throw InputError(path, "", "a readable HDF5 file", e.detail());
  }
  check_format(file, path);
  meta.format_version = kShardFormatVersion;
  meta.schema = read_schema(file, path);
  meta.region_names = read_string_array(file, path, "region_names");
  check_shard_schema(meta.schema, meta.region_names, path);

  const hsize_t F = meta.schema.size();
  ColumnSpec feature_spec = kFeatures;
  feature_spec.columns = F;
  hsize_t n = 0, rows = 0;
  features = open_column(file, path, feature_spec, n);
  auto open_same_rows = [&](const ColumnSpec& spec, h5::Dataset& out) {
    out = open_column(file, path, spec, rows);
    if (rows != n)
      throw InputError(path, std::string("/") + spec.name,
                       std::to_string(n) + " rows (as /features)", std::to_string(rows));
  };
  open_same_rows(kCellId, cell_id);
  open_same_rows(kLonLat, lonlat);
  open_same_rows(kRegion, region);
  meta.has_hazard = h5::has_link(file, kHazard.name);
  meta.has_external_rating = h5::has_link(file, kExternalRating.name);
  meta.has_planted_level = h5::has_link(file, kPlantedLevel.name);
  if (meta.has_hazard) open_same_rows(kHazard, hazard);
  if (meta.has_external_rating) open_same_rows(kExternalRating, external_rating);
  if (meta.has_planted_level) open_same_rows(kPlantedLevel, planted_level);
  meta.has_population = h5::has_link(file, kPopulation.name);
  if (meta.has_population) open_same_rows(kPopulation, population);
  meta.rows = static_cast<size_t>(n);
  if (meta.rows > 0 && meta.region_names.empty())
    throw InputError(path, "region_names", "at least one region name for a non-empty shard",
                     "none");
  if (!h5::has_link(file, "groups")) return;
  for (const std::string& name : grouping_names(file, path)) {
    const std::string link = "groups/" + name, field = "/" + link;
    const ColumnSpec spec{link.c_str(), H5T_INTEGER, 4, false, 0, "uint32"};
    groups.emplace_back();
    open_same_rows(spec, groups.back());
    ShardGrouping grouping{name, read_string_array(groups.back(), path, "labels", field + " labels")};
    if (meta.rows > 0 && grouping.labels.empty())
      throw InputError(path, field + " labels", "at least one label for a non-empty shard", "none");
    if (grouping.labels.size() > size_t(INT32_MAX))  // ratings files hold the codes as int32
      throw InputError(path, field + " labels", "at most 2^31 - 1 labels", std::to_string(grouping.labels.size()));
    meta.groups.push_back(std::move(grouping));
  }
  check_shard_groups(meta.groups, path);
}

ShardReader::ShardReader(const std::string& path) : impl_(std::make_unique<Impl>()) {
  try {
    impl_->open(path);
  } catch (const h5::Error& e) {
    // A structure HDF5 itself cannot parse (corrupt header, broken link) is bad input too.
    throw InputError(path, "", "a readable HDF5 file", e.detail());
  }
}

ShardReader::~ShardReader() = default;
ShardReader::ShardReader(ShardReader&&) noexcept = default;
ShardReader& ShardReader::operator=(ShardReader&&) noexcept = default;

const ShardMeta& ShardReader::meta() const { return impl_->meta; }

namespace {
// The first i in [0, n) where ok(i) is false, else n: a branch-free pass over all of them first (the
// compiler vectorizes it), then, only where one fails, the search for it.
template <class Ok>
size_t first_failing(size_t n, Ok ok) {
  bool all = true;
  for (size_t i = 0; i < n; ++i) all &= ok(i);
  if (all) return n;
  size_t i = 0;
  while (ok(i)) ++i;
  return i;
}
}  // namespace

void ShardReader::read_rows(size_t first, size_t count, ShardColumns& out) const {
  const Impl& s = *impl_;
  const ShardMeta& m = s.meta;
  if (first > m.rows || count > m.rows - first)
    throw std::out_of_range("ShardReader::read_rows: rows [" + std::to_string(first) + ", " +
                            std::to_string(first + count) + ") beyond the " +
                            std::to_string(m.rows) + " rows of " + m.path);
  const size_t G = m.groups.size();
  out.resize(count, m.schema.size(), m.has_hazard, m.has_external_rating, m.has_planted_level, G,
             m.has_population);
  if (count == 0) return;
  std::string current = "/features";
  try {
    h5::read_rows(s.features, H5T_NATIVE_FLOAT, first, count, out.features.data());
    current = "/cell_id";
    h5::read_rows(s.cell_id, H5T_NATIVE_INT64, first, count, out.cell_id.data());
    current = "/lonlat";
    h5::read_rows(s.lonlat, H5T_NATIVE_DOUBLE, first, count, out.lonlat.data());
    current = "/region";
    h5::read_rows(s.region, H5T_NATIVE_UINT32, first, count, out.region.data());
    current = "/hazard";
    if (m.has_hazard) h5::read_rows(s.hazard, H5T_NATIVE_FLOAT, first, count, out.hazard.data());
    current = "/external_rating";
    if (m.has_external_rating)
      h5::read_rows(s.external_rating, H5T_NATIVE_INT8, first, count, out.external_rating.data());
    current = "/planted_level";
    if (m.has_planted_level)
      h5::read_rows(s.planted_level, H5T_NATIVE_INT8, first, count, out.planted_level.data());
    current = "/population";
    if (m.has_population) h5::read_rows(s.population, H5T_NATIVE_FLOAT, first, count, out.population.data());
    for (size_t g = 0; g < G; ++g) {
      current = "/groups/" + m.groups[g].name;
      s.group_column.resize(count);
      h5::read_rows(s.groups[g], H5T_NATIVE_UINT32, first, count, s.group_column.data());
      for (size_t i = 0; i < count; ++i) out.groups[i * G + g] = s.group_column[i];
    }
  } catch (const h5::Error& e) {
    throw InputError(m.path, current, "readable rows " + std::to_string(first) + ".." +
                     std::to_string(first + count - 1), e.detail());
  }
  // Values the loader indexes with are checked here, where they are in memory anyway. Every slab
  // of every epoch passes these checks (on each rank), so each is a pass without branches and only
  // a failing one looks for the row to name.
  const size_t regions = m.region_names.size();
  if (const size_t i = first_failing(count, [&](size_t i) { return out.region[i] < regions; }); i < count)
    throw InputError(m.path, "/region", "an index below " + std::to_string(regions) + " (the number of region_names)",
                     std::to_string(out.region[i]) + " at row " + std::to_string(first + i));
  if (const size_t k = first_failing(out.groups.size(), [&](size_t k) { return out.groups[k] < m.groups[k % G].labels.size(); });
      k < out.groups.size())
    throw InputError(m.path, "/groups/" + m.groups[k % G].name,
                     fmt::format("a code below {} (the number of labels)", m.groups[k % G].labels.size()),
                     fmt::format("{} at row {}", out.groups[k], first + k / G));
  if (const size_t i = first_failing(out.population.size(), [&](size_t i) { return valid_population(out.population[i]); });
      i < out.population.size())
    throw InputError(m.path, "/population", kPopulationExpected,
                     fmt::format("{:g} at row {}", out.population[i], first + i));
  if (const size_t i = first_failing(out.external_rating.size(),
                                     [&](size_t i) { return out.external_rating[i] >= 0 && out.external_rating[i] <= 5; });
      i < out.external_rating.size())
    throw InputError(m.path, "/external_rating", "a level 1..5 or 0 for none",
                     std::to_string(int(out.external_rating[i])) + " at row " + std::to_string(first + i));
  // Values every command computes with: an infinite or absurdly large feature turns the scaler's
  // sums and then the whole model into NaN, an infinite hazard the report's risk classes; a
  // position outside the globe makes invalid GeoJSON. NaN (missing) passes: its comparisons are false.
  const std::string magnitude =
      fmt::format("finite values of magnitude at most {:g} (NaN = missing)", kMaxFeatureMagnitude);
  const auto in_range = [](float v) { return !(std::abs(v) > kMaxFeatureMagnitude); };
  const size_t F = m.schema.size();
  if (const size_t k = first_failing(out.features.size(), [&](size_t k) { return in_range(out.features[k]); });
      k < out.features.size())
    throw InputError(m.path, "/features", magnitude,
                     fmt::format("{:g} at row {}, feature '{}'", out.features[k], first + k / F,
                                 m.schema.features[k % F].name));
  if (const size_t i = first_failing(out.hazard.size(), [&](size_t i) { return in_range(out.hazard[i]); });
      i < out.hazard.size())
    throw InputError(m.path, "/hazard", magnitude, fmt::format("{:g} at row {}", out.hazard[i], first + i));
  const double* lonlat = out.lonlat.data();
  if (const size_t i = first_failing(count, [&](size_t i) {
        const double lon = lonlat[2 * i], lat = lonlat[2 * i + 1];
        return (lon >= -180) & (lon <= 180) & (lat >= -90) & (lat <= 90);
      });
      i < count)
    throw InputError(m.path, "/lonlat", "longitude in [-180, 180] and latitude in [-90, 90] degrees",
                     fmt::format("({:g}, {:g}) at row {}", lonlat[2 * i], lonlat[2 * i + 1], first + i));
}

}  // namespace resilinet
