// report.json (trainer/report/report.hpp): every number the page shows, except the map samples, in
// a form a program can check against the ratings (docs/FORMAT.md "Report").
#include <cmath>

#include "trainer/report/report.hpp"
#include "trainer/report/report_views.hpp"

namespace resilinet {
namespace {

using nlohmann::json;

json finite_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

// {name: value} of one level.
json named(const std::vector<std::string>& names, const std::vector<double>& values) {
  json out = json::object();
  for (size_t i = 0; i < names.size(); ++i) out[names[i]] = finite_or_null(values[i]);
  return out;
}

json profile_json(const Schema& schema, const RegionReport& g) {
  const ProfileGroups systems = profile_by_system(schema, g.profile);
  const ProfileGroups components = profile_by_component(schema, g.profile);
  const std::vector<double> scores = profile_scores(schema, g.profile);
  json levels = json::array();
  for (size_t k = 0; k < g.profile.size(); ++k)
    levels.push_back({{"level", k + 1},
                      {"features", named(schema.names(), g.profile[k])},
                      {"systems", named(systems.names, systems.means[k])},
                      {"components", named(components.names, components.means[k])},
                      {"score", finite_or_null(scores[k])}});
  return {{"rule", "mean over the level's rated cells of direction * scaled value (checkpoint scaler, missing "
                   "values imputed with the training median); higher is more resilient for every feature; "
                   "systems and components: mean of their features; score: mean of the component means"},
          {"levels", levels}};
}

json region_json(const Report& report, const RegionReport& g) {
  const int K = report.levels;
  json shares = json::array();
  for (uint64_t c : g.level_cells) shares.push_back(g.cells ? double(c) / double(g.cells) : 0.0);
  json raw = json::array();
  for (int k = 0; k < K; ++k) raw.push_back({{"level", k + 1}, {"features", named(report.schema.names(), g.raw_means[k])}});
  json out = {{"name", g.name},
              {"cells", g.cells},
              {"not_rated_cells", g.not_rated},
              {"level_cells", g.level_cells},
              {"level_share", shares},
              {"feature_profile", profile_json(report.schema, g)},
              {"feature_means", raw}};
  if (!g.risk_levels.empty()) {
    uint64_t with_risk = 0;
    for (const auto& row : g.risk_levels)
      for (uint64_t c : row) with_risk += c;
    out["risk_by_level"] = g.risk_levels;
    out["cells_with_risk_class"] = with_risk;
    out["priority_cells"] = g.priority_cells;
    out["priority_share"] = g.cells ? double(g.priority_cells) / double(g.cells) : 0.0;
    json bins = json::array();
    for (const auto& row : bivariate_counts(g, K)) bins.push_back(row);
    out["bivariate"] = {{"rows", {resilience_bin_label(0, K), resilience_bin_label(1, K), resilience_bin_label(2, K)}},
                        {"cols", {risk_bin_label(0), risk_bin_label(1), risk_bin_label(2)}},
                        {"counts", bins}};
  }
  return out;
}

json priority_json(const Report& report) {
  json rows = json::array();
  for (const PriorityCell& c : report.priority)
    rows.push_back({c.cell_id, report.regions[c.region].name, c.lon, c.lat, c.level, c.hazard, c.risk});
  return {{"rule", "rated cells with risk class 4-5 at level 1-2, the highest hazard first (ties: lower cell_id); "
                   "at most `cap` of them"},
          {"cap", report.priority_cap},
          {"total", report.all.priority_cells},
          {"listed", report.priority.size()},
          {"columns", kPriorityColumns},
          {"rows", rows}};
}

json curves_json(const nlohmann::json& log) {
  json out = json::array();
  for (const TrainingCurve& c : training_curves(log)) {
    json points = json::array();
    for (const auto& [x, y] : c.points) points.push_back({x, y});
    out.push_back({{"stage", c.stage}, {"x", c.x}, {"y", c.y}, {"points", points}});
  }
  return out;
}

// The members of explain_summary.json that the page shows, as they are.
json explanations_json(const json& e) {
  json out = json::object();
  const json& relevance = e["relevance"];
  out["relevance"] = {{"levels", relevance["levels"]}};
  if (relevance.contains("all")) out["relevance"]["all"] = relevance["all"];
  if (e.contains("perturbation")) out["perturbation"] = e["perturbation"];
  return out;
}

json provenance_json(const Report& report, const ReportProvenance& p) {
  json shards = json::array();
  for (const auto& [path, rows] : report.shards) shards.push_back({{"path", path}, {"rows", rows}});
  json schema = json::array();
  for (const auto& f : report.schema.features)
    schema.push_back({{"name", f.name}, {"system", f.system}, {"component", f.component},
                      {"direction", f.direction}, {"unit", f.unit}});
  return {{"checkpoint", p.checkpoint}, {"data", p.data},           {"shards", shards},
          {"metrics", p.metrics},       {"explain", p.explain},     {"metrics_log", p.metrics_log},
          {"seed", report.config.seed}, {"threads", report.config.threads}, {"device", report.config.device},
          {"config_yaml", to_yaml(report.config)},                  {"schema", schema},
          {"resilinet_version", p.version}, {"commit", p.commit},   {"created_utc", p.created_utc}};
}

}  // namespace

json report_json(const Report& report, const ReportInputs& inputs) {
  const int K = report.levels;
  json regions = json::array();
  for (const RegionReport& g : report.regions) regions.push_back(region_json(report, g));
  json out = {{"levels", K},
              {"regions", regions},
              {"all_regions", region_json(report, report.all)},
              {"not_rated_cells", report.not_rated},
              {"feature_means_by_level", region_json(report, report.all)["feature_means"]},
              {"section_ids", report_section_ids(report, inputs)},
              {"provenance", provenance_json(report, inputs.provenance)}};
  if (report.has_hazard) {
    out["risk_classes"] = {{"cuts", report.hazard_cuts},
                           {"unit", report.hazard_unit},
                           {"hazard_min", report.hazard_min},
                           {"hazard_max", report.hazard_max},
                           {"rule", "quintiles of /hazard over all cells; class 1 lowest, 5 highest; "
                                    "risk_by_level[class - 1][level - 1] counts cells; priority cells are "
                                    "risk classes 4-5 at levels 1-2"}};
    out["priority_list"] = priority_json(report);
  }
  if (!inputs.metrics.is_null()) out["training_metrics"] = inputs.metrics;
  if (!inputs.training_log.is_null()) out["training_curves"] = curves_json(inputs.training_log);
  if (!inputs.explanations.is_null()) {
    out["explanations"] = explanations_json(inputs.explanations);
    json top = json::array();
    for (const auto& l : inputs.explanations["relevance"]["levels"])
      top.push_back({{"level", l.value("level", 0)}, {"top_features", l.value("top_features", json::array())}});
    out["relevance_top_features_by_level"] = top;
  }
  if (!inputs.scenarios.is_null()) out["scenarios"] = inputs.scenarios;
  if (!report.rollups.is_null()) out["rollups"] = report.rollups;
  return out;
}

std::string report_json_text(const json& report) {
  if (!report.contains("priority_list")) return report.dump(2) + "\n";
  // The rows go in after the rest is indented, in place of a marker. Quotes inside any string value
  // are escaped by dump, so the marker with its key matches only the member itself.
  json copy = report;
  copy["priority_list"]["rows"] = "@rows@";
  std::string text = copy.dump(2);
  const std::string marker = "\"rows\": \"@rows@\"";
  std::string rows = "\"rows\": [";
  const json& list = report["priority_list"]["rows"];
  for (size_t i = 0; i < list.size(); ++i) rows += (i ? ",\n      " : "\n      ") + list[i].dump();
  rows += list.empty() ? "]" : "\n    ]";
  text.replace(text.find(marker), marker.size(), rows);
  return text + "\n";
}

}  // namespace resilinet
