// Checkpoints: one HDF5 file with the resolved config (YAML text), the schema, the scaler, the flat
// parameter buffer and layout table of each network, the centroids and the cluster-to-level map
// (docs/FORMAT.md). Written to a temporary name, flushed, then renamed: never torn.
#pragma once
#include "trainer/model/room.hpp"
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "trainer/model/config.hpp"
#include "trainer/model/model.hpp"
#include "trainer/model/stage_progress.hpp"

namespace resilinet {

inline constexpr const char* kCheckpointFormat = "resilinet-checkpoint";
inline constexpr int kCheckpointFormatVersion = 2;

struct Checkpoint {
  TrainConfig config;
  Model model;
  std::string stage = "done";  // last completed stage: pretrain, clusters or done
  nlohmann::json stage_metrics = nlohmann::json::object();  // metrics of the completed stages
  // Set while an epoch-driven stage is under way: the model holds its parameters at that point.
  std::optional<StageProgress> in_progress;
};

// Throws InputError unless the checkpoint is of a finished run (rate, explain, report need one).
void require_finished(const Checkpoint& checkpoint, const std::string& path);

void write_checkpoint(const std::string& path, const Checkpoint& checkpoint);
// Throws InputError naming the file when it is missing, not a checkpoint, or inconsistent.
Checkpoint read_checkpoint(const std::string& path);

// Throws InputError if the data's schema differs from the one the model was trained on.
void require_same_schema(const Schema& model_schema, const std::string& checkpoint_path,
                         const Schema& data_schema, const std::string& data_path);

}  // namespace resilinet
