// The optional grouping (/groups/<name>) and population columns of shards (docs/FORMAT.md): writer
// and reader round trip, old shards without them read as before, ShardSet's merge of the labels and
// the loader's global codes, strict checks on codes, names and population, and the columns as
// `ingest` (groups:, population:), `synth` (district, population) and `inspect` make and show them.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "datasets/csv_ingest.hpp"
#include "datasets/h5.hpp"
#include "datasets/input_error.hpp"
#include "datasets/loader.hpp"
#include "datasets/schema_yaml.hpp"
#include "datasets/shard.hpp"
#include "datasets/shard_set.hpp"
#include "datasets/synth.hpp"
#include "test_support.hpp"

using namespace resilinet;
namespace fs = std::filesystem;
namespace rt = resilinet::testing;

namespace {

Schema two_features() {
  Schema s;
  s.features = {{"poverty", "society", "robustness", -1, "%"}, {"roads", "infrastructure", "redundancy", 1, "links"}};
  return s;
}

// Row i: region i % 2, county code (i / 3) % counties, tract code i % tracts, population 10 i
// (NaN every 5th row); ids first + i.
ShardColumns grouped_rows(size_t first, size_t rows, size_t counties, size_t tracts, bool population) {
  ShardColumns c;
  c.resize(rows, 2, false, false, false, 2, population);
  for (size_t r = 0; r < rows; ++r) {
    const size_t i = first + r;
    c.features[2 * r] = float(i);
    c.features[2 * r + 1] = float(2 * i);
    c.cell_id[r] = int64_t(i);
    c.lonlat[2 * r] = -90.0 + 0.001 * double(i);
    c.lonlat[2 * r + 1] = 30.0;
    c.region[r] = uint32_t(i % 2);
    c.groups[2 * r] = uint32_t((i / 3) % counties);  // "county" (sorted first)
    c.groups[2 * r + 1] = uint32_t(i % tracts);      // "tract"
    if (population) c.population[r] = i % 5 == 4 ? NAN : float(10 * i);
  }
  return c;
}

ShardWriterOptions grouped_options(std::vector<std::string> counties, std::vector<std::string> tracts, bool population) {
  ShardWriterOptions o;
  o.chunk_rows = 8;
  o.groups = {{"county", std::move(counties)}, {"tract", std::move(tracts)}};
  o.has_population = population;
  return o;
}

void write(const fs::path& path, const ShardWriterOptions& o, const ShardColumns& rows,
           const std::vector<std::string>& regions = {"north", "south"}) {
  ShardWriter w(path.string(), two_features(), regions, o);
  w.append(rows);
  w.commit();
}

void expect_input_error(const std::function<void()>& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "expected InputError";
  } catch (const InputError& e) {
    const std::string what = e.what();
    for (const auto& p : parts) EXPECT_NE(what.find(p), std::string::npos) << what << " lacks " << p;
  }
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](float x, float y) {
           return (std::isnan(x) && std::isnan(y)) || x == y;
         });
}

// Every row of a set in natural order (shards by path, rows in order), through the loader.
struct Rows {
  std::vector<uint32_t> region, groups;
  std::vector<float> population;
  size_t groupings = 0;
  bool population_present = false;
};
Rows load_all(const ShardSet& set) {
  LoaderOptions o;
  o.shuffle = false;
  o.batch_rows = 7;
  o.slab_rows = 5;
  Loader loader(set, o);
  Rows out;
  Batch b;
  while (loader.next(b)) {
    out.groupings = b.groupings;
    out.population_present = b.population != nullptr;
    out.region.insert(out.region.end(), b.region, b.region + b.rows);
    if (b.groups) out.groups.insert(out.groups.end(), b.groups, b.groups + b.rows * b.groupings);
    if (b.population) out.population.insert(out.population.end(), b.population, b.population + b.rows);
  }
  return out;
}

}  // namespace

TEST(ShardGroups, WriterAndReaderRoundTripGroupsAndPopulation) {
  const fs::path dir = rt::scratch_dir();
  const ShardColumns rows = grouped_rows(0, 50, 4, 7, true);
  const ShardWriterOptions o = grouped_options({"c0", "c1", "c2", "c3"}, {"t0", "t1", "t2", "t3", "t4", "t5", "t6"}, true);
  write(dir / "a.h5", o, rows);

  ShardReader reader((dir / "a.h5").string());
  const ShardMeta& m = reader.meta();
  EXPECT_EQ(m.groups, o.groups);
  EXPECT_TRUE(m.has_population);
  ShardColumns got, all;
  for (size_t first = 0; first < 50; first += 16) {  // slabs that cut through chunks
    reader.read_rows(first, std::min<size_t>(16, 50 - first), got);
    all.groups.insert(all.groups.end(), got.groups.begin(), got.groups.end());
    all.population.insert(all.population.end(), got.population.begin(), got.population.end());
  }
  EXPECT_EQ(all.groups, rows.groups);
  EXPECT_TRUE(same_bits(all.population, rows.population));

  // On disk: one uint32 dataset per grouping with its labels, as docs/FORMAT.md says.
  auto f = h5::open_file_read_only((dir / "a.h5").string());
  auto county = h5::open_row_dataset(f, "groups/county");
  EXPECT_EQ(h5::read_strings(h5::open_attribute(county, "labels")), o.groups[0].labels);
  std::vector<uint32_t> codes(50);
  h5::read_rows(county, H5T_NATIVE_UINT32, 0, 50, codes.data());
  for (size_t i = 0; i < 50; ++i) EXPECT_EQ(codes[i], (i / 3) % 4) << i;
}

// A shard without the new columns, as every shard before them was: the base shard of the bad-input
// corpus, written by an older `resilinet synth`, reads as before, and the writer still writes none.
TEST(ShardGroups, OldShardsWithoutTheColumnsReadAsBefore) {
  const std::string old = std::string(RESILINET_SOURCE_DIR) + "/tests/data/bad/base/shard.h5";
  {
    auto f = h5::open_file_read_only(old);
    ASSERT_FALSE(h5::has_link(f, "groups"));
    ASSERT_FALSE(h5::has_link(f, "population"));
  }
  ShardReader reader(old);
  EXPECT_TRUE(reader.meta().groups.empty());
  EXPECT_FALSE(reader.meta().has_population);
  EXPECT_EQ(reader.meta().rows, 60u);
  ShardColumns c;
  reader.read_rows(0, 60, c);
  EXPECT_TRUE(c.groups.empty());
  EXPECT_TRUE(c.population.empty());
  EXPECT_EQ(c.region.size(), 60u);

  const ShardSet set = ShardSet::open(old);
  EXPECT_TRUE(set.group_names().empty());
  EXPECT_FALSE(set.has_population());
  const Rows loaded = load_all(set);
  EXPECT_EQ(loaded.groupings, 0u);
  EXPECT_FALSE(loaded.population_present);
  EXPECT_EQ(loaded.region.size(), 60u);

  const fs::path dir = rt::scratch_dir();
  ShardColumns plain;
  plain.resize(3, 2, false, false, false);
  for (size_t i = 0; i < 3; ++i) plain.cell_id[i] = int64_t(i);
  write(dir / "plain.h5", ShardWriterOptions{}, plain);
  auto f = h5::open_file_read_only((dir / "plain.h5").string());
  EXPECT_FALSE(h5::has_link(f, "groups"));
  EXPECT_FALSE(h5::has_link(f, "population"));
}

// Labels merge across shards like region names (first appearance, shards by path); the loader hands
// out global codes; population reaches the batch only when every shard has it.
TEST(ShardGroups, SetMergesLabelsAndTheLoaderGivesGlobalCodes) {
  const fs::path dir = rt::scratch_dir();
  const std::vector<std::string> tracts = {"t0", "t1", "t2"};
  write(dir / "a.h5", grouped_options({"x", "y"}, tracts, true), grouped_rows(0, 20, 2, 3, true));
  write(dir / "b.h5", grouped_options({"z", "y"}, {"t2", "t1", "t0"}, true), grouped_rows(20, 20, 2, 3, true));
  const ShardSet set = ShardSet::open((dir / "*.h5").string());
  ASSERT_EQ(set.group_names(), (std::vector<std::string>{"county", "tract"}));
  EXPECT_EQ(set.group_labels()[0], (std::vector<std::string>{"x", "y", "z"}));
  EXPECT_EQ(set.group_labels()[1], tracts);
  EXPECT_EQ(set.group_map()[1][0], (std::vector<uint32_t>{2, 1}));
  EXPECT_EQ(set.group_map()[1][1], (std::vector<uint32_t>{2, 1, 0}));
  EXPECT_TRUE(set.has_population());

  const Rows loaded = load_all(set);
  ASSERT_EQ(loaded.groupings, 2u);
  ASSERT_EQ(loaded.groups.size(), 80u);
  ASSERT_TRUE(loaded.population_present);
  for (size_t i = 0; i < 40; ++i) {
    const bool in_b = i >= 20;
    const std::string county = in_b ? std::vector<std::string>{"z", "y"}[(i / 3) % 2] : std::vector<std::string>{"x", "y"}[(i / 3) % 2];
    const std::string tract = in_b ? std::vector<std::string>{"t2", "t1", "t0"}[i % 3] : tracts[i % 3];
    EXPECT_EQ(set.group_labels()[0][loaded.groups[2 * i]], county) << "row " << i;
    EXPECT_EQ(set.group_labels()[1][loaded.groups[2 * i + 1]], tract) << "row " << i;
    if (i % 5 == 4)
      EXPECT_TRUE(std::isnan(loaded.population[i])) << i;
    else
      EXPECT_EQ(loaded.population[i], float(10 * i)) << i;
  }

  // A shard without /population: the set has none, and no batch carries one.
  write(dir / "c.h5", grouped_options({"x"}, tracts, false), grouped_rows(40, 6, 1, 3, false));
  const ShardSet mixed = ShardSet::open((dir / "*.h5").string());
  EXPECT_FALSE(mixed.has_population());
  EXPECT_FALSE(load_all(mixed).population_present);
}

TEST(ShardGroups, ShardsWithOtherGroupingsAreRefusedNamingTheShard) {
  const fs::path dir = rt::scratch_dir();
  write(dir / "a.h5", grouped_options({"x"}, {"t"}, false), grouped_rows(0, 6, 1, 1, false));
  ShardWriterOptions county_only;
  county_only.groups = {{"county", {"x"}}};
  ShardColumns rows = grouped_rows(6, 6, 1, 1, false);
  rows.groups.resize(6);  // one grouping: the county codes, all 0
  write(dir / "b.h5", county_only, rows);
  expect_input_error([&] { ShardSet::open((dir / "*.h5").string()); },
                     {(dir / "b.h5").string(), "/groups", (dir / "a.h5").string(), "(county, tract)", "found (county)"});
  ShardColumns plain;
  plain.resize(2, 2, false, false, false);
  write(dir / "b.h5", ShardWriterOptions{}, plain);
  expect_input_error([&] { ShardSet::open((dir / "*.h5").string()); }, {(dir / "b.h5").string(), "found none"});
}

TEST(ShardGroups, CodesNamesAndPopulationAreCheckedOnWritingAndReading) {
  const fs::path dir = rt::scratch_dir();
  const std::string path = (dir / "bad.h5").string();
  const ShardWriterOptions o = grouped_options({"x", "y"}, {"t"}, true);
  {
    ShardColumns rows = grouped_rows(0, 6, 2, 1, true);
    rows.groups[2 * 4] = 2;
    ShardWriter w(path, two_features(), {"north", "south"}, o);
    expect_input_error([&] { w.append(rows); }, {path, "/groups/county", "below 2", "2 at row 4"});
    rows = grouped_rows(0, 6, 2, 1, true);
    rows.population[3] = -1;
    expect_input_error([&] { w.append(rows); }, {path, "/population", ">= 0", "-1 at row 3"});
  }
  for (const auto& [groups, fragment] :
       std::vector<std::pair<std::vector<ShardGrouping>, std::string>>{
           {{{"tract", {"t"}}, {"county", {"x"}}}, "sorted"},
           {{{"region", {"x"}}}, "'region'"},
           {{{"county name", {"x"}}}, "ASCII"},
           {{{"county", {"x\n"}}}, "labels[0]"}}) {
    ShardWriterOptions bad;
    bad.groups = groups;
    expect_input_error([&] { ShardWriter(path, two_features(), {"north"}, bad); }, {path, "/groups", fragment});
  }
  EXPECT_FALSE(fs::exists(path));

  // Files written by another tool: a code past the labels, a negative population, labels missing.
  write(path, o, grouped_rows(0, 6, 2, 1, true));
  {
    // Whole columns rewritten: write_rows sets the extent to the rows written.
    auto f = h5::open_file_read_write(path);
    auto county = h5::open_row_dataset(f, "groups/county");
    std::vector<uint32_t> codes(6);
    h5::read_rows(county, H5T_NATIVE_UINT32, 0, 6, codes.data());
    codes[5] = 7;
    h5::write_rows(county, H5T_NATIVE_UINT32, 0, 6, codes.data());
    auto population = h5::open_row_dataset(f, "population");
    std::vector<float> people(6);
    h5::read_rows(population, H5T_NATIVE_FLOAT, 0, 6, people.data());
    people[2] = -3;
    h5::write_rows(population, H5T_NATIVE_FLOAT, 0, 6, people.data());
  }
  {
    ShardReader reader(path);
    ShardColumns c;
    expect_input_error([&] { reader.read_rows(0, 6, c); }, {path, "/groups/county", "below 2", "7 at row 5"});
    expect_input_error([&] { reader.read_rows(0, 5, c); }, {path, "/population", "-3 at row 2"});
  }
  {
    auto f = h5::open_file_read_write(path);
    auto tract = h5::open_row_dataset(f, "groups/tract");
    RESILINET_H5(H5Adelete(tract, "labels"));
  }
  expect_input_error([&] { ShardReader{path}; }, {path, "/groups/tract labels", "missing"});
}

TEST(Ingest, GroupsAndPopulationRoundTripThroughTheShards) {
  const fs::path dir = rt::scratch_dir();
  rt::write_text(dir / "c.csv",
                 "FIPS,LON,LAT,STATE,County Name,TRACT,POV,ROADS,POP\n"
                 "1,-90,30,TX,Harris,\"t,1\",10,3,1000\n"
                 "2,-90.1,30,TX, Harris ,t2,11,3,\n"
                 "3,-90.2,30,OH,Lucas,t3,12,4,50.5\n"
                 "4,-90.3,30,OH,Lucas,t2,13,4,0\n");
  const std::string schema =
      "features:\n"
      "  - {name: poverty, column: POV, system: society, component: robustness, direction: -1}\n"
      "  - {name: roads, column: ROADS, system: infrastructure, component: redundancy, direction: +1}\n"
      "columns: {id: FIPS, lon: LON, lat: LAT, region: STATE, population: POP, groups: ";
  for (const std::string& groups : {std::string("{tract: TRACT, county: County Name}"), std::string("[TRACT]")}) {
    SCOPED_TRACE(groups);
    rt::write_text(dir / "s.yaml", schema + groups + "}\n");
    IngestOptions o;
    o.csv_path = (dir / "c.csv").string();
    o.out_dir = (dir / "out").string();
    o.overwrite = true;
    o.shard_rows = 3;  // two shards
    const IngestSummary s = ingest_csv(load_schema_yaml((dir / "s.yaml").string()), o);
    ASSERT_EQ(s.shard_paths.size(), 2u);
    const ShardSet set = ShardSet::open((dir / "out").string());
    const bool county = groups[0] == '{';
    const std::vector<std::string> names =
        county ? std::vector<std::string>{"county", "tract"} : std::vector<std::string>{"TRACT"};
    EXPECT_EQ(set.group_names(), names);
    const Rows rows = load_all(set);
    ASSERT_TRUE(rows.population_present);
    EXPECT_EQ(rows.population[0], 1000.0f);
    EXPECT_TRUE(std::isnan(rows.population[1]));  // empty: missing
    EXPECT_EQ(rows.population[2], 50.5f);
    EXPECT_EQ(rows.population[3], 0.0f);
    const size_t G = set.group_names().size(), tract = county ? 1 : 0;
    std::vector<std::string> got_tract, got_county;
    for (size_t i = 0; i < 4; ++i) {
      got_tract.push_back(set.group_labels()[tract][rows.groups[i * G + tract]]);
      if (county) got_county.push_back(set.group_labels()[0][rows.groups[i * G]]);
    }
    EXPECT_EQ(got_tract, (std::vector<std::string>{"t,1", "t2", "t3", "t2"}));
    if (county) EXPECT_EQ(got_county, (std::vector<std::string>{"Harris", "Harris", "Lucas", "Lucas"}));
  }

  // Bad input names the file, the line and the column.
  rt::write_text(dir / "s.yaml", schema + "[TRACT]}\n");
  rt::write_text(dir / "bad.csv", "FIPS,LON,LAT,STATE,TRACT,POV,ROADS,POP\n1,-90,30,TX,t1,1,2,-4\n");
  auto r = rt::run_resilinet("ingest --quiet --csv " + (dir / "bad.csv").string() + " --schema " +
                             (dir / "s.yaml").string() + " --out " + (dir / "bad").string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("bad.csv: line 2, column 'POP': expected a number of residents >= 0"), std::string::npos)
      << r.output;
  rt::write_text(dir / "bad.csv", "FIPS,LON,LAT,STATE,TRACT,POV,ROADS,POP\n1,-90,30,TX,,1,2,4\n");
  r = rt::run_resilinet("ingest --quiet --csv " + (dir / "bad.csv").string() + " --schema " +
                        (dir / "s.yaml").string() + " --out " + (dir / "bad").string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("line 2, column 'TRACT': expected a label of grouping 'TRACT'"), std::string::npos) << r.output;
  rt::write_text(dir / "s.yaml", schema + "[TRACT, TRACT]}\n");
  r = rt::run_resilinet("ingest --quiet --csv " + (dir / "c.csv").string() + " --schema " +
                        (dir / "s.yaml").string() + " --out " + (dir / "bad").string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("s.yaml: columns.groups: expected each grouping once"), std::string::npos) << r.output;
}

// Every generator writes the district grouping (a coarse grid per region) and a population; a
// shard lists the districts of its own regions, and the set's labels are the plan's.
TEST(Synth, DistrictsAndPopulationOnEveryGenerator) {
  const fs::path dir = rt::scratch_dir();
  for (const std::string& generator : synth_generator_names()) {
    SCOPED_TRACE(generator);
    SynthOptions o;
    o.generator = generator;
    o.seed = 4;
    o.regions = regions_for_cells(6000, 3);
    o.shard_rows = 1500;  // shards that cut through regions
    o.overwrite = true;
    const fs::path out = dir / generator;
    const SynthSummary s = generate_synthetic(o, out.string());
    const SynthPlan plan(o);
    const ShardSet set = ShardSet::open(out.string());
    ASSERT_EQ(set.group_names(), std::vector<std::string>{kSynthGrouping});
    EXPECT_EQ(set.group_labels()[0], plan.district_labels());
    EXPECT_EQ(s.districts, plan.district_labels().size());
    EXPECT_LT(set.shards()[0].groups[0].labels.size(), plan.district_labels().size());  // region 0's only
    ASSERT_TRUE(set.has_population());

    const Rows rows = load_all(set);
    ASSERT_EQ(rows.groups.size(), 6000u);
    std::vector<std::set<uint32_t>> per_region(3);
    std::vector<float> population = rows.population;
    size_t i = 0;
    double total = 0;
    for (size_t r = 0; r < 3; ++r) {
      const SynthRegion& g = plan.options().regions[r];
      for (size_t cell = 0; cell < g.cells; ++cell, ++i) {
        const uint32_t code = plan.district_at(r, cell % g.width, cell / g.width);
        ASSERT_EQ(rows.groups[i], code) << "cell " << i;
        ASSERT_EQ(plan.district_labels()[code].rfind(g.name + "/d", 0), 0u) << plan.district_labels()[code];
        per_region[r].insert(code);
        ASSERT_TRUE(std::isfinite(rows.population[i]) && rows.population[i] >= 0) << rows.population[i];
        total += rows.population[i];
      }
    }
    for (const auto& districts : per_region) {
      EXPECT_GE(districts.size(), 12u);  // 4 x 4 to 5 x 5 blocks, less the empty ones of a partial row
      EXPECT_LE(districts.size(), 25u);
    }
    EXPECT_NEAR(s.population, total, 1e-6 * total);
    std::nth_element(population.begin(), population.begin() + 3000, population.end());
    EXPECT_GT(population[3000], 300.0f);  // median: between the edge's 300 and the centre's 1,800
    EXPECT_LT(population[3000], 1800.0f);
  }
}

// The district and population columns draw from their own streams: the other columns are those an
// older synth wrote for the same options (the corpus's base shard: --cells 60 --regions 2 --seed 3).
TEST(Synth, ColumnsBeforeDistrictsAreUnchanged) {
  const fs::path dir = rt::scratch_dir();
  const auto r = rt::run_resilinet("synth --quiet --cells 60 --regions 2 --seed 3 --out " + (dir / "s").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ShardReader old(std::string(RESILINET_SOURCE_DIR) + "/tests/data/bad/base/shard.h5");
  ShardReader now((dir / "s" / "part-00000.h5").string());
  ASSERT_EQ(old.meta().rows, 60u);
  ASSERT_EQ(now.meta().rows, 60u);
  ShardColumns a, b;
  old.read_rows(0, 60, a);
  now.read_rows(0, 60, b);
  EXPECT_TRUE(same_bits(a.features, b.features));
  EXPECT_TRUE(same_bits(a.hazard, b.hazard));
  EXPECT_EQ(a.cell_id, b.cell_id);
  EXPECT_EQ(a.lonlat, b.lonlat);
  EXPECT_EQ(a.region, b.region);
  EXPECT_EQ(a.planted_level, b.planted_level);
  EXPECT_EQ(now.meta().groups.size(), 1u);
  EXPECT_EQ(b.population.size(), 60u);
}

TEST(Inspect, PrintsGroupingsWithTheirUnitsAndPopulation) {
  const fs::path dir = rt::scratch_dir();
  ShardWriterOptions o = grouped_options({"x", "y", "unused"}, {"t0", "t1", "t2"}, true);
  write(dir / "a.h5", o, grouped_rows(0, 20, 2, 3, true));
  const auto r = rt::run_resilinet("inspect " + (dir / "a.h5").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("\ngroupings: 2\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("\n  county    2\n"), std::string::npos) << r.output;  // "unused" has no cell
  EXPECT_NE(r.output.find("\n  tract     3\n"), std::string::npos) << r.output;
  // 10 x (0 + 1 + ... + 19) less rows 4, 9, 14, 19 (missing): 1900 - 460.
  EXPECT_NE(r.output.find("\npopulation: yes (1440 residents, missing in 4 rows)\n"), std::string::npos) << r.output;
  const auto old = rt::run_resilinet("inspect " + std::string(RESILINET_SOURCE_DIR) + "/tests/data/bad/base/shard.h5");
  ASSERT_EQ(old.exit_code, 0) << old.output;
  EXPECT_NE(old.output.find("\ngroupings: 0\npopulation: no\n"), std::string::npos) << old.output;
}
