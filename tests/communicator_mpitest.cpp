// The MPI communicator under mpirun (tests/CMakeLists.txt runs this with 2 and 3 ranks): rank and
// world as the launcher set them, sums equal bitwise to the rank-order sum computed on one rank
// (values chosen so that another order rounds differently), gathers in rank order, broadcasts
// from any root, and the same bytes on a second call.
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "trainer/distributed/communicator.hpp"

using namespace resilinet;

namespace {

Communicator& comm() {
  static const std::unique_ptr<Communicator> c = make_communicator("mpi");
  return *c;
}

// Rank r's value at i: large and small magnitudes mixed, so that the order of a float sum
// matters.
template <class T>
T value(int rank, size_t i) {
  const double big = (i % 3 == 0) ? 1e7 : 1.0;
  return T(big * double((rank + 1) * (i % 7 == 0 ? -1 : 1)) + 0.1234567 * double(i % 11) + 1e-3 * rank);
}

template <class T>
void expect_rank_order_sum(size_t count) {
  SCOPED_TRACE(std::to_string(count) + " values");
  const int world = comm().world();
  std::vector<T> data(count);
  for (size_t i = 0; i < count; ++i) data[i] = value<T>(comm().rank(), i);
  comm().allreduce_sum(data.data(), count);
  for (size_t i = 0; i < count; ++i) {
    T want = value<T>(0, i);
    for (int r = 1; r < world; ++r) want += value<T>(r, i);
    ASSERT_EQ(std::memcmp(&data[i], &want, sizeof(T)), 0) << "value " << i << ": " << data[i] << " != " << want;
  }
  std::vector<T> again(count);
  for (size_t i = 0; i < count; ++i) again[i] = value<T>(comm().rank(), i);
  comm().allreduce_sum(again.data(), count);
  EXPECT_EQ(count ? std::memcmp(again.data(), data.data(), count * sizeof(T)) : 0, 0);
}

}  // namespace

TEST(MpiCommunicator, RankAndWorldAreTheLaunchers) {
  const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
  const char* rank = std::getenv("OMPI_COMM_WORLD_RANK");
  ASSERT_TRUE(size && rank) << "run under mpirun";
  EXPECT_TRUE(launched_by_mpi());
  EXPECT_EQ(comm().world(), std::atoi(size));
  EXPECT_EQ(comm().rank(), std::atoi(rank));
  EXPECT_GE(comm().world(), 2);
  EXPECT_EQ(comm().describe(), "mpi, rank " + std::string(rank) + " of " + std::string(size));
  // Sharded steps on either path: shared memory, or messages (RESILINET_MPI_SHARED_MEMORY=0).
  EXPECT_TRUE(comm().shards_sums());
}

TEST(MpiCommunicator, SumsAreTheRankOrderSumBitwise) {
  // Counts below, at and above the world size, one that no world size divides, and one longer than
  // a piece of the shared-memory path (4 MB a rank at 2 ranks, less at more).
  for (size_t count : {size_t(0), size_t(1), size_t(2), size_t(7), size_t(1000), size_t(100003), size_t(1500007)}) {
    expect_rank_order_sum<float>(count);
    expect_rank_order_sum<double>(count);
    expect_rank_order_sum<int64_t>(count);
  }
}

TEST(MpiCommunicator, GatherIsInRankOrderAndBroadcastComesFromTheRoot) {
  const int world = comm().world(), rank = comm().rank();
  std::vector<int32_t> mine = {rank, 10 * rank, -rank};
  std::vector<int32_t> all(3 * size_t(world));
  comm().allgather(mine.data(), mine.size() * sizeof(int32_t), all.data());
  for (int r = 0; r < world; ++r) {
    EXPECT_EQ(all[3 * r], r);
    EXPECT_EQ(all[3 * r + 1], 10 * r);
    EXPECT_EQ(all[3 * r + 2], -r);
  }
  for (int root = 0; root < world; ++root) {
    std::vector<double> data(5, double(rank) + 0.5);
    comm().broadcast(data.data(), data.size() * sizeof(double), root);
    for (double v : data) EXPECT_EQ(v, double(root) + 0.5);
  }
  EXPECT_THROW(comm().broadcast(mine.data(), 4, world), std::invalid_argument);
  comm().barrier();
}

namespace {
// The tile tree written out from its definition (kernels/tile_tree.hpp): node [first, first + size)
// cut to [0, tiles) is its left half plus its right half, or its left half alone.
float tree_sum_reference(size_t first, size_t size, size_t tiles, size_t i) {
  if (size == 1 || first + 1 >= tiles) return value<float>(int(first), i);
  if (first + size / 2 >= tiles) return tree_sum_reference(first, size / 2, tiles, i);
  return tree_sum_reference(first, size / 2, tiles, i) + tree_sum_reference(first + size / 2, size / 2, tiles, i);
}
}  // namespace

// Tiles spread unevenly over the ranks (rank r holds r + 1 tiles, then every rank 3: runs that
// start and end off the tree's blocks), summed up the tile tree: bitwise the tree sum of all tiles
// on one process; mixed magnitudes, so that another order rounds differently.
TEST(MpiCommunicator, TilesAreSummedUpTheTileTree) {
  const int world = comm().world();
  for (bool uneven : {true, false})
    for (size_t count : {size_t(0), size_t(1), size_t(5), size_t(4099), size_t(1000003)}) {
      SCOPED_TRACE(std::to_string(count) + " values");
      std::vector<size_t> tiles_per_rank(static_cast<size_t>(world), 0);
      size_t before = 0, total = 0;  // tiles on lower ranks: this rank's are number before, before + 1, ...
      for (int r = 0; r < world; ++r) {
        tiles_per_rank[size_t(r)] = uneven ? size_t(r) + 1 : 3;
        if (r < comm().rank()) before += tiles_per_rank[size_t(r)];
        total += tiles_per_rank[size_t(r)];
      }
      const size_t mine = tiles_per_rank[size_t(comm().rank())];
      std::vector<float> tiles(mine * count);
      for (size_t p = 0; p < mine; ++p)
        for (size_t i = 0; i < count; ++i) tiles[p * count + i] = value<float>(int(before + p), i);
      // The scalar that rides along is summed in rank order (1 + 1e16 - 1e16 + 1e16 ...: another
      // order rounds differently).
      auto scalar_of = [](int r) { return r == 0 ? 1.0 : r % 2 ? 1e16 : -1e16; };
      double want_scalar = scalar_of(0);
      for (int r = 1; r < world; ++r) want_scalar += scalar_of(r);
      std::vector<float> out(count, -1.0f);
      double scalar = scalar_of(comm().rank());
      comm().sum_tile_tree(tiles.data(), tiles_per_rank, count, out.data(), &scalar);
      ASSERT_EQ(std::memcmp(&scalar, &want_scalar, sizeof(double)), 0) << scalar << " != " << want_scalar;
      // The sharded form: this rank's owned elements hold the same sums.
      std::vector<float> owned_out(count, -1.0f);
      scalar = scalar_of(comm().rank());
      comm().reduce_scatter_tile_tree(tiles.data(), tiles_per_rank, count, owned_out.data(), &scalar);
      ASSERT_EQ(std::memcmp(&scalar, &want_scalar, sizeof(double)), 0) << scalar << " != " << want_scalar;
      const OwnedElements own = owned_elements(count, comm().rank(), world);
      size_t root = 1;
      while (root < total) root *= 2;
      for (size_t i = 0; i < count; ++i) {
        const float want = tree_sum_reference(0, root, total, i);
        ASSERT_EQ(std::memcmp(&out[i], &want, sizeof(float)), 0) << "value " << i << ": " << out[i] << " != " << want;
        if (i >= own.first && i < own.end)
          ASSERT_EQ(std::memcmp(&owned_out[i], &want, sizeof(float)), 0) << "owned value " << i;
      }
    }
}

// Whole sums back to back, as the steps of a small network make them, each with other values: no
// rank's values of one call are overwritten by its next call before every rank has read them.
TEST(MpiCommunicator, WholeSumsBackToBackKeepEachCallsValues) {
  const int world = comm().world(), rank = comm().rank();
  const std::vector<size_t> tiles_per_rank(size_t(world), 1);
  const size_t count = 3077;
  std::vector<float> tile(count), out(count);
  for (int call = 0; call < 300; ++call) {
    for (size_t i = 0; i < count; ++i) tile[i] = float(call * 1000 + rank * 10 + int(i % 7));
    double scalar = double(call + rank);
    comm().sum_tile_tree(tile.data(), tiles_per_rank, count, out.data(), &scalar);
    double want_scalar = 0;
    for (int r = 0; r < world; ++r) want_scalar += double(call + r);
    ASSERT_EQ(scalar, want_scalar) << "call " << call;
    for (size_t i = 0; i < count; ++i) {
      float want = 0;  // small integers: exact in any order
      for (int r = 0; r < world; ++r) want += float(call * 1000 + r * 10 + int(i % 7));
      ASSERT_EQ(out[i], want) << "call " << call << " value " << i;
    }
  }
}

// Shares cover the buffer in rank order, cut at multiples of 16; allgather_owned brings every
// rank's share to every rank, whatever the others held there before (here NaN), including
// buffers longer than one piece of the shared-memory path.
TEST(MpiCommunicator, OwnedSharesAreGatheredFromTheirOwners) {
  const int world = comm().world(), rank = comm().rank();
  for (size_t count : {size_t(0), size_t(5), size_t(17), size_t(4099), size_t(3000017)}) {
    SCOPED_TRACE(std::to_string(count) + " values");
    size_t next = 0;
    for (int r = 0; r < world; ++r) {
      const OwnedElements o = owned_elements(count, r, world);
      EXPECT_EQ(o.first, next);
      EXPECT_LE(o.first, o.end);
      if (r + 1 < world) EXPECT_EQ(o.end % 16, 0u);
      next = o.end;
    }
    EXPECT_EQ(next, count);
    const OwnedElements own = owned_elements(count, rank, world);
    std::vector<float> data(count, std::numeric_limits<float>::quiet_NaN());
    for (size_t i = own.first; i < own.end; ++i) data[i] = value<float>(rank, i);
    comm().allgather_owned(data.data(), count);
    if (!comm().shards_sums()) continue;  // the message path shards nothing, so has nothing to gather
    for (int r = 0; r < world; ++r) {
      const OwnedElements o = owned_elements(count, r, world);
      for (size_t i = o.first; i < o.end; ++i) ASSERT_EQ(data[i], value<float>(r, i)) << "value " << i;
    }
  }
}
