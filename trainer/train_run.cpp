// The training mainline: scaler -> autoencoder pretraining -> k-means++ and IDEC -> ordered levels
// -> classifier head -> evaluation, with a checkpoint after each stage.
#include "trainer/train_run.hpp"

#include <omp.h>

#include <filesystem>

#include "datasets/input_error.hpp"
#include "datasets/shard_set.hpp"
#include "trainer/atomic_file.hpp"
#include "trainer/checkpoint.hpp"
#include "trainer/training.hpp"

namespace resilinet {

void apply_device_and_threads(const TrainConfig& config) {
  if (config.device == "cuda")
    throw InputError(config.source_file, "run.device",
                     "cpu or auto (the CUDA backend is not available for training in this release)", "cuda");
  if (config.threads > 0) omp_set_num_threads(config.threads);
}

TrainResult train_model(const TrainConfig& config, bool quiet) {
  apply_device_and_threads(config);
  ShardSet data = ShardSet::open(config.data);
  if (data.total_rows() == 0) throw InputError(config.data, "rows", "at least one cell", "0");

  std::filesystem::create_directories(config.run_dir);
  const std::string dir = config.run_dir;
  write_text_atomically(dir + "/config.yaml", to_yaml(config));
  std::filesystem::remove(dir + "/metrics.jsonl");
  Progress progress(dir + "/metrics.jsonl", quiet);
  progress.message("resilinet train: " + std::to_string(data.total_rows()) + " cells in " +
                   std::to_string(data.shards().size()) + " shard(s), " +
                   std::to_string(data.schema().size()) + " features, run folder " + dir);
  TrainContext ctx{config, data, progress};

  Checkpoint ck;
  ck.config = config;
  ck.model = assemble_model(config, data.schema());
  Model& model = ck.model;
  const std::string checkpoint = dir + "/checkpoint.h5";
  auto save = [&](const char* stage) {
    ck.stage = stage;
    write_checkpoint(checkpoint, ck);
  };

  nlohmann::json metrics;
  fit_scaler(model, ctx);
  metrics["pretrain"] = pretrain_autoencoder(model, ctx);
  save("pretrain");
  metrics["idec"] = fine_tune_clusters(model, ctx);
  metrics["levels"] = order_levels(model, ctx);
  save("clusters");
  metrics["classifier"] = train_classifier(model, ctx);
  save("done");
  metrics["evaluation"] = evaluate_model(model, ctx);
  write_text_atomically(dir + "/metrics.json", metrics.dump(2) + "\n");
  progress.message("resilinet train: checkpoint " + checkpoint + ", metrics " + dir + "/metrics.json");
  return {checkpoint, metrics};
}

}  // namespace resilinet
