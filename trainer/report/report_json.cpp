// report.json (trainer/report/report.hpp): every number the page shows, except the map samples, in
// a form a program can check against the ratings (docs/FORMAT.md "Report").
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

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

json profile_json(const Schema& schema, const RegionReport& g, const std::string& rule) {
  const ProfileGroups systems = profile_by_system(schema, g.profile);
  const ProfileGroups components = profile_by_component(schema, g.profile);
  const std::vector<double> scores = profile_scores(schema, g.profile, rule);
  json levels = json::array();
  for (size_t k = 0; k < g.profile.size(); ++k)
    levels.push_back({{"level", k + 1},
                      {"features", named(schema.names(), g.profile[k])},
                      {"systems", named(systems.names, systems.means[k])},
                      {"components", named(components.names, components.means[k])},
                      {"score", finite_or_null(scores[k])}});
  return {{"rule", "mean over the level's rated cells of direction * scaled value (checkpoint scaler, missing "
                   "values imputed with the training median); higher is more resilient for every feature; "
                   "systems and components: mean of their features; score: " +
                   std::string(rule == "feature_mean" ? "mean of the features" : "mean of the component means") +
                   " (levels.order: " + rule + ")"},
          {"levels", levels}};
}

// How the region's maps are drawn; for a raster, its grid and the level counts of every bin with cells.
json map_json(const RegionReport& g, int levels) {
  if (!g.section) return {{"kind", "none"}};
  if (!g.raster) return {{"kind", "cells"}, {"cells_drawn", g.map.size()}};
  const MapRaster& r = *g.raster;
  json columns = {"bin", "majority_level"};
  for (int k = 1; k <= levels; ++k) columns.push_back("level_" + std::to_string(k));
  json bins = json::array();
  for (size_t b = 0; b < r.bins(); ++b) {
    if (r.cells(b) == 0) continue;
    json row = {b, r.majority_level(b)};
    for (int k = 0; k < levels; ++k) row.push_back(r.level_counts(b)[k]);
    bins.push_back(std::move(row));
  }
  return {{"kind", "raster"},
          {"rule", "every rated cell in one bin, bin = row * cols + col: u = lon (lon + 360 for lon < 0 when "
                   "wraps_antimeridian), col = floor((u - lon_min) / (lon_max - lon_min) * cols), row = "
                   "floor((lat_max - lat) / (lat_max - lat_min) * rows), each clamped to the grid; majority_level: "
                   "the level with the most cells, ties to the lower level; bins without cells are not listed"},
          {"cols", r.cols()},
          {"rows", r.rows()},
          {"lon_min", r.lon0()},
          {"lon_max", r.lon1()},
          {"lat_min", r.lat0()},
          {"lat_max", r.lat1()},
          {"wraps_antimeridian", r.wraps()},
          {"columns", columns},
          {"bins", bins}};
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
              {"feature_profile", profile_json(report.schema, g, report.config.level_order)},
              {"feature_means", raw},
              {"section", g.section},
              {"map", map_json(g, K)}};
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

// The variants table as the page shows it: the metrics with the best variants of each, and the rows.
json variants_json(const json& variants) {
  const VariantsTable t = variants_table(variants);
  json metrics = json::array(), rows = json::array();
  for (size_t m = 0; m < t.metrics.size(); ++m) {
    json best = json::array();
    for (size_t r = 0; r < t.rows.size(); ++r)
      if (t.is_best(r, m)) best.push_back(t.rows[r].name);
    metrics.push_back({{"key", t.metrics[m].key},
                       {"label", t.metrics[m].label},
                       {"better", t.metrics[m].lower_is_better ? "lower" : "higher"},
                       {"best", best}});
  }
  for (const auto& row : t.rows) {
    json values = json::object();
    for (size_t m = 0; m < t.metrics.size(); ++m) {
      const auto& v = row.values[m];
      values[t.metrics[m].key] = v ? json{{"mean", v->mean},
                                          {"sd", v->sd ? json(*v->sd) : json(nullptr)},
                                          {"n", v->n ? json(*v->n) : json(nullptr)}}
                                   : json(nullptr);
    }
    rows.push_back({{"name", row.name}, {"kind", row.kind}, {"file", row.file}, {"description", row.description},
                    {"values", values}});
  }
  return {{"data", variants.value("data", "")},
          {"cells", variants.value("cells", json())},
          {"seeds", variants.value("seeds", json::array())},
          {"metrics", metrics},
          {"rows", rows}};
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
  if (!inputs.variants.is_null()) out["variants"] = variants_json(inputs.variants);
  if (!inputs.scenarios.is_null()) out["scenarios"] = inputs.scenarios;
  if (!report.rollups.is_null()) out["rollups"] = report.rollups;
  return out;
}

std::string report_json_text(json report) {
  // The long lists of rows: the priority list and each raster's bins.
  std::vector<json::json_pointer> lists;
  const auto add_list = [&](const std::string& pointer) {
    if (report.contains(json::json_pointer(pointer))) lists.emplace_back(pointer);
  };
  add_list("/priority_list/rows");
  add_list("/all_regions/map/bins");
  for (size_t g = 0; report.contains("regions") && g < report["regions"].size(); ++g)
    add_list("/regions/" + std::to_string(g) + "/map/bins");
  // The rows go in after the rest is indented, in place of a marker each. Quotes inside any string
  // value are escaped by dump, so a marker with its key matches only the member itself.
  std::vector<json> rows(lists.size());
  for (size_t i = 0; i < lists.size(); ++i) {
    rows[i] = std::move(report[lists[i]]);
    report[lists[i]] = "@rows-" + std::to_string(i) + "@";
  }
  const std::string text = report.dump(2);
  report = json();
  // Where each marker is, in the order of the text.
  struct Place {
    size_t at, length, list;
  };
  std::vector<Place> places;
  for (size_t i = 0; i < lists.size(); ++i) {
    const std::string marker = "\"" + lists[i].back() + "\": \"@rows-" + std::to_string(i) + "@\"";
    places.push_back({text.find(marker), marker.size(), i});
  }
  std::sort(places.begin(), places.end(), [](const Place& a, const Place& b) { return a.at < b.at; });
  std::string out;
  size_t done = 0;
  for (const Place& p : places) {
    const size_t line = text.rfind('\n', p.at) + 1;  // npos + 1 = 0 on the first line
    const std::string indent(p.at - line, ' ');
    out.append(text, done, p.at - done);
    out += "\"" + lists[p.list].back() + "\": [";
    const json& list = rows[p.list];
    for (size_t r = 0; r < list.size(); ++r) out += (r ? ",\n  " : "\n  ") + indent + list[r].dump();
    out += list.empty() ? "]" : "\n" + indent + "]";
    done = p.at + p.length;
  }
  out.append(text, done);
  out += '\n';
  return out;
}

}  // namespace resilinet
