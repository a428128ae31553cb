// Streaming batch loader over a ShardSet. One I/O thread per process reads slabs of rows and
// prefetches the next slab while the current one is consumed.
//
// Order: each epoch the slabs (runs of slab_rows rows within a shard) are permuted from
// (seed, epoch); rows inside a slab are permuted from (seed, epoch, shard, slab). The global row
// order is the permuted slabs one after another, so it does not depend on the number of ranks.
// Rank r of R takes the slabs at permuted positions p with p % R == r, in order, and cuts them into
// batches of batch_rows; only the rank's last batch of an epoch may be partial.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "datasets/shard_set.hpp"

namespace resilinet {

struct LoaderOptions {
  size_t batch_rows = 1024;
  size_t slab_rows = 65536;
  uint64_t seed = 0;
  bool shuffle = true;
  int rank = 0;
  int world = 1;
  // Batches of the features, cell ids and row positions alone (the other columns null): what
  // training steps read, for less copying on every rank.
  bool features_only = false;
};

// Where a rank stands: the next batch after restore(cursor) equals the one after cursor() was taken.
struct LoaderCursor {
  uint64_t epoch = 0;
  uint64_t position = 0;  // rows of this rank's epoch stream already handed out
  uint64_t seed = 0;
  bool operator==(const LoaderCursor&) const = default;
};

// A batch; pointers stay valid until the next call to next(). Optional columns are null if absent.
struct Batch {
  size_t rows = 0;
  size_t features = 0;
  const float* x = nullptr;           // [rows x features], raw (unscaled) values, NaN = missing
  const int64_t* cell_id = nullptr;
  const double* lonlat = nullptr;     // [rows x 2]
  const uint32_t* region = nullptr;   // global region index (ShardSet::region_names)
  const float* hazard = nullptr;
  const int8_t* external_rating = nullptr;
  const int8_t* planted_level = nullptr;
  size_t groupings = 0;              // ShardSet::group_names().size()
  const uint32_t* groups = nullptr;  // [rows x groupings], global codes (ShardSet::group_labels()[g])
  const float* population = nullptr; // NaN = missing; null unless every shard has /population
  const uint64_t* global_row = nullptr;  // position of each row in the global row order of the epoch
  const uint64_t* stored_row = nullptr;  // position of each row in the data as stored: shards in order, then rows
};

class Loader {
 public:
  Loader(const ShardSet& set, LoaderOptions options);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // Fills the next batch of the current epoch; returns false (and moves to the next epoch) when
  // this rank's part of the epoch is exhausted.
  bool next(Batch& batch);
  LoaderCursor cursor() const;
  void restore(const LoaderCursor& cursor);
  uint64_t epoch() const;
  // Rows and batches this rank gets per epoch (the same every epoch).
  size_t rank_rows() const;
  size_t rank_batches() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace resilinet
