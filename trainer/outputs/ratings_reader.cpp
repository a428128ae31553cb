// Reading ratings files back (trainer/outputs/ratings_reader.hpp).
#include "trainer/outputs/ratings_reader.hpp"

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "datasets/h5.hpp"
#include "datasets/h5_columns.hpp"
#include "datasets/input_error.hpp"
#include "datasets/text.hpp"
#include "datasets/untrusted_file.hpp"

namespace resilinet {
namespace {

constexpr ColumnSpec kCellId{"cell_id", H5T_INTEGER, 8, true, 0, "int64"};
constexpr ColumnSpec kRegion{"region", H5T_INTEGER, 4, false, 0, "uint32"};
constexpr ColumnSpec kLonLat{"lonlat", H5T_FLOAT, 8, true, 2, "float64"};
constexpr ColumnSpec kLevel{"level", H5T_INTEGER, 4, true, 0, "int32"};

struct FileMeta {
  std::vector<std::string> regions;
  int levels = 0;
  uint64_t rows = 0;
};

std::string string_attribute(hid_t file, const std::string& path, const std::string& name) {
  if (!h5::has_attribute(file, name)) throw InputError(path, name, "a string attribute", "missing");
  h5::Attribute a = h5::open_attribute(file, name);
  h5::Datatype type = h5::attribute_type(a);
  if (H5Tget_class(type) != H5T_STRING) throw InputError(path, name, "a string attribute", h5::type_name(type));
  const auto values = h5::read_strings(a);
  if (values.size() != 1) throw InputError(path, name, "one string", fmt::format("{} values", values.size()));
  return values[0];
}

FileMeta read_meta(const std::string& path) {
  h5::File file;
  try {
    file = h5::open_file_read_only(path);
  } catch (const h5::Error& e) {
    throw InputError(path, "", "a readable ratings.h5 of `resilinet rate`", e.detail());
  }
  if (string_attribute(file, path, "format") != "resilinet-ratings")
    throw InputError(path, "format", "resilinet-ratings (a ratings.h5 of `resilinet rate`)", "another format");
  if (!h5::has_attribute(file, "format_version")) throw InputError(path, "format_version", "1 or 2", "missing");
  const auto version = h5::read_integers(h5::open_attribute(file, "format_version"));
  if (version.size() != 1 || version[0] < 1 || version[0] > 2)
    throw InputError(path, "format_version", "1 or 2", version.size() == 1 ? std::to_string(version[0]) : "a list");
  FileMeta meta;
  if (!h5::has_attribute(file, "region_names")) throw InputError(path, "region_names", "a string array", "missing");
  meta.regions = h5::read_strings(h5::open_attribute(file, "region_names"));
  for (size_t i = 0; i < meta.regions.size(); ++i) check_name(path, fmt::format("region_names[{}]", i), meta.regions[i]);
  hsize_t n = 0, rows = 0;
  open_column(file, path, kCellId, n);
  for (const ColumnSpec* c : {&kRegion, &kLonLat, &kLevel}) {
    open_column(file, path, *c, rows);
    if (rows != n) throw InputError(path, std::string("/") + c->name, fmt::format("{} rows, as /cell_id", n), std::to_string(rows));
  }
  // K: the width of the level probabilities (version 2) or of q (both versions).
  const char* per_level = version[0] >= 2 ? "p_level" : "q";
  if (!h5::has_link(file, per_level)) throw InputError(path, std::string("/") + per_level, "a [N, K] dataset", "missing");
  const auto dims = h5::dataset_dims(h5::open_row_dataset(file, per_level));
  if (dims.size() != 2 || dims[0] != n || dims[1] < 2 || dims[1] > 127)
    throw InputError(path, std::string("/") + per_level, fmt::format("[{}, K] with K from 2 to 127", n),
                     h5::shape_name(dims, dims.empty()));
  meta.levels = int(dims[1]);
  meta.rows = n;
  return meta;
}

std::vector<std::string> ratings_files(const std::string& path, const std::string& option) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec)) return {path};
  if (!std::filesystem::is_directory(path, ec))
    throw InputError(path, option, "a ratings.h5 file or the folder `resilinet rate` wrote", "no such file or folder");
  const std::string single = path + "/ratings.h5", manifest = path + "/parts.json";
  if (std::filesystem::is_regular_file(single, ec)) return {single};
  if (!std::filesystem::is_regular_file(manifest, ec))
    throw InputError(path, option, "a folder holding ratings.h5 or parts.json", "neither");
  std::ifstream in(manifest);
  const auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("parts") || !j["parts"].is_array() || j["parts"].empty())
    throw InputError(manifest, "parts", "a list of part folders", "malformed JSON");
  std::vector<std::string> files;
  for (size_t i = 0; i < j["parts"].size(); ++i) {
    const auto& part = j["parts"][i];
    if (!part.is_object() || !part.contains("folder") || !part["folder"].is_string())
      throw InputError(manifest, fmt::format("parts[{}].folder", i), "a part folder name", "something else");
    const std::string folder = part["folder"];
    check_name(manifest, fmt::format("parts[{}].folder", i), folder);
    if (folder.find('/') != std::string::npos || folder == "." || folder == "..")
      throw InputError(manifest, fmt::format("parts[{}].folder", i), "a folder inside " + path, "'" + folder + "'");
    files.push_back(path + "/" + folder + "/ratings.h5");
  }
  return files;
}

}  // namespace

RatingsSource open_ratings(const std::string& path, const std::string& option) {
  RatingsSource s;
  s.path = path;
  s.files = ratings_files(path, option);
  for (const std::string& file : s.files) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) throw InputError(file, option, "a ratings.h5 file", "no such file");
    probe_untrusted_file(file, [&] { read_meta(file); });
    const FileMeta meta = read_meta(file);
    if (file == s.files.front()) {
      s.region_names = meta.regions;
      s.levels = meta.levels;
    } else if (meta.regions != s.region_names || meta.levels != s.levels) {
      throw InputError(file, "region_names", "the regions and levels of " + s.files.front(), "others");
    }
    s.rows += meta.rows;
  }
  return s;
}

void for_each_rated_chunk(const RatingsSource& source, size_t chunk_rows, const std::function<void(const RatedChunk&)>& fn) {
  std::vector<int64_t> id;
  std::vector<uint32_t> region;
  std::vector<double> lonlat;
  std::vector<int32_t> level;
  for (const std::string& path : source.files) {
    h5::File file = h5::open_file_read_only(path);
    hsize_t n = 0;
    h5::Dataset ids = open_column(file, path, kCellId, n), regions = open_column(file, path, kRegion, n),
                positions = open_column(file, path, kLonLat, n), levels = open_column(file, path, kLevel, n);
    for (hsize_t first = 0; first < n; first += chunk_rows) {
      const hsize_t m = std::min<hsize_t>(chunk_rows, n - first);
      id.resize(m), region.resize(m), lonlat.resize(2 * m), level.resize(m);
      h5::read_rows(ids, H5T_NATIVE_INT64, first, m, id.data());
      h5::read_rows(regions, H5T_NATIVE_UINT32, first, m, region.data());
      h5::read_rows(positions, H5T_NATIVE_DOUBLE, first, m, lonlat.data());
      h5::read_rows(levels, H5T_NATIVE_INT32, first, m, level.data());
      for (hsize_t i = 0; i < m; ++i) {
        if (region[i] >= source.region_names.size())
          throw InputError(path, fmt::format("/region[{}]", first + i),
                           fmt::format("a region index below {}", source.region_names.size()), std::to_string(region[i]));
        if (level[i] < 0 || level[i] > source.levels)
          throw InputError(path, fmt::format("/level[{}]", first + i), fmt::format("a level from 0 to {}", source.levels),
                           std::to_string(level[i]));
      }
      fn({size_t(m), id.data(), region.data(), lonlat.data(), level.data()});
    }
  }
}

}  // namespace resilinet
