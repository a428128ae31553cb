// The MPI communicator: CPU ranks of one job (mpirun, or srun --mpi=pmix under Slurm). Sums are
// reduce-scatter then allgather, with each element summed by one rank in rank order, so the
// result does not depend on the MPI library's choice of reduction tree. MPI's default error
// handler stays: an error on any rank (a rank that died included) ends the whole job. Where every
// rank is on one machine the sums go through shared memory instead (mpi_shared_sums.hpp), with the
// same additions in the same order.
#include "trainer/distributed/communicator.hpp"
#include "trainer/distributed/tile_tree_plan.hpp"

#if RESILINET_HAVE_MPI
#include <mpi.h>

#include <memory>
#include "trainer/distributed/mpi_shared_sums.hpp"

#include <algorithm>
#include <climits>
#include <cstring>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

namespace resilinet {
namespace {

template <class T> MPI_Datatype mpi_type();
template <> MPI_Datatype mpi_type<float>() { return MPI_FLOAT; }
template <> MPI_Datatype mpi_type<double>() { return MPI_DOUBLE; }
template <> MPI_Datatype mpi_type<int64_t>() { return MPI_INT64_T; }

// Elements per collective call: MPI counts are int, and a piece of this size keeps every count and
// displacement of the reduce-scatter far below INT_MAX.
constexpr size_t kPiece = size_t(1) << 26;

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    int initialized = 0;
    check_mpi(MPI_Initialized(&initialized), "MPI_Initialized");
    if (!initialized) {
      int finalized = 0;
      check_mpi(MPI_Finalized(&finalized), "MPI_Finalized");
      if (finalized) throw std::logic_error("MPI was finalized already; it cannot start again in this process");
      int provided = 0;
      // Only the main thread calls MPI; OpenMP threads compute between the calls.
      check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
      // Finalized when the process exits normally, after every communicator is gone.
      std::atexit(finalize);
    }
    check_mpi(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "MPI_Comm_dup");
    check_mpi(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
    check_mpi(MPI_Comm_size(comm_, &world_), "MPI_Comm_size");
    if (world_ > 1 && all_ranks_share_memory(comm_)) shared_ = std::make_unique<MpiSharedSums>(comm_);
  }
  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    shared_.reset();  // its window lives on comm_
    if (!finalized) MPI_Comm_free(&comm_);
  }

  int rank() const override { return rank_; }
  int world() const override { return world_; }
  std::string describe() const override {
    return "mpi, rank " + std::to_string(rank_) + " of " + std::to_string(world_);
  }

  bool shards_sums() const override { return world_ > 1; }
  void reduce_scatter_tile_tree(const float* tiles, const std::vector<size_t>& tiles_per_rank, size_t count,
                                float* out, double* scalar) override {
    const TileTreePlan plan = plan_tile_tree(tiles_per_rank, world_, "reduce_scatter_tile_tree");
    const bool shares = world_ > 1 && count > 0 && plan.tiles > 0;
    if (shares && shared_) return shared_->reduce_scatter_tile_tree(plan, tiles, count, out, scalar);
    if (shares) return reduce_scatter_messages(plan, tiles, count, out, scalar);
    sum_tile_tree(tiles, tiles_per_rank, count, out, scalar);  // one rank, or nothing to sum (zeros)
  }
  void allgather_owned(float* data, size_t count) override {
    if (world_ == 1) return;
    if (shared_) return shared_->allgather_owned(data, count);
    allgather_messages(data, count);
  }

  void allreduce_sum(float* data, size_t count) override { ordered_sum(data, count); }
  void allreduce_sum(double* data, size_t count) override { ordered_sum(data, count); }
  void allreduce_sum(int64_t* data, size_t count) override { ordered_sum(data, count); }

  // Element i is summed by its owner (owned_elements): every rank sends the owner its values of the
  // tree nodes it holds whole (all-to-all), the owner combines them up the tile tree, and the
  // shares are gathered back.
  void sum_tile_tree(const float* tiles, const std::vector<size_t>& tiles_per_rank, size_t count, float* out,
                     double* scalar) override {
    const TileTreePlan plan = plan_tile_tree(tiles_per_rank, world_, "sum_tile_tree");
    if (world_ > 1 && count > 0 && plan.tiles > 0) {
      if (shared_) return shared_->sum_tile_tree(plan, tiles, count, out, scalar);
      reduce_scatter_messages(plan, tiles, count, out, scalar);
      return allgather_messages(out, count);
    }
    // One rank, or nothing to sum (zeros).
    if (scalar) allreduce_sum(scalar, 1);
    if (count == 0) return;
    node_scratch_.resize(plan.nodes_per_rank[size_t(rank_)] * count);
    cover_sums(plan, rank_, tiles, count, node_scratch_.data(), tree_scratch_);
    combine_nodes(plan, node_scratch_.data(), count, out, tree_scratch_);
  }

  void allgather(const void* data, size_t bytes, void* out) override {
    if (bytes > size_t(INT_MAX)) throw std::invalid_argument("allgather: " + std::to_string(bytes) + " bytes per rank");
    check_mpi(MPI_Allgather(data, int(bytes), MPI_BYTE, out, int(bytes), MPI_BYTE, comm_), "MPI_Allgather");
  }
  void broadcast(void* data, size_t bytes, int root) override {
    if (root < 0 || root >= world_)
      throw std::invalid_argument("broadcast: root " + std::to_string(root) + " of a world of " + std::to_string(world_));
    for (size_t at = 0; at < bytes; at += kPiece) {
      const int n = int(std::min(kPiece, bytes - at));
      check_mpi(MPI_Bcast(static_cast<char*>(data) + at, n, MPI_BYTE, root, comm_), "MPI_Bcast");
    }
  }
  void barrier() override { check_mpi(MPI_Barrier(comm_), "MPI_Barrier"); }

 private:
  // Element i of a piece belongs to the rank whose share [n r / W, n (r + 1) / W) holds it: that
  // rank receives every rank's values of its share (all-to-all), adds them in rank order, and the
  // shares are gathered back into every rank's buffer.
  template <class T>
  void ordered_sum(T* data, size_t count) {
    if (world_ == 1) return;
    if (shared_) {
      shared_->allreduce_sum(data, count);
      return;
    }
    const size_t w = size_t(world_);
    std::vector<int> send_counts(w), send_displs(w), recv_counts(w), recv_displs(w);
    for (size_t at = 0; at < count; at += kPiece) {
      const size_t n = std::min(kPiece, count - at);
      T* piece = data + at;
      auto start = [&](size_t r) { return n * r / w; };
      for (size_t r = 0; r < w; ++r) {
        send_counts[r] = int(start(r + 1) - start(r));
        send_displs[r] = int(start(r));
      }
      const size_t own = size_t(send_counts[size_t(rank_)]);
      for (size_t r = 0; r < w; ++r) {
        recv_counts[r] = int(own);
        recv_displs[r] = int(r * own);
      }
      // Every rank's values of this rank's share, then their sums: scratch kept across calls (a
      // training step makes one call).
      scratch_.resize(((w + 1) * own * sizeof(T) + sizeof(double) - 1) / sizeof(double));
      T* received = reinterpret_cast<T*>(scratch_.data());
      T* mine = received + w * own;
      check_mpi(MPI_Alltoallv(piece, send_counts.data(), send_displs.data(), mpi_type<T>(), received,
                          recv_counts.data(), recv_displs.data(), mpi_type<T>(), comm_),
            "MPI_Alltoallv");
      for (size_t i = 0; i < own; ++i) {
        T sum = received[i];
        for (size_t r = 1; r < w; ++r) sum += received[r * own + i];
        mine[i] = sum;
      }
      check_mpi(MPI_Allgatherv(mine, int(own), mpi_type<T>(), piece, send_counts.data(), send_displs.data(),
                           mpi_type<T>(), comm_),
            "MPI_Allgatherv");
    }
  }

  // Each rank's owned share from its owner, gathered in place (MPI_IN_PLACE) in pieces.
  void allgather_messages(float* data, size_t count) {
    if (count > size_t(INT_MAX))
      throw std::invalid_argument("allgather_owned: " + std::to_string(count) + " values (at most INT_MAX)");
    const size_t w = size_t(world_);
    const OwnedShares shares(count, world_);
    std::vector<int> counts(w), displs(w);
    for (size_t at = 0; at < shares.longest; at += kPiece) {
      for (size_t r = 0; r < w; ++r) {
        counts[r] = int(shares.run(r, at, kPiece));
        displs[r] = int(std::min(shares.owned[r].first + at, count));
      }
      check_mpi(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, data, counts.data(), displs.data(), MPI_FLOAT, comm_),
                "MPI_Allgatherv");
    }
  }

  // The message path of reduce_scatter_tile_tree: to each rank, this rank's tree nodes' values of
  // that rank's owned elements (all-to-all), in runs of at most `step` elements of every share at
  // once; each owner combines its nodes up the tile tree, as sum_tile_tree does before its gather.
  // A scalar rides in the first run, its bytes after each rank's values, and every rank adds the
  // ranks' scalars in rank order: no collective of its own.
  void reduce_scatter_messages(const TileTreePlan& plan, const float* tiles, size_t count, float* out, double* scalar) {
    constexpr size_t kScalarFloats = sizeof(double) / sizeof(float);
    const size_t w = size_t(world_), total = plan.nodes.size(), mine = plan.nodes_per_rank[size_t(rank_)];
    node_scratch_.resize(mine * count);
    cover_sums(plan, rank_, tiles, count, node_scratch_.data(), tree_scratch_);
    const float* parts = node_scratch_.data();
    const OwnedShares shares(count, world_);
    // Every count and displacement of one run stays below 2^30, far from INT_MAX.
    const size_t step = std::max<size_t>(1, std::min(kPiece, (size_t(1) << 30) / (total * w)));
    std::vector<int> send_counts(w), send_displs(w), recv_counts(w), recv_displs(w);
    const size_t me = size_t(rank_);
    for (size_t at = 0; at < shares.longest; at += step) {
      const size_t own = shares.run(me, at, step), extra = scalar && at == 0 ? kScalarFloats : 0;
      send_scratch_.resize(w * (mine * step + kScalarFloats));
      float* packed = send_scratch_.data();
      size_t sent = 0;
      for (size_t r = 0; r < w; ++r) {
        const size_t n = shares.run(r, at, step), first = shares.owned[r].first + at;
        send_displs[r] = int(sent);
        for (size_t p = 0; p < mine; ++p, sent += n) std::memcpy(packed + sent, parts + p * count + first, sizeof(float) * n);
        if (extra) std::memcpy(packed + sent, scalar, sizeof(double));
        sent += extra;
        send_counts[r] = int(sent) - send_displs[r];
      }
      size_t received_floats = 0;
      for (size_t r = 0; r < w; ++r) {
        recv_displs[r] = int(received_floats);
        recv_counts[r] = int(plan.nodes_per_rank[r] * own + extra);
        received_floats += plan.nodes_per_rank[r] * own + extra;
      }
      recv_scratch_.resize(std::max<size_t>(1, received_floats));
      check_mpi(MPI_Alltoallv(packed, send_counts.data(), send_displs.data(), MPI_FLOAT, recv_scratch_.data(),
                              recv_counts.data(), recv_displs.data(), MPI_FLOAT, comm_),
                "MPI_Alltoallv");
      // Rank q's block: its nodes' values, then (first run) its scalar's bytes.
      node_values_.clear();
      for (size_t q = 0; q < w; ++q)
        for (size_t p = 0; p < plan.nodes_per_rank[q]; ++p) node_values_.push_back(recv_scratch_.data() + recv_displs[q] + p * own);
      if (own > 0) combine_nodes(plan, node_values_, own, out + shares.owned[me].first + at, tree_scratch_);
      if (!extra) continue;
      double sum = 0;
      for (size_t q = 0; q < w; ++q) {  // rank 0's value plus rank 1's plus ..., as allreduce_sum adds
        double value;
        std::memcpy(&value, recv_scratch_.data() + recv_displs[q] + plan.nodes_per_rank[q] * own, sizeof(double));
        sum = q == 0 ? value : sum + value;
      }
      *scalar = sum;
    }
  }

  std::vector<double> scratch_;  // double: aligned for every element type
  std::vector<float> node_scratch_, send_scratch_, recv_scratch_;
  std::vector<const float*> node_values_;
  kernels::TileTreeScratch tree_scratch_;
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, world_ = 1;
  std::unique_ptr<MpiSharedSums> shared_;  // null: the sums go as messages

  static void finalize() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }
};

}  // namespace

bool mpi_available() { return true; }

void abort_job(int exit_code) {
  int initialized = 0, finalized = 0, world = 1;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (!initialized || finalized) return;
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  if (world > 1) MPI_Abort(MPI_COMM_WORLD, exit_code);
}
std::unique_ptr<Communicator> make_mpi_communicator() { return std::make_unique<MpiCommunicator>(); }

}  // namespace resilinet

#else

namespace resilinet {
bool mpi_available() { return false; }
void abort_job(int) {}
std::unique_ptr<Communicator> make_mpi_communicator() { return nullptr; }
}  // namespace resilinet

#endif
