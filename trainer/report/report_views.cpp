// Views shared by report.json and report.html (trainer/report/report_views.hpp).
#include "trainer/report/report_views.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "trainer/outputs/cell_table.hpp"

namespace resilinet {
namespace {

// Mean of the profile's features that `group_of` puts in each group, groups in the given order.
ProfileGroups group_means(const Schema& schema, const std::vector<std::vector<double>>& profile,
                          const std::vector<std::string>& groups, std::string FeatureSpec::*group_of) {
  ProfileGroups out;
  for (const auto& g : groups) {
    bool used = false;
    for (const auto& f : schema.features) used = used || f.*group_of == g;
    if (used) out.names.push_back(g);
  }
  for (const auto& level : profile) {
    std::vector<double> means;
    for (const auto& g : out.names) {
      double sum = 0;
      int n = 0;
      for (size_t f = 0; f < schema.size(); ++f)
        if (schema.features[f].*group_of == g) sum += level[f], ++n;
      means.push_back(sum / n);
    }
    out.means.push_back(std::move(means));
  }
  return out;
}

}  // namespace

ProfileGroups profile_by_system(const Schema& schema, const std::vector<std::vector<double>>& profile) {
  return group_means(schema, profile, schema.systems(), &FeatureSpec::system);
}

ProfileGroups profile_by_component(const Schema& schema, const std::vector<std::vector<double>>& profile) {
  return group_means(schema, profile, known_components(), &FeatureSpec::component);
}

std::vector<double> profile_scores(const Schema& schema, const std::vector<std::vector<double>>& profile,
                                   const std::string& rule) {
  // feature_mean weighs every feature alike; component_score every component (levels.order).
  const std::vector<std::vector<double>> means =
      rule == "feature_mean" ? profile : profile_by_component(schema, profile).means;
  std::vector<double> scores;
  for (const auto& level : means) {
    double sum = 0;
    for (double v : level) sum += v;
    scores.push_back(level.empty() ? 0.0 : sum / double(level.size()));
  }
  return scores;
}

int risk_bin(int risk) {
  if (risk <= 0) return -1;
  return risk <= 2 ? 0 : risk <= kRiskClasses - 2 ? 1 : 2;
}

int resilience_bin(int level, int levels) {
  if (level <= 2) return 0;
  return level >= std::max(3, levels - 1) ? 2 : 1;
}

std::string risk_bin_label(int bin) {
  return bin == 0 ? "risk 1-2" : bin == 1 ? "risk 3" : fmt::format("risk {}-{}", kRiskClasses - 1, kRiskClasses);
}

std::string resilience_bin_label(int bin, int levels) {
  if (bin == 0) return "levels 1-2";
  const int high = std::max(3, levels - 1);
  if (bin == 2) return high == levels ? fmt::format("level {}", levels) : fmt::format("levels {}-{}", high, levels);
  return high - 1 == 3 ? "level 3" : high - 1 < 3 ? "none" : fmt::format("levels 3-{}", high - 1);
}

BivariateCounts bivariate_counts(const RegionReport& region, int levels) {
  BivariateCounts out{};
  for (size_t c = 0; c < region.risk_levels.size(); ++c)
    for (int k = 0; k < levels; ++k)
      out[resilience_bin(k + 1, levels)][risk_bin(int(c) + 1)] += region.risk_levels[c][k];
  return out;
}

std::vector<TrainingCurve> training_curves(const nlohmann::json& records) {
  std::vector<TrainingCurve> curves;
  if (!records.is_array()) return curves;
  // stage -> field -> x -> y, stages and fields in order of first appearance.
  std::vector<std::string> stages;
  std::map<std::string, std::vector<std::string>> fields;
  std::map<std::string, std::string> x_of;
  std::map<std::pair<std::string, std::string>, std::map<double, double>> values;
  for (const auto& r : records) {
    if (!r.is_object() || !r.contains("stage") || !r["stage"].is_string()) continue;
    const std::string stage = r["stage"].get<std::string>();
    const char* x = r.contains("epoch") && r["epoch"].is_number() ? "epoch"
                    : r.contains("step") && r["step"].is_number() ? "step" : nullptr;
    if (!x) continue;
    if (!x_of.count(stage)) stages.push_back(stage), x_of[stage] = x;
    if (x_of[stage] != x) continue;
    for (const auto& [key, value] : r.items()) {
      // Counters are the x axis, not curves.
      if (!value.is_number() || key == "epoch" || key == "step" || key == "steps") continue;
      auto& f = fields[stage];
      if (std::find(f.begin(), f.end(), key) == f.end()) f.push_back(key);
      values[{stage, key}][r[x].get<double>()] = value.get<double>();
    }
  }
  for (const auto& stage : stages)
    for (const auto& field : fields[stage]) {
      const auto& series = values[{stage, field}];
      TrainingCurve c{stage, x_of[stage], field, {}};
      const size_t n = series.size(), keep = std::min(n, kCurvePoints);
      size_t i = 0, next = 0;  // keep point i when it reaches the next of `keep` evenly spaced ranks
      for (const auto& [x, y] : series) {
        if (keep > 1 && i == (next * (n - 1)) / (keep - 1)) {
          c.points.emplace_back(x, y);
          ++next;
        } else if (keep == 1) {
          c.points.emplace_back(x, y);
        }
        ++i;
      }
      curves.push_back(std::move(c));
    }
  return curves;
}

std::string priority_csv(const Report& report, int region) {
  std::string csv;
  for (const char* column : kPriorityColumns) csv += std::string(csv.empty() ? "" : ",") + column;
  csv += "\n";
  for (const PriorityCell& c : report.priority) {
    if (region >= 0 && c.region != uint32_t(region)) continue;
    csv += fmt::format("{},{},{:.6f},{:.6f},{},{},{}\n", c.cell_id, csv_field(report.regions[c.region].name), c.lon,
                       c.lat, c.level, c.hazard, c.risk);
  }
  return csv;
}

VariantsTable variants_table(const nlohmann::json& variants) {
  VariantsTable t;
  for (const auto& m : variants["metrics"]) {
    const std::string key = m["key"];
    t.metrics.push_back({key, m.value("label", key), m["better"] == "lower", std::nullopt});
  }
  for (const auto& v : variants["variants"]) {
    VariantsTable::Row row{v["name"], v.value("kind", ""), v.value("file", ""), v.value("description", ""), {}};
    const auto& summary = v["summary"];
    for (VariantsTable::Metric& m : t.metrics) {
      const auto it = summary.find(m.key);
      if (it == summary.end() || it->is_null()) {
        row.values.emplace_back();
        continue;
      }
      VariantSummary s{(*it)["mean"].get<double>(), std::nullopt, std::nullopt};
      if (it->contains("sd") && (*it)["sd"].is_number()) s.sd = (*it)["sd"].get<double>();
      if (it->contains("n")) s.n = (*it)["n"].get<int64_t>();
      if (!m.best || (m.lower_is_better ? s.mean < *m.best : s.mean > *m.best)) m.best = s.mean;
      row.values.push_back(s);
    }
    t.rows.push_back(std::move(row));
  }
  return t;
}

}  // namespace resilinet
