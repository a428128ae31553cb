// The CPU backend (kernels/backend.hpp): host memory and the kernels of kernels/cpu/.
#pragma once
#include "kernels/backend.hpp"

namespace resilinet::kernels::cpu {

// The rating pass of kernels/backend.hpp, fused per tile of rows (OpenMP over tiles). With z
// nullptr in the completed space, the encoder runs only on the rows that need it (a missing
// value, or a value beyond finite_input_bound); a row whose z is not finite gets a NaN row in
// `space`, so that it is not rated, as it would not be with z written (mark_not_rated).
void rate(const RatingPass& pass, const float* raw, const float* scaled, size_t rows, float* z,
          float* space, float* q, float* logits);

// A B such that every row with all |x_i| <= B gives finite outputs of the layers up to
// stop_layer (-1: all) of these parameters, with a margin of about 10^8 below the float range for
// the rounding of the sums. Each layer's output is at most sum_i |W_oi| |input| + |b_o| in
// magnitude (linear or ReLU), so the outputs' bound is affine in B. Negative (no row is safe, not
// even one of zeros) where a parameter is not finite or the biases alone could overflow.
float finite_input_bound(const MlpLayout& layout, const float* params, int stop_layer = -1);

class CpuBackend;
// One CPU backend for code that works on host buffers by design (the host-model entry points).
CpuBackend& host_backend();

class CpuBackend final : public Backend {
 public:
  std::string name() const override { return "cpu"; }
  std::string describe() const override;
  bool host_memory() const override { return true; }
  void* allocate(size_t bytes) override;
  void release(void* p) noexcept override;
  void upload(void* device, const void* host, size_t bytes) override;
  void download(void* host, const void* device, size_t bytes) override;
  void copy(void* to, const void* from, size_t bytes) override;
  void fill_zero(void* p, size_t bytes) override;
  std::unique_ptr<Network> network(const MlpLayout& layout) override;
  void mlp_forward(const Network& net, const float* params, const float* x, size_t rows, float* y,
                   int stop_layer = -1) override;
  void mlp_forward_backward(const Network& net, const float* params, const float* x, size_t rows,
                            const LossSpec& loss, const LatentLoss* latent, float* grads, double* loss_out) override;
  size_t gradient_tile_rows() const override { return cpu::kTileRows; }
  void mlp_forward_backward_tiles(const Network& net, const float* params, const float* x, size_t rows,
                                  const LossSpec& loss, const LatentLoss* latent, const TileGradients& tiles,
                                  double* loss_out) override;
  void adam_step(float* params, const float* grads, float* m, float* v, size_t n, const AdamConfig& config,
                 int64_t step) override;
  void soft_assign(const float* z, size_t rows, int dims, const float* mu, int clusters, float alpha,
                   float* q) override;
  double kmeans_assign(const float* x, size_t rows, int dims, const float* centroids, int clusters,
                       int32_t* labels, double* sums, int64_t* counts) override;
  KMeansResult kmeans(const float* x, size_t rows, int dims, const KMeansOptions& options) override;
  void rate(const RatingPass& pass, const float* raw, const float* scaled, size_t rows, float* z, float* space,
            float* q, float* logits) override;
  void lrp(const Network& net, const float* params, const LrpComposite& composite, const float* x, size_t rows,
           const int32_t* classes, float* relevance, float* logits = nullptr) override;
  void gradient_x_input(const Network& net, const float* params, const float* x, size_t rows,
                        const int32_t* classes, float* out, float* logits = nullptr) override;
};

}  // namespace resilinet::kernels::cpu
