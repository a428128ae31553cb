// Streaming ratings output in three formats.
#include "trainer/outputs/ratings_writer.hpp"

#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "datasets/atomic_h5_file.hpp"
#include "datasets/h5.hpp"
#include "datasets/output_files.hpp"
#include "trainer/outputs/atomic_file.hpp"

namespace resilinet {

struct RatingsWriter::Impl {
  std::string dir;
  std::vector<std::string> regions;
  int K = 0, d = 0;
  RatingsOutputs outputs;
  size_t rows = 0;
  std::unique_ptr<AtomicH5File> file;
  h5::Dataset cell_id, region, lonlat, level, cluster_level, q, z;
  std::unique_ptr<AtomicTextFile> csv, geojson;
  std::string buffer;
  bool committed = false;
};

RatingsWriter::RatingsWriter(const std::string& out_dir, const std::vector<std::string>& region_names,
                             int clusters, int latent_dims, RatingsOutputs outputs)
    : impl_(std::make_unique<Impl>()) {
  auto& s = *impl_;
  s.dir = out_dir;
  s.regions = region_names;
  s.K = clusters;
  s.d = latent_dims;
  s.outputs = outputs;
  make_output_dir(out_dir, "--out");
  if (outputs.hdf5) {
    s.file = std::make_unique<AtomicH5File>(out_dir + "/ratings.h5");
    h5::write_string_attribute(*s.file, "format", "resilinet-ratings");
    h5::write_int32_attribute(*s.file, "format_version", 1);
    h5::write_string_array_attribute(*s.file, "region_names", region_names);
    const hsize_t chunk = 65536;
    s.cell_id = h5::create_row_dataset(*s.file, "cell_id", H5T_STD_I64LE, 0, chunk, 0);
    s.region = h5::create_row_dataset(*s.file, "region", H5T_STD_U32LE, 0, chunk, 0);
    s.lonlat = h5::create_row_dataset(*s.file, "lonlat", H5T_IEEE_F64LE, 2, chunk, 0);
    s.level = h5::create_row_dataset(*s.file, "level", H5T_STD_I32LE, 0, chunk, 0);
    s.cluster_level = h5::create_row_dataset(*s.file, "cluster_level", H5T_STD_I32LE, 0, chunk, 0);
    s.q = h5::create_row_dataset(*s.file, "q", H5T_IEEE_F32LE, hsize_t(clusters), chunk, 0);
    s.z = h5::create_row_dataset(*s.file, "z", H5T_IEEE_F32LE, hsize_t(latent_dims), chunk, 0);
  }
  if (outputs.csv) {
    s.csv = std::make_unique<AtomicTextFile>(out_dir + "/ratings.csv");
    std::string header = "cell_id,region,lon,lat,level,cluster_level";
    for (int j = 0; j < clusters; ++j) header += fmt::format(",q{}", j + 1);
    for (int j = 0; j < latent_dims; ++j) header += fmt::format(",z{}", j + 1);
    s.csv->write(header + "\n");
  }
  if (outputs.geojson) {
    s.geojson = std::make_unique<AtomicTextFile>(out_dir + "/ratings.geojson");
    s.geojson->write("{\"type\":\"FeatureCollection\",\"features\":[\n");
  }
}

RatingsWriter::~RatingsWriter() = default;

size_t RatingsWriter::rows() const { return impl_->rows; }

void RatingsWriter::append(const Batch& b, const RatingBuffers& r) {
  auto& s = *impl_;
  const hsize_t first = s.rows, n = b.rows;
  if (s.outputs.hdf5 && n) {
    h5::write_rows(s.cell_id, H5T_NATIVE_INT64, first, n, b.cell_id);
    h5::write_rows(s.region, H5T_NATIVE_UINT32, first, n, b.region);
    h5::write_rows(s.lonlat, H5T_NATIVE_DOUBLE, first, n, b.lonlat);
    h5::write_rows(s.level, H5T_NATIVE_INT32, first, n, r.level.data());
    h5::write_rows(s.cluster_level, H5T_NATIVE_INT32, first, n, r.cluster_level.data());
    h5::write_rows(s.q, H5T_NATIVE_FLOAT, first, n, r.q.data());
    h5::write_rows(s.z, H5T_NATIVE_FLOAT, first, n, r.z.data());
  }
  for (size_t i = 0; i < b.rows; ++i) {
    const std::string& region = s.regions[b.region[i]];
    const std::string region_json = nlohmann::json(region).dump();  // escaped, quoted
    const std::string region_csv = region.find_first_of(",\"\n") == std::string::npos
                                       ? region : region_json;
    double lon = b.lonlat[2 * i], lat = b.lonlat[2 * i + 1];
    if (s.csv) {
      s.buffer.clear();
      fmt::format_to(std::back_inserter(s.buffer), "{},{},{:.6f},{:.6f},{},{}", b.cell_id[i], region_csv, lon,
                     lat, r.level[i], r.cluster_level[i]);
      for (int j = 0; j < s.K; ++j) fmt::format_to(std::back_inserter(s.buffer), ",{:.6g}", r.q[i * s.K + j]);
      for (int j = 0; j < s.d; ++j) fmt::format_to(std::back_inserter(s.buffer), ",{:.6g}", r.z[i * s.d + j]);
      s.buffer += '\n';
      s.csv->write(s.buffer);
    }
    if (s.geojson) {
      s.buffer.clear();
      fmt::format_to(std::back_inserter(s.buffer),
                     "{}{{\"type\":\"Feature\",\"geometry\":{{\"type\":\"Point\",\"coordinates\":[{:.6f},{:.6f}]}},"
                     "\"properties\":{{\"cell_id\":{},\"region\":{},\"level\":{},\"cluster_level\":{},\"q\":[",
                     (s.rows + i) ? ",\n" : "", lon, lat, b.cell_id[i], region_json, r.level[i], r.cluster_level[i]);
      for (int j = 0; j < s.K; ++j)
        fmt::format_to(std::back_inserter(s.buffer), "{}{:.6g}", j ? "," : "", r.q[i * s.K + j]);
      s.buffer += "]}}";
      s.geojson->write(s.buffer);
    }
  }
  s.rows += b.rows;
}

void RatingsWriter::commit() {
  auto& s = *impl_;
  if (s.outputs.hdf5) {
    s.cell_id.reset(); s.region.reset(); s.lonlat.reset(); s.level.reset();
    s.cluster_level.reset(); s.q.reset(); s.z.reset();
    s.file->commit();
  }
  if (s.csv) s.csv->commit();
  if (s.geojson) {
    s.geojson->write("\n]}\n");
    s.geojson->commit();
  }
  s.committed = true;
}

}  // namespace resilinet
