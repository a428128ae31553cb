// Loops shared by the training stages: natural-order passes, shuffled epochs, the held-out split.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "kernels/splitmix.hpp"
#include "trainer/stages/training.hpp"

namespace resilinet {

NonFiniteLoss::NonFiniteLoss(std::string stage_name, uint64_t step_number, double value)
    : std::runtime_error(fmt::format("the loss of stage {} at step {} is {}", stage_name, step_number,
                                     std::isnan(value) ? "NaN" : value > 0 ? "+Inf" : "-Inf")),
      stage(std::move(stage_name)),
      step(step_number),
      loss(value) {}

RankShare rank_share(const TrainContext& ctx, size_t batch_rows) {
  const size_t world = size_t(ctx.comm.world()), rank = size_t(ctx.comm.rank());
  const size_t tile = ctx.backend.host_memory() ? ctx.backend.gradient_tile_rows() : 0;
  if (world == 1 || tile == 0) {
    const size_t first = batch_rows * rank / world, end = batch_rows * (rank + 1) / world;
    return {first, end - first, {}};
  }
  const size_t tiles = (batch_rows + tile - 1) / tile;
  RankShare share;
  share.tiles_per_rank.resize(world);
  for (size_t r = 0; r < world; ++r) {
    const size_t first_tile = tiles * r / world, end_tile = tiles * (r + 1) / world;
    share.tiles_per_rank[r] = end_tile - first_tile;
    if (r != rank) continue;
    share.first = std::min(batch_rows, first_tile * tile);
    share.rows = std::min(batch_rows, end_tile * tile) - share.first;
  }
  return share;
}

namespace {
template <class T>
void sum_buffer_over_ranks(TrainContext& ctx, T* values, size_t count) {
  if (ctx.comm.world() == 1 || count == 0) return;
  if (ctx.backend.host_memory() != ctx.comm.device_memory()) {  // the communicator takes them as they are
    ctx.comm.allreduce_sum(values, count);
    return;
  }
  if (ctx.backend.host_memory())
    throw std::logic_error("sum_over_ranks: a device communicator with the " + ctx.backend.describe() + " backend");
  // A device backend's buffers pass through the host to a host communicator (MPI); the staging
  // buffer is kept, as every step makes the same calls.
  thread_local std::vector<T> host;
  host.resize(count);
  ctx.backend.download(host.data(), values, count * sizeof(T));
  ctx.comm.allreduce_sum(host.data(), count);
  ctx.backend.upload(values, host.data(), count * sizeof(T));
}
}  // namespace

void sum_over_ranks(TrainContext& ctx, float* values, size_t count) { sum_buffer_over_ranks(ctx, values, count); }
void sum_over_ranks(TrainContext& ctx, double* values, size_t count) { sum_buffer_over_ranks(ctx, values, count); }

namespace {
// This rank's tiles' gradients [tiles x grad_count] and dmu [tiles x dmu_count], kept between steps.
struct TileGradients {
  std::vector<float> grads, dmu;
};
TileGradients& tile_gradients(TrainContext& ctx, const kernels::Network& net, const float* params, const float* x,
                              const RankShare& share, const kernels::LossSpec& loss, const kernels::LatentLoss* latent,
                              size_t dmu_count, size_t grad_count, double* loss_out) {
  thread_local TileGradients t;
  const size_t tiles = share.tiles_per_rank[size_t(ctx.comm.rank())];
  t.grads.resize(std::max<size_t>(1, tiles * grad_count));
  t.dmu.resize(std::max<size_t>(1, tiles * dmu_count));
  ctx.backend.mlp_forward_backward_tiles(net, params, x, share.rows, loss, latent, {t.grads.data(), t.dmu.data()},
                                         loss_out);
  return t;
}

// The gradients, dmu and loss of this rank's share, summed over the ranks in full.
void forward_backward_over_ranks(TrainContext& ctx, const kernels::Network& net, const float* params,
                                 const float* x, const RankShare& share, const kernels::LossSpec& loss,
                                 const kernels::LatentLoss* latent, size_t dmu_count, float* grads,
                                 size_t grad_count, double* loss_out) {
  if (share.tiles_per_rank.empty()) {
    ctx.backend.mlp_forward_backward(net, params, x, share.rows, loss, latent, grads, loss_out);
    sum_over_ranks(ctx, grads, grad_count);
    if (latent) sum_over_ranks(ctx, latent->dmu, dmu_count);
  } else {
    // Each tile's gradient apart, then every rank's tiles summed up the tile tree; the loss rides
    // with the gradient.
    const TileGradients& t = tile_gradients(ctx, net, params, x, share, loss, latent, dmu_count, grad_count, loss_out);
    ctx.comm.sum_tile_tree(t.grads.data(), share.tiles_per_rank, grad_count, grads, loss_out);
    if (latent) ctx.comm.sum_tile_tree(t.dmu.data(), share.tiles_per_rank, dmu_count, latent->dmu, nullptr);
    return;
  }
  sum_over_ranks(ctx, loss_out, 1);
}
}  // namespace

void train_step_over_ranks(TrainContext& ctx, const kernels::Network& net, OptimizedBuffer& buffer, const float* x,
                           const RankShare& share, const kernels::LossSpec& loss, const kernels::LatentLoss* latent,
                           size_t dmu_count, double* loss_out) {
  if (share.tiles_per_rank.empty() || ctx.comm.world() == 1 || !ctx.comm.shards_sums() ||
      buffer.size() < Communicator::kShardedStepMinElements) {  // a small network steps whole
    forward_backward_over_ranks(ctx, net, buffer.params(), x, share, loss, latent, dmu_count, buffer.grads(),
                                buffer.size(), loss_out);
    buffer.step();
    return;
  }
  // Sharded: each rank sums and steps only the parameters it owns, then the ranks share them.
  const TileGradients& t = tile_gradients(ctx, net, buffer.params(), x, share, loss, latent, dmu_count, buffer.size(),
                                          loss_out);
  // The loss rides with the gradient.
  ctx.comm.reduce_scatter_tile_tree(t.grads.data(), share.tiles_per_rank, buffer.size(), buffer.grads(), loss_out);
  if (latent) ctx.comm.sum_tile_tree(t.dmu.data(), share.tiles_per_rank, dmu_count, latent->dmu, nullptr);
  const OwnedElements own = owned_elements(buffer.size(), ctx.comm.rank(), ctx.comm.world());
  buffer.step(own.first, own.end);
  ctx.comm.allgather_owned(buffer.params(), buffer.size());
  if (!buffer.gathers_moments())
    buffer.gather_moments_with([&comm = ctx.comm](float* values, size_t count) { comm.allgather_owned(values, count); });
}

SilhouetteShare silhouette_over_ranks(TrainContext& ctx) {
  Communicator& comm = ctx.comm;
  return {comm.rank(), comm.world(), [&comm](std::span<const double> mine, std::span<double> all) {
            const size_t world = size_t(comm.world()), per_rank = (all.size() + world - 1) / world;
            const std::vector<double> parts = gather_over_ranks(comm, mine, per_rank);
            for (size_t r = 0; r < world; ++r) {
              const size_t first = all.size() * r / world, end = all.size() * (r + 1) / world;
              std::copy_n(parts.begin() + ptrdiff_t(r * per_rank), end - first, all.begin() + ptrdiff_t(first));
            }
          }};
}

void for_each_scaled_batch_of_rank(TrainContext& ctx, const Scaler* scaler, size_t batch_rows, const ScaledBatchFn& fn) {
  const size_t world = size_t(ctx.comm.world());
  // A few slabs a rank: shards of unequal sizes still split about evenly.
  const size_t slab_rows = world == 1 ? ctx.config.slab_rows
                                      : std::clamp<size_t>(ctx.data.total_rows() / (4 * world), 1, ctx.config.slab_rows);
  for_each_scaled_batch(ctx.data, slab_rows, scaler, batch_rows, fn, ctx.comm.rank(), ctx.comm.world());
}

void StoredOrder::keep(const uint64_t* stored_rows, size_t rows) {
  for (size_t i = 0; i < rows; ++i, ++kept_) {
    if (!runs_.empty() && runs_.back().first_stored + runs_.back().rows == stored_rows[i])
      ++runs_.back().rows;
    else
      runs_.push_back({stored_rows[i], 1, kept_});
  }
}

void StoredOrder::plan() {
  const std::vector<std::vector<Run>> runs = gather_varying<Run>(comm_, runs_);
  for (size_t rank = 0; rank < runs.size(); ++rank)
    for (Run run : runs[rank]) {
      run.rank = rank;
      all_runs_.push_back(run);
      all_kept_ += run.rows;
    }
  std::sort(all_runs_.begin(), all_runs_.end(), [](const Run& a, const Run& b) { return a.first_stored < b.first_stored; });
  planned_ = true;
}

void observed_values(const Batch& batch, size_t first_row, size_t rows, std::vector<uint8_t>& out) {
  out.resize(rows * batch.features);
  const float* x = batch.x + first_row * batch.features;
  for (size_t k = 0; k < out.size(); ++k) out[k] = !std::isnan(x[k]);
}

void resume_stage(const TrainContext& ctx, const std::string& stage, EpochLoop& loop, OptimizedBuffer& net) {
  if (!ctx.resume || ctx.resume->stage != stage) return;
  if (ctx.resume->adam.m.size() != net.size() || ctx.resume->adam.v.size() != net.size())
    throw std::logic_error("resume: optimizer state of " + stage + " has " + std::to_string(ctx.resume->adam.m.size()) +
                           " values for " + std::to_string(net.size()) + " parameters");
  loop.first_epoch = ctx.resume->epoch;
  loop.first_step = ctx.resume->step;
  net.restore(ctx.resume->adam);
}

int checkpoint_interval(int every, int configured_epochs, int epochs) {
  if (every <= 0 || configured_epochs <= 0 || epochs <= configured_epochs) return every;
  return every * ((epochs + configured_epochs - 1) / configured_epochs);
}

std::function<bool(int, uint64_t)> stage_checkpoints(TrainContext& ctx, int epochs, int every, StageSnapshot snapshot) {
  return [&ctx, epochs, every, snapshot = std::move(snapshot)](int done, uint64_t steps) {
    if (!ctx.epoch_checkpoint || every <= 0 || done >= epochs || done % every != 0) return false;
    return ctx.epoch_checkpoint(snapshot(done, steps));
  };
}

StageSnapshot optimizer_snapshot(const std::string& stage, const OptimizedBuffer& net, std::vector<float>& host) {
  return [stage, &net, &host](int done, uint64_t steps) {
    net.download_params(host);
    return StageProgress{stage, done, steps, net.moments(), std::nullopt};
  };
}

int stage_epochs(int epochs, int min_steps, int batch, size_t rows, int max_steps) {
  const uint64_t per_epoch = std::max<uint64_t>(1, (rows + size_t(batch) - 1) / size_t(batch));
  const uint64_t for_min_steps = (uint64_t(min_steps) + per_epoch - 1) / per_epoch;
  uint64_t run = std::max<uint64_t>(uint64_t(epochs), epochs > 0 ? for_min_steps : 0);
  if (max_steps > 0) run = std::min(run, (uint64_t(max_steps) + per_epoch - 1) / per_epoch);
  return int(run);
}

bool is_holdout(int64_t cell_id, uint64_t seed, double share) {
  uint64_t h = splitmix64(uint64_t(cell_id) ^ splitmix64(seed ^ 0x5eedULL));
  return double(h >> 11) * 0x1.0p-53 < share;
}

bool in_cluster_sample(int64_t cell_id, const TrainConfig& config, size_t total_rows) {
  const double share = std::min(1.0, double(config.clusters.kmeans.sample_rows) / double(total_rows));
  return share >= 1.0 || is_holdout(cell_id, config.seed + 17, share);
}

void for_each_scaled_batch(const ShardSet& data, size_t slab_rows, const Scaler* scaler,
                           size_t batch_rows, const ScaledBatchFn& fn, int rank, int world) {
  LoaderOptions opt;
  opt.batch_rows = batch_rows;
  opt.slab_rows = slab_rows;
  opt.shuffle = false;
  opt.rank = rank;
  opt.world = world;
  // Slabs no larger than a rank's share, so that every rank has one on a small set.
  if (world > 1) opt.slab_rows = std::clamp<size_t>((data.total_rows() + size_t(world) - 1) / size_t(world), 1, slab_rows);
  Loader loader(data, opt);
  Batch b;
  std::vector<float> scaled;
  while (loader.next(b)) {
    if (scaler) {
      scaled.resize(b.rows * b.features);
      scaler->transform(b.x, b.rows, scaled.data());
      fn(b, scaled.data());
    } else {
      fn(b, b.x);
    }
  }
}

EpochsDone run_epochs(TrainContext& ctx, const Scaler& scaler, const EpochLoop& loop, const StepFn& step,
                      const std::function<bool(uint64_t)>& stop_after) {
  LoaderOptions opt;
  opt.batch_rows = loop.batch_rows;
  opt.slab_rows = ctx.config.slab_rows;
  opt.seed = loop.seed;
  opt.features_only = true;
  Loader loader(ctx.data, opt);
  if (loop.first_epoch > 0) loader.restore({uint64_t(loop.first_epoch), 0, loop.seed});
  const uint64_t per_epoch = loader.rank_batches();
  uint64_t total_steps = per_epoch * uint64_t(loop.epochs);
  if (loop.max_steps > 0) total_steps = std::min(total_steps, loop.max_steps);
  ctx.progress.begin(loop.stage, total_steps);
  kernels::Backend& backend = ctx.backend;
  // One loss slot per step of an epoch, and the last loss (carried into a step that trains nothing).
  kernels::BackendArray<double> losses(backend, size_t(per_epoch) + 1), last(backend, 1);
  last.zero();
  std::vector<double> host_losses;
  EpochsDone done;
  uint64_t epoch_steps = 0;
  uint64_t steps = loop.first_step, samples = 0;
  // The epoch's losses summed in step order: the same bytes as a running sum. The first loss that
  // is not finite ends the stage.
  auto loss_sum = [&] {
    host_losses.resize(epoch_steps);
    if (epoch_steps) backend.download(host_losses.data(), losses.data(), epoch_steps * sizeof(double));
    double sum = 0;
    for (size_t i = 0; i < host_losses.size(); ++i) {
      if (!std::isfinite(host_losses[i])) throw NonFiniteLoss(loop.stage, steps - epoch_steps + i + 1, host_losses[i]);
      sum += host_losses[i];
    }
    return sum;
  };
  Batch b;
  std::vector<float> scaled;
  for (int epoch = loop.first_epoch; epoch < loop.epochs; ++epoch) {
    epoch_steps = 0;
    bool stop = false;
    while (loader.next(b)) {
      scaled.resize(b.rows * b.features);
      if (loop.scaled == EpochLoop::Scaled::all) {
        scaler.transform(b.x, b.rows, scaled.data());
      } else if (loop.scaled == EpochLoop::Scaled::rank_share) {
        const RankShare share = rank_share(ctx, b.rows);
        const size_t at = share.first * b.features;
        scaler.transform(b.x + at, share.rows, scaled.data() + at);
      }
      if (epoch_steps >= losses.size()) throw std::logic_error("run_epochs: more batches than the loader counted");
      double* slot = losses.data() + epoch_steps;
      if (step(b, scaled.data(), steps, slot))
        backend.copy(last.data(), slot, sizeof(double));
      else
        backend.copy(slot, last.data(), sizeof(double));
      ++steps;
      ++epoch_steps;
      samples += b.rows;
      ctx.progress.update(
          steps, [&] { return fmt::format("epoch {}/{} loss {:.5f}", epoch + 1, loop.epochs, loss_sum() / epoch_steps); },
          samples);
      if ((stop_after && stop_after(steps)) || (loop.max_steps > 0 && steps >= loop.max_steps)) {
        stop = true;
        break;
      }
    }
    ctx.progress.record({{"stage", loop.stage}, {"epoch", epoch + 1}, {"steps", steps},
                         {"loss", epoch_steps ? loss_sum() / epoch_steps : 0.0}});
    if (stop) break;
    if (loop.epoch_end && loop.epoch_end(epoch + 1, steps)) break;
  }
  done.steps = steps;
  backend.download(&done.last_loss, last.data(), sizeof(double));
  return done;
}

namespace {

// The ranks' fits of their slabs merged into one process's fit, on every rank: counts added, the
// ranges widened, each feature's sample merged (exact: the sample depends on the cells only), one
// feature at a time so that no rank holds every rank's whole sample at once. The sums of values
// (z-score scaling alone uses them) are doubles added in rank order: a world size repeats bitwise.
void merge_fits_over_ranks(Communicator& comm, ScalerFitter& fitter) {
  const size_t world = size_t(comm.world()), F = fitter.features();
  if (world == 1) return;
  ScalerFitter::Sums& s = fitter.sums();
  sum_in_rank_order<uint64_t>(comm, {s.count, s.missing});
  sum_in_rank_order<double>(comm, {s.sum, s.sumsq});
  std::vector<double> range = s.min;
  range.insert(range.end(), s.max.begin(), s.max.end());
  const std::vector<double> ranges = gather_over_ranks<double>(comm, range, 2 * F);
  for (size_t r = 0; r < world; ++r)
    for (size_t f = 0; f < F; ++f) {
      s.min[f] = std::min(s.min[f], ranges[r * 2 * F + f]);
      s.max[f] = std::max(s.max[f], ranges[r * 2 * F + F + f]);
    }
  FeatureSample& sample = fitter.sample();
  std::vector<uint64_t> seen(F);
  for (size_t f = 0; f < F; ++f) seen[f] = sample.seen(f);
  const std::vector<uint64_t> all_seen = gather_over_ranks<uint64_t>(comm, seen, F);
  std::vector<uint64_t> keys;
  std::vector<float> values;
  for (size_t f = 0; f < F; ++f) {
    sample.kept(f, keys, values);
    const auto all_keys = gather_varying<uint64_t>(comm, keys);
    const auto all_values = gather_varying<float>(comm, values);
    for (size_t r = 0; r < world; ++r)
      if (r != size_t(comm.rank())) sample.merge_feature(f, all_keys[r], all_values[r], all_seen[r * F + f]);
  }
}

}  // namespace

// One pass shared by the ranks (each fits its slabs), then the fits merged.
void fit_scaler(Model& model, TrainContext& ctx) {
  ScalerFitter fitter(model.schema.size());
  const uint64_t total = ctx.data.total_rows();
  ctx.progress.begin("scaler", total);
  uint64_t seen = 0;
  for_each_scaled_batch_of_rank(ctx, nullptr, 65536, [&](const Batch& b, const float*) {
    fitter.add(b.x, b.cell_id, b.rows);
    seen += b.rows;
    const uint64_t all_seen = rows_passed_by_all_ranks(ctx, seen, total);
    ctx.progress.update(all_seen, "", all_seen);
  });
  merge_fits_over_ranks(ctx.comm, fitter);
  const std::string file = ctx.data.shards().empty() ? ctx.config.data : ctx.data.shards()[0].path;
  model.scaler = fitter.finish(ctx.config.scaler, file);
  nlohmann::json missing;
  uint64_t total_missing = 0;
  for (size_t f = 0; f < model.schema.size(); ++f) {
    missing[model.schema.features[f].name] = model.scaler.missing[f];
    total_missing += model.scaler.missing[f];
  }
  ctx.progress.record({{"stage", "scaler"}, {"type", model.scaler.type}, {"imputed", missing}});
  ctx.progress.end(fmt::format("{} scaler on {} rows, {} missing values imputed with the median",
                               model.scaler.type, total, total_missing));
}

}  // namespace resilinet
