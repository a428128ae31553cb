// Roll-ups of the ratings per region and per grouping unit (trainer/outputs/rollup.hpp). The sums
// are counts and residents per unit and level; shares and mean levels are computed from them once,
// in to_json(), and the CSV is the same numbers as rows.
#include "trainer/outputs/rollup.hpp"

#include <cmath>
#include <iterator>
#include <stdexcept>

#include <fmt/format.h>

#include "trainer/outputs/atomic_file.hpp"
#include "trainer/outputs/cell_table.hpp"

namespace resilinet {
namespace {

// Shares of each level and the mean level, weighted by `weight` per level (index 1..K); nulls when
// the weights sum to zero.
void weighted_levels(const std::vector<double>& weight, int K, nlohmann::json& shares, nlohmann::json& mean) {
  double total = 0, levels = 0;
  for (int k = 1; k <= K; ++k) {
    total += weight[size_t(k)];
    levels += double(k) * weight[size_t(k)];
  }
  shares = nlohmann::json::array();
  for (int k = 1; k <= K; ++k) shares.push_back(total > 0 ? nlohmann::json(weight[size_t(k)] / total) : nlohmann::json());
  mean = total > 0 ? nlohmann::json(levels / total) : nlohmann::json();
}

// A JSON number (or null) as a CSV field: integers as such, other numbers in their shortest form
// that reads back to the same double, null as an empty field.
void append_number(std::string& out, const nlohmann::json& v) {
  out += ',';
  if (v.is_null()) return;
  if (v.is_number_integer()) fmt::format_to(std::back_inserter(out), "{}", v.get<int64_t>());
  else fmt::format_to(std::back_inserter(out), "{}", v.get<double>());
}

}  // namespace

Rollup::Rollup(const ShardSet& data, int levels)
    : levels_(levels), with_population_(data.has_population()) {
  if (levels < 1) throw std::invalid_argument("Rollup: levels must be at least 1");
  kinds_.push_back({"region", data.region_names(), 0});
  for (size_t g = 0; g < data.group_names().size(); ++g)
    kinds_.push_back({data.group_names()[g], data.group_labels()[g], 0});
  for (Kind& kind : kinds_) {
    kind.first_unit = units_;
    units_ += kind.labels.size();
  }
  counts_.assign(units_ * size_t(levels + 2), 0);
  if (with_population_) population_.assign(units_ * size_t(levels + 1), 0.0);
}

void Rollup::add(const Batch& b, const int32_t* level) {
  const size_t K = size_t(levels_), G = kinds_.size() - 1;
  if (b.groupings != G)
    throw std::logic_error(fmt::format("Rollup::add: a batch of {} groupings for {}", b.groupings, G));
  if (with_population_ && !b.population) throw std::logic_error("Rollup::add: a batch without population");
  for (size_t i = 0; i < b.rows; ++i) {
    const int32_t l = level[i];
    if (l < 0 || size_t(l) > K) throw std::logic_error(fmt::format("Rollup::add: level {} of {}", l, K));
    const float people = with_population_ ? b.population[i] : 0.0f;
    for (size_t k = 0; k <= G; ++k) {
      const size_t code = k == 0 ? b.region[i] : b.groups[i * G + k - 1];
      const size_t u = kinds_[k].first_unit + code;
      ++counts_[u * (K + 2) + size_t(l)];
      if (!with_population_) continue;
      if (std::isnan(people))
        ++counts_[u * (K + 2) + K + 1];
      else
        population_[u * (K + 1) + size_t(l)] += double(people);
    }
  }
}

nlohmann::json Rollup::to_json() const {
  const size_t K = size_t(levels_);
  nlohmann::json kinds = nlohmann::json::array(), units = nlohmann::json::array();
  for (const Kind& kind : kinds_) {
    size_t listed = 0;
    for (size_t code = 0; code < kind.labels.size(); ++code) {
      const size_t u = kind.first_unit + code;
      const int64_t* c = counts_.data() + u * (K + 2);
      int64_t cells = 0;
      for (size_t l = 0; l <= K; ++l) cells += c[l];
      if (cells == 0) continue;  // a label no cell has (e.g. another shard's): no unit to rate
      ++listed;
      nlohmann::json unit = {{"kind", kind.name}, {"unit", kind.labels[code]}, {"cells", cells}, {"not_rated", c[0]}};
      unit["cells_per_level"] = std::vector<int64_t>(c + 1, c + 1 + K);
      std::vector<double> weight(c, c + K + 1);
      weighted_levels(weight, levels_, unit["share_cells"], unit["mean_level_cells"]);
      if (with_population_) {
        const double* p = population_.data() + u * (K + 1);
        double total = 0;
        for (size_t l = 0; l <= K; ++l) total += p[l];
        unit["population"] = total;
        unit["cells_without_population"] = c[K + 1];
        unit["population_per_level"] = std::vector<double>(p + 1, p + 1 + K);
        weighted_levels(std::vector<double>(p, p + K + 1), levels_, unit["share_population"],
                        unit["mean_level_population"]);
      }
      units.push_back(std::move(unit));
    }
    kinds.push_back({{"kind", kind.name}, {"units", listed}});
  }
  return {{"format", "resilinet-rollup"}, {"format_version", 1}, {"levels", levels_},
          {"has_population", with_population_}, {"kinds", kinds}, {"units", units}};
}

std::string Rollup::to_csv() const {
  const nlohmann::json doc = to_json();
  std::string out = "kind,unit,cells,not_rated";
  const auto columns = [&](const char* stem) {
    for (int k = 1; k <= levels_; ++k) out += fmt::format(",{}{}", stem, k);
  };
  columns("cells_level");
  columns("share_cells_level");
  out += ",mean_level_cells";
  if (with_population_) {
    out += ",population,cells_without_population";
    columns("population_level");
    columns("share_population_level");
    out += ",mean_level_population";
  }
  out += '\n';
  for (const nlohmann::json& u : doc["units"]) {
    out += csv_field(u["kind"].get<std::string>()) + ',' + csv_field(u["unit"].get<std::string>());
    append_number(out, u["cells"]);
    append_number(out, u["not_rated"]);
    std::vector<const char*> fields = {"cells_per_level", "share_cells", "mean_level_cells"};
    if (with_population_)
      fields.insert(fields.end(), {"population", "cells_without_population", "population_per_level",
                                   "share_population", "mean_level_population"});
    for (const char* field : fields) {
      if (u[field].is_array())
        for (const nlohmann::json& v : u[field]) append_number(out, v);
      else
        append_number(out, u[field]);
    }
    out += '\n';
  }
  return out;
}

void write_rollup_files(const std::string& out_dir, const Rollup& rollup) {
  write_text_atomically(out_dir + "/rollup.json", rollup.to_json().dump(2) + "\n");
  write_text_atomically(out_dir + "/rollup.csv", rollup.to_csv());
}

}  // namespace resilinet
