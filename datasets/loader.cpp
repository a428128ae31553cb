// Streaming batch loader: one I/O thread owns every ShardReader, reads whole slabs in stored order
// and draws each slab's row permutation, prefetching the next slab while the caller's thread gathers
// batches through that permutation. It hands out raw shard values; no scaling or filtering.
#include "datasets/loader.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <initializer_list>
#include <mutex>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>

#include "datasets/input_error.hpp"
#include "datasets/shard.hpp"
#include "kernels/splitmix.hpp"

namespace resilinet {
namespace {

// Domain tags so that the slab order and the row orders draw from unrelated streams.
constexpr uint64_t kSlabOrderTag = 0x736c61622d6f7264ull;
constexpr uint64_t kRowOrderTag = 0x726f772d6f726465ull;
// Open ShardReaders kept by the I/O thread; slabs jump between shards, so reopening costs little
// next to reading a slab, and this bounds the file handles held for datasets of many shards.
constexpr size_t kMaxOpenShards = 16;

// A seed from a tuple of integers; each part goes through the mix so that nearby tuples
// ((seed, epoch) and (seed, epoch + 1)) give unrelated streams.
uint64_t derive_seed(std::initializer_list<uint64_t> parts) {
  uint64_t h = 0;
  for (uint64_t p : parts) h = splitmix64(h ^ splitmix64(p));
  return h;
}

// Uniform integers in [0, n) for n < 2^32, by Lemire's multiply-and-reject (exact), using both
// halves of each std::mt19937_64 output. std::uniform_int_distribution and std::shuffle are
// implementation-defined; this gives the same order with every standard library, without a
// division per draw.
class UniformDraws {
 public:
  explicit UniformDraws(uint64_t seed) : rng_(seed) {}

  uint32_t below(uint32_t n) {
    uint64_t m = uint64_t{next32()} * n;
    if (static_cast<uint32_t>(m) < n) {
      const uint32_t reject_below = (0u - n) % n;  // 2^32 mod n
      while (static_cast<uint32_t>(m) < reject_below) m = uint64_t{next32()} * n;
    }
    return static_cast<uint32_t>(m >> 32);
  }

 private:
  uint32_t next32() {
    if (have_low_) {
      have_low_ = false;
      return static_cast<uint32_t>(word_);
    }
    word_ = rng_();
    have_low_ = true;
    return static_cast<uint32_t>(word_ >> 32);
  }

  std::mt19937_64 rng_;
  uint64_t word_ = 0;
  bool have_low_ = false;
};

// Fisher-Yates, drawing from the back. Sizes stay below 2^32 (checked by the constructor).
template <class T>
void shuffle_in_place(std::vector<T>& v, uint64_t seed) {
  UniformDraws draws(seed);
  for (size_t i = v.size(); i > 1; --i)
    std::swap(v[i - 1], v[draws.below(static_cast<uint32_t>(i))]);
}

// A run of rows inside one shard; index is the slab's number within its shard.
struct SlabRef {
  size_t shard = 0;
  size_t index = 0;
  size_t first_row = 0;
  size_t rows = 0;
};

struct RankSlab {
  SlabRef slab;
  uint64_t global_offset = 0;  // rows of the epoch's global order before this slab
};

// The slabs one rank reads in one epoch, in order. Their count is the same every epoch; their
// rows are not when slabs differ in size.
struct EpochPlan {
  std::vector<RankSlab> slabs;
  size_t rows = 0;
};

EpochPlan plan_epoch(const std::vector<SlabRef>& all, const LoaderOptions& options, uint64_t seed,
                     uint64_t epoch) {
  std::vector<size_t> order(all.size());
  std::iota(order.begin(), order.end(), size_t{0});
  if (options.shuffle) shuffle_in_place(order, derive_seed({kSlabOrderTag, seed, epoch}));
  EpochPlan plan;
  uint64_t offset = 0;
  const size_t world = static_cast<size_t>(options.world);
  const size_t rank = static_cast<size_t>(options.rank);
  for (size_t p = 0; p < order.size(); ++p) {
    const SlabRef& s = all[order[p]];
    if (p % world == rank) {
      plan.slabs.push_back({s, offset});
      plan.rows += s.rows;
    }
    offset += s.rows;
  }
  return plan;
}

// Copies a row of a few dozen bytes (a multiple of 4) in fixed 16- and 4-byte pieces: a memcpy
// of a run-time size would be a library call per row, several times slower at this size.
inline void copy_row(const char* from, size_t bytes, char* to) {
  size_t b = 0;
  for (; b + 16 <= bytes; b += 16) std::memcpy(to + b, from + b, 16);
  for (; b < bytes; b += 4) std::memcpy(to + b, from + b, 4);
}

// Opens shards on demand and keeps the most recently used ones open. Lives on the I/O thread only.
class ReaderCache {
 public:
  explicit ReaderCache(const std::vector<std::string>& paths)
      : paths_(paths), readers_(paths.size()), last_use_(paths.size(), 0) {}

  ShardReader& get(size_t shard) {
    ++tick_;
    if (!readers_[shard]) {
      if (open_ == kMaxOpenShards) close_least_recent();
      readers_[shard] = std::make_unique<ShardReader>(paths_[shard]);
      ++open_;
    }
    last_use_[shard] = tick_;
    return *readers_[shard];
  }

 private:
  void close_least_recent() {
    size_t victim = paths_.size();
    for (size_t s = 0; s < readers_.size(); ++s)
      if (readers_[s] && (victim == paths_.size() || last_use_[s] < last_use_[victim])) victim = s;
    readers_[victim].reset();
    --open_;
  }

  const std::vector<std::string>& paths_;
  std::vector<std::unique_ptr<ShardReader>> readers_;
  std::vector<uint64_t> last_use_;
  uint64_t tick_ = 0;
  size_t open_ = 0;
};

// A slab as read: rows in stored order with regions already global, plus the order in which the
// epoch visits them (order[k] = stored row of the slab's k-th row in the global order).
struct SlabBuffer {
  ShardColumns columns;
  std::vector<uint32_t> order;
  uint64_t global_offset = 0;
  uint64_t stored_offset = 0;  // stored rows before the slab's first
  uint64_t epoch = 0;
  size_t rank_slab = 0;  // position in the rank's slab list of that epoch
};

}  // namespace

struct Loader::Impl {
  // Fixed at construction; read by both threads.
  LoaderOptions options;
  std::vector<std::string> paths;
  std::vector<size_t> shard_rows;
  std::vector<uint64_t> shard_stored_offset;  // stored rows before each shard's first
  std::vector<std::vector<uint32_t>> region_map;
  std::vector<std::vector<std::vector<uint32_t>>> group_map;  // [shard][grouping][local code]
  std::vector<SlabRef> slabs;
  size_t features = 0, groupings = 0;
  bool with_hazard = false, with_external = false, with_planted = false, with_population = false;

  // The caller's side.
  uint64_t seed = 0;
  uint64_t epoch = 0;
  uint64_t position = 0;
  EpochPlan plan;                 // plan of `epoch`
  SlabBuffer* current = nullptr;  // slab being cut into batches
  size_t current_offset = 0;      // rows of it already handed out
  uint64_t expect_epoch = 0;      // the slab the I/O thread must deliver next
  size_t expect_slab = 0;
  size_t skip_rows = 0;  // rows of the next slab already handed out before a restore
  ShardColumns batch_columns;
  std::vector<uint64_t> batch_global_row, batch_stored_row;

  // Shared between the threads, guarded by mutex.
  std::mutex mutex;
  std::condition_variable slab_filled, slab_freed;
  SlabBuffer buffers[2];
  std::deque<SlabBuffer*> free_slabs, ready_slabs;
  bool stop = false;
  std::exception_ptr io_error;
  std::thread io;

  void start_io(uint64_t io_epoch, size_t io_slab);
  void stop_io();
  void run_io(uint64_t io_seed, uint64_t io_epoch, size_t io_slab);
  void fill_slab(ReaderCache& readers, const RankSlab& rs, uint64_t io_seed, uint64_t io_epoch,
                 SlabBuffer& out);
  void advance_slab();
  void gather_from_current(size_t rows, size_t to);
  void start_epoch(uint64_t e) {
    epoch = e;
    position = 0;
    plan = plan_epoch(slabs, options, seed, epoch);
  }
};

void Loader::Impl::start_io(uint64_t io_epoch, size_t io_slab) {
  stop = false;
  io_error = nullptr;
  ready_slabs.clear();
  free_slabs = {&buffers[0], &buffers[1]};
  current = nullptr;
  expect_epoch = io_epoch;
  expect_slab = io_slab;
  io = std::thread(&Impl::run_io, this, seed, io_epoch, io_slab);
}

void Loader::Impl::stop_io() {
  if (!io.joinable()) return;
  {
    std::lock_guard lock(mutex);
    stop = true;
  }
  slab_freed.notify_all();
  io.join();
}

void Loader::Impl::run_io(uint64_t io_seed, uint64_t io_epoch, size_t io_slab) {
  try {
    ReaderCache readers(paths);
    EpochPlan io_plan = plan_epoch(slabs, options, io_seed, io_epoch);
    for (;;) {
      if (io_slab == io_plan.slabs.size()) {  // never empty: the constructor checks world <= slabs
        io_plan = plan_epoch(slabs, options, io_seed, ++io_epoch);
        io_slab = 0;
      }
      SlabBuffer* buffer = nullptr;
      {
        std::unique_lock lock(mutex);
        slab_freed.wait(lock, [&] { return stop || !free_slabs.empty(); });
        if (stop) return;
        buffer = free_slabs.front();
        free_slabs.pop_front();
      }
      fill_slab(readers, io_plan.slabs[io_slab], io_seed, io_epoch, *buffer);
      buffer->epoch = io_epoch;
      buffer->rank_slab = io_slab;
      {
        std::lock_guard lock(mutex);
        ready_slabs.push_back(buffer);
      }
      slab_filled.notify_one();
      ++io_slab;
    }
  } catch (...) {
    {
      std::lock_guard lock(mutex);
      io_error = std::current_exception();
    }
    slab_filled.notify_one();
  }
}

void Loader::Impl::fill_slab(ReaderCache& readers, const RankSlab& rs, uint64_t io_seed,
                             uint64_t io_epoch, SlabBuffer& out) {
  const SlabRef& s = rs.slab;
  const std::string& path = paths[s.shard];
  ShardReader& reader = readers.get(s.shard);
  if (reader.meta().rows != shard_rows[s.shard])
    throw InputError(path, "rows", std::to_string(shard_rows[s.shard]) +
                     " rows as when the dataset was opened", std::to_string(reader.meta().rows));
  if (reader.meta().groups.size() != groupings)
    throw InputError(path, "/groups", std::to_string(groupings) + " groupings as when the dataset was opened",
                     std::to_string(reader.meta().groups.size()));
  ShardColumns& c = out.columns;
  reader.read_rows(s.first_row, s.rows, c);
  if (c.rows != s.rows || c.cell_id.size() != s.rows || c.region.size() != s.rows ||
      c.features.size() != s.rows * features || c.lonlat.size() != s.rows * 2 ||
      (with_hazard && c.hazard.size() != s.rows) ||
      (with_external && c.external_rating.size() != s.rows) ||
      (with_planted && c.planted_level.size() != s.rows) ||
      (with_population && c.population.size() != s.rows) || c.groups.size() != s.rows * groupings)
    throw std::runtime_error("ShardReader::read_rows returned columns of the wrong length for rows [" +
                             std::to_string(s.first_row) + ", " + std::to_string(s.first_row + s.rows) +
                             ") of " + path);
  const std::vector<uint32_t>& to_global = region_map[s.shard];
  for (uint32_t& r : c.region) {
    if (r >= to_global.size())
      throw InputError(path, "/region", "an index below " + std::to_string(to_global.size()) +
                       " (the number of region_names)", std::to_string(r));
    r = to_global[r];
  }
  for (size_t g = 0; g < groupings; ++g) {
    const std::vector<uint32_t>& codes = group_map[s.shard][g];
    for (size_t i = 0; i < s.rows; ++i) {
      uint32_t& code = c.groups[i * groupings + g];
      if (code >= codes.size())
        throw InputError(path, "/groups", "a code below " + std::to_string(codes.size()) + " (the number of labels)",
                         std::to_string(code));
      code = codes[code];
    }
  }
  out.order.resize(s.rows);
  std::iota(out.order.begin(), out.order.end(), uint32_t{0});
  if (options.shuffle)
    shuffle_in_place(out.order, derive_seed({kRowOrderTag, io_seed, io_epoch, s.shard, s.index}));
  out.global_offset = rs.global_offset;
  out.stored_offset = shard_stored_offset[s.shard] + s.first_row;
}

// Gives the exhausted slab back to the I/O thread and takes the next one, waiting if needed.
void Loader::Impl::advance_slab() {
  std::unique_lock lock(mutex);
  if (current != nullptr) {
    free_slabs.push_back(current);
    current = nullptr;
    slab_freed.notify_one();
  }
  slab_filled.wait(lock, [&] { return !ready_slabs.empty() || io_error; });
  if (ready_slabs.empty()) std::rethrow_exception(io_error);
  current = ready_slabs.front();
  ready_slabs.pop_front();
  if (current->epoch != expect_epoch || current->rank_slab != expect_slab)
    throw std::logic_error("loader: I/O thread delivered slab " + std::to_string(current->rank_slab) +
                           " of epoch " + std::to_string(current->epoch) + ", expected slab " +
                           std::to_string(expect_slab) + " of epoch " + std::to_string(expect_epoch));
  current_offset = skip_rows;
  skip_rows = 0;
  if (++expect_slab == plan.slabs.size()) {  // every epoch has the same number of rank slabs
    expect_slab = 0;
    ++expect_epoch;
  }
}

// Copies the current slab's next `rows` rows (in epoch order) to batch rows [to, to + rows).
// The gather runs here rather than on the I/O thread so that the two threads share the copying.
// One pass over the rows with every column's row prefetched a few rows ahead: the slab exceeds L2
// and order[] jumps across all of it, so the time goes to cache misses kept in flight together.
void Loader::Impl::gather_from_current(size_t rows, size_t to) {
  constexpr size_t kAhead = 16;
  const ShardColumns& c = current->columns;
  ShardColumns& b = batch_columns;
  const uint32_t* order = current->order.data() + current_offset;
  const size_t f = features, row_bytes = f * sizeof(float);
  const float* x = c.features.data();
  const int64_t* cell = c.cell_id.data();
  const bool all = !options.features_only;  // else the columns below stay out of the batch
  const double* lonlat = all ? c.lonlat.data() : nullptr;
  const uint32_t* region = all ? c.region.data() : nullptr;
  const float* hazard = all && with_hazard ? c.hazard.data() : nullptr;
  const int8_t* external = all && with_external ? c.external_rating.data() : nullptr;
  const int8_t* planted = all && with_planted ? c.planted_level.data() : nullptr;
  const float* population = all && with_population ? c.population.data() : nullptr;
  const size_t G = all ? groupings : 0;
  const uint32_t* groups = c.groups.data();
  for (size_t i = 0; i < rows; ++i) {
    if (i + kAhead < rows) {
      const size_t a = order[i + kAhead];
      const char* xa = reinterpret_cast<const char*>(x + a * f);
      __builtin_prefetch(xa);
      __builtin_prefetch(xa + row_bytes - 1);  // a row may straddle two cache lines
      __builtin_prefetch(cell + a);
      if (lonlat) __builtin_prefetch(lonlat + 2 * a);
      if (region) __builtin_prefetch(region + a);
      if (hazard) __builtin_prefetch(hazard + a);
      if (planted) __builtin_prefetch(planted + a);
      if (population) __builtin_prefetch(population + a);
      if (G) __builtin_prefetch(groups + a * G);
    }
    const size_t r = order[i], o = to + i;
    batch_stored_row[o] = current->stored_offset + r;
    copy_row(reinterpret_cast<const char*>(x + r * f), row_bytes,
             reinterpret_cast<char*>(b.features.data() + o * f));
    b.cell_id[o] = cell[r];
    if (lonlat) {
      b.lonlat[2 * o] = lonlat[2 * r];
      b.lonlat[2 * o + 1] = lonlat[2 * r + 1];
    }
    if (region) b.region[o] = region[r];
    if (hazard) b.hazard[o] = hazard[r];
    if (external) b.external_rating[o] = external[r];
    if (planted) b.planted_level[o] = planted[r];
    if (population) b.population[o] = population[r];
    for (size_t g = 0; g < G; ++g) b.groups[o * G + g] = groups[r * G + g];
  }
  std::iota(batch_global_row.begin() + static_cast<std::ptrdiff_t>(to),
            batch_global_row.begin() + static_cast<std::ptrdiff_t>(to + rows),
            current->global_offset + current_offset);
  current_offset += rows;
}

Loader::Loader(const ShardSet& set, LoaderOptions options) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  if (options.batch_rows == 0) throw InputError("", "batch_rows", "at least 1", "0");
  if (options.slab_rows == 0 || options.slab_rows > UINT32_MAX)
    throw InputError("", "slab_rows", "1 to 2^32-1 rows", std::to_string(options.slab_rows));
  if (options.world < 1) throw InputError("", "world", "at least 1", std::to_string(options.world));
  if (options.rank < 0 || options.rank >= options.world)
    throw InputError("", "rank", "0 <= rank < world = " + std::to_string(options.world),
                     std::to_string(options.rank));
  if (set.region_map().size() != set.shards().size())
    throw std::logic_error("ShardSet: region_map has " + std::to_string(set.region_map().size()) +
                           " entries for " + std::to_string(set.shards().size()) + " shards");
  m.options = options;
  m.features = set.schema().size();
  m.with_hazard = set.has_hazard();
  m.with_external = set.has_external_rating();
  m.with_planted = set.has_planted_level();
  m.region_map = set.region_map();
  if (set.group_map().size() != set.shards().size())
    throw std::logic_error("ShardSet: group_map has " + std::to_string(set.group_map().size()) +
                           " entries for " + std::to_string(set.shards().size()) + " shards");
  m.group_map = set.group_map();
  m.groupings = set.group_names().size();
  m.with_population = set.has_population();
  for (size_t s = 0; s < set.shards().size(); ++s) {
    const ShardMeta& meta = set.shards()[s];
    m.paths.push_back(meta.path);
    m.shard_stored_offset.push_back(s == 0 ? 0 : m.shard_stored_offset.back() + m.shard_rows.back());
    m.shard_rows.push_back(meta.rows);
    for (size_t first = 0, index = 0; first < meta.rows; first += options.slab_rows, ++index)
      m.slabs.push_back({s, index, first, std::min(options.slab_rows, meta.rows - first)});
  }
  if (m.slabs.size() > UINT32_MAX)
    throw InputError("", "slab_rows", "slabs fewer than 2^32; raise slab_rows",
                     std::to_string(m.slabs.size()) + " slabs");
  if (m.slabs.empty())
    throw InputError(set.shards().empty() ? "" : set.shards()[0].path, "rows", "at least one row in the data",
                     "0 rows in " + std::to_string(set.shards().size()) + " shard(s)");
  // A rank without slabs would have no batches, and data-parallel steps would not line up.
  if (m.slabs.size() < static_cast<size_t>(options.world))
    throw InputError("", "world", "at most " + std::to_string(m.slabs.size()) + " ranks (one per slab of " +
                     std::to_string(options.slab_rows) + " rows; lower slab_rows)",
                     std::to_string(options.world));
  m.seed = options.seed;
  m.start_epoch(0);
  const size_t n = options.batch_rows;
  ShardColumns& b = m.batch_columns;
  b.rows = n;
  b.features.resize(n * m.features);
  b.cell_id.resize(n);
  b.lonlat.resize(n * 2);
  b.region.resize(n);
  b.hazard.resize(m.with_hazard ? n : 0);
  b.external_rating.resize(m.with_external ? n : 0);
  b.planted_level.resize(m.with_planted ? n : 0);
  b.population.resize(m.with_population ? n : 0);
  b.groups.resize(n * m.groupings);
  m.batch_global_row.resize(n);
  m.batch_stored_row.resize(n);
  m.start_io(0, 0);
}

Loader::~Loader() { impl_->stop_io(); }

bool Loader::next(Batch& batch) {
  Impl& m = *impl_;
  if (m.position == m.plan.rows) {
    m.start_epoch(m.epoch + 1);
    return false;
  }
  const size_t need = std::min<uint64_t>(m.options.batch_rows, m.plan.rows - m.position);
  for (size_t filled = 0; filled < need;) {
    if (m.current == nullptr || m.current_offset == m.current->columns.rows) m.advance_slab();
    const size_t n = std::min(need - filled, m.current->columns.rows - m.current_offset);
    m.gather_from_current(n, filled);
    filled += n;
  }
  m.position += need;
  const ShardColumns& b = m.batch_columns;
  batch.rows = need;
  batch.features = m.features;
  batch.x = b.features.data();
  batch.cell_id = b.cell_id.data();
  const bool all = !m.options.features_only;
  batch.lonlat = all ? b.lonlat.data() : nullptr;
  batch.region = all ? b.region.data() : nullptr;
  batch.hazard = all && m.with_hazard ? b.hazard.data() : nullptr;
  batch.external_rating = all && m.with_external ? b.external_rating.data() : nullptr;
  batch.planted_level = all && m.with_planted ? b.planted_level.data() : nullptr;
  batch.groupings = all ? m.groupings : 0;
  batch.groups = all && m.groupings ? b.groups.data() : nullptr;
  batch.population = all && m.with_population ? b.population.data() : nullptr;
  batch.global_row = m.batch_global_row.data();
  batch.stored_row = m.batch_stored_row.data();
  return true;
}

LoaderCursor Loader::cursor() const { return {impl_->epoch, impl_->position, impl_->seed}; }

void Loader::restore(const LoaderCursor& cursor) {
  Impl& m = *impl_;
  // The cursor's seed defines the order being resumed, so it replaces options.seed.
  EpochPlan plan = plan_epoch(m.slabs, m.options, cursor.seed, cursor.epoch);
  if (cursor.position > plan.rows)
    throw InputError("loader cursor", "position",
                     "at most " + std::to_string(plan.rows) + " rows (rank " +
                         std::to_string(m.options.rank) + " of " + std::to_string(m.options.world) +
                         ", epoch " + std::to_string(cursor.epoch) + ")",
                     std::to_string(cursor.position));
  m.stop_io();
  m.seed = cursor.seed;
  m.epoch = cursor.epoch;
  m.position = cursor.position;
  m.plan = std::move(plan);
  size_t slab = 0;
  uint64_t start = 0;
  while (slab < m.plan.slabs.size() && start + m.plan.slabs[slab].slab.rows <= m.position)
    start += m.plan.slabs[slab++].slab.rows;
  m.skip_rows = m.position - start;
  uint64_t io_epoch = m.epoch;
  if (slab == m.plan.slabs.size()) {  // the epoch is used up: the next slab is the next epoch's first
    slab = 0;
    ++io_epoch;
  }
  m.start_io(io_epoch, slab);
}

uint64_t Loader::epoch() const { return impl_->epoch; }

// Of the current epoch. With one rank, or slabs of equal size, it is the same every epoch; with
// several ranks and a shorter last slab per shard, a rank's share moves by up to a slab between
// epochs (and between ranks), since which slabs land on which rank is reshuffled.
size_t Loader::rank_rows() const { return impl_->plan.rows; }

size_t Loader::rank_batches() const {
  return (impl_->plan.rows + impl_->options.batch_rows - 1) / impl_->options.batch_rows;
}

}  // namespace resilinet
