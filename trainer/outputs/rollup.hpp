// Roll-ups of the ratings to larger units (docs/FORMAT.md "Roll-ups"): for every region and every
// unit of each grouping (county, tract, district), its cells and residents at each level, the shares
// and mean levels they give, and the cells not rated. Memory is O(units x levels) whatever the number
// of cells. It does not rate anything: the caller adds each batch with its levels. Under MPI the
// ranks sum the flat buffers (counts(), population()) before one of them writes the files.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "datasets/loader.hpp"
#include "trainer/outputs/room.hpp"

namespace resilinet {

class Rollup {
 public:
  // The units: the data's regions (kind "region"), then the labels of each grouping (kind: the
  // grouping's name), in the ShardSet's global order. levels: K.
  Rollup(const ShardSet& data, int levels);

  // level[i]: the rating of the batch's cell i, 1..K, or 0 for a cell that is not rated.
  void add(const Batch& batch, const int32_t* level);

  // The sums, as flat buffers for a sum over ranks (every rank holds the same units). Per unit u:
  // counts()[u * (K + 2) + l]: cells at level l (l = 0: not rated), and [u * (K + 2) + K + 1]: cells
  // without a population value; population()[u * (K + 1) + l]: their residents (empty without a
  // population column).
  std::vector<int64_t>& counts() { return counts_; }
  std::vector<double>& population() { return population_; }

  int levels() const { return levels_; }
  bool has_population() const { return with_population_; }
  // rollup.json: the units with at least one cell, in unit order.
  nlohmann::json to_json() const;
  // rollup.csv: the same rows, one per unit, with a header line.
  std::string to_csv() const;

 private:
  struct Kind {
    std::string name;
    std::vector<std::string> labels;
    size_t first_unit = 0;
  };
  int levels_ = 0;
  bool with_population_ = false;
  std::vector<Kind> kinds_;
  size_t units_ = 0;
  std::vector<int64_t> counts_;
  std::vector<double> population_;
};

// Writes out_dir/rollup.json and out_dir/rollup.csv, each under a temporary name renamed when
// complete.
void write_rollup_files(const std::string& out_dir, const Rollup& rollup);

}  // namespace resilinet
