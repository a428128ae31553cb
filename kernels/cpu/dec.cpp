// Deep-embedded-clustering ops on the CPU: Student-t soft assignment and the KL loss against the
// global-frequency target with its gradients, OpenMP over row tiles, per-row math in double
// (float for the soft assignment with alpha = 1, several rows per vector).
// Not the frequency pass or the label bookkeeping (trainer); the fp64 twin is reference/dec.cpp.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include "kernels/cpu/isa.hpp"
#include "kernels/cpu/vec.hpp"
#include "kernels/ops.hpp"

// The vectors only live inside inlined code, so the ABI note about them does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace resilinet::kernels::cpu {

namespace {

// Student-t weights of one row, relative to its nearest centroid so that far rows and large alpha
// cannot underflow: t_j = (u_j / u_min)^(-(alpha+1)/2) with u_j = 1 + |z - mu_j|^2 / alpha.
// Writes u_j (the gradient needs it) and t_j in (0, 1]; returns sum_j t_j.
double student_t_row(const float* z, int dims, const double* mu, int clusters, double alpha,
                     double* u, double* t) {
  double u_min = std::numeric_limits<double>::infinity();
  for (int j = 0; j < clusters; ++j) {
    const double* mu_j = mu + size_t(j) * dims;
    double d2 = 0;
    for (int k = 0; k < dims; ++k) {
      double diff = double(z[k]) - mu_j[k];
      d2 += diff * diff;
    }
    u[j] = 1.0 + d2 / alpha;
    u_min = std::min(u_min, u[j]);
  }
  double total = 0;
  if (alpha == 1.0) {
    for (int j = 0; j < clusters; ++j) total += (t[j] = u_min / u[j]);  // exponent -1: no pow
  } else {
    const double exponent = -(alpha + 1.0) / 2.0;
    for (int j = 0; j < clusters; ++j) total += (t[j] = std::pow(u[j] / u_min, exponent));
  }
  return total;
}

std::vector<double> to_double(const float* v, size_t n) { return std::vector<double>(v, v + n); }

// Below this many rows a call is a few tens of microseconds: not worth waking other threads (the
// per-tile latent hook calls land here too).
constexpr size_t kParallelRows = 1024;

// alpha = 1 (the default, and what rating runs): t_j = u_min / u_j needs no pow, and float keeps
// q within 1e-6 of the fp64 reference, so each row is a few vector instructions.
constexpr int kMaxFastClusters = 64;
constexpr int kMaxFastDims = 64;  // the block form below keeps a transposed block on the stack

template <class V>
[[gnu::always_inline]] inline V square(V d) {
  V s = d * d;
  asm("" : "+v"(s));  // opaque to the compiler, so a sum is never fused with the product
  return s;
}

// One row. The squares are summed in four partial sums (dimension k into sum k mod 4, the last
// dims mod 4 into the first), then those in order, as a four-lane vector loop does; the block form
// below repeats exactly these operations.
void soft_assign_alpha1_row(const float* zi, int dims, const float* mu, int clusters, float* qi) {
  float u[kMaxFastClusters];
  float u_min = std::numeric_limits<float>::infinity();
  for (int j = 0; j < clusters; ++j) {
    const float* mu_j = mu + size_t(j) * dims;
    float part[4] = {0, 0, 0, 0};
    int k = 0;
    for (; k + 4 <= dims; k += 4)
      for (int l = 0; l < 4; ++l) part[l] += square(zi[k + l] - mu_j[k + l]);
    for (; k < dims; ++k) part[0] += square(zi[k] - mu_j[k]);
    u[j] = (((0.0f + part[0]) + part[1]) + part[2]) + part[3] + 1.0f;
    u_min = std::min(u_min, u[j]);
  }
  float total = 0;
  for (int j = 0; j < clusters; ++j) total += (u[j] = u_min / u[j]);
  const float inverse = 1.0f / total;
  for (int j = 0; j < clusters; ++j) qi[j] = u[j] * inverse;
}

// The rows of one block in the lanes of V (the same operations as soft_assign_alpha1_row, in the
// same order, so the same bits on every instruction set).
template <class V>
[[gnu::always_inline]] inline void soft_assign_alpha1_block(const float* z, int rows, int dims,
                                                            const float* mu, int clusters,
                                                            float* q) {
  constexpr int W = int(sizeof(V) / sizeof(float));
  alignas(64) float zt[kMaxFastDims * W];
  for (int k = 0; k < dims; ++k)
    for (int w = 0; w < W; ++w) zt[k * W + w] = w < rows ? z[size_t(w) * dims + k] : 0.0f;
  V u[kMaxFastClusters];
  V u_min = V{} + std::numeric_limits<float>::infinity();
  for (int j = 0; j < clusters; ++j) {
    const float* mu_j = mu + size_t(j) * dims;
    V part[4] = {};
    int k = 0;
    for (; k + 4 <= dims; k += 4)
      for (int l = 0; l < 4; ++l) part[l] += square(load<V>(zt + (k + l) * W) - mu_j[k + l]);
    for (; k < dims; ++k) part[0] += square(load<V>(zt + k * W) - mu_j[k]);
    u[j] = (((V{} + part[0]) + part[1]) + part[2]) + part[3] + 1.0f;
    u_min = u[j] < u_min ? u[j] : u_min;
  }
  V total = {};
  for (int j = 0; j < clusters; ++j) total += (u[j] = u_min / u[j]);
  const V inverse = 1.0f / total;
  for (int j = 0; j < clusters; ++j) u[j] *= inverse;
  for (int w = 0; w < rows; ++w)
    for (int j = 0; j < clusters; ++j) q[size_t(w) * clusters + j] = u[j][w];
}

using Alpha1Block = void (*)(const float*, int, int, const float*, int, float*);

void soft_assign_alpha1_baseline(const float* z, int rows, int dims, const float* mu, int clusters,
                                 float* q) {
  soft_assign_alpha1_block<Vec4>(z, rows, dims, mu, clusters, q);
}
#if defined(__x86_64__)
[[gnu::target("avx2,fma")]] void soft_assign_alpha1_avx2(const float* z, int rows, int dims,
                                                         const float* mu, int clusters, float* q) {
  soft_assign_alpha1_block<Vec8>(z, rows, dims, mu, clusters, q);
}
[[gnu::target("avx512f,avx512vl,avx2,fma")]] void soft_assign_alpha1_avx512(
    const float* z, int rows, int dims, const float* mu, int clusters, float* q) {
  soft_assign_alpha1_block<Vec16>(z, rows, dims, mu, clusters, q);
}
#endif

struct Alpha1Kernel {
  Alpha1Block fn;
  int rows;  // per block
};

Alpha1Kernel soft_assign_alpha1_for(Isa isa) {
#if defined(__x86_64__)
  if (isa == Isa::avx512) return {soft_assign_alpha1_avx512, 16};
  if (isa == Isa::avx2) return {soft_assign_alpha1_avx2, 8};
#endif
  (void)isa;
  return {soft_assign_alpha1_baseline, 4};
}

void soft_assign_alpha1(const float* z, size_t rows, int dims, const float* mu, int clusters,
                        float* q) {
  if (dims > kMaxFastDims) {
    const auto total_rows = static_cast<std::ptrdiff_t>(rows);
#pragma omp parallel for schedule(static) if (rows >= kParallelRows)
    for (std::ptrdiff_t i = 0; i < total_rows; ++i)
      soft_assign_alpha1_row(z + size_t(i) * dims, dims, mu, clusters, q + size_t(i) * clusters);
    return;
  }
  const Alpha1Kernel kernel = soft_assign_alpha1_for(cpu_isa());
  const size_t block = size_t(kernel.rows);
  const auto blocks = static_cast<std::ptrdiff_t>((rows + block - 1) / block);
#pragma omp parallel for schedule(static) if (rows >= kParallelRows)
  for (std::ptrdiff_t b = 0; b < blocks; ++b) {
    const size_t first = size_t(b) * block;
    kernel.fn(z + first * dims, int(std::min(block, rows - first)), dims, mu, clusters,
              q + first * clusters);
  }
}

}  // namespace

void soft_assign(const float* z, size_t rows, int dims, const float* mu, int clusters, float alpha,
                 float* q) {
  if (alpha == 1.0f && clusters <= kMaxFastClusters) {
    soft_assign_alpha1(z, rows, dims, mu, clusters, q);
    return;
  }
  const std::vector<double> mu64 = to_double(mu, size_t(clusters) * dims);
  const auto total_rows = static_cast<std::ptrdiff_t>(rows);
#pragma omp parallel if (rows >= kParallelRows)
  {
    std::vector<double> u(clusters), t(clusters);
#pragma omp for schedule(static)
    for (std::ptrdiff_t i = 0; i < total_rows; ++i) {
      double total = student_t_row(z + size_t(i) * dims, dims, mu64.data(), clusters, alpha,
                                   u.data(), t.data());
      float* qi = q + size_t(i) * clusters;
      for (int j = 0; j < clusters; ++j) qi[j] = float(t[j] / total);
    }
  }
}

// Gradient with p held constant, u_ij = 1 + |z_i - mu_j|^2 / alpha, c_ij = (p_ij - q_ij) / u_ij:
//   dL/dz_i = s (alpha+1)/alpha sum_j c_ij (z_i - mu_j),  dL/dmu_j = -s (alpha+1)/alpha sum_i c_ij
//   (z_i - mu_j), s = weight / norm_rows (alpha = 1 gives the DEC paper's factor 2).
// Each tile keeps its own dmu partial; partials are summed in tile order, so the result does not
// depend on the thread count.
double kl_target_loss_grad(const float* z, size_t rows, int dims, const float* mu, int clusters,
                           float alpha, const double* frequency, float weight, size_t norm_rows,
                           float* dz, float* dmu) {
  if (rows == 0) return 0.0;
  const size_t centroid_values = size_t(clusters) * dims;
  const size_t tiles = (rows + kTileRows - 1) / kTileRows;
  const std::vector<double> mu64 = to_double(mu, centroid_values);
  std::vector<double> inverse_frequency(clusters);
  for (int j = 0; j < clusters; ++j) inverse_frequency[j] = 1.0 / frequency[j];
  const double scale = double(weight) / double(norm_rows ? norm_rows : rows);
  const double a = alpha;
  const double factor = scale * (a + 1.0) / a;

  std::vector<double> tile_dmu(tiles * centroid_values, 0.0);
  std::vector<double> tile_loss(tiles, 0.0);
  const auto tile_count = static_cast<std::ptrdiff_t>(tiles);
#pragma omp parallel if (rows >= kParallelRows)
  {
    std::vector<double> u(clusters), t(clusters), p(clusters), dz_row(dims);
#pragma omp for schedule(static)
    for (std::ptrdiff_t tile = 0; tile < tile_count; ++tile) {
      const size_t first = size_t(tile) * kTileRows;
      const size_t last = std::min(rows, first + kTileRows);
      double* dmu_tile = tile_dmu.data() + size_t(tile) * centroid_values;
      double loss = 0;
      for (size_t i = first; i < last; ++i) {
        const float* zi = z + i * dims;
        const double t_total = student_t_row(zi, dims, mu64.data(), clusters, a, u.data(), t.data());
        // p_j is proportional to q_j^2 / f_j, and q_j to t_j: normalise t_j^2 / f_j directly.
        double p_total = 0;
        for (int j = 0; j < clusters; ++j) p_total += (p[j] = t[j] * t[j] * inverse_frequency[j]);
        std::fill(dz_row.begin(), dz_row.end(), 0.0);
        for (int j = 0; j < clusters; ++j) {
          const double qj = t[j] / t_total;
          const double pj = p[j] / p_total;
          if (pj > 0) loss += pj * std::log(pj / qj);
          const double c = factor * (pj - qj) / u[j];
          const double* mu_j = mu64.data() + size_t(j) * dims;
          double* dmu_j = dmu_tile + size_t(j) * dims;
          for (int k = 0; k < dims; ++k) {
            const double g = c * (double(zi[k]) - mu_j[k]);
            dz_row[k] += g;
            dmu_j[k] -= g;
          }
        }
        float* dz_i = dz + i * dims;
        for (int k = 0; k < dims; ++k) dz_i[k] += float(dz_row[k]);
      }
      tile_loss[tile] = loss;
    }
  }

  double loss = 0;
  std::vector<double> dmu_total(centroid_values, 0.0);
  for (size_t tile = 0; tile < tiles; ++tile) {
    loss += tile_loss[tile];
    const double* part = tile_dmu.data() + tile * centroid_values;
    for (size_t v = 0; v < centroid_values; ++v) dmu_total[v] += part[v];
  }
  for (size_t v = 0; v < centroid_values; ++v) dmu[v] += float(dmu_total[v]);
  return scale * loss;
}

}  // namespace resilinet::kernels::cpu
