// `resilinet report`: its counts against an independent recount from the shards and `rate`'s output
// (levels per region, the hazard quintile x level table, priority cells, feature means by level),
// a self-contained HTML page, and bad input.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "datasets/h5.hpp"
#include "datasets/shard_set.hpp"
#include "test_support.hpp"
#include "trainer/model/config.hpp"
#include "trainer/stages/train_run.hpp"
#include "trainer/stages/training.hpp"

using namespace resilinet;
namespace rt = resilinet::testing;

namespace {

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Trained {
  std::filesystem::path dir;
  std::string data, checkpoint;
};

const Trained& trained() {
  static Trained t = [] {
    Trained r;
    r.dir = rt::scratch_dir();
    auto res = rt::run_resilinet("synth --quiet --out " + (r.dir / "data").string() + " --cells 12000 --regions 2 --seed 5");
    EXPECT_EQ(res.exit_code, 0) << res.output;
    r.data = (r.dir / "data" / "*.h5").string();
    TrainConfig c = load_train_config(std::string(RESILINET_SOURCE_DIR) + "/configs/default.yaml");
    c.data = r.data;
    c.run_dir = (r.dir / "run").string();
    c.pretrain.epochs = 3;
    c.pretrain.min_steps = 0;
    c.classifier.epochs = 3;
    c.classifier.min_steps = 0;
    r.checkpoint = train_model(c, true).checkpoint_path;
    return r;
  }();
  return t;
}

}  // namespace

TEST(Report, CountsMatchARecountFromShardsAndRatings) {
  const Trained& t = trained();
  const auto out = t.dir / "report";
  auto r = rt::run_resilinet("report --quiet --checkpoint " + t.checkpoint + " --data '" + t.data + "' --out " +
                             out.string() + " --metrics " + (t.dir / "run" / "metrics.json").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = rt::run_resilinet("rate --quiet --format hdf5 --checkpoint " + t.checkpoint + " --data '" + t.data +
                        "' --out " + (t.dir / "ratings").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto report = nlohmann::json::parse(read_file(out / "report.json"));

  // The recount: levels from `rate`, hazard and region from the shards, both in natural order.
  std::vector<int32_t> level;
  {
    auto f = h5::open_file_read_only((t.dir / "ratings" / "ratings.h5").string());
    auto ds = h5::open_row_dataset(f, "level");
    level.resize(h5::dataset_dims(ds)[0]);
    h5::read_rows(ds, H5T_NATIVE_INT32, 0, level.size(), level.data());
  }
  ShardSet data = ShardSet::open(t.data);
  const size_t F = data.schema().size();
  std::vector<uint32_t> region;
  std::vector<double> hazard;
  std::vector<float> x;
  for_each_scaled_batch(data, 65536, nullptr, 4096, [&](const Batch& b, const float*) {
    region.insert(region.end(), b.region, b.region + b.rows);
    hazard.insert(hazard.end(), b.hazard, b.hazard + b.rows);
    x.insert(x.end(), b.x, b.x + b.rows * F);
  });
  ASSERT_EQ(level.size(), region.size());
  std::vector<double> sorted = hazard;
  std::sort(sorted.begin(), sorted.end());
  std::vector<double> cuts;
  for (int k = 1; k < 5; ++k) cuts.push_back(sorted[sorted.size() * k / 5]);
  const size_t regions = data.region_names().size();
  std::vector<std::vector<uint64_t>> level_cells(regions, std::vector<uint64_t>(5, 0));
  std::vector<std::vector<std::vector<uint64_t>>> table(regions, std::vector<std::vector<uint64_t>>(5, std::vector<uint64_t>(5, 0)));
  std::vector<uint64_t> priority(regions, 0);
  double sum_age_level1 = 0, count_age_level1 = 0;  // feature 0 (building_age) at level 1
  for (size_t i = 0; i < level.size(); ++i) {
    const int risk = int(std::upper_bound(cuts.begin(), cuts.end(), hazard[i]) - cuts.begin());
    ++level_cells[region[i]][level[i] - 1];
    ++table[region[i]][risk][level[i] - 1];
    priority[region[i]] += risk >= 3 && level[i] <= 2;
    if (level[i] == 1 && !std::isnan(x[i * F])) sum_age_level1 += x[i * F], count_age_level1 += 1;
  }

  ASSERT_EQ(report["regions"].size(), regions);
  uint64_t total_priority = 0;
  for (size_t g = 0; g < regions; ++g) {
    const auto& rg = report["regions"][g];
    EXPECT_EQ(rg["name"], data.region_names()[g]);
    EXPECT_EQ(rg["level_cells"].get<std::vector<uint64_t>>(), level_cells[g]) << "region " << g;
    EXPECT_EQ(rg["risk_by_level"].get<std::vector<std::vector<uint64_t>>>(), table[g]) << "region " << g;
    EXPECT_EQ(rg["priority_cells"].get<uint64_t>(), priority[g]) << "region " << g;
    total_priority += priority[g];
  }
  EXPECT_GT(total_priority, 0u);  // the synthetic hazard is higher at low levels
  EXPECT_EQ(report["all_regions"]["cells"].get<uint64_t>(), level.size());
  EXPECT_EQ(report["risk_classes"]["cuts"].get<std::vector<double>>(), cuts);
  ASSERT_GT(count_age_level1, 0);
  EXPECT_NEAR(report["feature_means_by_level"][0]["features"]["building_age"].get<double>(),
              sum_age_level1 / count_age_level1, 1e-9 * std::abs(sum_age_level1 / count_age_level1));
  EXPECT_TRUE(report.contains("training_metrics"));

  const std::string html = read_file(out / "report.html");
  for (const auto& name : data.region_names()) EXPECT_NE(html.find(name), std::string::npos) << name;
  EXPECT_NE(html.find("<svg"), std::string::npos);
  // Reproducibility and the baseline, with the run's own numbers.
  const auto metrics = nlohmann::json::parse(read_file(t.dir / "run" / "metrics.json"));
  const auto number = [](double v) { return fmt::format("{:.3g}", v); };
  EXPECT_NE(html.find("Reproducibility"), std::string::npos);
  EXPECT_NE(html.find(number(metrics["clusters"]["restart_ari_mean"].get<double>())), std::string::npos);
  EXPECT_NE(html.find("k-means baseline"), std::string::npos);
  EXPECT_NE(html.find(number(metrics["evaluation"]["baseline_kmeans"]["ari_planted"].get<double>())), std::string::npos);
  EXPECT_EQ(html.find("http"), std::string::npos);  // self-contained: no external resources
  EXPECT_EQ(html.find("<script"), std::string::npos);
}

TEST(Report, BadInputExitsWithTwoAndWritesNothing) {
  const Trained& t = trained();
  const auto out = t.dir / "bad";
  auto r = rt::run_resilinet("report --checkpoint " + (t.dir / "none.h5").string() + " --data '" + t.data +
                             "' --out " + out.string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("none.h5"), std::string::npos) << r.output;
  rt::write_text(t.dir / "broken.json", "{\"evaluation\": ");
  r = rt::run_resilinet("report --checkpoint " + t.checkpoint + " --data '" + t.data + "' --out " + out.string() +
                        " --metrics " + (t.dir / "broken.json").string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("broken.json"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(out / "report.html"));
  EXPECT_FALSE(std::filesystem::exists(out / "report.json"));
}
