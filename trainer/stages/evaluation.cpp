// End-of-training evaluation in one natural-order pass: reconstruction MSE, level sizes, cluster
// quality in the clustering space (silhouette, Calinski-Harabasz, Davies-Bouldin on a hashed sample
// of cells), classifier accuracy, macro-F1 and confusion on the held-out cells, agreement of the
// classifier with the cluster levels on all cells, the level order checked against the
// direction-signed feature means, the adjusted Rand index against /planted_level, and agreement
// with /external_rating (ARI, kappa, Spearman, confusion) when present; the same per region. Every
// run also rates the cells with a built-in baseline, k-means on the scaled features with the same K
// and ordering rule, so that the metrics show what the deep model adds. Memory grows with regions
// x K^2, never with the cells. The ranks share the pass: each rates its slabs, and what they add
// up (counts, sums, the metrics' sample in stored order) is then summed or gathered.
#include <algorithm>
#include <map>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "kernels/backend.hpp"
#include "trainer/stages/cluster_metrics.hpp"
#include "trainer/stages/metric_tables.hpp"
#include "trainer/stages/training.hpp"

namespace resilinet {
namespace {

// k-means (clusters.kmeans settings) on the scaled, median-imputed features of the sample of cells
// the clusters were formed on, taken by the ranks a share each, in stored order on every rank.
std::vector<float> baseline_centroids(const Model& model, TrainContext& ctx) {
  const auto& cfg = ctx.config.clusters;
  const size_t F = size_t(model.features());
  const size_t total = ctx.data.total_rows();
  std::vector<float> mine;
  StoredOrder order(ctx.comm);
  for_each_scaled_batch_of_rank(ctx, &model.scaler, 8192, [&](const Batch& b, const float* x) {
    for (size_t r = 0; r < b.rows; ++r)
      if (in_cluster_sample(b.cell_id[r], ctx.config, total)) {
        mine.insert(mine.end(), x + r * F, x + (r + 1) * F);
        order.keep(b.stored_row + r, 1);
      }
  });
  const std::vector<float> sample = order.gather<float>(mine, F);
  kernels::KMeansOptions km;
  km.clusters = model.clusters;
  km.restarts = cfg.kmeans.restarts;
  km.max_iterations = cfg.kmeans.max_iterations;
  km.seed = ctx.config.seed * 8 + 5;
  kernels::Staged<float> sample_in(ctx.backend);
  return ctx.backend.kmeans(sample_in.put(sample.data(), sample.size()), sample.size() / F, int(F), km).centroids;
}

// Rows of a table relabelled: row r moves to map[r] - 1.
ContingencyTable relabel_rows(const ContingencyTable& t, const std::vector<int32_t>& map) {
  ContingencyTable out(t.rows, t.cols);
  for (int r = 0; r < t.rows; ++r)
    for (int c = 0; c < t.cols; ++c) out.counts[size_t(map[r] - 1) * t.cols + c] = t.at(r, c);
  return out;
}

// What one region's cells add up to: counts only, so that memory grows with regions, not cells.
struct RegionTally {
  int64_t cells = 0;
  std::vector<int64_t> rated_level_cells;                  // [K], rated level 1..K
  ConfusionMatrix holdout;                                 // cluster level x rated level, held-out cells
  std::map<std::pair<int32_t, int32_t>, int64_t> planted;  // (cluster level, planted level) -> cells
};

// The cluster-level x planted-level table of cells counted in a map; columns: the planted levels
// in the order of `columns` (every region's, so that regions' tables add up).
ContingencyTable planted_table(const std::map<std::pair<int32_t, int32_t>, int64_t>& counts, int K,
                               const std::map<int32_t, int>& columns) {
  ContingencyTable table(K + 1, int(columns.size()));
  for (const auto& [cell, count] : counts) table.counts[size_t(cell.first) * table.cols + columns.at(cell.second)] += count;
  return table;
}

// Every rank's planted counts added into each region's map, on every rank: entries of (region,
// cluster level, planted level, cells), as many as the ranks saw.
void sum_planted_over_ranks(Communicator& comm, std::vector<RegionTally>& regions) {
  if (comm.world() == 1) return;
  std::vector<int64_t> mine;
  for (size_t r = 0; r < regions.size(); ++r)
    for (const auto& [cell, count] : regions[r].planted) mine.insert(mine.end(), {int64_t(r), cell.first, cell.second, count});
  const std::vector<std::vector<int64_t>> all = gather_varying<int64_t>(comm, mine);
  for (RegionTally& t : regions) t.planted.clear();
  for (const std::vector<int64_t>& rank : all)
    for (size_t i = 0; i < rank.size(); i += 4)
      regions[size_t(rank[i])].planted[{int32_t(rank[i + 1]), int32_t(rank[i + 2])}] += rank[i + 3];
}

}  // namespace

nlohmann::json evaluate_model(const Model& model, TrainContext& ctx) {
  const int K = model.clusters;
  const int D = model.cluster_dims();
  const size_t F = model.schema.size();
  const size_t N = ctx.data.total_rows();
  const double sample_share = std::min(1.0, double(ctx.config.metrics_sample_rows) / double(N));
  const bool planted = ctx.data.has_planted_level();

  const bool external = ctx.data.has_external_rating();
  const std::vector<float> baseline = baseline_centroids(model, ctx);
  ctx.progress.begin("evaluate", N);
  RatingBuffers out;
  kernels::Backend& backend = ctx.backend;
  const ModelOnBackend on(model, backend, true);
  // The reconstruction decodes the rating pass's z: the encoder runs once per row.
  const auto decoder = backend.network(model.decoder());
  kernels::Staged<float> z_in(backend);
  kernels::Landing<float> recon_out(backend);
  // Tables over levels 0..K (row and column 0 stay empty for levels; 0 is "no rating" for
  // /external_rating) and the baseline's clusters 0..K-1 before ordering.
  ContingencyTable base_vs_model(K, K + 1), base_vs_planted(K, K + 1), base_vs_external(K, K + 1),
      model_vs_external(K + 1, K + 1);
  std::vector<double> base_sums(size_t(K) * F, 0.0), level_sums(size_t(K) * F, 0.0);
  std::vector<int64_t> base_counts(K, 0), rated_counts(K, 0);
  std::vector<int32_t> base_labels;
  std::vector<double> base_batch_sums;
  std::vector<int64_t> base_batch_counts;
  std::vector<float> recon;
  double sq_error = 0;
  std::vector<int64_t> level_cells(K, 0);
  // Counts only, never a value per cell, so the ranks' shares add up.
  ConfusionMatrix holdout(K);
  const size_t R = ctx.data.region_names().size();
  std::vector<RegionTally> regions(R);
  for (RegionTally& t : regions) {
    t.rated_level_cells.assign(K, 0);
    t.holdout = ConfusionMatrix(K);
  }
  std::vector<float> sample_z;
  std::vector<int32_t> sample_level;
  StoredOrder sample_order(ctx.comm);
  int64_t agree = 0;
  uint64_t seen = 0;
  for_each_scaled_batch_of_rank(ctx, &model.scaler, 8192,
                        [&](const Batch& b, const float* x) {
                          rate_scaled(on, b.x, x, b.rows, out, true);
                          base_labels.resize(b.rows);
                          base_batch_sums.assign(size_t(K) * F, 0.0);
                          base_batch_counts.assign(K, 0);
                          kernels::kmeans_assign_host(backend, x, b.rows, int(F), baseline.data(), K, base_labels.data(),
                                                      base_batch_sums.data(), base_batch_counts.data());
                          for (size_t k = 0; k < base_sums.size(); ++k) base_sums[k] += base_batch_sums[k];
                          for (int k = 0; k < K; ++k) base_counts[k] += base_batch_counts[k];
                          recon.resize(b.rows * F);
                          backend.mlp_forward(*decoder, on.autoencoder_params(), z_in.put(out.z.data(), out.z.size()),
                                              b.rows, recon_out.at(recon.data(), recon.size()));
                          recon_out.get();
                          for (size_t k = 0; k < b.rows * F; ++k) {
                            double e = double(recon[k]) - x[k];
                            sq_error += e * e;
                          }
                          for (size_t i = 0; i < b.rows; ++i) {
                            int32_t cl = out.cluster_level[i];
                            ++level_cells[cl - 1];
                            const int32_t rated = out.level[i], base = base_labels[i];
                            ++rated_counts[rated - 1];
                            RegionTally& region = regions[b.region[i]];
                            ++region.cells;
                            ++region.rated_level_cells[rated - 1];
                            for (size_t f = 0; f < F; ++f) level_sums[size_t(rated - 1) * F + f] += x[i * F + f];
                            base_vs_model.add(base, cl);
                            if (planted) base_vs_planted.add(base, std::clamp<int>(b.planted_level[i], 0, K));
                            if (external) {
                              const int e = b.external_rating[i] >= 1 && b.external_rating[i] <= K ? b.external_rating[i] : 0;
                              base_vs_external.add(base, e);
                              model_vs_external.add(rated, e);
                            }
                            agree += out.level[i] == cl;
                            if (is_holdout(b.cell_id[i], ctx.config.seed, ctx.config.classifier.holdout)) {
                              holdout.add(cl - 1, out.level[i] - 1);
                              region.holdout.add(cl - 1, out.level[i] - 1);
                            }
                            if (planted) ++region.planted[{cl, int32_t(b.planted_level[i])}];
                            if (sample_share >= 1.0 || is_holdout(b.cell_id[i], ctx.config.seed + 29, sample_share)) {
                              sample_z.insert(sample_z.end(), out.space.begin() + i * D, out.space.begin() + (i + 1) * D);
                              sample_level.push_back(cl);
                              sample_order.keep(b.stored_row + i, 1);
                            }
                          }
                          seen += b.rows;
                          const uint64_t all_seen = rows_passed_by_all_ranks(ctx, seen, N);
                          ctx.progress.update(all_seen, "", all_seen);
                        });
  // The ranks' shares added up: counts in any order, sums in rank order.
  std::vector<std::span<int64_t>> counts = {level_cells, rated_counts, base_counts, holdout.counts,
                                            base_vs_model.counts, base_vs_planted.counts, base_vs_external.counts,
                                            model_vs_external.counts, std::span(&agree, 1)};
  for (RegionTally& t : regions) {
    counts.push_back(std::span(&t.cells, 1));
    counts.push_back(t.rated_level_cells);
    counts.push_back(t.holdout.counts);
  }
  sum_in_rank_order<int64_t>(ctx.comm, counts);
  sum_in_rank_order<double>(ctx.comm, {std::span(&sq_error, 1), level_sums, base_sums});
  sum_planted_over_ranks(ctx.comm, regions);
  sample_z = sample_order.gather<float>(sample_z, size_t(D));
  sample_level = sample_order.gather<int32_t>(sample_level, 1);

  nlohmann::json m;
  m["cells"] = N;
  m["reconstruction_mse"] = sq_error / double(N * F);
  m["level_cells"] = level_cells;
  const size_t S = sample_level.size();
  m["cluster_quality_sample_cells"] = S;
  auto finite_or_null = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); };
  m["silhouette"] = finite_or_null(silhouette_score(sample_z.data(), S, D, sample_level, 5000, ctx.config.seed,
                                                                  silhouette_over_ranks(ctx)));
  m["calinski_harabasz"] = finite_or_null(calinski_harabasz(sample_z.data(), S, D, sample_level));
  m["davies_bouldin"] = finite_or_null(davies_bouldin(sample_z.data(), S, D, sample_level));
  m["holdout_cells"] = holdout.total();
  if (holdout.total() > 0) {
    m["classifier_accuracy"] = accuracy(holdout);
    m["classifier_macro_f1"] = macro_f1(holdout);
  }
  m["classifier_confusion"] = count_rows(holdout.counts, K, K);
  m["classifier_agreement_all_cells"] = double(agree) / double(std::max<size_t>(1, N));
  std::map<int32_t, int> planted_column;  // planted level -> its column of the regions' planted tables
  for (const RegionTally& region : regions)
    for (const auto& [cell, count] : region.planted) planted_column.emplace(cell.second, 0);
  int columns = 0;
  for (auto& [level, column] : planted_column) column = columns++;
  if (planted) {
    ContingencyTable table(K + 1, columns);
    for (const RegionTally& region : regions) {
      const ContingencyTable part = planted_table(region.planted, K, planted_column);
      for (size_t k = 0; k < table.counts.size(); ++k) table.counts[k] += part.counts[k];
    }
    m["ari_planted"] = adjusted_rand_index(table);
  }
  nlohmann::json region_metrics = nlohmann::json::array();
  for (size_t r = 0; r < R; ++r) {
    const RegionTally& t = regions[r];
    nlohmann::json one;
    one["name"] = ctx.data.region_names()[r];
    one["cells"] = t.cells;
    one["holdout_cells"] = t.holdout.total();
    one["rated_level_cells"] = t.rated_level_cells;
    one["classifier_accuracy"] = finite_or_null(accuracy(t.holdout));
    one["classifier_macro_f1"] = finite_or_null(macro_f1(t.holdout));
    if (planted) {  // null for a region without cells, where the index is 0/0
      const ContingencyTable table = planted_table(t.planted, K, planted_column);
      one["ari_planted"] = t.cells > 0 ? finite_or_null(adjusted_rand_index(table)) : nlohmann::json();
    }
    region_metrics.push_back(std::move(one));
  }
  m["regions"] = std::move(region_metrics);

  // The rated levels in order: their direction-signed feature means (the ordering rule's score)
  // must rise with the level.
  const std::string& rule = ctx.config.level_order;
  const std::vector<double> level_score = cluster_scores(model.schema, level_sums, rated_counts, rule);
  bool ordered = true;
  for (int l = 1; l < K; ++l) ordered = ordered && rated_counts[l] > 0 && level_score[l] > level_score[l - 1];
  m["rated_level_cells"] = rated_counts;
  m["rated_level_scores"] = level_score;
  m["level_order_consistent"] = ordered;

  const std::vector<int32_t> base_level = levels_by_score(cluster_scores(model.schema, base_sums, base_counts, rule));
  nlohmann::json base;
  std::vector<int64_t> base_cells(K, 0);
  for (int k = 0; k < K; ++k) base_cells[base_level[k] - 1] = base_counts[k];
  const ContingencyTable base_model = relabel_rows(base_vs_model, base_level);
  int64_t same_level = 0;
  for (int l = 1; l <= K; ++l) same_level += base_model.at(l - 1, l);
  base["method"] = "k-means on the scaled features (median-imputed), same K and ordering rule";
  base["level_cells"] = base_cells;
  base["ari_model"] = adjusted_rand_index(base_vs_model);
  base["same_level_as_model"] = double(same_level) / double(std::max<size_t>(1, N));
  if (planted) base["ari_planted"] = adjusted_rand_index(base_vs_planted);
  if (external) {
    const ContingencyTable model_ext = rated_only(model_vs_external);
    ContingencyTable base_ext(K, K);
    const ContingencyTable ordered_ext = relabel_rows(base_vs_external, base_level);
    for (int r = 0; r < K; ++r)
      for (int c = 1; c <= K; ++c) base_ext.counts[size_t(r) * K + c - 1] = ordered_ext.at(r, c);
    m["external_cells"] = std::accumulate(model_ext.counts.begin(), model_ext.counts.end(), int64_t(0));
    m["ari_external"] = adjusted_rand_index(model_ext);
    m["kappa_external"] = finite_or_null(quadratic_weighted_kappa(model_ext));
    m["spearman_external"] = finite_or_null(spearman(model_ext));
    m["external_confusion"] = count_rows(transposed(model_ext).counts, K, K);  // external rating x rated level
    base["ari_external"] = adjusted_rand_index(base_ext);
    base["kappa_external"] = finite_or_null(quadratic_weighted_kappa(base_ext));
    base["spearman_external"] = finite_or_null(spearman(base_ext));
  }
  m["baseline_kmeans"] = base;
  ctx.progress.record({{"stage", "evaluate"}, {"metrics", m}});
  ctx.progress.end(fmt::format("reconstruction MSE {:.5f}, held-out macro-F1 {}, ARI vs planted {} (k-means "
                               "baseline {}), ARI model vs baseline {:.4f}",
                               m["reconstruction_mse"].get<double>(),
                               m.contains("classifier_macro_f1") ? fmt::format("{:.4f}", m["classifier_macro_f1"].get<double>()) : "n/a",
                               planted ? fmt::format("{:.4f}", m["ari_planted"].get<double>()) : "n/a",
                               planted ? fmt::format("{:.4f}", base["ari_planted"].get<double>()) : "n/a",
                               base["ari_model"].get<double>()));
  return m;
}

}  // namespace resilinet
