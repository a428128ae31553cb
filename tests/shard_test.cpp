// Tests of the HDF5 shard format: writer/reader round trips of every dataset and attribute, the
// temp+rename rule, slab reads, rejection of corrupt or mistyped shards (files altered with the raw
// HDF5 API), ShardSet resolution and schema checks, and h5py reading what ShardWriter wrote.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <set>

#include <nlohmann/json.hpp>

#include "datasets/h5.hpp"
#include "datasets/input_error.hpp"
#include "datasets/shard.hpp"
#include "datasets/shard_set.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using resilinet::InputError;
using resilinet::Schema;
using resilinet::ShardColumns;
using resilinet::ShardReader;
using resilinet::ShardSet;
using resilinet::ShardWriter;
using resilinet::ShardWriterOptions;

namespace {

Schema test_schema() {
  Schema s;
  s.features = {{"building_age", "facility", "robustness", -1, "years"},
                {"hospitals", "facility", "redundancy", 1, "count"},
                {"road_density", "infrastructure", "resourcefulness", 1, "km/km2"}};
  return s;
}

// Rows as a function of their position in the shard, so any slab has known contents.
// Feature 1 is missing (NaN) on every 7th row.
ShardColumns make_rows(size_t first, size_t rows, size_t F, const ShardWriterOptions& o,
                       uint32_t regions) {
  ShardColumns c;
  c.resize(rows, F, o.has_hazard, o.has_external_rating, o.has_planted_level);
  for (size_t r = 0; r < rows; ++r) {
    size_t i = first + r;
    for (size_t f = 0; f < F; ++f)
      c.features[r * F + f] = (f == 1 && i % 7 == 3) ? NAN : float(i) * 0.5f + float(f) * 1000.f;
    c.cell_id[r] = 1'000'000 + int64_t(i) * 3;
    c.lonlat[2 * r] = -95.0 + 0.001 * double(i);
    c.lonlat[2 * r + 1] = 29.0 + 0.002 * double(i);
    c.region[r] = uint32_t(i % regions);
    if (o.has_hazard) c.hazard[r] = float(i) * 0.25f;
    if (o.has_external_rating) c.external_rating[r] = int8_t(i % 6);
    if (o.has_planted_level) c.planted_level[r] = int8_t(1 + i % 5);
  }
  return c;
}

// Bitwise comparison, so NaNs compare equal to NaNs.
template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  // memcmp of empty vectors: their data() may be null, which memcmp may not be given.
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

void expect_same_rows(const ShardColumns& got, const ShardColumns& want) {
  EXPECT_EQ(got.rows, want.rows);
  EXPECT_TRUE(same_bits(got.features, want.features));
  EXPECT_EQ(got.cell_id, want.cell_id);
  EXPECT_EQ(got.lonlat, want.lonlat);
  EXPECT_EQ(got.region, want.region);
  EXPECT_TRUE(same_bits(got.hazard, want.hazard));
  EXPECT_EQ(got.external_rating, want.external_rating);
  EXPECT_EQ(got.planted_level, want.planted_level);
}

const std::vector<std::string> kRegions = {"harris", "galveston", "fort_bend"};

// Writes rows [0, rows) in blocks of the given sizes (which must sum to rows).
void write_shard(const fs::path& path, const ShardWriterOptions& o, std::vector<size_t> blocks,
                 const Schema& schema = test_schema(),
                 const std::vector<std::string>& regions = kRegions) {
  ShardWriter w(path.string(), schema, regions, o);
  size_t first = 0;
  for (size_t n : blocks) {
    w.append(make_rows(first, n, schema.size(), o, uint32_t(regions.size())));
    first += n;
  }
  w.commit();
}

std::vector<std::string> directory_entries(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// Expects `f` to throw InputError whose message contains every one of `parts`.
void expect_input_error(const std::function<void()>& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "expected InputError";
  } catch (const InputError& e) {
    std::string what = e.what();
    for (const auto& p : parts) EXPECT_NE(what.find(p), std::string::npos) << what << " lacks " << p;
  }
}

std::string run_capture(const std::string& command, int* exit_code) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  int status = pclose(pipe);
  *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

}  // namespace

// ---- round trips -------------------------------------------------------------------------------

struct RoundTripCase {
  int deflate_level;
  bool optional_columns;
};

void PrintTo(const RoundTripCase& c, std::ostream* os) {
  *os << "deflate " << c.deflate_level << (c.optional_columns ? ", optional columns" : "");
}

class ShardRoundTrip : public ::testing::TestWithParam<RoundTripCase> {};

TEST_P(ShardRoundTrip, EveryDatasetAndAttributeSurvives) {
  const auto [deflate, optional] = GetParam();
  ShardWriterOptions o;
  o.chunk_rows = 16;
  o.deflate_level = deflate;
  o.has_hazard = o.has_external_rating = o.has_planted_level = optional;
  fs::path path = resilinet::testing::scratch_dir() / "shard.h5";
  write_shard(path, o, {37, 100, 0, 5});  // several blocks, straddling chunk boundaries

  ShardReader reader(path.string());
  const auto& m = reader.meta();
  EXPECT_EQ(m.path, path.string());
  EXPECT_EQ(m.rows, 142u);
  EXPECT_EQ(m.format_version, resilinet::kShardFormatVersion);
  EXPECT_EQ(m.schema, test_schema());
  EXPECT_EQ(m.region_names, kRegions);
  EXPECT_EQ(m.has_hazard, optional);
  EXPECT_EQ(m.has_external_rating, optional);
  EXPECT_EQ(m.has_planted_level, optional);

  ShardColumns got;
  reader.read_rows(0, m.rows, got);
  expect_same_rows(got, make_rows(0, 142, 3, o, 3));
  EXPECT_TRUE(std::isnan(got.features[3 * 3 + 1]));  // row 3, feature 1 is missing

  // The stored layout, as any HDF5 reader sees it.
  auto file = resilinet::h5::open_file_read_only(path.string());
  auto features = resilinet::h5::open_row_dataset(file, "features");
  resilinet::h5::Datatype type(H5Dget_type(features));
  EXPECT_GT(H5Tequal(type, H5T_IEEE_F32LE), 0);
  resilinet::h5::Dataspace space(H5Dget_space(features));
  hsize_t dims[2], max_dims[2];
  ASSERT_EQ(H5Sget_simple_extent_dims(space, dims, max_dims), 2);
  EXPECT_EQ(dims[0], 142u);
  EXPECT_EQ(dims[1], 3u);
  EXPECT_EQ(max_dims[0], H5S_UNLIMITED);
  resilinet::h5::PropList dcpl(H5Dget_create_plist(features));
  hsize_t chunk[2];
  ASSERT_EQ(H5Pget_chunk(dcpl, 2, chunk), 2);
  EXPECT_EQ(chunk[0], 16u);
  EXPECT_EQ(chunk[1], 3u);
  std::set<H5Z_filter_t> filters;
  for (int i = 0; i < H5Pget_nfilters(dcpl); ++i) {
    unsigned flags = 0, config = 0;
    size_t n = 0;
    filters.insert(H5Pget_filter2(dcpl, unsigned(i), &flags, &n, nullptr, 0, nullptr, &config));
  }
  if (deflate > 0)
    EXPECT_EQ(filters, (std::set<H5Z_filter_t>{H5Z_FILTER_SHUFFLE, H5Z_FILTER_DEFLATE}));
  else
    EXPECT_TRUE(filters.empty());
  auto format = resilinet::h5::open_attribute(file, "format");
  EXPECT_EQ(resilinet::h5::read_strings(format), std::vector<std::string>{"resilinet-shard"});
  auto direction = resilinet::h5::open_attribute(file, "feature_direction");
  EXPECT_EQ(resilinet::h5::read_integers(direction), (std::vector<int64_t>{-1, 1, 1}));
  EXPECT_EQ(resilinet::h5::has_link(file, "hazard"), optional);
}

INSTANTIATE_TEST_SUITE_P(DeflateAndOptionalColumns, ShardRoundTrip,
                         ::testing::Values(RoundTripCase{0, false}, RoundTripCase{0, true},
                                           RoundTripCase{4, false}, RoundTripCase{4, true}),
                         [](const ::testing::TestParamInfo<RoundTripCase>& info) {
                           return "deflate" + std::to_string(info.param.deflate_level) +
                                  (info.param.optional_columns ? "_optional" : "_required");
                         });

TEST(Shard, ZeroRowsAndNoRegionNamesRoundTrip) {
  fs::path path = resilinet::testing::scratch_dir() / "empty.h5";
  ShardWriter w(path.string(), test_schema(), {});
  w.commit();
  ShardReader reader(path.string());
  EXPECT_EQ(reader.meta().rows, 0u);
  EXPECT_TRUE(reader.meta().region_names.empty());
  ShardColumns got;
  reader.read_rows(0, 0, got);
  EXPECT_EQ(got.rows, 0u);
}

TEST(Shard, ManyLongRegionNamesFitTheAttribute) {
  // 20000 names are several times the 64 KiB an attribute may take in an object header.
  std::vector<std::string> names;
  for (int i = 0; i < 20000; ++i) names.push_back("census_tract_48201" + std::to_string(100000 + i));
  fs::path path = resilinet::testing::scratch_dir() / "tracts.h5";
  write_shard(path, {}, {50}, test_schema(), names);
  ShardReader reader(path.string());
  EXPECT_EQ(reader.meta().region_names, names);
}

TEST(Shard, CommitReplacesTempNameWithFinalName) {
  fs::path dir = resilinet::testing::scratch_dir();
  ShardWriter w((dir / "shard.h5").string(), test_schema(), kRegions);
  w.append(make_rows(0, 10, 3, {}, 3));
  auto during = directory_entries(dir);
  ASSERT_EQ(during.size(), 1u);
  EXPECT_EQ(during[0].rfind("shard.h5.tmp-", 0), 0u) << during[0];
  w.commit();
  EXPECT_EQ(directory_entries(dir), std::vector<std::string>{"shard.h5"});
  EXPECT_EQ(w.rows_written(), 10u);
}

TEST(Shard, UncommittedWriterLeavesNoFileAndNoTemp) {
  fs::path dir = resilinet::testing::scratch_dir();
  {
    ShardWriter w((dir / "shard.h5").string(), test_schema(), kRegions);
    w.append(make_rows(0, 10, 3, {}, 3));
    EXPECT_EQ(directory_entries(dir).size(), 1u);
  }
  EXPECT_TRUE(directory_entries(dir).empty());
}

TEST(Shard, ReadRowsOfAMiddleSlab) {
  ShardWriterOptions o;
  o.chunk_rows = 64;
  o.deflate_level = 1;
  o.has_hazard = o.has_planted_level = true;
  fs::path path = resilinet::testing::scratch_dir() / "shard.h5";
  write_shard(path, o, {1000});
  ShardReader reader(path.string());
  ShardColumns got;
  reader.read_rows(300, 250, got);
  expect_same_rows(got, make_rows(300, 250, 3, o, 3));
  EXPECT_EQ(got.cell_id.front(), 1'000'000 + 300 * 3);
  reader.read_rows(990, 10, got);  // the tail, into a reused buffer
  expect_same_rows(got, make_rows(990, 10, 3, o, 3));
  EXPECT_THROW(reader.read_rows(990, 11, got), std::out_of_range);
}

// Values every command computes with are checked where rows are read, naming the row and feature:
// infinities and absurd magnitudes (they turned the model into NaN) and positions off the globe
// (they made invalid GeoJSON).
TEST(ShardReaderValidation, InfiniteHugeValuesAndBadPositionsAreRefused) {
  const fs::path dir = resilinet::testing::scratch_dir();
  ShardWriterOptions o;
  struct Case {
    const char* name;
    std::function<void(ShardColumns&)> spoil;
    std::vector<std::string> said;
  };
  const std::vector<Case> cases = {
      {"inf", [](ShardColumns& c) { c.features[5 * 3 + 2] = INFINITY; }, {"/features", "inf at row 5", "'road_density'"}},
      {"huge", [](ShardColumns& c) { c.features[7 * 3 + 0] = -3e38f; }, {"/features", "row 7", "magnitude"}},
      {"nan_lon", [](ShardColumns& c) { c.lonlat[2 * 4] = NAN; }, {"/lonlat", "row 4"}},
      {"lat_200", [](ShardColumns& c) { c.lonlat[2 * 9 + 1] = 200; }, {"/lonlat", "row 9"}},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.name);
    const fs::path path = dir / (std::string(k.name) + ".h5");
    ShardColumns c = make_rows(0, 20, 3, o, 3);
    k.spoil(c);
    {
      ShardWriter w(path.string(), test_schema(), kRegions, o);
      w.append(c);
      w.commit();
    }
    ShardReader reader(path.string());
    ShardColumns got;
    expect_input_error([&] { reader.read_rows(0, 20, got); }, k.said);
  }
  // A missing value (NaN feature) is fine, and so is a large but sane one.
  ShardColumns c = make_rows(0, 20, 3, o, 3);
  c.features[0] = 9.9e17f;
  ShardWriter w((dir / "fine.h5").string(), test_schema(), kRegions, o);
  w.append(c);
  w.commit();
  ShardColumns got;
  EXPECT_NO_THROW(ShardReader((dir / "fine.h5").string()).read_rows(0, 20, got));
}

// A shard whose datasets claim far more rows than the file holds (h5py resizes them to 2^40 rows
// without writing any) is refused on open, instead of keeping every reader busy with fill values.
TEST(ShardReaderValidation, RowsTheFileCannotHoldAreRefused) {
  const fs::path dir = resilinet::testing::scratch_dir();
  ShardWriterOptions o;
  write_shard(dir / "shard.h5", o, {500});
  resilinet::testing::write_text(dir / "grow.py", R"PY(
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    for name in ("features", "cell_id", "lonlat", "region"):
        f[name].resize(2**40, axis=0)
)PY");
  int rc = -1;
  const std::string text =
      run_capture(std::string(RESILINET_PYTHON) + " " + (dir / "grow.py").string() + " " + (dir / "shard.h5").string(), &rc);
  ASSERT_EQ(rc, 0) << text;
  ASSERT_LT(fs::file_size(dir / "shard.h5"), size_t(16) << 20);  // a few MB, claiming 2^40 rows
  expect_input_error([&] { ShardReader reader((dir / "shard.h5").string()); },
                     {"/features", "1099511627776 rows claimed", "stored"});
}

// ---- writer validation -------------------------------------------------------------------------

TEST(ShardWriterValidation, RejectsInconsistentBlocks) {
  fs::path dir = resilinet::testing::scratch_dir();
  ShardWriterOptions o;
  o.has_planted_level = true;
  ShardWriter w((dir / "shard.h5").string(), test_schema(), kRegions, o);
  ShardColumns good = make_rows(0, 8, 3, o, 3);

  ShardColumns bad = good;
  bad.features.pop_back();
  EXPECT_THROW(w.append(bad), std::invalid_argument);
  bad = good;
  bad.planted_level.clear();  // flagged but absent
  EXPECT_THROW(w.append(bad), std::invalid_argument);
  bad = good;
  bad.hazard.assign(8, 1.f);  // present but not flagged
  EXPECT_THROW(w.append(bad), std::invalid_argument);
  bad = good;
  bad.region[5] = 3;  // only 3 region names
  expect_input_error([&] { w.append(bad); }, {"/region", "index below 3", "3 at row 5"});
  EXPECT_EQ(w.rows_written(), 0u);
  w.append(good);
  EXPECT_EQ(w.rows_written(), 8u);
}

TEST(ShardWriterValidation, RejectsBadSchemaAndLeavesNothing) {
  fs::path dir = resilinet::testing::scratch_dir();
  Schema s = test_schema();
  s.features[2].component = "resilience";
  expect_input_error([&] { ShardWriter((dir / "a.h5").string(), s, kRegions); },
                     {"feature_component[2]", "road_density", "'resilience'"});
  s = test_schema();
  s.features[0].direction = 0;
  expect_input_error([&] { ShardWriter((dir / "a.h5").string(), s, kRegions); },
                     {"feature_direction[0]"});
  EXPECT_TRUE(directory_entries(dir).empty());
  expect_input_error([&] { ShardWriter((dir / "missing" / "a.h5").string(), test_schema(), kRegions); },
                     {"existing output directory"});
}

// ---- reader validation -------------------------------------------------------------------------

TEST(ShardReaderValidation, TruncatedFileIsNotReadableHdf5) {
  fs::path path = resilinet::testing::scratch_dir() / "shard.h5";
  write_shard(path, {}, {2000});
  fs::resize_file(path, fs::file_size(path) / 2);
  expect_input_error([&] { ShardReader r(path.string()); },
                     {path.string(), "a readable HDF5 file"});
}

// The names live in a global heap collection ("GCOL": 16-byte header, then objects of a 16-byte
// header and 8-byte-aligned data). libhdf5 1.10 trusts its sizes: an object bigger than its
// collection crashed every reader, and a free-space object of size 0 made them loop for ever.
TEST(ShardReaderValidation, CorruptGlobalHeapIsRefusedNotCrashedOn) {
  const fs::path dir = resilinet::testing::scratch_dir();
  write_shard(dir / "good.h5", {}, {50});
  std::string bytes = resilinet::testing::read_text(dir / "good.h5");
  const size_t heap = bytes.find("GCOL");
  ASSERT_NE(heap, std::string::npos);
  auto spoiled = [&](const char* name, size_t offset, uint64_t value) {
    std::string b = bytes;
    std::memcpy(b.data() + heap + offset, &value, sizeof value);  // little-endian, as HDF5
    fs::path path = dir / name;
    resilinet::testing::write_text(path, b);
    return path.string();
  };
  const uint64_t first_object = 16;  // object 1's header follows the collection's header
  uint64_t object_size = 0;
  std::memcpy(&object_size, bytes.data() + heap + first_object + 8, sizeof object_size);
  // Object 1 claims more than its collection, or a few bytes more (the walk no longer lands on
  // the next object), or the collection claims more than the file.
  for (auto [name, offset, value, said] :
       {std::tuple{"huge_object.h5", first_object + 8, uint64_t(32783), "claims 32783 bytes"},
        std::tuple{"shifted_object.h5", first_object + 8, object_size + 8, "global heap"},
        std::tuple{"huge_collection.h5", uint64_t(8), uint64_t(1) << 40, "past the end of the file"}}) {
    SCOPED_TRACE(name);
    const std::string path = spoiled(name, offset, value);
    expect_input_error([&] { ShardReader r(path); },
                       {path, "corrupt HDF5 global heap collection at byte " +
                                  std::to_string(heap), said});
  }
  // The collection's free space (index 0) claiming 0 bytes: the library would never get past it.
  std::string b = bytes;
  size_t p = heap + 16;
  for (;;) {
    uint16_t index = 0;
    uint64_t size = 0;
    std::memcpy(&index, b.data() + p, 2);
    std::memcpy(&size, b.data() + p + 8, 8);
    if (index == 0) break;
    p += 16 + (size + 7) / 8 * 8;
  }
  const uint64_t zero = 0;
  std::memcpy(b.data() + p + 8, &zero, 8);
  resilinet::testing::write_text(dir / "stuck.h5", b);
  expect_input_error([&] { ShardReader r((dir / "stuck.h5").string()); },
                     {"free space claims 0 bytes"});
  EXPECT_NO_THROW(ShardReader((dir / "good.h5").string()));
}

TEST(ShardReaderValidation, NonHdf5FileAndMissingFile) {
  fs::path dir = resilinet::testing::scratch_dir();
  resilinet::testing::write_text(dir / "notes.h5", "cell_id,lon,lat\n1,2,3\n");
  expect_input_error([&] { ShardReader r((dir / "notes.h5").string()); },
                     {"notes.h5", "a readable HDF5 file"});
  expect_input_error([&] { ShardReader r((dir / "none.h5").string()); },
                     {"none.h5", "no such file"});
}

TEST(ShardReaderValidation, Float64FeaturesNamesTheDatasetAndType) {
  fs::path path = resilinet::testing::scratch_dir() / "shard.h5";
  write_shard(path, {}, {20});
  {
    // Replace /features by a float64 [20, 3] dataset, as a careless converter might write it.
    auto file = resilinet::h5::open_file_read_write(path.string());
    ASSERT_GE(H5Ldelete(file, "features", H5P_DEFAULT), 0);
    hsize_t dims[2] = {20, 3};
    resilinet::h5::Dataspace space(H5Screate_simple(2, dims, nullptr));
    resilinet::h5::Dataset d(
        H5Dcreate2(file, "features", H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    ASSERT_TRUE(d.valid());
    std::vector<double> values(60, 1.5);
    ASSERT_GE(H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), 0);
  }
  expect_input_error([&] { ShardReader r(path.string()); },
                     {path.string(), "/features", "expected float32 [N, 3]", "found float64 [20, 3]"});
}

// Alters a valid shard with the raw HDF5 API and expects the reader to name what is wrong.
struct Corruption {
  const char* label;
  std::function<void(hid_t file)> alter;
  std::vector<std::string> message_parts;
};

void replace_string_attribute(hid_t file, const char* name, const std::vector<std::string>& v) {
  ASSERT_GE(H5Adelete(file, name), 0);
  resilinet::h5::write_string_array_attribute(file, name, v);
}

TEST(ShardReaderValidation, NamesEachBrokenField) {
  std::vector<Corruption> cases = {
      {"format", [](hid_t f) {
         ASSERT_GE(H5Adelete(f, "format"), 0);
         resilinet::h5::write_string_attribute(f, "format", "other-shard");
       }, {"format", "resilinet-shard", "other-shard"}},
      {"version", [](hid_t f) {
         ASSERT_GE(H5Adelete(f, "format_version"), 0);
         resilinet::h5::write_int32_attribute(f, "format_version", 7);
       }, {"format_version", "expected 1", "found 7"}},
      {"component", [](hid_t f) {
         replace_string_attribute(f, "feature_component", {"robustness", "redundancy", "speed"});
       }, {"feature_component[2] (road_density)", "'speed'"}},
      {"direction", [](hid_t f) {
         ASSERT_GE(H5Adelete(f, "feature_direction"), 0);
         resilinet::h5::write_int8_array_attribute(f, "feature_direction", {1, 0, 1});
       }, {"feature_direction[1] (hospitals)", "+1 or -1", "found 0"}},
      {"unit count", [](hid_t f) {
         replace_string_attribute(f, "feature_unit", {"years", "count"});
       }, {"feature_unit", "3 entries", "found 2"}},
      {"missing lonlat", [](hid_t f) { ASSERT_GE(H5Ldelete(f, "lonlat", H5P_DEFAULT), 0); },
       {"/lonlat", "float64 [N, 2]", "missing"}},
      {"cell_id rows", [](hid_t f) {
         resilinet::h5::Dataset d(H5Dopen2(f, "cell_id", H5P_DEFAULT));
         hsize_t rows = 25;
         ASSERT_GE(H5Dset_extent(d, &rows), 0);
       }, {"/cell_id", "20 rows (as /features)", "found 25"}},
      {"region type", [](hid_t f) {
         ASSERT_GE(H5Ldelete(f, "region", H5P_DEFAULT), 0);
         hsize_t n = 20;
         resilinet::h5::Dataspace space(H5Screate_simple(1, &n, nullptr));
         resilinet::h5::Dataset d(H5Dcreate2(f, "region", H5T_STD_I64LE, space, H5P_DEFAULT,
                                             H5P_DEFAULT, H5P_DEFAULT));
       }, {"/region", "uint32 [N]", "int64 [20]"}},
  };
  fs::path dir = resilinet::testing::scratch_dir();
  for (const auto& c : cases) {
    SCOPED_TRACE(c.label);
    fs::path path = dir / (std::string(c.label) + ".h5");
    write_shard(path, {}, {20});
    {
      auto file = resilinet::h5::open_file_read_write(path.string());
      c.alter(file);
    }
    auto parts = c.message_parts;
    parts.push_back(path.string());
    expect_input_error([&] { ShardReader r(path.string()); }, parts);
  }
}

TEST(ShardReaderValidation, RegionIndexBeyondNamesFailsOnRead) {
  fs::path path = resilinet::testing::scratch_dir() / "shard.h5";
  write_shard(path, {}, {20});
  {
    auto file = resilinet::h5::open_file_read_write(path.string());
    resilinet::h5::Dataset d(H5Dopen2(file, "region", H5P_DEFAULT));
    uint32_t bad = 9;
    hsize_t start = 12, count = 1;
    resilinet::h5::Dataspace file_space(H5Dget_space(d));
    ASSERT_GE(H5Sselect_hyperslab(file_space, H5S_SELECT_SET, &start, nullptr, &count, nullptr), 0);
    resilinet::h5::Dataspace memory_space(H5Screate_simple(1, &count, nullptr));
    ASSERT_GE(H5Dwrite(d, H5T_NATIVE_UINT32, memory_space, file_space, H5P_DEFAULT, &bad), 0);
  }
  ShardReader reader(path.string());
  ShardColumns got;
  reader.read_rows(0, 12, got);  // rows before the bad one are fine
  EXPECT_EQ(got.region[11], 11u % 3);
  expect_input_error([&] { reader.read_rows(0, 20, got); }, {"/region", "9 at row 12"});
}

// Every value the reader checks, made bad in the file after writing (as a corrupt or foreign shard
// would be): the read fails naming the dataset and the first bad row, and the rows before it read.
TEST(ShardReaderValidation, EachCheckedValueNamesItsFirstBadRow) {
  struct Case {
    const char* dataset;
    hsize_t row, column;
    double value;
    std::vector<std::string> expect;
  };
  const Case cases[] = {{"features", 13, 2, INFINITY, {"/features", "inf at row 13", "'road_density'"}},
                        {"features", 17, 0, -3e20, {"/features", "at row 17", "'building_age'"}},
                        {"hazard", 11, 0, -INFINITY, {"/hazard", "-inf at row 11"}},
                        {"lonlat", 9, 1, 200, {"/lonlat", "200) at row 9"}},
                        {"lonlat", 15, 0, NAN, {"/lonlat", "(nan, ", "at row 15"}},
                        {"external_rating", 6, 0, 9, {"/external_rating", "9 at row 6"}}};
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.dataset) + " row " + std::to_string(c.row));
    fs::path path = resilinet::testing::scratch_dir() / "shard.h5";
    ShardWriterOptions o;
    o.has_hazard = o.has_external_rating = true;
    write_shard(path, o, {20});
    {
      auto file = resilinet::h5::open_file_read_write(path.string());
      resilinet::h5::Dataset d(H5Dopen2(file, c.dataset, H5P_DEFAULT));
      resilinet::h5::Dataspace file_space(H5Dget_space(d));
      const int dims = H5Sget_simple_extent_ndims(file_space);
      hsize_t start[2] = {c.row, c.column}, count[2] = {1, 1};
      ASSERT_GE(H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, nullptr, count, nullptr), 0);
      resilinet::h5::Dataspace memory_space(H5Screate_simple(dims, count, nullptr));
      ASSERT_GE(H5Dwrite(d, H5T_NATIVE_DOUBLE, memory_space, file_space, H5P_DEFAULT, &c.value), 0);
    }
    ShardReader reader(path.string());
    ShardColumns got;
    reader.read_rows(0, c.row, got);
    expect_input_error([&] { reader.read_rows(0, 20, got); }, c.expect);
    expect_input_error([&] { reader.read_rows(c.row, 1, got); }, {c.dataset, "at row " + std::to_string(c.row)});
  }
}

// ---- shard sets --------------------------------------------------------------------------------

TEST(ShardSetOpen, GlobDirectoryAndFileGiveSortedShardsAndRegionUnion) {
  fs::path dir = resilinet::testing::scratch_dir();
  ShardWriterOptions with_hazard;
  with_hazard.has_hazard = true;
  write_shard(dir / "b.h5", with_hazard, {30}, test_schema(), {"south", "east"});
  write_shard(dir / "a.h5", with_hazard, {20}, test_schema(), {"north", "south"});
  write_shard(dir / "c.h5", {}, {10}, test_schema(), {"west", "north"});
  resilinet::testing::write_text(dir / "notes.txt", "not a shard");

  for (const std::string& pattern : {dir.string(), (dir / "*.h5").string()}) {
    SCOPED_TRACE(pattern);
    ShardSet set = ShardSet::open(pattern);
    ASSERT_EQ(set.shards().size(), 3u);
    EXPECT_EQ(set.shards()[0].path, (dir / "a.h5").string());
    EXPECT_EQ(set.shards()[1].path, (dir / "b.h5").string());
    EXPECT_EQ(set.shards()[2].path, (dir / "c.h5").string());
    EXPECT_EQ(set.total_rows(), 60u);
    EXPECT_EQ(set.schema(), test_schema());
    EXPECT_EQ(set.region_names(), (std::vector<std::string>{"north", "south", "east", "west"}));
    EXPECT_EQ(set.region_map(),
              (std::vector<std::vector<uint32_t>>{{0, 1}, {1, 2}, {3, 0}}));
    EXPECT_FALSE(set.has_hazard());  // c.h5 has none
    EXPECT_FALSE(set.has_planted_level());
  }
  ShardSet one = ShardSet::open((dir / "b.h5").string());
  ASSERT_EQ(one.shards().size(), 1u);
  EXPECT_EQ(one.total_rows(), 30u);
  EXPECT_TRUE(one.has_hazard());
  EXPECT_EQ(one.region_names(), (std::vector<std::string>{"south", "east"}));
}

TEST(ShardSetOpen, NothingMatchingIsInputError) {
  fs::path dir = resilinet::testing::scratch_dir();
  expect_input_error([&] { ShardSet::open((dir / "*.h5").string()); }, {"*.h5", "no match"});
  expect_input_error([&] { ShardSet::open(dir.string()); }, {"*.h5 shards", "none"});
}

TEST(ShardSetOpen, DifferentSchemasNameTheSecondFileAndTheField) {
  fs::path dir = resilinet::testing::scratch_dir();
  write_shard(dir / "a.h5", {}, {10});
  Schema other = test_schema();
  other.features[1].component = "robustness";
  write_shard(dir / "b.h5", {}, {10}, other);
  expect_input_error([&] { ShardSet::open((dir / "*.h5").string()); },
                     {(dir / "b.h5").string(), "schema identical to " + (dir / "a.h5").string(),
                      "feature_component[1] (hospitals)", "'redundancy'", "'robustness'"});

  Schema fewer = test_schema();
  fewer.features.pop_back();
  write_shard(dir / "b.h5", {}, {10}, fewer);
  expect_input_error([&] { ShardSet::open(dir.string()); },
                     {"b.h5", "schema identical to", "3 features", "found 2 features"});
}

TEST(ShardSetOpen, AnInvalidShardFailsTheWholeSet) {
  fs::path dir = resilinet::testing::scratch_dir();
  write_shard(dir / "a.h5", {}, {10});
  write_shard(dir / "b.h5", {}, {1000});
  fs::resize_file(dir / "b.h5", fs::file_size(dir / "b.h5") / 2);
  expect_input_error([&] { ShardSet::open(dir.string()); }, {"b.h5", "a readable HDF5 file"});
}

// ---- h5py reads what ShardWriter writes --------------------------------------------------------

TEST(ShardH5py, PythonReadsEveryDatasetAndAttribute) {
  fs::path dir = resilinet::testing::scratch_dir();
  ShardWriterOptions o;
  o.chunk_rows = 32;
  o.deflate_level = 3;
  o.has_hazard = o.has_external_rating = o.has_planted_level = true;
  write_shard(dir / "shard.h5", o, {50, 50});
  write_shard(dir / "empty.h5", {}, {}, test_schema(), {});

  resilinet::testing::write_text(dir / "read.py", R"PY(
import json, sys
import h5py, numpy as np

def listed(a):
    return [None if (isinstance(v, float) and v != v) else v for v in np.asarray(a).ravel().tolist()]

out = {}
with h5py.File(sys.argv[1], "r") as f:
    out["attrs"] = {k: (f.attrs[k].tolist() if hasattr(f.attrs[k], "tolist") else f.attrs[k])
                    for k in f.attrs}
    out["datasets"] = {k: {"dtype": str(f[k].dtype), "shape": list(f[k].shape),
                           "values": listed(f[k][...])} for k in f}
    out["chunks"] = list(f["features"].chunks)
    out["compression"] = f["features"].compression
    out["shuffle"] = bool(f["features"].shuffle)
with h5py.File(sys.argv[2], "r") as f:
    out["empty_region_names"] = list(f.attrs["region_names"])
    out["empty_rows"] = f["features"].shape[0]
print(json.dumps(out))
)PY");
  int rc = -1;
  std::string text = run_capture(std::string(RESILINET_PYTHON) + " " + (dir / "read.py").string() +
                                     " " + (dir / "shard.h5").string() + " " +
                                     (dir / "empty.h5").string(),
                                 &rc);
  ASSERT_EQ(rc, 0) << text;
  auto j = nlohmann::json::parse(text);

  const auto& a = j["attrs"];
  EXPECT_EQ(a["format"], "resilinet-shard");
  EXPECT_EQ(a["format_version"], 1);
  EXPECT_EQ(a["feature_names"], (std::vector<std::string>{"building_age", "hospitals", "road_density"}));
  EXPECT_EQ(a["feature_system"], (std::vector<std::string>{"facility", "facility", "infrastructure"}));
  EXPECT_EQ(a["feature_component"],
            (std::vector<std::string>{"robustness", "redundancy", "resourcefulness"}));
  EXPECT_EQ(a["feature_unit"], (std::vector<std::string>{"years", "count", "km/km2"}));
  EXPECT_EQ(a["feature_direction"], (std::vector<int>{-1, 1, 1}));
  EXPECT_EQ(a["region_names"], kRegions);
  EXPECT_EQ(j["empty_region_names"].size(), 0u);
  EXPECT_EQ(j["empty_rows"], 0);
  EXPECT_EQ(j["chunks"], (std::vector<int>{32, 3}));
  EXPECT_EQ(j["compression"], "gzip");
  EXPECT_EQ(j["shuffle"], true);

  const ShardColumns want = make_rows(0, 100, 3, o, 3);
  const auto& d = j["datasets"];
  EXPECT_EQ(d.size(), 7u);
  EXPECT_EQ(d["features"]["dtype"], "float32");
  EXPECT_EQ(d["features"]["shape"], (std::vector<int>{100, 3}));
  EXPECT_EQ(d["cell_id"]["dtype"], "int64");
  EXPECT_EQ(d["lonlat"]["dtype"], "float64");
  EXPECT_EQ(d["lonlat"]["shape"], (std::vector<int>{100, 2}));
  EXPECT_EQ(d["region"]["dtype"], "uint32");
  EXPECT_EQ(d["hazard"]["dtype"], "float32");
  EXPECT_EQ(d["external_rating"]["dtype"], "int8");
  EXPECT_EQ(d["planted_level"]["dtype"], "int8");
  const auto& fv = d["features"]["values"];
  ASSERT_EQ(fv.size(), want.features.size());
  for (size_t i = 0; i < fv.size(); ++i) {
    if (std::isnan(want.features[i]))
      EXPECT_TRUE(fv[i].is_null()) << i;
    else
      EXPECT_EQ(fv[i].get<double>(), double(want.features[i])) << i;  // float32 -> double exactly
  }
  EXPECT_EQ(d["cell_id"]["values"].get<std::vector<int64_t>>(), want.cell_id);
  EXPECT_EQ(d["lonlat"]["values"].get<std::vector<double>>(), want.lonlat);
  EXPECT_EQ(d["region"]["values"].get<std::vector<uint32_t>>(), want.region);
  EXPECT_EQ(d["hazard"]["values"].get<std::vector<float>>(), want.hazard);
  EXPECT_EQ(d["external_rating"]["values"].get<std::vector<int>>(),
            std::vector<int>(want.external_rating.begin(), want.external_rating.end()));
  EXPECT_EQ(d["planted_level"]["values"].get<std::vector<int>>(),
            std::vector<int>(want.planted_level.begin(), want.planted_level.end()));
}
