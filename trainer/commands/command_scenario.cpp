// `resilinet scenario --checkpoint C --data GLOB --scenario S.yaml --out DIR [--target-level L]`:
// what-if scenarios with a frozen model (trainer/scenario/scenario_run.hpp): the edited cells'
// level before and after, transitions, counts per region, and with --target-level the smallest
// single-feature change that brings each edited cell to that level.
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "datasets/input_error.hpp"
#include "datasets/shard_set.hpp"
#include "trainer/commands/commands.hpp"
#include "trainer/model/checkpoint.hpp"
#include "trainer/outputs/progress.hpp"
#include "trainer/scenario/scenario_run.hpp"
#include "trainer/stages/train_run.hpp"

namespace resilinet {

namespace {
struct ScenarioArgs {
  std::string checkpoint, data, scenario, out = "scenarios", device = "cpu";
  std::optional<int> target_level;
  std::vector<std::string> formats = {"hdf5", "csv", "geojson"};
  bool quiet = false;
};
}  // namespace

void add_scenario_command(CLI::App& app) {
  auto args = std::make_shared<ScenarioArgs>();
  auto* sub = app.add_subcommand("scenario", "Re-rate cells under what-if edits of their features");
  sub->add_option("--checkpoint", args->checkpoint, "checkpoint.h5 from `resilinet train`")->required();
  sub->add_option("--data", args->data, "Glob of shards")->required();
  sub->add_option("--scenario", args->scenario, "Scenario YAML file (docs/FORMAT.md, configs/scenarios/)")->required();
  sub->add_option("--out", args->out, "Output folder")->capture_default_str();
  sub->add_option("--target-level", args->target_level,
                  "Goal seeking: for every edited cell, the smallest single-feature change that reaches this level");
  sub->add_option("--format", args->formats, "Cell outputs: hdf5, csv, geojson")
      ->check(CLI::IsMember({"hdf5", "csv", "geojson"}))
      ->capture_default_str();
  sub->add_option("--device", args->device, "Where to rate: cpu, cuda or auto")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}))
      ->capture_default_str();
  sub->add_flag("--quiet,-q", args->quiet, "No progress output");
  sub->callback([args] {
    const auto backend = make_device_backend(args->device, "resilinet scenario", "--device");
    Checkpoint ck = read_checkpoint(args->checkpoint);
    require_finished(ck, args->checkpoint);
    if (args->target_level && (*args->target_level < 1 || *args->target_level > ck.model.clusters))
      throw InputError("resilinet scenario", "--target-level", fmt::format("a level from 1 to {}", ck.model.clusters),
                       std::to_string(*args->target_level));
    ShardSet data = ShardSet::open(args->data);
    require_same_schema(ck.model.schema, args->checkpoint, data.schema(), args->data);
    const ScenarioFile file =
        load_scenario_file(args->scenario, {ck.model.schema.names(), data.region_names(), ck.model.clusters});
    ScenarioRunOptions options;
    options.out = args->out;
    options.target_level = args->target_level.value_or(0);
    options.files = cell_table_files(args->formats);
    options.checkpoint_path = args->checkpoint;
    options.data_pattern = args->data;
    Progress progress("", args->quiet);
    const nlohmann::json summary = run_scenarios(ck, data, file, *backend, options, progress);
    for (const auto& s : summary["scenarios"]) {
      std::string line = fmt::format("  {}: {} cells edited, {} improved, {} same, {} worse", s["name"].get<std::string>(),
                                     s["cells_edited"].get<int64_t>(), s["improved"].get<int64_t>(),
                                     s["same"].get<int64_t>(), s["worse"].get<int64_t>());
      if (s["out_of_range_cells"].get<int64_t>() > 0)
        line += fmt::format(", {} pushed outside the training range", s["out_of_range_cells"].get<int64_t>());
      if (s.contains("goal"))
        line += fmt::format("; level {} reachable by one feature for {} of them", summary["target_level"].get<int>(),
                            s["goal"]["reached"].get<int64_t>());
      progress.message(line);
    }
  });
}

}  // namespace resilinet
