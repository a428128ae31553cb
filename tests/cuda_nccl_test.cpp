// The NCCL communicator on one GPU (world size 1: a clique of one, every send and receive to
// itself): tile-tree sums on device buffers equal the host's bitwise, the staged result may be the
// input buffer, and the host collectives pass through the device. Skips without a device or
// without libnccl; tests/communicator_mpitest.cpp checks the same order with MPI ranks.
#include <gtest/gtest.h>

#if RESILINET_HAVE_CUDA

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "cuda_test_support.hpp"
#include "kernels/backend.hpp"
#include "trainer/distributed/communicator.hpp"

using namespace resilinet;
namespace rt = resilinet::testing;

namespace {

#define REQUIRE_NCCL()                                                           \
  REQUIRE_CUDA_DEVICE();                                                         \
  if (!nccl_available()) GTEST_SKIP() << "libnccl.so.2 cannot be loaded here"

// Large and small magnitudes mixed, so that another order of the sum rounds differently.
float value(size_t part, size_t i) {
  return float(((i % 3 == 0) ? 1e7 : 1.0) * double((part + 1) * (i % 7 == 0 ? -1 : 1)) + 0.1234567 * double(i % 11) +
               1e-3 * double(part));
}

}  // namespace

TEST(CudaNccl, OneGpuSumsTilesUpTheTreeAndLeavesSinglesAsTheyAre) {
  REQUIRE_NCCL();
  const std::unique_ptr<kernels::Backend> backend = kernels::make_backend("cuda");
  const std::unique_ptr<Communicator> comm = make_communicator("nccl", backend->native_stream());
  ASSERT_EQ(comm->world(), 1);
  EXPECT_TRUE(comm->device_memory());
  EXPECT_EQ(comm->describe(), "nccl, rank 0 of 1");
  auto sync = [&] { kernels::cuda::check(cudaStreamSynchronize(static_cast<cudaStream_t>(backend->native_stream())), "sync"); };

  for (size_t count : {size_t(1), size_t(5), size_t(100003)}) {
    SCOPED_TRACE(std::to_string(count) + " values");
    const size_t parts = 3;
    std::vector<float> host(parts * count);
    for (size_t p = 0; p < parts; ++p)
      for (size_t i = 0; i < count; ++i) host[p * count + i] = value(p, i);
    auto d_parts = rt::upload(host);
    auto d_out = rt::upload(std::vector<float>(count, -1.0f));
    comm->sum_tile_tree(d_parts.data(), {parts}, count, d_out.data(), nullptr);
    sync();
    const auto out = rt::download(d_out.data(), count);
    for (size_t i = 0; i < count; ++i) {
      const float want = (value(0, i) + value(1, i)) + value(2, i);  // the tile tree of 3 tiles
      ASSERT_EQ(std::memcmp(&out[i], &want, sizeof(float)), 0) << "value " << i << ": " << out[i] << " != " << want;
    }

    // One part per rank, in place: a world of one leaves the values as they are.
    comm->allreduce_sum(d_parts.data(), count);
    std::vector<double> doubles(count);
    std::vector<int64_t> ints(count);
    for (size_t i = 0; i < count; ++i) {
      doubles[i] = 1e300 * double(value(1, i));
      ints[i] = int64_t(i) * 1000003 - 7;
    }
    auto d_doubles = rt::upload(doubles);
    auto d_ints = rt::upload(ints);
    comm->allreduce_sum(d_doubles.data(), count);
    comm->allreduce_sum(d_ints.data(), count);
    sync();
    EXPECT_EQ(std::memcmp(rt::download(d_parts.data(), count).data(), host.data(), count * sizeof(float)), 0);
    EXPECT_EQ(rt::download(d_doubles.data(), count), doubles);
    EXPECT_EQ(rt::download(d_ints.data(), count), ints);
  }

  // Host collectives through the device.
  const std::string text = "resilinet";
  std::string gathered(text.size(), '?');
  comm->allgather(text.data(), text.size(), gathered.data());
  EXPECT_EQ(gathered, text);
  std::string sent = text;
  comm->broadcast(sent.data(), sent.size(), 0);
  EXPECT_EQ(sent, text);
  EXPECT_THROW(comm->broadcast(sent.data(), sent.size(), 1), std::invalid_argument);
  comm->barrier();
}

#else

TEST(CudaNccl, SkippedWithoutCuda) { GTEST_SKIP() << "built without CUDA (RESILINET_HAVE_CUDA unset)"; }

#endif
