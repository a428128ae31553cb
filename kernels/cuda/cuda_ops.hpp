// CUDA forms of the ops of kernels/ops.hpp and kernels/lrp.hpp: the same names, argument order and
// meaning, on device pointers, queued on one stream. Nothing here waits for the device unless it
// says so; losses and inertias are written to device memory and read when a metric is wanted.
// Weight gradients and every sum are reduced in a fixed order (per-block partial sums combined
// in block order), never with float atomics, so repeated runs give the same bytes.
// This header compiles with the host compiler; the kernels are in kernels/cuda/*.cu.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include <cuda_runtime_api.h>

#include "kernels/lrp.hpp"
#include "kernels/mlp_layout.hpp"
#include "kernels/ops.hpp"

namespace resilinet::kernels::cuda {

// A CUDA call that failed: what was being done and CUDA's own message.
class CudaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// Throws CudaError("<what>: <cudaGetErrorString(status)>") unless status is cudaSuccess.
void check(cudaError_t status, const char* what);

// True when a CUDA device can run kernels. Any error of the probe (no driver, "CUDA driver version
// is insufficient", no device) counts as no device; why (optional) receives the reason.
bool device_available(std::string* why = nullptr);

// Device memory of n values of T, freed on destruction.
template <class T>
class DeviceArray {
 public:
  DeviceArray() = default;
  explicit DeviceArray(size_t n) { resize(n); }
  ~DeviceArray() { release(); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  DeviceArray(DeviceArray&& o) noexcept : data_(o.data_), size_(o.size_) { o.data_ = nullptr, o.size_ = 0; }
  DeviceArray& operator=(DeviceArray&& o) noexcept {
    if (this != &o) release(), data_ = o.data_, size_ = o.size_, o.data_ = nullptr, o.size_ = 0;
    return *this;
  }
  // Reallocates only when n exceeds the capacity; contents are not kept.
  void resize(size_t n) {
    if (n <= size_) return;
    release();
    void* p = nullptr;
    check(cudaMalloc(&p, n * sizeof(T)), "cudaMalloc");
    data_ = static_cast<T*>(p);
    size_ = n;
  }
  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void release() {
    if (data_) cudaFree(data_);
    data_ = nullptr;
    size_ = 0;
  }
  T* data_ = nullptr;
  size_t size_ = 0;
};

// A network's shape on the device (layer table, masks), built once per layout; launches read it.
class DeviceMlp {
 public:
  explicit DeviceMlp(const MlpLayout& layout);
  ~DeviceMlp();
  DeviceMlp(const DeviceMlp&) = delete;
  DeviceMlp& operator=(const DeviceMlp&) = delete;
  const MlpLayout& layout() const;
  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

// Scratch memory of the kernels (per-block partial sums and the like), grown on demand and reused
// between calls on the same stream.
class Workspace {
 public:
  Workspace();
  ~Workspace();
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  // At least `bytes` of device scratch, 256-byte aligned; valid until the next call with more.
  void* get(size_t bytes);

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

// ---- The fused MLP (kernels/cuda/mlp.cu) ----
// y[rows x outputs] = network(x), or the output of stop_layer when stop_layer >= 0.
void mlp_forward(const DeviceMlp& net, const float* params, const float* x, size_t rows, float* y,
                 cudaStream_t stream, int stop_layer = -1);

// One fused forward + backward pass, the output loss (mse with its observed mask, or softmax
// cross-entropy) and the optional latent loss included. Overwrites grads [param_count] with
// dLoss/dparams (masked entries zero) and latent->dmu with dL/dmu; writes the loss to *loss
// (device). Every pointer inside loss and latent is a device pointer.
void mlp_forward_backward(const DeviceMlp& net, const float* params, const float* x, size_t rows,
                          const LossSpec& loss, const LatentLoss* latent, float* grads,
                          double* loss_out, Workspace& ws, cudaStream_t stream);

// One Adam step over a flat buffer (step counts from 1), as cpu::adam_step.
void adam_step(float* params, const float* grads, float* m, float* v, size_t n,
               const cpu::AdamConfig& config, int64_t step, cudaStream_t stream);

// ---- Clustering (kernels/cuda/dec.cu, kernels/cuda/kmeans.cu) ----
void soft_assign(const float* z, size_t rows, int dims, const float* mu, int clusters, float alpha,
                 float* q, cudaStream_t stream);
// As cpu::kl_target_loss_grad: adds into dz and dmu; the loss goes to *loss_out (device).
void kl_target_loss_grad(const float* z, size_t rows, int dims, const float* mu, int clusters,
                         float alpha, const double* frequency, float weight, size_t norm_rows,
                         float* dz, float* dmu, double* loss_out, Workspace& ws,
                         cudaStream_t stream);
// As cpu::kmeans_assign: labels, and sums [clusters x dims] / counts [clusters] added to in a fixed
// order; the inertia goes to *inertia_out (device).
void kmeans_assign(const float* x, size_t rows, int dims, const float* centroids, int clusters,
                   int32_t* labels, double* sums, int64_t* counts, double* inertia_out,
                   Workspace& ws, cudaStream_t stream);

// ---- Scaling (kernels/cuda/scale.cu) ----
// out = clamp((v - offset) * inv_scale, low, high) with v = x, or median[f] where x is NaN; as
// Scaler::transform. median, offset, inv_scale: [features] device arrays.
void scale_rows(const float* x, size_t rows, int features, const float* median, const float* offset,
                const float* inv_scale, float low, float high, float* out, cudaStream_t stream);

// ---- Relevance (kernels/cuda/lrp.cu) ----
// As cpu::lrp and cpu::gradient_x_input (composite checked on the host first; classes may be
// nullptr for the arg max; logits optional).
void lrp(const DeviceMlp& net, const float* params, const LrpComposite& composite, const float* x,
         size_t rows, const int32_t* classes, float* relevance, float* logits, Workspace& ws,
         cudaStream_t stream);
void gradient_x_input(const DeviceMlp& net, const float* params, const float* x, size_t rows,
                      const int32_t* classes, float* out, float* logits, Workspace& ws,
                      cudaStream_t stream);

}  // namespace resilinet::kernels::cuda
