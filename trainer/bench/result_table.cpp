#include "trainer/bench/result_table.hpp"

#include <cmath>
#include <optional>

#include <fmt/format.h>

#include "trainer/outputs/cell_table.hpp"

namespace resilinet {
namespace {

std::optional<double> cell_value(const nlohmann::json& cell) {
  if (cell.is_number()) return cell.get<double>();
  if (cell.is_object() && cell.contains("mean") && cell["mean"].is_number()) return cell["mean"].get<double>();
  return std::nullopt;
}

std::string number(double v) { return fmt::format("{:.4g}", v); }

// A name or text inside a Markdown table cell: a '|' would end the cell.
std::string markdown_text(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += '\\';
    out += c == '\n' ? ' ' : c;
  }
  return out;
}

std::string markdown_cell(const nlohmann::json& cell) {
  if (cell.is_object() && cell.contains("mean")) {
    const double sd = cell.value("sd", 0.0);
    return cell.value("n", 1) > 1 ? number(cell["mean"].get<double>()) + " ± " + number(sd) : number(cell["mean"].get<double>());
  }
  if (cell.is_number_integer()) return std::to_string(cell.get<int64_t>());
  if (cell.is_number()) return number(cell.get<double>());
  if (cell.is_string()) return markdown_text(cell.get<std::string>());
  return "n/a";
}

const nlohmann::json& cell_of(const ResultRow& row, const std::string& key) {
  static const nlohmann::json null;
  return row.cells.contains(key) ? row.cells[key] : null;
}

}  // namespace

nlohmann::json summarize(const std::vector<double>& values) {
  if (values.empty()) return nullptr;
  double mean = 0;
  for (double v : values) mean += v;
  mean /= double(values.size());
  double ss = 0;
  for (double v : values) ss += (v - mean) * (v - mean);
  const double sd = values.size() > 1 ? std::sqrt(ss / double(values.size() - 1)) : 0.0;
  return {{"mean", mean}, {"sd", sd}, {"n", values.size()}};
}

std::vector<ResultColumn> present_columns(const std::vector<ResultColumn>& columns, const std::vector<ResultRow>& rows) {
  std::vector<ResultColumn> out;
  for (const ResultColumn& c : columns)
    for (const ResultRow& r : rows)
      if (!cell_of(r, c.key).is_null()) {
        out.push_back(c);
        break;
      }
  return out;
}

std::string markdown_table(const std::string& name_label, const std::vector<ResultColumn>& columns,
                           const std::vector<ResultRow>& rows) {
  std::string out = "| " + name_label;
  for (const ResultColumn& c : columns) out += " | " + c.label;
  out += " |\n|---";
  for (size_t i = 0; i < columns.size(); ++i) out += "|---:";
  out += "|\n";
  std::vector<std::optional<double>> best(columns.size());
  for (size_t c = 0; c < columns.size(); ++c) {
    if (columns[c].better.empty()) continue;
    for (const ResultRow& r : rows) {
      const auto v = cell_value(cell_of(r, columns[c].key));
      if (v && (!best[c] || (columns[c].better == "higher" ? *v > *best[c] : *v < *best[c]))) best[c] = v;
    }
  }
  for (const ResultRow& r : rows) {
    out += "| " + markdown_text(r.name);
    for (size_t c = 0; c < columns.size(); ++c) {
      const nlohmann::json& cell = cell_of(r, columns[c].key);
      const auto v = cell_value(cell);
      const std::string text = markdown_cell(cell);
      out += " | " + (v && best[c] && *v == *best[c] ? "**" + text + "**" : text);
    }
    out += " |\n";
  }
  return out;
}

std::string csv_table(const std::string& name_label, const std::vector<ResultColumn>& columns,
                      const std::vector<ResultRow>& rows) {
  // A column holds summaries when any row's cell is one.
  std::vector<bool> summary(columns.size(), false);
  for (size_t c = 0; c < columns.size(); ++c)
    for (const ResultRow& r : rows) summary[c] = summary[c] || cell_of(r, columns[c].key).is_object();
  std::string out = csv_field(name_label);
  for (size_t c = 0; c < columns.size(); ++c)
    out += summary[c] ? "," + columns[c].key + "_mean," + columns[c].key + "_sd," + columns[c].key + "_n"
                      : "," + columns[c].key;
  out += "\n";
  for (const ResultRow& r : rows) {
    out += csv_field(r.name);
    for (size_t c = 0; c < columns.size(); ++c) {
      const nlohmann::json& cell = cell_of(r, columns[c].key);
      if (summary[c]) {
        if (cell.is_object())
          out += fmt::format(",{:.17g},{:.17g},{}", cell["mean"].get<double>(), cell["sd"].get<double>(),
                             cell["n"].get<int64_t>());
        else out += ",,,";
      } else if (cell.is_number_integer()) {
        out += "," + std::to_string(cell.get<int64_t>());
      } else if (cell.is_number()) {
        out += fmt::format(",{:.17g}", cell.get<double>());
      } else if (cell.is_string()) {
        out += "," + csv_field(cell.get<std::string>());
      } else {
        out += ",";
      }
    }
    out += "\n";
  }
  return out;
}

}  // namespace resilinet
