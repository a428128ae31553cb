// `resilinet rate`'s files against the model and the shards: probabilities per level that agree
// with the rated level, risk classes recounted from the hazard quintiles, priority cells equal to a
// direct filter, and CSV and GeoJSON that carry the same cells.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "datasets/shard_set.hpp"
#include "small_run.hpp"
#include "trainer/stages/training.hpp"

using namespace resilinet;
namespace rt = resilinet::testing;

TEST(Ratings, LevelProbabilitiesRiskClassesAndPriorityMatchARecount) {
  const rt::SmallRun& run = rt::small_trained_run();
  const auto out = run.dir / "ratings";
  const auto res = rt::run_resilinet("rate --quiet --checkpoint " + run.checkpoint + " --data '" + run.data +
                                     "' --out " + out.string());
  ASSERT_EQ(res.exit_code, 0) << res.output;
  const auto h5 = out / "ratings.h5";
  const auto level = rt::read_h5_rows<int32_t>(h5, "level", H5T_NATIVE_INT32);
  const auto p = rt::read_h5_rows<float>(h5, "p_level", H5T_NATIVE_FLOAT);
  const auto risk = rt::read_h5_rows<int8_t>(h5, "risk_class", H5T_NATIVE_INT8);
  const auto priority = rt::read_h5_rows<int8_t>(h5, "priority", H5T_NATIVE_INT8);
  const size_t n = level.size(), K = 5;
  ASSERT_EQ(n, 12000u);
  ASSERT_EQ(p.size(), n * K);

  // The hazard of every cell, in the order rate writes them (natural order).
  const ShardSet data = ShardSet::open(run.data);
  std::vector<double> hazard;
  for_each_scaled_batch(data, 65536, nullptr, 4096,
                        [&](const Batch& b, const float*) { hazard.insert(hazard.end(), b.hazard, b.hazard + b.rows); });
  ASSERT_EQ(hazard.size(), n);
  std::vector<double> sorted;
  for (double h : hazard)
    if (std::isfinite(h)) sorted.push_back(h);
  std::sort(sorted.begin(), sorted.end());
  std::vector<double> cuts;
  for (size_t k = 1; k < 5; ++k) cuts.push_back(sorted[sorted.size() * k / 5]);

  size_t priority_cells = 0;
  std::vector<size_t> class_cells(6, 0);
  for (size_t i = 0; i < n; ++i) {
    const float* pi = p.data() + i * K;
    double sum = 0;
    for (size_t k = 0; k < K; ++k) sum += pi[k];
    EXPECT_NEAR(sum, 1.0, 1e-5) << "cell " << i;
    EXPECT_EQ(int32_t(std::max_element(pi, pi + K) - pi) + 1, level[i]) << "cell " << i;
    int expected_class = 0;
    if (std::isfinite(hazard[i])) expected_class = 1 + int(std::count_if(cuts.begin(), cuts.end(), [&](double c) { return c <= hazard[i]; }));
    EXPECT_EQ(risk[i], expected_class) << "cell " << i << " hazard " << hazard[i];
    const bool expected_priority = expected_class >= 4 && level[i] >= 1 && level[i] <= 2;
    EXPECT_EQ(priority[i], int8_t(expected_priority)) << "cell " << i;
    priority_cells += expected_priority;
    ++class_cells[size_t(expected_class)];
  }
  EXPECT_GT(priority_cells, 0u);
  for (int c = 1; c <= 5; ++c) EXPECT_NEAR(double(class_cells[c]) / double(n - class_cells[0]), 0.2, 0.01);

  // The CSV and GeoJSON carry the same cells, with the probabilities, risk class and flag.
  std::ifstream csv(out / "ratings.csv");
  std::string header, line;
  std::getline(csv, header);
  EXPECT_EQ(header.rfind("cell_id,region,lon,lat,level,cluster_level,p_level1,p_level2,p_level3,p_level4,p_level5,"
                         "hazard,risk_class,priority,z1",
                         0),
            0u)
      << header;
  size_t csv_rows = 0;
  while (std::getline(csv, line)) ++csv_rows;
  EXPECT_EQ(csv_rows, n);
  std::ifstream geojson(out / "ratings.geojson");
  const nlohmann::json g = nlohmann::json::parse(geojson);
  ASSERT_EQ(g["features"].size(), n);
  for (size_t i = 0; i < n; i += 997) {
    const auto& props = g["features"][i]["properties"];
    EXPECT_EQ(props["level"].get<int32_t>(), level[i]);
    EXPECT_EQ(props["risk_class"].get<int>(), risk[i]);
    EXPECT_EQ(props["priority"].get<int>(), priority[i]);
    ASSERT_EQ(props["p_level"].size(), K);
    EXPECT_NEAR(props["p_level"][size_t(level[i] - 1)].get<double>(), p[i * K + size_t(level[i] - 1)], 1e-5);
  }
}

// Off a terminal (stderr is a pipe here) a stage prints a few lines at most, and one that ends
// within a second prints only its end line. A finished run is not replaced by mistake.
TEST(Progress, OffATerminalAFewLinesPerStage) {
  const rt::SmallRun& run = rt::small_trained_run();
  const auto dir = rt::scratch_dir();
  rt::write_text(dir / "train.yaml", "data: '" + run.data + "'\nrun: {dir: " + (dir / "run").string() +
                                         "}\npretrain: {epochs: 2, min_steps: 0}\nclassifier: {epochs: 2, min_steps: 0}\n");
  const auto train = rt::run_resilinet("train --config " + (dir / "train.yaml").string());
  ASSERT_EQ(train.exit_code, 0) << train.output;
  std::map<std::string, int> lines;  // per stage: its "[stage] ..." lines
  std::istringstream in(train.output);
  for (std::string line; std::getline(in, line);)
    if (line.size() > 2 && line[0] == '[') ++lines[line.substr(1, line.find(']') - 1)];
  EXPECT_GE(lines.size(), 3u) << train.output;
  for (const auto& [stage, count] : lines) EXPECT_LE(count, 4) << stage << "\n" << train.output;

  // The folder now holds a finished run: training into it again is refused unless --overwrite;
  // --resume goes on (here: nothing left to do).
  const std::string again = "train --quiet --config " + (dir / "train.yaml").string();
  const auto refused = rt::run_resilinet(again);
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find((dir / "run" / "checkpoint.h5").string() + ": run.dir: expected a run folder without "
                                "a run in it (--overwrite replaces the run, --resume continues it)"),
            std::string::npos)
      << refused.output;
  const auto before = std::filesystem::last_write_time(dir / "run" / "checkpoint.h5");
  EXPECT_EQ(rt::run_resilinet(again + " --resume").exit_code, 0);
  EXPECT_EQ(std::filesystem::last_write_time(dir / "run" / "checkpoint.h5"), before);
  const auto replaced = rt::run_resilinet(again + " --overwrite");
  EXPECT_EQ(replaced.exit_code, 0) << replaced.output;
  EXPECT_NE(std::filesystem::last_write_time(dir / "run" / "checkpoint.h5"), before);
  EXPECT_EQ(rt::run_resilinet(again + " --overwrite --resume").exit_code, 2);

  const auto rate = rt::run_resilinet("rate --format hdf5 --checkpoint " + run.checkpoint + " --data '" + run.data +
                                      "' --out " + (dir / "ratings").string());
  ASSERT_EQ(rate.exit_code, 0) << rate.output;
  EXPECT_EQ(std::count(rate.output.begin(), rate.output.end(), '\n'), 1) << rate.output;  // 12,000 cells: well under 2 s
  EXPECT_EQ(rate.output.rfind("[rate] done in", 0), 0u) << rate.output;
}

// --no-latent leaves out q and z and nothing else: the other columns are those of a full rating
// (without z the encoder runs only for the cells with a missing value; most of these have none).
TEST(Ratings, NoLatentLeavesOutQAndZOnly) {
  const rt::SmallRun& run = rt::small_trained_run();
  const auto dir = rt::scratch_dir();
  for (const char* flag : {"", "--no-latent"}) {
    const auto res = rt::run_resilinet("rate --quiet --checkpoint " + run.checkpoint + " --data '" + run.data + "' --out " +
                                       (dir / (std::string("out") + flag)).string() + " " + flag);
    ASSERT_EQ(res.exit_code, 0) << res.output;
  }
  const auto full = dir / "out" / "ratings.h5", lean = dir / "out--no-latent" / "ratings.h5";
  EXPECT_EQ(rt::read_h5_rows<int32_t>(lean, "level", H5T_NATIVE_INT32), rt::read_h5_rows<int32_t>(full, "level", H5T_NATIVE_INT32));
  EXPECT_EQ(rt::read_h5_rows<int32_t>(lean, "cluster_level", H5T_NATIVE_INT32),
            rt::read_h5_rows<int32_t>(full, "cluster_level", H5T_NATIVE_INT32));
  EXPECT_EQ(rt::read_h5_rows<float>(lean, "p_level", H5T_NATIVE_FLOAT), rt::read_h5_rows<float>(full, "p_level", H5T_NATIVE_FLOAT));
  EXPECT_EQ(rt::read_h5_rows<int8_t>(lean, "risk_class", H5T_NATIVE_INT8), rt::read_h5_rows<int8_t>(full, "risk_class", H5T_NATIVE_INT8));
  const auto has = [](const std::filesystem::path& file, const char* name) {
    return rt::run_command(std::string("/usr/bin/python3 -c \"import h5py,sys; sys.exit(0 if '") + name + "' in h5py.File('" +
                           file.string() + "', 'r') else 1)\"").exit_code == 0;
  };
  EXPECT_TRUE(has(full, "z") && has(full, "q"));
  EXPECT_FALSE(has(lean, "z") || has(lean, "q"));
  const std::string header = rt::read_text(dir / "out--no-latent" / "ratings.csv").substr(0, 400);
  EXPECT_EQ(header.find(",z1"), std::string::npos) << header;
  // compare reads a lean rating like a full one.
  const auto cmp = rt::run_resilinet("compare --ratings " + full.string() + " --ratings " + lean.string() + " --out " +
                                     (dir / "cmp").string());
  ASSERT_EQ(cmp.exit_code, 0) << cmp.output;
  const auto summary = nlohmann::json::parse(rt::read_text(dir / "cmp" / "compare.json"));
  EXPECT_EQ(summary["all_regions"]["same"].get<int64_t>(), summary["all_regions"]["matched"].get<int64_t>());
}
