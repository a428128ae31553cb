// Views derived from a Report and its inputs that report.json and report.html both show, computed in
// one place so that the two files carry the same numbers: group means of the feature profile, the
// 3 x 3 risk x resilience bins, the training curves of metrics.jsonl, the priority list as CSV and the
// variants table.
#pragma once
#include "trainer/report/room.hpp"
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "trainer/report/report.hpp"

namespace resilinet {

// Means of the profile's features per group (system or component) and level; the level's score
// follows the rule that orders the levels (levels.order, trainer/stages/level_order.cpp): the mean of
// the component means, or of the features for feature_mean, so it rises with the level when the
// order holds.
struct ProfileGroups {
  std::vector<std::string> names;
  std::vector<std::vector<double>> means;  // [level - 1][group]
};
ProfileGroups profile_by_system(const Schema& schema, const std::vector<std::vector<double>>& profile);
ProfileGroups profile_by_component(const Schema& schema, const std::vector<std::vector<double>>& profile);
std::vector<double> profile_scores(const Schema& schema, const std::vector<std::vector<double>>& profile,
                                   const std::string& rule);

// Bins of the bivariate map: risk classes 1-2, 3, 4-5 (low, middle, high) against levels 1-2, 3..K-2
// and the top two (K >= 5; with fewer levels, what is above the bottom two is high). The high-risk,
// low-resilience bin is exactly the priority rule.
inline constexpr int kBivariateBins = 3;
int risk_bin(int risk);                  // -1 for no risk class
int resilience_bin(int level, int levels);
std::string risk_bin_label(int bin);
std::string resilience_bin_label(int bin, int levels);
// [resilience bin][risk bin]: cells of the region with a risk class.
using BivariateCounts = std::array<std::array<uint64_t, kBivariateBins>, kBivariateBins>;
BivariateCounts bivariate_counts(const RegionReport& region, int levels);

// One line chart of metrics.jsonl: a stage's numeric field against its epoch (or step).
struct TrainingCurve {
  std::string stage, x, y;
  std::vector<std::pair<double, double>> points;  // x ascending; at most kCurvePoints
};
inline constexpr size_t kCurvePoints = 400;
// Every stage's numeric fields against "epoch", or "step" when a stage has no epochs. A resumed run
// repeats epochs in the log: the last record of an x wins. Long curves are thinned to kCurvePoints,
// always keeping the first and last points.
std::vector<TrainingCurve> training_curves(const nlohmann::json& records);

// The priority list (Report::priority) as CSV, with a header; region -1 gives every region's rows.
inline constexpr const char* kPriorityColumns[] = {"cell_id", "region", "lon", "lat", "level", "hazard", "risk_class"};
std::string priority_csv(const Report& report, int region);

// The variants table of variants.json (`resilinet bench --variants`, as check_report_variants
// accepts it): one row per variant, one column per metric, the best mean of each column marked.
struct VariantSummary {
  double mean = 0;
  std::optional<double> sd;
  std::optional<int64_t> n;
};
struct VariantsTable {
  struct Metric {
    std::string key, label;
    bool lower_is_better = true;
    std::optional<double> best;  // the best mean of the column; none when every variant lacks one
  };
  struct Row {
    std::string name, kind, file, description;
    std::vector<std::optional<VariantSummary>> values;  // [metric]; none: no value ("n/a")
  };
  std::vector<Metric> metrics;
  std::vector<Row> rows;
  // Whether row r holds the best mean of metric m (every row with that mean, on a tie).
  bool is_best(size_t r, size_t m) const {
    return metrics[m].best && rows[r].values[m] && rows[r].values[m]->mean == *metrics[m].best;
  }
};
VariantsTable variants_table(const nlohmann::json& variants);

}  // namespace resilinet
