// What the CUDA kernel tests share: the skip where no device runs kernels, the small shapes for
// compute-sanitizer runs, copies to and from device memory, a stream of the test's own.
// Include only under RESILINET_HAVE_CUDA.
#pragma once
#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/cuda/cuda_ops.hpp"

namespace resilinet::testing {

#define REQUIRE_CUDA_DEVICE()                                               \
  do {                                                                      \
    std::string why;                                                        \
    if (!::resilinet::kernels::cuda::device_available(&why)) GTEST_SKIP() << why; \
  } while (0)

// RESILINET_GPU_TEST_SMALL=1 (any value but 0): small shapes only, for compute-sanitizer.
inline bool small_shapes() {
  const char* v = std::getenv("RESILINET_GPU_TEST_SMALL");
  return v && *v && std::string(v) != "0";
}

// RESILINET_GPU_TEST_SMALL=shallow: small shapes and no deep (16 x 256) networks either, for
// racecheck, which slows shared-memory work most. Their spill path is global memory, which
// racecheck does not watch; memcheck runs them.
inline bool shallow_only() {
  const char* v = std::getenv("RESILINET_GPU_TEST_SMALL");
  return v && std::string(v) == "shallow";
}

template <class T>
kernels::cuda::DeviceArray<T> upload(const std::vector<T>& v) {
  kernels::cuda::DeviceArray<T> d(std::max<size_t>(v.size(), 1));
  if (!v.empty())
    kernels::cuda::check(cudaMemcpy(d.data(), v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice), "test upload");
  return d;
}

template <class T>
std::vector<T> download(const T* d, size_t n) {
  std::vector<T> v(n);
  if (n) kernels::cuda::check(cudaMemcpy(v.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost), "test download");
  return v;
}

// A stream of its own per test, so that the ops are seen to honour the stream argument.
struct Stream {
  cudaStream_t s = nullptr;
  Stream() { kernels::cuda::check(cudaStreamCreate(&s), "cudaStreamCreate"); }
  ~Stream() { cudaStreamDestroy(s); }
  void sync() const { kernels::cuda::check(cudaStreamSynchronize(s), "cudaStreamSynchronize"); }
};

}  // namespace resilinet::testing
