// Roll-ups of the ratings (rollup.json, rollup.csv; trainer/outputs/rollup.hpp): a hand-made batch
// against the formulas (cells and residents per level, shares, means, cells not rated, cells without
// population), `rate`'s files against a direct count from its per-cell ratings and the shards, and
// under mpirun the ranks' sum against the single process.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "datasets/h5.hpp"
#include "datasets/shard_set.hpp"
#include "small_run.hpp"
#include "trainer/distributed/communicator.hpp"
#include "trainer/outputs/rollup.hpp"
#include "trainer/stages/training.hpp"

using namespace resilinet;
namespace fs = std::filesystem;
namespace rt = resilinet::testing;
using nlohmann::json;

namespace {

// Per unit (kind, label): cells at each level (index 0: not rated), residents at each level, cells
// without a population value.
struct Tally {
  std::vector<int64_t> cells;
  std::vector<double> people;
  int64_t without_population = 0;
};
using Tallies = std::map<std::pair<std::string, std::string>, Tally>;

// What rollup.json must say of a unit, restated from its definition.
void expect_unit(const json& u, const Tally& t, int K, bool population) {
  SCOPED_TRACE(u["kind"].get<std::string>() + " " + u["unit"].get<std::string>());
  int64_t cells = 0, rated = 0;
  double weighted = 0;
  for (int l = 0; l <= K; ++l) cells += t.cells[size_t(l)];
  for (int l = 1; l <= K; ++l) {
    rated += t.cells[size_t(l)];
    weighted += l * double(t.cells[size_t(l)]);
  }
  EXPECT_EQ(u["cells"].get<int64_t>(), cells);
  EXPECT_EQ(u["not_rated"].get<int64_t>(), t.cells[0]);
  for (int l = 1; l <= K; ++l) {
    EXPECT_EQ(u["cells_per_level"][size_t(l - 1)].get<int64_t>(), t.cells[size_t(l)]) << "level " << l;
    EXPECT_NEAR(u["share_cells"][size_t(l - 1)].get<double>(), double(t.cells[size_t(l)]) / double(rated), 1e-12);
  }
  EXPECT_NEAR(u["mean_level_cells"].get<double>(), weighted / double(rated), 1e-12);
  if (!population) {
    EXPECT_FALSE(u.contains("population"));
    return;
  }
  double all = 0, rated_people = 0, people_weighted = 0;
  for (int l = 0; l <= K; ++l) all += t.people[size_t(l)];
  for (int l = 1; l <= K; ++l) {
    rated_people += t.people[size_t(l)];
    people_weighted += l * t.people[size_t(l)];
  }
  EXPECT_NEAR(u["population"].get<double>(), all, 1e-9 * all);
  EXPECT_EQ(u["cells_without_population"].get<int64_t>(), t.without_population);
  for (int l = 1; l <= K; ++l) {
    const double p = t.people[size_t(l)];
    EXPECT_NEAR(u["population_per_level"][size_t(l - 1)].get<double>(), p, 1e-9 * std::max(1.0, p)) << "level " << l;
    EXPECT_NEAR(u["share_population"][size_t(l - 1)].get<double>(), p / rated_people, 1e-9) << "level " << l;
  }
  EXPECT_NEAR(u["mean_level_population"].get<double>(), people_weighted / rated_people, 1e-9);
}

// Every unit of a rollup.json is a tallied one and every tallied one is in it.
void expect_rollup(const json& doc, const Tallies& tallies, int K, bool population) {
  EXPECT_EQ(doc["format"], "resilinet-rollup");
  EXPECT_EQ(doc["levels"].get<int>(), K);
  EXPECT_EQ(doc["has_population"].get<bool>(), population);
  ASSERT_EQ(doc["units"].size(), tallies.size());
  for (const json& u : doc["units"]) {
    const auto t = tallies.find({u["kind"].get<std::string>(), u["unit"].get<std::string>()});
    ASSERT_NE(t, tallies.end()) << u.dump();
    expect_unit(u, t->second, K, population);
  }
}

// rollup.csv holds the JSON's numbers, row for row (the CSV's shortest round-trip form reads back
// to the same double).
void expect_csv_matches_json(const std::string& csv, const json& doc, int K) {
  std::istringstream in(csv);
  std::string header, line;
  std::getline(in, header);
  EXPECT_EQ(header.rfind("kind,unit,cells,not_rated,cells_level1,", 0), 0u) << header;
  const bool population = doc["has_population"].get<bool>();
  for (const json& u : doc["units"]) {
    ASSERT_TRUE(std::getline(in, line));
    std::vector<std::string> f;
    std::stringstream cells(line);
    for (std::string cell; std::getline(cells, cell, ',');) f.push_back(cell);
    if (!line.empty() && line.back() == ',') f.push_back("");
    std::vector<json> want = {u["cells"], u["not_rated"]};
    for (const char* key : {"cells_per_level", "share_cells"})
      for (const json& v : u[key]) want.push_back(v);
    want.push_back(u["mean_level_cells"]);
    if (population) {
      want.insert(want.end(), {u["population"], u["cells_without_population"]});
      for (const char* key : {"population_per_level", "share_population"})
        for (const json& v : u[key]) want.push_back(v);
      want.push_back(u["mean_level_population"]);
    }
    ASSERT_EQ(f.size(), 2 + want.size()) << line;
    EXPECT_EQ(f[0], u["kind"].get<std::string>());
    EXPECT_EQ(f[1], u["unit"].get<std::string>());
    for (size_t k = 0; k < want.size(); ++k) {
      if (want[k].is_null())
        EXPECT_EQ(f[2 + k], "") << line;
      else
        EXPECT_EQ(std::stod(f[2 + k]), want[k].get<double>()) << "column " << 2 + k << " of " << line;
    }
  }
  EXPECT_FALSE(std::getline(in, line)) << line;
  (void)K;
}

Tally& tally(Tallies& t, const std::string& kind, const std::string& label, int K) {
  Tally& x = t[{kind, label}];
  if (x.cells.empty()) {
    x.cells.assign(size_t(K + 1), 0);
    x.people.assign(size_t(K + 1), 0.0);
  }
  return x;
}

void count(Tallies& t, const std::string& kind, const std::string& label, int K, int level, float people,
           bool population) {
  Tally& x = tally(t, kind, label, K);
  ++x.cells[size_t(level)];
  if (!population) return;
  if (std::isnan(people))
    ++x.without_population;
  else
    x.people[size_t(level)] += people;
}

json read_json(const fs::path& path) {
  std::ifstream in(path);
  return json::parse(in);
}

}  // namespace

// Two regions and a grouping over two shards, population with gaps, levels 0 (not rated) to 3:
// every sum, share and mean of the roll-up is the formula's.
TEST(Rollup, SumsSharesAndMeansFollowTheirDefinitions) {
  const fs::path dir = rt::scratch_dir();
  Schema schema;
  schema.features = {{"x", "society", "robustness", 1, ""}};
  const std::vector<std::vector<std::string>> counties = {{"c0", "c1", "empty"}, {"c2", "c1"}};
  for (int s = 0; s < 2; ++s) {
    ShardWriterOptions o;
    o.groups = {{"county", counties[size_t(s)]}};
    o.has_population = true;
    ShardWriter w((dir / fmt::format("{}.h5", s)).string(), schema, {"north", "south"}, o);
    ShardColumns c;
    c.resize(30, 1, false, false, false, 1, true);
    for (size_t r = 0; r < 30; ++r) {
      const size_t i = size_t(s) * 30 + r;
      c.cell_id[r] = int64_t(i);
      c.region[r] = uint32_t(i % 2);
      c.groups[r] = uint32_t(r % 2);  // never "empty"
      c.population[r] = i % 7 == 3 ? NAN : float(i) * 1.5f;
    }
    w.append(c);
    w.commit();
  }
  const ShardSet set = ShardSet::open((dir / "*.h5").string());
  const int K = 3;
  Rollup rollup(set, K);
  Tallies want;
  std::vector<int32_t> level;
  for_each_scaled_batch(set, 8, nullptr, 7, [&](const Batch& b, const float*) {
    level.resize(b.rows);
    for (size_t i = 0; i < b.rows; ++i) {
      level[i] = int32_t(b.cell_id[i] % 4);  // 0: not rated
      const float people = b.population[i];
      count(want, "region", set.region_names()[b.region[i]], K, level[i], people, true);
      count(want, "county", set.group_labels()[0][b.groups[i]], K, level[i], people, true);
    }
    rollup.add(b, level.data());
  });
  ASSERT_EQ(want.size(), 2u + 3u);
  const json doc = rollup.to_json();
  expect_rollup(doc, want, K, true);
  EXPECT_EQ(doc["kinds"], json::parse(R"([{"kind": "region", "units": 2}, {"kind": "county", "units": 3}])"));
  expect_csv_matches_json(rollup.to_csv(), doc, K);
}

// `rate` on the small synthetic run (regions, districts, population): rollup.json and rollup.csv
// equal a direct count from ratings.h5 (level, region, group_district) and the shards' population;
// the per-cell files carry each cell's district label.
TEST(Rollup, RateWritesRollupsEqualToADirectCount) {
  const rt::SmallRun& run = rt::small_trained_run();
  const fs::path out = rt::scratch_dir() / "ratings";
  const auto res = rt::run_resilinet("rate --quiet --checkpoint " + run.checkpoint + " --data '" + run.data +
                                     "' --out " + out.string());
  ASSERT_EQ(res.exit_code, 0) << res.output;
  const ShardSet data = ShardSet::open(run.data);
  ASSERT_EQ(data.group_names(), std::vector<std::string>{"district"});
  ASSERT_TRUE(data.has_population());
  const int K = 5;

  const fs::path h5 = out / "ratings.h5";
  const auto level = rt::read_h5_rows<int32_t>(h5, "level", H5T_NATIVE_INT32);
  const auto region = rt::read_h5_rows<uint32_t>(h5, "region", H5T_NATIVE_UINT32);
  const auto district = rt::read_h5_rows<int32_t>(h5, "group_district", H5T_NATIVE_INT32);
  std::vector<std::string> labels;
  {
    auto f = h5::open_file_read_only(h5.string());
    labels = h5::read_strings(h5::open_attribute(h5::open_row_dataset(f, "group_district"), "labels"));
  }
  EXPECT_EQ(labels, data.group_labels()[0]);
  // The shards in natural order (rate's order): population and the district of each cell.
  std::vector<float> population;
  std::vector<std::string> shard_district;
  for_each_scaled_batch(data, 65536, nullptr, 4096, [&](const Batch& b, const float*) {
    population.insert(population.end(), b.population, b.population + b.rows);
    for (size_t i = 0; i < b.rows; ++i) shard_district.push_back(data.group_labels()[0][b.groups[i]]);
  });
  const size_t n = level.size();
  ASSERT_EQ(n, 12000u);
  ASSERT_EQ(population.size(), n);
  Tallies want;
  for (size_t i = 0; i < n; ++i) {
    ASSERT_EQ(labels[size_t(district[i])], shard_district[i]) << "cell " << i;
    count(want, "region", data.region_names()[region[i]], K, level[i], population[i], true);
    count(want, "district", labels[size_t(district[i])], K, level[i], population[i], true);
  }
  EXPECT_GE(want.size(), 2u + 20u);  // 2 regions of 16 to 25 districts
  const json doc = read_json(out / "rollup.json");
  expect_rollup(doc, want, K, true);
  expect_csv_matches_json(rt::read_text(out / "rollup.csv"), doc, K);

  // ratings.csv: the district label is the last column.
  std::ifstream csv(out / "ratings.csv");
  std::string header, line;
  std::getline(csv, header);
  EXPECT_EQ(header.substr(header.rfind(',') + 1), "group_district");
  for (size_t i = 0; i < n && std::getline(csv, line); i += 1) {
    if (i % 997) continue;
    EXPECT_EQ(line.substr(line.rfind(',') + 1), shard_district[i]) << line;
  }
}

// Under mpirun every rank rates its slabs; the roll-ups are summed over the ranks in rank order and
// written once, to OUT, equal to the single process's (counts exactly, residents to rounding), and
// the same number of ranks gives the same bytes.
TEST(Rollup, RanksSumToTheSingleProcessAndWriteOnce) {
  if (!mpi_available() || std::system("command -v mpirun > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "no MPI communicator in this build, or no mpirun";
  const rt::SmallRun& run = rt::small_trained_run();
  const fs::path dir = rt::scratch_dir();
  const std::string rate = std::string(RESILINET_BIN) + " rate --quiet --format hdf5 --checkpoint " + run.checkpoint +
                           " --data '" + run.data + "' --out ";
  const std::string mpirun = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun --oversubscribe -n 3 ";
  ASSERT_EQ(rt::run_command(rate + (dir / "one").string()).exit_code, 0);
  for (const char* name : {"three", "again"}) {
    const auto r = rt::run_command(mpirun + rate + (dir / name).string());
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  const json one = read_json(dir / "one" / "rollup.json"), three = read_json(dir / "three" / "rollup.json");
  EXPECT_EQ(rt::read_text(dir / "three" / "rollup.json"), rt::read_text(dir / "again" / "rollup.json"));
  EXPECT_EQ(rt::read_text(dir / "three" / "rollup.csv"), rt::read_text(dir / "again" / "rollup.csv"));
  for (const auto& entry : fs::directory_iterator(dir / "three"))
    if (entry.is_directory()) {
      EXPECT_FALSE(fs::exists(entry.path() / "rollup.json")) << entry.path();
      EXPECT_FALSE(fs::exists(entry.path() / "rollup.csv")) << entry.path();
    }
  ASSERT_EQ(one["units"].size(), three["units"].size());
  for (size_t u = 0; u < one["units"].size(); ++u) {
    const json &a = one["units"][u], &b = three["units"][u];
    SCOPED_TRACE(a["unit"].get<std::string>());
    for (const char* key : {"kind", "unit", "cells", "not_rated", "cells_per_level", "cells_without_population"})
      EXPECT_EQ(a[key], b[key]) << key;
    EXPECT_NEAR(a["population"].get<double>(), b["population"].get<double>(), 1e-9 * a["population"].get<double>());
    for (size_t l = 0; l < 5; ++l)
      EXPECT_NEAR(a["share_population"][l].get<double>(), b["share_population"][l].get<double>(), 1e-12);
  }
}
