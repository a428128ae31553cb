// Ratings that are not networks, so that a benchmark shows what the deep model adds:
//   kmeans              k-means (clusters.kmeans settings) on the scaled, median-imputed features,
//                       clusters ordered into levels by the config's ordering rule;
//   equal_weight_index  the mean of the direction-signed scaled features, cut into K classes at its
//                       quantiles (level 1 = the lowest index).
// Both use the config's scaler, K and seed, stream the data twice, and write RUN_DIR/levels.h5 (one
// row per cell in natural order: cell_id, region, lonlat, level) and RUN_DIR/metrics.json with the
// keys of the training's `evaluation` that apply (docs/FORMAT.md "Baselines").
#pragma once
#include "trainer/stages/room.hpp"
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "trainer/model/config.hpp"

namespace resilinet {

inline const std::vector<std::string> kBaselineMethods = {"kmeans", "equal_weight_index"};

// Writes the run folder (config.run_dir) and returns metrics.json's object. InputError for data
// that cannot be rated (too few cells, bad shards) or a method not in kBaselineMethods.
nlohmann::json rate_with_baseline(const TrainConfig& config, const std::string& method, bool quiet);

// The equal-weight index of one scaled row: mean over features of direction * value.
double equal_weight_index(const float* scaled_row, const std::vector<int>& directions);
// Class 1..K of an index given the K - 1 ascending cuts: 1 + the number of cuts <= index.
int quantile_class(double index, const std::vector<double>& cuts);
// The K - 1 cuts at the quantiles k / K (k = 1..K-1) of values (sorted in place; linear
// interpolation between order statistics, as numpy's default).
std::vector<double> quantile_cuts(std::vector<double>& values, int k);

}  // namespace resilinet
