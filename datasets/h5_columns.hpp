// Opening a row dataset of an untrusted file with its type, shape and claimed size checked: what a
// column must be (ColumnSpec), and open_column, which names the file and dataset in its InputError.
// Used by the readers of shards and of ratings files.
#pragma once
#include <hdf5.h>

#include <string>

#include "datasets/h5.hpp"

namespace resilinet {

// What a dataset must be: its HDF5 type class, element size, signedness and columns (0 = 1-D).
struct ColumnSpec {
  const char* name;
  H5T_class_t type_class;
  size_t bytes;
  bool is_signed;
  hsize_t columns;  // 0: rank 1 [N]; otherwise rank 2 [N, columns]
  const char* type_label;
};

// "int64 [N]", "float32 [N, 12]".
std::string expected_label(const ColumnSpec& c);

// Opens and checks one dataset of `file` (named `path` in errors); returns it with its row count in
// rows. The rows claimed must be stored in the file: a few-KB file claiming 2^40 rows would
// otherwise keep a reader busy for ever with fill values.
h5::Dataset open_column(hid_t file, const std::string& path, const ColumnSpec& c, hsize_t& rows);

}  // namespace resilinet
