// k-means on the CPU: the assignment step (nearest centroid, per-cluster sums, inertia) and the
// driver (greedy k-means++ seeding, Lloyd iterations, restarts). OpenMP over fixed chunks of rows
// whose partials are summed in chunk order, so results do not depend on the thread count. The
// chunk loops are compiled once per instruction set (cpu_isa()); every set gives the same bytes.
// Not the distributed form (the trainer sums the assignment step across ranks); fp64 twin of the
// assignment step: reference/kmeans.cpp.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu/isa.hpp"
#include "kernels/cpu/vec.hpp"
#include "kernels/ops.hpp"
#include "kernels/splitmix.hpp"

// The vectors only ever live inside inlined code, so the ABI note about them does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace resilinet::kernels::cpu {

namespace {

constexpr size_t kChunkRows = 4096;  // unit of the fixed-order reduction
constexpr size_t kBlockRows = 64;    // rows stored column by column so distances vectorise across rows

// Distances run on float vectors V of 4 (baseline), 8 (avx2) or 16 (avx512) lanes, one row per
// lane: each row's sum over dimensions is the same sequence of float operations whatever the
// width. This file is compiled with -ffp-contract=off (CMakeLists.txt) so that no width fuses a
// multiply and an add. kUnroll registers per group keep the running distances of kUnroll * lanes
// rows in registers.
constexpr size_t kUnroll = 4;
template <class V>
constexpr size_t kLanes = sizeof(V) / sizeof(float);
template <class V>
constexpr size_t kGroupRows = kLanes<V> * kUnroll;
static_assert(kBlockRows % kGroupRows<Vec16> == 0 && kChunkRows % kBlockRows == 0);

// Below this a pass takes well under a millisecond: waking threads costs more than it saves,
// above all on a busy machine.
constexpr size_t kParallelRows = 4 * kChunkRows;

size_t chunk_count(size_t rows) { return (rows + kChunkRows - 1) / kChunkRows; }

// xt[k * kBlockRows + r] = x[r * dims + k] for the n <= kBlockRows rows of a block; zero padding.
void transpose_block(const float* x, size_t n, int dims, float* xt) {
  for (size_t r = 0; r < n; ++r)
    for (int k = 0; k < dims; ++k) xt[size_t(k) * kBlockRows + r] = x[r * dims + k];
  if (n < kBlockRows)
    for (int k = 0; k < dims; ++k)
      std::fill(xt + size_t(k) * kBlockRows + n, xt + size_t(k + 1) * kBlockRows, 0.0f);
}

// All rows in blocked layout (block after block, each transposed): the k-means driver makes
// tens of passes over the same rows, so it transposes once.
std::vector<float> make_blocked(const float* x, size_t rows, int dims) {
  const size_t blocks = (rows + kBlockRows - 1) / kBlockRows;
  const size_t block_values = size_t(dims) * kBlockRows;
  std::vector<float> xt(blocks * block_values);
  const auto block_count = static_cast<std::ptrdiff_t>(blocks);
#pragma omp parallel for schedule(static) if (rows >= kParallelRows)
  for (std::ptrdiff_t b = 0; b < block_count; ++b) {
    const size_t first = size_t(b) * kBlockRows;
    transpose_block(x + first * dims, std::min(kBlockRows, rows - first), dims,
                    xt.data() + size_t(b) * block_values);
  }
  return xt;
}

// Transposed blocks of rows: from a blocked copy when there is one, else transposed on the fly.
struct BlockSource {
  const float* x;        // [rows x dims], row-major
  const float* blocked;  // make_blocked(x) or nullptr
  size_t rows;
  int dims;
  // The block whose first row is `first` (a multiple of kBlockRows); scratch holds dims*kBlockRows.
  const float* block(size_t first, float* scratch) const {
    if (blocked) return blocked + (first / kBlockRows) * size_t(dims) * kBlockRows;
    transpose_block(x + first * dims, std::min(kBlockRows, rows - first), dims, scratch);
    return scratch;
  }
};

// |x_r - c|^2 for the kGroupRows rows starting at xt_group inside a transposed block, as kUnroll
// vectors of kLanes rows.
template <class V>
[[gnu::always_inline]] inline void group_distances(const float* xt_group, int dims, const float* c,
                                                   V* d2) {
  for (size_t u = 0; u < kUnroll; ++u) d2[u] = V{};
  for (int k = 0; k < dims; ++k) {
    const float ck = c[k];
    const float* column = xt_group + size_t(k) * kBlockRows;
    for (size_t u = 0; u < kUnroll; ++u) {
      const V diff = load<V>(column + u * kLanes<V>) - ck;
      d2[u] += diff * diff;
    }
  }
}

template <class V>
[[gnu::always_inline]] inline void block_distances(const float* xt, int dims, const float* c,
                                                   float* d2) {
  for (size_t g = 0; g < kBlockRows; g += kGroupRows<V>) {
    V v[kUnroll];
    group_distances(xt + g, dims, c, v);
    std::memcpy(d2 + g, v, sizeof v);
  }
}

// Nearest centroid of each row of a transposed block; strict < keeps the lowest index on ties.
template <class V>
[[gnu::always_inline]] inline void nearest_in_block(const float* xt, int dims,
                                                    const float* centroids, int clusters,
                                                    int32_t* label, float* best) {
  using VI = decltype(V{} < V{});  // int32 lanes
  for (size_t g = 0; g < kBlockRows; g += kGroupRows<V>) {
    V b[kUnroll], d2[kUnroll];
    VI l[kUnroll];
    group_distances(xt + g, dims, centroids, b);
    for (size_t u = 0; u < kUnroll; ++u) l[u] = VI{};
    for (int j = 1; j < clusters; ++j) {
      group_distances(xt + g, dims, centroids + size_t(j) * dims, d2);
      for (size_t u = 0; u < kUnroll; ++u) {
        const VI closer = d2[u] < b[u];
        l[u] = closer ? VI{} + j : l[u];
        b[u] = closer ? d2[u] : b[u];
      }
    }
    std::memcpy(label + g, l, sizeof l);
    std::memcpy(best + g, b, sizeof b);
  }
}

// sum of v[0, n) in double with four interleaved accumulators: a fixed order, shorter chains.
[[gnu::always_inline]] inline double sum_in_double(const float* v, size_t n) {
  double a[4] = {0, 0, 0, 0};
  size_t r = 0;
  for (; r + 4 <= n; r += 4)
    for (size_t lane = 0; lane < 4; ++lane) a[lane] += v[r + lane];
  for (; r < n; ++r) a[0] += v[r];
  return (a[0] + a[1]) + (a[2] + a[3]);
}

// Per-chunk partials of one assignment pass, reused across passes of one k-means call.
struct AssignWorkspace {
  std::vector<double> sums;     // [chunks x clusters x dims]
  std::vector<int64_t> counts;  // [chunks x clusters]
  std::vector<double> inertia;  // [chunks]
  std::vector<size_t> changed;  // [chunks]
};

// One assignment pass as its chunks see it. labels (optional) are overwritten; with want_sums
// the chunk's sums and counts go to its slot of ws.
struct AssignPass {
  const BlockSource* src;
  const float* centroids;
  int clusters;
  int32_t* labels;
  bool want_sums;
  AssignWorkspace* ws;
};

template <class V>
[[gnu::always_inline]] inline void assign_chunk(const AssignPass& pass, size_t chunk,
                                                float* scratch) {
  const BlockSource& src = *pass.src;
  const int dims = src.dims;
  AssignWorkspace& ws = *pass.ws;
  alignas(64) int32_t label[kBlockRows];
  alignas(64) float best[kBlockRows];
  const size_t chunk_first = chunk * kChunkRows;
  const size_t chunk_last = std::min(src.rows, chunk_first + kChunkRows);
  const size_t centroid_values = size_t(pass.clusters) * dims;
  double* chunk_sums = pass.want_sums ? ws.sums.data() + chunk * centroid_values : nullptr;
  int64_t* chunk_counts = pass.want_sums ? ws.counts.data() + chunk * pass.clusters : nullptr;
  double inertia = 0;
  size_t changed = 0;
  for (size_t first = chunk_first; first < chunk_last; first += kBlockRows) {
    const size_t n = std::min(kBlockRows, chunk_last - first);
    const float* xt = src.block(first, scratch);
    nearest_in_block<V>(xt, dims, pass.centroids, pass.clusters, label, best);
    inertia += sum_in_double(best, n);
    if (pass.labels) {
      for (size_t r = 0; r < n; ++r) changed += pass.labels[first + r] != label[r];
      std::copy(label, label + n, pass.labels + first);
    }
    if (pass.want_sums) {
      // From the row-major rows: contiguous, so the adds vectorise across dimensions while each
      // sum still takes its rows in order.
      for (size_t r = 0; r < n; ++r) {
        double* s = chunk_sums + size_t(label[r]) * dims;
        const float* row = src.x + (first + r) * dims;
        for (int k = 0; k < dims; ++k) s[k] += row[k];
        chunk_counts[label[r]] += 1;
      }
    }
  }
  ws.inertia[chunk] = inertia;
  ws.changed[chunk] = changed;
}

// One k-means++ evaluation of candidate centres as its chunks see it (see evaluate_candidates).
struct CandidatePass {
  const BlockSource* src;
  const float* candidates;
  int candidate_count;
  float* closest;     // [rows]
  bool update;
  double* chunk_pot;  // [chunks x candidate_count]
};

template <class V>
[[gnu::always_inline]] inline void candidate_chunk(const CandidatePass& pass, size_t chunk,
                                                   float* scratch) {
  const BlockSource& src = *pass.src;
  const int dims = src.dims;
  alignas(64) float d2[kBlockRows];
  const size_t chunk_first = chunk * kChunkRows;
  const size_t chunk_last = std::min(src.rows, chunk_first + kChunkRows);
  double* sums = pass.chunk_pot + chunk * pass.candidate_count;
  for (size_t first = chunk_first; first < chunk_last; first += kBlockRows) {
    const size_t n = std::min(kBlockRows, chunk_last - first);
    const float* xt = src.block(first, scratch);
    float* closest = pass.closest + first;
    for (int m = 0; m < pass.candidate_count; ++m) {
      block_distances<V>(xt, dims, pass.candidates + size_t(m) * dims, d2);
      for (size_t r = 0; r < n; ++r) d2[r] = std::min(closest[r], d2[r]);
      sums[m] += sum_in_double(d2, n);
      if (pass.update) std::copy(d2, d2 + n, closest);
    }
  }
}

// The chunk loops of one instruction set; scratch holds dims * kBlockRows floats.
struct ChunkKernels {
  void (*assign)(const AssignPass&, size_t chunk, float* scratch);
  void (*candidates)(const CandidatePass&, size_t chunk, float* scratch);
};

void assign_chunk_baseline(const AssignPass& pass, size_t chunk, float* scratch) {
  assign_chunk<Vec4>(pass, chunk, scratch);
}
void candidate_chunk_baseline(const CandidatePass& pass, size_t chunk, float* scratch) {
  candidate_chunk<Vec4>(pass, chunk, scratch);
}
#if defined(__x86_64__)
[[gnu::target("avx2,fma")]] void assign_chunk_avx2(const AssignPass& pass, size_t chunk,
                                                   float* scratch) {
  assign_chunk<Vec8>(pass, chunk, scratch);
}
[[gnu::target("avx2,fma")]] void candidate_chunk_avx2(const CandidatePass& pass, size_t chunk,
                                                      float* scratch) {
  candidate_chunk<Vec8>(pass, chunk, scratch);
}
[[gnu::target("avx512f,avx512vl,avx2,fma")]] void assign_chunk_avx512(const AssignPass& pass,
                                                                      size_t chunk,
                                                                      float* scratch) {
  assign_chunk<Vec16>(pass, chunk, scratch);
}
[[gnu::target("avx512f,avx512vl,avx2,fma")]] void candidate_chunk_avx512(
    const CandidatePass& pass, size_t chunk, float* scratch) {
  candidate_chunk<Vec16>(pass, chunk, scratch);
}
#endif

ChunkKernels chunk_kernels(Isa isa) {
#if defined(__x86_64__)
  if (isa == Isa::avx512) return {assign_chunk_avx512, candidate_chunk_avx512};
  if (isa == Isa::avx2) return {assign_chunk_avx2, candidate_chunk_avx2};
#endif
  (void)isa;
  return {assign_chunk_baseline, candidate_chunk_baseline};
}

struct AssignTotals {
  double inertia = 0;
  size_t changed = 0;  // rows whose label differs from the one already in labels
};

// One assignment pass over all rows. labels (optional) are overwritten; sums/counts (optional)
// receive the chunk partials added in chunk order.
AssignTotals assign_rows(const BlockSource& src, const ChunkKernels& kernels,
                         const float* centroids, int clusters, int32_t* labels, double* sums,
                         int64_t* counts, AssignWorkspace& ws) {
  const size_t rows = src.rows;
  const int dims = src.dims;
  const size_t chunks = chunk_count(rows);
  const size_t centroid_values = size_t(clusters) * dims;
  const bool want_sums = sums != nullptr || counts != nullptr;
  if (want_sums) {
    ws.sums.assign(chunks * centroid_values, 0.0);
    ws.counts.assign(chunks * clusters, 0);
  }
  ws.inertia.assign(chunks, 0.0);
  ws.changed.assign(chunks, 0);
  const AssignPass pass{&src, centroids, clusters, labels, want_sums, &ws};
  const auto chunk_total = static_cast<std::ptrdiff_t>(chunks);
#pragma omp parallel if (rows >= kParallelRows)
  {
    std::vector<float> scratch(size_t(dims) * kBlockRows);
#pragma omp for schedule(dynamic)
    for (std::ptrdiff_t chunk = 0; chunk < chunk_total; ++chunk)
      kernels.assign(pass, size_t(chunk), scratch.data());
  }
  AssignTotals totals;
  for (size_t chunk = 0; chunk < chunks; ++chunk) {
    totals.inertia += ws.inertia[chunk];
    totals.changed += ws.changed[chunk];
    if (sums)
      for (size_t v = 0; v < centroid_values; ++v)
        sums[v] += ws.sums[chunk * centroid_values + v];
    if (counts)
      for (int j = 0; j < clusters; ++j) counts[j] += ws.counts[chunk * clusters + j];
  }
  return totals;
}

// Uniform in [0, 1) from the top 53 bits: the same numbers with every standard library.
double uniform01(std::mt19937_64& rng) { return double(rng() >> 11) * 0x1.0p-53; }

// Squared distance of every row to its closest chosen centre so far, and its chunk sums.
struct Potential {
  std::vector<float> closest;     // [rows]
  std::vector<double> chunk_sum;  // [chunks]
  double total = 0;
};

// candidate_potential[m] = sum_i min(closest_i, |x_i - c_m|^2) for each candidate centre c_m;
// with update, closest takes the minimum over the (single) candidate and the sums are refreshed.
void evaluate_candidates(const BlockSource& src, const ChunkKernels& kernels,
                         const float* candidates, int candidate_count, Potential& pot, bool update,
                         std::vector<double>& candidate_potential) {
  const size_t rows = src.rows;
  const int dims = src.dims;
  const size_t chunks = chunk_count(rows);
  std::vector<double> chunk_pot(chunks * candidate_count, 0.0);
  const CandidatePass pass{&src,   candidates, candidate_count, pot.closest.data(),
                           update, chunk_pot.data()};
  const auto chunk_total = static_cast<std::ptrdiff_t>(chunks);
#pragma omp parallel if (rows >= kParallelRows)
  {
    std::vector<float> scratch(size_t(dims) * kBlockRows);
#pragma omp for schedule(dynamic)
    for (std::ptrdiff_t chunk = 0; chunk < chunk_total; ++chunk)
      kernels.candidates(pass, size_t(chunk), scratch.data());
  }
  candidate_potential.assign(candidate_count, 0.0);
  for (size_t chunk = 0; chunk < chunks; ++chunk)
    for (int m = 0; m < candidate_count; ++m)
      candidate_potential[m] += chunk_pot[chunk * candidate_count + m];
  if (update) {
    pot.total = 0;
    for (size_t chunk = 0; chunk < chunks; ++chunk) {
      pot.chunk_sum[chunk] = chunk_pot[chunk * candidate_count];
      pot.total += pot.chunk_sum[chunk];
    }
  }
}

// D^2 sampling: the row where the running sum of closest distances first exceeds target
// (target in [0, pot.total)). Rows at distance zero are never drawn.
size_t draw_row(const Potential& pot, size_t rows, double target) {
  const size_t chunks = pot.chunk_sum.size();
  double prefix = 0;
  size_t chunk = 0;
  while (chunk + 1 < chunks && prefix + pot.chunk_sum[chunk] <= target) prefix += pot.chunk_sum[chunk++];
  while (chunk > 0 && pot.chunk_sum[chunk] == 0) prefix -= pot.chunk_sum[--chunk];  // rounding
  const size_t first = chunk * kChunkRows;
  const size_t last = std::min(rows, first + kChunkRows);
  double running = prefix;
  size_t last_positive = first;
  for (size_t i = first; i < last; ++i) {
    if (pot.closest[i] > 0) last_positive = i;
    running += pot.closest[i];
    if (running > target && pot.closest[i] > 0) return i;
  }
  return last_positive;
}

// Greedy k-means++ (as in Arthur & Vassilvitskii, with 2 + log K candidates per centre, keeping the
// one that lowers the potential most). Writes centroids [clusters x dims].
void seed_kmeans_plus_plus(const BlockSource& src, const ChunkKernels& kernels, int clusters,
                           uint64_t seed, Potential& pot, float* centroids) {
  const float* x = src.x;
  const size_t rows = src.rows;
  const int dims = src.dims;
  std::mt19937_64 rng(seed);
  const int candidate_count = 2 + int(std::log(double(clusters)));
  const size_t first_row = std::min(rows - 1, size_t(uniform01(rng) * double(rows)));
  std::copy(x + first_row * dims, x + (first_row + 1) * dims, centroids);

  pot.closest.assign(rows, std::numeric_limits<float>::infinity());
  pot.chunk_sum.assign(chunk_count(rows), 0.0);
  std::vector<double> potential;
  evaluate_candidates(src, kernels, centroids, 1, pot, true, potential);

  std::vector<float> candidates(size_t(candidate_count) * dims);
  for (int c = 1; c < clusters; ++c) {
    for (int m = 0; m < candidate_count; ++m) {
      // All rows already coincide with a centre: any row will do (the cluster stays empty).
      const size_t row = pot.total > 0 ? draw_row(pot, rows, uniform01(rng) * pot.total)
                                       : std::min(rows - 1, size_t(uniform01(rng) * double(rows)));
      std::copy(x + row * dims, x + (row + 1) * dims, candidates.data() + size_t(m) * dims);
    }
    evaluate_candidates(src, kernels, candidates.data(), candidate_count, pot, false, potential);
    const int winner = int(std::min_element(potential.begin(), potential.end()) - potential.begin());
    float* centre = centroids + size_t(c) * dims;
    std::copy(candidates.data() + size_t(winner) * dims,
              candidates.data() + size_t(winner + 1) * dims, centre);
    evaluate_candidates(src, kernels, centre, 1, pot, true, potential);
  }
}

// Moves each empty cluster's centroid onto one of the rows farthest from their own centroid
// (distinct rows, farthest first, ties to the lower row). Returns whether anything moved.
bool reseed_empty_clusters(const float* x, size_t rows, int dims, int clusters,
                           const int32_t* labels, const int64_t* counts, std::vector<float>& scratch,
                           float* centroids) {
  std::vector<int> empty;
  for (int j = 0; j < clusters; ++j)
    if (counts[j] == 0) empty.push_back(j);
  if (empty.empty()) return false;
  const auto total_rows = static_cast<std::ptrdiff_t>(rows);
#pragma omp parallel for schedule(static) if (rows >= kParallelRows)
  for (std::ptrdiff_t i = 0; i < total_rows; ++i) {
    const float* xi = x + size_t(i) * dims;
    const float* c = centroids + size_t(labels[i]) * dims;
    float d2 = 0;
    for (int k = 0; k < dims; ++k) d2 += (xi[k] - c[k]) * (xi[k] - c[k]);
    scratch[i] = d2;
  }
  // The farthest rows, best first; a rare path, so a plain scan.
  std::vector<size_t> far;
  for (size_t i = 0; i < rows; ++i) {
    if (!(scratch[i] > 0)) continue;
    auto pos = std::find_if(far.begin(), far.end(), [&](size_t f) { return scratch[i] > scratch[f]; });
    if (pos == far.end() && far.size() >= empty.size()) continue;
    far.insert(pos, i);
    if (far.size() > empty.size()) far.pop_back();
  }
  for (size_t e = 0; e < far.size(); ++e)
    std::copy(x + far[e] * dims, x + (far[e] + 1) * dims, centroids + size_t(empty[e]) * dims);
  return !far.empty();
}

struct LloydRun {
  double inertia = 0;
  int iterations = 0;
};

// Lloyd iterations from the given centroids until the relative inertia change is below tolerance,
// no label changes, or max_iterations. On return labels and inertia belong to the centroids.
LloydRun run_lloyd(const BlockSource& src, const ChunkKernels& kernels,
                   const KMeansOptions& options, float* centroids, int32_t* labels,
                   std::vector<float>& scratch, AssignWorkspace& ws) {
  const float* x = src.x;
  const size_t rows = src.rows;
  const int dims = src.dims;
  const int clusters = options.clusters;
  const size_t centroid_values = size_t(clusters) * dims;
  std::vector<double> sums(centroid_values);
  std::vector<int64_t> counts(clusters);
  std::fill(labels, labels + rows, -1);
  LloydRun run;
  double previous = std::numeric_limits<double>::infinity();
  for (int iteration = 1; iteration <= options.max_iterations; ++iteration) {
    std::fill(sums.begin(), sums.end(), 0.0);
    std::fill(counts.begin(), counts.end(), 0);
    const AssignTotals pass =
        assign_rows(src, kernels, centroids, clusters, labels, sums.data(), counts.data(), ws);
    run.iterations = iteration;
    run.inertia = pass.inertia;
    // Same labels give the same centroids: labels and inertia already match them.
    if (pass.changed == 0) return run;
    for (int j = 0; j < clusters; ++j) {
      if (counts[j] == 0) continue;
      for (int k = 0; k < dims; ++k)
        centroids[size_t(j) * dims + k] = float(sums[size_t(j) * dims + k] / double(counts[j]));
    }
    const bool reseeded = reseed_empty_clusters(x, rows, dims, clusters, labels, counts.data(),
                                                scratch, centroids);
    const bool settled = std::abs(previous - pass.inertia) <= options.tolerance * pass.inertia;
    previous = pass.inertia;
    if (settled && !reseeded) break;
  }
  run.inertia =
      assign_rows(src, kernels, centroids, clusters, labels, nullptr, nullptr, ws).inertia;
  return run;
}

void check_kmeans_arguments(size_t rows, int dims, const KMeansOptions& options) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("kmeans: " + what); };
  if (dims < 1) fail("dims must be >= 1, got " + std::to_string(dims));
  if (options.clusters < 1) fail("clusters must be >= 1, got " + std::to_string(options.clusters));
  if (rows < size_t(options.clusters))
    fail("needs at least as many rows as clusters (" + std::to_string(options.clusters) +
         "), got " + std::to_string(rows));
  if (options.restarts < 1) fail("restarts must be >= 1, got " + std::to_string(options.restarts));
  if (options.max_iterations < 1)
    fail("max_iterations must be >= 1, got " + std::to_string(options.max_iterations));
  if (!(options.tolerance >= 0)) fail("tolerance must be >= 0");
}

}  // namespace

// labels, sums and counts may each be null when the caller does not need them.
double kmeans_assign(const float* x, size_t rows, int dims, const float* centroids, int clusters,
                     int32_t* labels, double* sums, int64_t* counts) {
  AssignWorkspace ws;
  return assign_rows(BlockSource{x, nullptr, rows, dims}, chunk_kernels(cpu_isa()), centroids,
                     clusters, labels, sums, counts, ws)
      .inertia;
}

// Restart r seeds its own generator from (seed, r). Holds a blocked copy of x (as large as x)
// for the duration of the call.
KMeansResult kmeans(const float* x, size_t rows, int dims, const KMeansOptions& options) {
  check_kmeans_arguments(rows, dims, options);
  const ChunkKernels kernels = chunk_kernels(cpu_isa());
  const size_t centroid_values = size_t(options.clusters) * dims;
  KMeansResult best;
  std::vector<float> centroids(centroid_values);
  std::vector<int32_t> labels(rows);
  const std::vector<float> blocked = make_blocked(x, rows, dims);
  const BlockSource src{x, blocked.data(), rows, dims};
  Potential pot;
  AssignWorkspace ws;
  for (int restart = 0; restart < options.restarts; ++restart) {
    const uint64_t restart_seed = splitmix64(options.seed ^ splitmix64(uint64_t(restart)));
    seed_kmeans_plus_plus(src, kernels, options.clusters, restart_seed, pot, centroids.data());
    const LloydRun run =
        run_lloyd(src, kernels, options, centroids.data(), labels.data(), pot.closest, ws);
    if (restart == 0 || run.inertia < best.inertia) {
      best.centroids = centroids;
      best.labels = labels;
      best.inertia = run.inertia;
      best.iterations = run.iterations;
    }
  }
  return best;
}

}  // namespace resilinet::kernels::cpu
