// The per-region report: levels per region and for all regions together, the resilience-risk
// overlay (hazard binned into five classes against the levels, with the priority cells), feature
// profiles per level, the maps (a sample of cells, or past ReportOptions::map_cells a raster of every
// cell) and the highest-hazard priority cells. build_report streams the data twice (hazard quantiles
// and map extents, then rating); nothing grows with the number of cells: the map samples, the
// rasters and the priority list are capped (ReportOptions, map_raster.hpp).
#pragma once
#include "trainer/report/room.hpp"
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "datasets/shard_set.hpp"
#include "trainer/model/checkpoint.hpp"
#include "trainer/outputs/progress.hpp"
#include "trainer/report/hazard_risk.hpp"
#include "trainer/report/map_raster.hpp"

namespace resilinet {

struct MapPoint {
  double lon = 0, lat = 0;
  int32_t level = 0;
  int risk = 0;  // risk class 1..kRiskClasses; 0: none (no hazard column or value)
  bool priority = false;
};

struct PriorityCell {
  int64_t cell_id = 0;
  uint32_t region = 0;  // index into Report::regions
  double lon = 0, lat = 0;
  int32_t level = 0;
  float hazard = 0;
  int risk = 0;
};

// One region, or every region together (Report::all).
struct RegionReport {
  std::string name;
  uint64_t cells = 0;                              // every cell, rated or not
  uint64_t not_rated = 0;                          // left out of every table below
  std::vector<uint64_t> level_cells;               // [K]: cells rated at level k + 1
  std::vector<std::vector<uint64_t>> risk_levels;  // [risk class - 1][level - 1]; empty without hazard
  uint64_t priority_cells = 0;                     // the top two risk classes in the bottom two levels
  // [level - 1][feature]: mean of direction * scaled value (the checkpoint's scaler, missing values
  // imputed with the training median, as the model and the level-ordering rule see them), so that
  // higher is more resilient for every feature; NaN for a level without cells.
  std::vector<std::vector<double>> profile;
  // [level - 1][feature]: mean raw value in the feature's unit, missing values skipped; NaN if none.
  std::vector<std::vector<double>> raw_means;
  // The maps: a deterministic sample of cells drawn one dot each, or, for a region of more than
  // ReportOptions::map_cells cells, a raster of every rated cell (then `map` is empty).
  std::vector<MapPoint> map;
  std::optional<MapRaster> raster;
  // False for a region beyond ReportOptions::region_sections: its numbers are here and in
  // report.json, but it has no map and no section of its own on the page.
  bool section = true;
};

struct ReportOptions {
  size_t map_points = 4000;       // cells drawn on each map (per region, and for all regions)
  // A map of more cells than this is a raster of every cell (map_raster.hpp) instead of dots, so
  // that the page stays the same size and the picture shows every cell, not a sample.
  size_t map_cells = 50000;
  size_t priority_rows = 10000;   // priority cells listed (the highest hazard first)
  // Regions with a section and maps of their own: the ones with the most cells (ties: the earlier
  // region). A national data set of thousands of regions would otherwise make a page no browser
  // opens and hold a map per region in memory; every region stays in the roll-ups and report.json.
  size_t region_sections = 100;
  std::string hazard_unit;        // shown with the hazard cuts; "" when not known
};

struct Report {
  int levels = 0;
  Schema schema;
  TrainConfig config;  // the checkpoint's resolved config (provenance)
  std::vector<std::pair<std::string, size_t>> shards;  // path, rows
  bool has_hazard = false;
  std::vector<double> hazard_cuts;  // kRiskClasses - 1 quantiles of the hazard over all cells
  double hazard_min = 0, hazard_max = 0;  // over the finite hazard values of rated cells
  std::string hazard_unit;
  std::vector<RegionReport> regions;
  RegionReport all;  // every region together, with its own map sample
  // The options.priority_rows priority cells of highest hazard (ties: lower cell id first), in that
  // order; all.priority_cells is how many there are in total.
  std::vector<PriorityCell> priority;
  size_t priority_cap = 0;
  uint64_t not_rated = 0;  // cells whose rating was not finite (model.hpp: mark_not_rated); left out
  // Roll-ups to regions and to the units of every grouping of the data, as rate's rollup.json
  // (trainer/outputs/rollup.hpp), and rollup.csv's text for the page's download link.
  nlohmann::json rollups;
  std::string rollup_csv;
};

// What the page says it was made from, beyond the checkpoint and the data (filled by the command).
struct ReportProvenance {
  std::string checkpoint, data, metrics, explain, metrics_log;
  std::string version, commit, created_utc;
};

// The optional inputs of the page; null members render nothing.
struct ReportInputs {
  nlohmann::json metrics;       // metrics.json of `train`
  nlohmann::json explanations;  // explain_summary.json of `explain`
  nlohmann::json training_log;  // the records of metrics.jsonl, as a list
  // scenario_summary.json of `resilinet scenario` (--scenarios): the scenarios section renders it;
  // null renders nothing.
  nlohmann::json scenarios;
  // variants.json of `resilinet bench --variants` (--variants): the variants table; null: none.
  nlohmann::json variants;
  ReportProvenance provenance;
};

// Rates every cell of data with the checkpoint's classifier head (as `rate` does) and aggregates.
Report build_report(const Checkpoint& checkpoint, const ShardSet& data, Progress& progress,
                    const ReportOptions& options = {});

// Throw InputError(file, option + " " + member, ...) unless the JSON (null: not given) has the shape
// that report_json and report_html read: metrics.json of `train`, explain_summary.json of `explain`
// and the records of metrics.jsonl (check_report_training_log names the line of a bad record).
void check_report_metrics(const nlohmann::json& metrics, const std::string& file, const std::string& option);
void check_report_explanations(const nlohmann::json& explanations, const std::string& file,
                               const std::string& option);
void check_report_training_log(const nlohmann::json& records, const std::string& file, const std::string& option);
// scenario_summary.json of `resilinet scenario` (as docs/FORMAT.md describes it), for a checkpoint
// with `levels` levels.
void check_report_scenarios(const nlohmann::json& summary, int levels, const std::string& file,
                            const std::string& option);

// variants.json of `resilinet bench --variants` (docs/FORMAT.md "Report"): the members the table reads.
void check_report_variants(const nlohmann::json& variants, const std::string& file, const std::string& option);

// report.json: the numbers of the page (no map sample; a raster map's per-bin counts); the inputs'
// members that the page shows.
nlohmann::json report_json(const Report& report, const ReportInputs& inputs);

// report.json's text: indented, except that each row of the priority list and of a raster's bins is
// one line (they may hold ten thousand rows). Takes the document: its lists are moved out of it, and
// with thousands of regions and units a copy of it would be the command's largest allocation.
std::string report_json_text(nlohmann::json report);

// report.html: one self-contained page (inline SVG and CSS, no scripts, no external files).
std::string report_html(const Report& report, const ReportInputs& inputs);

// The ids of the page's sections, in page order, for these inputs (a test loads the page in a
// browser and looks for each).
std::vector<std::string> report_section_ids(const Report& report, const ReportInputs& inputs);

}  // namespace resilinet
