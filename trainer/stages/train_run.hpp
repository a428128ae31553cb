// One training run end to end: open and validate the data, assemble the model, run the stages, write
// the run folder (config.yaml, checkpoint.h5, metrics.jsonl, metrics.json). Used by `resilinet train`
// and by tests.
#pragma once
#include "trainer/stages/room.hpp"
#include <memory>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "datasets/shard_set.hpp"
#include "kernels/backend.hpp"
#include "trainer/model/config.hpp"

namespace resilinet {

struct TrainResult {
  std::string checkpoint_path;
  nlohmann::json metrics;
};

struct TrainOptions {
  bool quiet = false;
  // Continue from run_dir/checkpoint.h5 if there is one: its completed stages are kept, a stage
  // under way continues after its last checkpointed epoch, and the result is bitwise the same as an
  // uninterrupted run with the same thread count. The checkpoint's config must equal this one
  // (run.threads and run.checkpoint_every aside); otherwise InputError naming the first key that
  // differs. Without a checkpoint the run starts from the beginning.
  bool resume = false;
  // Replace a run already in run_dir. Without resume or overwrite, a run folder that holds
  // checkpoint.h5 is refused (InputError), so that a finished run is not lost by mistake.
  bool overwrite = false;
  // Stop once this checkpoint is written: "pretrain" or "clusters" (a stage), "pretrain:EPOCH",
  // "idec:EPOCH" or "classifier:EPOCH" (inside a stage, at an epoch that run.checkpoint_every
  // checkpoints), or "" (run to the end).
  std::string stop_after;
};

// Training stopped because a loss became NaN or infinite. The message names the stage, the step
// and the last good checkpoint, which is left as it was; the CLI exits with code 1.
class TrainingDiverged : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Refused before any training (InputError naming config.data): K clusters need at least
// kMinCellsPerCluster cells each to tell apart.
void require_enough_cells(const TrainConfig& config, const ShardSet& data);

// Holds RUN_DIR/.lock while it runs: a second train into the same folder is an InputError (exit 2)
// that touches nothing.
TrainResult train_model(const TrainConfig& config, const TrainOptions& options);
TrainResult train_model(const TrainConfig& config, bool quiet = false);

// The stages a checkpoint can record, in order; kNoStage while the first is under way.
inline constexpr const char* kTrainStages[] = {"pretrain", "clusters", "done"};
inline constexpr const char* kNoStage = "none";

// Applies run.threads and makes the backend run.device asks for: cpu, cuda (an InputError naming
// run.device in a build or on a machine without a usable GPU: no silent fallback), or auto (cuda
// when usable, else cpu).
std::unique_ptr<kernels::Backend> apply_device_and_threads(const TrainConfig& config);
// The backend for `device`; one that cannot run here is an InputError naming file and field.
std::unique_ptr<kernels::Backend> make_device_backend(const std::string& device, const std::string& file,
                                                      const std::string& field);

}  // namespace resilinet
