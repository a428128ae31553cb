// End-to-end tests of `resilinet inspect`: on shards with known contents it must print the right
// rows, regions with row counts, schema, optional columns and per-feature min/median/max/missing
// (exact, and from the deterministic sample); a bad or mismatched set exits 2 with one line.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <regex>
#include <sstream>

#include "datasets/shard.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using resilinet::Schema;
using resilinet::ShardColumns;
using resilinet::ShardWriter;
using resilinet::ShardWriterOptions;
using resilinet::testing::run_resilinet;

namespace {

Schema two_features() {
  Schema s;
  s.features = {{"hospitals", "facility", "redundancy", 1, "count"},
                {"poverty_rate", "society", "robustness", -1, "%"}};
  return s;
}

// Global row g: hospitals = g, missing on every 25th row; poverty_rate = 0.125 - 2.5 g.
float hospitals(size_t g) { return g % 25 == 0 ? NAN : float(g); }
float poverty(size_t g) { return 0.125f - 2.5f * float(g); }

// Writes rows [first_global, first_global + rows) of the two-feature set. Local region 0 is taken
// by the first `first_region_rows` rows, region 1 by the rest.
void write_part(const fs::path& path, size_t first_global, size_t rows, size_t first_region_rows,
                std::vector<std::string> regions, ShardWriterOptions o,
                const Schema& schema = two_features()) {
  ShardWriter w(path.string(), schema, regions, o);
  ShardColumns c;
  c.resize(rows, 2, o.has_hazard, o.has_external_rating, o.has_planted_level);
  for (size_t r = 0; r < rows; ++r) {
    size_t g = first_global + r;
    c.features[2 * r] = hospitals(g);
    c.features[2 * r + 1] = poverty(g);
    c.cell_id[r] = int64_t(g);
    c.lonlat[2 * r] = -95.0;
    c.lonlat[2 * r + 1] = 29.5;
    c.region[r] = r < first_region_rows ? 0 : 1;
    if (o.has_hazard) c.hazard[r] = 1.f;
    if (o.has_planted_level) c.planted_level[r] = 3;
  }
  w.append(c);
  w.commit();
}

// The good set: a.h5 has 40 rows (alpha 30, beta 10), b.h5 has 60 rows (beta 25, gamma 35).
fs::path write_good_set() {
  fs::path dir = resilinet::testing::scratch_dir();
  ShardWriterOptions o;
  o.has_hazard = true;
  o.has_planted_level = true;
  write_part(dir / "a.h5", 0, 40, 30, {"alpha", "beta"}, o);
  o.has_planted_level = false;
  write_part(dir / "b.h5", 40, 60, 25, {"beta", "gamma"}, o);
  return dir;
}

double exact_median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The cells of the statistics row for a feature: name, min, median, max, missing.
std::vector<std::string> stats_row(const std::string& output, const std::string& name) {
  auto lines = lines_of(output);
  auto header = std::find_if(lines.begin(), lines.end(),
                             [](const std::string& l) { return l.rfind("features (median", 0) == 0; });
  for (auto it = header; it != lines.end(); ++it) {
    std::istringstream in(*it);
    std::vector<std::string> cells;
    for (std::string cell; in >> cell;) cells.push_back(cell);
    if (cells.size() == 5 && cells[0] == name) return cells;
  }
  ADD_FAILURE() << "no statistics row for " << name << " in\n" << output;
  return std::vector<std::string>(5, "nan");
}

bool has_line(const std::string& output, const std::string& pattern) {
  return std::regex_search(output, std::regex("(^|\n)" + pattern + "(\n|$)"));
}

}  // namespace

TEST(Inspect, GoodSetPrintsRowsRegionsSchemaAndStatistics) {
  fs::path dir = write_good_set();
  auto r = run_resilinet("inspect '" + (dir / "*.h5").string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string& out = r.output;
  EXPECT_TRUE(has_line(out, "rows: 100")) << out;
  EXPECT_TRUE(has_line(out, "shards: 2")) << out;
  EXPECT_TRUE(has_line(out, "regions: 3")) << out;
  EXPECT_TRUE(has_line(out, R"(\s+alpha\s+30)")) << out;
  EXPECT_TRUE(has_line(out, R"(\s+beta\s+35)")) << out;
  EXPECT_TRUE(has_line(out, R"(\s+gamma\s+35)")) << out;
  EXPECT_TRUE(has_line(out, R"(\s+0\s+hospitals\s+facility\s+redundancy\s+\+1\s+count)")) << out;
  EXPECT_TRUE(has_line(out, R"(\s+1\s+poverty_rate\s+society\s+robustness\s+-1\s+%)")) << out;
  EXPECT_TRUE(has_line(out, "hazard: yes")) << out;
  EXPECT_TRUE(has_line(out, "planted_level: in 1 of 2 shards")) << out;
  EXPECT_TRUE(has_line(out, "external_rating: no")) << out;
  EXPECT_TRUE(has_line(out, R"(features \(median: exact.*)")) << out;

  // Expected statistics computed here from the generating formulas.
  std::vector<double> h, p;
  for (size_t g = 0; g < 100; ++g) {
    if (!std::isnan(hospitals(g))) h.push_back(hospitals(g));
    p.push_back(poverty(g));
  }
  auto hs = stats_row(out, "hospitals");
  EXPECT_DOUBLE_EQ(std::stod(hs[1]), 1.0);
  EXPECT_NEAR(std::stod(hs[2]), exact_median(h), 1e-9);
  EXPECT_DOUBLE_EQ(std::stod(hs[3]), 99.0);
  EXPECT_EQ(hs[4], "4");  // rows 0, 25, 50, 75
  auto ps = stats_row(out, "poverty_rate");
  EXPECT_NEAR(std::stod(ps[1]), poverty(99), 1e-4);
  EXPECT_NEAR(std::stod(ps[2]), exact_median(p), 1e-4);
  EXPECT_NEAR(std::stod(ps[3]), 0.125, 1e-9);
  EXPECT_EQ(ps[4], "0");
}

TEST(Inspect, DataOptionAndDirectoryMatchTheGlob) {
  fs::path dir = write_good_set();
  auto by_glob = run_resilinet("inspect '" + (dir / "*.h5").string() + "'");
  auto by_dir = run_resilinet("inspect --data " + dir.string());
  ASSERT_EQ(by_glob.exit_code, 0) << by_glob.output;
  ASSERT_EQ(by_dir.exit_code, 0) << by_dir.output;
  // Everything after the first line (which echoes the pattern) is the same.
  auto tail = [](const std::string& s) { return s.substr(s.find('\n')); };
  EXPECT_EQ(tail(by_glob.output), tail(by_dir.output));
}

TEST(Inspect, MedianFromSampleIsDeterministicAndClose) {
  fs::path dir = resilinet::testing::scratch_dir();
  Schema s;
  s.features = {{"green_space", "infrastructure", "resourcefulness", 1, "%"}};
  ShardWriter w((dir / "one.h5").string(), s, {"all"});
  const size_t n = 5000;
  ShardColumns c;
  c.resize(n, 1, false, false, false);
  for (size_t i = 0; i < n; ++i) {
    c.features[i] = float((i * 7919) % n);  // a permutation of 0..4999
    c.cell_id[i] = int64_t(i);
    c.region[i] = 0;
  }
  w.append(c);
  w.commit();

  auto exact = run_resilinet("inspect " + (dir / "one.h5").string());
  ASSERT_EQ(exact.exit_code, 0) << exact.output;
  EXPECT_DOUBLE_EQ(std::stod(stats_row(exact.output, "green_space")[2]), 2499.5);

  auto sampled = run_resilinet("inspect --median-rows 1000 " + (dir / "one.h5").string());
  ASSERT_EQ(sampled.exit_code, 0) << sampled.output;
  EXPECT_NE(sampled.output.find("sample of at most 1000 values per feature"), std::string::npos) << sampled.output;
  EXPECT_NE(sampled.output.find("of 5000 rows"), std::string::npos) << sampled.output;
  auto row = stats_row(sampled.output, "green_space");
  EXPECT_EQ(row[1], "0");     // min and max stay exact
  EXPECT_EQ(row[3], "4999");
  // The sample median of 1000 uniform draws has a standard deviation of about 80 here.
  EXPECT_NEAR(std::stod(row[2]), 2499.5, 250.0);
  EXPECT_NE(std::stod(row[2]), 2499.5);  // it really is a sample
  auto again = run_resilinet("inspect --median-rows 1000 " + (dir / "one.h5").string());
  EXPECT_EQ(again.output, sampled.output);
}

TEST(Inspect, MismatchedSchemasExitTwoWithOneLineNamingTheFile) {
  fs::path dir = resilinet::testing::scratch_dir();
  write_part(dir / "a.h5", 0, 10, 5, {"alpha", "beta"}, {});
  Schema other = two_features();
  other.features[1].unit = "share";
  write_part(dir / "b.h5", 10, 10, 5, {"alpha", "beta"}, {}, other);
  auto r = run_resilinet("inspect '" + (dir / "*.h5").string() + "'");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  EXPECT_NE(r.output.find((dir / "b.h5").string()), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("schema identical to " + (dir / "a.h5").string()), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("feature_unit[1] (poverty_rate)"), std::string::npos) << r.output;
}

TEST(Inspect, CorruptShardOrNoMatchExitTwo) {
  fs::path dir = write_good_set();
  fs::resize_file(dir / "b.h5", fs::file_size(dir / "b.h5") / 2);
  auto r = run_resilinet("inspect " + dir.string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  EXPECT_NE(r.output.find((dir / "b.h5").string() + ": expected a readable HDF5 file"),
            std::string::npos)
      << r.output;

  auto none = run_resilinet("inspect '" + (dir / "*.hdf").string() + "'");
  EXPECT_EQ(none.exit_code, 2) << none.output;
  EXPECT_NE(none.output.find("no match"), std::string::npos) << none.output;
}
