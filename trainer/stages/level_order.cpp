// Stage 3a: order clusters into levels 1 (very low) .. K (very high resilience). A cluster's score is
// the mean over components of the mean direction-signed scaled feature of its member cells
// (levels.order: component_score), or the mean over all features, each weighted equally
// (feature_mean: the equal-weight index of the cluster's mean cell).
#include <algorithm>
#include <numeric>
#include <stdexcept>

#include <fmt/format.h>

#include "datasets/schema.hpp"
#include "trainer/stages/training.hpp"

namespace resilinet {

namespace {

double feature_mean_score(const Schema& schema, const double* sums, int64_t count) {
  const size_t F = schema.size();
  double total = 0;
  for (size_t f = 0; f < F; ++f) total += schema.features[f].direction * sums[f] / double(count);
  return F ? total / double(F) : 0.0;
}

}  // namespace

std::vector<double> cluster_scores(const Schema& schema, const std::vector<double>& sums,
                                   const std::vector<int64_t>& counts, const std::string& rule) {
  if (rule != "component_score" && rule != "feature_mean")
    throw std::invalid_argument("cluster_scores: unknown level order rule '" + rule +
                                "' (valid: component_score, feature_mean)");
  const size_t F = schema.size(), K = counts.size();
  const auto& components = known_components();
  std::vector<double> score(K, -1e300);
  for (size_t k = 0; k < K; ++k) {
    if (counts[k] == 0) continue;
    if (rule == "feature_mean") {
      score[k] = feature_mean_score(schema, sums.data() + k * F, counts[k]);
      continue;
    }
    double total = 0;
    int used = 0;
    for (const auto& c : components) {
      double s = 0;
      int n = 0;
      for (size_t f = 0; f < F; ++f)
        if (schema.features[f].component == c) {
          s += schema.features[f].direction * sums[k * F + f] / double(counts[k]);
          ++n;
        }
      if (n) {
        total += s / n;
        ++used;
      }
    }
    score[k] = used ? total / used : 0.0;
  }
  return score;
}

std::vector<int32_t> levels_by_score(const std::vector<double>& score) {
  std::vector<int> order(score.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return score[a] < score[b]; });
  std::vector<int32_t> level(score.size());
  for (size_t rank = 0; rank < order.size(); ++rank) level[order[rank]] = int32_t(rank + 1);
  return level;
}

nlohmann::json order_levels(Model& model, TrainContext& ctx) {
  const int K = model.clusters;
  const size_t F = model.schema.size();
  std::vector<double> sums(size_t(K) * F, 0.0);
  std::vector<int64_t> counts(K, 0);
  std::iota(model.cluster_level.begin(), model.cluster_level.end(), 1);  // level - 1 = cluster
  auto add = [&](int k, const float* x) {
    ++counts[k];
    for (size_t f = 0; f < F; ++f) sums[k * F + f] += x[f];
  };
  if (keeps_cell_levels(ctx)) {
    // Every cell's cluster rated once, the rating shared by the ranks, and kept for the classifier;
    // the sums then in stored order on every rank, as below.
    ctx.cell_levels = cell_levels(model, ctx);
    for_each_scaled_batch(ctx.data, ctx.config.slab_rows, &model.scaler, 8192, [&](const Batch& b, const float* x) {
      for (size_t i = 0; i < b.rows; ++i) add(ctx.cell_levels[b.stored_row[i]], x + i * F);
    });
  } else {
    const ModelOnBackend on(model, ctx.backend, false);
    RatingBuffers out;
    for_each_scaled_batch(ctx.data, ctx.config.slab_rows, &model.scaler, 8192, [&](const Batch& b, const float* x) {
      rate_scaled(on, b.x, x, b.rows, out, false);
      for (size_t i = 0; i < b.rows; ++i) add(out.cluster_level[i] - 1, x + i * F);
    });
  }
  const std::vector<double> score = cluster_scores(model.schema, sums, counts, ctx.config.level_order);
  model.cluster_level = levels_by_score(score);
  for (int8_t& level : ctx.cell_levels) level = int8_t(model.cluster_level[size_t(level)] - 1);
  nlohmann::json levels = nlohmann::json::array();
  for (int level = 1; level <= K; ++level) {
    const int k = int(std::find(model.cluster_level.begin(), model.cluster_level.end(), level) - model.cluster_level.begin());
    levels.push_back({{"level", level}, {"cluster", k}, {"cells", counts[k]}, {"score", score[k]}});
  }
  ctx.progress.record({{"stage", "levels"}, {"levels", levels}});
  return levels;
}

}  // namespace resilinet
