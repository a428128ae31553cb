// fp64 reference of the deep-embedded-clustering ops: Student-t soft assignment, cluster
// frequencies and the KL loss against the global-frequency target with its gradients.
// Plain loops that restate the formulas; the fast twin is kernels/cpu/dec.cpp. Tests only.
#include <cmath>
#include <vector>

#include "kernels/reference/reference.hpp"

namespace resilinet::kernels::reference {

namespace {

double squared_distance(const double* a, const double* b, int dims) {
  double d2 = 0;
  for (int k = 0; k < dims; ++k) d2 += (a[k] - b[k]) * (a[k] - b[k]);
  return d2;
}

}  // namespace

void soft_assign(const double* z, size_t rows, int dims, const double* mu, int clusters,
                 double alpha, double* q) {
  for (size_t i = 0; i < rows; ++i) {
    double total = 0;
    for (int j = 0; j < clusters; ++j) {
      double d2 = squared_distance(z + i * dims, mu + size_t(j) * dims, dims);
      q[i * clusters + j] = std::pow(1.0 + d2 / alpha, -(alpha + 1.0) / 2.0);
      total += q[i * clusters + j];
    }
    for (int j = 0; j < clusters; ++j) q[i * clusters + j] /= total;
  }
}

std::vector<double> cluster_frequency(const double* q, size_t rows, int clusters) {
  std::vector<double> f(clusters, 0.0);
  for (size_t i = 0; i < rows; ++i)
    for (int j = 0; j < clusters; ++j) f[j] += q[i * clusters + j];
  return f;
}

// With u_ij = 1 + |z_i - mu_j|^2 / alpha and p held constant:
//   dL_i/dz_i  =  (alpha+1)/alpha * sum_j (p_ij - q_ij) (z_i - mu_j) / u_ij
//   dL_i/dmu_j = -(alpha+1)/alpha *       (p_ij - q_ij) (z_i - mu_j) / u_ij
double kl_target_loss_grad(const double* z, size_t rows, int dims, const double* mu, int clusters,
                           double alpha, const double* frequency, double weight, size_t norm_rows,
                           double* dz, double* dmu) {
  std::vector<double> q(rows * clusters);
  soft_assign(z, rows, dims, mu, clusters, alpha, q.data());
  const double scale = weight / double(norm_rows);
  double loss = 0;
  std::vector<double> p(clusters);
  for (size_t i = 0; i < rows; ++i) {
    const double* qi = q.data() + i * clusters;
    double total = 0;
    for (int j = 0; j < clusters; ++j) {
      p[j] = qi[j] * qi[j] / frequency[j];
      total += p[j];
    }
    for (int j = 0; j < clusters; ++j) {
      p[j] /= total;
      if (p[j] > 0) loss += p[j] * std::log(p[j] / qi[j]);
    }
    for (int j = 0; j < clusters; ++j) {
      double u = 1.0 + squared_distance(z + i * dims, mu + size_t(j) * dims, dims) / alpha;
      double c = scale * (alpha + 1.0) / alpha * (p[j] - qi[j]) / u;
      for (int k = 0; k < dims; ++k) {
        double diff = z[i * dims + k] - mu[size_t(j) * dims + k];
        dz[i * dims + k] += c * diff;
        dmu[size_t(j) * dims + k] -= c * diff;
      }
    }
  }
  return scale * loss;
}

}  // namespace resilinet::kernels::reference
