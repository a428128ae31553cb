// The tables a benchmark writes, in Markdown (to read), CSV (to load) and JSON (the same numbers
// with their per-seed detail): one row per variant or region, one column per metric.
#pragma once
#include "trainer/bench/room.hpp"
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace resilinet {

struct ResultColumn {
  std::string key, label;
  std::string better;  // "higher", "lower" or "" (no best)
};

// A cell of a row is a summary {"mean", "sd", "n"} (Markdown: mean ± sd; CSV: KEY_mean, KEY_sd,
// KEY_n), a number, a text, or null ("n/a"; empty in CSV).
struct ResultRow {
  std::string name;
  nlohmann::json cells;  // key -> cell
};

// Summary of values over seeds: mean, sample standard deviation (0 for one value) and n; null for
// none.
nlohmann::json summarize(const std::vector<double>& values);

// The best row's value per column by `better` (mean of a summary), in Markdown in bold.
std::string markdown_table(const std::string& name_label, const std::vector<ResultColumn>& columns,
                           const std::vector<ResultRow>& rows);
std::string csv_table(const std::string& name_label, const std::vector<ResultColumn>& columns,
                      const std::vector<ResultRow>& rows);
// Columns whose cells are null in every row are left out of a table.
std::vector<ResultColumn> present_columns(const std::vector<ResultColumn>& columns, const std::vector<ResultRow>& rows);

}  // namespace resilinet
