// The training stages of Resili-Net and the loops they share:
//   1. fit_scaler, 2. pretrain_autoencoder, 3. fine_tune_clusters (k-means++ then IDEC),
//   4. order_levels, 5. train_classifier, then evaluate_model.
// Each stage streams the shard set through a Loader; none holds the dataset in memory (the
// classifier's labels, a byte a cell, only up to classifier.label_cache_rows cells).
#pragma once
#include "trainer/stages/room.hpp"
#include <cstdint>
#include <algorithm>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "datasets/loader.hpp"
#include "datasets/shard_set.hpp"
#include "trainer/distributed/communicator.hpp"
#include "trainer/model/config.hpp"
#include "trainer/model/model.hpp"
#include "trainer/model/optimizer.hpp"
#include "trainer/model/stage_progress.hpp"
#include "trainer/outputs/progress.hpp"
#include "trainer/stages/cluster_metrics.hpp"

namespace resilinet {

struct TrainContext {
  const TrainConfig& config;
  const ShardSet& data;
  Progress& progress;
  kernels::Backend& backend;              // where the networks train (run.device)
  // The job's ranks. Every rank reads every batch and computes most passes over the data (some
  // are shared: for_each_scaled_batch_of_rank); a training step splits its batch between the
  // ranks (rank_share) and sums their gradients.
  Communicator& comm;
  const StageProgress* resume = nullptr;  // continue this stage rather than start it
  // Called after every run.checkpoint_every epochs of an epoch-driven stage (not after its last);
  // returns true to stop the run there (TrainOptions::stop_after "stage:epoch").
  std::function<bool(const StageProgress&)> epoch_checkpoint;
  // The level (0-based) of every cell by stored row, left by order_levels for the classifier when it
  // keeps its labels (keeps_cell_levels); empty otherwise.
  std::vector<int8_t> cell_levels;
};

// Calls fn for every row of the set in natural order, batch by batch, with the rows scaled by
// `scaler` (nullptr: raw rows are passed as scaled). With world > 1, only rank's slabs (the
// loader's: slabs r, r + world, ...), so that ranks share a pass.
using ScaledBatchFn = std::function<void(const Batch& batch, const float* scaled)>;
void for_each_scaled_batch(const ShardSet& data, size_t slab_rows, const Scaler* scaler,
                           size_t batch_rows, const ScaledBatchFn& fn, int rank = 0, int world = 1);

// Shuffled epochs of training steps. step returns the batch loss; stop_after (optional) is asked
// after every step whether to stop early. Returns the number of steps taken.
struct EpochLoop {
  std::string stage;
  int epochs = 1;
  size_t batch_rows = 256;
  uint64_t seed = 0;
  int first_epoch = 0;      // > 0: continue after this many epochs (loader and step count follow)
  uint64_t first_step = 0;
  uint64_t max_steps = 0;   // > 0: stop once the stage has taken this many steps, mid-epoch or not
  // Called after each epoch with the epochs and steps done so far; returns true to stop.
  std::function<bool(int epochs_done, uint64_t steps)> epoch_end;
  // The rows of each batch that run_epochs scales for the step: all, only this rank's share
  // (rank_share; the step reads no other scaled row), or none (the step scales what it reads).
  enum class Scaled { all, rank_share, none } scaled = Scaled::all;
};
inline EpochLoop epoch_loop(std::string stage, int epochs, size_t batch_rows, uint64_t seed) {
  EpochLoop loop;
  loop.stage = std::move(stage);
  loop.epochs = epochs;
  loop.batch_rows = batch_rows;
  loop.seed = seed;
  return loop;
}
// The rows [first, first + rows) of a batch of batch_rows that are this rank's to train on:
// contiguous shares in rank order, so that 1, 2 or 3 ranks train on the same global batches. On a
// backend that keeps tile gradients (the CPU's) the shares are whole tiles, the last one perhaps
// short: every world size then cuts the batch into the same tiles, and their gradients, summed up the
// tile tree (kernels/tile_tree.hpp), equal one process's bitwise (train_step_over_ranks).
struct RankShare {
  size_t first = 0, rows = 0;
  std::vector<size_t> tiles_per_rank;  // tile shares: every rank's count of tiles; else empty
};
RankShare rank_share(const TrainContext& ctx, size_t batch_rows);
// Sums buffers (in ctx.backend's memory) over the ranks, in rank order. Nothing happens with one rank.
void sum_over_ranks(TrainContext& ctx, float* values, size_t count);
void sum_over_ranks(TrainContext& ctx, double* values, size_t count);
// A data-parallel step: this rank's share of the batch forward and backward (x and the loss's
// arrays already cut to it, the means over the whole batch), the gradients, the latent loss's dmu
// [dmu_count] and the loss summed over the ranks (with tile shares, one process's sums bitwise,
// whatever the world size), then one Adam step of `buffer` with the summed gradients. Where the
// communicator shards sums (MPI ranks on one machine) and the backend keeps tile gradients, each
// rank sums and steps only its owned parameters (owned_elements) and the ranks then share them:
// the same parameters, bitwise, for half (with 2 ranks) the optimizer's work, and the moments
// gathered only when a checkpoint asks for them (OptimizedBuffer::moments).
void train_step_over_ranks(TrainContext& ctx, const kernels::Network& net, OptimizedBuffer& buffer, const float* x,
                           const RankShare& share, const kernels::LossSpec& loss, const kernels::LatentLoss* latent,
                           size_t dmu_count, double* loss_out);

// Every rank's values, in rank order, on every rank: rank r's `mine` (at most per_rank values,
// padded with T{}) lands at [r x per_rank, (r + 1) x per_rank) of the result.
template <class T>
std::vector<T> gather_over_ranks(Communicator& comm, std::span<const T> mine, size_t per_rank) {
  if (mine.size() > per_rank) throw std::logic_error("gather_over_ranks: more values than per_rank");
  std::vector<T> padded(per_rank, T{}), all(per_rank * size_t(comm.world()));
  std::copy(mine.begin(), mine.end(), padded.begin());
  comm.allgather(padded.data(), per_rank * sizeof(T), all.data());
  return all;
}
// Every rank's values, as many as each rank has, on every rank: result[r] is rank r's `mine`.
template <class T>
std::vector<std::vector<T>> gather_varying(Communicator& comm, std::span<const T> mine) {
  const uint64_t size = mine.size();
  const std::vector<uint64_t> sizes = gather_over_ranks<uint64_t>(comm, std::span(&size, 1), 1);
  const size_t most = size_t(*std::max_element(sizes.begin(), sizes.end()));
  const std::vector<T> all = gather_over_ranks<T>(comm, mine, most);
  std::vector<std::vector<T>> out(sizes.size());
  for (size_t r = 0; r < sizes.size(); ++r)
    out[r].assign(all.begin() + ptrdiff_t(r * most), all.begin() + ptrdiff_t(r * most + sizes[r]));
  return out;
}
// Each array, in host memory, replaced by its sum over the ranks, added in rank order (so a world
// size repeats bitwise; integer counts are the same for any world size). Nothing with one rank.
template <class T>
void sum_in_rank_order(Communicator& comm, const std::vector<std::span<T>>& arrays) {
  const size_t world = size_t(comm.world());
  if (world == 1) return;
  std::vector<T> mine;
  for (std::span<T> a : arrays) mine.insert(mine.end(), a.begin(), a.end());
  const std::vector<T> all = gather_over_ranks<T>(comm, mine, mine.size());
  size_t at = 0;
  for (std::span<T> a : arrays)
    for (T& v : a) {
      v = T{};
      for (size_t r = 0; r < world; ++r) v += all[r * mine.size() + at];
      ++at;
    }
}
// The silhouette's work split between the ranks (SilhouetteShare), gathered over ctx.comm.
SilhouetteShare silhouette_over_ranks(TrainContext& ctx);

// A pass in stored order that the ranks share: fn sees this rank's slabs only (slabs small enough
// that every rank has a few). Together with StoredOrder, what one process's pass keeps.
void for_each_scaled_batch_of_rank(TrainContext& ctx, const Scaler* scaler, size_t batch_rows, const ScaledBatchFn& fn);
// For progress lines of such a pass: about how many of the `total` rows all ranks have passed
// when this rank has passed `mine` (the ranks' shares differ by a slab at most).
inline uint64_t rows_passed_by_all_ranks(const TrainContext& ctx, uint64_t mine, uint64_t total) {
  return std::min<uint64_t>(total, mine * uint64_t(ctx.comm.world()));
}

// The rows that every rank kept in its share of a pass (for_each_scaled_batch_of_rank), in stored
// order. keep() takes this rank's kept rows' Batch::stored_row in the order of the pass; gather
// (collective) puts values kept with them (per_row a row, in the same order), every rank's, into
// stored order on every rank. The rows are held as runs of consecutive stored rows, so a pass that
// keeps every row costs a few numbers a slab, not one a row.
class StoredOrder {
 public:
  explicit StoredOrder(Communicator& comm) : comm_(comm) {}
  void keep(const uint64_t* stored_rows, size_t rows);
  template <class T>
  std::vector<T> gather(std::span<const T> mine, size_t per_row) {
    if (mine.size() != kept_ * per_row) throw std::logic_error("StoredOrder::gather: values for other rows");
    if (comm_.world() == 1) return {mine.begin(), mine.end()};  // one pass over every slab: in stored order
    if (!planned_) plan();
    const std::vector<std::vector<T>> parts = gather_varying(comm_, mine);
    std::vector<T> out;
    out.reserve(all_kept_ * per_row);
    for (const Run& r : all_runs_) {
      const auto from = parts[r.rank].begin() + ptrdiff_t(r.first_kept * per_row);
      out.insert(out.end(), from, from + ptrdiff_t(r.rows * per_row));
    }
    return out;
  }

 private:
  struct Run {
    uint64_t first_stored = 0, rows = 0;
    uint64_t first_kept = 0;  // the index of the run's first row among its rank's kept rows
    uint64_t rank = 0;        // set by plan()
  };
  void plan();  // collective: every rank's runs, in stored order
  Communicator& comm_;
  std::vector<Run> runs_, all_runs_;
  size_t kept_ = 0, all_kept_ = 0;  // rows this rank kept; all ranks'
  bool planned_ = false;
};

// A step's loss that is NaN or infinite: the parameters cannot be trained on from there. Thrown by
// run_epochs when it reads the losses (at progress updates and at the end of each epoch), before
// the epoch's checkpoint is written.
struct NonFiniteLoss : std::runtime_error {
  NonFiniteLoss(std::string stage_name, uint64_t step_number, double value);
  std::string stage;
  uint64_t step;  // 1-based, counted over the stage
  double loss;
};

// A step writes its batch loss to *loss_out (in ctx.backend's memory, so the step never waits for
// the device) and returns true; a step that had nothing to train on returns false and the last
// loss counts again. Losses are read only when progress shows them and at the end of each epoch.
using StepFn = std::function<bool(const Batch& batch, const float* scaled, uint64_t step, double* loss_out)>;
struct EpochsDone {
  uint64_t steps = 0;      // steps done, the resumed ones included
  double last_loss = 0.0;  // of the last step
};
EpochsDone run_epochs(TrainContext& ctx, const Scaler& scaler, const EpochLoop& loop, const StepFn& step,
                      const std::function<bool(uint64_t step)>& stop_after = {});

// out[rows x features] = 1 where the raw value of batch row first_row + i is observed, 0 where it
// is missing (NaN): the reconstruction loss skips imputed values rather than teaching the decoder
// the median.
void observed_values(const Batch& batch, size_t first_row, size_t rows, std::vector<uint8_t>& out);

// For an epoch-driven stage: continue from ctx.resume when it is this stage's, and checkpoint
// through ctx.epoch_checkpoint every `every` epochs (not after the last), with what
// snapshot(epochs done, steps done) returns.
void resume_stage(const TrainContext& ctx, const std::string& stage, EpochLoop& loop, OptimizedBuffer& net);
using StageSnapshot = std::function<StageProgress(int epochs_done, uint64_t steps)>;
// every: epochs between checkpoints (run.checkpoint_every, or checkpoint_interval for a stage
// that min_steps stretched).
std::function<bool(int, uint64_t)> stage_checkpoints(TrainContext& ctx, int epochs, int every, StageSnapshot snapshot);
// Epochs between in-stage checkpoints of a stage that runs `epochs` where the config asked for
// configured_epochs: run.checkpoint_every, stretched by the same factor as the stage (min_steps),
// so a small data set is checkpointed about as often per run as a large one.
int checkpoint_interval(int every, int configured_epochs, int epochs);
// The snapshot of a stage whose only state besides the parameters is one optimizer; the
// parameters are brought to `host` (the model's copy, which the checkpoint writes) first.
StageSnapshot optimizer_snapshot(const std::string& stage, const OptimizedBuffer& net, std::vector<float>& host);

// Deterministic held-out split by hashed cell id: true for about `share` of all ids.
bool is_holdout(int64_t cell_id, uint64_t seed, double share);
// The cells the clusters and the k-means baseline are fitted on: about clusters.kmeans.sample_rows
// of total_rows, chosen by hashed id (all cells when there are fewer).
bool in_cluster_sample(int64_t cell_id, const TrainConfig& config, size_t total_rows);

// Fewer cells than this per cluster on average are refused before training starts.
inline constexpr int kMinCellsPerCluster = 10;

void fit_scaler(Model& model, TrainContext& ctx);
// The epochs a stage runs on `rows` cells: `epochs`, or more on small data so that at least
// min_steps steps of `batch` rows are taken (0 epochs stays 0); then no more than max_steps steps
// need (> 0: a cap, which wins over min_steps; the last epoch may be cut short).
int stage_epochs(int epochs, int min_steps, int batch, size_t rows, int max_steps = 0);
nlohmann::json pretrain_autoencoder(Model& model, TrainContext& ctx);
// Stage 2 (cluster_stage.cpp): the consensus of k-means restarts in the clustering space, then,
// in the latent space, IDEC. initial_clusters is the first part alone.
nlohmann::json form_clusters(Model& model, TrainContext& ctx);
nlohmann::json initial_clusters(Model& model, TrainContext& ctx);
// In a fine-tuning run (init_from), the first part instead: Lloyd iterations on the same sample
// from the model's centroids (the checkpoint's), which keeps each cluster's identity.
nlohmann::json refined_clusters(Model& model, TrainContext& ctx);
// IDEC from the model's centroids (idec_stage.cpp); start holds the initial clustering's metrics,
// kept in in-progress checkpoints.
nlohmann::json refine_with_idec(Model& model, TrainContext& ctx, const nlohmann::json& start);
nlohmann::json order_levels(Model& model, TrainContext& ctx);
// The ordering rule (level_order.cpp), from per-cluster feature sums [K x F] and counts (empty
// clusters score lowest). rule (levels.order): component_score, the mean over components of the
// mean direction-signed scaled feature of a cluster's cells; feature_mean, the mean over all
// features of the same. levels_by_score maps cluster -> level 1..K by increasing score.
std::vector<double> cluster_scores(const Schema& schema, const std::vector<double>& sums,
                                   const std::vector<int64_t>& counts, const std::string& rule);
std::vector<int32_t> levels_by_score(const std::vector<double>& score);
nlohmann::json train_classifier(Model& model, TrainContext& ctx);
// Whether the classifier's labels are kept for its epochs (classifier.label_cache_rows), and
// cell_levels: the level (0-based, by the model's level map as it stands) of every cell by stored
// row, from one rating pass that the ranks share.
bool keeps_cell_levels(const TrainContext& ctx);
std::vector<int8_t> cell_levels(const Model& model, TrainContext& ctx);
nlohmann::json evaluate_model(const Model& model, TrainContext& ctx);

}  // namespace resilinet
