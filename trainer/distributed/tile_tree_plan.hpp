// What the communicators share for Communicator::sum_tile_tree (kernels/tile_tree.hpp): which tree
// nodes each rank sends, and the owner's combination of them, on the host.
#pragma once
#include "trainer/distributed/room.hpp"
#include <cstddef>
#include <string>
#include <vector>

#include "kernels/tile_tree.hpp"

namespace resilinet {

struct TileTreePlan {
  size_t tiles = 0;                                  // over all ranks
  std::vector<size_t> first;                         // per rank: its first tile
  std::vector<std::vector<kernels::TileNode>> covers;  // per rank: the nodes it sends, in order
  std::vector<kernels::TileNode> nodes;              // every rank's nodes, in rank order
  std::vector<size_t> nodes_per_rank;
};
// Throws std::invalid_argument (naming `who`) unless there is one count per rank of `world`.
TileTreePlan plan_tile_tree(const std::vector<size_t>& tiles_per_rank, int world, const std::string& who);

// sums [covers[rank].size() x count]: this rank's nodes summed from its tiles [n x count].
void cover_sums(const TileTreePlan& plan, int rank, const float* tiles, size_t count, float* sums,
                kernels::TileTreeScratch& scratch);

// sum[own] = the tree's root from every rank's nodes' values, received [plan.nodes.size() x own]
// in plan.nodes order.
void combine_nodes(const TileTreePlan& plan, const float* received, size_t own, float* sum,
                   kernels::TileTreeScratch& scratch);
// The same with node i's `own` values at values[i] (wherever they are: another rank's shared memory).
void combine_nodes(const TileTreePlan& plan, const std::vector<const float*>& values, size_t own, float* sum,
                   kernels::TileTreeScratch& scratch);

}  // namespace resilinet
