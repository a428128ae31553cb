// The training stages of Resili-Net and the loops they share:
//   1. fit_scaler, 2. pretrain_autoencoder, 3. fine_tune_clusters (k-means++ then IDEC),
//   4. order_levels, 5. train_classifier, then evaluate_model.
// Each stage streams the shard set through a Loader; none holds the dataset in memory.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "datasets/loader.hpp"
#include "datasets/shard_set.hpp"
#include "trainer/config.hpp"
#include "trainer/model.hpp"
#include "trainer/optimizer.hpp"
#include "trainer/stage_progress.hpp"
#include "trainer/progress.hpp"

namespace resilinet {

struct TrainContext {
  const TrainConfig& config;
  const ShardSet& data;
  Progress& progress;
  const StageProgress* resume = nullptr;  // continue this stage rather than start it
  // Called after every run.checkpoint_every epochs of an epoch-driven stage (not after its last);
  // returns true to stop the run there (TrainOptions::stop_after "stage:epoch").
  std::function<bool(const StageProgress&)> epoch_checkpoint;
};

// Calls fn for every row of the set in natural order, batch by batch, with the rows scaled by
// `scaler` (nullptr: raw rows are passed as scaled).
using ScaledBatchFn = std::function<void(const Batch& batch, const float* scaled)>;
void for_each_scaled_batch(const ShardSet& data, size_t slab_rows, const Scaler* scaler,
                           size_t batch_rows, const ScaledBatchFn& fn);

// Shuffled epochs of training steps. step returns the batch loss; stop_after (optional) is asked
// after every step whether to stop early. Returns the number of steps taken.
struct EpochLoop {
  std::string stage;
  int epochs = 1;
  size_t batch_rows = 256;
  uint64_t seed = 0;
  int first_epoch = 0;      // > 0: continue after this many epochs (loader and step count follow)
  uint64_t first_step = 0;
  // Called after each epoch with the epochs and steps done so far; returns true to stop.
  std::function<bool(int epochs_done, uint64_t steps)> epoch_end;
};
inline EpochLoop epoch_loop(std::string stage, int epochs, size_t batch_rows, uint64_t seed) {
  EpochLoop loop;
  loop.stage = std::move(stage);
  loop.epochs = epochs;
  loop.batch_rows = batch_rows;
  loop.seed = seed;
  return loop;
}
using StepFn = std::function<double(const Batch& batch, const float* scaled, uint64_t step)>;
uint64_t run_epochs(TrainContext& ctx, const Scaler& scaler, const EpochLoop& loop,
                    const StepFn& step, const std::function<bool(uint64_t step)>& stop_after = {});

// out[rows x features] = 1 where the batch's raw value is observed, 0 where it is missing (NaN):
// the reconstruction loss skips imputed values rather than teaching the decoder the median.
void observed_values(const Batch& batch, std::vector<uint8_t>& out);

// For an epoch-driven stage: continue from ctx.resume when it is this stage's, and checkpoint
// through ctx.epoch_checkpoint every run.checkpoint_every epochs (not after the last), with what
// snapshot(epochs done, steps done) returns.
void resume_stage(const TrainContext& ctx, const std::string& stage, EpochLoop& loop, AdamState& adam);
using StageSnapshot = std::function<StageProgress(int epochs_done, uint64_t steps)>;
std::function<bool(int, uint64_t)> stage_checkpoints(TrainContext& ctx, int epochs, StageSnapshot snapshot);
// The snapshot of a stage whose only state besides the parameters is one optimizer.
StageSnapshot optimizer_snapshot(const std::string& stage, const AdamState& adam);

// Deterministic held-out split by hashed cell id: true for about `share` of all ids.
bool is_holdout(int64_t cell_id, uint64_t seed, double share);

void fit_scaler(Model& model, TrainContext& ctx);
nlohmann::json pretrain_autoencoder(Model& model, TrainContext& ctx);
nlohmann::json fine_tune_clusters(Model& model, TrainContext& ctx);
nlohmann::json order_levels(Model& model, TrainContext& ctx);
nlohmann::json train_classifier(Model& model, TrainContext& ctx);
nlohmann::json evaluate_model(const Model& model, TrainContext& ctx);

}  // namespace resilinet
