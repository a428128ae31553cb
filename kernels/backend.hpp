// The seam between the training stages and the kernels: one Backend per run, picked by
// `run.device` through make_backend, owns the memory its ops work on and runs every op of
// kernels/ops.hpp and kernels/lrp.hpp there. The stages never name a backend's kernels or tile
// size. Host-memory backends (the CPU) take host pointers as they are, so staging costs nothing.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/lrp.hpp"
#include "kernels/mlp_layout.hpp"
#include "kernels/ops.hpp"

namespace resilinet::kernels {

// A network prepared once for a backend (packed tables, device copies of masks).
class Network {
 public:
  virtual ~Network() = default;
  virtual const MlpLayout& layout() const = 0;
};

// The per-cell rating pass, declared as data: encoder to z (the output of latent_layer), the
// clustering space (z, or in the completed space the scaled row with missing values from the
// decoder, times cluster_scale), the soft assignment q and, with a head, its logits. The
// parameters behind the pointers must not change while the networks live: a backend may prepare
// each network's weights on its first pass and reuse them (ModelOnBackend holds its own copies).
struct RatingPass {
  const Network* encoder = nullptr;   // the autoencoder up to latent_layer (stop layer)
  const Network* decoder = nullptr;   // completed space only: z -> reconstruction
  const float* autoencoder_params = nullptr;
  int latent_layer = 0;
  bool completed = false;
  float cluster_scale = 1.0f;
  const float* centroids = nullptr;   // [clusters x space dims]
  int clusters = 0;
  float alpha = 1.0f;
  const Network* head = nullptr;      // optional classifier
  const float* head_params = nullptr;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;      // "cpu", "cuda"
  virtual std::string describe() const = 0;  // for logs: the instruction set, or the device
  // True when ops take host pointers (no staging needed).
  virtual bool host_memory() const = 0;
  // The CUDA stream every op is queued on (a device communicator queues its sums there too);
  // nullptr for the CPU.
  virtual void* native_stream() const { return nullptr; }

  // ---- Memory ----
  virtual void* allocate(size_t bytes) = 0;
  virtual void release(void* p) noexcept = 0;
  virtual void upload(void* device, const void* host, size_t bytes) = 0;
  // Waits for the ops queued before it.
  virtual void download(void* host, const void* device, size_t bytes) = 0;
  virtual void copy(void* to, const void* from, size_t bytes) = 0;  // within the backend
  virtual void fill_zero(void* p, size_t bytes) = 0;

  // ---- Ops (pointers in this backend's memory; see kernels/ops.hpp for the meaning) ----
  // Throws std::invalid_argument, saying why, for a network this backend cannot run.
  virtual std::unique_ptr<Network> network(const MlpLayout& layout) = 0;
  virtual void mlp_forward(const Network& net, const float* params, const float* x, size_t rows,
                           float* y, int stop_layer = -1) = 0;
  // The loss goes to *loss_out, a double in this backend's memory: a training step never waits
  // for the device; the caller reads losses when it shows or records them.
  virtual void mlp_forward_backward(const Network& net, const float* params, const float* x,
                                    size_t rows, const LossSpec& loss, const LatentLoss* latent,
                                    float* grads, double* loss_out) = 0;
  // Rows per tile of mlp_forward_backward_tiles; 0 where this backend keeps no tile gradients
  // (data-parallel ranks then sum each rank's gradient as it comes).
  virtual size_t gradient_tile_rows() const { return 0; }
  // mlp_forward_backward with each tile's gradient apart (TileGradients, kernels/ops.hpp), for
  // sums over ranks that equal one process's bitwise.
  virtual void mlp_forward_backward_tiles(const Network&, const float*, const float*, size_t, const LossSpec&,
                                          const LatentLoss*, const TileGradients&, double*) {
    throw std::logic_error("mlp_forward_backward_tiles: " + describe() + " keeps no tile gradients");
  }
  virtual void adam_step(float* params, const float* grads, float* m, float* v, size_t n,
                         const AdamConfig& config, int64_t step) = 0;
  virtual void soft_assign(const float* z, size_t rows, int dims, const float* mu, int clusters,
                           float alpha, float* q) = 0;
  virtual double kmeans_assign(const float* x, size_t rows, int dims, const float* centroids,
                               int clusters, int32_t* labels, double* sums, int64_t* counts) = 0;
  // k-means++ and Lloyd on a sample (x in this backend's memory; the result on the host).
  virtual KMeansResult kmeans(const float* x, size_t rows, int dims, const KMeansOptions& options) = 0;
  // z [rows x latent], space [rows x space dims], q [rows x clusters], logits [rows x clusters]
  // (only with a head). raw: the rows unscaled, NaN where missing (nullptr: all observed). z may
  // be nullptr (not wanted): a row whose z would not be finite then gets a NaN row in space.
  virtual void rate(const RatingPass& pass, const float* raw, const float* scaled, size_t rows,
                    float* z, float* space, float* q, float* logits) = 0;
  virtual void lrp(const Network& net, const float* params, const LrpComposite& composite,
                   const float* x, size_t rows, const int32_t* classes, float* relevance,
                   float* logits = nullptr) = 0;
  virtual void gradient_x_input(const Network& net, const float* params, const float* x,
                                size_t rows, const int32_t* classes, float* out,
                                float* logits = nullptr) = 0;
};

// A device request that cannot be met: `device: cuda` in a build without CUDA or on a machine
// without a usable GPU. what() says why.
class BackendUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Backends by type key ("cpu", "cuda"); "auto" is cuda when one is usable, else cpu. Throws
// BackendUnavailable for a backend that cannot run here and std::invalid_argument for an unknown key.
std::unique_ptr<Backend> make_backend(const std::string& device);
// The keys this build knows, for messages.
std::vector<std::string> backend_names();

// kmeans_assign on host arrays, staged through the backend's memory: labels written, sums and
// counts added to, as the op does.
double kmeans_assign_host(Backend& backend, const float* x, size_t rows, int dims, const float* centroids,
                          int clusters, int32_t* labels, double* sums, int64_t* counts);

// n values of T in a backend's memory, released on destruction.
template <class T>
class BackendArray {
 public:
  BackendArray() = default;
  BackendArray(Backend& backend, size_t n) : backend_(&backend), size_(n) {
    if (n) data_ = static_cast<T*>(backend.allocate(n * sizeof(T)));
  }
  BackendArray(Backend& backend, const std::vector<T>& host) : BackendArray(backend, host.size()) {
    upload(host);
  }
  ~BackendArray() {
    if (backend_ && data_) backend_->release(data_);
  }
  BackendArray(const BackendArray&) = delete;
  BackendArray& operator=(const BackendArray&) = delete;
  BackendArray(BackendArray&& o) noexcept { swap(o); }
  BackendArray& operator=(BackendArray&& o) noexcept {
    BackendArray tmp(std::move(o));
    swap(tmp);
    return *this;
  }
  void upload(const std::vector<T>& host) { upload(host.data(), host.size()); }
  void upload(const T* host, size_t n) {
    if (n != size_) throw std::logic_error("BackendArray: upload of a different size");
    if (n) backend_->upload(data_, host, n * sizeof(T));
  }
  void download(std::vector<T>& host) const {
    host.resize(size_);
    if (size_) backend_->download(host.data(), data_, size_ * sizeof(T));
  }
  std::vector<T> to_host() const {
    std::vector<T> host;
    download(host);
    return host;
  }
  void zero() {
    if (size_) backend_->fill_zero(data_, size_ * sizeof(T));
  }
  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void swap(BackendArray& o) noexcept {
    std::swap(backend_, o.backend_);
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
  }
  Backend* backend_ = nullptr;
  T* data_ = nullptr;
  size_t size_ = 0;
};

// Host data an op reads: on a host-memory backend the host pointer itself, else a copy uploaded
// into a reusable backend buffer.
template <class T>
class Staged {
 public:
  explicit Staged(Backend& backend) : backend_(backend) {}
  const T* put(const T* host, size_t n) {
    if (!host || backend_.host_memory()) return host;
    if (buffer_.size() < n) buffer_ = BackendArray<T>(backend_, n);
    if (n) backend_.upload(buffer_.data(), host, n * sizeof(T));
    return buffer_.data();
  }

 private:
  Backend& backend_;
  BackendArray<T> buffer_;
};

// Host memory an op writes: on a host-memory backend the op writes into the host buffer directly;
// else into a backend buffer that get() downloads.
template <class T>
class Landing {
 public:
  explicit Landing(Backend& backend) : backend_(backend) {}
  // Where the op should write n values that end up in host.
  T* at(T* host, size_t n) {
    host_ = host;
    n_ = n;
    if (!host || backend_.host_memory()) return host;
    if (buffer_.size() < n) buffer_ = BackendArray<T>(backend_, n);
    return buffer_.data();
  }
  // Brings the values to the host pointer given to at().
  void get() {
    if (host_ && !backend_.host_memory() && n_) backend_.download(host_, buffer_.data(), n_ * sizeof(T));
  }

 private:
  Backend& backend_;
  BackendArray<T> buffer_;
  T* host_ = nullptr;
  size_t n_ = 0;
};

}  // namespace resilinet::kernels
