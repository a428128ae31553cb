// Runs the scenarios of a scenario file over a data set with a frozen model, streaming: each batch is
// rated as it is, then once per scenario with its edits applied (rescaled with the frozen scaler,
// no retraining). Writes per scenario OUT/NAME/cells.{h5,csv,geojson} (the edited cells, their
// level before and after) and OUT/scenario_summary.json (transitions, counts per region, relevance
// of the edited features before and after, goal seeking); docs/FORMAT.md describes both.
#pragma once
#include "trainer/scenario/room.hpp"
#include <string>

#include <nlohmann/json.hpp>

#include "datasets/shard_set.hpp"
#include "kernels/backend.hpp"
#include "trainer/model/checkpoint.hpp"
#include "trainer/outputs/cell_table.hpp"
#include "trainer/outputs/progress.hpp"
#include "trainer/scenario/scenario_file.hpp"

namespace resilinet {

struct ScenarioRunOptions {
  std::string out;             // output folder
  int target_level = 0;        // > 0: goal seeking toward this level for every edited cell
  CellTableFiles files;        // which of cells.h5 / .csv / .geojson to write
  std::string checkpoint_path, data_pattern;  // recorded in the summary
};

// Returns the summary that was written. Throws InputError naming the scenario and edit of an edit
// that selects no cell (then nothing is written).
nlohmann::json run_scenarios(const Checkpoint& checkpoint, const ShardSet& data, const ScenarioFile& scenarios,
                             kernels::Backend& backend, const ScenarioRunOptions& options, Progress& progress);

}  // namespace resilinet
