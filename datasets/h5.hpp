// A small RAII layer over the HDF5 C API: handles that close themselves, one checking macro that
// turns a negative return code into an h5::Error naming the call, and the few row/attribute
// operations the shard format needs. It knows nothing about shards; datasets/shard_*.cpp do.
#pragma once
#include <hdf5.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace resilinet::h5 {

// An HDF5 call failed. what() names the call and where it was made; detail() is HDF5's own
// description of the failure (e.g. "truncated file: eof = ..."), suitable for users.
class Error : public std::runtime_error {
 public:
  Error(const std::string& what, std::string detail)
      : std::runtime_error(what), detail_(std::move(detail)) {}
  const std::string& detail() const { return detail_; }

 private:
  std::string detail_;
};

[[noreturn]] void throw_error(const char* call, const char* file, int line);

template <class Status>
Status check(Status status, const char* call, const char* file, int line) {
  if (status < 0) throw_error(call, file, line);
  return status;
}

// Stops HDF5 from printing its error stack to stderr; errors reach us as return codes instead.
// Called by every function here that opens or creates a file; idempotent.
void silence_error_printing();

}  // namespace resilinet::h5

#define RESILINET_H5(call) ::resilinet::h5::check((call), #call, __FILE__, __LINE__)

namespace resilinet::h5 {

// Owns one HDF5 identifier and closes it with Close when destroyed (errors on close are ignored
// there; call close() to have them reported).
template <herr_t (*Close)(hid_t)>
class Handle {
 public:
  Handle() = default;
  explicit Handle(hid_t id) : id_(id) {}
  ~Handle() { reset(); }
  Handle(Handle&& other) noexcept : id_(std::exchange(other.id_, H5I_INVALID_HID)) {}
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = std::exchange(other.id_, H5I_INVALID_HID);
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  operator hid_t() const { return id_; }
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void reset() {
    if (id_ >= 0) Close(id_);
    id_ = H5I_INVALID_HID;
  }
  // Closes now and throws if HDF5 reports a failure (e.g. a flush that could not be written).
  void close(const char* what) {
    hid_t id = std::exchange(id_, H5I_INVALID_HID);
    if (id >= 0) check(Close(id), what, __FILE__, __LINE__);
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
};

using File = Handle<H5Fclose>;
using Dataset = Handle<H5Dclose>;
using Dataspace = Handle<H5Sclose>;
using Attribute = Handle<H5Aclose>;
using PropList = Handle<H5Pclose>;
using Datatype = Handle<H5Tclose>;
using Group = Handle<H5Gclose>;

// Files. create_file truncates; files are written in the HDF5 1.8 format (readable by any h5py)
// so that attributes larger than 64 KiB (many region names) go to dense storage.
File create_file(const std::string& path);
File open_file_read_only(const std::string& path);
File open_file_read_write(const std::string& path);

bool has_link(hid_t location, const std::string& name);
bool has_attribute(hid_t location, const std::string& name);

// Groups. create_group writes no modification time (the same content gives the same bytes).
Group create_group(hid_t location, const std::string& name);
Group open_group(hid_t location, const std::string& name);
// The names of a group's links in HDF5's name order (bytewise), with whether each is a hard link.
struct LinkName {
  std::string name;
  bool hard = false;
};
std::vector<LinkName> link_names(hid_t group);

// Type and shape descriptions for messages: "float32", "uint32", "variable-length string", ...;
// "[100, 12]", "scalar", "null".
std::string type_name(hid_t type);
std::string shape_name(const std::vector<hsize_t>& dims, bool scalar = false);
std::vector<hsize_t> dataspace_dims(hid_t space);

// Datasets of rows: rank 1 (columns == 0) or rank 2 with a fixed second dimension, unlimited in
// rows, chunked by chunk_rows rows, with shuffle + deflate when deflate_level > 0.
Dataset create_row_dataset(hid_t location, const std::string& name, hid_t file_type,
                           hsize_t columns, hsize_t chunk_rows, int deflate_level);
// Opens a dataset with a chunk cache that holds at least one of its chunks, so slab reads that
// cut through a compressed chunk do not decompress it again for every slab.
Dataset open_row_dataset(hid_t location, const std::string& name);
std::vector<hsize_t> dataset_dims(hid_t dataset);
// Extends the dataset to first_row + rows rows and writes rows rows from data (one H5Dwrite).
void write_rows(hid_t dataset, hid_t memory_type, hsize_t first_row, hsize_t rows, const void* data);
// Reads rows [first_row, first_row + rows) with one hyperslab H5Dread.
void read_rows(hid_t dataset, hid_t memory_type, hsize_t first_row, hsize_t rows, void* out);

// Attributes. Strings are written as variable-length UTF-8 (h5py reads them as str); readers
// accept variable- and fixed-length strings. A zero-length array is a 1-D dataspace of size 0.
void write_string_attribute(hid_t location, const std::string& name, const std::string& value);
void write_string_array_attribute(hid_t location, const std::string& name,
                                  const std::vector<std::string>& values);
void write_int32_attribute(hid_t location, const std::string& name, int32_t value);
void write_int8_array_attribute(hid_t location, const std::string& name,
                                const std::vector<int8_t>& values);
void write_double_array_attribute(hid_t location, const std::string& name,
                                  const std::vector<double>& values);

Attribute open_attribute(hid_t location, const std::string& name);
Datatype attribute_type(hid_t attribute);
hssize_t attribute_elements(hid_t attribute);  // 1 for a scalar, 0 for a null dataspace
// Reads every element of a string attribute (scalar or array). The caller checks the class.
std::vector<std::string> read_strings(hid_t attribute);

// Refuses (h5::Error) a file whose global heap collections, where variable-length strings live,
// do not add up: libhdf5 1.10 would loop for ever or copy past its buffers on them. Walks every
// collection in the file that holds `object`, once per file version in the process.
void check_global_heaps(hid_t object);

// Reads every element of an integer attribute, converted to int64. The caller checks the class.
std::vector<int64_t> read_integers(hid_t attribute);

}  // namespace resilinet::h5
