// A table with one row per cell, written while streaming to any of three files: STEM.h5 (one
// dataset per column, for programs), STEM.csv and STEM.geojson (points, for GIS tools). Every table
// starts with the cell's id, region and position; the caller names the other columns. A value that
// is not finite (a missing hazard) is an empty CSV field and a GeoJSON null; HDF5 keeps it as NaN.
// Every file appears under its final name only when commit() succeeds.
#pragma once
#include <hdf5.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "datasets/loader.hpp"
#include "trainer/outputs/room.hpp"

namespace resilinet {

struct CellTableFiles {
  bool hdf5 = true, csv = true, geojson = true;
};

// The files a --format list asks for ("hdf5", "csv", "geojson"; the CLI checks the names).
inline CellTableFiles cell_table_files(const std::vector<std::string>& formats) {
  CellTableFiles files{false, false, false};
  for (const std::string& f : formats) {
    files.hdf5 |= f == "hdf5";
    files.csv |= f == "csv";
    files.geojson |= f == "geojson";
  }
  return files;
}

struct CellColumn {
  enum class Type { Int8, Int32, Float32 };
  std::string name;  // dataset and GeoJSON property; CSV: name, or name1..nameW when width > 1
  Type type = Type::Int32;
  int width = 1;  // values per cell: > 1 is a [rows x width] dataset and a GeoJSON list
  bool in_csv = true, in_geojson = true;
  // Int32 codes of names: CSV and GeoJSON write labels[code] (empty / null for a code outside
  // them); HDF5 writes the codes with the labels as the dataset's attribute `labels`.
  std::vector<std::string> labels = {};
};

// A CSV field (RFC 4180): as is, or quoted with inner quotes doubled when it holds a comma, quote or
// line break.
std::string csv_field(const std::string& text);

class CellTableWriter {
 public:
  // Writes into out_dir (made if needed: an impossible folder is bad input for `--out`).
  CellTableWriter(const std::string& out_dir, const std::string& stem, const std::string& format, int format_version,
                  const std::vector<std::string>& region_names, std::vector<CellColumn> columns, CellTableFiles files);
  ~CellTableWriter();
  // The HDF5 file, for attributes beyond format and region_names; -1 when not written.
  hid_t hdf5() const;
  // values[c] holds batch.rows x columns[c].width values of the column's type.
  void append(const Batch& batch, const std::vector<const void*>& values);
  void commit();
  size_t rows() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace resilinet
