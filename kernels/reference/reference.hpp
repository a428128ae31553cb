// fp64 reference twins of the ops in kernels/ops.hpp: obvious loops, no tiling, no threads.
// Used only by tests and benchmarks to check the fast forms; never by the trainer.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/ops.hpp"

namespace resilinet::kernels::reference {

struct LossSpec64 {
  LossKind kind = LossKind::none;
  double weight = 1.0;
  const double* target = nullptr;
  const int32_t* labels = nullptr;
  size_t loss_rows = 0;
  const uint8_t* observed = nullptr;  // as in kernels::LossSpec
};

// Per-layer activations of a forward pass: acts[0] = x, acts[l+1] = output of layer l.
std::vector<std::vector<double>> mlp_forward(const MlpLayout& layout, const double* params,
                                             const double* x, size_t rows);

// dz_hook (optional): extra gradient [rows x width] added at the output of layer hook_layer.
double mlp_forward_backward(const MlpLayout& layout, const double* params, const double* x,
                            size_t rows, const LossSpec64& loss, int hook_layer,
                            const double* dz_hook, double* grads);

void adam_step(double* params, const double* grads, double* m, double* v, size_t n,
               const cpu::AdamConfig& config, int64_t step);

void soft_assign(const double* z, size_t rows, int dims, const double* mu, int clusters,
                 double alpha, double* q);

// Cluster frequencies f_j = sum_i q_ij.
std::vector<double> cluster_frequency(const double* q, size_t rows, int clusters);

double kl_target_loss_grad(const double* z, size_t rows, int dims, const double* mu, int clusters,
                           double alpha, const double* frequency, double weight, size_t norm_rows,
                           double* dz, double* dmu);

double kmeans_assign(const double* x, size_t rows, int dims, const double* centroids, int clusters,
                     int32_t* labels, double* sums, int64_t* counts);

}  // namespace resilinet::kernels::reference
