// One training run end to end: open and validate the data, assemble the model, run the stages, write
// the run folder (config.yaml, checkpoint.h5, metrics.jsonl, metrics.json). Used by `resilinet train`
// and by tests.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "trainer/config.hpp"

namespace resilinet {

struct TrainResult {
  std::string checkpoint_path;
  nlohmann::json metrics;
};

TrainResult train_model(const TrainConfig& config, bool quiet = false);

// Applies run.device and run.threads: cpu/auto run on the CPU; cuda is an error in a build or on a
// machine without it (no silent fallback).
void apply_device_and_threads(const TrainConfig& config);

}  // namespace resilinet
