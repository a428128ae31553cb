// Fine-tuning a finished model on a new vintage (`resilinet train --init-from`) and the stage step
// caps (pretrain.max_steps, classifier.max_steps): on the same data a tiny budget keeps every
// cell's level (ARI and share of equal levels against the checkpoint); on a shifted vintage the
// weights move while the cluster -> level map and the level order hold; each model key that differs
// from the checkpoint exits with 2, names the checkpoint and the key, and writes nothing; a cap
// sets the step count the metrics record; a resumed fine-tune equals the uninterrupted one bitwise.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "datasets/input_error.hpp"
#include "datasets/shard_set.hpp"
#include "test_support.hpp"
#include "trainer/model/checkpoint.hpp"
#include "trainer/model/file_sha256.hpp"
#include "trainer/stages/cluster_metrics.hpp"
#include "trainer/stages/train_run.hpp"
#include "trainer/stages/training.hpp"

namespace rt = resilinet::testing;
using namespace resilinet;

namespace {

std::filesystem::path test_root() {
  return rt::test_process_root() / "init-from";
}

// Shards made once per process: the first vintage (seed 5) and a shifted one (other cells, more
// within-level noise).
std::string vintage(const std::string& name) {
  static std::map<std::string, std::string> made;
  if (made.count(name)) return made[name];
  const auto dir = test_root() / "data" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string args =
      name == "v1" ? "--cells 6000 --regions 2 --seed 5" : "--cells 6000 --regions 2 --seed 6 --noise 1.3";
  const auto r = rt::run_resilinet("synth --quiet --out " + dir.string() + " " + args);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return made[name] = (dir / "*.h5").string();
}

// A short run on 2 threads: a few epochs per stage, 3 k-means restarts.
TrainConfig short_config(const std::string& data, const std::filesystem::path& run_dir) {
  TrainConfig c = load_train_config(std::string(RESILINET_SOURCE_DIR) + "/configs/default.yaml");
  c.data = data;
  c.run_dir = run_dir.string();
  c.seed = 3;
  c.threads = 2;
  c.pretrain.epochs = 4;
  c.pretrain.min_steps = 0;
  c.classifier.epochs = 4;
  c.classifier.min_steps = 0;
  c.clusters.restarts = 3;
  c.idec.max_epochs = 2;
  return c;
}

TrainOptions quiet() {
  TrainOptions o;
  o.quiet = true;
  return o;
}

// The finished run fine-tuning starts from, trained on the first vintage, per clustering space.
const std::string& base_checkpoint(const std::string& space = "completed") {
  static std::map<std::string, std::string> made;
  if (made.count(space)) return made[space];
  TrainConfig c = short_config(vintage("v1"), test_root() / ("base-" + space));
  c.clusters.space = space;
  std::filesystem::remove_all(c.run_dir);
  return made[space] = train_model(c, quiet()).checkpoint_path;
}

// The base run's config with a fine-tuning budget, writing to run_dir.
TrainConfig fine_tune_config(const std::string& data, const std::filesystem::path& run_dir,
                             const std::string& space = "completed") {
  TrainConfig c = short_config(data, run_dir);
  c.clusters.space = space;
  c.init_from.path = base_checkpoint(space);
  return c;
}

bool same(const std::vector<float>& x, const std::vector<float>& y) {
  return x.size() == y.size() && (x.empty() || std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0);
}

// Every cell's cluster level under a model, in natural order.
std::vector<int32_t> cluster_levels(const Model& model, const std::string& data) {
  const ShardSet set = ShardSet::open(data);
  std::vector<int32_t> levels;
  RatingBuffers out;
  for_each_scaled_batch(set, 65536, &model.scaler, 4096, [&](const Batch& b, const float* x) {
    rate_scaled(model, b.x, x, b.rows, out, false);
    levels.insert(levels.end(), out.cluster_level.begin(), out.cluster_level.begin() + ptrdiff_t(b.rows));
  });
  return levels;
}

double share_equal(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  size_t n = 0;
  for (size_t i = 0; i < a.size(); ++i) n += a[i] == b[i];
  return double(n) / double(std::max<size_t>(1, a.size()));
}

std::string yaml_of(const TrainConfig& c) { return to_yaml(c); }

}  // namespace

// Same data, 10 steps of pretraining and of the head: the scaler is the checkpoint's bytes, the map
// is the checkpoint's, and the cells keep their levels. The run records the checkpoint's path and
// the SHA-256 of its bytes (what sha256sum prints) in config.yaml, metrics.json and the checkpoint.
TEST(InitFrom, SameDataWithATinyBudgetKeepsTheLevels) {
  const std::string data = vintage("v1");
  const Checkpoint base = read_checkpoint(base_checkpoint());
  const auto dir = rt::scratch_dir();
  TrainConfig c = fine_tune_config(data, dir / "ft");
  c.pretrain.max_steps = 10;
  c.classifier.max_steps = 10;
  const TrainResult r = train_model(c, quiet());
  const Checkpoint ft = read_checkpoint(r.checkpoint_path);

  EXPECT_EQ(ft.model.cluster_level, base.model.cluster_level);
  EXPECT_EQ(ft.model.scaler.offset, base.model.scaler.offset);
  EXPECT_EQ(ft.model.scaler.scale, base.model.scaler.scale);
  EXPECT_EQ(ft.model.scaler.median, base.model.scaler.median);
  EXPECT_EQ(ft.model.cluster_scale, base.model.cluster_scale);
  EXPECT_FALSE(same(ft.model.autoencoder_params, base.model.autoencoder_params));  // it did train
  const std::vector<int32_t> before = cluster_levels(base.model, data), after = cluster_levels(ft.model, data);
  const double ari = adjusted_rand_index(before, after);
  const double equal = share_equal(before, after);
  EXPECT_GE(ari, 0.9);
  EXPECT_GE(equal, 0.95);  // the same levels, not only the same partition
  RecordProperty("ari_to_checkpoint_levels", std::to_string(ari));

  EXPECT_EQ(r.metrics["pretrain"]["steps"].get<uint64_t>(), 10u);
  EXPECT_EQ(r.metrics["classifier"]["steps"].get<uint64_t>(), 10u);
  EXPECT_TRUE(r.metrics["init_from"]["level_rule_agrees"].get<bool>());
  EXPECT_GE(r.metrics["clusters"]["ari_to_checkpoint_centroids"].get<double>(), 0.9);

  const auto sum = rt::run_command("sha256sum " + base_checkpoint());
  ASSERT_EQ(sum.exit_code, 0) << sum.output;
  const std::string sha = sum.output.substr(0, 64);
  EXPECT_EQ(file_sha256(base_checkpoint()), sha);
  EXPECT_EQ(r.metrics["init_from"]["path"].get<std::string>(), base_checkpoint());
  EXPECT_EQ(r.metrics["init_from"]["sha256"].get<std::string>(), sha);
  EXPECT_EQ(ft.config.init_from.sha256, sha);
  EXPECT_EQ(ft.stage_metrics["init_from"]["sha256"].get<std::string>(), sha);
  const TrainConfig written = load_train_config((dir / "ft" / "config.yaml").string());
  EXPECT_EQ(written.init_from.path, base_checkpoint());
  EXPECT_EQ(written.init_from.sha256, sha);
  const auto metrics = nlohmann::json::parse(rt::read_text(dir / "ft" / "metrics.json"));
  EXPECT_EQ(metrics["init_from"]["sha256"].get<std::string>(), sha);
}

// A new vintage (other cells, 1.3x the noise): encoder, head and centroids move, the cluster ->
// level map does not, the ordering rule agrees with it on the new data, and the rated levels still
// rise with the direction-signed feature means and recover the new vintage's planted levels.
TEST(InitFrom, AShiftedVintageMovesTheWeightsAndKeepsTheLevelOrder) {
  const std::string data = vintage("v2");
  const Checkpoint base = read_checkpoint(base_checkpoint());
  const auto dir = rt::scratch_dir();
  TrainConfig c = fine_tune_config(data, dir / "ft");
  c.pretrain.epochs = 2;
  c.classifier.epochs = 2;
  const TrainResult r = train_model(c, quiet());
  const Checkpoint ft = read_checkpoint(r.checkpoint_path);

  EXPECT_FALSE(same(ft.model.autoencoder_params, base.model.autoencoder_params));
  EXPECT_FALSE(same(ft.model.classifier_params, base.model.classifier_params));
  EXPECT_FALSE(same(ft.model.centroids, base.model.centroids));
  EXPECT_EQ(ft.model.cluster_level, base.model.cluster_level);
  // Frozen: a scaler fitted on this vintage would differ.
  EXPECT_EQ(ft.model.scaler.offset, base.model.scaler.offset);
  EXPECT_EQ(ft.model.scaler.scale, base.model.scaler.scale);
  EXPECT_TRUE(r.metrics["init_from"]["level_rule_agrees"].get<bool>());
  for (const auto& level : r.metrics["levels"]) EXPECT_EQ(level["rule_level"], level["level"]) << level.dump();
  const auto& e = r.metrics["evaluation"];
  EXPECT_TRUE(e["level_order_consistent"].get<bool>());
  EXPECT_GE(e["ari_planted"].get<double>(), 0.8);
  // The checkpoint's own levels on the new vintage, against the fine-tuned ones: the same order of
  // the same kind of cells.
  const double equal = share_equal(cluster_levels(base.model, data), cluster_levels(ft.model, data));
  EXPECT_GE(equal, 0.8);
  RecordProperty("same_level_share", std::to_string(equal));
}

// A checkpoint whose map the ordering rule disagrees with (levels 1 and 5 swapped by hand): the run
// keeps the checkpoint's map, so level L still names the cells it named, and says the rule
// disagrees (a warning, a metric and each level's rule_level) rather than failing.
TEST(InitFrom, TheCheckpointsMapIsKeptWhereTheRuleDisagreesWithAWarning) {
  const auto dir = rt::scratch_dir();
  Checkpoint swapped = read_checkpoint(base_checkpoint());
  std::vector<int32_t>& map = swapped.model.cluster_level;
  const auto low = std::find(map.begin(), map.end(), 1), high = std::find(map.begin(), map.end(), 5);
  std::iter_swap(low, high);
  const std::string init = (dir / "swapped.h5").string();
  write_checkpoint(init, swapped);
  TrainConfig c = fine_tune_config(vintage("v1"), dir / "ft");
  c.init_from.path.clear();
  c.pretrain.max_steps = 10;
  c.classifier.max_steps = 10;
  rt::write_text(dir / "ft.yaml", yaml_of(c));
  const auto r = rt::run_resilinet("train --config " + (dir / "ft.yaml").string() + " --init-from " + init);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("warning: on this data the ordering rule"), std::string::npos) << r.output;
  const Checkpoint ft = read_checkpoint(c.run_dir + "/checkpoint.h5");
  EXPECT_EQ(ft.model.cluster_level, map);
  const auto metrics = nlohmann::json::parse(rt::read_text(dir / "ft" / "metrics.json"));
  EXPECT_FALSE(metrics["init_from"]["level_rule_agrees"].get<bool>());
  EXPECT_EQ(metrics["levels"][0]["rule_level"].get<int>(), 5);
  EXPECT_EQ(metrics["levels"][4]["rule_level"].get<int>(), 1);
  // The cells of each level are those the swapped checkpoint gives it.
  const std::string data = vintage("v1");
  EXPECT_GE(share_equal(cluster_levels(swapped.model, data), cluster_levels(ft.model, data)), 0.95);
}

// Every model key that differs from the checkpoint's, a shard schema that differs, an unfinished
// checkpoint and a pinned hash of another file: exit 2, one line naming the checkpoint (or config)
// and the key, and no run folder.
TEST(InitFrom, AModelThatDiffersFromTheCheckpointExitsWithTwoAndWritesNothing) {
  const auto dir = rt::scratch_dir();
  const std::string base = base_checkpoint();
  struct Case {
    std::string name, key;
    std::function<void(TrainConfig&)> edit;
  };
  const std::vector<Case> cases = {
      {"latent", "encoder.latent", [](TrainConfig& c) { c.encoder.latent = 4; }},
      {"hidden", "encoder.hidden", [](TrainConfig& c) { c.encoder.hidden = {64}; }},
      {"group-width", "encoder.group_width", [](TrainConfig& c) { c.encoder.group_width = 32; }},
      {"decoder", "encoder.decoder", [](TrainConfig& c) { c.encoder.decoder = {32}; }},
      {"k", "clusters.k", [](TrainConfig& c) { c.clusters.k = 4; }},
      {"space", "clusters.space", [](TrainConfig& c) { c.clusters.space = "latent"; }},
      {"alpha", "clusters.alpha", [](TrainConfig& c) { c.clusters.alpha = 2; }},
      {"head", "classifier.hidden", [](TrainConfig& c) { c.classifier.net.hidden = {32}; }},
      {"scaler", "scaler.type", [](TrainConfig& c) { c.scaler.type = "minmax"; }},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.name);
    TrainConfig c = fine_tune_config(vintage("v1"), dir / ("run-" + k.name));
    c.init_from.path.clear();  // given on the command line
    k.edit(c);
    rt::write_text(dir / (k.name + ".yaml"), yaml_of(c));
    const auto r =
        rt::run_resilinet("train --quiet --config " + (dir / (k.name + ".yaml")).string() + " --init-from " + base);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find(base + ": " + k.key + ": expected "), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("(as in the checkpoint)"), std::string::npos) << r.output;
    EXPECT_FALSE(std::filesystem::exists(c.run_dir)) << c.run_dir;
  }
  // The example of the issue, word for word but for the file.
  {
    TrainConfig c = fine_tune_config(vintage("v1"), dir / "run-latent");
    c.encoder.latent = 4;
    try {
      train_model(c, quiet());
      ADD_FAILURE() << "no error";
    } catch (const InputError& e) {
      EXPECT_EQ(std::string(e.what()), base + ": encoder.latent: expected 8 (as in the checkpoint), found 4");
    }
  }
  // A shard whose first feature has another name.
  {
    const auto shards = dir / "renamed";
    std::filesystem::create_directories(shards);
    const ShardSet v1 = ShardSet::open(vintage("v1"));
    const std::string copy = (shards / "part-00000.h5").string();
    std::filesystem::copy_file(v1.shards()[0].path, copy);
    rt::write_text(dir / "rename.py",
                   "import h5py, numpy as np\nwith h5py.File('" + copy + "', 'r+') as f:\n"
                   "    n = [v.decode() if isinstance(v, bytes) else v for v in f.attrs['feature_names']]\n"
                   "    n[0] = 'renamed'\n    f.attrs['feature_names'] = np.array(n, dtype=h5py.string_dtype())\n");
    const auto py = rt::run_command(std::string(RESILINET_PYTHON) + " " + (dir / "rename.py").string());
    ASSERT_EQ(py.exit_code, 0) << py.output;
    const auto r = rt::run_resilinet("train --quiet --data " + copy + " --run-dir " + (dir / "run-schema").string() +
                                     " --init-from " + base);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find("feature_names[0]"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(base), std::string::npos) << r.output;
    EXPECT_FALSE(std::filesystem::exists(dir / "run-schema"));
  }
  // A checkpoint of a run stopped after pretraining has no clusters to keep.
  {
    TrainConfig c = short_config(vintage("v1"), dir / "stopped");
    TrainOptions o = quiet();
    o.stop_after = "pretrain";
    train_model(c, o);
    const auto r = rt::run_resilinet("train --quiet --data '" + vintage("v1") + "' --run-dir " +
                                     (dir / "run-unfinished").string() + " --init-from " + c.run_dir + "/checkpoint.h5");
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find("checkpoint.h5: stage: expected 'done'"), std::string::npos) << r.output;
    EXPECT_FALSE(std::filesystem::exists(dir / "run-unfinished"));
  }
  // A config that pins the hash of another file.
  {
    TrainConfig c = fine_tune_config(vintage("v1"), dir / "run-pinned");
    c.init_from.sha256 = std::string(64, '0');
    rt::write_text(dir / "pinned.yaml", yaml_of(c));
    const auto r = rt::run_resilinet("train --quiet --config " + (dir / "pinned.yaml").string());
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find("pinned.yaml: init_from.sha256: expected 0000"), std::string::npos) << r.output;
    EXPECT_FALSE(std::filesystem::exists(dir / "run-pinned"));
    // --init-from names the file itself: the pinned hash is dropped and the run goes ahead.
    const auto ok = rt::run_resilinet("train --quiet --config " + (dir / "pinned.yaml").string() + " --init-from " + base +
                                      " --run-dir " + (dir / "run-named").string());
    EXPECT_EQ(ok.exit_code, 0) << ok.output;
  }
}

// IDEC's cap (latent space): 11 steps of the 2 epochs of 24 batches it would run without early stop;
// the steps after the last refresh are still measured, so the run ends on a checked state.
TEST(InitFrom, IdecMaxStepsCapsIdec) {
  const auto dir = rt::scratch_dir();
  TrainConfig c = short_config(vintage("v1"), dir / "idec-capped");
  c.clusters.space = "latent";
  c.idec.tol = 0;  // no early stop
  c.idec.max_steps = 11;
  const TrainResult r = train_model(c, quiet());
  const auto& idec = r.metrics["clusters"]["idec"];
  EXPECT_EQ(idec["steps"].get<uint64_t>(), 11u);
  EXPECT_EQ(idec["max_steps"].get<int>(), 11);
  EXPECT_GE(idec["refreshes"].get<int>(), 1);
  EXPECT_EQ(read_checkpoint(r.checkpoint_path).stage, "done");
}

// The caps: pretraining stops after 30 steps (inside its second epoch of 24 batches) although
// min_steps asks for 3000, the head after 7; the metrics and the metrics.jsonl epoch records say so.
TEST(InitFrom, MaxStepsCapsTheStepsTheMetricsRecord) {
  const auto dir = rt::scratch_dir();
  TrainConfig c = short_config(vintage("v1"), dir / "capped");
  c.pretrain.epochs = 5;
  c.pretrain.min_steps = 3000;
  c.pretrain.max_steps = 30;
  c.classifier.max_steps = 7;
  const TrainResult r = train_model(c, quiet());
  EXPECT_EQ(r.metrics["pretrain"]["steps"].get<uint64_t>(), 30u);
  EXPECT_EQ(r.metrics["pretrain"]["epochs"].get<int>(), 2);  // ceil(30 / 24)
  EXPECT_EQ(r.metrics["pretrain"]["max_steps"].get<int>(), 30);
  EXPECT_EQ(r.metrics["classifier"]["steps"].get<uint64_t>(), 7u);
  EXPECT_EQ(r.metrics["classifier"]["epochs"].get<int>(), 1);
  uint64_t last_pretrain_steps = 0;
  std::istringstream lines(rt::read_text(dir / "capped" / "metrics.jsonl"));
  for (std::string line; std::getline(lines, line);) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.value("stage", "") == "pretrain" && j.contains("epoch"))
      last_pretrain_steps = j["steps"].get<uint64_t>();
  }
  EXPECT_EQ(last_pretrain_steps, 30u);
  // Adam took as many steps as the loop: the cap stops between steps, never inside one.
  EXPECT_EQ(read_checkpoint(r.checkpoint_path).stage, "done");

  // The keys: in range, written and read back.
  const auto expect_error_naming = [](const TrainConfig& config, const std::string& field) {
    try {
      validate_train_config(config);
      ADD_FAILURE() << "no error for " << field;
    } catch (const InputError& e) {
      EXPECT_EQ(e.field(), field);
    }
  };
  TrainConfig bad = c;
  bad.pretrain.max_steps = -1;
  expect_error_naming(bad, "pretrain.max_steps");
  bad = c;
  bad.classifier.max_steps = -3;
  expect_error_naming(bad, "classifier.max_steps");
  bad = c;
  bad.idec.max_steps = -2;
  expect_error_naming(bad, "idec.max_steps");
  bad = c;
  bad.init_from.path = "x.h5";
  bad.init_from.sha256 = "not a hash";
  EXPECT_THROW(validate_train_config(bad), InputError);
  TrainConfig pinned = c;
  pinned.init_from = {"some/run/checkpoint.h5", std::string(64, 'a')};
  const TrainConfig back = parse_train_config(to_yaml(pinned), "round-trip");
  EXPECT_EQ(back.pretrain.max_steps, 30);
  EXPECT_EQ(back.classifier.max_steps, 7);
  EXPECT_EQ(back.init_from.path, pinned.init_from.path);
  EXPECT_EQ(back.init_from.sha256, pinned.init_from.sha256);
  EXPECT_EQ(to_yaml(back), to_yaml(pinned));
  EXPECT_EQ(parse_train_config(to_yaml(TrainConfig{}), "defaults").init_from.path, "");
}

// A fine-tuning run (caps inside the last epoch of pretraining and of the head, IDEC in the latent
// space) stopped at each kind of checkpoint and resumed: bitwise the parameters, and the same
// metrics, as the uninterrupted fine-tune. A resume whose init_from file has changed since is refused.
TEST(InitFrom, AResumedFineTuneEqualsTheUninterruptedOne) {
  const std::string data = vintage("v2");
  const auto dir = rt::scratch_dir();
  for (const std::string space : {"completed", "latent"}) {
    SCOPED_TRACE(space);
    TrainConfig c = fine_tune_config(data, dir / (space + "-whole"), space);
    c.pretrain.epochs = 4;
    c.pretrain.max_steps = 80;  // 24 batches per epoch: the cap falls inside the fourth
    c.classifier.epochs = 4;
    c.classifier.max_steps = 70;
    c.idec.max_epochs = 4;
    c.idec.tol = 0;
    c.checkpoint_every = 2;
    const TrainResult whole = train_model(c, quiet());
    const Checkpoint a = read_checkpoint(whole.checkpoint_path);
    EXPECT_EQ(whole.metrics["pretrain"]["steps"].get<uint64_t>(), 80u);
    EXPECT_EQ(whole.metrics["classifier"]["steps"].get<uint64_t>(), 70u);
    std::vector<std::string> stops = {"pretrain:2", "clusters", "classifier:2"};
    if (space == "latent") stops.push_back("idec:2");
    for (const std::string& stop : stops) {
      SCOPED_TRACE(stop);
      c.run_dir = (dir / (space + "-" + stop.substr(0, stop.find(':')))).string();
      TrainOptions o = quiet();
      o.stop_after = stop;
      train_model(c, o);
      EXPECT_FALSE(std::filesystem::exists(c.run_dir + "/metrics.json"));
      o.stop_after.clear();
      o.resume = true;
      const TrainResult resumed = train_model(c, o);
      const Checkpoint b = read_checkpoint(resumed.checkpoint_path);
      EXPECT_TRUE(same(a.model.autoencoder_params, b.model.autoencoder_params));
      EXPECT_TRUE(same(a.model.classifier_params, b.model.classifier_params));
      EXPECT_TRUE(same(a.model.centroids, b.model.centroids));
      EXPECT_EQ(a.model.cluster_level, b.model.cluster_level);
      for (const char* key : {"init_from", "pretrain", "clusters", "levels", "classifier", "evaluation"})
        EXPECT_EQ(whole.metrics[key], resumed.metrics[key]) << key;
    }
  }
  // The checkpoint fine-tuning started from is replaced before the resume: the hash differs.
  const auto copy = dir / "init-copy.h5";
  std::filesystem::copy_file(base_checkpoint(), copy);
  TrainConfig c = fine_tune_config(data, dir / "changed");
  c.init_from.path = copy.string();
  TrainOptions o = quiet();
  o.stop_after = "pretrain";
  train_model(c, o);
  std::filesystem::copy_file(dir / "completed-whole" / "checkpoint.h5", copy,
                             std::filesystem::copy_options::overwrite_existing);
  o.stop_after.clear();
  o.resume = true;
  try {
    train_model(c, o);
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(e.field(), "init_from.sha256") << e.what();
  }
  EXPECT_EQ(read_checkpoint(c.run_dir + "/checkpoint.h5").stage, "pretrain");  // untouched
}
