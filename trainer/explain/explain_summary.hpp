// Per-level summaries for `resilinet explain`: relevance aggregated per feature, system, component
// (RelevanceSummary), and perturbation sensitivity (PerturbationSensitivity). Both accumulate over
// streamed batches in row order, so any split into batches gives the same bytes, and report JSON.
// No LRP math here (kernels/lrp.hpp computes relevance); no I/O.
#pragma once
#include "trainer/explain/room.hpp"
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "datasets/schema.hpp"

namespace resilinet {

// Relevance [rows x F] of cells with levels 1..levels. Per level (and for all cells together):
// - cells;
// - per feature: mean relevance and mean |relevance| over the level's cells;
// - per system and per component: the same for the group's relevance of a cell, which is the sum
//   of the relevance of the group's features in that cell (so mean_abs is the mean of |sum|);
// - top_features: the 3 features with the largest mean |relevance| (ties: schema order).
// Means of a level without cells are null. Systems are listed in schema order, components in the
// order robustness, redundancy, resourcefulness (those present; unknown ones after them).
class RelevanceSummary {
 public:
  explicit RelevanceSummary(Schema schema, int levels = 5);

  // Throws std::invalid_argument for a level outside [1, levels] (naming the row of the batch).
  void add(const float* relevance, const int32_t* levels, size_t rows);
  // Adds the sums of another summary of the same schema (e.g. of another rank).
  void merge(const RelevanceSummary& other);
  // Every sum in one buffer (the cell counts as doubles: exact below 2^53), for a sum over ranks;
  // set_sums puts such a buffer back.
  std::vector<double> sums() const;
  void set_sums(const std::vector<double>& sums);
  nlohmann::json to_json() const;
  uint64_t cells() const;

 private:
  Schema schema_;
  int levels_;
  std::vector<std::string> systems_, components_;
  std::vector<int> system_of_, component_of_;  // per feature
  // Per level: cell count, and sums of relevance and |relevance| per feature, system, component.
  std::vector<uint64_t> count_;
  std::vector<double> feature_sum_, feature_abs_, system_sum_, system_abs_, component_sum_,
      component_abs_;
  std::vector<double> group_scratch_;
};

// Rates scaled rows: x [rows x F] -> level [rows] in 1..levels.
using RateFunction = std::function<void(const float* x, size_t rows, int32_t* level)>;

// For each feature f and sign s in {+, -}: the share of cells whose level changes when x_f moves by
// s * delta (scaled units; no clipping to the training range), per current level and overall, with
// the shares that move up and down. Calls rate 2F times per batch, on a copy of the batch.
class PerturbationSensitivity {
 public:
  explicit PerturbationSensitivity(Schema schema, double delta = 0.1, int levels = 5);

  // x [rows x F] scaled rows and their current levels (1..levels; checked as in RelevanceSummary).
  void add(const RateFunction& rate, const float* x, const int32_t* levels, size_t rows);
  // Every count in one buffer, for a sum over ranks; set_counts puts such a buffer back.
  std::vector<int64_t> counts() const;
  void set_counts(const std::vector<int64_t>& counts);
  nlohmann::json to_json() const;
  uint64_t cells() const;

 private:
  Schema schema_;
  double delta_;
  int levels_;
  std::vector<uint64_t> count_;                // [level]
  std::vector<uint64_t> changed_, up_, down_;  // [sign][feature][level], sign 0 = +, 1 = -
  std::vector<float> work_;
  std::vector<int32_t> rated_;
};

}  // namespace resilinet
