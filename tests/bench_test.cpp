// `resilinet baseline` and `resilinet bench`: the baselines' numbers against hand-worked values and
// the training's own k-means baseline, the variants table recounted from its runs' files, resume
// after a kill, leave-one-region-out recounted from its region shards and ratings, and bad input.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <map>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "h5_rows.hpp"
#include "test_support.hpp"
#include "trainer/bench/bench_variants.hpp"
#include "trainer/bench/leave_one_region_out.hpp"
#include "trainer/bench/result_table.hpp"
#include "trainer/bench/variant_file.hpp"
#include "trainer/stages/baseline_rating.hpp"
#include "trainer/stages/cluster_metrics.hpp"

namespace resilinet {
namespace {

using testing::read_h5_rows;
using testing::read_text;
using testing::run_command;
using testing::run_resilinet;
using testing::scratch_dir;
using testing::write_text;

nlohmann::json read_json(const std::filesystem::path& p) { return nlohmann::json::parse(read_text(p)); }

// A training short enough for many runs: a few epochs, three k-means restarts.
const char* kShortConfig =
    "pretrain: {epochs: 2, min_steps: 0}\n"
    "classifier: {epochs: 2, min_steps: 0}\n"
    "clusters: {restarts: 3}\n";

struct BenchData {
  std::filesystem::path dir;
  std::string data, config;
};

BenchData make_data(const std::filesystem::path& dir, int cells, int regions) {
  BenchData d{dir, (dir / "data" / "*.h5").string(), (dir / "short.yaml").string()};
  const auto res = run_resilinet("synth --quiet --out " + (dir / "data").string() + " --cells " + std::to_string(cells) +
                                 " --regions " + std::to_string(regions) + " --seed 7");
  EXPECT_EQ(res.exit_code, 0) << res.output;
  write_text(d.config, kShortConfig);
  return d;
}

TEST(EqualWeightIndex, QuantilesAndClassesAsNumpy) {
  // numpy.quantile([0..9], [0.2, 0.4, 0.6, 0.8]) = 1.8, 3.6, 5.4, 7.2 (linear interpolation).
  std::vector<double> values = {9, 3, 0, 7, 1, 8, 2, 6, 4, 5};
  const std::vector<double> cuts = quantile_cuts(values, 5);
  ASSERT_EQ(cuts.size(), 4u);
  EXPECT_DOUBLE_EQ(cuts[0], 1.8);
  EXPECT_DOUBLE_EQ(cuts[1], 3.6);
  EXPECT_DOUBLE_EQ(cuts[2], 5.4);
  EXPECT_NEAR(cuts[3], 7.2, 1e-12);
  EXPECT_EQ(quantile_class(0.0, cuts), 1);
  EXPECT_EQ(quantile_class(1.8, cuts), 2);  // a value on a cut belongs to the class above it
  EXPECT_EQ(quantile_class(5.0, cuts), 3);
  EXPECT_EQ(quantile_class(100.0, cuts), 5);
  // Direction-signed mean: (+0.5 - 0.25 + 1.0) / 3.
  const float row[3] = {0.5f, 0.25f, 1.0f};
  EXPECT_DOUBLE_EQ(equal_weight_index(row, {1, -1, 1}), 1.25 / 3);
}

TEST(ResultTable, SummaryAndBestColumn) {
  const nlohmann::json s = summarize({1.0, 2.0, 4.0});
  EXPECT_DOUBLE_EQ(s["mean"].get<double>(), 7.0 / 3);
  EXPECT_NEAR(s["sd"].get<double>(), std::sqrt(((1 - 7.0 / 3) * (1 - 7.0 / 3) + (2 - 7.0 / 3) * (2 - 7.0 / 3) +
                                                (4 - 7.0 / 3) * (4 - 7.0 / 3)) / 2),
              1e-12);
  EXPECT_TRUE(summarize({}).is_null());
  const std::vector<ResultColumn> columns = {{"a", "A", "lower"}, {"b", "B", "higher"}, {"c", "C", ""}};
  const std::vector<ResultRow> rows = {{"x|y, w", {{"a", summarize({1.0, 3.0})}, {"b", 0.5}}},
                                       {"z", {{"a", summarize({0.5})}, {"b", 0.25}}}};
  EXPECT_EQ(present_columns(columns, rows).size(), 2u);  // c is null everywhere
  const std::string md = markdown_table("Name", present_columns(columns, rows), rows);
  EXPECT_NE(md.find("| x\\|y, w | 2 ± 1.414 | **0.5** |"), std::string::npos) << md;
  EXPECT_NE(md.find("| z | **0.5** | 0.25 |"), std::string::npos) << md;
  const std::string csv = csv_table("name", present_columns(columns, rows), rows);
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "name,a_mean,a_sd,a_n,b");
  EXPECT_NE(csv.find("\"x|y, w\",2,1.4142135623730951,2,0.5"), std::string::npos) << csv;
}

TEST(RatingAgreement, HandWorked) {
  const std::vector<int32_t> a = {1, 1, 2, 3, 3, 0}, b = {1, 2, 2, 3, 3, 2};  // the last cell is not rated by a
  const nlohmann::json r = rating_agreement(a, b, 3);
  EXPECT_EQ(r["cells"].get<int64_t>(), 5);
  EXPECT_DOUBLE_EQ(r["shares_a"][0].get<double>(), 0.4);
  EXPECT_DOUBLE_EQ(r["shares_b"][1].get<double>(), 0.4);
  EXPECT_NEAR(r["share_shift"].get<double>(), 0.2, 1e-12);  // |0.4-0.2| + |0.2-0.4| + 0, halved
  EXPECT_NEAR(r["mean_level_shift"].get<double>(), -0.2, 1e-12);
  const nlohmann::json same = rating_agreement(b, b, 3);
  EXPECT_DOUBLE_EQ(same["ari"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(same["kappa"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(same["share_shift"].get<double>(), 0.0);
}

// Every shipped variant is a valid variant over the built-in defaults, and they differ from each other.
TEST(VariantFiles, ShippedSetLoads) {
  std::set<std::string> names, configs;
  for (const auto& e : std::filesystem::directory_iterator(std::string(RESILINET_SOURCE_DIR) + "/configs/variants")) {
    if (e.path().extension() != ".yaml") continue;
    const Variant v = load_variant(e.path().string(), load_train_config(""));
    EXPECT_TRUE(names.insert(v.name).second) << v.name;
    EXPECT_FALSE(v.description.empty()) << v.name;
    EXPECT_TRUE(configs.insert(v.baseline + "\n" + to_yaml(v.config)).second) << v.name << " repeats another variant";
  }
  EXPECT_GE(names.size(), 10u);
  EXPECT_TRUE(names.count("baseline-kmeans") && names.count("baseline-index") && names.count("default"));
}

// The k-means baseline is the training's own built-in baseline: same sample, seed and K, so the
// same partition and the same ARI against the planted levels. The index's classes are quantiles:
// each holds a K-th of the cells.
TEST(Baseline, KMeansMatchesTrainingsBaselineAndIndexClassesAreQuantiles) {
  const auto dir = scratch_dir();
  const BenchData d = make_data(dir, 4000, 2);
  auto res = run_resilinet("train --quiet --config " + d.config + " --data '" + d.data + "' --run-dir " +
                           (dir / "net").string());
  ASSERT_EQ(res.exit_code, 0) << res.output;
  res = run_resilinet("baseline --quiet --method kmeans --config " + d.config + " --data '" + d.data +
                      "' --run-dir " + (dir / "km").string());
  ASSERT_EQ(res.exit_code, 0) << res.output;
  const nlohmann::json net = read_json(dir / "net" / "metrics.json")["evaluation"];
  const nlohmann::json km = read_json(dir / "km" / "metrics.json")["evaluation"];
  EXPECT_NEAR(km["ari_planted"].get<double>(), net["baseline_kmeans"]["ari_planted"].get<double>(), 1e-12);
  std::vector<int64_t> net_cells = net["baseline_kmeans"]["level_cells"], km_cells = km["level_cells"];
  EXPECT_EQ(km_cells, net_cells);  // the ordering rule on the sample orders these clusters as on all cells

  res = run_resilinet("baseline --quiet --method equal_weight_index --config " + d.config + " --data '" + d.data +
                      "' --run-dir " + (dir / "index").string());
  ASSERT_EQ(res.exit_code, 0) << res.output;
  const auto level = read_h5_rows<int32_t>(dir / "index" / "levels.h5", "level", H5T_NATIVE_INT32);
  ASSERT_EQ(level.size(), 4000u);
  std::vector<int64_t> count(5, 0);
  for (int32_t l : level) {
    ASSERT_GE(l, 1);
    ASSERT_LE(l, 5);
    ++count[l - 1];
  }
  for (int64_t c : count) EXPECT_NEAR(double(c), 800.0, 8.0);  // all 4,000 cells are the quantile sample
  const nlohmann::json index = read_json(dir / "index" / "metrics.json")["evaluation"];
  EXPECT_EQ(index["level_cells"].get<std::vector<int64_t>>(), count);
  // The synthetic levels are planted along the features' directions: the index finds them well above chance.
  EXPECT_GT(index["ari_planted"].get<double>(), 0.3);
}

// The table's numbers are those of its runs' files; a killed bench resumes with the runs that had
// finished and ends with the same table.
TEST(BenchVariants, TableRecountsItsRunsAndResumesAfterKill) {
  const auto dir = scratch_dir();
  const BenchData d = make_data(dir, 3000, 2);
  const auto variants = dir / "variants";
  std::filesystem::create_directories(variants);
  write_text(variants / "a-net.yaml", "description: the short config\n");
  write_text(variants / "b-latent4.yaml", "config:\n  encoder: {latent: 4}\n");
  write_text(variants / "c-kmeans.yaml", "baseline: kmeans\nseeds: [3, 4]\n");
  const std::string args = "bench --variants " + (variants / "a-net.yaml").string() + " " +
                           (variants / "b-latent4.yaml").string() + " " + (variants / "c-kmeans.yaml").string() +
                           " --data '" + d.data + "' --config " + d.config + " --seeds 2 --threads 1 --out ";
  auto res = run_resilinet(args + (dir / "out").string());
  ASSERT_EQ(res.exit_code, 0) << res.output;
  const nlohmann::json table = read_json(dir / "out" / "variants.json");
  EXPECT_EQ(table["format"], "resilinet-variants");
  EXPECT_EQ(table["cells"].get<int64_t>(), 3000);
  ASSERT_EQ(table["variants"].size(), 3u);
  for (const auto& v : table["variants"]) {
    const bool network = v["kind"] == "network";
    std::vector<std::vector<int32_t>> levels;
    std::vector<double> f1, ari, seconds;
    for (const auto& run : v["runs"]) {
      const std::filesystem::path run_dir = run["run_dir"].get<std::string>();
      const nlohmann::json e = read_json(run_dir / "metrics.json")["evaluation"];
      EXPECT_EQ(run["ari_planted"].get<double>(), e["ari_planted"].get<double>());
      ari.push_back(e["ari_planted"].get<double>());
      if (network) f1.push_back(e["classifier_macro_f1"].get<double>());
      seconds.push_back(run["train_seconds"].get<double>());
      EXPECT_NEAR(run["cells_per_second"].get<double>(), 3000 / run["train_seconds"].get<double>(), 1e-6);
      EXPECT_GT(run["peak_rss_mb"].get<double>(), 1.0);
      levels.push_back(read_h5_rows<int32_t>(network ? run_dir / "rating" / "ratings.h5" : run_dir / "levels.h5",
                                             "level", H5T_NATIVE_INT32));
    }
    ASSERT_EQ(levels.size(), 2u);
    EXPECT_EQ(v["runs"][0]["seed"].get<int>(), network ? 0 : 3);
    const nlohmann::json& s = v["summary"];
    EXPECT_NEAR(s["ari_planted"]["mean"].get<double>(), (ari[0] + ari[1]) / 2, 1e-12);
    EXPECT_NEAR(s["ari_planted"]["sd"].get<double>(), std::abs(ari[0] - ari[1]) / std::sqrt(2.0), 1e-12);
    EXPECT_NEAR(s["train_seconds"]["mean"].get<double>(), (seconds[0] + seconds[1]) / 2, 1e-9);
    EXPECT_NEAR(s["seed_stability_ari"]["mean"].get<double>(), adjusted_rand_index(levels[0], levels[1]), 1e-12);
    if (network) {
      EXPECT_NEAR(s["classifier_macro_f1"]["mean"].get<double>(), (f1[0] + f1[1]) / 2, 1e-12);
      EXPECT_TRUE(s["reconstruction_mse"].is_object());
    } else {
      EXPECT_TRUE(s["classifier_macro_f1"].is_null());
      EXPECT_TRUE(s["reconstruction_mse"].is_null());
    }
  }
  const std::string md = read_text(dir / "out" / "variants.md");
  for (const char* name : {"| a-net |", "| b-latent4 |", "| c-kmeans |"}) EXPECT_NE(md.find(name), std::string::npos) << md;
  EXPECT_EQ(std::count(md.begin(), md.end(), '\n') > 8, true);
  const std::string csv = read_text(dir / "out" / "variants.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 4);

  // Kill a second bench once some runs have finished, then resume it.
  const std::string out2 = (dir / "out2").string();
  const std::string log = (dir / "bench2.log").string();
  res = run_command("(" + std::string(RESILINET_BIN) + " " + args + out2 + " > " + log +
                    " 2>&1 & echo $! > " + (dir / "pid").string() + ")");
  ASSERT_EQ(res.exit_code, 0);
  const pid_t pid = std::stoi(read_text(dir / "pid"));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!std::filesystem::exists(out2 + "/runs/a-net/seed0.done.json") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ::kill(pid, SIGKILL);
  const bool finished = std::filesystem::exists(out2 + "/variants.json");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // No run of the killed bench is left running ("run[s]": the pattern must not match pgrep's own shell).
  EXPECT_NE(run_command("pgrep -f -- '" + out2 + "/run[s]/'").exit_code, 0);
  res = run_resilinet(args + out2);
  ASSERT_EQ(res.exit_code, 0) << res.output;
  if (!finished) EXPECT_NE(res.output.find("already done (records found), skipped"), std::string::npos) << res.output;
  const nlohmann::json resumed = read_json(out2 + "/variants.json");
  for (size_t v = 0; v < 3; ++v)
    for (const char* key : {"ari_planted", "silhouette", "seed_stability_ari", "davies_bouldin"})
      EXPECT_EQ(resumed["variants"][v]["summary"][key], table["variants"][v]["summary"][key]) << key;
}

TEST(BenchVariants, BadVariantFilesExitTwoNamingFileAndKey) {
  const auto dir = scratch_dir();
  const BenchData d = make_data(dir, 1000, 1);
  struct Case {
    std::string text, expected;
  };
  const std::vector<Case> cases = {
      {"descripton: typo\n", "descripton"},
      {"baseline: random\n", "baseline"},
      {"config:\n  encoder: {latnt: 4}\n", "encoder.latnt"},
      {"config:\n  encoder: {latent: -1}\n", "encoder.latent"},
      {"config: [1, 2]\n", "config"},
      {"name: has space\n", "name"},
      {"seeds: []\n", "seeds"},
      {"seeds: [a]\n", "seeds[0]"},
      {"name: [unclosed\n", "valid YAML"},
  };
  for (const Case& c : cases) {
    const auto file = dir / "bad.yaml";
    write_text(file, c.text);
    const auto res = run_resilinet("bench --quiet --variants " + file.string() + " --data '" + d.data + "' --out " +
                                   (dir / "out").string());
    EXPECT_EQ(res.exit_code, 2) << c.text << res.output;
    EXPECT_NE(res.output.find(file.string()), std::string::npos) << res.output;
    EXPECT_NE(res.output.find(c.expected), std::string::npos) << res.output;
    EXPECT_FALSE(std::filesystem::exists(dir / "out" / "runs")) << c.text;
  }
  write_text(dir / "one.yaml", "name: same\n");
  write_text(dir / "two.yaml", "name: same\nbaseline: kmeans\n");
  const auto res = run_resilinet("bench --quiet --variants " + (dir / "one.yaml").string() + " " +
                                 (dir / "two.yaml").string() + " --data '" + d.data + "' --out " + (dir / "out").string());
  EXPECT_EQ(res.exit_code, 2) << res.output;
  EXPECT_NE(res.output.find("two.yaml: name"), std::string::npos) << res.output;
  // Leave-one-region-out needs two regions.
  const auto loro = run_resilinet("bench --quiet --leave-one-region-out --data '" + d.data + "' --out " +
                                  (dir / "loro").string());
  EXPECT_EQ(loro.exit_code, 2) << loro.output;
  EXPECT_NE(loro.output.find("region_names"), std::string::npos) << loro.output;
}

// The region shards partition the cells; the table's agreement is that of the rating files.
TEST(LeaveOneRegionOut, RegionShardsPartitionTheCellsAndTableRecounts) {
  const auto dir = scratch_dir();
  const BenchData d = make_data(dir, 3000, 3);
  const auto res = run_resilinet("bench --quiet --leave-one-region-out --data '" + d.data + "' --config " + d.config +
                                 " --seeds 1 --threads 1 --jobs 2 --out " + (dir / "out").string());
  ASSERT_EQ(res.exit_code, 0) << res.output;
  const nlohmann::json table = read_json(dir / "out" / "loro.json");
  ASSERT_EQ(table["regions"].size(), 3u);
  std::filesystem::path shard;
  for (const auto& e : std::filesystem::directory_iterator(dir / "data"))
    if (e.path().extension() == ".h5") shard = e.path();
  const auto ids = read_h5_rows<int64_t>(shard, "cell_id", H5T_NATIVE_INT64);
  const auto region = read_h5_rows<uint32_t>(shard, "region", H5T_NATIVE_UINT32);
  std::map<uint32_t, std::vector<int64_t>> by_region;
  for (size_t i = 0; i < ids.size(); ++i) by_region[region[i]].push_back(ids[i]);
  for (size_t r = 0; r < 3; ++r) {
    const auto region_shard = dir / "out" / "regions" / ("r" + std::to_string(r) + ".h5");
    EXPECT_EQ(read_h5_rows<int64_t>(region_shard, "cell_id", H5T_NATIVE_INT64), by_region[uint32_t(r)]) << r;
    const nlohmann::json& row = table["regions"][r];
    EXPECT_EQ(row["cells"].get<size_t>(), by_region[uint32_t(r)].size());
    const auto runs = dir / "out" / "runs" / ("r" + std::to_string(r));
    const auto transfer = read_h5_rows<int32_t>(runs / "without-seed0" / "held-out" / "ratings.h5", "level", H5T_NATIVE_INT32);
    const auto alone = read_h5_rows<int32_t>(runs / "alone-seed0" / "held-out" / "ratings.h5", "level", H5T_NATIVE_INT32);
    ASSERT_EQ(transfer.size(), by_region[uint32_t(r)].size());
    EXPECT_NEAR(row["ari"]["mean"].get<double>(), adjusted_rand_index(transfer, alone), 1e-12);
    // The transfer model never saw the region: its training data is the other regions' shards.
    const nlohmann::json metrics = read_json(runs / "without-seed0" / "metrics.json");
    EXPECT_EQ(metrics["evaluation"]["cells"].get<size_t>(), 3000 - by_region[uint32_t(r)].size());
  }
  const std::string md = read_text(dir / "out" / "loro.md");
  EXPECT_NE(md.find("| metro-a |"), std::string::npos) << md;
}

}  // namespace
}  // namespace resilinet
