// fp64 reference of the k-means assignment step: nearest centroid per row (ties go to the lowest
// index), per-cluster sums and counts, inertia. Plain loops; the fast twin is kernels/cpu/kmeans.cpp.
// Tests and benchmarks only; there is no reference of the full k-means driver.
#include "kernels/reference/reference.hpp"

namespace resilinet::kernels::reference {

double kmeans_assign(const double* x, size_t rows, int dims, const double* centroids, int clusters,
                     int32_t* labels, double* sums, int64_t* counts) {
  double inertia = 0;
  for (size_t i = 0; i < rows; ++i) {
    const double* xi = x + i * dims;
    int best = 0;
    double best_d2 = 0;
    for (int j = 0; j < clusters; ++j) {
      double d2 = 0;
      for (int k = 0; k < dims; ++k) {
        double diff = xi[k] - centroids[size_t(j) * dims + k];
        d2 += diff * diff;
      }
      if (j == 0 || d2 < best_d2) {
        best = j;
        best_d2 = d2;
      }
    }
    labels[i] = best;
    for (int k = 0; k < dims; ++k) sums[size_t(best) * dims + k] += xi[k];
    counts[best] += 1;
    inertia += best_d2;
  }
  return inertia;
}

}  // namespace resilinet::kernels::reference
