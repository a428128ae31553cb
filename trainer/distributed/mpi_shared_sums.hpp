// Sums between MPI ranks that share one machine, through an MPI shared-memory window instead of
// messages: each rank puts its values in its own slot of the window, the owner of each element
// adds every rank's value in rank order straight from their slots, and every rank copies the
// owners' sums out. The same additions in the same order as the message path, so the bytes are
// the same; two barriers a call instead of an all-to-all and an all-gather (a training step's
// gradient sum took about a quarter of the time on a 2-core machine: bench/RESULTS.md).
//
// Used by the MPI communicator when every rank of the job is on this machine and
// RESILINET_MPI_SHARED_MEMORY is not 0; a job over several machines sums with messages.
#pragma once
#include "trainer/distributed/room.hpp"

#include <mpi.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/tile_tree.hpp"
#include "trainer/distributed/communicator.hpp"
#include "trainer/distributed/tile_tree_plan.hpp"

namespace resilinet {

class MpiSharedSums {
 public:
  // comm: the job's communicator, every rank of which is on this machine (collective).
  explicit MpiSharedSums(MPI_Comm comm);
  ~MpiSharedSums();
  MpiSharedSums(const MpiSharedSums&) = delete;
  MpiSharedSums& operator=(const MpiSharedSums&) = delete;

  // Collective: data[i] = the sum over ranks of data[i], in rank order, on every rank.
  template <class T>
  void allreduce_sum(T* data, size_t count);
  // Collective: Communicator::sum_tile_tree, reduce_scatter_tile_tree (count > 0; scalar may be
  // nullptr) and allgather_owned, with each rank owning owned_elements(count, rank, world).
  void sum_tile_tree(const TileTreePlan& plan, const float* tiles, size_t count, float* out, double* scalar);
  void reduce_scatter_tile_tree(const TileTreePlan& plan, const float* tiles, size_t count, float* out,
                                double* scalar);
  void allgather_owned(float* data, size_t count);

 private:
  // Every rank's slot holds at least `bytes` for its input and as much for its share of the sums
  // (collective: every rank asks for the same size).
  void reserve(size_t bytes);
  char* input(int rank) const { return slots_[size_t(rank)]; }
  char* sums(int rank) const { return slots_[size_t(rank)] + capacity_; }
  // The scalar that rides with the values in a slot's input or sums half, loaded and stored as part
  // of that half; and the ranks' scalars of a half summed.
  double* scalar(int rank, bool sums_half) const {
    return reinterpret_cast<double*>(slots_[size_t(rank)] + 2 * capacity_ + (sums_half ? kScalarLine : 0));
  }
  static constexpr size_t kScalarLine = 64;  // each half's scalar on a cache line of its own
  double scalar_sum(bool sums_half) const;
  // The barrier that orders one phase's stores to the window before the next phase's loads.
  void fence();
  // Before this rank stores into its input or sums half: a fence where other ranks may still be
  // loading from that half (the last call ended with their loads, not with a fence).
  void before_storing_input();
  void before_storing_sums();

  MPI_Comm comm_;
  int rank_ = 0, world_ = 1;
  MPI_Win window_ = MPI_WIN_NULL;
  size_t capacity_ = 0;  // bytes of each of a slot's two halves
  std::vector<char*> slots_;
  bool input_loaded_ = false, sums_loaded_ = false;  // others may be loading it since the last fence
  bool whole_sum_in_sums_ = false;  // the half the next piece of a whole sum (sum_tile_tree) goes in
  std::vector<const float*> node_values_;
  kernels::TileTreeScratch tree_scratch_;
};

// Throws std::runtime_error naming `what` and MPI's text for a code other than MPI_SUCCESS.
void check_mpi(int code, const char* what);

// Whether the ranks of comm all share this machine and the environment allows the shared path
// (collective).
bool all_ranks_share_memory(MPI_Comm comm);

}  // namespace resilinet
