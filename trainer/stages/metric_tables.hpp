// Small reshapes of count tables that metrics.json writes: shared by the evaluation and the
// baselines.
#pragma once
#include "trainer/stages/room.hpp"
#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "trainer/stages/cluster_metrics.hpp"

namespace resilinet {

// A table's counts as a JSON array of rows.
inline nlohmann::json count_rows(const std::vector<int64_t>& counts, int rows, int cols) {
  nlohmann::json out = nlohmann::json::array();
  for (int r = 0; r < rows; ++r)
    out.push_back(std::vector<int64_t>(counts.begin() + size_t(r) * cols, counts.begin() + size_t(r + 1) * cols));
  return out;
}

inline ContingencyTable transposed(const ContingencyTable& t) {
  ContingencyTable out(t.cols, t.rows);
  for (int r = 0; r < t.rows; ++r)
    for (int c = 0; c < t.cols; ++c) out.counts[size_t(c) * t.rows + r] = t.at(r, c);
  return out;
}

// Levels 1..K of two ratings (as a table over 0..K) -> the square K x K table of rated cells.
inline ContingencyTable rated_only(const ContingencyTable& t) {
  ContingencyTable out(t.rows - 1, t.cols - 1);
  for (int r = 1; r < t.rows; ++r)
    for (int c = 1; c < t.cols; ++c) out.counts[size_t(r - 1) * out.cols + c - 1] = t.at(r, c);
  return out;
}

}  // namespace resilinet
