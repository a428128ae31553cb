// Tests of the per-level explanation summaries (trainer/explain/explain_summary.hpp): values worked out by
// hand on tiny examples, two batches == one batch, level checks. Not a test of LRP itself.
#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "trainer/explain/explain_summary.hpp"

namespace resilinet {
namespace {

// f0: A/redundancy, f1: A/robustness, f2: B/redundancy, f3: B/resourcefulness.
Schema four_features() {
  Schema s;
  s.features = {{"f0", "A", "redundancy", 1, ""},
                {"f1", "A", "robustness", 1, ""},
                {"f2", "B", "redundancy", -1, ""},
                {"f3", "B", "resourcefulness", 1, ""}};
  return s;
}

void expect_entry(const nlohmann::json& e, const std::string& name, double mean, double mean_abs) {
  EXPECT_EQ(e.at("name"), name);
  EXPECT_NEAR(e.at("mean").get<double>(), mean, 1e-12) << name;
  EXPECT_NEAR(e.at("mean_abs").get<double>(), mean_abs, 1e-12) << name;
}

TEST(RelevanceSummary, HandWorkedExample) {
  RelevanceSummary summary(four_features());
  // cell     f0    f1    f2     f3     level
  const std::vector<float> relevance = {1.0f, -2.0f, 3.0f,  0.0f,    // 1
                                        3.0f, 4.0f,  -2.0f, 1.0f,    // 1
                                        0.5f, 0.0f,  -0.5f, 0.25f};  // 3
  const std::vector<int32_t> levels = {1, 1, 3};
  summary.add(relevance.data(), levels.data(), 3);
  const nlohmann::json j = summary.to_json();
  EXPECT_EQ(j.at("cells"), 3);
  ASSERT_EQ(j.at("levels").size(), 5u);

  const nlohmann::json& l1 = j["levels"][0];
  EXPECT_EQ(l1.at("level"), 1);
  EXPECT_EQ(l1.at("cells"), 2);
  expect_entry(l1["features"][0], "f0", 2.0, 2.0);
  expect_entry(l1["features"][1], "f1", 1.0, 3.0);
  expect_entry(l1["features"][2], "f2", 0.5, 2.5);
  expect_entry(l1["features"][3], "f3", 0.5, 0.5);
  // A = f0 + f1 per cell: -1, 7; B = f2 + f3: 3, -1.
  expect_entry(l1["systems"][0], "A", 3.0, 4.0);
  expect_entry(l1["systems"][1], "B", 1.0, 2.0);
  // Known component order; redundancy = f0 + f2 per cell: 4, 1.
  expect_entry(l1["components"][0], "robustness", 1.0, 3.0);
  expect_entry(l1["components"][1], "redundancy", 2.5, 2.5);
  expect_entry(l1["components"][2], "resourcefulness", 0.5, 0.5);
  ASSERT_EQ(l1["top_features"].size(), 3u);
  EXPECT_EQ(l1["top_features"][0]["name"], "f1");
  EXPECT_EQ(l1["top_features"][1]["name"], "f2");
  EXPECT_EQ(l1["top_features"][2]["name"], "f0");
  EXPECT_NEAR(l1["top_features"][0]["mean_abs"].get<double>(), 3.0, 1e-12);

  const nlohmann::json& l3 = j["levels"][2];
  EXPECT_EQ(l3.at("cells"), 1);
  expect_entry(l3["features"][2], "f2", -0.5, 0.5);
  expect_entry(l3["systems"][1], "B", -0.25, 0.25);
  expect_entry(l3["components"][1], "redundancy", 0.0, 0.0);  // 0.5 - 0.5 cancels within the cell
  // f0 and f2 tie at 0.5: schema order.
  EXPECT_EQ(l3["top_features"][0]["name"], "f0");
  EXPECT_EQ(l3["top_features"][1]["name"], "f2");
  EXPECT_EQ(l3["top_features"][2]["name"], "f3");

  const nlohmann::json& l2 = j["levels"][1];
  EXPECT_EQ(l2.at("cells"), 0);
  EXPECT_TRUE(l2["features"][0]["mean"].is_null());
  EXPECT_TRUE(l2["top_features"].empty());

  const nlohmann::json& all = j.at("all");
  EXPECT_EQ(all.at("cells"), 3);
  expect_entry(all["features"][0], "f0", 4.5 / 3, 4.5 / 3);
  expect_entry(all["features"][1], "f1", 2.0 / 3, 6.0 / 3);
  expect_entry(all["systems"][0], "A", 6.5 / 3, 8.5 / 3);
  EXPECT_EQ(all["top_features"][0]["name"], "f1");
}

TEST(RelevanceSummary, TwoBatchesEqualOneBatch) {
  const size_t rows = 1000;
  std::mt19937_64 rng(3);
  std::normal_distribution<float> n(0.0f, 1.0f);
  std::vector<float> relevance(rows * 4);
  std::vector<int32_t> levels(rows);
  for (auto& v : relevance) v = n(rng);
  for (auto& l : levels) l = int32_t(1 + rng() % 5);
  RelevanceSummary one(four_features()), two(four_features()), first(four_features()),
      second(four_features());
  one.add(relevance.data(), levels.data(), rows);
  two.add(relevance.data(), levels.data(), 377);
  two.add(relevance.data() + 377 * 4, levels.data() + 377, rows - 377);
  EXPECT_EQ(one.to_json().dump(), two.to_json().dump());
  EXPECT_EQ(two.cells(), rows);
  // Merged partial summaries agree up to rounding.
  first.add(relevance.data(), levels.data(), 500);
  second.add(relevance.data() + 500 * 4, levels.data() + 500, rows - 500);
  first.merge(second);
  const nlohmann::json a = one.to_json(), b = first.to_json();
  for (int l = 0; l < 5; ++l)
    for (int f = 0; f < 4; ++f)
      EXPECT_NEAR(a["levels"][l]["features"][f]["mean_abs"].get<double>(),
                  b["levels"][l]["features"][f]["mean_abs"].get<double>(), 1e-12);
}

TEST(RelevanceSummary, RejectsLevelsOutsideTheRange) {
  RelevanceSummary summary(four_features());
  std::vector<float> relevance(8, 1.0f);
  std::vector<int32_t> negative = {1, -1}, six = {6, 1};
  EXPECT_THROW(summary.add(relevance.data(), negative.data(), 2), std::invalid_argument);
  EXPECT_THROW(summary.add(relevance.data(), six.data(), 2), std::invalid_argument);
  EXPECT_EQ(summary.cells(), 0u);
  // Level 0 is a cell that could not be rated (kNotRated): left out, not counted.
  std::vector<int32_t> not_rated = {0, 2};
  summary.add(relevance.data(), not_rated.data(), 2);
  EXPECT_EQ(summary.cells(), 1u);
  EXPECT_THROW(RelevanceSummary(Schema{}), std::invalid_argument);
}

// level = 1 + number of thresholds 0.2, 0.4, 0.6, 0.8 below x0; x1 plays no part.
void rate_by_first_feature(const float* x, size_t rows, int32_t* level) {
  for (size_t r = 0; r < rows; ++r) {
    int l = 1;
    for (float t : {0.2f, 0.4f, 0.6f, 0.8f}) l += x[r * 2] > t ? 1 : 0;
    level[r] = l;
  }
}

Schema two_features() {
  Schema s;
  s.features = {{"x0", "A", "robustness", 1, ""}, {"x1", "B", "redundancy", 1, ""}};
  return s;
}

TEST(PerturbationSensitivity, HandWorkedExample) {
  // x0 = 0.15 (level 1): +0.1 -> level 2; 0.55 (3): +0.1 -> 4; 0.45 (3): -0.1 -> 2; 0.95 (5): none.
  const std::vector<float> x = {0.15f, 0.3f, 0.55f, 0.9f, 0.45f, 0.1f, 0.95f, 0.5f};
  const std::vector<int32_t> levels = {1, 3, 3, 5};
  const std::vector<float> copy = x;
  int calls = 0;
  RateFunction rate = [&](const float* rows_x, size_t rows, int32_t* level) {
    ++calls;
    rate_by_first_feature(rows_x, rows, level);
  };
  PerturbationSensitivity sens(two_features(), 0.1);
  sens.add(rate, x.data(), levels.data(), 4);
  EXPECT_EQ(calls, 4);  // 2 features x 2 signs
  EXPECT_EQ(x, copy);
  const nlohmann::json j = sens.to_json();
  EXPECT_EQ(j.at("cells"), 4);
  EXPECT_EQ(j.at("cells_per_level"), nlohmann::json({1, 0, 2, 0, 1}));
  EXPECT_DOUBLE_EQ(j.at("delta").get<double>(), 0.1);
  const nlohmann::json& x0 = j["features"][0];
  EXPECT_EQ(x0.at("name"), "x0");
  EXPECT_DOUBLE_EQ(x0["plus"]["changed"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(x0["plus"]["up"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(x0["plus"]["down"].get<double>(), 0.0);
  EXPECT_EQ(x0["plus"]["changed_per_level"], nlohmann::json({1.0, nullptr, 0.5, nullptr, 0.0}));
  EXPECT_DOUBLE_EQ(x0["minus"]["changed"].get<double>(), 0.25);
  EXPECT_DOUBLE_EQ(x0["minus"]["down"].get<double>(), 0.25);
  EXPECT_EQ(x0["minus"]["changed_per_level"], nlohmann::json({0.0, nullptr, 0.5, nullptr, 0.0}));
  const nlohmann::json& x1 = j["features"][1];
  EXPECT_DOUBLE_EQ(x1["plus"]["changed"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(x1["minus"]["changed"].get<double>(), 0.0);

  // The same cells in two batches give the same report.
  PerturbationSensitivity split(two_features(), 0.1);
  split.add(rate, x.data(), levels.data(), 1);
  split.add(rate, x.data() + 2, levels.data() + 1, 3);
  EXPECT_EQ(split.to_json().dump(), j.dump());
}

TEST(PerturbationSensitivity, RejectsBadSettings) {
  EXPECT_THROW(PerturbationSensitivity(two_features(), 0.0), std::invalid_argument);
  EXPECT_THROW(PerturbationSensitivity(two_features(), -0.1), std::invalid_argument);
  PerturbationSensitivity sens(two_features());
  std::vector<float> x = {0.5f, 0.5f};
  std::vector<int32_t> bad = {7};
  EXPECT_THROW(sens.add(rate_by_first_feature, x.data(), bad.data(), 1), std::invalid_argument);
}

}  // namespace
}  // namespace resilinet
