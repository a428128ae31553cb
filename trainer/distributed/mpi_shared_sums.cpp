// Compiled where the build has MPI (RESILINET_HAVE_MPI); the MPI communicator is its only user.
#if RESILINET_HAVE_MPI
#include "trainer/distributed/mpi_shared_sums.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>

namespace resilinet {
namespace {

// The window's size over all ranks: small enough for a container's /dev/shm, large enough that the
// default model's gradient (56,468 floats) is one piece on up to 8 ranks. Larger sums go in pieces.
constexpr size_t kWindowBytes = size_t(16) << 20;
constexpr size_t kMinHalfBytes = size_t(64) << 10;

}  // namespace

void check_mpi(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw std::runtime_error(std::string(what) + ": " + std::string(text, size_t(length)));
}

bool all_ranks_share_memory(MPI_Comm comm) {
  const char* env = std::getenv("RESILINET_MPI_SHARED_MEMORY");
  // Every rank reads the same launcher environment, so they all take the same path.
  if (env && std::string(env) == "0") return false;
  MPI_Comm node = MPI_COMM_NULL;
  check_mpi(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node), "MPI_Comm_split_type");
  int node_size = 0, world = 0;
  MPI_Comm_size(node, &node_size);
  MPI_Comm_size(comm, &world);
  MPI_Comm_free(&node);
  // One rank per machine somewhere means messages anyway; the answer is the same on every rank.
  int shared = node_size == world ? 1 : 0, all = 0;
  check_mpi(MPI_Allreduce(&shared, &all, 1, MPI_INT, MPI_MIN, comm), "MPI_Allreduce");
  return all == 1;
}

MpiSharedSums::MpiSharedSums(MPI_Comm comm) : comm_(comm) {
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &world_);
  capacity_ = std::max(kMinHalfBytes, kWindowBytes / (2 * size_t(world_))) / 64 * 64;
  char* base = nullptr;
  // An allocation the machine refuses (a small /dev/shm) is an error with a way out, not an abort.
  MPI_Errhandler before;
  MPI_Comm_get_errhandler(comm_, &before);
  MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
  const size_t slot_bytes = 2 * capacity_ + 2 * kScalarLine;  // the two halves, then their scalars
  const int code = MPI_Win_allocate_shared(MPI_Aint(slot_bytes), 1, MPI_INFO_NULL, comm_, &base, &window_);
  MPI_Comm_set_errhandler(comm_, before);
  MPI_Errhandler_free(&before);
  check_mpi(code, ("MPI shared-memory window of " + std::to_string(slot_bytes) +
                   " bytes a rank (RESILINET_MPI_SHARED_MEMORY=0 sums with messages instead)").c_str());
  slots_.resize(size_t(world_));
  for (int r = 0; r < world_; ++r) {
    MPI_Aint size = 0;
    int unit = 0;
    void* at = nullptr;
    check_mpi(MPI_Win_shared_query(window_, r, &size, &unit, &at), "MPI_Win_shared_query");
    slots_[size_t(r)] = static_cast<char*>(at);
  }
  // One passive epoch for the window's life: loads and stores are ordered by fence() alone.
  check_mpi(MPI_Win_lock_all(MPI_MODE_NOCHECK, window_), "MPI_Win_lock_all");
}

MpiSharedSums::~MpiSharedSums() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized || window_ == MPI_WIN_NULL) return;
  // Freeing is collective: while an error unwinds this rank the others may never come, and the
  // job ends with MPI_Abort (abort_job) anyway.
  if (std::uncaught_exceptions() > 0) return;
  MPI_Win_unlock_all(window_);
  MPI_Win_free(&window_);
}

// Rank 0's scalar plus rank 1's plus ..., as allreduce_sum adds.
double MpiSharedSums::scalar_sum(bool sums_half) const {
  double sum = *scalar(0, sums_half);
  for (int r = 1; r < world_; ++r) sum += *scalar(r, sums_half);
  return sum;
}

void MpiSharedSums::fence() {
  check_mpi(MPI_Win_sync(window_), "MPI_Win_sync");
  check_mpi(MPI_Barrier(comm_), "MPI_Barrier");
  check_mpi(MPI_Win_sync(window_), "MPI_Win_sync");
  input_loaded_ = sums_loaded_ = false;
}

// Every rank makes the same calls in the same order, so every rank fences at the same points.
void MpiSharedSums::before_storing_input() {
  if (input_loaded_) fence();
}
void MpiSharedSums::before_storing_sums() {
  if (sums_loaded_) fence();
}

// (1) every rank stores its values in its input half; fence; (2) the owner of each element adds the
// ranks' values in rank order into its sums half; fence; (3) every rank copies the owners' sums out.
template <class T>
void MpiSharedSums::allreduce_sum(T* data, size_t count) {
  const size_t w = size_t(world_), piece = capacity_ / sizeof(T);
  for (size_t at = 0; at < count; at += piece) {
    const size_t n = std::min(piece, count - at);
    auto start = [&](size_t r) { return n * r / w; };
    before_storing_input();
    std::memcpy(input(rank_), data + at, n * sizeof(T));
    fence();
    const size_t first = start(size_t(rank_)), own = start(size_t(rank_) + 1) - first;
    T* mine = reinterpret_cast<T*>(sums(rank_));
    const T* rank0 = reinterpret_cast<const T*>(input(0)) + first;
    std::memcpy(mine, rank0, own * sizeof(T));
    for (int r = 1; r < world_; ++r) {
      const T* values = reinterpret_cast<const T*>(input(r)) + first;
      for (size_t i = 0; i < own; ++i) mine[i] += values[i];
    }
    fence();
    for (size_t r = 0; r < w; ++r)
      std::memcpy(data + at + start(r), sums(int(r)), (start(r + 1) - start(r)) * sizeof(T));
    sums_loaded_ = true;
  }
}

template void MpiSharedSums::allreduce_sum(float*, size_t);
template void MpiSharedSums::allreduce_sum(double*, size_t);
template void MpiSharedSums::allreduce_sum(int64_t*, size_t);

// Every rank stores its tree nodes' values of every element and, after one fence, combines all of
// them itself: the owners' additions, made on every rank (no second fence to share them). Pieces
// take the two halves of the slots in turn, so storing the next piece needs no fence of its own:
// a rank stores into a half again only after a later piece's fence, which every rank reaches after
// its loads from that half.
void MpiSharedSums::sum_tile_tree(const TileTreePlan& plan, const float* tiles, size_t count, float* out,
                                  double* scalar) {
  const size_t w = size_t(world_);
  const size_t most_nodes = std::max<size_t>(1, *std::max_element(plan.nodes_per_rank.begin(), plan.nodes_per_rank.end()));
  const size_t step = std::max<size_t>(1, capacity_ / (sizeof(float) * most_nodes));
  const auto& cover = plan.covers[size_t(rank_)];
  for (size_t at = 0; at < count; at += step) {
    const size_t n = std::min(step, count - at);
    const bool in_sums = whole_sum_in_sums_;
    whole_sum_in_sums_ = !whole_sum_in_sums_;
    auto half = [&](int r) { return reinterpret_cast<float*>(in_sums ? sums(r) : input(r)); };
    if (in_sums)
      before_storing_sums();
    else
      before_storing_input();
    for (size_t p = 0; p < cover.size(); ++p)
      kernels::tile_tree_sum(tiles + at, plan.first[size_t(rank_)], plan.tiles, n, count, cover[p], half(rank_) + p * step,
                             tree_scratch_);
    const bool with_scalar = scalar && at == 0;
    if (with_scalar) *this->scalar(rank_, in_sums) = *scalar;
    fence();
    if (with_scalar) *scalar = scalar_sum(in_sums);
    node_values_.clear();
    for (size_t q = 0; q < w; ++q)
      for (size_t p = 0; p < plan.nodes_per_rank[q]; ++p) node_values_.push_back(half(int(q)) + p * step);
    combine_nodes(plan, node_values_, n, out + at, tree_scratch_);
    (in_sums ? sums_loaded_ : input_loaded_) = true;
  }
}

// As the message path: each rank stores its tree nodes' values, the owner of an element gathers
// every node's value of it, in plan.nodes order, and combines them up the tree. A piece is a run
// of `step` elements of every owner's share at once; the input half holds them owner by owner,
// node by node.
void MpiSharedSums::reduce_scatter_tile_tree(const TileTreePlan& plan, const float* tiles, size_t count, float* out,
                                             double* scalar) {
  const size_t w = size_t(world_);
  const size_t most_nodes = std::max<size_t>(1, *std::max_element(plan.nodes_per_rank.begin(), plan.nodes_per_rank.end()));
  const size_t step = std::max<size_t>(1, capacity_ / (sizeof(float) * most_nodes * w));
  const auto& cover = plan.covers[size_t(rank_)];
  const size_t mine = cover.size();
  const OwnedShares shares(count, world_);
  const auto& owned = shares.owned;
  auto run = [&](size_t r, size_t at) { return shares.run(r, at, step); };
  for (size_t at = 0; at < shares.longest; at += step) {
    before_storing_input();
    float* nodes = reinterpret_cast<float*>(input(rank_));
    for (size_t r = 0; r < w; ++r)
      for (size_t p = 0; p < mine && run(r, at) > 0; ++p)
        kernels::tile_tree_sum(tiles + owned[r].first + at, plan.first[size_t(rank_)], plan.tiles, run(r, at), count,
                               cover[p], nodes + (r * mine + p) * step, tree_scratch_);
    const bool with_scalar = scalar && at == 0;
    if (with_scalar) *this->scalar(rank_, false) = *scalar;
    fence();
    if (with_scalar) *scalar = scalar_sum(false);
    // This rank's share of every node, read in place from the ranks' input halves.
    node_values_.clear();
    for (size_t q = 0; q < w; ++q) {
      const float* from = reinterpret_cast<const float*>(input(int(q))) + size_t(rank_) * plan.nodes_per_rank[q] * step;
      for (size_t p = 0; p < plan.nodes_per_rank[q]; ++p) node_values_.push_back(from + p * step);
    }
    combine_nodes(plan, node_values_, run(size_t(rank_), at), out + owned[size_t(rank_)].first + at, tree_scratch_);
    input_loaded_ = true;
  }
}

void MpiSharedSums::allgather_owned(float* data, size_t count) {
  const size_t w = size_t(world_), step = capacity_ / sizeof(float);
  const OwnedShares shares(count, world_);
  const auto& owned = shares.owned;
  for (size_t at = 0; at < shares.longest; at += step) {
    auto run = [&](size_t r) { return shares.run(r, at, step); };
    before_storing_sums();
    std::memcpy(sums(rank_), data + owned[size_t(rank_)].first + at, run(size_t(rank_)) * sizeof(float));
    fence();
    for (size_t r = 0; r < w; ++r)
      if (r != size_t(rank_)) std::memcpy(data + owned[r].first + at, sums(int(r)), run(r) * sizeof(float));
    sums_loaded_ = true;
  }
}

}  // namespace resilinet

#endif  // RESILINET_HAVE_MPI
