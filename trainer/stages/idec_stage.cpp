// IDEC in the latent space: encoder, decoder and centroids trained on KL(P||Q) + gamma * MSE with
// the global-frequency target p_ij = (q_ij^2 / f_j) / sum_k (q_ik^2 / f_k). Only the K frequencies
// f_j need a full pass; p is rebuilt per batch, so no N x K table is ever stored.
//
// Every refresh (each idec.refresh_every epochs) is measured against the last accepted state: the
// share of cells whose cluster changed (the two states' labels are compared cell by cell in one
// pass, so only counts are kept) and the smallest cluster. A refresh that changes more than
// idec.max_change of the labels, or leaves a cluster under clusters.min_share, tears the partition:
// IDEC returns to the accepted state and halves its step; after idec.max_rollbacks it stops there.
#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>

#include <fmt/format.h>

#include "kernels/backend.hpp"
#include "trainer/stages/cluster_metrics.hpp"
#include "trainer/model/optimizer.hpp"
#include "trainer/stages/training.hpp"

namespace resilinet {
namespace {

// Sums of values in [0, 2^39) kept as integer counts of 2^-88 units (the parts of a value below
// 2^-88 are dropped): exact, so they do not depend on the order of their terms, nor on how the
// ranks split them. The frequencies feed the training steps, which must be the same for any world size.
constexpr int kFixedPointFractionBits = 88;
__int128 to_fixed_point(float v) { return static_cast<__int128>(std::ldexp(double(v), kFixedPointFractionBits)); }
double from_fixed_point(__int128 units) { return std::ldexp(double(units), -kFixedPointFractionBits); }

struct Refresh {
  std::vector<double> frequency;  // f_j = sum_i q_ij over all cells
  std::vector<int64_t> sizes;     // hard clusters of the current state
  ContingencyTable versus;        // current x accepted hard clusters
};

// One pass, shared by the ranks: the frequencies and hard cluster sizes of `model`, and, when
// accepted is given, the table of its hard clusters against those of the accepted state.
Refresh measure(const Model& model, const Model* accepted, TrainContext& ctx) {
  const int K = model.clusters;
  Refresh r;
  r.sizes.assign(K, 0);
  r.versus = ContingencyTable(K, K);
  std::vector<__int128> frequency(K, 0);  // fixed point
  int64_t not_finite = 0;  // rows whose q is not finite (a diverged model): in no cluster, and the frequencies NaN
  RatingBuffers now, before;
  const ModelOnBackend on_now(model, ctx.backend, false);
  const std::optional<ModelOnBackend> on_before =
      accepted ? std::optional<ModelOnBackend>(std::in_place, *accepted, ctx.backend, false) : std::nullopt;
  for_each_scaled_batch_of_rank(ctx, &model.scaler, 8192, [&](const Batch& b, const float* x) {
    rate_scaled(on_now, b.x, x, b.rows, now, false);
    if (on_before) rate_scaled(*on_before, b.x, x, b.rows, before, false);
    for (size_t i = 0; i < b.rows; ++i) {
      const float* q = now.q.data() + i * K;
      if (!std::all_of(q, q + K, [](float v) { return v >= 0.0f && std::isfinite(v); })) {
        ++not_finite;
        continue;
      }
      for (int j = 0; j < K; ++j) frequency[j] += to_fixed_point(q[j]);
      const int a = int(std::max_element(q, q + K) - q);
      ++r.sizes[a];
      if (!accepted) continue;
      const float* qb = before.q.data() + i * K;
      r.versus.add(a, int(std::max_element(qb, qb + K) - qb));
    }
  });
  sum_in_rank_order<int64_t>(ctx.comm, {r.sizes, r.versus.counts, std::span(&not_finite, 1)});
  sum_in_rank_order<__int128>(ctx.comm, {frequency});
  for (int j = 0; j < K; ++j) r.frequency.push_back(not_finite ? std::nan("") : from_fixed_point(frequency[j]));
  return r;
}

double changed_share(const ContingencyTable& t) {
  int64_t same = 0, total = 0;
  for (int a = 0; a < t.rows; ++a)
    for (int b = 0; b < t.cols; ++b) {
      total += t.at(a, b);
      if (a == b) same += t.at(a, b);
    }
  return total ? double(total - same) / double(total) : 0.0;
}

}  // namespace

nlohmann::json refine_with_idec(Model& model, TrainContext& ctx, const nlohmann::json& start) {
  const auto& cfg = ctx.config.idec;
  const int K = model.clusters;
  const double min_share = ctx.config.clusters.min_share;
  kernels::Backend& backend = ctx.backend;
  const auto net = backend.network(model.autoencoder);
  OptimizedBuffer ae(backend, model.autoencoder_params, cfg.optimizer);
  OptimizedBuffer mu(backend, model.centroids, cfg.optimizer);
  // The model's host copy follows the backend's at every measurement and checkpoint.
  auto pull = [&] {
    ae.download_params(model.autoencoder_params);
    mu.download_params(model.centroids);
  };
  auto snapshot = [&](const std::vector<double>& frequency) {
    return IdecSnapshot{model.autoencoder_params, model.centroids, ae.moments(), mu.moments(), frequency};
  };
  IdecProgress state;
  state.start_json = start.dump();
  EpochLoop loop = epoch_loop("idec", cfg.max_epochs, size_t(cfg.batch), ctx.config.seed * 8 + 3);
  loop.max_steps = uint64_t(cfg.max_steps);
  loop.scaled = EpochLoop::Scaled::rank_share;
  if (ctx.resume && ctx.resume->stage == "idec" && ctx.resume->idec) {
    // Continue after the checkpointed epoch: the parameters and centroids are in the model already.
    resume_stage(ctx, "idec", loop, ae);
    state = *ctx.resume->idec;
    mu.restore(state.centroid_adam);
  } else {
    state.frequency = measure(model, nullptr, ctx).frequency;
    state.accepted = snapshot(state.frequency);
  }
  kernels::BackendArray<double> frequency(backend, state.frequency);
  auto set_step_size = [&] {
    ae.set_lr(float(cfg.optimizer.lr * state.lr_scale));
    mu.set_lr(float(cfg.optimizer.lr * state.lr_scale));
  };
  set_step_size();
  const size_t total = ctx.data.total_rows();
  const uint64_t steps_per_epoch = (total + size_t(cfg.batch) - 1) / size_t(cfg.batch);
  const uint64_t interval = std::max<uint64_t>(1, uint64_t(std::llround(cfg.refresh_every * double(steps_per_epoch))));

  kernels::Staged<float> x_in(backend);
  kernels::Staged<uint8_t> observed_in(backend);
  std::vector<uint8_t> observed;
  bool converged = false, gave_up = false;

  kernels::LatentLoss latent;
  latent.layer = model.latent_layer;
  latent.clusters = K;
  latent.alpha = float(model.alpha);
  latent.weight = 1.0f;

  loop.epoch_end = stage_checkpoints(ctx, cfg.max_epochs, ctx.config.checkpoint_every, [&](int done, uint64_t steps_done) {
    pull();
    state.centroid_adam = mu.moments();
    return StageProgress{"idec", done, steps_done, ae.moments(), state};
  });
  Model accepted_model = model;
  // Measures the state after `step` against the accepted one; accepts it, or rolls back. Returns
  // true when IDEC should stop.
  auto refresh = [&](uint64_t step) {
    pull();
    accepted_model.autoencoder_params = state.accepted.params;
    accepted_model.centroids = state.accepted.centroids;
    Refresh next = measure(model, &accepted_model, ctx);
    ++state.refreshes;
    const double changed = changed_share(next.versus);
    const int64_t smallest = *std::min_element(next.sizes.begin(), next.sizes.end());
    const bool near_empty = double(smallest) < min_share * double(total);
    const bool torn = changed > cfg.max_change || near_empty;
    ctx.progress.record({{"stage", "idec"}, {"step", step}, {"labels_changed", changed},
                         {"smallest_cluster", smallest}, {"rolled_back", torn}});
    if (!torn) {
      state.frequency = next.frequency;
      frequency.upload(state.frequency);
      state.changed = changed;
      state.accepted = snapshot(state.frequency);
      converged = changed < cfg.tol;
      return converged;
    }
    // Back to the accepted state with half the step.
    const std::string why = near_empty ? fmt::format("a cluster fell to {} cells", smallest)
                                       : fmt::format("{:.1f}% of the labels changed", 100 * changed);
    model.autoencoder_params = state.accepted.params;
    model.centroids = state.accepted.centroids;
    ae.upload_params(model.autoencoder_params);
    mu.upload_params(model.centroids);
    ae.restore(state.accepted.adam);
    mu.restore(state.accepted.centroid_adam);
    state.frequency = state.accepted.frequency;
    frequency.upload(state.frequency);
    ++state.rollbacks;
    state.lr_scale *= 0.5;
    set_step_size();
    gave_up = state.rollbacks > cfg.max_rollbacks;
    ctx.progress.message(fmt::format("resilinet train: warning: IDEC refresh at step {} rolled back ({}){}", step, why,
                                     gave_up ? "; IDEC stops at its last accepted state"
                                             : fmt::format("; step size now x{}", state.lr_scale)));
    return gave_up;
  };
  const uint64_t steps = run_epochs(
      ctx, model.scaler, loop,
      [&](const Batch& b, const float* x, uint64_t, double* loss_out) {
        // This rank's rows of the batch; both losses are means over the whole batch.
        const RankShare share = rank_share(ctx, b.rows);
        const size_t at = share.first * b.features, n = share.rows * b.features;
        observed_values(b, share.first, share.rows, observed);
        const float* xb = x_in.put(x + at, n);
        kernels::LossSpec loss{kernels::LossKind::mse, float(cfg.gamma), xb, nullptr, b.rows,
                               observed_in.put(observed.data(), n)};
        latent.centroids = mu.params();
        latent.frequency = frequency.data();
        latent.dmu = mu.grads();
        latent.norm_rows = b.rows;
        train_step_over_ranks(ctx, *net, ae, xb, share, loss, &latent, mu.size(), loss_out);
        mu.step();
        return true;
      },
      [&](uint64_t step) { return step % interval == 0 && refresh(step); }).steps;
  // The steps after the last refresh are measured too, so IDEC never ends on an unchecked state.
  if (!converged && !gave_up && steps % interval != 0) refresh(steps);
  pull();

  const std::vector<int64_t> sizes = measure(model, nullptr, ctx).sizes;
  ctx.progress.end(fmt::format("{} steps, {} refreshes, {} rolled back, last label change {:.4f}{}", steps,
                               state.refreshes, state.rollbacks, state.changed,
                               converged ? " (converged)" : gave_up ? " (stopped after rollbacks)" : ""));
  nlohmann::json m = {{"steps", steps},          {"refreshes", state.refreshes},   {"rollbacks", state.rollbacks},
                      {"last_label_change", state.changed}, {"converged", converged}, {"stopped_after_rollbacks", gave_up},
                      {"step_scale", state.lr_scale}, {"cluster_sizes", sizes}};
  if (cfg.max_steps > 0) m["max_steps"] = cfg.max_steps;
  return m;
}

}  // namespace resilinet
