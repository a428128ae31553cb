// The local communicator and the factory: one process, every reduction the identity.
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/tile_tree.hpp"
#include "trainer/distributed/communicator.hpp"

using namespace resilinet;

TEST(Communicator, LocalIsOneRankAndLeavesBuffersAsTheyAre) {
  const auto comm = make_communicator("local");
  EXPECT_EQ(comm->rank(), 0);
  EXPECT_EQ(comm->world(), 1);
  EXPECT_EQ(comm->describe(), "local");
  std::vector<float> f = {1.5f, -2.0f, 3e-8f};
  std::vector<double> d = {1e300, -0.0};
  std::vector<int64_t> n = {7, -9};
  const auto f0 = f;
  const auto d0 = d;
  const auto n0 = n;
  comm->allreduce_sum(f.data(), f.size());
  comm->allreduce_sum(d.data(), d.size());
  comm->allreduce_sum(n.data(), n.size());
  EXPECT_EQ(f, f0);
  EXPECT_EQ(d, d0);
  EXPECT_EQ(n, n0);
  const std::vector<char> mine = {'a', 'b', 'c'};
  std::vector<char> all(3, 0);
  comm->allgather(mine.data(), mine.size(), all.data());
  EXPECT_EQ(all, mine);
  std::vector<char> copy = mine;
  comm->broadcast(copy.data(), copy.size(), 0);
  EXPECT_EQ(copy, mine);
  EXPECT_THROW(comm->broadcast(copy.data(), copy.size(), 1), std::invalid_argument);
  comm->barrier();
}

TEST(Communicator, FactoryPicksByKind) {
  EXPECT_THROW(make_communicator("nccl-over-carrier-pigeon"), std::invalid_argument);
  // ctest starts this test without an MPI launcher, so auto is local.
  ASSERT_FALSE(launched_by_mpi());
  EXPECT_EQ(make_communicator("auto")->describe(), "local");
  if (!mpi_available()) EXPECT_THROW(make_communicator("mpi"), CommunicatorUnavailable);
  // NCCL needs the CUDA backend's stream (and a build with NCCL).
  EXPECT_THROW(make_communicator("nccl"), CommunicatorUnavailable);
  // One process with a device stream is still local: NCCL is for jobs of several ranks.
  int not_a_stream = 0;
  EXPECT_EQ(make_communicator("auto", &not_a_stream)->describe(), "local");
  // RESILINET_COMMUNICATOR replaces auto, and is checked as a kind.
  ::setenv("RESILINET_COMMUNICATOR", "local", 1);
  EXPECT_EQ(make_communicator("auto")->describe(), "local");
  ::setenv("RESILINET_COMMUNICATOR", "carrier-pigeon", 1);
  EXPECT_THROW(make_communicator("auto"), std::invalid_argument);
  ::unsetenv("RESILINET_COMMUNICATOR");
}

// The tile tree (kernels/tile_tree.hpp) on one rank: 6 tiles sum as (t0 + t1) + (t2 + t3), plus
// (t4 + t5). Values picked so that a left-to-right sum gives another answer.
TEST(Communicator, LocalSumsTilesUpTheTileTree) {
  LocalCommunicator local;
  const std::vector<float> tiles = {1e8f, 1.0f, 1.0f, 1.0f, -1e8f, 1.0f};
  float out = -1.0f;
  local.sum_tile_tree(tiles.data(), {6}, 1, &out, nullptr);
  // Floats near 1e8 are 8 apart: (1e8 + 1) + (1 + 1) rounds to 1e8, (-1e8 + 1) to -1e8, so the
  // tree gives 0; left to right the last 1 survives.
  EXPECT_EQ(out, 0.0f);
  float left_to_right = tiles[0];
  for (size_t t = 1; t < tiles.size(); ++t) left_to_right += tiles[t];
  EXPECT_NE(out, left_to_right);
  local.sum_tile_tree(tiles.data(), {0}, 1, &out, nullptr);
  EXPECT_EQ(out, 0.0f);
  EXPECT_THROW(local.sum_tile_tree(tiles.data(), {3, 3}, 1, &out, nullptr), std::invalid_argument);
}

// The nodes a rank sends: aligned blocks of the tree, left to right, covering exactly its run of
// tiles (a block reaching past the last tile ends there), and as few as the alignment allows.
TEST(Communicator, TileTreeCoversARunWithWholeAlignedNodes) {
  using resilinet::kernels::TileNode;
  using resilinet::kernels::tile_tree_cover;
  EXPECT_EQ(tile_tree_cover(0, 4, 4), (std::vector<TileNode>{{0, 4}}));
  EXPECT_EQ(tile_tree_cover(0, 6, 6), (std::vector<TileNode>{{0, 8}}));  // the root, cut to 6 tiles
  EXPECT_EQ(tile_tree_cover(3, 6, 6), (std::vector<TileNode>{{3, 1}, {4, 4}}));
  EXPECT_EQ(tile_tree_cover(1, 7, 8), (std::vector<TileNode>{{1, 1}, {2, 2}, {4, 2}, {6, 1}}));
  EXPECT_TRUE(tile_tree_cover(5, 5, 8).empty());
  for (size_t tiles = 1; tiles <= 40; ++tiles)
    for (size_t first = 0; first < tiles; ++first)
      for (size_t end = first + 1; end <= tiles; ++end) {
        size_t at = first;
        for (const TileNode& n : tile_tree_cover(first, end, tiles)) {
          ASSERT_EQ(n.first, at) << first << ".." << end << " of " << tiles;
          ASSERT_EQ(n.first % n.size, 0u);
          at = std::min(n.first + n.size, tiles);
        }
        ASSERT_EQ(at, end) << first << ".." << end << " of " << tiles;
      }
}
