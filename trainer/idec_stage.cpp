// Stage 2: deep embedded clustering. k-means++ on z of a deterministic sample of cells gives the
// initial centroids; IDEC then trains encoder, decoder and centroids on KL(P||Q) + gamma * MSE with
// the global-frequency target. Only the K frequencies f_j need a full pass (every refresh_interval
// steps); p is rebuilt per batch, so no N x K table is ever stored.
#include <algorithm>
#include <cmath>
#include <utility>

#include <fmt/format.h>

#include "datasets/input_error.hpp"

#include "kernels/ops.hpp"
#include "trainer/optimizer.hpp"
#include "trainer/training.hpp"

namespace resilinet {
namespace {

// z of about sample_rows cells chosen by hashed cell id (independent of shard order or rank count).
std::vector<float> sample_latent(const Model& model, TrainContext& ctx, size_t sample_rows) {
  const int d = model.latent_dims();
  const double share = std::min(1.0, double(sample_rows) / double(ctx.data.total_rows()));
  std::vector<float> sample, z;
  std::vector<float> picked;
  for_each_scaled_batch(ctx.data, ctx.config.slab_rows, &model.scaler, 8192,
                        [&](const Batch& b, const float* x) {
                          picked.clear();
                          for (size_t r = 0; r < b.rows; ++r)
                            if (share >= 1.0 || is_holdout(b.cell_id[r], ctx.config.seed + 17, share))
                              picked.insert(picked.end(), x + r * b.features, x + (r + 1) * b.features);
                          size_t rows = picked.size() / b.features;
                          z.resize(rows * d);
                          kernels::cpu::mlp_forward(model.autoencoder, model.autoencoder_params.data(),
                                                    picked.data(), rows, z.data(), model.latent_layer);
                          sample.insert(sample.end(), z.begin(), z.end());
                        });
  return sample;
}

struct Refresh {
  std::vector<double> frequency;  // f_j = sum_i q_ij over all cells
  std::vector<int8_t> labels;     // hard cluster of every cell, natural order
};

Refresh refresh_frequencies(const Model& model, TrainContext& ctx) {
  const int K = model.clusters;
  Refresh r;
  r.frequency.assign(K, 0.0);
  r.labels.reserve(ctx.data.total_rows());
  RatingBuffers out;
  for_each_scaled_batch(ctx.data, ctx.config.slab_rows, &model.scaler, 8192,
                        [&](const Batch& b, const float* x) {
                          rate_scaled(model, x, b.rows, out, false);
                          for (size_t i = 0; i < b.rows; ++i) {
                            const float* q = out.q.data() + i * K;
                            for (int j = 0; j < K; ++j) r.frequency[j] += q[j];
                            r.labels.push_back(int8_t(std::max_element(q, q + K) - q));
                          }
                        });
  return r;
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

// k-means++ on z of a sample of cells; sets the model's centroids (and rescales z, see below).
// Returns the k-means inertia and the latent scale.
std::pair<double, double> initial_centroids(Model& model, TrainContext& ctx) {
  const auto& cfg = ctx.config.idec;
  const int K = model.clusters;
  const int d = model.latent_dims();
  ctx.progress.begin("kmeans-init", 1);
  std::vector<float> z = sample_latent(model, ctx, cfg.kmeans.sample_rows);
  const size_t sample_rows = z.size() / d;
  if (sample_rows < size_t(K))
    throw InputError(ctx.config.data, "rows", fmt::format("at least {} cells to form {} clusters", K, K),
                     std::to_string(sample_rows));
  kernels::cpu::KMeansOptions km;
  km.clusters = K;
  km.restarts = cfg.kmeans.restarts;
  km.max_iterations = cfg.kmeans.max_iterations;
  km.seed = ctx.config.seed * 8 + 2;
  auto init = kernels::cpu::kmeans(z.data(), sample_rows, d, km);
  double latent_scale = 1.0;
  if (cfg.latent_spread > 0) {
    // The Student-t kernel has unit width, but the scale of z after pretraining is arbitrary: when
    // the clusters are much narrower than 1, q is nearly uniform and the KL gradient tears the
    // k-means partition apart within a few refreshes. Rescaling z (and undoing it in the next
    // layer, so the autoencoder computes the same function) puts the cells' RMS distance to their
    // centroid at latent_spread.
    latent_scale = cfg.latent_spread / std::sqrt(std::max(1e-30, init.inertia / double(sample_rows)));
    rescale_latent(model, latent_scale);
    for (float& v : init.centroids) v *= float(latent_scale);
  }
  model.centroids = init.centroids;
  ctx.progress.end(fmt::format("k-means++ on {} cells: inertia {:.4f} after {} iterations", sample_rows,
                               init.inertia, init.iterations));
  ctx.progress.record({{"stage", "kmeans-init"}, {"rows", sample_rows}, {"inertia", init.inertia},
                       {"latent_scale", latent_scale}});
  return {init.inertia, latent_scale};
}

}  // namespace

nlohmann::json fine_tune_clusters(Model& model, TrainContext& ctx) {
  const auto& cfg = ctx.config.idec;
  const int K = model.clusters;
  const int d = model.latent_dims();

  AdamState adam(cfg.optimizer, model.autoencoder.param_count);
  AdamState adam_mu(cfg.optimizer, size_t(K) * d);
  Refresh current;
  IdecProgress state;
  EpochLoop loop = epoch_loop("idec", cfg.max_epochs, size_t(cfg.batch), ctx.config.seed * 8 + 3);
  if (ctx.resume && ctx.resume->stage == "idec" && ctx.resume->idec) {
    // Continue after the checkpointed epoch: the centroids are in the model already.
    resume_stage(ctx, "idec", loop, adam);
    state = *ctx.resume->idec;
    adam_mu.m = state.centroid_adam.m;
    adam_mu.v = state.centroid_adam.v;
    adam_mu.step = state.centroid_adam.step;
    current.frequency = state.frequency;
    current.labels = state.labels;
  } else {
    const auto init = initial_centroids(model, ctx);
    state.kmeans_inertia = init.first;
    state.latent_scale = init.second;
    current = refresh_frequencies(model, ctx);
  }
  std::vector<float> grads(model.autoencoder.param_count);
  std::vector<float> dmu(model.centroids.size());
  std::vector<float> dmu_tiles;
  std::vector<uint8_t> observed;
  bool converged = false;

  kernels::LatentHook hook;
  hook.layer = model.latent_layer;
  size_t batch_rows = 0;
  hook.fn = [&](size_t tile, size_t, size_t rows, const float* zt, float* dz) {
    float* dmu_t = dmu_tiles.data() + tile * model.centroids.size();
    return kernels::cpu::kl_target_loss_grad(zt, rows, d, model.centroids.data(), K, float(model.alpha),
                                             current.frequency.data(), 1.0f, batch_rows, dz, dmu_t);
  };

  loop.epoch_end = stage_checkpoints(ctx, cfg.max_epochs, [&](int done, uint64_t steps_done) {
    state.centroid_adam = adam_mu;
    state.frequency = current.frequency;
    state.labels = current.labels;
    return StageProgress{"idec", done, steps_done, adam, state};
  });
  uint64_t steps = run_epochs(
      ctx, model.scaler, loop,
      [&](const Batch& b, const float* x, uint64_t) {
        batch_rows = b.rows;
        size_t tiles = (b.rows + kernels::cpu::kTileRows - 1) / kernels::cpu::kTileRows;
        dmu_tiles.assign(tiles * model.centroids.size(), 0.0f);
        observed_values(b, observed);
        kernels::LossSpec loss{kernels::LossKind::mse, float(cfg.gamma), x, nullptr, 0, observed.data()};
        double l = kernels::cpu::mlp_forward_backward(model.autoencoder, model.autoencoder_params.data(),
                                                      x, b.rows, loss, &hook, grads.data());
        std::fill(dmu.begin(), dmu.end(), 0.0f);
        for (size_t t = 0; t < tiles; ++t)  // fixed order: deterministic for any thread count
          for (size_t k = 0; k < dmu.size(); ++k) dmu[k] += dmu_tiles[t * dmu.size() + k];
        adam.apply(model.autoencoder_params.data(), grads.data());
        adam_mu.apply(model.centroids.data(), dmu.data());
        return l;
      },
      [&](uint64_t step) {
        if (step % uint64_t(cfg.refresh_interval) != 0) return false;
        Refresh next = refresh_frequencies(model, ctx);
        size_t diff = 0;
        for (size_t i = 0; i < next.labels.size(); ++i) diff += next.labels[i] != current.labels[i];
        state.changed = double(diff) / double(std::max<size_t>(1, next.labels.size()));
        current = std::move(next);
        ++state.refreshes;
        ctx.progress.record({{"stage", "idec"}, {"step", step}, {"labels_changed", state.changed}});
        converged = state.changed < cfg.tol;
        return converged;
      });

  std::vector<int64_t> sizes(K, 0);
  for (int8_t l : current.labels) ++sizes[l];
  ctx.progress.end(fmt::format("{} steps, {} refreshes, last label change {:.4f}{}", steps, state.refreshes,
                               state.changed, converged ? " (converged)" : ""));
  return {{"steps", steps}, {"refreshes", state.refreshes}, {"last_label_change", state.changed},
          {"converged", converged}, {"kmeans_inertia", state.kmeans_inertia}, {"latent_scale", state.latent_scale},
          {"cluster_sizes", sizes}};
}

}  // namespace resilinet
