// Stage 2: the K clusters. A deterministic sample of cells (by hashed id) is mapped into the
// clustering space (clusters.space: the completed features, or the latent z), k-means restarts on
// it are combined into their consensus (trainer/stages/cluster_consensus.hpp), and the space is scaled so
// that cells sit clusters.spread (RMS) from their centroid, the width of the Student-t kernel of q.
// In the latent space IDEC then fine-tunes encoder, decoder and centroids (idec_stage.cpp).
// A fine-tuning run (init_from) skips the restarts: Lloyd iterations on the same sample start from
// the checkpoint's centroids in the checkpoint's scaling of the space, so cluster j stays cluster j.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "datasets/input_error.hpp"
#include "trainer/stages/cluster_consensus.hpp"
#include "trainer/stages/cluster_metrics.hpp"
#include "trainer/stages/training.hpp"

namespace resilinet {
namespace {

struct SpaceSample {
  std::vector<float> rows;  // [n x dims]
  std::vector<int64_t> cell_id;
};

SpaceSample sample_space(const Model& model, TrainContext& ctx) {
  const size_t D = size_t(model.cluster_dims()), F = size_t(model.features());
  const size_t total = ctx.data.total_rows();
  SpaceSample s;
  std::vector<float> raw, scaled;
  StoredOrder order(ctx.comm);
  const ModelOnBackend on(model, ctx.backend, false);
  RatingBuffers rated;
  // The ranks rate a share each, and every rank ends with the whole sample.
  for_each_scaled_batch_of_rank(ctx, &model.scaler, 8192, [&](const Batch& b, const float* x) {
    raw.clear();
    scaled.clear();
    for (size_t r = 0; r < b.rows; ++r)
      if (in_cluster_sample(b.cell_id[r], ctx.config, total)) {
        raw.insert(raw.end(), b.x + r * F, b.x + (r + 1) * F);
        scaled.insert(scaled.end(), x + r * F, x + (r + 1) * F);
        s.cell_id.push_back(b.cell_id[r]);
        order.keep(b.stored_row + r, 1);
      }
    const size_t n = raw.size() / F;
    rate_scaled(on, raw.data(), scaled.data(), n, rated, false);
    s.rows.insert(s.rows.end(), rated.space.begin(), rated.space.begin() + ptrdiff_t(n * D));
  });
  return {order.gather<float>(s.rows, D), order.gather<int64_t>(s.cell_id, 1)};
}

// Multiplies the latent z by s without changing what the autoencoder computes: the latent layer's
// weights and bias by s, the next layer's weights by 1/s.
void rescale_latent(Model& model, double s) {
  const auto& lat = model.autoencoder.layers[model.latent_layer];
  const auto& next = model.autoencoder.layers[model.latent_layer + 1];
  float* p = model.autoencoder_params.data();
  for (size_t k = 0; k < size_t(lat.out) * lat.in; ++k) p[lat.weight_offset + k] *= float(s);
  for (int k = 0; k < lat.out; ++k) p[lat.bias_offset + k] *= float(s);
  for (size_t k = 0; k < size_t(next.out) * next.in; ++k) p[next.weight_offset + k] *= float(1.0 / s);
}

std::vector<double> upper_triangle(const Consensus& c, int restarts) {
  std::vector<double> out;
  for (int a = 0; a < restarts; ++a)
    for (int b = a + 1; b < restarts; ++b) out.push_back(c.agreement[size_t(a) * restarts + b]);
  return out;
}

}  // namespace

nlohmann::json initial_clusters(Model& model, TrainContext& ctx) {
  const auto& cfg = ctx.config.clusters;
  const int K = model.clusters;
  ctx.progress.begin("clusters", 1);
  model.cluster_scale = 1.0;
  const SpaceSample sample = sample_space(model, ctx);
  const size_t D = size_t(model.cluster_dims()), rows = sample.cell_id.size();
  if (rows < size_t(K))
    throw InputError(ctx.config.data, "rows", fmt::format("at least {} sampled cells to form {} clusters", K, K),
                     std::to_string(rows));

  ConsensusOptions o;
  o.clusters = K;
  o.restarts = cfg.restarts;
  o.restart_share = cfg.restart_share;
  o.kmeans_restarts = cfg.kmeans.restarts;
  o.max_iterations = cfg.kmeans.max_iterations;
  o.min_share = cfg.min_share;
  o.seed = ctx.config.seed * 8 + 2;
  o.part = ctx.comm.rank();
  o.parts = ctx.comm.world();
  o.share = [&](std::vector<std::vector<float>>& centroids) {  // restart r is rank r % world's
    const size_t world = size_t(o.parts), each = size_t(K) * D, per_rank = (centroids.size() + world - 1) / world * each;
    std::vector<float> mine;
    for (size_t r = size_t(o.part); r < centroids.size(); r += world) mine.insert(mine.end(), centroids[r].begin(), centroids[r].end());
    const std::vector<float> all = gather_over_ranks<float>(ctx.comm, mine, per_rank);
    for (size_t r = 0; r < centroids.size(); ++r) {
      const auto at = all.begin() + ptrdiff_t((r % world) * per_rank + (r / world) * each);
      centroids[r].assign(at, at + ptrdiff_t(each));
    }
  };
  o.sum_counts = [&](std::span<const int64_t> mine) {
    std::vector<int64_t> sum(mine.begin(), mine.end());
    sum_in_rank_order<int64_t>(ctx.comm, {sum});
    return sum;
  };
  Consensus c = consensus_kmeans(sample.rows.data(), rows, int(D), sample.cell_id, o, ctx.backend);

  // Scale the space so the Student-t kernel of q (unit width) sees clusters of width `spread`:
  // when clusters are much narrower than 1, q is nearly uniform and the KL target means nothing.
  double scale = 1.0;
  if (cfg.spread > 0) scale = cfg.spread / std::sqrt(std::max(1e-30, c.inertia / double(rows)));
  for (float& v : c.centroids) v *= float(scale);
  if (model.clusters_completed())
    model.cluster_scale = scale;
  else
    rescale_latent(model, scale);
  model.centroids = c.centroids;

  std::vector<double> shares;
  for (int64_t n : c.sizes) shares.push_back(double(n) / double(rows));
  const double min_share = *std::min_element(shares.begin(), shares.end());
  nlohmann::json m = {{"space", cfg.space},
                      {"sample_cells", rows},
                      {"restarts", cfg.restarts},
                      {"restart_ari", upper_triangle(c, cfg.restarts)},
                      {"restart_ari_mean", c.mean_agreement()},
                      {"restart_ari_min", c.min_agreement()},
                      {"chosen_restart", c.chosen},
                      {"near_empty_restarts", c.near_empty_restarts},
                      {"inertia", c.inertia},
                      {"scale", scale},
                      {"sample_cluster_shares", shares},
                      {"min_cluster_share", min_share}};
  ctx.progress.end(fmt::format("{} restarts of k-means on {} cells ({} space): agreement (ARI) mean {:.3f}, min {:.3f}; "
                               "restart {} chosen",
                               cfg.restarts, rows, cfg.space, c.mean_agreement(), c.min_agreement(), c.chosen));
  if (!c.near_empty_restarts.empty() && !c.near_empty)
    ctx.progress.message(fmt::format("resilinet train: warning: {} of {} restarts had a cluster under {:.1f}% of the "
                                     "cells and were not chosen",
                                     c.near_empty_restarts.size(), cfg.restarts, 100 * cfg.min_share));
  if (c.near_empty)
    ctx.progress.message(fmt::format("resilinet train: warning: every restart has a cluster under {:.1f}% of the cells "
                                     "(smallest {:.2f}%); the data may hold an outlying group: consider fewer clusters "
                                     "(clusters.k) or the robust scaler",
                                     100 * cfg.min_share, 100 * min_share));
  m["warnings"] = nlohmann::json::array();
  if (c.near_empty) m["warnings"].push_back("near-empty cluster in every restart");
  ctx.progress.record({{"stage", "clusters"}, {"metrics", m}});
  return m;
}

nlohmann::json refined_clusters(Model& model, TrainContext& ctx) {
  const auto& cfg = ctx.config.clusters;
  const int K = model.clusters;
  ctx.progress.begin("clusters", 1);
  const SpaceSample sample = sample_space(model, ctx);
  const size_t rows = sample.cell_id.size();
  if (rows < size_t(K))
    throw InputError(ctx.config.data, "rows", fmt::format("at least {} sampled cells to refine {} clusters", K, K),
                     std::to_string(rows));
  const std::vector<float> before = model.centroids;
  Polished p = lloyd_from(sample.rows.data(), rows, model.cluster_dims(), before, K, cfg.kmeans.max_iterations,
                          ctx.backend);
  // How far the new data moved the clusters: the labels of the sample before and after, and the
  // RMS shift of the centroids (in the clustering space, where the clusters' RMS width is about
  // clusters.spread).
  const Polished start = lloyd_from(sample.rows.data(), rows, model.cluster_dims(), before, K, 0, ctx.backend);
  double shift = 0;
  for (size_t k = 0; k < before.size(); ++k) shift += double(p.centroids[k] - before[k]) * (p.centroids[k] - before[k]);
  shift = std::sqrt(shift / double(K));
  model.centroids = std::move(p.centroids);
  std::vector<double> shares;
  for (int64_t n : p.sizes) shares.push_back(double(n) / double(rows));
  const double min_share = *std::min_element(shares.begin(), shares.end());
  const double ari = adjusted_rand_index(start.labels, p.labels);
  nlohmann::json m = {{"space", cfg.space},
                      {"init_from", ctx.config.init_from.path},
                      {"sample_cells", rows},
                      {"lloyd_iterations", p.iterations},
                      {"inertia", p.inertia},
                      {"centroid_shift_rms", shift},
                      {"ari_to_checkpoint_centroids", ari},
                      {"sample_cluster_shares", shares},
                      {"min_cluster_share", min_share},
                      {"warnings", nlohmann::json::array()}};
  ctx.progress.end(fmt::format("clusters refined from {} on {} cells ({} space): {} Lloyd iterations, centroids moved "
                               "{:.3f} (RMS), ARI {:.3f} against the checkpoint's centroids",
                               ctx.config.init_from.path, rows, cfg.space, p.iterations, shift, ari));
  if (min_share < cfg.min_share) {
    ctx.progress.message(fmt::format("resilinet train: warning: on the new data a cluster holds {:.2f}% of the cells "
                                     "(under clusters.min_share, {:.1f}%); its level may be rare in this vintage",
                                     100 * min_share, 100 * cfg.min_share));
    m["warnings"].push_back("near-empty cluster after refinement");
  }
  ctx.progress.record({{"stage", "clusters"}, {"metrics", m}});
  return m;
}

nlohmann::json form_clusters(Model& model, TrainContext& ctx) {
  const bool resuming_idec = ctx.resume && ctx.resume->stage == "idec" && ctx.resume->idec;
  const bool fine_tuning = !ctx.config.init_from.path.empty();
  auto first_clusters = [&] { return fine_tuning ? refined_clusters(model, ctx) : initial_clusters(model, ctx); };
  if (model.clusters_completed()) return first_clusters();
  nlohmann::json start = resuming_idec ? nlohmann::json::parse(ctx.resume->idec->start_json) : first_clusters();
  nlohmann::json m = start;
  m["idec"] = refine_with_idec(model, ctx, start);
  return m;
}

}  // namespace resilinet
