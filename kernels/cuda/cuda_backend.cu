// The CUDA backend: the kernels of kernels/cuda/ behind the Backend interface.
#include "kernels/cuda/cuda_backend.hpp"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernels/cuda/device_mlp.cuh"

namespace resilinet::kernels::cuda {

namespace {

// The fused kernels keep a tile's activations and staged weights on chip: refused up front, so a
// run learns it before training rather than at its first step.
const MlpLayout& runnable(const MlpLayout& layout) {
  if (layout.layers.size() > size_t(kMaxLayers))
    throw std::invalid_argument("the CUDA kernels take at most " + std::to_string(kMaxLayers) + " layers; this network has " +
                                std::to_string(layout.layers.size()));
  for (size_t l = 0; l < layout.layers.size(); ++l)
    if (layout.layers[l].in > kMaxWidth || layout.layers[l].out > kMaxWidth)
      throw std::invalid_argument("the CUDA kernels take layers of at most " + std::to_string(kMaxWidth) +
                                  " units; layer " + std::to_string(l) + " is " + std::to_string(layout.layers[l].in) +
                                  " -> " + std::to_string(layout.layers[l].out));
  return layout;
}

class CudaNetwork final : public Network {
 public:
  explicit CudaNetwork(const MlpLayout& layout) : device_(runnable(layout)) {}
  const MlpLayout& layout() const override { return device_.layout(); }
  const DeviceMlp& device() const { return device_; }

 private:
  DeviceMlp device_;
};

const DeviceMlp& device_of(const Network& net) { return static_cast<const CudaNetwork&>(net).device(); }

// The completed clustering space: the scaled value where it was observed, the decoder's where the
// raw value is missing, times the cluster scale.
__global__ void complete_rows(const float* raw, const float* scaled, size_t n, float scale, float* space) {
  const size_t k = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= n) return;
  const float v = raw && isnan(raw[k]) ? space[k] : scaled[k];
  space[k] = scale * v;
}

// Where the caller did not want z: a row whose z is not finite gets a NaN row in the completed
// space, so that it is not rated, as it would not be with z written.
__global__ void mark_rows_without_finite_z(const float* z, size_t rows, size_t d, size_t D, float* space) {
  const size_t r = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r >= rows) return;
  for (size_t j = 0; j < d; ++j)
    if (!isfinite(z[r * d + j])) {
      for (size_t k = 0; k < D; ++k) space[r * D + k] = nanf("");
      return;
    }
}

__global__ void scale_copy(const float* from, size_t n, float* to) {
  const size_t k = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k < n) to[k] = from[k];
}

class CudaBackend final : public Backend {
 public:
  CudaBackend() {
    check(cudaGetDevice(&device_), "cudaGetDevice");
    check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    check(cudaMalloc(&scalar_, sizeof(double)), "cudaMalloc");
    cudaDeviceProp prop{};
    check(cudaGetDeviceProperties(&prop, device_), "cudaGetDeviceProperties");
    name_ = prop.name;
  }
  ~CudaBackend() override {
    cudaStreamSynchronize(stream_);
    for (Pinned& p : pinned_) {
      if (p.data) cudaFreeHost(p.data);
      if (p.done) cudaEventDestroy(p.done);
    }
    cudaFree(scalar_);
    cudaStreamDestroy(stream_);
  }

  std::string name() const override { return "cuda"; }
  std::string describe() const override { return "cuda (" + name_ + ")"; }
  bool host_memory() const override { return false; }

  void* allocate(size_t bytes) override {
    void* p = nullptr;
    check(cudaMalloc(&p, std::max<size_t>(bytes, 1)), "cudaMalloc");
    return p;
  }
  void release(void* p) noexcept override {
    // Memory a queued kernel may still read is freed only after the stream drains.
    cudaStreamSynchronize(stream_);
    cudaFree(p);
  }
  void upload(void* device, const void* host, size_t bytes) override {
    if (bytes == 0) return;
    // Through a ring of pinned buffers: the copy is queued behind the kernels before it, the
    // caller may reuse its memory at once, and the host prepares the next batch meanwhile. A
    // pinned buffer is refilled only once its previous copy has finished.
    Pinned& p = pinned_[next_pinned_];
    next_pinned_ = (next_pinned_ + 1) % kPinnedBuffers;
    if (!p.done) check(cudaEventCreateWithFlags(&p.done, cudaEventDisableTiming), "cudaEventCreate");
    else check(cudaEventSynchronize(p.done), "upload");
    if (p.bytes < bytes) {
      if (p.data) cudaFreeHost(p.data);
      p.data = nullptr;
      check(cudaMallocHost(&p.data, bytes), "cudaMallocHost");
      p.bytes = bytes;
    }
    std::memcpy(p.data, host, bytes);
    check(cudaMemcpyAsync(device, p.data, bytes, cudaMemcpyHostToDevice, stream_), "upload");
    check(cudaEventRecord(p.done, stream_), "upload");
  }
  void download(void* host, const void* device, size_t bytes) override {
    check(cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, stream_), "download");
    check(cudaStreamSynchronize(stream_), "download");
  }
  void copy(void* to, const void* from, size_t bytes) override {
    check(cudaMemcpyAsync(to, from, bytes, cudaMemcpyDeviceToDevice, stream_), "copy");
  }
  void* native_stream() const override { return stream_; }
  void fill_zero(void* p, size_t bytes) override { check(cudaMemsetAsync(p, 0, bytes, stream_), "memset"); }

  std::unique_ptr<Network> network(const MlpLayout& layout) override { return std::make_unique<CudaNetwork>(layout); }

  void mlp_forward(const Network& net, const float* params, const float* x, size_t rows, float* y,
                   int stop_layer) override {
    cuda::mlp_forward(device_of(net), params, x, rows, y, stream_, stop_layer);
  }
  void mlp_forward_backward(const Network& net, const float* params, const float* x, size_t rows,
                            const LossSpec& loss, const LatentLoss* latent, float* grads, double* loss_out) override {
    cuda::mlp_forward_backward(device_of(net), params, x, rows, loss, latent, grads, loss_out, workspace_, stream_);
  }
  void adam_step(float* params, const float* grads, float* m, float* v, size_t n, const AdamConfig& config,
                 int64_t step) override {
    cuda::adam_step(params, grads, m, v, n, config, step, stream_);
  }
  void soft_assign(const float* z, size_t rows, int dims, const float* mu, int clusters, float alpha,
                   float* q) override {
    cuda::soft_assign(z, rows, dims, mu, clusters, alpha, q, stream_);
  }
  double kmeans_assign(const float* x, size_t rows, int dims, const float* centroids, int clusters, int32_t* labels,
                       double* sums, int64_t* counts) override {
    cuda::kmeans_assign(x, rows, dims, centroids, clusters, labels, sums, counts, scalar_, workspace_, stream_);
    return read_scalar();
  }
  // The sample k-means runs on the host: k-means++ seeding is sequential and the sample is small
  // (clusters.kmeans.sample_rows); the full passes use kmeans_assign on the device.
  KMeansResult kmeans(const float* x, size_t rows, int dims, const KMeansOptions& options) override {
    std::vector<float> host(rows * size_t(dims));
    if (!host.empty()) download(host.data(), x, host.size() * sizeof(float));
    return cpu::kmeans(host.data(), rows, dims, options);
  }
  void rate(const RatingPass& pass, const float* raw, const float* scaled, size_t rows, float* z, float* space,
            float* q, float* logits) override {
    if (rows == 0) return;
    const DeviceMlp& encoder = device_of(*pass.encoder);
    const size_t F = size_t(encoder.layout().inputs());
    const size_t d = size_t(encoder.layout().layers[pass.latent_layer].out);
    // z not wanted: the whole pass still runs, into scratch (the CPU's skipping is not done here).
    const bool z_wanted = z != nullptr;
    if (!z_wanted) z = static_cast<float*>(workspace_.get(rows * d * sizeof(float)));
    cuda::mlp_forward(encoder, pass.autoencoder_params, scaled, rows, z, stream_, pass.latent_layer);
    const int threads = 256;
    if (pass.completed) {
      cuda::mlp_forward(device_of(*pass.decoder), pass.autoencoder_params, z, rows, space, stream_);
      complete_rows<<<ceil_div(rows * F, threads), threads, 0, stream_>>>(raw, scaled, rows * F, pass.cluster_scale,
                                                                         space);
      if (!z_wanted)
        mark_rows_without_finite_z<<<ceil_div(rows, threads), threads, 0, stream_>>>(z, rows, d, F, space);
    } else {
      scale_copy<<<ceil_div(rows * d, threads), threads, 0, stream_>>>(z, rows * d, space);
    }
    check(cudaGetLastError(), "rating kernels");
    const int D = int(pass.completed ? F : d);
    cuda::soft_assign(space, rows, D, pass.centroids, pass.clusters, pass.alpha, q, stream_);
    if (pass.head) cuda::mlp_forward(device_of(*pass.head), pass.head_params, scaled, rows, logits, stream_);
  }
  void lrp(const Network& net, const float* params, const LrpComposite& composite, const float* x, size_t rows,
           const int32_t* classes, float* relevance, float* logits) override {
    cuda::lrp(device_of(net), params, composite, x, rows, classes, relevance, logits, workspace_, stream_);
  }
  void gradient_x_input(const Network& net, const float* params, const float* x, size_t rows,
                        const int32_t* classes, float* out, float* logits) override {
    cuda::gradient_x_input(device_of(net), params, x, rows, classes, out, logits, workspace_, stream_);
  }

 private:
  double read_scalar() {
    double v = 0;
    check(cudaMemcpyAsync(&v, scalar_, sizeof v, cudaMemcpyDeviceToHost, stream_), "read loss");
    check(cudaStreamSynchronize(stream_), "read loss");
    return v;
  }

  struct Pinned {
    void* data = nullptr;
    size_t bytes = 0;
    cudaEvent_t done = nullptr;
  };
  static constexpr int kPinnedBuffers = 4;
  Pinned pinned_[kPinnedBuffers];
  int next_pinned_ = 0;
  int device_ = 0;
  std::string name_;
  cudaStream_t stream_ = nullptr;
  double* scalar_ = nullptr;
  Workspace workspace_;
};

}  // namespace

std::unique_ptr<Backend> make_cuda_backend() {
  std::string why;
  if (!device_available(&why)) throw BackendUnavailable("no usable CUDA device: " + why);
  // Ranks of a job sharing a node take a device each, by their rank on the node (a launcher that
  // hands each rank its own device through CUDA_VISIBLE_DEVICES leaves one device to pick).
  int devices = 0;
  check(cudaGetDeviceCount(&devices), "cudaGetDeviceCount");
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "MPI_LOCALRANKID"})
    if (const char* v = std::getenv(name); v && *v && devices > 1) {
      check(cudaSetDevice(std::atoi(v) % devices), "cudaSetDevice");
      break;
    }
  return std::make_unique<CudaBackend>();
}

}  // namespace resilinet::kernels::cuda
