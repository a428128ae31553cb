// ShardReader: opens one HDF5 feature shard, validates all of it that can be checked without reading
// the rows (format, version, dtypes, shapes, schema attributes) and reads contiguous slabs of rows.
// Writing shards is shard_writer.cpp; opening a set of shards is shard_set.cpp.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>

#include "datasets/h5.hpp"
#include "datasets/input_error.hpp"
#include "datasets/text.hpp"
#include "datasets/untrusted_file.hpp"
#include "datasets/shard.hpp"

namespace resilinet {
namespace {

// What a dataset must be: its HDF5 type class, element size, signedness and columns (0 = 1-D).
struct ColumnSpec {
  const char* name;
  H5T_class_t type_class;
  size_t bytes;
  bool is_signed;
  hsize_t columns;  // 0: rank 1 [N]; otherwise rank 2 [N, columns]
  const char* type_label;
};

std::string expected_label(const ColumnSpec& c) {
  std::string shape = c.columns == 0 ? "[N]" : "[N, " + std::to_string(c.columns) + "]";
  return std::string(c.type_label) + " " + shape;
}

// Opens and checks one dataset; returns it with its row count in rows.
h5::Dataset open_column(hid_t file, const std::string& path, const ColumnSpec& c, hsize_t& rows) {
  std::string field = std::string("/") + c.name;
  if (!h5::has_link(file, c.name)) throw InputError(path, field, expected_label(c), "missing");
  h5::Dataset dataset;
  try {
    dataset = h5::open_row_dataset(file, c.name);
  } catch (const h5::Error&) {
    throw InputError(path, field, expected_label(c), "an object that is not a dataset");
  }
  h5::Datatype type(RESILINET_H5(H5Dget_type(dataset)));
  std::vector<hsize_t> dims = h5::dataset_dims(dataset);
  bool type_ok = H5Tget_class(type) == c.type_class && H5Tget_size(type) == c.bytes &&
                 (c.type_class != H5T_INTEGER ||
                  (H5Tget_sign(type) == H5T_SGN_2) == c.is_signed);
  bool shape_ok = dims.size() == (c.columns == 0 ? 1u : 2u) &&
                  (c.columns == 0 || dims[1] == c.columns);
  if (!type_ok || !shape_ok)
    throw InputError(path, field, expected_label(c),
                     h5::type_name(type) + " " + h5::shape_name(dims, dims.empty()));
  rows = dims[0];
  // The rows claimed must be in the file: a few-KB file claiming 2^40 rows would otherwise keep
  // every reader busy for ever with fill values. Deflate compresses at most about 1000:1, so a
  // claim beyond 4096 times the bytes stored (plus a little for tiny sets) cannot be real data.
  const double claimed = double(rows) * double(c.bytes) * double(c.columns == 0 ? 1 : c.columns);
  const double stored = double(H5Dget_storage_size(dataset));
  if (claimed > 4096.0 * stored + double(1 << 20))
    throw InputError(path, field, "rows that the file stores",
                     fmt::format("{} rows claimed ({:.3g} bytes) over {:.0f} bytes stored", rows, claimed, stored));
  return dataset;
}

std::vector<std::string> read_string_array(hid_t file, const std::string& path,
                                           const std::string& name) {
  if (!h5::has_attribute(file, name))
    throw InputError(path, name, "a string array attribute", "missing");
  h5::Attribute attribute = h5::open_attribute(file, name);
  h5::Datatype type = h5::attribute_type(attribute);
  // An empty list written by a tool that does not type empty arrays is still an empty list.
  if (h5::attribute_elements(attribute) == 0) return {};
  if (H5Tget_class(type) != H5T_STRING)
    throw InputError(path, name, "a string array attribute", h5::type_name(type));
  std::vector<std::string> values = h5::read_strings(attribute);
  for (size_t i = 0; i < values.size(); ++i)
    check_name(path, fmt::format("{}[{}]", name, i), values[i]);
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

}  // namespace

struct ShardReader::Impl {
  ShardMeta meta;
  h5::File file;
  h5::Dataset features, cell_id, lonlat, region, hazard, external_rating, planted_level;

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
  meta.rows = static_cast<size_t>(n);
  if (meta.rows > 0 && meta.region_names.empty())
    throw InputError(path, "region_names", "at least one region name for a non-empty shard",
                     "none");
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

void ShardReader::read_rows(size_t first, size_t count, ShardColumns& out) const {
  const Impl& s = *impl_;
  const ShardMeta& m = s.meta;
  if (first > m.rows || count > m.rows - first)
    throw std::out_of_range("ShardReader::read_rows: rows [" + std::to_string(first) + ", " +
                            std::to_string(first + count) + ") beyond the " +
                            std::to_string(m.rows) + " rows of " + m.path);
  out.resize(count, m.schema.size(), m.has_hazard, m.has_external_rating, m.has_planted_level);
  if (count == 0) return;
  const char* current = "/features";
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
  } catch (const h5::Error& e) {
    throw InputError(m.path, current, "readable rows " + std::to_string(first) + ".." +
                     std::to_string(first + count - 1), e.detail());
  }
  // Values the loader indexes with are checked here, where they are in memory anyway.
  const size_t regions = m.region_names.size();
  for (size_t i = 0; i < count; ++i) {
    if (out.region[i] >= regions)
      throw InputError(m.path, "/region",
                       "an index below " + std::to_string(regions) + " (the number of region_names)",
                       std::to_string(out.region[i]) + " at row " + std::to_string(first + i));
  }
  for (size_t i = 0; i < out.external_rating.size(); ++i) {
    int r = out.external_rating[i];
    if (r < 0 || r > 5)
      throw InputError(m.path, "/external_rating", "a level 1..5 or 0 for none",
                       std::to_string(r) + " at row " + std::to_string(first + i));
  }
  // Values every command computes with: an infinite or absurdly large feature turns the scaler's
  // sums and then the whole model into NaN, an infinite hazard the report's risk classes; a
  // position outside the globe makes invalid GeoJSON.
  const std::string magnitude =
      fmt::format("finite values of magnitude at most {:g} (NaN = missing)", kMaxFeatureMagnitude);
  const auto out_of_range = [](float v) { return !std::isnan(v) && !(std::abs(v) <= kMaxFeatureMagnitude); };
  const size_t F = m.schema.size();
  for (size_t k = 0; k < out.features.size(); ++k) {
    const float v = out.features[k];
    if (out_of_range(v))
      throw InputError(m.path, "/features", magnitude,
                       fmt::format("{:g} at row {}, feature '{}'", v, first + k / F, m.schema.features[k % F].name));
  }
  for (size_t i = 0; i < out.hazard.size(); ++i)
    if (out_of_range(out.hazard[i]))
      throw InputError(m.path, "/hazard", magnitude, fmt::format("{:g} at row {}", out.hazard[i], first + i));
  for (size_t i = 0; i < count; ++i) {
    const double lon = out.lonlat[2 * i], lat = out.lonlat[2 * i + 1];
    if (!(lon >= -180 && lon <= 180 && lat >= -90 && lat <= 90))
      throw InputError(m.path, "/lonlat", "longitude in [-180, 180] and latitude in [-90, 90] degrees",
                       fmt::format("({:g}, {:g}) at row {}", lon, lat, first + i));
  }
}

}  // namespace resilinet
