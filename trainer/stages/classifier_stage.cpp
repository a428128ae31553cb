// Stage 3b: the classifier head, trained with cross-entropy on the cluster levels of the training
// cells (the held-out cells, chosen by hashed id, are never seen). It rates new cells without
// re-clustering and is the network that LRP explains.
#include <fmt/format.h>

#include "kernels/backend.hpp"
#include "trainer/model/optimizer.hpp"
#include "trainer/stages/training.hpp"

namespace resilinet {

std::vector<int8_t> cell_levels(const Model& model, TrainContext& ctx) {
  const ModelOnBackend on(model, ctx.backend, false);
  std::vector<int8_t> levels;
  levels.reserve(ctx.data.total_rows() / size_t(ctx.comm.world()) + 1);
  StoredOrder order(ctx.comm);
  RatingBuffers out;
  for_each_scaled_batch_of_rank(ctx, &model.scaler, 8192, [&](const Batch& b, const float* x) {
    rate_scaled(on, b.x, x, b.rows, out, false);
    for (size_t i = 0; i < b.rows; ++i) levels.push_back(int8_t(out.cluster_level[i] - 1));
    order.keep(b.stored_row, b.rows);
  });
  return order.gather<int8_t>(levels, 1);
}

// Over several epochs each cell would be rated once an epoch: rate every cell once instead, where
// a byte a cell fits the budget (per row, the same levels as the steps would rate).
bool keeps_cell_levels(const TrainContext& ctx) {
  const auto& cfg = ctx.config.classifier;
  const size_t rows = ctx.data.total_rows();
  return rows <= cfg.label_cache_rows && stage_epochs(cfg.epochs, cfg.min_steps, cfg.batch, rows, cfg.max_steps) > 1;
}

nlohmann::json train_classifier(Model& model, TrainContext& ctx) {
  const auto& cfg = ctx.config.classifier;
  const size_t F = model.schema.size();
  kernels::Backend& backend = ctx.backend;
  const auto net = backend.network(model.classifier);
  OptimizedBuffer head(backend, model.classifier_params, cfg.optimizer);
  kernels::Staged<float> rows_in(backend);
  kernels::Staged<int32_t> labels_in(backend);
  // The labels come from the clusters, fixed during this stage.
  const ModelOnBackend clusters(model, backend, false);
  std::vector<float> rows_x, rows_raw;
  std::vector<uint64_t> rows_stored;
  std::vector<int32_t> labels;
  RatingBuffers out;
  const int epochs = stage_epochs(cfg.epochs, cfg.min_steps, cfg.batch, ctx.data.total_rows(), cfg.max_steps);
  // order_levels leaves them, unless this run resumed in this stage or kept a checkpoint's levels.
  if (keeps_cell_levels(ctx) && ctx.cell_levels.empty()) ctx.cell_levels = cell_levels(model, ctx);
  const std::vector<int8_t> cached_levels = std::move(ctx.cell_levels);
  ctx.cell_levels = {};
  EpochLoop loop = epoch_loop("classifier", epochs, size_t(cfg.batch), ctx.config.seed * 8 + 4);
  loop.max_steps = uint64_t(cfg.max_steps);
  loop.scaled = EpochLoop::Scaled::none;  // only this rank's share of the training rows, below
  resume_stage(ctx, "classifier", loop, head);
  loop.epoch_end = stage_checkpoints(ctx, epochs, checkpoint_interval(ctx.config.checkpoint_every, cfg.epochs, epochs),
                                     optimizer_snapshot("classifier", head, model.classifier_params));
  const EpochsDone done = run_epochs(ctx, model.scaler, loop, [&](const Batch& b, const float*, uint64_t, double* loss_out) {
    // The batch's training rows (held-out cells never seen), then this rank's share of them,
    // scaled and labelled with their cluster levels: a rank rates only its own rows.
    rows_raw.clear();
    rows_stored.clear();
    for (size_t i = 0; i < b.rows; ++i)
      if (!is_holdout(b.cell_id[i], ctx.config.seed, cfg.holdout)) {
        rows_raw.insert(rows_raw.end(), b.x + i * F, b.x + (i + 1) * F);
        rows_stored.push_back(b.stored_row[i]);
      }
    const size_t training_rows = rows_raw.size() / F;
    if (training_rows == 0) return false;  // the same on every rank: each one saw the whole batch
    // The mean is over all of the batch's training rows.
    const RankShare share = rank_share(ctx, training_rows);
    const float* raw = rows_raw.data() + share.first * F;
    rows_x.resize(share.rows * F);
    model.scaler.transform(raw, share.rows, rows_x.data());
    labels.resize(share.rows);
    if (!cached_levels.empty()) {
      for (size_t i = 0; i < share.rows; ++i) labels[i] = cached_levels[rows_stored[share.first + i]];
    } else if (share.rows > 0) {
      rate_scaled(clusters, raw, rows_x.data(), share.rows, out, false);
      for (size_t i = 0; i < share.rows; ++i) labels[i] = out.cluster_level[i] - 1;
    }
    kernels::LossSpec loss{kernels::LossKind::softmax_cross_entropy, 1.0f, nullptr,
                           labels_in.put(labels.data(), share.rows), training_rows};
    train_step_over_ranks(ctx, *net, head, rows_in.put(rows_x.data(), share.rows * F), share, loss, nullptr, 0,
                          loss_out);
    return true;
  });
  head.download_params(model.classifier_params);
  ctx.progress.end(fmt::format("{} steps, last batch cross-entropy {:.5f}", done.steps, done.last_loss));
  nlohmann::json m = {{"epochs", epochs}, {"steps", done.steps}, {"last_batch_cross_entropy", done.last_loss}};
  if (cfg.max_steps > 0) m["max_steps"] = cfg.max_steps;
  return m;
}

}  // namespace resilinet
