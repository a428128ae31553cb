// End-of-training evaluation in one natural-order pass: reconstruction MSE, level sizes, cluster
// quality on z (silhouette, Calinski-Harabasz, Davies-Bouldin on a hashed sample of cells),
// classifier accuracy and macro-F1 on the held-out cells, agreement of the classifier with the
// cluster levels on all cells, and the adjusted Rand index against /planted_level when present.
#include <cmath>

#include <fmt/format.h>

#include "kernels/ops.hpp"
#include "trainer/cluster_metrics.hpp"
#include "trainer/training.hpp"

namespace resilinet {

nlohmann::json evaluate_model(const Model& model, TrainContext& ctx) {
  const int K = model.clusters;
  const int d = model.latent_dims();
  const size_t F = model.schema.size();
  const size_t N = ctx.data.total_rows();
  const double sample_share = std::min(1.0, double(ctx.config.metrics_sample_rows) / double(N));
  const bool planted = ctx.data.has_planted_level();

  ctx.progress.begin("evaluate", N);
  RatingBuffers out;
  std::vector<float> recon;
  double sq_error = 0;
  std::vector<int64_t> level_cells(K, 0);
  std::vector<int32_t> holdout_truth, holdout_pred, all_cluster, all_planted;
  std::vector<float> sample_z;
  std::vector<int32_t> sample_level;
  uint64_t agree = 0, seen = 0;
  for_each_scaled_batch(ctx.data, ctx.config.slab_rows, &model.scaler, 8192,
                        [&](const Batch& b, const float* x) {
                          rate_scaled(model, x, b.rows, out, true);
                          recon.resize(b.rows * F);
                          kernels::cpu::mlp_forward(model.autoencoder, model.autoencoder_params.data(),
                                                    x, b.rows, recon.data());
                          for (size_t k = 0; k < b.rows * F; ++k) {
                            double e = double(recon[k]) - x[k];
                            sq_error += e * e;
                          }
                          for (size_t i = 0; i < b.rows; ++i) {
                            int32_t cl = out.cluster_level[i];
                            ++level_cells[cl - 1];
                            agree += out.level[i] == cl;
                            if (is_holdout(b.cell_id[i], ctx.config.seed, ctx.config.classifier.holdout)) {
                              holdout_truth.push_back(cl - 1);
                              holdout_pred.push_back(out.level[i] - 1);
                            }
                            if (planted) {
                              all_cluster.push_back(cl);
                              all_planted.push_back(b.planted_level[i]);
                            }
                            if (sample_share >= 1.0 || is_holdout(b.cell_id[i], ctx.config.seed + 29, sample_share)) {
                              sample_z.insert(sample_z.end(), out.z.begin() + i * d, out.z.begin() + (i + 1) * d);
                              sample_level.push_back(cl);
                            }
                          }
                          seen += b.rows;
                          ctx.progress.update(seen, "", seen);
                        });

  nlohmann::json m;
  m["cells"] = N;
  m["reconstruction_mse"] = sq_error / double(N * F);
  m["level_cells"] = level_cells;
  const size_t S = sample_level.size();
  m["cluster_quality_sample_cells"] = S;
  auto finite_or_null = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); };
  m["silhouette"] = finite_or_null(silhouette_score(sample_z.data(), S, d, sample_level, 5000, ctx.config.seed));
  m["calinski_harabasz"] = finite_or_null(calinski_harabasz(sample_z.data(), S, d, sample_level));
  m["davies_bouldin"] = finite_or_null(davies_bouldin(sample_z.data(), S, d, sample_level));
  m["holdout_cells"] = holdout_truth.size();
  if (!holdout_truth.empty()) {
    m["classifier_accuracy"] = accuracy(holdout_truth, holdout_pred);
    m["classifier_macro_f1"] = macro_f1(holdout_truth, holdout_pred, K);
  }
  m["classifier_agreement_all_cells"] = double(agree) / double(std::max<size_t>(1, N));
  if (planted) m["ari_planted"] = adjusted_rand_index(all_cluster, all_planted);
  ctx.progress.record({{"stage", "evaluate"}, {"metrics", m}});
  ctx.progress.end(fmt::format("reconstruction MSE {:.5f}, held-out macro-F1 {}, ARI vs planted {}",
                               m["reconstruction_mse"].get<double>(),
                               m.contains("classifier_macro_f1") ? fmt::format("{:.4f}", m["classifier_macro_f1"].get<double>()) : "n/a",
                               planted ? fmt::format("{:.4f}", m["ari_planted"].get<double>()) : "n/a"));
  return m;
}

}  // namespace resilinet
