// The training mainline: scaler -> autoencoder pretraining -> k-means++ and IDEC -> ordered levels
// -> classifier head -> evaluation, with a checkpoint after each stage.
#include "trainer/stages/train_run.hpp"

#include <omp.h>

#include <filesystem>
#include <iterator>
#include <optional>
#include <vector>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "datasets/input_error.hpp"
#include "datasets/output_files.hpp"
#include "datasets/shard_set.hpp"
#include "trainer/outputs/atomic_file.hpp"
#include "trainer/outputs/run_folder_changes.hpp"
#include "trainer/outputs/run_lock.hpp"
#include "trainer/model/checkpoint.hpp"
#include "trainer/stages/init_from.hpp"
#include "trainer/stages/training.hpp"

namespace resilinet {

std::unique_ptr<kernels::Backend> make_device_backend(const std::string& device, const std::string& file,
                                                      const std::string& field) {
  try {
    return kernels::make_backend(device);
  } catch (const kernels::BackendUnavailable& e) {
    // No silent fallback: `cuda` means the GPU or an error; `auto` falls back by design.
    throw InputError(file, field, std::string("cpu or auto (") + e.what() + ")", device);
  }
}

std::unique_ptr<kernels::Backend> apply_device_and_threads(const TrainConfig& config) {
  if (config.threads > 0) omp_set_num_threads(config.threads);
  return make_device_backend(config.device, config.source_file, "run.device");
}

namespace {

// Networks the backend cannot run are bad input, refused before the run folder is touched.
void require_runnable_networks(kernels::Backend& backend, const TrainConfig& config, const Schema& schema) {
  const Model probe = assemble_model(config, schema);
  try {
    backend.network(probe.autoencoder);
    backend.network(probe.classifier);
  } catch (const std::invalid_argument& e) {
    throw InputError(config.source_file, "run.device",
                     "a device that runs the configured networks (" + std::string(e.what()) + ")", config.device);
  }
}

// The first key (as a.b.c) whose value differs between two configs, with both values (flow
// style); key is empty if none differs.
struct ConfigDifference {
  std::string key, a, b;
};
std::string flow(const YAML::Node& n) {
  if (!n) return "(absent)";
  YAML::Emitter out;
  out << YAML::Flow << n;
  return out.c_str();
}
ConfigDifference first_difference(const YAML::Node& a, const YAML::Node& b, const std::string& prefix) {
  auto path = [&](const std::string& key) { return prefix.empty() ? key : prefix + "." + key; };
  if (a.IsMap() && b.IsMap()) {
    for (const auto& kv : a) {
      const std::string key = kv.first.as<std::string>();
      ConfigDifference d = first_difference(kv.second, b[key], path(key));
      if (!d.key.empty()) return d;
    }
    for (const auto& kv : b) {
      const std::string key = kv.first.as<std::string>();
      if (!a[key]) return {path(key), "(absent)", flow(kv.second)};
    }
    return {};
  }
  if (flow(a) == flow(b)) return {};
  return {prefix.empty() ? "(root)" : prefix, flow(a), flow(b)};
}

int stage_index(const std::string& stage) {
  for (int i = 0; i < int(std::size(kTrainStages)); ++i)
    if (stage == kTrainStages[i]) return i;
  return -1;
}

// The epochs and batch size an epoch-driven stage (pretrain, idec, classifier) runs on `rows` cells.
struct StageShape {
  int epochs = 0;
  size_t batch = 1;
};
StageShape stage_shape(const TrainConfig& config, const std::string& stage, size_t rows) {
  const auto& p = config.pretrain;
  const auto& c = config.classifier;
  if (stage == "pretrain") return {stage_epochs(p.epochs, p.min_steps, p.batch, rows, p.max_steps), size_t(p.batch)};
  if (stage == "idec") return {config.idec.max_epochs, size_t(config.idec.batch)};
  return {stage_epochs(c.epochs, c.min_steps, c.batch, rows, c.max_steps), size_t(c.batch)};
}

// The checkpoint to resume from, if any, after checking that it belongs to this config and data.
std::optional<Checkpoint> checkpoint_to_resume(const TrainConfig& config, const std::string& path,
                                               const Schema& schema, size_t rows) {
  if (!std::filesystem::exists(path)) return std::nullopt;
  Checkpoint ck = read_checkpoint(path);
  TrainConfig theirs = ck.config, ours = config;
  // Neither changes what is computed: the thread count (bitwise only for the same count) and how
  // often checkpoints are written may differ between attempts.
  theirs.threads = ours.threads = 0;
  theirs.checkpoint_every = ours.checkpoint_every = 0;
  const ConfigDifference d = first_difference(YAML::Load(to_yaml(theirs)), YAML::Load(to_yaml(ours)), "");
  if (!d.key.empty())
    throw InputError(config.source_file.empty() ? path : config.source_file, d.key,
                     d.a + " as in the checkpoint being resumed (" + path + "); resume needs the same config",
                     d.b);
  require_same_schema(ck.model.schema, path, schema, config.data);
  const int done = stage_index(ck.stage);
  if (done < 0 && !(ck.stage == kNoStage && ck.in_progress))
    throw InputError(path, "stage", "pretrain, clusters or done", ck.stage);
  // An epoch-driven stage under way must be the one after the last completed stage.
  if (ck.in_progress && !((ck.in_progress->stage == "pretrain" && done == -1) ||
                          (ck.in_progress->stage == "idec" && done == 0) ||
                          (ck.in_progress->stage == "classifier" && done == 1)))
    throw InputError(path, "in_progress/stage", "the stage after '" + ck.stage + "'", ck.in_progress->stage);
  // Checkpoints fall between whole epochs of this data: the epoch is one the stage runs, and the
  // step count (where the loader, the denoising draws and the IDEC refreshes continue) follows from it.
  if (ck.in_progress) {
    const StageProgress& p = *ck.in_progress;
    const StageShape shape = stage_shape(config, p.stage, rows);
    if (p.epoch >= shape.epochs)
      throw InputError(path, "in_progress/epoch",
                       fmt::format("an epoch below {}, the epochs of stage {} on the {} cells of {}", shape.epochs,
                                   p.stage, rows, config.data),
                       std::to_string(p.epoch));
    const uint64_t per_epoch = (rows + shape.batch - 1) / shape.batch;
    if (p.step != uint64_t(p.epoch) * per_epoch)
      throw InputError(path, "in_progress/step",
                       fmt::format("{} ({} epochs of {} batches of the {} cells of {})", uint64_t(p.epoch) * per_epoch,
                                   p.epoch, per_epoch, rows, config.data),
                       std::to_string(p.step));
  }
  return ck;
}

// --stop-after: a stage ("pretrain", "clusters"), or an epoch of an epoch-driven stage
// ("pretrain:EPOCH", "idec:EPOCH", "classifier:EPOCH"; a checkpoint must fall on it, see
// run.checkpoint_every).
struct StopAfter {
  int stage = int(std::size(kTrainStages)) - 1;
  std::string epoch_stage;
  int epoch = 0;
};
StopAfter parse_stop_after(const std::string& text) {
  StopAfter s;
  if (text.empty()) return s;
  const auto colon = text.find(':');
  auto fail = [&] {
    throw InputError("resilinet train", "--stop-after", "pretrain, clusters, pretrain:EPOCH, idec:EPOCH or classifier:EPOCH",
                     text);
  };
  if (colon == std::string::npos) {
    s.stage = stage_index(text);
    if (s.stage < 0 || s.stage >= int(std::size(kTrainStages)) - 1) fail();
    return s;
  }
  s.epoch_stage = text.substr(0, colon);
  try {
    size_t used = 0;
    s.epoch = std::stoi(text.substr(colon + 1), &used);
    if (used != text.size() - colon - 1 || s.epoch < 1) fail();
  } catch (const std::logic_error&) {
    fail();
  }
  if (s.epoch_stage != "pretrain" && s.epoch_stage != "idec" && s.epoch_stage != "classifier") fail();
  return s;
}


}  // namespace

TrainResult train_model(const TrainConfig& config, bool quiet) {
  TrainOptions options;
  options.quiet = quiet;
  return train_model(config, options);
}

void require_enough_cells(const TrainConfig& config, const ShardSet& data) {
  const size_t min_rows = size_t(kMinCellsPerCluster) * size_t(config.clusters.k);
  if (data.total_rows() < min_rows)
    throw InputError(config.data, "rows",
                     fmt::format("at least {} cells ({} per cluster, clusters.k = {})", min_rows, kMinCellsPerCluster,
                                 config.clusters.k),
                     std::to_string(data.total_rows()));
}

TrainResult train_model(const TrainConfig& requested, const TrainOptions& options) {
  // A fine-tuning run records (and a resumed one compares) the hash of the checkpoint it starts from.
  const TrainConfig config = with_init_from_hash(requested);
  const std::unique_ptr<kernels::Backend> backend = apply_device_and_threads(config);
  // The ranks of the job: NCCL for GPU ranks, MPI for CPU ranks an MPI launcher started, else
  // this process alone (make_communicator).
  const std::unique_ptr<Communicator> comm = make_communicator("auto", backend->native_stream());
  const bool writer = comm->rank() == 0;  // only rank 0 writes the run folder and prints
  const StopAfter stop = parse_stop_after(options.stop_after);
  const int stop_after = stop.stage;
  ShardSet data = ShardSet::open(config.data);
  require_enough_cells(config, data);
  require_runnable_networks(*backend, config, data.schema());
  // Checked against this config and data before the run folder is touched.
  const bool fine_tuning = !config.init_from.path.empty();
  std::optional<Model> init_model;
  if (fine_tuning) init_model = model_to_fine_tune(config, data.schema());
  if (!stop.epoch_stage.empty()) {
    const bool idec = stop.epoch_stage == "idec";
    const size_t rows = data.total_rows();
    const auto& p = config.pretrain;
    const auto& c = config.classifier;
    const int epochs = stage_shape(config, stop.epoch_stage, rows).epochs;
    const int configured = stop.epoch_stage == "pretrain" ? p.epochs : idec ? epochs : c.epochs;
    const int every = checkpoint_interval(config.checkpoint_every, configured, epochs);
    if (idec && config.clusters.space != "latent")
      throw InputError("resilinet train", "--stop-after", "no idec:EPOCH: IDEC runs only with clusters.space: latent",
                       options.stop_after);
    if (every <= 0 || stop.epoch % every != 0 || stop.epoch >= epochs)
      throw InputError("resilinet train", "--stop-after",
                       fmt::format("an epoch below {} that is a multiple of {} (run.checkpoint_every, stretched as the stage is by min_steps)", epochs, every),
                       options.stop_after);
  }

  const std::string dir = config.run_dir;
  std::optional<RunLock> lock;
  // After the lock, so undone while it is held; before the progress, so undone once its file is closed.
  std::optional<RunFolderChanges> changes;
  if (writer) {
    changes.emplace(dir);
    make_output_dir(dir, "run.dir");
    lock.emplace(dir, "run.dir");
    changes->locked(*lock);
  }
  comm->barrier();  // the folder exists and is locked before any rank reads it
  const std::string checkpoint = dir + "/checkpoint.h5";
  if (!options.resume && !options.overwrite && std::filesystem::exists(checkpoint))
    throw InputError(checkpoint, "run.dir",
                     "a run folder without a run in it (--overwrite replaces the run, --resume continues it)",
                     "the checkpoint of an earlier run");
  std::optional<Checkpoint> resumed;
  if (options.resume) resumed = checkpoint_to_resume(config, checkpoint, data.schema(), data.total_rows());
  if (writer) {
    changes->replace("config.yaml");
    write_text_atomically(dir + "/config.yaml", to_yaml(config));
    // A new run starts a new metrics file; a resumed one goes on with its own.
    if (resumed) changes->append("metrics.jsonl");
    else changes->replace("metrics.jsonl");
  }
  Progress progress(writer ? dir + "/metrics.jsonl" : "", options.quiet || !writer);
  if (lock)
    for (const std::string& name : lock->removed())
      progress.message("resilinet train: removed " + dir + "/" + name + ", left by a run that was stopped mid-write");
  progress.message("resilinet train: " + std::to_string(data.total_rows()) + " cells in " +
                   std::to_string(data.shards().size()) + " shard(s), " +
                   std::to_string(data.schema().size()) + " features, run folder " + dir + ", on " + backend->describe() +
                   (comm->world() > 1 ? ", " + std::to_string(comm->world()) + " MPI ranks" : ""));
  TrainContext ctx{config, data, progress, *backend, *comm, nullptr, {}, {}};

  Checkpoint ck;
  int done = -1;  // index of the last completed stage
  if (resumed) {
    ck = std::move(*resumed);
    ck.config = config;
    done = stage_index(ck.stage);
    if (ck.in_progress)
      progress.message("resilinet train: resuming " + ck.in_progress->stage + " after epoch " +
                       std::to_string(ck.in_progress->epoch) + " from " + checkpoint);
    else
      progress.message("resilinet train: resuming after stage '" + ck.stage + "' from " + checkpoint);
  } else {
    if (options.resume) progress.message("resilinet train: no checkpoint in " + dir + "; starting from the beginning");
    ck.config = config;
    if (init_model) {
      ck.model = std::move(*init_model);
      ck.stage_metrics["init_from"] = {{"path", config.init_from.path}, {"sha256", config.init_from.sha256}};
      progress.message("resilinet train: fine-tuning the model of " + config.init_from.path +
                       "; its scaler and cluster -> level map are kept");
    } else {
      ck.model = assemble_model(config, data.schema());
    }
  }
  Model& model = ck.model;
  nlohmann::json& metrics = ck.stage_metrics;
  // What the checkpoint file holds, for the message of a run that diverges.
  std::string last_good;
  auto describe = [&](const Checkpoint& c) {
    return c.in_progress ? fmt::format("{} in {} after epoch {}", checkpoint, c.in_progress->stage, c.in_progress->epoch)
                         : fmt::format("{} after stage {}", checkpoint, c.stage);
  };
  if (resumed) last_good = describe(ck);
  auto save = [&](int stage) {
    ck.stage = kTrainStages[stage];
    ck.in_progress.reset();
    if (writer) {
      write_checkpoint(checkpoint, ck);
      changes->keep();
    }
    last_good = describe(ck);
    done = stage;
  };
  auto finished = [&] { return TrainResult{checkpoint, metrics}; };

  // Inside each stage: a checkpoint every run.checkpoint_every epochs.
  const std::optional<StageProgress> resume_point = ck.in_progress;
  ctx.resume = resume_point ? &*resume_point : nullptr;
  bool stopped = false;
  ctx.epoch_checkpoint = [&](const StageProgress& p) {
    ck.stage = done < 0 ? kNoStage : kTrainStages[done];
    ck.in_progress = p;
    if (writer) {
      write_checkpoint(checkpoint, ck);
      changes->keep();
    }
    last_good = describe(ck);
    ck.in_progress.reset();
    stopped = p.stage == stop.epoch_stage && p.epoch == stop.epoch;
    return stopped;
  };

  auto run_stages = [&]() -> TrainResult {
    if (done < 0) {
      // A pretraining under way has its scaler already; a fine-tuning run keeps the checkpoint's.
      if (!ctx.resume && !fine_tuning) fit_scaler(model, ctx);
      metrics["pretrain"] = pretrain_autoencoder(model, ctx);
      if (stopped) return finished();
      save(0);
    }
    if (stop_after == 0) return finished();
    if (done < 1) {
      metrics["clusters"] = form_clusters(model, ctx);
      if (stopped) return finished();
      metrics["levels"] =
          fine_tuning ? keep_checkpoint_levels(model, ctx, metrics["init_from"]) : order_levels(model, ctx);
      save(1);
    }
    if (stop_after == 1) return finished();
    if (done < 2) {
      metrics["classifier"] = train_classifier(model, ctx);
      if (stopped) return finished();
      save(2);
    }
    nlohmann::json result = metrics;
    result["evaluation"] = evaluate_model(model, ctx);
    if (writer) write_text_atomically(dir + "/metrics.json", result.dump(2) + "\n");
    progress.message("resilinet train: checkpoint " + checkpoint + ", metrics " + dir + "/metrics.json");
    return {checkpoint, result};
  };
  try {
    return run_stages();
  } catch (const NonFiniteLoss& e) {
    // Nothing was written after the last good checkpoint: the check runs before each checkpoint.
    // Every rank sees the same summed loss, so all of them stop here together.
    throw TrainingDiverged(fmt::format("training diverged: {}{}; the last good checkpoint is {}", e.what(),
                                       comm->world() > 1 ? fmt::format(" (rank {} of {})", comm->rank(), comm->world()) : "",
                                       last_good.empty() ? "none (none had been written)" : last_good));
  }
}

}  // namespace resilinet
