// The ranks of one data-parallel job and what passes between them. Stages reduce through this
// interface and never name MPI or NCCL; the implementation is chosen at run time by
// make_communicator: `local` (one process, every call a no-op), `mpi` (CPU ranks launched by
// mpirun or srun, Debian's OpenMPI), `nccl` (GPU ranks, sums on device buffers).
//
// Every reduction is deterministic: element i is summed by exactly one rank, as rank 0's value
// plus rank 1's plus ... in rank order, and the sums are then shared. A given world size therefore
// gives the same bytes on every run, which is what keeps `train --resume` bitwise across ranks.
#pragma once
#include "trainer/distributed/room.hpp"
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace resilinet {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world() const = 0;
  // For progress lines: "local", "mpi, rank 1 of 3" or "nccl, rank 0 of 4".
  virtual std::string describe() const = 0;
  // True where the sums (allreduce_sum, sum_tile_tree) take buffers in the CUDA backend's
  // device memory, queued on its stream (NCCL); false: host memory. allgather, broadcast and
  // barrier always take host memory.
  virtual bool device_memory() const { return false; }

  // data[i] = the sum over ranks of data[i], on every rank, summed in rank order.
  virtual void allreduce_sum(float* data, size_t count) = 0;
  virtual void allreduce_sum(double* data, size_t count) = 0;
  virtual void allreduce_sum(int64_t* data, size_t count) = 0;
  // The sum of a batch's tile gradients, on every rank: rank r holds tiles_per_rank[r] tiles of
  // `count` floats, back to back in `tiles`, the ranks' runs following each other in rank order.
  // out = the tiles summed up the tile tree (kernels/tile_tree.hpp), which is what one process
  // holding every tile computes: the sum does not change with the world size. 0 where there are
  // no tiles. out must not overlap tiles. With a `scalar` (in the same memory as the sums), also
  // *scalar = its sum over the ranks in rank order, on every rank, as allreduce_sum adds it: a
  // step's loss travels with its gradient instead of in a collective of its own.
  virtual void sum_tile_tree(const float* tiles, const std::vector<size_t>& tiles_per_rank, size_t count,
                             float* out, double* scalar) = 0;
  // Sharded steps (the optimizer on each rank's owned elements alone, owned_elements below): true
  // where the two calls after it leave each rank only its share of the work. Elsewhere they are
  // the whole sum and nothing, and a sharded step would only repeat what a full one does.
  virtual bool shards_sums() const { return false; }
  // Below this many elements a step sums whole on every rank even where sums shard: one collective
  // instead of two (the sum, then the gathering of the parameters), for a little optimizer work
  // repeated on every rank.
  static constexpr size_t kShardedStepMinElements = 16384;
  // As sum_tile_tree, but only this rank's owned elements of out are sure to hold the sum.
  virtual void reduce_scatter_tile_tree(const float* tiles, const std::vector<size_t>& tiles_per_rank, size_t count,
                                        float* out, double* scalar) {
    sum_tile_tree(tiles, tiles_per_rank, count, out, scalar);
  }
  // data[owned by rank r] = rank r's values of them, on every rank (host memory). Nothing to do
  // where every rank holds every element already.
  virtual void allgather_owned(float* data, size_t count) {
    (void)data;
    (void)count;
  }
  // out[world x bytes] = every rank's `bytes` bytes of data, in rank order, on every rank.
  virtual void allgather(const void* data, size_t bytes, void* out) = 0;
  // data = root's bytes, on every rank.
  virtual void broadcast(void* data, size_t bytes, int root) = 0;
  virtual void barrier() = 0;
};

// The elements [first, end) of a `count`-long buffer that `rank` owns in a sharded step: contiguous
// shares in rank order, cut at multiples of 16 elements so that an element-wise kernel run over one
// share puts each element in the same vector lane as over the whole buffer (bitwise the same).
struct OwnedElements {
  size_t first = 0, end = 0;
};
inline OwnedElements owned_elements(size_t count, int rank, int world) {
  auto cut = [&](size_t r) { return r >= size_t(world) ? count : count * r / size_t(world) / 16 * 16; };
  return {cut(size_t(rank)), cut(size_t(rank) + 1)};
}
// Every rank's owned elements of a `count`-long buffer, walked in runs of `step` at a time (the
// pieces of the communicators' collectives).
struct OwnedShares {
  std::vector<OwnedElements> owned;
  size_t longest = 0;
  OwnedShares(size_t count, int world) : owned(size_t(world)) {
    for (int r = 0; r < world; ++r) {
      owned[size_t(r)] = owned_elements(count, r, world);
      longest = std::max(longest, owned[size_t(r)].end - owned[size_t(r)].first);
    }
  }
  // Elements of rank r's share in the run starting `at` elements into it.
  size_t run(size_t r, size_t at, size_t step) const {
    const size_t length = owned[r].end - owned[r].first;
    return std::min(step, length - std::min(at, length));
  }
};

// The single process.
class LocalCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int world() const override { return 1; }
  std::string describe() const override { return "local"; }
  void allreduce_sum(float*, size_t) override {}
  void allreduce_sum(double*, size_t) override {}
  void allreduce_sum(int64_t*, size_t) override {}
  void sum_tile_tree(const float* tiles, const std::vector<size_t>& tiles_per_rank, size_t count, float* out,
                     double* scalar) override;
  void allgather(const void* data, size_t bytes, void* out) override;
  void broadcast(void*, size_t, int root) override;
  void barrier() override {}
};

// Thrown by make_communicator when the kind cannot run here (a build without MPI).
struct CommunicatorUnavailable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// kind: "local"; "mpi" (MPI_Init on first use, MPI_Finalize when the process exits normally);
// "nccl" (GPU ranks: cuda_stream is the CUDA backend's stream; the NCCL id passes over MPI, or
// through the file RESILINET_NCCL_ID_FILE); or "auto": nccl for a CUDA backend (cuda_stream set) in a
// job of several ranks (launched_by_mpi, or RESILINET_NCCL_ID_FILE set) where the build has NCCL,
// mpi for other jobs started by an MPI launcher, else local. The environment variable
// RESILINET_COMMUNICATOR, when set, replaces "auto".
std::unique_ptr<Communicator> make_communicator(const std::string& kind, void* cuda_stream = nullptr);
// True where an MPI launcher's environment is present: OMPI_COMM_WORLD_SIZE (mpirun), PMIX_RANK
// (srun --mpi=pmix) or PMI_RANK.
bool launched_by_mpi();
// Whether this build has the MPI communicator, and the NCCL one.
bool mpi_available();
bool nccl_available();
// On the way out after an error: in a job of several MPI ranks, ends them all (MPI_Abort with this
// exit code), since the others may be waiting in a collective for this one and would never return.
// Does nothing in a single process.
void abort_job(int exit_code);

}  // namespace resilinet
