// End-to-end model tests on synthetic regions with planted levels: recovery (ARI against the planted
// levels), level order, agreement across seeds, held-out classifier quality, `rate` agreement with
// the trained levels, a stated margin over k-means on the raw scaled features, bitwise determinism
// for a fixed seed and thread count, and exit code 2 for bad checkpoints.
#include <omp.h>

#include <cstring>
#include <filesystem>
#include <map>

#include <gtest/gtest.h>

#include "datasets/h5.hpp"
#include "datasets/input_error.hpp"
#include "datasets/shard_set.hpp"
#include "kernels/ops.hpp"
#include "h5_rows.hpp"
#include "test_support.hpp"
#include "trainer/model/checkpoint.hpp"
#include "trainer/outputs/run_lock.hpp"
#include "trainer/stages/cluster_metrics.hpp"
#include "trainer/stages/train_run.hpp"
#include "trainer/stages/training.hpp"

namespace rt = resilinet::testing;
using namespace resilinet;

namespace {

// Shards of the synthetic regions, made once per process.
std::string synth_data(const std::string& name, const std::string& args) {
  static std::map<std::string, std::string> made;
  if (made.count(name)) return made[name];
  auto dir = rt::test_process_root() / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto r = rt::run_resilinet("synth --out " + dir.string() + " " + args);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return made[name] = (dir / "*.h5").string();
}

TrainConfig test_config(const std::string& data, const std::filesystem::path& run_dir, uint64_t seed) {
  TrainConfig c = load_train_config(std::string(RESILINET_SOURCE_DIR) + "/configs/default.yaml");
  c.data = data;
  c.run_dir = run_dir.string();
  c.seed = seed;
  return c;
}

// A few epochs of each stage on 2 threads, seed 3: for tests of determinism and resumption.
TrainConfig quick_config(const std::string& data, const std::filesystem::path& run_dir) {
  TrainConfig c = test_config(data, run_dir, 3);
  c.pretrain.epochs = 3;
  c.pretrain.min_steps = 0;
  c.classifier.min_steps = 0;
  c.idec.max_epochs = 2;
  c.classifier.epochs = 2;
  c.threads = 2;
  return c;
}

bool same(const std::vector<float>& x, const std::vector<float>& y) {
  return x.size() == y.size() && (x.empty() || std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0);
}

// Cluster levels of every cell in natural order, as `rate` writes them.
struct Rated {
  std::vector<int32_t> level, cluster_level;
  std::vector<int64_t> cell_id;
};
Rated rate(const std::string& checkpoint, const std::string& data, const std::filesystem::path& out) {
  auto r = rt::run_resilinet("rate --quiet --checkpoint " + checkpoint + " --data '" + data + "' --out " + out.string());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::string file = (out / "ratings.h5").string();
  return {rt::read_h5_rows<int32_t>(file, "level", H5T_NATIVE_INT32),
          rt::read_h5_rows<int32_t>(file, "cluster_level", H5T_NATIVE_INT32),
          rt::read_h5_rows<int64_t>(file, "cell_id", H5T_NATIVE_INT64)};
}

std::vector<int32_t> planted_levels(const std::string& data) {
  std::vector<int32_t> out;
  for_each_scaled_batch(ShardSet::open(data), 65536, nullptr, 65536, [&](const Batch& b, const float*) {
    out.insert(out.end(), b.planted_level, b.planted_level + b.rows);
  });
  return out;
}

}  // namespace

// Numbers of a default training run on the planted regions, shared by the tests below.
struct PlantedRun {
  std::string data;
  TrainResult a;
  Rated ra;
  std::vector<int32_t> planted;
};
const PlantedRun& planted_run() {
  static PlantedRun run = [] {
    PlantedRun r;
    r.data = synth_data("planted", "--cells 100000 --regions 3 --seed 11");
    auto dir = rt::test_process_root() / "planted-run";
    r.a = train_model(test_config(r.data, dir / "seed0", 0), true);
    r.ra = rate(r.a.checkpoint_path, r.data, dir / "rate0");
    r.planted = planted_levels(r.data);
    return r;
  }();
  return run;
}

TEST(Train, LevelsAreOrderedAndTheClassifierHeadReproducesThem) {
  if (rt::small_tests()) GTEST_SKIP() << "RESILINET_TEST_SMALL: default-config training on 100,000 cells";
  const PlantedRun& run = planted_run();
  const auto& m = run.a.metrics["evaluation"];
  const auto& planted = run.planted;
  const Rated& ra = run.ra;
  ASSERT_EQ(ra.cluster_level.size(), planted.size());
  std::cout << "metrics seed 0: " << m.dump() << "\n";

  // Every level is used, and the mean planted level of its cells increases with the level.
  std::vector<double> sum(6, 0), count(6, 0);
  for (size_t i = 0; i < planted.size(); ++i) {
    sum[ra.cluster_level[i]] += planted[i];
    count[ra.cluster_level[i]] += 1;
  }
  for (int l = 1; l <= 5; ++l) ASSERT_GT(count[l], 0) << "level " << l << " is empty";
  for (int l = 1; l < 5; ++l) EXPECT_LT(sum[l] / count[l], sum[l + 1] / count[l + 1]) << "level " << l;

  size_t agree = 0;
  for (size_t i = 0; i < planted.size(); ++i) agree += ra.level[i] == ra.cluster_level[i];
  const double rate_agreement = double(agree) / planted.size();
  const double ari = adjusted_rand_index(ra.cluster_level, planted);
  std::cout << "ARI vs planted " << ari << ", held-out macro-F1 " << m["classifier_macro_f1"]
            << ", rate agreement " << rate_agreement << "\n";
  EXPECT_GE(m["classifier_macro_f1"].get<double>(), 0.9);
  EXPECT_GE(rate_agreement, 0.98);
  EXPECT_NEAR(m["ari_planted"].get<double>(), ari, 1e-12);  // the run's own metric agrees
}

// The recovery targets of the method on the planted regions: the levels are recovered (ARI >= 0.85),
// two training seeds agree, and the model beats k-means on the raw min-max scaled features by a
// margin. On this data k-means merges low levels whose median-imputed values pull them together;
// the clusters are formed on the features completed by the denoising autoencoder instead. The
// run's built-in baseline (k-means on its own scaled features) reports the same gap.
TEST(Train, RecoversPlantedLevelsAndBeatsKMeans) {
  if (rt::small_tests()) GTEST_SKIP() << "RESILINET_TEST_SMALL: two default-config trainings on 100,000 cells";
  const PlantedRun& run = planted_run();
  const auto& planted = run.planted;
  auto dir = rt::scratch_dir();
  TrainResult b = train_model(test_config(run.data, dir / "seed1", 1), true);
  Rated rb = rate(b.checkpoint_path, run.data, dir / "rate1");
  const double ari = adjusted_rand_index(run.ra.cluster_level, planted);
  const double ari_seeds = adjusted_rand_index(run.ra.cluster_level, rb.cluster_level);

  // The peer: k-means (K = 5) on the min-max scaled raw features, median-imputed.
  ScalerFitter fitter(12);
  for_each_scaled_batch(ShardSet::open(run.data), 65536, nullptr, 65536,
                        [&](const Batch& bt, const float*) { fitter.add(bt.x, bt.cell_id, bt.rows); });
  const Scaler minmax = fitter.finish(ScalerConfig{.type = "minmax"}, run.data);
  std::vector<float> scaled;
  for_each_scaled_batch(ShardSet::open(run.data), 65536, &minmax, 65536,
                        [&](const Batch& bt, const float* x) { scaled.insert(scaled.end(), x, x + bt.rows * bt.features); });
  kernels::cpu::KMeansOptions km;
  km.clusters = 5;
  km.restarts = 4;
  auto raw = kernels::cpu::kmeans(scaled.data(), planted.size(), 12, km);
  const double ari_kmeans = adjusted_rand_index(raw.labels, planted);
  const auto& baseline = run.a.metrics["evaluation"]["baseline_kmeans"];
  std::cout << "ARI vs planted " << ari << ", k-means on min-max scaled features " << ari_kmeans
            << ", built-in baseline " << baseline["ari_planted"] << ", across seeds " << ari_seeds << "\n";
  EXPECT_GE(ari, 0.85);
  EXPECT_GE(ari_seeds, 0.9);
  // The stated margin: at least 0.10 ARI above k-means. Measured with configs/default.yaml on this
  // data (k-means 0.852): 0.982 for seed 0; bench/RESULTS.md has seeds 0..4 on every generator.
  EXPECT_GE(ari, ari_kmeans + 0.10);
  EXPECT_NEAR(baseline["ari_planted"].get<double>(), ari_kmeans, 0.03);
  EXPECT_LE(baseline["ari_model"].get<double>(), 0.95);  // the baseline is another partition
  EXPECT_TRUE(run.a.metrics["evaluation"]["level_order_consistent"].get<bool>());
  // Every restart found the same partition on this well-separated data.
  EXPECT_GE(run.a.metrics["clusters"]["restart_ari_min"].get<double>(), 0.95);
}

TEST(Train, SameSeedAndThreadsGiveBitwiseIdenticalParameters) {
  const std::string data = synth_data("small", "--cells 12000 --regions 2 --seed 5");
  auto dir = rt::scratch_dir();
  auto config = quick_config(data, dir / "a");
  auto a = read_checkpoint(train_model(config, true).checkpoint_path);
  config.run_dir = (dir / "b").string();
  auto b = read_checkpoint(train_model(config, true).checkpoint_path);
  EXPECT_TRUE(same(a.model.autoencoder_params, b.model.autoencoder_params));
  EXPECT_TRUE(same(a.model.classifier_params, b.model.classifier_params));
  EXPECT_TRUE(same(a.model.centroids, b.model.centroids));
  EXPECT_EQ(a.model.cluster_level, b.model.cluster_level);
  // A different seed gives different parameters (the comparison above can fail).
  config.seed = 4;
  config.run_dir = (dir / "c").string();
  auto c = read_checkpoint(train_model(config, true).checkpoint_path);
  EXPECT_FALSE(same(a.model.autoencoder_params, c.model.autoencoder_params));
}

// Levels rated once and kept (data within classifier.label_cache_rows) train the head exactly as
// levels rated with each step's rows: the same levels, row by row, across the two shards.
TEST(Train, KeptLevelsTrainTheHeadAsLevelsRatedEachStep) {
  const std::string data = synth_data("small", "--cells 12000 --regions 2 --seed 5");
  auto dir = rt::scratch_dir();
  auto config = quick_config(data, dir / "kept");
  ASSERT_GT(config.classifier.epochs, 1);
  ASSERT_LE(size_t(12000), config.classifier.label_cache_rows);
  auto kept = read_checkpoint(train_model(config, true).checkpoint_path);
  config.run_dir = (dir / "each-step").string();
  config.classifier.label_cache_rows = 0;
  auto each_step = read_checkpoint(train_model(config, true).checkpoint_path);
  EXPECT_TRUE(same(kept.model.autoencoder_params, each_step.model.autoencoder_params));
  EXPECT_TRUE(same(kept.model.classifier_params, each_step.model.classifier_params));
}

TEST(Train, BadCheckpointsExitWithTwo) {
  const std::string data = synth_data("small", "--cells 12000 --regions 2 --seed 5");
  auto dir = rt::scratch_dir();
  auto r = rt::run_resilinet("rate --checkpoint " + (dir / "missing.h5").string() + " --data '" + data + "' --out " + (dir / "o").string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("missing.h5"), std::string::npos) << r.output;

  rt::write_text(dir / "garbage.h5", "not an hdf5 file");
  r = rt::run_resilinet("rate --checkpoint " + (dir / "garbage.h5").string() + " --data '" + data + "' --out " + (dir / "o").string());
  EXPECT_EQ(r.exit_code, 2) << r.output;

  // A checkpoint trained on another schema: three features of two systems.
  Schema other;
  other.features = {{"a", "facility", "robustness", 1, "1"}, {"b", "society", "redundancy", -1, "1"},
                    {"c", "society", "resourcefulness", 1, "1"}};
  ShardColumns cols;
  cols.resize(300, 3, false, false, false);
  for (size_t i = 0; i < 300; ++i) {
    cols.cell_id[i] = int64_t(i);
    cols.region[i] = 0;
    cols.lonlat[2 * i] = 0.01 * i;
    cols.lonlat[2 * i + 1] = 0.02 * i;
    for (int f = 0; f < 3; ++f) cols.features[i * 3 + f] = float((i * (f + 3)) % 17);
  }
  std::filesystem::create_directories(dir / "other");
  {
    ShardWriter w((dir / "other" / "part-0.h5").string(), other, {"r"});
    w.append(cols);
    w.commit();
  }
  auto config = test_config((dir / "other" / "*.h5").string(), dir / "run-other", 0);
  config.pretrain.epochs = 1;
  config.pretrain.min_steps = 0;
  config.classifier.epochs = 1;
  config.classifier.min_steps = 0;
  auto other_ck = train_model(config, true).checkpoint_path;
  r = rt::run_resilinet("rate --checkpoint " + other_ck + " --data '" + data + "' --out " + (dir / "o").string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("checkpoint"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "o" / "ratings.h5"));
}

// A checkpoint whose sizes are right but whose values are not (damaged, or made by hand) is bad
// input: rate names the dataset instead of rating with a NaN model or crashing.
TEST(Train, CheckpointValuesOutsideTheirDomainExitWithTwo) {
  const std::string data = synth_data("small", "--cells 12000 --regions 2 --seed 5");
  auto dir = rt::scratch_dir();
  auto config = quick_config(data, dir / "run");
  config.pretrain.epochs = 1;
  config.classifier.epochs = 1;
  const std::string good = train_model(config, true).checkpoint_path;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"f['autoencoder/params'][3] = float('nan')", "autoencoder/params"},
      {"f['classifier/params'][0] = float('inf')", "classifier/params"},
      {"f['scaler/scale'][2] = 0", "scaler/scale"},
      {"f['scaler/median'][1] = float('nan')", "scaler/median"},
      {"f['scaler'].attrs['type'] = 'bogus'", "scaler/type"},
      {"f['clusters/level'][0] = f['clusters/level'][1]", "clusters/level"},
      {"f['clusters/level'][0] = 9", "clusters/level"},
      {"f['clusters/scale'][0] = -1", "clusters/scale"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& [edit, where] = cases[i];
    SCOPED_TRACE(edit);
    const std::string bad = (dir / ("bad-" + std::to_string(i) + ".h5")).string();
    std::filesystem::copy_file(good, bad);
    rt::write_text(dir / "edit.py", "import h5py\nwith h5py.File('" + bad + "', 'r+') as f:\n    " + edit + "\n");
    ASSERT_EQ(rt::run_command(std::string(RESILINET_PYTHON) + " " + (dir / "edit.py").string()).exit_code, 0);
    auto r = rt::run_resilinet("rate --checkpoint " + bad + " --data '" + data + "' --out " + (dir / "o").string());
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find(where), std::string::npos) << r.output;
    EXPECT_FALSE(std::filesystem::exists(dir / "o" / "ratings.h5"));
  }
  EXPECT_EQ(rt::run_resilinet("rate --checkpoint " + good + " --data '" + data + "' --out " + (dir / "o").string()).exit_code, 0);
}

// A run stopped after a stage and resumed gives bitwise the parameters, levels and evaluation of
// an uninterrupted run (same seed and thread count).
TEST(Train, ResumeAfterEachStageMatchesAnUninterruptedRun) {
  const std::string data = synth_data("small", "--cells 12000 --regions 2 --seed 5");
  auto dir = rt::scratch_dir();
  auto config = quick_config(data, dir / "whole");
  const TrainResult whole = train_model(config, true);
  const Checkpoint a = read_checkpoint(whole.checkpoint_path);
  for (const char* stage : {"pretrain", "clusters"}) {
    SCOPED_TRACE(stage);
    config.run_dir = (dir / (std::string("stopped-") + stage)).string();
    TrainOptions options;
    options.quiet = true;
    options.stop_after = stage;
    train_model(config, options);
    EXPECT_EQ(read_checkpoint(config.run_dir + "/checkpoint.h5").stage, stage);
    EXPECT_FALSE(std::filesystem::exists(config.run_dir + "/metrics.json"));

    options.stop_after.clear();
    options.resume = true;
    const TrainResult resumed = train_model(config, options);
    const Checkpoint b = read_checkpoint(resumed.checkpoint_path);
    EXPECT_EQ(b.stage, "done");
    EXPECT_TRUE(same(a.model.autoencoder_params, b.model.autoencoder_params));
    EXPECT_TRUE(same(a.model.classifier_params, b.model.classifier_params));
    EXPECT_TRUE(same(a.model.centroids, b.model.centroids));
    EXPECT_EQ(a.model.cluster_level, b.model.cluster_level);
    EXPECT_EQ(whole.metrics["evaluation"], resumed.metrics["evaluation"]);
    EXPECT_EQ(whole.metrics["clusters"], resumed.metrics["clusters"]);  // kept from the stopped run or redone
  }
}

TEST(Train, ResumeWithAnotherConfigExitsWithTwo) {
  const std::string data = synth_data("small", "--cells 12000 --regions 2 --seed 5");
  auto dir = rt::scratch_dir();
  auto config = test_config(data, dir / "run", 0);
  config.pretrain.epochs = 1;
  config.pretrain.min_steps = 0;
  rt::write_text(dir / "c.yaml", to_yaml(config));
  const std::string train = "train --quiet --config " + (dir / "c.yaml").string();
  auto r = rt::run_resilinet(train + " --stop-after pretrain");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = rt::run_resilinet(train + " --resume --seed 9");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("run.seed"), std::string::npos) << r.output;
  EXPECT_EQ(read_checkpoint((dir / "run" / "checkpoint.h5").string()).stage, "pretrain");  // untouched
  r = rt::run_resilinet(train + " --stop-after evaluate");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--stop-after"), std::string::npos) << r.output;
}

// Interrupted inside pretraining, IDEC or the head (at a run.checkpoint_every checkpoint) and
// resumed: the optimizer states, loader position, step count and IDEC's refresh state carry over,
// so the result is bitwise that of an uninterrupted run, and the stage metrics agree too.
TEST(Train, ResumeInsideAStageMatchesAnUninterruptedRun) {
  const std::string data = synth_data("small", "--cells 12000 --regions 2 --seed 5");
  auto dir = rt::scratch_dir();
  auto config = quick_config(data, dir / "whole");
  config.clusters.space = "latent";  // the space IDEC trains in
  config.pretrain.epochs = 4;
  config.idec.max_epochs = 4;
  config.idec.tol = 0;  // no early stop: IDEC runs all its epochs
  config.classifier.epochs = 4;
  config.checkpoint_every = 2;
  const TrainResult whole = train_model(config, true);
  const Checkpoint a = read_checkpoint(whole.checkpoint_path);
  EXPECT_FALSE(a.in_progress.has_value());
  for (const std::string stop : {"pretrain:2", "idec:2", "classifier:2"}) {
    SCOPED_TRACE(stop);
    const std::string stage = stop.substr(0, stop.find(':'));
    config.run_dir = (dir / ("stopped-" + stage)).string();
    TrainOptions options;
    options.quiet = true;
    options.stop_after = stop;
    train_model(config, options);
    const Checkpoint mid = read_checkpoint(config.run_dir + "/checkpoint.h5");
    ASSERT_TRUE(mid.in_progress.has_value());
    EXPECT_EQ(mid.in_progress->stage, stage);
    EXPECT_EQ(mid.in_progress->epoch, 2);
    EXPECT_GT(mid.in_progress->adam.step, 0);
    EXPECT_FALSE(std::filesystem::exists(config.run_dir + "/metrics.json"));
    // An unfinished run cannot rate.
    auto r = rt::run_resilinet("rate --quiet --checkpoint " + config.run_dir + "/checkpoint.h5 --data '" + data +
                               "' --out " + (dir / ("rate-" + stage)).string());
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find("--resume"), std::string::npos) << r.output;

    options.stop_after.clear();
    options.resume = true;
    const TrainResult resumed = train_model(config, options);
    const Checkpoint b = read_checkpoint(resumed.checkpoint_path);
    EXPECT_FALSE(b.in_progress.has_value());
    EXPECT_TRUE(same(a.model.autoencoder_params, b.model.autoencoder_params));
    EXPECT_TRUE(same(a.model.classifier_params, b.model.classifier_params));
    EXPECT_TRUE(same(a.model.centroids, b.model.centroids));
    EXPECT_EQ(whole.metrics["pretrain"], resumed.metrics["pretrain"]);
    EXPECT_EQ(whole.metrics["clusters"], resumed.metrics["clusters"]);
    EXPECT_EQ(whole.metrics["classifier"], resumed.metrics["classifier"]);
    EXPECT_EQ(whole.metrics["evaluation"], resumed.metrics["evaluation"]);
  }
  // A stop where no checkpoint falls is refused up front.
  TrainOptions odd;
  odd.quiet = true;
  odd.stop_after = "pretrain:3";
  config.run_dir = (dir / "odd").string();
  EXPECT_THROW(train_model(config, odd), InputError);
}

// A learning rate of 1e30 sends the head's weights past float range within a step or two: the
// run ends with exit 1 naming the stage and step, and the checkpoint written after the clusters
// stage stays as it was (the same bytes as a run stopped there).
TEST(Train, ADivergingLossStopsTrainingAndKeepsTheLastGoodCheckpoint) {
  const std::string data = synth_data("small", "--cells 12000 --regions 2 --seed 5");
  auto dir = rt::scratch_dir();
  auto config = quick_config(data, dir / "diverged");
  // A config file may not hold this learning rate any more (validate_train_config); the API is
  // the way to make a training diverge on purpose. main() maps TrainingDiverged to exit code 1.
  config.classifier.optimizer.lr = 1e30;
  EXPECT_THROW(validate_train_config(config), InputError);
  std::string message;
  try {
    TrainOptions quiet;
    quiet.quiet = true;
    train_model(config, quiet);
  } catch (const TrainingDiverged& e) {
    message = e.what();
  }
  EXPECT_NE(message.find("training diverged: the loss of stage classifier at step "), std::string::npos) << message;
  EXPECT_NE(message.find("after stage clusters"), std::string::npos) << message;
  EXPECT_FALSE(std::filesystem::exists(dir / "diverged" / "metrics.json"));

  // The checkpoint left is the one a run stopped after clusters writes, array for array (read as
  // arrays: read_checkpoint refuses the stored config's learning rate, as a config file would).
  config.run_dir = (dir / "stopped").string();
  TrainOptions options;
  options.quiet = true;
  options.stop_after = "clusters";
  const std::string stopped = train_model(config, options).checkpoint_path;
  auto array = [](const std::string& file, const char* name) {
    auto f = h5::open_file_read_only(file);
    auto ds = h5::open_row_dataset(f, name);
    size_t n = 1;
    for (auto d : h5::dataset_dims(ds)) n *= size_t(d);
    std::vector<float> v(n);
    h5::read_rows(ds, H5T_NATIVE_FLOAT, 0, h5::dataset_dims(ds)[0], v.data());
    return v;
  };
  const std::string kept = (dir / "diverged" / "checkpoint.h5").string();
  for (const char* name : {"autoencoder/params", "classifier/params", "clusters/centroids"}) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(same(array(kept, name), array(stopped, name)));
    EXPECT_FALSE(array(kept, name).empty());
  }
}

// While one train holds a run folder, a second one into it exits with 2 and touches nothing.
TEST(Train, ASecondTrainIntoTheSameRunFolderExitsWithTwo) {
  const std::string data = synth_data("small", "--cells 12000 --regions 2 --seed 5");
  auto dir = rt::scratch_dir();
  auto config = quick_config(data, dir / "run");
  rt::write_text(dir / "c.yaml", to_yaml(config));
  std::filesystem::create_directories(dir / "run");
  {
    const RunLock held((dir / "run").string(), "run.dir");
    auto r = rt::run_resilinet("train --quiet --config " + (dir / "c.yaml").string());
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find((dir / "run" / ".lock").string() + ": run.dir:"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("locked by process " + std::to_string(::getpid())), std::string::npos) << r.output;
    EXPECT_FALSE(std::filesystem::exists(dir / "run" / "config.yaml"));
    EXPECT_FALSE(std::filesystem::exists(dir / "run" / "metrics.jsonl"));
  }
  // Released with its holder: the folder trains again, and the temporaries a killed writer left
  // there go (only NAME.tmp-DIGITS files: the user's other files stay).
  rt::write_text(dir / "run" / "checkpoint.h5.tmp-999999", "half a checkpoint");
  rt::write_text(dir / "run" / "notes.tmp-draft", "mine");
  config.pretrain.epochs = 1;
  TrainOptions options;
  options.quiet = true;
  options.stop_after = "pretrain";
  EXPECT_EQ(read_checkpoint(train_model(config, options).checkpoint_path).stage, "pretrain");
  EXPECT_FALSE(std::filesystem::exists(dir / "run" / "checkpoint.h5.tmp-999999"));
  EXPECT_TRUE(std::filesystem::exists(dir / "run" / "notes.tmp-draft"));

  // synth takes the same lock on its --out folder.
  std::filesystem::create_directories(dir / "synth");
  const RunLock held((dir / "synth").string(), "--out");
  auto r = rt::run_resilinet("synth --quiet --cells 2000 --out " + (dir / "synth").string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--out"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("locked by process"), std::string::npos) << r.output;
  bool any_shard = false;
  for (const auto& e : std::filesystem::directory_iterator(dir / "synth")) any_shard |= e.path().extension() == ".h5";
  EXPECT_FALSE(any_shard);
}
