// `resilinet explain` end to end: on cells whose level is driven by a known subset of features (a
// planted truth), the classifier head is trained on those levels, and the drivers must rank in the
// top 3 by mean |relevance| for every level. Also: outputs are complete and consistent, and a
// checkpoint/data schema mismatch exits with code 2 leaving no output.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "datasets/h5.hpp"
#include "datasets/shard.hpp"
#include "kernels/ops.hpp"
#include "test_support.hpp"
#include "trainer/model/checkpoint.hpp"
#include "trainer/model/optimizer.hpp"

namespace rt = resilinet::testing;
using namespace resilinet;

namespace {

constexpr size_t kRows = 20000, kFeatures = 6;

Schema driver_schema() {
  Schema s;
  s.features = {{"d0", "facility", "robustness", 1, "1"},      {"d1", "infrastructure", "redundancy", 1, "1"},
                {"d2", "society", "resourcefulness", 1, "1"},  {"n0", "facility", "redundancy", 1, "1"},
                {"n1", "infrastructure", "resourcefulness", 1, "1"}, {"n2", "society", "robustness", 1, "1"}};
  return s;
}

// Features uniform in [0,1]; the level is the quintile of d0 + d1 + d2 (n* are pure noise).
ShardColumns driver_cells(std::vector<int32_t>& level) {
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  ShardColumns c;
  c.resize(kRows, kFeatures, false, false, false);
  std::vector<float> score(kRows);
  for (size_t i = 0; i < kRows; ++i) {
    c.cell_id[i] = int64_t(i);
    c.region[i] = 0;
    c.lonlat[2 * i] = -90 + 0.001 * double(i % 100);
    c.lonlat[2 * i + 1] = 30 + 0.001 * double(i / 100);
    for (size_t f = 0; f < kFeatures; ++f) c.features[i * kFeatures + f] = u(rng);
    score[i] = c.features[i * kFeatures] + c.features[i * kFeatures + 1] + c.features[i * kFeatures + 2];
  }
  std::vector<float> sorted = score;
  std::sort(sorted.begin(), sorted.end());
  level.resize(kRows);
  for (size_t i = 0; i < kRows; ++i)
    level[i] = int32_t(std::upper_bound(sorted.begin(), sorted.end(), score[i]) - sorted.begin() - 1) * 5 / int32_t(kRows) + 1;
  return c;
}

// A checkpoint whose classifier head is trained (supervised) on the planted levels.
std::string driver_checkpoint(const std::filesystem::path& dir, const ShardColumns& cells,
                              const std::vector<int32_t>& level) {
  TrainConfig config;
  Checkpoint ck;
  ck.config = config;
  ck.model = assemble_model(config, driver_schema());
  Model& m = ck.model;
  ScalerFitter fitter(kFeatures);
  fitter.add(cells.features.data(), cells.cell_id.data(), kRows);
  m.scaler = fitter.finish(ScalerConfig{.type = "minmax"}, "cells");
  std::vector<float> x(kRows * kFeatures);
  m.scaler.transform(cells.features.data(), kRows, x.data());
  std::vector<int32_t> labels(kRows);
  for (size_t i = 0; i < kRows; ++i) labels[i] = level[i] - 1;
  OptimizerConfig opt;
  opt.lr = 3e-3;
  // L2 keeps the weights of the unused (noise) inputs near zero. Without it the z^B rule, which
  // measures relevance against the box bounds, credits every input in proportion to |w| even where
  // the downstream layers cancel its effect on the logit.
  opt.weight_decay = 1e-2;
  AdamState adam(opt, m.classifier.param_count);
  std::vector<float> grads(m.classifier.param_count);
  const size_t batch = 256;
  for (int epoch = 0; epoch < 25; ++epoch)
    for (size_t first = 0; first + batch <= kRows; first += batch) {
      kernels::LossSpec loss{kernels::LossKind::softmax_cross_entropy, 1.0f, nullptr, labels.data() + first, 0};
      kernels::cpu::mlp_forward_backward(m.classifier, m.classifier_params.data(), x.data() + first * kFeatures,
                                         batch, loss, nullptr, grads.data());
      adam.apply(m.classifier_params.data(), grads.data());
    }
  std::string path = (dir / "checkpoint.h5").string();
  write_checkpoint(path, ck);
  return path;
}

// One shard of the cells under dir/name with the given schema; returns the folder.
std::string write_cells(const std::filesystem::path& dir, const char* name, const Schema& schema,
                        const ShardColumns& cells) {
  std::filesystem::create_directories(dir / name);
  ShardWriter w((dir / name / "part-0.h5").string(), schema, {"grid"});
  w.append(cells);
  w.commit();
  return (dir / name).string();
}

}  // namespace

TEST(Explain, PlantedDriversRankTopForEveryLevel) {
  auto dir = rt::scratch_dir();
  std::vector<int32_t> level;
  ShardColumns cells = driver_cells(level);
  const std::string data = write_cells(dir, "data", driver_schema(), cells);
  std::string ck = driver_checkpoint(dir, cells, level);
  auto r = rt::run_resilinet("explain --quiet --checkpoint " + ck + " --data " + data +
                             " --out " + (dir / "explain").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;

  std::ifstream in(dir / "explain" / "explain_summary.json");
  nlohmann::json summary = nlohmann::json::parse(in);
  ASSERT_EQ(summary["cells"].get<size_t>(), kRows);
  const std::set<std::string> drivers = {"d0", "d1", "d2"};
  const auto& levels = summary["relevance"]["levels"];
  ASSERT_EQ(levels.size(), 5u);
  for (const auto& lv : levels) {
    ASSERT_GT(lv["cells"].get<int>(), 1000) << lv.dump();
    std::set<std::string> top;
    for (const auto& t : lv["top_features"]) top.insert(t.is_string() ? t.get<std::string>() : t["name"].get<std::string>());
    EXPECT_EQ(top, drivers) << "level " << lv["level"] << ": " << lv["top_features"].dump();
  }
  // The same planted drivers dominate the gradient x input aggregate over all cells.
  std::vector<std::pair<double, std::string>> gxi;
  for (const auto& f : summary["gradient_x_input"]["all"]["features"])
    gxi.push_back({f["mean_abs"].get<double>(), f["name"].get<std::string>()});
  std::sort(gxi.rbegin(), gxi.rend());
  EXPECT_EQ((std::set<std::string>{gxi[0].second, gxi[1].second, gxi[2].second}), drivers);
  // Perturbing a driver changes more levels than perturbing noise.
  ASSERT_TRUE(summary.contains("perturbation"));

  // relevance.h5 holds one row per cell, in the same order as the data.
  auto f = h5::open_file_read_only((dir / "explain" / "relevance.h5").string());
  auto rel = h5::open_row_dataset(f, "relevance");
  auto dims = h5::dataset_dims(rel);
  EXPECT_EQ(dims, (std::vector<hsize_t>{kRows, kFeatures}));
  std::vector<int64_t> ids(kRows);
  h5::read_rows(h5::open_row_dataset(f, "cell_id"), H5T_NATIVE_INT64, 0, kRows, ids.data());
  for (size_t i = 0; i < kRows; ++i) ASSERT_EQ(ids[i], int64_t(i));

  // --summary-only writes the same summary and no per-cell file; --format csv only the CSV.
  r = rt::run_resilinet("explain --quiet --summary-only --checkpoint " + ck + " --data " + data + " --out " +
                        (dir / "summary-only").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  nlohmann::json only = nlohmann::json::parse(rt::read_text(dir / "summary-only" / "explain_summary.json"));
  EXPECT_EQ(only["relevance"], summary["relevance"]);
  EXPECT_EQ(only["perturbation"], summary["perturbation"]);
  EXPECT_FALSE(std::filesystem::exists(dir / "summary-only" / "relevance.h5"));
  EXPECT_FALSE(std::filesystem::exists(dir / "summary-only" / "relevance.csv"));
  r = rt::run_resilinet("explain --quiet --format csv --checkpoint " + ck + " --data " + data + " --out " +
                        (dir / "csv").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(rt::read_text(dir / "csv" / "relevance.csv"), rt::read_text(dir / "explain" / "relevance.csv"));
  EXPECT_FALSE(std::filesystem::exists(dir / "csv" / "relevance.h5"));
}

TEST(Explain, SchemaMismatchExitsTwoWithoutOutput) {
  auto dir = rt::scratch_dir();
  std::vector<int32_t> level;
  ShardColumns cells = driver_cells(level);
  std::string ck = driver_checkpoint(dir, cells, level);
  Schema other = driver_schema();
  other.features[4].name = "renamed";
  const std::string other_data = write_cells(dir, "other", other, cells);
  auto r = rt::run_resilinet("explain --checkpoint " + ck + " --data " + other_data + " --out " +
                             (dir / "explain").string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("renamed"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "explain" / "relevance.h5"));

  rt::write_text(dir / "bad.yaml", "lrp: {middle: {rule: alpha_beta, alpha: 2, beta: 2}}\n");
  r = rt::run_resilinet("explain --config " + (dir / "bad.yaml").string() + " --checkpoint " + ck + " --data " +
                        other_data + " --out " + (dir / "explain").string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
}

TEST(Explain, InvalidRuleSettingsExitTwo) {
  auto dir = rt::scratch_dir();
  std::vector<int32_t> level;
  ShardColumns cells = driver_cells(level);
  const std::string data = write_cells(dir, "data", driver_schema(), cells);
  std::string ck = driver_checkpoint(dir, cells, level);
  for (const char* yaml : {"lrp: {middle: {rule: alpha_beta, alpha: 2, beta: 2}}\n", "lrp: {top: {rule: magic}}\n",
                           "lrp: {seed: 9}\n", "sensitivity: {delta: -1}\n", "sensitivity: {delta: .inf}\n",
                           "lrp: {middle: {rule: zbox}}\n", "lrp: {top: {rule: zbox}}\n"}) {
    rt::write_text(dir / "bad.yaml", yaml);
    auto r = rt::run_resilinet("explain --config " + (dir / "bad.yaml").string() + " --checkpoint " + ck +
                               " --data " + data + " --out " + (dir / "explain").string());
    EXPECT_EQ(r.exit_code, 2) << yaml << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  }
  // The command line's --delta meets the same check (NaN used to fall back to 0.1 silently).
  for (const char* delta : {"nan", "inf", "-0.5", "0"}) {
    auto r = rt::run_resilinet(std::string("explain --delta ") + delta + " --checkpoint " + ck + " --data " + data +
                               " --out " + (dir / "explain").string());
    EXPECT_EQ(r.exit_code, 2) << delta << ": " << r.output;
    EXPECT_NE(r.output.find("--delta"), std::string::npos) << r.output;
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "explain" / "relevance.h5"));
}
