// Stage 1: autoencoder pretraining on the reconstruction loss (MSE), Adam over the flat buffer.
// Optionally denoising: the encoder sees a corrupted copy of each batch and the loss targets the
// clean rows. Masked values are replaced by the imputation value (the scaled training median),
// exactly as a missing value is at rating time, so the encoder learns to infer a missing feature
// from the others instead of placing an imputed cell off the manifold of complete cells.
#include <algorithm>
#include <cmath>
#include <numbers>

#include <fmt/format.h>

#include "kernels/ops.hpp"
#include "kernels/splitmix.hpp"
#include "trainer/model/optimizer.hpp"
#include "trainer/stages/training.hpp"

namespace resilinet {
namespace {

// Corrupts rows [first_row, first_row + rows) of one step's batch (x and out hold just those).
// Each value's draws are hashed from (seed, step, its place in the batch), so any part of a batch
// (a rank's share) is corrupted as the whole batch would be, whatever the thread count or the
// shard layout.
void corrupt_batch(const float* x, size_t first_row, size_t rows, const std::vector<float>& imputed,
                   double mask_rate, double noise, uint64_t seed, uint64_t step, float* out) {
  const uint64_t base = splitmix64(seed ^ (0x9e3779b97f4a7c15ULL * (step + 1)));
  const size_t features = imputed.size();
  for (size_t k = 0; k < rows * features; ++k) {
    const uint64_t value = splitmix64(base ^ uint64_t(first_row * features + k));
    auto uniform = [&](uint64_t draw) { return double(splitmix64(value + draw) >> 11) * 0x1.0p-53; };
    float v = x[k];
    if (noise > 0) {  // Box-Muller, one normal per value (the bytes do not depend on <random>)
      double u1 = 1.0 - uniform(1), u2 = uniform(2);
      v += float(noise * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2));
    }
    if (mask_rate > 0 && uniform(3) < mask_rate) v = imputed[k % features];
    out[k] = v;
  }
}

}  // namespace

nlohmann::json pretrain_autoencoder(Model& model, TrainContext& ctx) {
  const auto& cfg = ctx.config.pretrain;
  const bool denoising = cfg.mask_rate > 0 || cfg.input_noise > 0;
  kernels::Backend& backend = ctx.backend;
  const auto net = backend.network(model.autoencoder);
  OptimizedBuffer ae(backend, model.autoencoder_params, cfg.optimizer);
  kernels::Staged<float> input_in(backend), target_in(backend);
  kernels::Staged<uint8_t> observed_in(backend);
  std::vector<float> corrupted;
  std::vector<uint8_t> observed;
  std::vector<float> imputed(model.features());
  {
    std::vector<float> median(model.scaler.median.begin(), model.scaler.median.end());
    model.scaler.transform(median.data(), 1, imputed.data());
  }
  const uint64_t seed = ctx.config.seed * 8 + 1;
  const int epochs = stage_epochs(cfg.epochs, cfg.min_steps, cfg.batch, ctx.data.total_rows(), cfg.max_steps);
  EpochLoop loop = epoch_loop("pretrain", epochs, size_t(cfg.batch), seed);
  loop.max_steps = uint64_t(cfg.max_steps);
  loop.scaled = EpochLoop::Scaled::rank_share;
  resume_stage(ctx, "pretrain", loop, ae);
  loop.epoch_end = stage_checkpoints(ctx, epochs, checkpoint_interval(ctx.config.checkpoint_every, cfg.epochs, epochs),
                                     optimizer_snapshot("pretrain", ae, model.autoencoder_params));
  const EpochsDone done = run_epochs(ctx, model.scaler, loop, [&](const Batch& b, const float* x, uint64_t step, double* loss_out) {
    // This rank's rows of the batch (all of them with one rank); the mean is over the whole batch.
    const RankShare share = rank_share(ctx, b.rows);
    const size_t at = share.first * b.features, n = share.rows * b.features;
    const float* input = x + at;
    if (denoising) {  // only this rank's rows
      corrupted.resize(n);
      corrupt_batch(x + at, share.first, share.rows, imputed, cfg.mask_rate, cfg.input_noise, seed, step,
                    corrupted.data());
      input = corrupted.data();
    }
    observed_values(b, share.first, share.rows, observed);
    kernels::LossSpec loss{kernels::LossKind::mse, 1.0f, target_in.put(x + at, n), nullptr, b.rows,
                           observed_in.put(observed.data(), n)};
    train_step_over_ranks(ctx, *net, ae, input_in.put(input, n), share, loss, nullptr, 0, loss_out);
    return true;
  });
  ae.download_params(model.autoencoder_params);
  ctx.progress.end(fmt::format("{} steps, last batch MSE {:.6f}{}", done.steps, done.last_loss,
                               denoising ? " (denoising)" : ""));
  nlohmann::json m = {
      {"epochs", epochs}, {"steps", done.steps}, {"last_batch_mse", done.last_loss}, {"denoising", denoising}};
  if (cfg.max_steps > 0) m["max_steps"] = cfg.max_steps;
  return m;
}

}  // namespace resilinet
