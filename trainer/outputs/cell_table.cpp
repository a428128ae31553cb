// Streaming per-cell tables in HDF5, CSV and GeoJSON (trainer/outputs/cell_table.hpp).
#include "trainer/outputs/cell_table.hpp"

#include <fmt/format.h>

#include <cmath>
#include <iterator>
#include <nlohmann/json.hpp>

#include "datasets/atomic_h5_file.hpp"
#include "datasets/h5.hpp"
#include "datasets/output_files.hpp"
#include "trainer/outputs/atomic_file.hpp"

namespace resilinet {
namespace {

hid_t file_type(CellColumn::Type t) {
  switch (t) {
    case CellColumn::Type::Int8:
      return H5T_STD_I8LE;
    case CellColumn::Type::Int32:
      return H5T_STD_I32LE;
    case CellColumn::Type::Float32:
      return H5T_IEEE_F32LE;
  }
  return H5T_STD_I32LE;
}

hid_t memory_type(CellColumn::Type t) {
  switch (t) {
    case CellColumn::Type::Int8:
      return H5T_NATIVE_INT8;
    case CellColumn::Type::Int32:
      return H5T_NATIVE_INT32;
    case CellColumn::Type::Float32:
      return H5T_NATIVE_FLOAT;
  }
  return H5T_NATIVE_INT32;
}

// One value as text; `missing` for a float that is not finite or a code without a label.
void format_value(std::string& out, const CellColumn& column, const void* values, size_t index, const char* missing,
                  bool quote_labels) {
  if (!column.labels.empty()) {
    const int32_t code = static_cast<const int32_t*>(values)[index];
    if (code < 0 || size_t(code) >= column.labels.size()) out += missing;
    else if (quote_labels) out += nlohmann::json(column.labels[size_t(code)]).dump();
    else out += csv_field(column.labels[size_t(code)]);
    return;
  }
  switch (column.type) {
    case CellColumn::Type::Int8:
      fmt::format_to(std::back_inserter(out), "{}", int(static_cast<const int8_t*>(values)[index]));
      return;
    case CellColumn::Type::Int32:
      fmt::format_to(std::back_inserter(out), "{}", static_cast<const int32_t*>(values)[index]);
      return;
    case CellColumn::Type::Float32: {
      const float v = static_cast<const float*>(values)[index];
      if (std::isfinite(v))
        fmt::format_to(std::back_inserter(out), "{:.6g}", v);
      else
        out += missing;
      return;
    }
  }
}

}  // namespace

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

struct CellTableWriter::Impl {
  std::vector<std::string> regions;
  std::vector<CellColumn> columns;
  size_t rows = 0;
  std::unique_ptr<AtomicH5File> file;
  h5::Dataset cell_id, region, lonlat;
  std::vector<h5::Dataset> datasets;
  std::unique_ptr<AtomicTextFile> csv, geojson;
  std::string buffer;
};

CellTableWriter::CellTableWriter(const std::string& out_dir, const std::string& stem, const std::string& format,
                                 int format_version, const std::vector<std::string>& region_names,
                                 std::vector<CellColumn> columns, CellTableFiles files)
    : impl_(std::make_unique<Impl>()) {
  auto& s = *impl_;
  s.regions = region_names;
  s.columns = std::move(columns);
  make_output_dir(out_dir, "--out");
  const std::string base = out_dir + "/" + stem;
  if (files.hdf5) {
    s.file = std::make_unique<AtomicH5File>(base + ".h5");
    h5::write_string_attribute(*s.file, "format", format);
    h5::write_int32_attribute(*s.file, "format_version", format_version);
    h5::write_string_array_attribute(*s.file, "region_names", region_names);
    const hsize_t chunk = 65536;
    s.cell_id = h5::create_row_dataset(*s.file, "cell_id", H5T_STD_I64LE, 0, chunk, 0);
    s.region = h5::create_row_dataset(*s.file, "region", H5T_STD_U32LE, 0, chunk, 0);
    s.lonlat = h5::create_row_dataset(*s.file, "lonlat", H5T_IEEE_F64LE, 2, chunk, 0);
    for (const CellColumn& c : s.columns) {
      s.datasets.push_back(
          h5::create_row_dataset(*s.file, c.name, file_type(c.type), c.width > 1 ? hsize_t(c.width) : 0, chunk, 0));
      if (!c.labels.empty()) h5::write_string_array_attribute(s.datasets.back(), "labels", c.labels);
    }
  }
  if (files.csv) {
    s.csv = std::make_unique<AtomicTextFile>(base + ".csv");
    std::string header = "cell_id,region,lon,lat";
    for (const CellColumn& c : s.columns) {
      if (!c.in_csv) continue;
      if (c.width == 1)
        header += "," + c.name;
      else
        for (int j = 0; j < c.width; ++j) header += fmt::format(",{}{}", c.name, j + 1);
    }
    s.csv->write(header + "\n");
  }
  if (files.geojson) {
    s.geojson = std::make_unique<AtomicTextFile>(base + ".geojson");
    s.geojson->write("{\"type\":\"FeatureCollection\",\"features\":[\n");
  }
}

CellTableWriter::~CellTableWriter() = default;

hid_t CellTableWriter::hdf5() const { return impl_->file ? impl_->file->id() : hid_t(-1); }

size_t CellTableWriter::rows() const { return impl_->rows; }

void CellTableWriter::append(const Batch& b, const std::vector<const void*>& values) {
  auto& s = *impl_;
  const hsize_t first = s.rows, n = b.rows;
  if (s.file && n) {
    h5::write_rows(s.cell_id, H5T_NATIVE_INT64, first, n, b.cell_id);
    h5::write_rows(s.region, H5T_NATIVE_UINT32, first, n, b.region);
    h5::write_rows(s.lonlat, H5T_NATIVE_DOUBLE, first, n, b.lonlat);
    for (size_t c = 0; c < s.columns.size(); ++c)
      h5::write_rows(s.datasets[c], memory_type(s.columns[c].type), first, n, values[c]);
  }
  for (size_t i = 0; i < b.rows && (s.csv || s.geojson); ++i) {
    const std::string& region = s.regions[b.region[i]];
    const std::string region_json = nlohmann::json(region).dump();  // escaped, quoted
    const double lon = b.lonlat[2 * i], lat = b.lonlat[2 * i + 1];
    if (s.csv) {
      s.buffer.clear();
      fmt::format_to(std::back_inserter(s.buffer), "{},{},{:.6f},{:.6f}", b.cell_id[i],
                     csv_field(region), lon, lat);
      for (size_t c = 0; c < s.columns.size(); ++c) {
        if (!s.columns[c].in_csv) continue;
        const size_t w = size_t(s.columns[c].width);
        for (size_t j = 0; j < w; ++j) {
          s.buffer += ',';
          format_value(s.buffer, s.columns[c], values[c], i * w + j, "", false);
        }
      }
      s.buffer += '\n';
      s.csv->write(s.buffer);
    }
    if (s.geojson) {
      s.buffer.clear();
      fmt::format_to(std::back_inserter(s.buffer),
                     "{}{{\"type\":\"Feature\",\"geometry\":{{\"type\":"
                     "\"Point\",\"coordinates\":[{:.6f},{:.6f}]}},"
                     "\"properties\":{{\"cell_id\":{},\"region\":{}",
                     (s.rows + i) ? ",\n" : "", lon, lat, b.cell_id[i], region_json);
      for (size_t c = 0; c < s.columns.size(); ++c) {
        const CellColumn& column = s.columns[c];
        if (!column.in_geojson) continue;
        fmt::format_to(std::back_inserter(s.buffer), ",\"{}\":", column.name);
        if (column.width > 1) s.buffer += '[';
        for (size_t j = 0; j < size_t(column.width); ++j) {
          if (j) s.buffer += ',';
          format_value(s.buffer, column, values[c], i * size_t(column.width) + j, "null", true);
        }
        if (column.width > 1) s.buffer += ']';
      }
      s.buffer += "}}";
      s.geojson->write(s.buffer);
    }
  }
  s.rows += b.rows;
}

void CellTableWriter::commit() {
  auto& s = *impl_;
  if (s.file) {
    s.cell_id.reset();
    s.region.reset();
    s.lonlat.reset();
    s.datasets.clear();
    s.file->commit();
  }
  if (s.csv) s.csv->commit();
  if (s.geojson) {
    s.geojson->write("\n]}\n");
    s.geojson->commit();
  }
}

}  // namespace resilinet
