// The op set of resilinet on flat fp32 buffers. Each op has a fast CPU form (kernels/cpu/), an
// fp64 reference twin used only by tests (kernels/reference/reference.hpp) and, where built, a CUDA
// form (kernels/cuda/). All forms share names, argument order and meaning.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/mlp_layout.hpp"

namespace resilinet::kernels {

enum class LossKind : int { none = 0, mse = 1, softmax_cross_entropy = 2 };

// The loss at the network's output, averaged over the rows of the call and scaled by weight:
//   mse: weight * sum_{i,k} (y_ik - target_ik)^2 / (rows * outputs)
//   softmax_cross_entropy: weight * sum_i -log softmax(y_i)[label_i] / rows
// loss_rows, if nonzero, replaces rows as the divisor (for batches split across calls or ranks).
struct LossSpec {
  LossKind kind = LossKind::none;
  float weight = 1.0f;
  const float* target = nullptr;   // mse: [rows x outputs]
  const int32_t* labels = nullptr; // cross entropy: class in [0, outputs)
  size_t loss_rows = 0;
  // mse (optional): [rows x outputs], 0 where the target value was not observed (a missing
  // feature): it adds nothing to the loss or the gradient. The mean still divides by rows x outputs.
  const uint8_t* observed = nullptr;
};

// The IDEC clustering loss at the output of one hidden layer (the latent z of the autoencoder),
// declared as data so that every backend can fuse it into its forward+backward pass:
//   L = weight * sum_i sum_j p_ij log(p_ij / q_ij) / norm_rows
// with q the Student-t soft assignment of z to the centroids and p the global-frequency target
// of kl_target_loss_grad. dL/dz flows back through the layers below; dL/dmu is written to dmu.
// Pointers are in the memory of the backend that runs the pass.
struct LatentLoss {
  int layer = -1;                     // the layer whose output is z
  const float* centroids = nullptr;   // [clusters x width of layer]
  int clusters = 0;
  float alpha = 1.0f;
  const double* frequency = nullptr;  // [clusters], the cluster frequencies f_j of the target
  float weight = 1.0f;
  size_t norm_rows = 0;               // divisor of the mean; 0 = the rows of the call
  float* dmu = nullptr;               // out [clusters x width]: overwritten with dL/dmu
};

// Each tile's gradient apart, for data-parallel ranks that sum every rank's tiles up the tile tree
// (kernels/tile_tree.hpp, Communicator::sum_tile_tree): grads [tiles x param_count] and, with a
// latent loss, dmu [tiles x clusters x width], tiles = ceil(rows / tile rows of the backend).
// Summed up the tree they equal the summed grads and dmu of the same call, bitwise.
struct TileGradients {
  float* grads = nullptr;
  float* dmu = nullptr;
};

// Adam's constants (step counts from 1; bias-corrected).
struct AdamConfig {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;  // L2 added to the gradient (not decoupled)
};

// k-means: k-means++ initialisation, then Lloyd iterations; the restart with the lowest inertia wins.
struct KMeansOptions {
  int clusters = 5;
  int restarts = 4;
  int max_iterations = 100;
  double tolerance = 1e-6;  // relative inertia change that stops Lloyd iterations
  uint64_t seed = 0;
};
struct KMeansResult {
  std::vector<float> centroids;  // [clusters x dims]
  std::vector<int32_t> labels;   // [rows]
  double inertia = 0;
  int iterations = 0;
};

namespace cpu {

using kernels::AdamConfig;
using kernels::KMeansOptions;
using kernels::KMeansResult;
using kernels::TileGradients;

// Rows per tile of the fused kernels; per-tile partial gradients are summed up a fixed tree over
// the tiles (kernels/tile_tree.hpp), so the result does not depend on the thread count.
inline constexpr size_t kTileRows = 64;

// y[rows x outputs] = network(x); if stop_layer >= 0, y is the output of that layer instead.
void mlp_forward(const MlpLayout& layout, const float* params, const float* x, size_t rows,
                 float* y, int stop_layer = -1);

// A network packed once for many forward passes from the caller's own parallel loop (one pass per
// row tile, say): run() starts no threads. mlp_forward is this with OpenMP over tiles.
class MlpForwardPlan {
 public:
  MlpForwardPlan(const MlpLayout& layout, const float* params, int stop_layer = -1);
  ~MlpForwardPlan();
  MlpForwardPlan(const MlpForwardPlan&) = delete;
  MlpForwardPlan& operator=(const MlpForwardPlan&) = delete;
  // y[rows x outputs()] = the network (up to stop_layer) on x[rows x inputs]; safe to call
  // concurrently from several threads.
  void run(const float* x, size_t rows, float* y) const;
  int outputs() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One fused forward + backward pass over all layers, tile by tile. Overwrites grads
// [param_count] with dLoss/dparams (masked entries zero) and returns the loss, the latent loss
// included (latent: optional). The latent loss's dmu is summed up the tile tree as the gradients.
double mlp_forward_backward(const MlpLayout& layout, const float* params, const float* x,
                            size_t rows, const LossSpec& loss, const LatentLoss* latent,
                            float* grads);

// mlp_forward_backward with each tile's gradient apart (TileGradients).
double mlp_forward_backward_tiles(const MlpLayout& layout, const float* params, const float* x,
                                  size_t rows, const LossSpec& loss, const LatentLoss* latent,
                                  const TileGradients& tiles);

// One Adam step (step counts from 1) with bias correction, over a flat buffer.
void adam_step(float* params, const float* grads, float* m, float* v, size_t n,
               const AdamConfig& config, int64_t step);

// Student-t soft assignment: q_ij proportional to (1 + |z_i - mu_j|^2 / alpha)^(-(alpha+1)/2).
void soft_assign(const float* z, size_t rows, int dims, const float* mu, int clusters, float alpha,
                 float* q);

// IDEC clustering loss on a batch with the global-frequency target
//   p_ij = (q_ij^2 / f_j) / sum_k (q_ik^2 / f_k),
//   L = weight * sum_i sum_j p_ij log(p_ij / q_ij) / norm_rows   (p held constant).
// Adds dL/dz into dz [rows x dims] and dL/dmu into dmu [clusters x dims]; returns L.
double kl_target_loss_grad(const float* z, size_t rows, int dims, const float* mu, int clusters,
                           float alpha, const double* frequency, float weight, size_t norm_rows,
                           float* dz, float* dmu);

// Nearest centroid of each row; adds per-cluster sums [clusters x dims] and counts in a fixed
// order (so ranks can sum them afterwards); returns the inertia (sum of squared distances).
double kmeans_assign(const float* x, size_t rows, int dims, const float* centroids, int clusters,
                     int32_t* labels, double* sums, int64_t* counts);

// k-means++ initialisation, then Lloyd iterations; the restart with the lowest inertia wins.
KMeansResult kmeans(const float* x, size_t rows, int dims, const KMeansOptions& options);

}  // namespace cpu
}  // namespace resilinet::kernels
