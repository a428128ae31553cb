// `resilinet train --config X.yaml`: trains all three modules and writes a run folder; with
// --init-from, fine-tunes a finished run's model on new data (trainer/stages/init_from.hpp).
#include <memory>

#include "trainer/commands/commands.hpp"
#include "trainer/commands/run_overrides.hpp"
#include "trainer/stages/train_run.hpp"

namespace resilinet {

namespace {
struct TrainArgs {
  RunOverrides run;
  std::string init_from;
  bool quiet = false;
  bool resume = false, overwrite = false;
  std::string stop_after;
};
}  // namespace

void add_train_command(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  auto* sub = app.add_subcommand("train", "Train encoder, clusters and classifier head; writes a run folder");
  args->run.add_to(sub);
  sub->add_flag("--quiet,-q", args->quiet, "No progress output");
  sub->add_flag("--resume", args->resume,
                "Continue from the run folder's checkpoint after its last completed stage (same config "
                "required); starts from the beginning if there is none");
  sub->add_flag("--overwrite", args->overwrite,
                "Replace the run already in the run folder (without it, a folder that holds a checkpoint is "
                "refused)")->excludes("--resume");
  sub->add_option("--init-from", args->init_from,
                  "Fine-tune the model of this finished checkpoint on --data (a new vintage): same model keys "
                  "required; its scaler and cluster -> level map are kept (sets init_from.path)");
  sub->add_option("--stop-after", args->stop_after, "Stop after this checkpoint: pretrain or clusters (a stage), or pretrain:EPOCH, idec:EPOCH, classifier:EPOCH (an epoch with a checkpoint, see run.checkpoint_every)");
  sub->callback([args] {
    TrainConfig config = args->run.load();
    if (!args->init_from.empty()) {
      config.init_from.path = args->init_from;
      config.init_from.sha256.clear();  // a hash the config pinned was for the file it named
      validate_train_config(config);
    }
    TrainOptions options;
    options.quiet = args->quiet;
    options.resume = args->resume;
    options.overwrite = args->overwrite;
    options.stop_after = args->stop_after;
    train_model(config, options);
  });
}

}  // namespace resilinet
