// The clustering stage at the ends of the size range and under stress: the default config on 1,000
// cells of every generator and on 10^6 cells (a small budget) uses every level and gives the same
// levels for two seeds (ARI >= 0.9); a data set too small for K clusters is refused with exit 2;
// IDEC with a step size that tears the partition rolls back, halves its step and never ends with
// a near-empty cluster.
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "datasets/input_error.hpp"
#include "datasets/shard_set.hpp"
#include "test_support.hpp"
#include "trainer/model/checkpoint.hpp"
#include "trainer/stages/cluster_metrics.hpp"
#include "trainer/stages/train_run.hpp"
#include "trainer/stages/training.hpp"

namespace rt = resilinet::testing;
using namespace resilinet;

namespace {

std::string synth(const std::filesystem::path& dir, const std::string& args) {
  auto r = rt::run_resilinet("synth --quiet --out " + dir.string() + " " + args);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return (dir / "*.h5").string();
}

TrainConfig default_config(const std::string& data, const std::filesystem::path& run, uint64_t seed) {
  TrainConfig c = load_train_config(std::string(RESILINET_SOURCE_DIR) + "/configs/default.yaml");
  c.data = data;
  c.run_dir = run.string();
  c.seed = seed;
  c.threads = 2;
  return c;
}

// The cluster level of every cell (natural order) under a trained model.
std::vector<int32_t> cluster_levels(const std::string& checkpoint, const std::string& data) {
  const Checkpoint ck = read_checkpoint(checkpoint);
  std::vector<int32_t> out;
  RatingBuffers rated;
  for_each_scaled_batch(ShardSet::open(data), 65536, &ck.model.scaler, 65536, [&](const Batch& b, const float* x) {
    rate_scaled(ck.model, b.x, x, b.rows, rated, false);
    out.insert(out.end(), rated.cluster_level.begin(), rated.cluster_level.begin() + b.rows);
  });
  return out;
}

void expect_every_level_used(const std::vector<int32_t>& levels, double min_share) {
  std::vector<size_t> count(6, 0);
  for (int32_t l : levels) ++count[l];
  for (int l = 1; l <= 5; ++l)
    EXPECT_GE(double(count[l]), min_share * double(levels.size())) << "level " << l << " has " << count[l] << " cells";
}

}  // namespace

TEST(ClusteringScale, ThousandCellsOfEveryGeneratorUseEveryLevelAndSeedsAgree) {
  if (rt::small_tests()) GTEST_SKIP() << "RESILINET_TEST_SMALL: six default-config trainings (3000+ steps each)";
  auto dir = rt::scratch_dir();
  for (const std::string generator : {"metro", "factors", "skewed"}) {
    SCOPED_TRACE(generator);
    const std::string data = synth(dir / ("data-" + generator), "--generator " + generator + " --cells 1000 --regions 2 --seed 3");
    const auto a = train_model(default_config(data, dir / (generator + "-a"), 0), true);
    const auto b = train_model(default_config(data, dir / (generator + "-b"), 1), true);
    const auto la = cluster_levels(a.checkpoint_path, data), lb = cluster_levels(b.checkpoint_path, data);
    ASSERT_EQ(la.size(), 1000u);
    expect_every_level_used(la, 0.02);
    expect_every_level_used(lb, 0.02);
    const double seeds = adjusted_rand_index(la, lb);
    std::cout << generator << ": seed ARI " << seeds << ", ARI vs planted " << a.metrics["evaluation"]["ari_planted"]
              << " (k-means baseline " << a.metrics["evaluation"]["baseline_kmeans"]["ari_planted"] << ")\n";
    EXPECT_GE(seeds, 0.9);
    // On 1,000 cells each stage still takes its minimum number of steps.
    EXPECT_GE(a.metrics["pretrain"]["steps"].get<int>(), 3000);
    EXPECT_GE(a.metrics["classifier"]["steps"].get<int>(), 3000);
  }
}

TEST(ClusteringScale, MillionCellsWithASmallBudget) {
  auto dir = rt::scratch_dir();
  // RESILINET_TEST_SMALL: 150,000 cells (still three loader slabs) and no minimum step count.
  const size_t cells = rt::small_tests() ? 150000 : 1000000;
  const std::string data = synth(dir / "data", "--cells " + std::to_string(cells) + " --regions 4 --seed 7");
  std::vector<std::vector<int32_t>> levels;
  for (uint64_t seed : {0, 1}) {
    TrainConfig c = default_config(data, dir / ("run" + std::to_string(seed)), seed);
    c.pretrain.epochs = 1;  // the budget: one pass of pretraining and of the head
    c.classifier.epochs = 1;
    if (rt::small_tests()) c.pretrain.min_steps = c.classifier.min_steps = 0;
    const auto r = train_model(c, true);
    EXPECT_EQ(r.metrics["pretrain"]["epochs"].get<int>(), 1);
    levels.push_back(cluster_levels(r.checkpoint_path, data));
    ASSERT_EQ(levels.back().size(), cells);
    expect_every_level_used(levels.back(), 0.02);
    EXPECT_TRUE(r.metrics["evaluation"]["level_order_consistent"].get<bool>());
  }
  const double seeds = adjusted_rand_index(levels[0], levels[1]);
  std::cout << "10^6 cells: seed ARI " << seeds << "\n";
  EXPECT_GE(seeds, 0.9);
}

TEST(ClusteringScale, TooFewCellsForTheClustersExitWithTwo) {
  auto dir = rt::scratch_dir();
  const std::string data = synth(dir / "data", "--cells 40 --regions 1 --seed 1");
  rt::write_text(dir / "c.yaml", "data: '" + data + "'\nrun: {dir: " + (dir / "run").string() + "}\n");
  auto r = rt::run_resilinet("train --quiet --config " + (dir / "c.yaml").string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("at least 50 cells"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "run" / "checkpoint.h5"));
  // Two clusters need 20 cells: 40 are enough.
  rt::write_text(dir / "two.yaml", "data: '" + data + "'\nrun: {dir: " + (dir / "run2").string() +
                                        "}\nclusters: {k: 2}\npretrain: {min_steps: 100}\nclassifier: {min_steps: 100}\n");
  r = rt::run_resilinet("train --quiet --config " + (dir / "two.yaml").string());
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

// A step size 1000x the default tears the latent partition within a refresh: every torn refresh
// is rolled back with half the step, and the run ends in an accepted state without near-empty
// clusters. With the default step no refresh is rolled back.
TEST(ClusteringScale, IdecRollsBackRefreshesThatTearThePartition) {
  auto dir = rt::scratch_dir();
  const std::string data = synth(dir / "data", "--cells 20000 --regions 2 --seed 5");
  TrainConfig c = default_config(data, dir / "torn", 0);
  c.clusters.space = "latent";
  c.pretrain.epochs = 3;
  c.pretrain.min_steps = 0;
  c.classifier.epochs = 1;
  c.classifier.min_steps = 0;
  c.idec.max_epochs = 3;
  c.idec.tol = 0;
  c.idec.optimizer.lr = 0.03;
  const auto torn = train_model(c, true);
  const auto& idec = torn.metrics["clusters"]["idec"];
  std::cout << "lr 0.03: " << idec.dump() << "\n";
  EXPECT_GE(idec["rollbacks"].get<int>(), 1);
  EXPECT_LT(idec["step_scale"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(idec["step_scale"].get<double>(), std::pow(0.5, idec["rollbacks"].get<int>()));
  for (const auto& n : idec["cluster_sizes"]) EXPECT_GE(n.get<double>(), 0.02 * 20000);
  EXPECT_LE(idec["last_label_change"].get<double>(), c.idec.max_change);

  c.idec.optimizer.lr = 3e-5;
  c.run_dir = (dir / "calm").string();
  const auto calm = train_model(c, true);
  EXPECT_EQ(calm.metrics["clusters"]["idec"]["rollbacks"].get<int>(), 0);
}
