// `resilinet train --config X.yaml`: trains all three modules and writes a run folder.
#include <memory>
#include <optional>

#include "datasets/input_error.hpp"
#include "trainer/commands/commands.hpp"
#include "trainer/model/config.hpp"
#include "trainer/stages/train_run.hpp"

namespace resilinet {

namespace {
struct TrainArgs {
  std::string config, data, run_dir, device;
  std::optional<uint64_t> seed;  // run.seed's type: a negative value is refused by CLI parsing
  std::optional<int> threads;
  bool quiet = false;
  bool resume = false, overwrite = false;
  std::string stop_after;
};
}  // namespace

void add_train_command(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  auto* sub = app.add_subcommand("train", "Train encoder, clusters and classifier head; writes a run folder");
  sub->add_option("--config,-c", args->config, "YAML config (configs/README.md); defaults if omitted");
  sub->add_option("--data", args->data, "Override data: glob of shards");
  sub->add_option("--run-dir", args->run_dir, "Override run.dir: output folder");
  sub->add_option("--seed", args->seed, "Override run.seed");
  sub->add_option("--threads", args->threads, "Override run.threads (0 = all cores)");
  sub->add_option("--device", args->device, "Override run.device: cpu, cuda or auto")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}));
  sub->add_flag("--quiet,-q", args->quiet, "No progress output");
  sub->add_flag("--resume", args->resume,
                "Continue from the run folder's checkpoint after its last completed stage (same config "
                "required); starts from the beginning if there is none");
  sub->add_flag("--overwrite", args->overwrite,
                "Replace the run already in the run folder (without it, a folder that holds a checkpoint is "
                "refused)")->excludes("--resume");
  sub->add_option("--stop-after", args->stop_after, "Stop after this checkpoint: pretrain or clusters (a stage), or pretrain:EPOCH, idec:EPOCH, classifier:EPOCH (an epoch with a checkpoint, see run.checkpoint_every)");
  sub->callback([args] {
    TrainConfig config = load_train_config(args->config);
    if (!args->data.empty()) config.data = args->data;
    if (!args->run_dir.empty()) config.run_dir = args->run_dir;
    if (args->seed) config.seed = *args->seed;
    if (args->threads) config.threads = *args->threads;
    if (!args->device.empty()) config.device = args->device;
    validate_train_config(config);  // the overrides meet the config file's ranges
    TrainOptions options;
    options.quiet = args->quiet;
    options.resume = args->resume;
    options.overwrite = args->overwrite;
    options.stop_after = args->stop_after;
    train_model(config, options);
  });
}

}  // namespace resilinet
