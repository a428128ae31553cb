// Fine-tuning a finished model on a new vintage of data (`resilinet train --init-from`): the
// checkpoint's model is checked against this run's config and data, then trained on by the usual
// stages. The scaler stays frozen and the cluster -> level map is kept, so that scaled values and
// levels mean the same in both vintages. The stages themselves live in *_stage.cpp.
#pragma once
#include "trainer/stages/room.hpp"
#include <nlohmann/json.hpp>

#include "datasets/schema.hpp"
#include "trainer/model/config.hpp"
#include "trainer/model/model.hpp"
#include "trainer/stages/training.hpp"

namespace resilinet {

// config with init_from.sha256 set to the SHA-256 of the file at init_from.path (unchanged without
// a path). A hash the config already holds must be that file's: InputError naming init_from.sha256.
TrainConfig with_init_from_hash(const TrainConfig& config);

// The model of the finished checkpoint at config.init_from.path, after checking that the data's
// schema and the config's model keys (scaler, encoder, clusters.k, .space and .alpha,
// classifier.hidden) build the same model: InputError naming the checkpoint and the first key
// that differs otherwise.
Model model_to_fine_tune(const TrainConfig& config, const Schema& data_schema);

// The levels stage of a fine-tuning run: the model's cluster -> level map (the checkpoint's) is
// kept. The ordering rule (levels.order) is applied to the new data only to compare: each level's
// entry holds the level the rule would give its cluster (rule_level), a disagreement is a warning,
// and init_from_metrics gets level_rule_agrees. Returns the levels as order_levels does.
nlohmann::json keep_checkpoint_levels(Model& model, TrainContext& ctx, nlohmann::json& init_from_metrics);

}  // namespace resilinet
