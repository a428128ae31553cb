// 64-byte aligned float storage for the CPU kernels' workspaces and packed weights. Not a
// container: it only grows, and its contents are not kept across growth.
#pragma once
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>

namespace resilinet::kernels::cpu {

// Allocated once per thread or per plan; every user writes before it reads.
class FloatBuffer {
 public:
  float* ensure(size_t floats) {
    if (floats > size_) {
      size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;
      data_.reset(static_cast<float*>(std::aligned_alloc(64, bytes)));
      if (!data_) throw std::bad_alloc();
      size_ = floats;
    }
    return data_.get();
  }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float, Free> data_;
  size_t size_ = 0;
};

}  // namespace resilinet::kernels::cpu
