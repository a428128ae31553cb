// Checked opening of row datasets (datasets/h5_columns.hpp).
#include "datasets/h5_columns.hpp"

#include <vector>

#include <fmt/format.h>

#include "datasets/input_error.hpp"

namespace resilinet {

std::string expected_label(const ColumnSpec& c) {
  std::string shape = c.columns == 0 ? "[N]" : "[N, " + std::to_string(c.columns) + "]";
  return std::string(c.type_label) + " " + shape;
}

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
                 (c.type_class != H5T_INTEGER || (H5Tget_sign(type) == H5T_SGN_2) == c.is_signed);
  bool shape_ok = dims.size() == (c.columns == 0 ? 1u : 2u) && (c.columns == 0 || dims[1] == c.columns);
  if (!type_ok || !shape_ok)
    throw InputError(path, field, expected_label(c), h5::type_name(type) + " " + h5::shape_name(dims, dims.empty()));
  rows = dims[0];
  // Deflate compresses at most about 1000:1, so a claim beyond 4096 times the bytes stored (plus a
  // little for tiny sets) cannot be real data.
  const double claimed = double(rows) * double(c.bytes) * double(c.columns == 0 ? 1 : c.columns);
  const double stored = double(H5Dget_storage_size(dataset));
  if (claimed > 4096.0 * stored + double(1 << 20))
    throw InputError(path, field, "rows that the file stores",
                     fmt::format("{} rows claimed ({:.3g} bytes) over {:.0f} bytes stored", rows, claimed, stored));
  return dataset;
}

}  // namespace resilinet
