// Stage 3a: order clusters into levels 1 (very low) .. K (very high resilience). A cluster's score is
// the mean over components of the mean direction-signed scaled feature of its member cells.
#include <algorithm>
#include <numeric>

#include <fmt/format.h>

#include "datasets/schema.hpp"
#include "trainer/training.hpp"

namespace resilinet {

// Scores clusters from per-cluster feature sums [K x F] and counts; empty clusters score lowest.
std::vector<double> cluster_scores(const Schema& schema, const std::vector<double>& sums,
                                   const std::vector<int64_t>& counts) {
  const size_t F = schema.size(), K = counts.size();
  const auto& components = known_components();
  std::vector<double> score(K, -1e300);
  for (size_t k = 0; k < K; ++k) {
    if (counts[k] == 0) continue;
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

nlohmann::json order_levels(Model& model, TrainContext& ctx) {
  const int K = model.clusters;
  const size_t F = model.schema.size();
  std::vector<double> sums(size_t(K) * F, 0.0);
  std::vector<int64_t> counts(K, 0);
  RatingBuffers out;
  std::iota(model.cluster_level.begin(), model.cluster_level.end(), 1);
  for_each_scaled_batch(ctx.data, ctx.config.slab_rows, &model.scaler, 8192,
                        [&](const Batch& b, const float* x) {
                          rate_scaled(model, x, b.rows, out, false);
                          for (size_t i = 0; i < b.rows; ++i) {
                            int k = out.cluster_level[i] - 1;  // identity map: level - 1 = cluster
                            ++counts[k];
                            for (size_t f = 0; f < F; ++f) sums[k * F + f] += x[i * F + f];
                          }
                        });
  std::vector<double> score = cluster_scores(model.schema, sums, counts);
  std::vector<int> order(K);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return score[a] < score[b]; });
  nlohmann::json levels = nlohmann::json::array();
  for (int rank = 0; rank < K; ++rank) {
    model.cluster_level[order[rank]] = rank + 1;
    levels.push_back({{"level", rank + 1}, {"cluster", order[rank]}, {"cells", counts[order[rank]]},
                      {"score", score[order[rank]]}});
  }
  ctx.progress.record({{"stage", "levels"}, {"levels", levels}});
  return levels;
}

}  // namespace resilinet
