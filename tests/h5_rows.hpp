// Reading a whole row dataset of an HDF5 file the commands write (ratings.h5, cells.h5, ...), for
// tests that check those files.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "datasets/h5.hpp"

namespace resilinet::testing {

// A whole row dataset of an HDF5 file as T (rows x columns values).
template <typename T>
std::vector<T> read_h5_rows(const std::filesystem::path& file, const std::string& name, hid_t memory_type) {
  auto f = h5::open_file_read_only(file.string());
  auto ds = h5::open_row_dataset(f, name);
  const std::vector<hsize_t> dims = h5::dataset_dims(ds);
  size_t n = dims.empty() ? 0 : size_t(dims[0]);
  const size_t width = dims.size() > 1 ? size_t(dims[1]) : 1;
  std::vector<T> out(n * width);
  if (n) h5::read_rows(ds, memory_type, 0, n, out.data());
  return out;
}

}  // namespace resilinet::testing
