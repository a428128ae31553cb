// Tests of CSV ingest and the schema YAML: the CSV reader on quoting corner cases, a round trip of
// a small CSV (values, log1p and per_capita transforms, ids, regions, hazard, ratings, missing
// counts), the real CDC/ATSDR SVI 2020 county file when present, and every bad-input case: exit
// code 2, one line naming the file and the line or column, and no shard left behind.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <gtest/gtest.h>

#include "datasets/csv_ingest.hpp"
#include "datasets/input_error.hpp"
#include "datasets/schema_yaml.hpp"
#include "datasets/shard.hpp"
#include "test_support.hpp"

namespace rt = resilinet::testing;
using namespace resilinet;
namespace fs = std::filesystem;

namespace {

std::vector<std::vector<std::string>> read_all(const fs::path& path, std::vector<size_t>* lines = nullptr) {
  CsvReader reader(path.string());
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> fields;
  while (reader.next(fields)) {
    rows.push_back(fields);
    if (lines) lines->push_back(reader.line());
  }
  return rows;
}

// All rows of every shard in a folder, in shard order.
struct Ingested {
  ShardMeta meta;
  ShardColumns rows;
  size_t shards = 0;
};
Ingested read_shards(const fs::path& dir) {
  Ingested out;
  std::vector<fs::path> paths;
  for (const auto& e : fs::directory_iterator(dir)) paths.push_back(e.path());
  std::sort(paths.begin(), paths.end());
  ShardColumns part;
  for (const auto& p : paths) {
    ShardReader reader(p.string());
    out.meta = reader.meta();
    reader.read_rows(0, reader.meta().rows, part);
    auto& r = out.rows;
    r.rows += part.rows;
    r.features.insert(r.features.end(), part.features.begin(), part.features.end());
    r.cell_id.insert(r.cell_id.end(), part.cell_id.begin(), part.cell_id.end());
    r.lonlat.insert(r.lonlat.end(), part.lonlat.begin(), part.lonlat.end());
    r.region.insert(r.region.end(), part.region.begin(), part.region.end());
    r.hazard.insert(r.hazard.end(), part.hazard.begin(), part.hazard.end());
    r.external_rating.insert(r.external_rating.end(), part.external_rating.begin(), part.external_rating.end());
    ++out.shards;
  }
  return out;
}

const char* kSchema = R"(name: test counties
features:
  - name: hospitals
    column: hosp
    system: facility
    component: redundancy
    direction: +1
    unit: per 100k residents
    transform: per_capita
    per: pop
    scale: 100000
  - name: roads
    system: infrastructure
    component: redundancy
    direction: 1
    unit: log(1 + roads)
    transform: log1p
  - name: poverty
    column: " pov pct "
    system: society
    component: robustness
    direction: -1
    unit: percent
columns:
  id: county_id
  lon: x
  lat: y
  region: state
  hazard: eal
  external_rating: rating
na_values: ["-999"]
)";

// A UTF-8 BOM, CRLF line ends, quoted names with commas, doubled quotes and a line break, a blank
// line, NA markers, a zero population and padded header names.
const char* kGoodCsv =
    "\xEF\xBB\xBF"
    "county_id,name,state,x,y,pop,hosp,roads, pov pct ,eal,rating\r\n"
    "01001,\"Autauga County, Alabama\",AL,-86.64644,32.532237,55639,3,12,22.9,1.5e6,4\r\n"
    "2013,\"Aleutians \"\"East\"\"\nBorough\",AK,-162.0,55.2,0,1,0,-999,,\r\n"
    "\r\n"
    "06037,Los Angeles County,CA,-118.2,34.3,10000000,80,,14.1,NA,1\r\n"
    "+1003,\"Baldwin County, Alabama\",AL,-87.746067,30.659218,223234,NA,40,12.7,2.5e6,0";

}  // namespace

TEST(CsvReader, HandlesQuotesLineBreaksAndLineNumbers) {
  auto dir = rt::scratch_dir();
  rt::write_text(dir / "q.csv",
                 "\xEF\xBB\xBF"
                 "a,b,c\n"
                 "1,\"x, y\",\"say \"\"hi\"\"\"\r\n"
                 "\n"
                 "2,\"two\nlines\",\n"
                 "3,,last");
  std::vector<size_t> lines;
  auto rows = read_all(dir / "q.csv", &lines);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(rows[1], (std::vector<std::string>{"1", "x, y", "say \"hi\""}));
  EXPECT_EQ(rows[2], (std::vector<std::string>{"2", "two\nlines", ""}));
  EXPECT_EQ(rows[3], (std::vector<std::string>{"3", "", "last"}));
  EXPECT_EQ(lines, (std::vector<size_t>{1, 2, 4, 6}));

  rt::write_text(dir / "open.csv", "a,b\n1,\"never closed\n2,3\n");
  try {
    read_all(dir / "open.csv");
    FAIL() << "an unterminated quote was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("open.csv: line 2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("closing quote"), std::string::npos) << e.what();
  }
}

TEST(SchemaYaml, ReadsFeaturesSourcesAndColumns) {
  SchemaFile s = parse_schema_yaml(kSchema, "s.yaml");
  ASSERT_EQ(s.schema.size(), 3u);
  EXPECT_EQ(s.schema.features[0], (FeatureSpec{"hospitals", "facility", "redundancy", 1, "per 100k residents"}));
  EXPECT_EQ(s.schema.features[2].direction, -1);
  EXPECT_EQ(s.sources[0], (FeatureSource{"hosp", FeatureTransform::per_capita, "pop", 100000.0}));
  EXPECT_EQ(s.sources[1], (FeatureSource{"roads", FeatureTransform::log1p, "", 1.0}));
  EXPECT_EQ(s.sources[2].column, " pov pct ");
  EXPECT_TRUE(s.has_columns);
  EXPECT_EQ(s.columns.id, "county_id");
  EXPECT_EQ(s.columns.external_rating, "rating");
  EXPECT_NE(std::find(s.na_values.begin(), s.na_values.end(), "-999"), s.na_values.end());
  EXPECT_NE(std::find(s.na_values.begin(), s.na_values.end(), "NA"), s.na_values.end());

  auto message = [](const std::string& yaml) {
    try {
      parse_schema_yaml(yaml, "bad.yaml");
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  const std::string one = "features:\n  - {name: a, system: s, component: robustness, direction: 1";
  EXPECT_NE(message(one + ", colum: b}\n").find("features[0].colum"), std::string::npos);
  EXPECT_NE(message(one + ", colum: b}\n").find("column, transform"), std::string::npos);  // lists valid keys
  EXPECT_NE(message(one + "}\ncolumns: {id: i, lat: y, lng: x}\n").find("columns.lng"), std::string::npos);
  EXPECT_NE(message(one + "}\nfeature: []\n").find("unknown key 'feature'"), std::string::npos);
  EXPECT_NE(message("features:\n  - {name: a, system: s, component: sturdiness, direction: 1}\n")
                .find("one of robustness, redundancy, resourcefulness"), std::string::npos);
  EXPECT_NE(message("features:\n  - {name: a, system: s, component: robustness, direction: 2}\n")
                .find("direction"), std::string::npos);
  EXPECT_NE(message(one + ", transform: sqrt}\n").find("none, log1p, per_capita"), std::string::npos);
  EXPECT_NE(message(one + ", transform: per_capita}\n").find("features[0].per"), std::string::npos);
  EXPECT_NE(message(one + "}\n  - {name: a, system: s, component: robustness, direction: 1}\n")
                .find("features[1].name"), std::string::npos);
  EXPECT_NE(message("features: [\n").find("bad.yaml: line"), std::string::npos);
}

TEST(Ingest, RoundTripOfValuesTransformsIdsAndRegions) {
  auto dir = rt::scratch_dir();
  rt::write_text(dir / "schema.yaml", kSchema);
  rt::write_text(dir / "counties.csv", kGoodCsv);
  auto r = rt::run_resilinet("ingest --csv " + (dir / "counties.csv").string() + " --schema " +
                             (dir / "schema.yaml").string() + " --out " + (dir / "out").string() +
                             " --shard-rows 3");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("4 rows"), std::string::npos) << r.output;
  // Missing: hospitals (NA, and a zero population), roads (empty), poverty (-999).
  EXPECT_NE(r.output.find("hospitals                2 (50.00%)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("roads                    1 (25.00%)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("poverty                  1 (25.00%)"), std::string::npos) << r.output;

  Ingested got = read_shards(dir / "out");
  EXPECT_EQ(got.shards, 2u);  // 3 + 1 rows
  ASSERT_EQ(got.rows.rows, 4u);
  EXPECT_EQ(got.meta.region_names, (std::vector<std::string>{"AL", "AK", "CA"}));
  EXPECT_EQ(got.meta.schema, parse_schema_yaml(kSchema, "").schema);
  EXPECT_TRUE(got.meta.has_hazard && got.meta.has_external_rating && !got.meta.has_planted_level);
  EXPECT_EQ(got.rows.cell_id, (std::vector<int64_t>{1001, 2013, 6037, 1003}));
  EXPECT_EQ(got.rows.region, (std::vector<uint32_t>{0, 1, 2, 0}));
  EXPECT_EQ(got.rows.lonlat, (std::vector<double>{-86.64644, 32.532237, -162.0, 55.2, -118.2, 34.3,
                                                  -87.746067, 30.659218}));
  const auto& x = got.rows.features;  // [4 x 3]
  EXPECT_FLOAT_EQ(x[0], float(3.0 / 55639 * 100000));
  EXPECT_FLOAT_EQ(x[1], float(std::log1p(12.0)));
  EXPECT_FLOAT_EQ(x[2], 22.9f);
  EXPECT_TRUE(std::isnan(x[3]));  // population 0: no rate
  EXPECT_FLOAT_EQ(x[4], 0.0f);    // log1p(0)
  EXPECT_TRUE(std::isnan(x[5]));  // -999
  EXPECT_FLOAT_EQ(x[6], 0.8f);    // 80 per 10 million = 0.8 per 100k
  EXPECT_TRUE(std::isnan(x[7]));  // empty
  EXPECT_TRUE(std::isnan(x[9]));  // NA
  EXPECT_FLOAT_EQ(x[10], float(std::log1p(40.0)));
  EXPECT_FLOAT_EQ(got.rows.hazard[0], 1.5e6f);
  EXPECT_TRUE(std::isnan(got.rows.hazard[1]) && std::isnan(got.rows.hazard[2]));
  EXPECT_EQ(got.rows.external_rating, (std::vector<int8_t>{4, 0, 1, 0}));
}

TEST(Ingest, WithoutARegionColumnTheRegionIsNamedOnce) {
  auto dir = rt::scratch_dir();
  rt::write_text(dir / "s.yaml",
                 "features:\n  - {name: v, system: s, component: robustness, direction: 1}\n"
                 "columns: {id: id, lon: lon, lat: lat}\n");
  rt::write_text(dir / "harbour.csv", "id,lon,lat,v\n1,1,2,3\n2,1.5,2.5,\n");
  IngestOptions o;
  o.csv_path = (dir / "harbour.csv").string();
  o.out_dir = (dir / "out").string();
  IngestSummary s = ingest_csv(load_schema_yaml((dir / "s.yaml").string()), o);
  EXPECT_EQ(s.rows, 2u);
  EXPECT_EQ(s.region_names, (std::vector<std::string>{"harbour"}));  // the file stem
  EXPECT_EQ(s.missing, (std::vector<size_t>{1}));
  EXPECT_EQ(read_shards(dir / "out").meta.region_names, (std::vector<std::string>{"harbour"}));
}

// Each bad input: exit code 2, one line naming the file and where, and nothing under the output name.
TEST(Ingest, BadInputExitsWithTwoAndLeavesNoShard) {
  auto dir = rt::scratch_dir();
  const std::string header = "county_id,name,state,x,y,pop,hosp,roads, pov pct ,eal,rating\n";
  const std::string good = "1001,A,AL,-86.6,32.5,100,1,2,3,4,5\n";
  struct Case {
    std::string name, csv, schema, expect1, expect2;
  };
  const std::vector<Case> cases = {
      {"missing_column", "county_id,name,state,x,y,hosp,roads, pov pct ,eal,rating\n1,A,AL,1,2,3,4,5,6,1\n",
       kSchema, "header", "a column 'pop'"},
      {"non_numeric", header + good + "1002,B,AL,-86.6,32.5,100,many,2,3,4,5\n", kSchema,
       "line 3, column 'hosp'", "'many'"},
      {"duplicate_id", header + good + "1003,B,AL,-86.6,32.5,100,1,2,3,4,5\n" + "01001,C,AL,-86,32,1,1,1,1,1,1\n",
       kSchema, "line 4, column 'county_id'", "first on line 2"},
      {"bad_id", header + "10.5,A,AL,-86.6,32.5,100,1,2,3,4,5\n", kSchema, "line 2, column 'county_id'",
       "an integer id"},
      {"lon_range", header + good + "1002,B,AL,-186.6,32.5,100,1,2,3,4,5\n", kSchema,
       "line 3, column 'x'", "[-180, 180]"},
      {"lat_range", header + "1002,B,AL,-86.6,95,100,1,2,3,4,5\n", kSchema, "line 2, column 'y'",
       "[-90, 90]"},
      {"empty_file", "", kSchema, "line 1", "an empty file"},
      {"header_only", header, kSchema, "line 2", "at least one data row"},
      {"field_count", header + good + "1002,B,AL\n", kSchema, "line 3", "11 fields"},
      {"bad_rating", header + "1002,B,AL,-86.6,32.5,100,1,2,3,4,7\n", kSchema, "line 2, column 'rating'",
       "1..5"},
      {"log1p_domain", header + "1002,B,AL,-86.6,32.5,100,1,-3,3,4,5\n", kSchema, "line 2, column 'roads'",
       "> -1"},
      {"unknown_schema_key", header + good, std::string(kSchema) + "region_colum: state\n", "unknown key",
       "region_colum"},
      {"no_columns_section", header + good, "features:\n  - {name: a, column: hosp, system: s, "
       "component: robustness, direction: 1}\n", "columns.id", "id, lon and lat"},
      // Names reach JSON, CSV and HDF5 outputs: invalid UTF-8 or a NUL (which would cut the HDF5
      // string short) is refused where it is read.
      {"region_latin1", header + "1002,B,Qu\xE9" "bec,-86.6,32.5,100,1,2,3,4,5\n", kSchema,
       "line 2, column 'state'", "invalid UTF-8 at byte 2"},
      {"region_nul", header + std::string("1002,B,A\0L,-86.6,32.5,100,1,2,3,4,5\n", 36), kSchema,
       "line 2, column 'state'", "a control character (0x00) at byte 1"},
      {"feature_name_latin1", header + good, std::string(kSchema).replace(
           std::string(kSchema).find("name: roads"), 11, "name: r\xF6" "ads"),
       "features[1].name", "invalid UTF-8 at byte 1"},
  };
  for (const auto& c : cases) {
    const fs::path csv = dir / (c.name + ".csv"), schema = dir / (c.name + ".yaml"), out = dir / (c.name + "_out");
    rt::write_text(csv, c.csv);
    rt::write_text(schema, c.schema);
    auto r = rt::run_resilinet("ingest --csv " + csv.string() + " --schema " + schema.string() + " --out " +
                               out.string() + " --shard-rows 1");
    EXPECT_EQ(r.exit_code, 2) << c.name << "\n" << r.output;
    // One line naming the file (the CSV, or the schema for schema errors) and the place.
    const bool schema_error = c.name == "unknown_schema_key" || c.name == "no_columns_section" ||
                              c.name == "feature_name_latin1";
    EXPECT_NE(r.output.find((schema_error ? schema : csv).string()), std::string::npos) << c.name << "\n" << r.output;
    EXPECT_NE(r.output.find(c.expect1), std::string::npos) << c.name << "\n" << r.output;
    EXPECT_NE(r.output.find(c.expect2), std::string::npos) << c.name << "\n" << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << c.name << "\n" << r.output;
    EXPECT_FALSE(fs::exists(out)) << c.name;
  }
  // A folder that already holds shards is refused unless --overwrite, and is left as it was.
  rt::write_text(dir / "ok.csv", header + good);
  rt::write_text(dir / "ok.yaml", kSchema);
  const std::string args = "ingest --csv " + (dir / "ok.csv").string() + " --schema " + (dir / "ok.yaml").string() +
                           " --out " + (dir / "full").string();
  ASSERT_EQ(rt::run_resilinet(args).exit_code, 0);
  auto again = rt::run_resilinet(args);
  EXPECT_EQ(again.exit_code, 2) << again.output;
  EXPECT_TRUE(fs::exists(dir / "full" / "part-00000.h5"));
  EXPECT_EQ(rt::run_resilinet(args + " --overwrite").exit_code, 0);
}

// The real CDC/ATSDR SVI 2020 county file (read-only from the shared data folder; skipped when
// absent). The file has no coordinates, so the test appends lon/lat from the Census Gazetteers.
TEST(Ingest, SviCountiesFromTheSharedData) {
  const fs::path data = RESILINET_SHARED_DATA;
  const fs::path svi = data / "SVI2020_US_COUNTY.csv";
  const fs::path gaz2023 = data / "2023_Gaz_counties_national.txt";
  const fs::path gaz2019 = data / "2019_Gaz_counties_national_noheader.csv";
  if (!fs::exists(svi) || !fs::exists(gaz2023) || !fs::exists(gaz2019)) GTEST_SKIP() << "no shared data";
  auto dir = rt::scratch_dir();

  // GEOID -> (lon, lat); the 2019 file covers the older Connecticut counties used by SVI 2020.
  std::map<std::string, std::pair<std::string, std::string>> where;
  for (const auto& row : read_all(gaz2019)) where[row[1]] = {row[9], row[8]};
  {
    std::ifstream in(gaz2023);
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      std::vector<std::string> f;
      std::stringstream ss(line);
      for (std::string part; std::getline(ss, part, '\t');) f.push_back(part);
      auto trim = [](std::string s) { return s.erase(s.find_last_not_of(" \r") + 1); };
      where[f[1]] = {trim(f[9]), trim(f[8])};
    }
  }
  // The SVI rows as they are (quoted names with commas, a byte order mark) plus lon, lat.
  auto rows = read_all(svi);
  ASSERT_GT(rows.size(), 3000u);
  const auto& header = rows[0];
  auto col = [&](const std::string& name) {
    return size_t(std::find(header.begin(), header.end(), name) - header.begin());
  };
  const size_t fips = col("FIPS"), pov = col("EP_POV150"), pop = col("E_TOTPOP"), epov = col("E_POV150");
  ASSERT_LT(pov, header.size());
  std::ifstream raw(svi, std::ios::binary);
  std::ofstream joined(dir / "svi_joined.csv", std::ios::binary);
  std::string line;
  std::getline(raw, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  joined << line << ",lon,lat\n";
  std::map<int64_t, std::vector<std::string>> kept;
  for (size_t i = 1; i < rows.size() && std::getline(raw, line); ++i) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto it = where.find(rows[i][fips]);
    if (it == where.end()) continue;
    joined << line << "," << it->second.first << "," << it->second.second << "\n";
    kept[std::stoll(rows[i][fips])] = rows[i];
  }
  joined.close();
  ASSERT_GE(kept.size(), 3100u);

  rt::write_text(dir / "svi.yaml", R"(name: svi counties
features:
  - {name: poverty, column: EP_POV150, system: society, component: robustness, direction: -1, unit: percent}
  - {name: no_high_school, column: EP_NOHSDP, system: society, component: resourcefulness, direction: -1, unit: percent}
  - {name: no_internet, column: EP_NOINT, system: infrastructure, component: resourcefulness, direction: -1, unit: percent}
  - {name: poverty_rate, column: E_POV150, system: society, component: robustness, direction: -1,
     unit: percent, transform: per_capita, per: E_TOTPOP, scale: 100}
  - {name: population, column: E_TOTPOP, system: society, component: redundancy, direction: 1,
     unit: log(1 + residents), transform: log1p}
columns: {id: FIPS, lon: lon, lat: lat, region: STATE}
na_values: ["-999"]
)");
  auto r = rt::run_resilinet("ingest --csv " + (dir / "svi_joined.csv").string() + " --schema " +
                             (dir / "svi.yaml").string() + " --out " + (dir / "out").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  Ingested got = read_shards(dir / "out");
  ASSERT_EQ(got.rows.rows, kept.size());
  EXPECT_EQ(got.meta.region_names.size(), 51u);  // 50 states and DC
  EXPECT_EQ(got.meta.region_names[0], "Alabama");
  double sum_diff = 0;
  for (size_t i = 0; i < got.rows.rows; ++i) {
    const auto& src = kept.at(got.rows.cell_id[i]);
    const float* x = &got.rows.features[i * 5];
    ASSERT_FLOAT_EQ(x[0], std::stof(src[pov])) << got.rows.cell_id[i];
    ASSERT_FLOAT_EQ(x[3], float(std::stod(src[epov]) / std::stod(src[pop]) * 100)) << got.rows.cell_id[i];
    ASSERT_FLOAT_EQ(x[4], float(std::log1p(std::stod(src[pop]))));
    EXPECT_TRUE(got.rows.lonlat[2 * i] < -60 || got.rows.lonlat[2 * i] > 170);  // US longitudes
    sum_diff += std::abs(x[3] - x[0]);
  }
  // The per_capita rate of E_POV150 and the published EP_POV150 share agree up to universes.
  std::cout << "mean |E_POV150/E_TOTPOP*100 - EP_POV150|: " << sum_diff / got.rows.rows << " points\n";
  EXPECT_LT(sum_diff / got.rows.rows, 2.0);
}
