// The RAII layer over the HDF5 C API declared in datasets/h5.hpp: error translation, file opening,
// chunked row datasets and string/integer attributes. Shard semantics live in shard_*.cpp.
#include "datasets/h5.hpp"

#include <algorithm>
#include <cstring>

#include "datasets/output_files.hpp"

namespace resilinet::h5 {
namespace {

// Collects the descriptions on HDF5's error stack, outermost (the API call) first.
herr_t collect_description(unsigned, const H5E_error2_t* entry, void* data) {
  auto* lines = static_cast<std::vector<std::string>*>(data);
  if (entry->desc && *entry->desc) lines->push_back(entry->desc);
  return 0;
}

constexpr size_t kDefaultChunkCacheBytes = 1 << 20;
constexpr size_t kMaxChunkCacheBytes = size_t(256) << 20;

PropList file_access_list() {
  PropList fapl(RESILINET_H5(H5Pcreate(H5P_FILE_ACCESS)));
  RESILINET_H5(H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18));
  return fapl;
}

PropList chunk_cache_access_list(size_t chunk_bytes) {
  PropList dapl(RESILINET_H5(H5Pcreate(H5P_DATASET_ACCESS)));
  size_t bytes = std::min(std::max(kDefaultChunkCacheBytes, chunk_bytes + chunk_bytes / 8),
                          kMaxChunkCacheBytes);
  RESILINET_H5(H5Pset_chunk_cache(dapl, H5D_CHUNK_CACHE_NSLOTS_DEFAULT, bytes, 1.0));
  return dapl;
}

Datatype variable_string_type() {
  Datatype type(RESILINET_H5(H5Tcopy(H5T_C_S1)));
  RESILINET_H5(H5Tset_size(type, H5T_VARIABLE));
  RESILINET_H5(H5Tset_cset(type, H5T_CSET_UTF8));
  return type;
}

Dataspace vector_space(hsize_t n) {
  return Dataspace(RESILINET_H5(H5Screate_simple(1, &n, nullptr)));
}

// The text between `key` (e.g. "filename = '") and the next quote in an HDF5 error description.
std::string quoted_field(const std::string& text, const std::string& key) {
  size_t begin = text.find(key);
  if (begin == std::string::npos) return "";
  begin += key.size();
  size_t end = text.find('\'', begin);
  return end == std::string::npos ? "" : text.substr(begin, end - begin);
}

}  // namespace

void throw_error(const char* call, const char* file, int line) {
  std::vector<std::string> lines;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect_description, &lines);
  H5Eclear2(H5E_DEFAULT);
  for (std::string& l : lines) std::replace(l.begin(), l.end(), '\n', ' ');  // ctime()'s newline
  // A failed write (disk full, `ulimit -f`) is not an HDF5 problem: name the output and the reason,
  // from the file driver's description at the bottom of the stack.
  for (auto l = lines.rbegin(); l != lines.rend(); ++l) {
    if (l->rfind("file write failed", 0) != 0) continue;
    std::string reason = quoted_field(*l, "error message = '");
    throw WriteError(final_output_name(quoted_field(*l, "filename = '")),
                     reason.empty() ? "the write failed" : reason);
  }
  std::string detail = lines.empty() ? "HDF5 call failed" : lines.front();
  if (lines.size() > 1 && lines.back() != lines.front()) detail += " (" + lines.back() + ")";
  throw Error(std::string(call) + " failed at " + file + ":" + std::to_string(line) + ": " + detail,
              detail);
}

void silence_error_printing() {
  // Per thread in thread-safe HDF5 builds (the loader opens shards on its own I/O thread).
  thread_local bool silenced = false;
  if (!silenced) H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  silenced = true;
}

File create_file(const std::string& path) {
  silence_error_printing();
  PropList fapl = file_access_list();
  // No object timestamps: the same content gives the same bytes.
  PropList fcpl(RESILINET_H5(H5Pcreate(H5P_FILE_CREATE)));
  RESILINET_H5(H5Pset_obj_track_times(fcpl, false));
  return File(RESILINET_H5(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl, fapl)));
}

File open_file_read_only(const std::string& path) {
  silence_error_printing();
  return File(RESILINET_H5(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT)));
}

File open_file_read_write(const std::string& path) {
  silence_error_printing();
  return File(RESILINET_H5(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)));
}

bool has_link(hid_t location, const std::string& name) {
  return RESILINET_H5(H5Lexists(location, name.c_str(), H5P_DEFAULT)) > 0;
}

bool has_attribute(hid_t location, const std::string& name) {
  return RESILINET_H5(H5Aexists(location, name.c_str())) > 0;
}

Group create_group(hid_t location, const std::string& name) {
  PropList gcpl(RESILINET_H5(H5Pcreate(H5P_GROUP_CREATE)));
  RESILINET_H5(H5Pset_obj_track_times(gcpl, false));
  return Group(RESILINET_H5(H5Gcreate2(location, name.c_str(), H5P_DEFAULT, gcpl, H5P_DEFAULT)));
}

Group open_group(hid_t location, const std::string& name) {
  return Group(RESILINET_H5(H5Gopen2(location, name.c_str(), H5P_DEFAULT)));
}

std::vector<LinkName> link_names(hid_t group) {
  H5G_info_t info;
  RESILINET_H5(H5Gget_info(group, &info));
  std::vector<LinkName> out;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t length = RESILINET_H5(
        H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT));
    std::string name(static_cast<size_t>(length) + 1, '\0');
    RESILINET_H5(H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(),
                                    H5P_DEFAULT));
    name.resize(static_cast<size_t>(length));
    H5L_info_t link;
    RESILINET_H5(H5Lget_info(group, name.c_str(), &link, H5P_DEFAULT));
    out.push_back({std::move(name), link.type == H5L_TYPE_HARD});
  }
  return out;
}

std::string type_name(hid_t type) {
  size_t bits = H5Tget_size(type) * 8;
  switch (H5Tget_class(type)) {
    case H5T_INTEGER:
      return (H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int") + std::to_string(bits);
    case H5T_FLOAT: return "float" + std::to_string(bits);
    case H5T_STRING:
      return H5Tis_variable_str(type) > 0 ? "variable-length string" : "fixed-length string";
    case H5T_COMPOUND: return "compound";
    case H5T_ENUM: return "enum";
    case H5T_ARRAY: return "array";
    case H5T_VLEN: return "variable-length sequence";
    case H5T_OPAQUE: return "opaque";
    case H5T_BITFIELD: return "bitfield";
    case H5T_REFERENCE: return "reference";
    case H5T_TIME: return "time";
    default: return "unknown type";
  }
}

std::string shape_name(const std::vector<hsize_t>& dims, bool scalar) {
  if (scalar) return "scalar";
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

std::vector<hsize_t> dataspace_dims(hid_t space) {
  int rank = RESILINET_H5(H5Sget_simple_extent_ndims(space));
  std::vector<hsize_t> dims(rank);
  if (rank > 0) RESILINET_H5(H5Sget_simple_extent_dims(space, dims.data(), nullptr));
  return dims;
}

Dataset create_row_dataset(hid_t location, const std::string& name, hid_t file_type,
                           hsize_t columns, hsize_t chunk_rows, int deflate_level) {
  int rank = columns == 0 ? 1 : 2;
  hsize_t dims[2] = {0, columns};
  hsize_t max_dims[2] = {H5S_UNLIMITED, columns};
  hsize_t chunk[2] = {chunk_rows, columns};
  Dataspace space(RESILINET_H5(H5Screate_simple(rank, dims, max_dims)));
  PropList dcpl(RESILINET_H5(H5Pcreate(H5P_DATASET_CREATE)));
  RESILINET_H5(H5Pset_obj_track_times(dcpl, false));
  RESILINET_H5(H5Pset_chunk(dcpl, rank, chunk));
  if (deflate_level > 0) {
    RESILINET_H5(H5Pset_shuffle(dcpl));
    RESILINET_H5(H5Pset_deflate(dcpl, static_cast<unsigned>(deflate_level)));
  }
  size_t chunk_bytes = chunk_rows * std::max<hsize_t>(columns, 1) * H5Tget_size(file_type);
  PropList dapl = chunk_cache_access_list(chunk_bytes);
  return Dataset(RESILINET_H5(
      H5Dcreate2(location, name.c_str(), file_type, space, H5P_DEFAULT, dcpl, dapl)));
}

Dataset open_row_dataset(hid_t location, const std::string& name) {
  Dataset dataset(RESILINET_H5(H5Dopen2(location, name.c_str(), H5P_DEFAULT)));
  PropList dcpl(RESILINET_H5(H5Dget_create_plist(dataset)));
  if (H5Pget_layout(dcpl) != H5D_CHUNKED) return dataset;
  if (H5Pget_nfilters(dcpl) == 0) {
    // Uncompressed chunks: no cache, so slab reads go straight into the caller's buffer.
    PropList direct(RESILINET_H5(H5Pcreate(H5P_DATASET_ACCESS)));
    RESILINET_H5(H5Pset_chunk_cache(direct, 0, 0, 1.0));
    dataset.reset();
    return Dataset(RESILINET_H5(H5Dopen2(location, name.c_str(), direct)));
  }
  hsize_t chunk[H5S_MAX_RANK];
  int rank = RESILINET_H5(H5Pget_chunk(dcpl, H5S_MAX_RANK, chunk));
  Datatype type(RESILINET_H5(H5Dget_type(dataset)));
  size_t chunk_bytes = H5Tget_size(type);
  for (int i = 0; i < rank; ++i) chunk_bytes *= chunk[i];
  if (chunk_bytes <= kDefaultChunkCacheBytes) return dataset;
  PropList dapl = chunk_cache_access_list(chunk_bytes);
  dataset.reset();
  return Dataset(RESILINET_H5(H5Dopen2(location, name.c_str(), dapl)));
}

std::vector<hsize_t> dataset_dims(hid_t dataset) {
  Dataspace space(RESILINET_H5(H5Dget_space(dataset)));
  return dataspace_dims(space);
}

namespace {

// Selects rows [first_row, first_row + rows) of every column in the file space and returns a
// matching memory space.
Dataspace select_rows(hid_t file_space, hsize_t first_row, hsize_t rows) {
  std::vector<hsize_t> dims = dataspace_dims(file_space);
  std::vector<hsize_t> start(dims.size(), 0), count = dims;
  start[0] = first_row;
  count[0] = rows;
  RESILINET_H5(H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start.data(), nullptr,
                                   count.data(), nullptr));
  return Dataspace(RESILINET_H5(H5Screate_simple(static_cast<int>(count.size()), count.data(),
                                                 nullptr)));
}

}  // namespace

void write_rows(hid_t dataset, hid_t memory_type, hsize_t first_row, hsize_t rows,
                const void* data) {
  if (rows == 0) return;
  std::vector<hsize_t> dims = dataset_dims(dataset);
  dims[0] = first_row + rows;
  RESILINET_H5(H5Dset_extent(dataset, dims.data()));
  Dataspace file_space(RESILINET_H5(H5Dget_space(dataset)));
  Dataspace memory_space = select_rows(file_space, first_row, rows);
  RESILINET_H5(H5Dwrite(dataset, memory_type, memory_space, file_space, H5P_DEFAULT, data));
}

void read_rows(hid_t dataset, hid_t memory_type, hsize_t first_row, hsize_t rows, void* out) {
  if (rows == 0) return;
  Dataspace file_space(RESILINET_H5(H5Dget_space(dataset)));
  Dataspace memory_space = select_rows(file_space, first_row, rows);
  RESILINET_H5(H5Dread(dataset, memory_type, memory_space, file_space, H5P_DEFAULT, out));
}

void write_string_attribute(hid_t location, const std::string& name, const std::string& value) {
  Datatype type = variable_string_type();
  Dataspace space(RESILINET_H5(H5Screate(H5S_SCALAR)));
  Attribute attribute(RESILINET_H5(
      H5Acreate2(location, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT)));
  const char* text = value.c_str();
  RESILINET_H5(H5Awrite(attribute, type, &text));
}

void write_string_array_attribute(hid_t location, const std::string& name,
                                  const std::vector<std::string>& values) {
  Datatype type = variable_string_type();
  Dataspace space = vector_space(values.size());
  Attribute attribute(RESILINET_H5(
      H5Acreate2(location, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT)));
  std::vector<const char*> texts;
  for (const auto& v : values) texts.push_back(v.c_str());
  const char* none = "";
  RESILINET_H5(H5Awrite(attribute, type, texts.empty() ? &none : texts.data()));
}

void write_int32_attribute(hid_t location, const std::string& name, int32_t value) {
  Dataspace space(RESILINET_H5(H5Screate(H5S_SCALAR)));
  Attribute attribute(RESILINET_H5(
      H5Acreate2(location, name.c_str(), H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT)));
  RESILINET_H5(H5Awrite(attribute, H5T_NATIVE_INT32, &value));
}

namespace {
template <typename T>
void write_array_attribute(hid_t location, const std::string& name, hid_t file_type, hid_t memory_type,
                           const std::vector<T>& values) {
  Dataspace space = vector_space(values.size());
  Attribute attribute(RESILINET_H5(H5Acreate2(location, name.c_str(), file_type, space, H5P_DEFAULT, H5P_DEFAULT)));
  T none{};
  RESILINET_H5(H5Awrite(attribute, memory_type, values.empty() ? &none : values.data()));
}
}  // namespace

void write_int8_array_attribute(hid_t location, const std::string& name, const std::vector<int8_t>& values) {
  write_array_attribute(location, name, H5T_STD_I8LE, H5T_NATIVE_INT8, values);
}

void write_double_array_attribute(hid_t location, const std::string& name, const std::vector<double>& values) {
  write_array_attribute(location, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, values);
}

Attribute open_attribute(hid_t location, const std::string& name) {
  return Attribute(RESILINET_H5(H5Aopen(location, name.c_str(), H5P_DEFAULT)));
}

Datatype attribute_type(hid_t attribute) {
  return Datatype(RESILINET_H5(H5Aget_type(attribute)));
}

hssize_t attribute_elements(hid_t attribute) {
  Dataspace space(RESILINET_H5(H5Aget_space(attribute)));
  return RESILINET_H5(H5Sget_simple_extent_npoints(space));
}

std::vector<std::string> read_strings(hid_t attribute) {
  Datatype file_type = attribute_type(attribute);
  Dataspace space(RESILINET_H5(H5Aget_space(attribute)));
  hssize_t n = RESILINET_H5(H5Sget_simple_extent_npoints(space));
  std::vector<std::string> out;
  if (n <= 0) return out;
  out.reserve(static_cast<size_t>(n));
  if (RESILINET_H5(H5Tis_variable_str(file_type)) > 0) {
    check_global_heaps(attribute);
    Datatype memory_type(RESILINET_H5(H5Tcopy(H5T_C_S1)));
    RESILINET_H5(H5Tset_size(memory_type, H5T_VARIABLE));
    RESILINET_H5(H5Tset_cset(memory_type, H5Tget_cset(file_type)));
    std::vector<char*> texts(static_cast<size_t>(n), nullptr);
    RESILINET_H5(H5Aread(attribute, memory_type, texts.data()));
    for (char* t : texts) out.emplace_back(t ? t : "");
    H5Dvlen_reclaim(memory_type, space, H5P_DEFAULT, texts.data());
    return out;
  }
  size_t size = H5Tget_size(file_type);
  Datatype memory_type(RESILINET_H5(H5Tcopy(file_type)));
  std::vector<char> buffer(static_cast<size_t>(n) * size);
  RESILINET_H5(H5Aread(attribute, memory_type, buffer.data()));
  bool space_padded = H5Tget_strpad(file_type) == H5T_STR_SPACEPAD;
  for (hssize_t i = 0; i < n; ++i) {
    const char* begin = buffer.data() + static_cast<size_t>(i) * size;
    std::string s(begin, strnlen(begin, size));
    if (space_padded) s.erase(s.find_last_not_of(' ') + 1);
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<int64_t> read_integers(hid_t attribute) {
  hssize_t n = attribute_elements(attribute);
  std::vector<int64_t> out(static_cast<size_t>(std::max<hssize_t>(n, 0)));
  if (!out.empty()) RESILINET_H5(H5Aread(attribute, H5T_NATIVE_INT64, out.data()));
  return out;
}

}  // namespace resilinet::h5
