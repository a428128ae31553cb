// The local communicator and the factory: one process, every reduction the identity.
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>

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
}
