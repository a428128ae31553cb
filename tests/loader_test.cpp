// Tests of the streaming loader on three small shards written here (1000, 777 and 1500 rows, slabs of
// 256, batches of 100): coverage, a global order independent of the world size, reshuffling, values,
// cursor save/restore, batch sizes, natural order and errors. No timing here: see bench/.
#include "datasets/loader.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "datasets/input_error.hpp"
#include "datasets/shard.hpp"
#include "datasets/shard_set.hpp"
#include "test_support.hpp"

namespace {

using namespace resilinet;
namespace fs = std::filesystem;

constexpr size_t kShardRows[] = {1000, 777, 1500};
constexpr size_t kShards = 3;
constexpr size_t kTotalRows = 1000 + 777 + 1500;
constexpr size_t kSlabRows = 256;
constexpr size_t kBatchRows = 100;
constexpr size_t kFeatures = 3;
// Overlapping local region lists, so that a missing remap to global indices shows.
const std::vector<std::vector<std::string>> kRegions = {
    {"north", "south"}, {"south", "east"}, {"east", "west", "north"}};

// Planted values: every column is a function of the cell id, exact in its type.
int64_t cell_of(size_t shard, size_t row) { return static_cast<int64_t>(shard * 100000 + row * 7 + 3); }
size_t shard_of(int64_t cell) { return static_cast<size_t>(cell / 100000); }
size_t row_of(int64_t cell) { return static_cast<size_t>(cell % 100000 - 3) / 7; }
float feature_of(int64_t cell, size_t j) { return static_cast<float>(cell % 4099) * 0.25f - static_cast<float>(j); }
double lon_of(int64_t cell) { return -90.0 + static_cast<double>(cell) * 1e-4; }
double lat_of(int64_t cell) { return 30.0 - static_cast<double>(cell) * 2e-5; }
float hazard_of(int64_t cell) { return static_cast<float>(cell % 1000) / 8.0f; }
int8_t planted_of(int64_t cell) { return static_cast<int8_t>(1 + cell % 5); }
std::string region_of(int64_t cell) {
  const auto& names = kRegions[shard_of(cell)];
  return names[static_cast<size_t>(cell) % names.size()];
}

Schema test_schema() {
  Schema s;
  const char* components[] = {"robustness", "redundancy", "resourcefulness"};
  for (size_t j = 0; j < kFeatures; ++j)
    s.features.push_back({"f" + std::to_string(j), j == 2 ? "society" : "facility", components[j],
                          j == 1 ? -1 : 1, "1"});
  return s;
}

// Writes shard s in two appends with chunks that do not line up with the slabs. Shard 2 has no
// /external_rating, so the loader must leave that column null.
void write_shard(const fs::path& path, size_t shard) {
  ShardWriterOptions opt;
  opt.chunk_rows = 300;
  opt.has_hazard = true;
  opt.has_planted_level = true;
  opt.has_external_rating = shard != 2;
  ShardWriter writer(path.string(), test_schema(), kRegions[shard], opt);
  const size_t rows = kShardRows[shard];
  for (size_t first = 0; first < rows;) {
    const size_t n = std::min<size_t>(rows - first, 600);
    ShardColumns c;
    c.rows = n;
    for (size_t i = 0; i < n; ++i) {
      const int64_t cell = cell_of(shard, first + i);
      for (size_t j = 0; j < kFeatures; ++j) c.features.push_back(feature_of(cell, j));
      c.cell_id.push_back(cell);
      c.lonlat.push_back(lon_of(cell));
      c.lonlat.push_back(lat_of(cell));
      c.region.push_back(static_cast<uint32_t>(static_cast<size_t>(cell) % kRegions[shard].size()));
      c.hazard.push_back(hazard_of(cell));
      if (opt.has_external_rating) c.external_rating.push_back(static_cast<int8_t>(cell % 6));
      c.planted_level.push_back(planted_of(cell));
    }
    writer.append(c);
    first += n;
  }
  writer.commit();
}

class LoaderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(resilinet::testing::test_process_root() / "loader");
    fs::remove_all(*dir_);
    fs::create_directories(*dir_ / "shards");
    for (size_t s = 0; s < kShards; ++s)
      write_shard(*dir_ / "shards" / ("part-" + std::to_string(s) + ".h5"), s);
    set_ = new ShardSet(ShardSet::open((*dir_ / "shards").string()));
  }
  static void TearDownTestSuite() {
    delete set_;
    fs::remove_all(*dir_);
    delete dir_;
  }

  static LoaderOptions options(int rank, int world, uint64_t seed = 42, bool shuffle = true) {
    LoaderOptions o;
    o.batch_rows = kBatchRows;
    o.slab_rows = kSlabRows;
    o.seed = seed;
    o.shuffle = shuffle;
    o.rank = rank;
    o.world = world;
    return o;
  }

  static fs::path* dir_;
  static ShardSet* set_;
};
fs::path* LoaderTest::dir_ = nullptr;
ShardSet* LoaderTest::set_ = nullptr;

// One rank's epoch as delivered.
struct EpochRun {
  std::vector<int64_t> cells;
  std::vector<uint64_t> global_rows;
  std::vector<size_t> batch_rows;
};

EpochRun run_epoch(Loader& loader) {
  EpochRun run;
  Batch b;
  for (size_t guard = 0; loader.next(b); ++guard) {
    if (guard > kTotalRows) {
      ADD_FAILURE() << "epoch never ends";
      break;
    }
    run.batch_rows.push_back(b.rows);
    run.cells.insert(run.cells.end(), b.cell_id, b.cell_id + b.rows);
    run.global_rows.insert(run.global_rows.end(), b.global_row, b.global_row + b.rows);
  }
  return run;
}

std::vector<int64_t> all_cells() {
  std::vector<int64_t> cells;
  for (size_t s = 0; s < kShards; ++s)
    for (size_t r = 0; r < kShardRows[s]; ++r) cells.push_back(cell_of(s, r));
  std::sort(cells.begin(), cells.end());
  return cells;
}

// The epoch's global order seen through `world` ranks: cells sorted by global_row, after checking
// that the global rows are exactly 0..N-1.
std::vector<int64_t> global_order(const ShardSet& set, int world, uint64_t epochs_to_skip,
                                  LoaderOptions base) {
  std::vector<std::pair<uint64_t, int64_t>> pairs;
  for (int r = 0; r < world; ++r) {
    base.rank = r;
    base.world = world;
    Loader loader(set, base);
    for (uint64_t e = 0; e < epochs_to_skip; ++e) run_epoch(loader);
    EpochRun run = run_epoch(loader);
    for (size_t i = 0; i < run.cells.size(); ++i) pairs.emplace_back(run.global_rows[i], run.cells[i]);
  }
  std::sort(pairs.begin(), pairs.end());
  std::vector<int64_t> cells;
  for (size_t i = 0; i < pairs.size(); ++i) {
    EXPECT_EQ(pairs[i].first, i) << "global rows are not 0..N-1 for world " << world;
    cells.push_back(pairs[i].second);
  }
  return cells;
}

// Everything a batch carries, as bytes, so that two batches compare bitwise.
std::string batch_bytes(const Batch& b) {
  std::string out;
  auto put = [&](const void* p, size_t bytes) {
    if (p) out.append(static_cast<const char*>(p), bytes);
    else out.append("<null>");
  };
  put(&b.rows, sizeof b.rows);
  put(&b.features, sizeof b.features);
  put(b.x, b.rows * b.features * sizeof(float));
  put(b.cell_id, b.rows * sizeof(int64_t));
  put(b.lonlat, b.rows * 2 * sizeof(double));
  put(b.region, b.rows * sizeof(uint32_t));
  put(b.hazard, b.rows * sizeof(float));
  put(b.external_rating, b.rows);
  put(b.planted_level, b.rows);
  put(b.global_row, b.rows * sizeof(uint64_t));
  return out;
}

// The next `calls` results of next(): a batch's bytes, or "end" where an epoch ends.
std::vector<std::string> record(Loader& loader, size_t calls) {
  std::vector<std::string> out;
  Batch b;
  for (size_t i = 0; i < calls; ++i) out.push_back(loader.next(b) ? batch_bytes(b) : "end");
  return out;
}

TEST_F(LoaderTest, EveryRowExactlyOncePerEpochForAnyWorldSize) {
  const std::vector<int64_t> expected = all_cells();
  for (int world : {1, 2, 3}) {
    std::vector<Loader*> loaders;
    for (int r = 0; r < world; ++r) loaders.push_back(new Loader(*set_, options(r, world)));
    for (int epoch = 0; epoch < 3; ++epoch) {
      std::vector<int64_t> cells;
      size_t rows = 0;
      for (Loader* l : loaders) {
        EXPECT_EQ(l->epoch(), static_cast<uint64_t>(epoch));
        const size_t announced = l->rank_rows();
        rows += announced;
        EpochRun run = run_epoch(*l);
        EXPECT_EQ(run.cells.size(), announced) << "world " << world << " epoch " << epoch;
        cells.insert(cells.end(), run.cells.begin(), run.cells.end());
      }
      EXPECT_EQ(rows, kTotalRows);
      std::sort(cells.begin(), cells.end());
      EXPECT_EQ(cells, expected) << "world " << world << " epoch " << epoch;
    }
    for (Loader* l : loaders) delete l;
  }
}

TEST_F(LoaderTest, GlobalOrderDoesNotDependOnWorldSize) {
  for (uint64_t epoch : {0, 1}) {
    const std::vector<int64_t> one = global_order(*set_, 1, epoch, options(0, 1));
    ASSERT_EQ(one.size(), kTotalRows);
    EXPECT_EQ(global_order(*set_, 2, epoch, options(0, 1)), one) << "epoch " << epoch;
    EXPECT_EQ(global_order(*set_, 3, epoch, options(0, 1)), one) << "epoch " << epoch;
  }
  // With one rank the delivery order is the global order itself.
  Loader loader(*set_, options(0, 1));
  EpochRun run = run_epoch(loader);
  std::vector<uint64_t> natural(kTotalRows);
  std::iota(natural.begin(), natural.end(), uint64_t{0});
  EXPECT_EQ(run.global_rows, natural);
}

// The global order is permuted slabs with permuted rows: consecutive runs of rows come from one
// slab each, every slab appears once and whole, and rows inside slabs are not left in order.
TEST_F(LoaderTest, GlobalOrderIsMadeOfWholeShuffledSlabs) {
  Loader loader(*set_, options(0, 1));
  EpochRun run = run_epoch(loader);
  ASSERT_EQ(run.cells.size(), kTotalRows);
  std::set<std::pair<size_t, size_t>> seen;
  size_t slabs_in_order = 0, slabs = 0, shard_changes = 0;
  for (size_t i = 0; i < run.cells.size();) {
    const size_t shard = shard_of(run.cells[i]);
    const size_t slab = row_of(run.cells[i]) / kSlabRows;
    const size_t slab_rows = std::min(kSlabRows, kShardRows[shard] - slab * kSlabRows);
    ASSERT_LE(i + slab_rows, run.cells.size());
    std::vector<int64_t> rows(run.cells.begin() + i, run.cells.begin() + i + slab_rows);
    for (int64_t c : rows) {
      ASSERT_EQ(shard_of(c), shard) << "row " << i;
      ASSERT_EQ(row_of(c) / kSlabRows, slab) << "row " << i;
    }
    EXPECT_TRUE(seen.insert({shard, slab}).second) << "slab seen twice";
    slabs_in_order += std::is_sorted(rows.begin(), rows.end());
    ++slabs;
    if (i > 0 && shard_of(run.cells[i - 1]) != shard) ++shard_changes;
    i += slab_rows;
  }
  EXPECT_EQ(slabs, 4u + 4u + 6u);
  EXPECT_LE(slabs_in_order, 1u);  // only a tiny slab (9 rows) could come out sorted by chance
  EXPECT_GE(shard_changes, 3u);   // slabs of the shards are interleaved, not shard after shard
}

// The order of rows inside each slab, as offsets from the slab's first row, keyed by (shard, slab).
std::map<std::pair<size_t, size_t>, std::vector<size_t>> row_orders(const EpochRun& run) {
  std::map<std::pair<size_t, size_t>, std::vector<size_t>> out;
  for (int64_t c : run.cells)
    out[{shard_of(c), row_of(c) / kSlabRows}].push_back(row_of(c) % kSlabRows);
  return out;
}

// Each full slab gets its own row permutation, and a new one every epoch: the row seed depends on
// (epoch, shard, slab), not just on the slab's number.
TEST_F(LoaderTest, RowsInsideEachSlabGetTheirOwnPermutationEachEpoch) {
  Loader loader(*set_, options(0, 1));
  const auto e0 = row_orders(run_epoch(loader));
  const auto e1 = row_orders(run_epoch(loader));
  std::set<std::vector<size_t>> distinct;
  size_t full = 0;
  for (const auto& [slab, order] : e0) {
    ASSERT_TRUE(e1.count(slab));
    if (order.size() != kSlabRows) continue;
    ++full;
    distinct.insert(order);
    EXPECT_NE(order, e1.at(slab)) << "shard " << slab.first << " slab " << slab.second;
  }
  EXPECT_EQ(full, 3u + 3u + 5u);
  EXPECT_EQ(distinct.size(), full);
}

TEST_F(LoaderTest, ReshufflesEachEpochAndRepeatsForTheSameSeed) {
  Loader a(*set_, options(0, 1, 7));
  Loader b(*set_, options(0, 1, 7));
  Loader c(*set_, options(0, 1, 8));
  const EpochRun a0 = run_epoch(a), a1 = run_epoch(a), a2 = run_epoch(a);
  const EpochRun b0 = run_epoch(b), b1 = run_epoch(b);
  const EpochRun c0 = run_epoch(c);
  EXPECT_NE(a0.cells, a1.cells);
  EXPECT_NE(a1.cells, a2.cells);
  EXPECT_NE(a0.cells, a2.cells);
  EXPECT_EQ(a0.cells, b0.cells);
  EXPECT_EQ(a1.cells, b1.cells);
  EXPECT_NE(a0.cells, c0.cells);
  EXPECT_EQ(a.epoch(), 3u);
}

// The order is pinned (values recorded from this implementation): it must not depend on the
// standard library (no std::shuffle or std::uniform_int_distribution), and changing it would break
// resuming older checkpoints. Epoch 0 opens with slab 1 of the 777-row shard.
TEST_F(LoaderTest, OrderIsPinnedForAGivenSeed) {
  Loader loader(*set_, options(0, 1, 42));
  const EpochRun e0 = run_epoch(loader), e1 = run_epoch(loader);
  const std::vector<int64_t> first0(e0.cells.begin(), e0.cells.begin() + 6);
  const std::vector<int64_t> first1(e1.cells.begin(), e1.cells.begin() + 6);
  EXPECT_EQ(first0, (std::vector<int64_t>{102845, 103349, 102614, 102446, 103195, 101956}));
  EXPECT_EQ(first1, (std::vector<int64_t>{102096, 102019, 102810, 101879, 102999, 103097}));
}

TEST_F(LoaderTest, DeliversTheShardValuesOfEachCell) {
  std::vector<int64_t> stored_cells;  // shards in order, then rows
  for (size_t s = 0; s < kShards; ++s)
    for (size_t r = 0; r < kShardRows[s]; ++r) stored_cells.push_back(cell_of(s, r));
  for (int world : {1, 2}) {
    for (int r = 0; r < world; ++r) {
      Loader loader(*set_, options(r, world));
      const size_t announced = loader.rank_rows();  // of epoch 0; next() returning false moves on
      Batch b;
      size_t rows = 0;
      while (loader.next(b)) {
        ASSERT_EQ(b.features, kFeatures);
        ASSERT_NE(b.hazard, nullptr);
        ASSERT_NE(b.planted_level, nullptr);
        EXPECT_EQ(b.external_rating, nullptr) << "shard 2 has no /external_rating";
        for (size_t i = 0; i < b.rows; ++i) {
          const int64_t cell = b.cell_id[i];
          ASSERT_LT(shard_of(cell), kShards);
          for (size_t j = 0; j < kFeatures; ++j)
            ASSERT_EQ(b.x[i * kFeatures + j], feature_of(cell, j)) << "cell " << cell << " feature " << j;
          ASSERT_EQ(b.lonlat[2 * i], lon_of(cell)) << "cell " << cell;
          ASSERT_EQ(b.lonlat[2 * i + 1], lat_of(cell)) << "cell " << cell;
          ASSERT_LT(b.region[i], set_->region_names().size());
          ASSERT_EQ(set_->region_names()[b.region[i]], region_of(cell)) << "cell " << cell;
          ASSERT_EQ(b.hazard[i], hazard_of(cell)) << "cell " << cell;
          ASSERT_EQ(b.planted_level[i], planted_of(cell)) << "cell " << cell;
          ASSERT_LT(b.stored_row[i], stored_cells.size());
          ASSERT_EQ(stored_cells[b.stored_row[i]], cell) << "stored row of cell " << cell;
        }
        rows += b.rows;
      }
      EXPECT_EQ(rows, announced);
    }
  }
}

// Batches of the features alone (training steps): the same rows, features, ids and positions as
// whole batches, and nothing else.
TEST_F(LoaderTest, FeaturesOnlyBatchesMatchWholeOnes) {
  for (int world : {1, 2}) {
    for (int r = 0; r < world; ++r) {
      LoaderOptions lean_options = options(r, world);
      lean_options.features_only = true;
      Loader whole(*set_, options(r, world)), lean(*set_, lean_options);
      Batch a, b;
      size_t batches = 0;
      while (whole.next(a)) {
        ASSERT_TRUE(lean.next(b));
        ++batches;
        ASSERT_EQ(a.rows, b.rows);
        EXPECT_EQ(std::memcmp(a.x, b.x, a.rows * kFeatures * sizeof(float)), 0);  // NaN-safe
        EXPECT_TRUE(std::equal(a.cell_id, a.cell_id + a.rows, b.cell_id));
        EXPECT_TRUE(std::equal(a.global_row, a.global_row + a.rows, b.global_row));
        EXPECT_TRUE(std::equal(a.stored_row, a.stored_row + a.rows, b.stored_row));
        EXPECT_EQ(b.lonlat, nullptr);
        EXPECT_EQ(b.region, nullptr);
        EXPECT_EQ(b.hazard, nullptr);
        EXPECT_EQ(b.planted_level, nullptr);
      }
      EXPECT_FALSE(lean.next(b));
      EXPECT_GT(batches, 1u);
    }
  }
}

TEST_F(LoaderTest, BatchesAreFullExceptTheRanksLastOne) {
  for (int world : {1, 2, 3}) {
    for (int r = 0; r < world; ++r) {
      Loader loader(*set_, options(r, world));
      for (int epoch = 0; epoch < 2; ++epoch) {
        const size_t rows = loader.rank_rows(), batches = loader.rank_batches();
        EpochRun run = run_epoch(loader);
        ASSERT_EQ(run.batch_rows.size(), batches) << "world " << world << " rank " << r;
        ASSERT_GT(batches, 0u);
        for (size_t i = 0; i + 1 < batches; ++i) EXPECT_EQ(run.batch_rows[i], kBatchRows);
        EXPECT_EQ(run.batch_rows.back(), rows - (batches - 1) * kBatchRows);
        EXPECT_GT(run.batch_rows.back(), 0u);
      }
    }
  }
  // 3277 rows on one rank: 32 full batches and one of 77.
  Loader one(*set_, options(0, 1));
  EXPECT_EQ(one.rank_batches(), 33u);
  EXPECT_EQ(run_epoch(one).batch_rows.back(), 77u);
}

TEST_F(LoaderTest, NaturalOrderWithoutShuffle) {
  // The natural order: shards as the set lists them, rows as stored.
  std::vector<std::vector<int64_t>> slabs;
  for (const ShardMeta& meta : set_->shards()) {
    ShardReader reader(meta.path);
    ShardColumns c;
    reader.read_rows(0, meta.rows, c);
    for (size_t first = 0; first < meta.rows; first += kSlabRows)
      slabs.emplace_back(c.cell_id.begin() + first,
                         c.cell_id.begin() + std::min(meta.rows, first + kSlabRows));
  }
  for (int world : {1, 2}) {
    for (int r = 0; r < world; ++r) {
      std::vector<int64_t> expected;
      std::vector<uint64_t> expected_global;
      uint64_t offset = 0;
      for (size_t p = 0; p < slabs.size(); ++p) {
        if (p % world == static_cast<size_t>(r)) {
          expected.insert(expected.end(), slabs[p].begin(), slabs[p].end());
          for (size_t i = 0; i < slabs[p].size(); ++i) expected_global.push_back(offset + i);
        }
        offset += slabs[p].size();
      }
      Loader loader(*set_, options(r, world, 42, false));
      for (int epoch = 0; epoch < 2; ++epoch) {
        EpochRun run = run_epoch(loader);
        EXPECT_EQ(run.cells, expected) << "world " << world << " rank " << r << " epoch " << epoch;
        EXPECT_EQ(run.global_rows, expected_global);
      }
    }
  }
}

// Restoring a cursor taken after k batches gives the same next batches, bitwise, including across
// the end of the epoch; the restoring loader may have been built with another seed or have run.
TEST_F(LoaderTest, RestoreContinuesBitwiseIdentically) {
  for (int world : {1, 2}) {
    for (int r = 0; r < world; ++r) {
      const size_t batches = Loader(*set_, options(r, world)).rank_batches();
      // Positions: start, mid-slab, just before and at the end of the epoch, inside epoch 1.
      for (size_t k : {size_t{0}, size_t{3}, size_t{5}, batches - 1, batches, batches + 1,
                       batches + 4}) {
        Loader a(*set_, options(r, world));
        Batch b;
        for (size_t i = 0; i < k; ++i) a.next(b);  // the call after the last batch returns false
        const LoaderCursor cursor = a.cursor();
        const std::vector<std::string> expected = record(a, batches + 6);

        Loader fresh(*set_, options(r, world, /*seed=*/999));
        fresh.restore(cursor);
        EXPECT_EQ(fresh.cursor(), cursor);
        EXPECT_EQ(fresh.epoch(), cursor.epoch);
        EXPECT_TRUE(record(fresh, batches + 6) == expected)
            << "world " << world << " rank " << r << " after " << k << " calls";

        Loader used(*set_, options(r, world));
        record(used, 2 * batches + 3);
        used.restore(cursor);
        EXPECT_TRUE(record(used, batches + 6) == expected)
            << "reused loader, world " << world << " rank " << r << " after " << k << " calls";
      }
    }
  }
}

TEST_F(LoaderTest, CursorCountsRowsOfTheEpoch) {
  Loader loader(*set_, options(0, 1, 5));
  Batch b;
  EXPECT_EQ(loader.cursor(), (LoaderCursor{0, 0, 5}));
  loader.next(b);
  loader.next(b);
  EXPECT_EQ(loader.cursor(), (LoaderCursor{0, 200, 5}));
  while (loader.next(b)) {
  }
  EXPECT_EQ(loader.cursor(), (LoaderCursor{1, 0, 5}));
}

TEST_F(LoaderTest, RestoreRejectsAPositionPastTheEpoch) {
  Loader loader(*set_, options(0, 1));
  EXPECT_THROW(loader.restore(LoaderCursor{0, kTotalRows + 1, 42}), InputError);
  // The loader still works after the rejected cursor.
  EXPECT_EQ(run_epoch(loader).cells.size(), kTotalRows);
}

TEST_F(LoaderTest, RejectsBadOptions) {
  EXPECT_THROW({ Loader l(*set_, options(0, 15)); }, InputError);  // 14 slabs cannot feed 15 ranks
  EXPECT_THROW({ Loader l(*set_, options(2, 2)); }, InputError);
  EXPECT_THROW({ Loader l(*set_, options(-1, 2)); }, InputError);
  LoaderOptions zero = options(0, 1);
  zero.batch_rows = 0;
  EXPECT_THROW({ Loader l(*set_, zero); }, InputError);
  EXPECT_NO_THROW({ Loader l(*set_, options(13, 14)); });
}

// A shard that goes bad after the dataset opened fails in the I/O thread; next() rethrows it and
// the loader still shuts down cleanly.
TEST_F(LoaderTest, RethrowsErrorsOfTheIoThread) {
  const fs::path copy = *dir_ / "broken";
  fs::create_directories(copy);
  for (size_t s = 0; s < kShards; ++s)
    fs::copy_file(*dir_ / "shards" / ("part-" + std::to_string(s) + ".h5"),
                  copy / ("part-" + std::to_string(s) + ".h5"));
  const ShardSet set = ShardSet::open(copy.string());
  // A new file (new inode) in place of the shard, so nothing cached about the old one applies.
  fs::remove(copy / "part-1.h5");
  std::ofstream(copy / "part-1.h5") << "not an HDF5 file";
  Loader loader(set, options(0, 1));
  Batch b;
  std::string message;
  try {
    while (loader.next(b)) {
    }
  } catch (const std::exception& e) {
    message = e.what();
  }
  EXPECT_NE(message.find("part-1.h5"), std::string::npos) << "message: " << message;
  EXPECT_THROW(loader.next(b), std::exception) << "the error stays until restore";
}

// A set without rows is bad input with a message that says so (it used to speak of ranks).
TEST(LoaderEmpty, NoRowsIsNamedAsSuch) {
  const fs::path dir = resilinet::testing::scratch_dir();
  {
    ShardWriter w((dir / "empty.h5").string(), test_schema(), {"r"});
    w.commit();
  }
  const ShardSet set = ShardSet::open((dir / "empty.h5").string());
  LoaderOptions o;
  o.shuffle = false;
  std::string message;
  try {
    Loader loader(set, o);
  } catch (const InputError& e) {
    message = e.what();
  }
  EXPECT_NE(message.find("at least one row"), std::string::npos) << message;
  EXPECT_NE(message.find("empty.h5"), std::string::npos) << message;
  EXPECT_EQ(message.find("ranks"), std::string::npos) << message;
}

}  // namespace
