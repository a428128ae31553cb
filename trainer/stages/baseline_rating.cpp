// The two baselines of trainer/stages/baseline_rating.hpp: a first pass gathers the cluster sample
// (the cells the model's clusters are formed on) and fits the method on it, a second pass rates
// every cell, writes levels.h5 and counts what the metrics need. Memory grows with the sample and
// K, never with the cells.
#include "trainer/stages/baseline_rating.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "datasets/input_error.hpp"
#include "datasets/output_files.hpp"
#include "kernels/backend.hpp"
#include "trainer/outputs/atomic_file.hpp"
#include "trainer/outputs/cell_table.hpp"
#include "trainer/outputs/run_lock.hpp"
#include "trainer/stages/cluster_metrics.hpp"
#include "trainer/stages/metric_tables.hpp"
#include "trainer/stages/train_run.hpp"
#include "trainer/stages/training.hpp"

namespace resilinet {

double equal_weight_index(const float* scaled_row, const std::vector<int>& directions) {
  double s = 0;
  for (size_t f = 0; f < directions.size(); ++f) s += directions[f] * double(scaled_row[f]);
  return s / double(std::max<size_t>(1, directions.size()));
}

int quantile_class(double index, const std::vector<double>& cuts) {
  return 1 + int(std::upper_bound(cuts.begin(), cuts.end(), index) - cuts.begin());
}

std::vector<double> quantile_cuts(std::vector<double>& values, int k) {
  std::sort(values.begin(), values.end());
  std::vector<double> cuts;
  if (values.empty()) return std::vector<double>(size_t(std::max(0, k - 1)), 0.0);
  for (int c = 1; c < k; ++c) {
    const double pos = double(c) / k * double(values.size() - 1);
    const size_t lo = size_t(pos);
    const size_t hi = std::min(lo + 1, values.size() - 1);
    cuts.push_back(values[lo] + (pos - double(lo)) * (values[hi] - values[lo]));
  }
  return cuts;
}

namespace {

// What the first pass fits: centroids in cluster order with each cluster's level (kmeans), or the
// index's cuts (equal_weight_index).
struct FittedBaseline {
  std::vector<float> centroids;  // [K x F]
  std::vector<int32_t> level;    // cluster -> level 1..K
  std::vector<double> cuts;      // [K - 1]
};

FittedBaseline fit_baseline(const std::string& method, const Model& model, TrainContext& ctx,
                            const std::vector<int>& directions) {
  const TrainConfig& config = ctx.config;
  const size_t F = directions.size(), N = ctx.data.total_rows();
  const int K = config.clusters.k;
  std::vector<float> sample;
  std::vector<double> sample_index;
  for_each_scaled_batch(ctx.data, config.slab_rows, &model.scaler, 8192, [&](const Batch& b, const float* x) {
    for (size_t r = 0; r < b.rows; ++r) {
      if (!in_cluster_sample(b.cell_id[r], config, N)) continue;
      if (method == "kmeans") sample.insert(sample.end(), x + r * F, x + (r + 1) * F);
      else sample_index.push_back(equal_weight_index(x + r * F, directions));
    }
  });
  FittedBaseline fit;
  if (method == "equal_weight_index") {
    fit.cuts = quantile_cuts(sample_index, K);
    return fit;
  }
  kernels::KMeansOptions km;
  km.clusters = K;
  km.restarts = config.clusters.kmeans.restarts;
  km.max_iterations = config.clusters.kmeans.max_iterations;
  km.seed = config.seed * 8 + 5;  // as the training's built-in k-means baseline (evaluation.cpp)
  const size_t rows = sample.size() / F;
  kernels::Staged<float> sample_in(ctx.backend);
  fit.centroids = ctx.backend.kmeans(sample_in.put(sample.data(), sample.size()), rows, int(F), km).centroids;
  // The levels follow the ordering rule on the sample's clusters.
  std::vector<int32_t> labels(rows);
  std::vector<double> sums(size_t(K) * F, 0.0);
  std::vector<int64_t> counts(K, 0);
  kernels::kmeans_assign_host(ctx.backend, sample.data(), rows, int(F), fit.centroids.data(), K, labels.data(),
                              sums.data(), counts.data());
  fit.level = levels_by_score(cluster_scores(model.schema, sums, counts, config.level_order));
  return fit;
}

}  // namespace

nlohmann::json rate_with_baseline(const TrainConfig& config, const std::string& method, bool quiet) {
  if (std::find(kBaselineMethods.begin(), kBaselineMethods.end(), method) == kBaselineMethods.end())
    throw InputError("resilinet baseline", "--method", "kmeans or equal_weight_index", method);
  const std::unique_ptr<kernels::Backend> backend = apply_device_and_threads(config);
  const std::unique_ptr<Communicator> comm = make_communicator("local");
  const ShardSet data = ShardSet::open(config.data);
  require_enough_cells(config, data);
  const std::string& dir = config.run_dir;
  make_output_dir(dir, "run.dir");
  RunLock lock(dir, "run.dir");
  write_text_atomically(dir + "/config.yaml", to_yaml(config));
  Progress progress("", quiet);
  progress.message(fmt::format("resilinet baseline: {} on {} cells, run folder {}", method, data.total_rows(), dir));
  Model model = assemble_model(config, data.schema());
  TrainContext ctx{config, data, progress, *backend, *comm, nullptr, {}, {}};
  fit_scaler(model, ctx);

  const int K = config.clusters.k;
  const size_t F = model.schema.size(), N = data.total_rows();
  std::vector<int> directions;
  for (const auto& feature : model.schema.features) directions.push_back(feature.direction);
  const FittedBaseline fit = fit_baseline(method, model, ctx, directions);

  CellTableWriter levels(dir, "levels", "resilinet-baseline-levels", 1, data.region_names(),
                         {CellColumn{"level", CellColumn::Type::Int32}}, CellTableFiles{true, false, false});
  const bool planted = data.has_planted_level(), external = data.has_external_rating();
  // Planted levels are any int8: column planted + 128. Levels and external ratings run 0..K.
  ContingencyTable vs_planted(K + 1, 256), vs_external(K + 1, K + 1);
  std::vector<int64_t> level_cells(K, 0);
  const double sample_share = std::min(1.0, double(config.metrics_sample_rows) / double(N));
  std::vector<float> sample_x;
  std::vector<int32_t> sample_level, batch_level, cluster;
  std::vector<double> unused_sums(size_t(K) * F);
  std::vector<int64_t> unused_counts(K);
  progress.begin("rate", N);
  uint64_t seen = 0;
  for_each_scaled_batch(data, config.slab_rows, &model.scaler, 8192, [&](const Batch& b, const float* x) {
    batch_level.resize(b.rows);
    if (method == "kmeans") {
      cluster.resize(b.rows);
      kernels::kmeans_assign_host(*backend, x, b.rows, int(F), fit.centroids.data(), K, cluster.data(),
                                  unused_sums.data(), unused_counts.data());
      for (size_t r = 0; r < b.rows; ++r) batch_level[r] = fit.level[cluster[r]];
    } else {
      for (size_t r = 0; r < b.rows; ++r) batch_level[r] = quantile_class(equal_weight_index(x + r * F, directions), fit.cuts);
    }
    for (size_t r = 0; r < b.rows; ++r) {
      const int32_t level = batch_level[r];
      ++level_cells[level - 1];
      if (planted) vs_planted.add(level, int(b.planted_level[r]) + 128);
      if (external) vs_external.add(level, b.external_rating[r] >= 1 && b.external_rating[r] <= K ? b.external_rating[r] : 0);
      if (sample_share >= 1.0 || is_holdout(b.cell_id[r], config.seed + 29, sample_share)) {
        sample_x.insert(sample_x.end(), x + r * F, x + (r + 1) * F);
        sample_level.push_back(level);
      }
    }
    levels.append(b, {batch_level.data()});
    seen += b.rows;
    progress.update(seen, "", seen);
  });
  levels.commit();

  auto finite_or_null = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); };
  nlohmann::json m;
  m["cells"] = N;
  m["level_cells"] = level_cells;
  m["rated_level_cells"] = level_cells;
  const size_t S = sample_level.size();
  m["cluster_quality_sample_cells"] = S;
  m["silhouette"] = finite_or_null(silhouette_score(sample_x.data(), S, int(F), sample_level, 5000, config.seed));
  m["calinski_harabasz"] = finite_or_null(calinski_harabasz(sample_x.data(), S, int(F), sample_level));
  m["davies_bouldin"] = finite_or_null(davies_bouldin(sample_x.data(), S, int(F), sample_level));
  if (planted) m["ari_planted"] = adjusted_rand_index(vs_planted);
  if (external) {
    const ContingencyTable rated = rated_only(vs_external);
    m["external_cells"] = std::accumulate(rated.counts.begin(), rated.counts.end(), int64_t(0));
    m["ari_external"] = adjusted_rand_index(rated);
    m["kappa_external"] = finite_or_null(quadratic_weighted_kappa(rated));
    m["spearman_external"] = finite_or_null(spearman(rated));
    m["external_confusion"] = count_rows(transposed(rated).counts, K, K);
  }
  nlohmann::json result;
  result["baseline"] = method;
  result["evaluation"] = m;
  write_text_atomically(dir + "/metrics.json", result.dump(2) + "\n");
  progress.end(fmt::format("{} levels of {} cells{}", K, N,
                           planted ? fmt::format(", ARI vs planted {:.4f}", m["ari_planted"].get<double>()) : ""));
  return result;
}

}  // namespace resilinet
