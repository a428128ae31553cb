// The per-region report: levels per region, the resilience-risk overlay (hazard binned into five
// classes against the levels, with the priority cells), mean features per level, and a sample of
// cells for the map. build_report streams the data twice (hazard quantiles, then rating); nothing
// grows with the number of cells except the bounded map sample.
#pragma once
#include "trainer/report/room.hpp"
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "datasets/shard_set.hpp"
#include "trainer/model/checkpoint.hpp"
#include "trainer/outputs/progress.hpp"
#include "trainer/report/hazard_risk.hpp"

namespace resilinet {

struct MapPoint {
  double lon = 0, lat = 0;
  int32_t level = 0;
  bool priority = false;
};

struct RegionReport {
  std::string name;
  uint64_t cells = 0;
  std::vector<uint64_t> level_cells;               // [K]: cells rated at level k + 1
  std::vector<std::vector<uint64_t>> risk_levels;  // [risk class][level]; empty without hazard
  uint64_t priority_cells = 0;                     // the top two risk classes in the bottom two levels
  std::vector<MapPoint> map;                       // a deterministic sample of cells
};

struct Report {
  int levels = 0;
  bool has_hazard = false;
  std::vector<double> hazard_cuts;  // kRiskClasses - 1 quantiles of the hazard over all cells
  std::vector<std::string> feature_names;
  std::vector<std::vector<double>> feature_means;  // [level][feature], raw units, missing skipped
  std::vector<RegionReport> regions;
  uint64_t not_rated = 0;  // cells whose rating was not finite (model.hpp: mark_not_rated); left out
};

// Rates every cell of data with the checkpoint's classifier head (as `rate` does) and aggregates.
Report build_report(const Checkpoint& checkpoint, const ShardSet& data, Progress& progress,
                    size_t map_points_per_region = 4000);

// Throw InputError(file, option + " " + member, ...) unless the JSON (null: not given) has the shape
// that report_json and report_html read: metrics.json of `train` (clusters, evaluation) and
// explain_summary.json of `explain` (relevance.levels with their top_features).
void check_report_metrics(const nlohmann::json& metrics, const std::string& file, const std::string& option);
void check_report_explanations(const nlohmann::json& explanations, const std::string& file,
                               const std::string& option);

// report.json: the numbers above (no map sample); metrics and explanations are attached if given.
nlohmann::json report_json(const Report& report, const nlohmann::json& metrics,
                           const nlohmann::json& explanations);

// report.html: one self-contained page (inline SVG and CSS, no scripts or external files).
std::string report_html(const Report& report, const nlohmann::json& metrics,
                        const nlohmann::json& explanations);

}  // namespace resilinet
