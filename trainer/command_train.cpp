// `resilinet train --config X.yaml`: trains all three modules and writes a run folder.
#include <memory>

#include "trainer/commands.hpp"
#include "trainer/config.hpp"
#include "trainer/train_run.hpp"

namespace resilinet {

namespace {
struct TrainArgs {
  std::string config, data, run_dir;
  int64_t seed = -1;
  int threads = -1;
  bool quiet = false;
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
  sub->add_flag("--quiet,-q", args->quiet, "No progress output");
  sub->callback([args] {
    TrainConfig config = load_train_config(args->config);
    if (!args->data.empty()) config.data = args->data;
    if (!args->run_dir.empty()) config.run_dir = args->run_dir;
    if (args->seed >= 0) config.seed = uint64_t(args->seed);
    if (args->threads >= 0) config.threads = args->threads;
    train_model(config, args->quiet);
  });
}

}  // namespace resilinet
