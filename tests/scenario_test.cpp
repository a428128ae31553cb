// `resilinet scenario` on a small trained model: the identity scenario moves no cell, the most
// resilient training values raise a selection to the top level, a facility edits only the cells
// within its radius, selections equal a direct filter of the shards, goal seeking's answers reach
// the target when applied, and bad scenario files are refused with the scenario and field named.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <numbers>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "datasets/shard_set.hpp"
#include "small_run.hpp"
#include "trainer/model/checkpoint.hpp"
#include "trainer/model/model.hpp"
#include "trainer/stages/training.hpp"

using namespace resilinet;
namespace rt = resilinet::testing;

namespace {

struct Cells {
  std::vector<int64_t> id;
  std::vector<uint32_t> region;
  std::vector<double> lonlat;
  std::vector<float> x;  // raw [n x F]
  std::vector<int32_t> level;  // rated by `rate`
  size_t F = 0;
};

// Every cell of the small run in natural order, with its level from `rate`.
const Cells& cells() {
  static const Cells c = [] {
    const rt::SmallRun& run = rt::small_trained_run();
    Cells out;
    const ShardSet data = ShardSet::open(run.data);
    out.F = data.schema().size();
    for_each_scaled_batch(data, 65536, nullptr, 4096, [&](const Batch& b, const float*) {
      out.id.insert(out.id.end(), b.cell_id, b.cell_id + b.rows);
      out.region.insert(out.region.end(), b.region, b.region + b.rows);
      out.lonlat.insert(out.lonlat.end(), b.lonlat, b.lonlat + 2 * b.rows);
      out.x.insert(out.x.end(), b.x, b.x + b.rows * out.F);
    });
    const auto dir = run.dir / "rated";
    const auto res = rt::run_resilinet("rate --quiet --format hdf5 --checkpoint " + run.checkpoint + " --data '" +
                                       run.data + "' --out " + dir.string());
    EXPECT_EQ(res.exit_code, 0) << res.output;
    out.level = rt::read_h5_rows<int32_t>(dir / "ratings.h5", "level", H5T_NATIVE_INT32);
    return out;
  }();
  return c;
}

struct ScenarioRun {
  rt::CommandResult result;
  std::filesystem::path out;
  nlohmann::json summary;
};

ScenarioRun run_scenario(const std::string& yaml, const std::string& extra = "") {
  const rt::SmallRun& run = rt::small_trained_run();
  ScenarioRun r;
  const auto dir = rt::scratch_dir();
  rt::write_text(dir / "scenarios.yaml", yaml);
  r.out = dir / "out";
  r.result = rt::run_resilinet("scenario --quiet --checkpoint " + run.checkpoint + " --data '" + run.data +
                               "' --scenario " + (dir / "scenarios.yaml").string() + " --out " + r.out.string() +
                               " " + extra);
  if (r.result.exit_code == 0) r.summary = nlohmann::json::parse(rt::read_text(r.out / "scenario_summary.json"));
  return r;
}

int64_t matrix_sum(const nlohmann::json& m) {
  int64_t s = 0;
  for (const auto& row : m)
    for (const auto& v : row) s += v.get<int64_t>();
  return s;
}

double haversine_km(double lon1, double lat1, double lon2, double lat2) {
  const double r = std::numbers::pi / 180, dlat = (lat2 - lat1) * r, dlon = (lon2 - lon1) * r;
  const double a = std::pow(std::sin(dlat / 2), 2) + std::cos(lat1 * r) * std::cos(lat2 * r) * std::pow(std::sin(dlon / 2), 2);
  return 2 * 6371.0088 * std::asin(std::sqrt(a));
}

}  // namespace

TEST(Scenario, IdentityScenarioMovesNoCell) {
  const Cells& c = cells();
  const auto r = run_scenario("scenarios:\n  - name: identity\n    edits:\n"
                              "      - scale: {internet_speed: 1}\n      - add: {poverty: 0}\n");
  ASSERT_EQ(r.result.exit_code, 0) << r.result.output;
  const auto& s = r.summary["scenarios"][0];
  EXPECT_EQ(s["cells_edited"].get<int64_t>(), int64_t(c.id.size()));
  EXPECT_EQ(matrix_sum(s["transitions"]), int64_t(c.id.size()));
  for (size_t a = 0; a < 5; ++a)
    for (size_t z = 0; z < 5; ++z)
      if (a != z) EXPECT_EQ(s["transitions"][a][z].get<int64_t>(), 0) << a << " -> " << z;
  EXPECT_EQ(s["improved"].get<int64_t>() + s["worse"].get<int64_t>(), 0);
  EXPECT_EQ(s["out_of_range_cells"].get<int64_t>(), 0);
  const auto before = rt::read_h5_rows<int32_t>(r.out / "identity" / "cells.h5", "level_before", H5T_NATIVE_INT32);
  EXPECT_EQ(before, c.level);  // the same levels as `rate`
}

TEST(Scenario, MostResilientValuesRaiseTheSelectionToTheTopLevel) {
  const Cells& c = cells();
  const Checkpoint ck = read_checkpoint(rt::small_trained_run().checkpoint);
  std::string set;
  for (size_t f = 0; f < c.F; ++f) {
    const auto& spec = ck.model.schema.features[f];
    const double best = spec.direction > 0 ? ck.model.scaler.max[f] : ck.model.scaler.min[f];
    set += fmt::format("{}{}: {:.9g}", f ? ", " : "", spec.name, best);
  }
  const auto r = run_scenario("scenarios:\n  - name: best\n    edits:\n      - select: {region: metro-a, level: [1, 2]}\n"
                              "        set: {" + set + "}\n");
  ASSERT_EQ(r.result.exit_code, 0) << r.result.output;
  int64_t selected = 0;
  for (size_t i = 0; i < c.id.size(); ++i) selected += c.region[i] == 0 && (c.level[i] == 1 || c.level[i] == 2);
  const auto& s = r.summary["scenarios"][0];
  ASSERT_GT(selected, 100);
  EXPECT_EQ(s["cells_edited"].get<int64_t>(), selected);
  EXPECT_EQ(matrix_sum(s["transitions"]), selected);
  EXPECT_EQ(s["out_of_range_cells"].get<int64_t>(), 0);  // the training range's own ends
  // Every cell is listed with its level after; the ones that did not reach the top say so there.
  const auto after = rt::read_h5_rows<int32_t>(r.out / "best" / "cells.h5", "level_after", H5T_NATIVE_INT32);
  ASSERT_EQ(int64_t(after.size()), selected);
  const auto top = std::count(after.begin(), after.end(), 5);
  EXPECT_EQ(s["transitions"][0][4].get<int64_t>() + s["transitions"][1][4].get<int64_t>(), top);
  EXPECT_GE(double(top), 0.99 * double(selected)) << top << " of " << selected << " reached level 5";
}

TEST(Scenario, FacilityEditsOnlyCellsWithinItsRadius) {
  const Cells& c = cells();
  // The facility sits at the mean position of metro-a's cells.
  double lon = 0, lat = 0, n = 0;
  for (size_t i = 0; i < c.id.size(); ++i)
    if (c.region[i] == 0) lon += c.lonlat[2 * i], lat += c.lonlat[2 * i + 1], ++n;
  lon /= n, lat /= n;
  const double radius = 15;
  const auto r = run_scenario(fmt::format("scenarios:\n  - name: hospital\n    edits:\n"
                                          "      - facility: {{feature: hospitals, lon: {:.6f}, lat: {:.6f}, radius_km: {}, add: 2}}\n",
                                          lon, lat, radius));
  ASSERT_EQ(r.result.exit_code, 0) << r.result.output;
  std::vector<int64_t> within;
  for (size_t i = 0; i < c.id.size(); ++i)
    if (haversine_km(lon, lat, c.lonlat[2 * i], c.lonlat[2 * i + 1]) <= radius) within.push_back(c.id[i]);
  ASSERT_GT(within.size(), 10u);
  ASSERT_LT(within.size(), c.id.size() / 4);
  auto ids = rt::read_h5_rows<int64_t>(r.out / "hospital" / "cells.h5", "cell_id", H5T_NATIVE_INT64);
  std::sort(ids.begin(), ids.end());
  std::sort(within.begin(), within.end());
  EXPECT_EQ(ids, within);
  EXPECT_EQ(matrix_sum(r.summary["scenarios"][0]["transitions"]), int64_t(within.size()));
}

TEST(Scenario, SelectionsEqualADirectFilter) {
  const Cells& c = cells();
  // A box over the middle of metro-b, the same box as a polygon, five ids, and a poverty threshold.
  double lo[2] = {1e9, 1e9}, hi[2] = {-1e9, -1e9};
  for (size_t i = 0; i < c.id.size(); ++i)
    if (c.region[i] == 1)
      for (int k = 0; k < 2; ++k) lo[k] = std::min(lo[k], c.lonlat[2 * i + k]), hi[k] = std::max(hi[k], c.lonlat[2 * i + k]);
  const double x0 = lo[0] + 0.25 * (hi[0] - lo[0]), x1 = lo[0] + 0.6 * (hi[0] - lo[0]);
  const double y0 = lo[1] + 0.3 * (hi[1] - lo[1]), y1 = lo[1] + 0.7 * (hi[1] - lo[1]);
  const size_t poverty = 9;
  const double threshold = 30;
  int64_t in_box = 0, above = 0;
  for (size_t i = 0; i < c.id.size(); ++i) {
    const double lon = c.lonlat[2 * i], lat = c.lonlat[2 * i + 1];
    in_box += lon >= x0 && lon <= x1 && lat >= y0 && lat <= y1;
    above += c.x[i * c.F + poverty] > threshold;  // NaN (missing) is not above
  }
  const std::string box = fmt::format("[{:.9g}, {:.9g}, {:.9g}, {:.9g}]", x0, y0, x1, y1);
  const std::string ring = fmt::format("[[{0:.9g}, {1:.9g}], [{2:.9g}, {1:.9g}], [{2:.9g}, {3:.9g}], [{0:.9g}, {3:.9g}]]",
                                       x0, y0, x1, y1);
  const auto r = run_scenario(
      "scenarios:\n"
      "  - name: box\n    edits:\n      - select: {bbox: " + box + "}\n        add: {hospitals: 1}\n"
      "  - name: polygon\n    edits:\n      - select: {polygon: " + ring + "}\n        add: {hospitals: 1}\n"
      "  - name: ids\n    edits:\n      - select: {ids: [" + fmt::format("{}, {}, {}, {}, {}", c.id[3], c.id[50], c.id[700], c.id[7000], c.id[11999]) +
      "]}\n        add: {hospitals: 1}\n"
      "  - name: poverty\n    edits:\n      - select: {threshold: {feature: poverty, above: 30}}\n        scale: {poverty: 0.9}\n");
  ASSERT_EQ(r.result.exit_code, 0) << r.result.output;
  const auto& s = r.summary["scenarios"];
  ASSERT_GT(in_box, 50);
  EXPECT_EQ(s[0]["cells_edited"].get<int64_t>(), in_box);
  // A cell exactly on the polygon's edge may fall either way; the box's grid has none there.
  EXPECT_EQ(s[1]["cells_edited"].get<int64_t>(), in_box);
  EXPECT_EQ(s[2]["cells_edited"].get<int64_t>(), 5);
  EXPECT_EQ(s[3]["cells_edited"].get<int64_t>(), above);
  for (const auto& one : s) EXPECT_EQ(matrix_sum(one["transitions"]), one["cells_edited"].get<int64_t>());
}

TEST(Scenario, GoalSeekingAnswersReachTheTargetWhenApplied) {
  const Cells& c = cells();
  const auto r = run_scenario("scenarios:\n  - name: lowest\n    edits:\n      - select: {level: 1}\n        scale: {poverty: 1}\n",
                              "--target-level 3");
  ASSERT_EQ(r.result.exit_code, 0) << r.result.output;
  const auto dir = r.out / "lowest";
  const auto ids = rt::read_h5_rows<int64_t>(dir / "cells.h5", "cell_id", H5T_NATIVE_INT64);
  const auto feature = rt::read_h5_rows<int32_t>(dir / "cells.h5", "goal_feature", H5T_NATIVE_INT32);
  const auto value = rt::read_h5_rows<float>(dir / "cells.h5", "goal_value", H5T_NATIVE_FLOAT);
  const auto reached = rt::read_h5_rows<int8_t>(dir / "cells.h5", "goal_reached", H5T_NATIVE_INT8);
  std::map<int64_t, size_t> row_of;
  for (size_t i = 0; i < c.id.size(); ++i) row_of[c.id[i]] = i;
  // Apply every answer to its cell and rate the changed cells afresh, all in one batch.
  const Checkpoint ck = read_checkpoint(rt::small_trained_run().checkpoint);
  std::vector<float> raw, scaled;
  size_t answers = 0, unreachable = 0;
  for (size_t j = 0; j < ids.size(); ++j) {
    if (!reached[j]) {
      EXPECT_EQ(feature[j], -1);
      ++unreachable;
      continue;
    }
    ASSERT_GE(feature[j], 0);  // level 1 cells are not at level 3 already
    const size_t i = row_of.at(ids[j]);
    raw.insert(raw.end(), c.x.begin() + long(i * c.F), c.x.begin() + long((i + 1) * c.F));
    raw[answers * c.F + size_t(feature[j])] = value[j];
    EXPECT_GE(value[j], ck.model.scaler.min[size_t(feature[j])]);  // within the training range
    EXPECT_LE(value[j], ck.model.scaler.max[size_t(feature[j])]);
    ++answers;
  }
  ASSERT_GT(answers, 0u);
  scaled.resize(raw.size());
  ck.model.scaler.transform(raw.data(), answers, scaled.data());
  RatingBuffers rated;
  rate_scaled(ck.model, raw.data(), scaled.data(), answers, rated, true);
  for (size_t j = 0; j < answers; ++j) EXPECT_EQ(rated.level[j], 3) << "answer " << j;
  const auto& goal = r.summary["scenarios"][0]["goal"];
  EXPECT_EQ(goal["reached"].get<int64_t>(), int64_t(answers));
  EXPECT_EQ(goal["not_reachable"].get<int64_t>(), int64_t(unreachable));
}

TEST(Scenario, BadFilesExitTwoNamingTheScenarioAndField) {
  struct Case {
    const char* yaml;
    const char* fragment;
  };
  const Case cases[] = {
      {"scenarios:\n  - name: a\n    edits:\n      - set: {povety: 1}\n", "scenarios[0] (a).edits[0].set: expected a feature of the data"},
      {"scenarios:\n  - name: a\n    edits:\n      - select: {county: x}\n        set: {poverty: 1}\n",
       "scenarios[0] (a).edits[0].select.county: expected one of the keys"},
      {"scenarios:\n  - name: a\n    edits:\n      - select: {bbox: [0, 0, 1, 1]}\n        set: {poverty: 1}\n",
       "scenarios[0] (a).edits[0].select: expected a selection that holds at least one cell"},
      {"scenarios:\n  - name: a\n    edits:\n      - select: {region: metro-z}\n        set: {poverty: 1}\n",
       "scenarios[0] (a).edits[0].select.region: expected a region of the data"},
      {"scenarios:\n  - name: a\n    edits:\n      - set: {poverty: 1}\n        add: {poverty: 1}\n",
       "scenarios[0] (a).edits[0]: expected exactly one action"},
      {"scenarios:\n  - name: a\n    edits: [{set: {poverty: .nan}}]\n", "scenarios[0] (a).edits[0].set.poverty: expected a finite number"},
      {"scenarios:\n  - name: a/b\n    edits: [{set: {poverty: 1}}]\n", "scenarios[0].name: expected a name of letters"},
      {"scenarios:\n  - name: a\n    edits: [{select: {level: 6}, set: {poverty: 1}}]\n",
       "scenarios[0] (a).edits[0].select.level: expected a level from 1 to 5"},
      {"scenarios: [\n", "line "},
      {"scenarios:\n  - name: a\n    edits: [{select: {geojson: GEOJSON}, set: {poverty: 1}}]\n",
       "scenarios[0] (a).edits[0].select.geojson (GEOJSON): expected valid GeoJSON, found a number out of range"},
  };
  // A GeoJSON file with a number beyond double's range (found by fuzz_scenario), outside the
  // scratch folders that run_scenario empties.
  std::filesystem::create_directories(rt::test_process_root());
  const auto geojson = rt::test_process_root() / "area.geojson";
  rt::write_text(geojson, R"({"type": "Polygon", "coordinates": [[[-1e708, 0], [1, 0], [1, 1], [0, 0]]]})");
  const auto with_geojson = [&](std::string text) {
    for (size_t at; (at = text.find("GEOJSON")) != std::string::npos;) text.replace(at, 7, geojson.string());
    return text;
  };
  for (const Case& c : cases) {
    const auto r = run_scenario(with_geojson(c.yaml));
    EXPECT_EQ(r.result.exit_code, 2) << c.yaml << r.result.output;
    EXPECT_NE(r.result.output.find(with_geojson(c.fragment)), std::string::npos) << r.result.output;
    EXPECT_EQ(std::count(r.result.output.begin(), r.result.output.end(), '\n'), 1) << r.result.output;
    std::error_code ec;
    EXPECT_FALSE(std::filesystem::exists(r.out / "scenario_summary.json", ec));
    EXPECT_FALSE(std::filesystem::exists(r.out / "a", ec)) << "a scenario folder left by a failed run";
  }
}
