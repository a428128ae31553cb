// Deep-embedded-clustering ops on the GPU: Student-t soft assignment and the KL loss against the
// global-frequency target with its gradients, one thread per row, per-row math in double (float
// for the soft assignment with alpha = 1 and at most 64 clusters), as kernels/cpu/dec.cpp.
// dL/dmu and the loss are summed per 64-row tile, then over tiles in tile order by a second kernel:
// no atomics, the same bytes on every run. Not the frequency pass or the label bookkeeping.
#include <cmath>
#include <string>

#include "kernels/cuda/device_mlp.cuh"

namespace resilinet::kernels::cuda {
namespace {

constexpr int kRowThreads = 128;
constexpr int kTileRows = int(cpu::kTileRows);  // one block per tile; the CPU sums the same tiles
constexpr int kFinishThreads = 128;
constexpr int kMaxFastClusters = 64;  // as the CPU form: the float path only up to 64 clusters

// Squared distances use explicit fma so that every pass over a row's clusters (the kernels
// recompute them instead of keeping per-cluster arrays) gives the same bits.
__device__ float squared_distance_float(const float* z, const float* mu_j, int dims) {
  float d2 = 0.0f;
  for (int k = 0; k < dims; ++k) {
    const float diff = z[k] - mu_j[k];
    d2 = fmaf(diff, diff, d2);
  }
  return d2;
}

__device__ double squared_distance(const float* z, const float* mu_j, int dims) {
  double d2 = 0.0;
  for (int k = 0; k < dims; ++k) {
    const double diff = double(z[k]) - double(mu_j[k]);
    d2 = fma(diff, diff, d2);
  }
  return d2;
}

// u_j = 1 + |z - mu_j|^2 / alpha.
__device__ double student_u(const float* z, const float* mu, int j, int dims, double alpha) {
  return 1.0 + squared_distance(z, mu + size_t(j) * dims, dims) / alpha;
}

// t_j = (u_j / u_min)^(-(alpha+1)/2) in (0, 1]: relative to the nearest centroid, so that far
// rows and large alpha cannot underflow (cpu/dec.cpp's student_t_row).
__device__ double student_t(double u, double u_min, double alpha) {
  return alpha == 1.0 ? u_min / u : pow(u / u_min, -(alpha + 1.0) / 2.0);
}

__device__ double nearest_u(const float* z, const float* mu, int clusters, int dims, double alpha) {
  double u_min = INFINITY;
  for (int j = 0; j < clusters; ++j) {
    const double u = student_u(z, mu, j, dims, alpha);
    u_min = u < u_min ? u : u_min;
  }
  return u_min;
}

// alpha = 1 with few clusters: float, t_j = u_min / u_j (the CPU's soft_assign_alpha1).
__global__ void soft_assign_alpha1_kernel(const float* __restrict__ z, size_t rows, int dims,
                                          const float* __restrict__ mu, int clusters,
                                          float* __restrict__ q) {
  const size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= rows) return;
  const float* zi = z + i * dims;
  float u_min = INFINITY;
  for (int j = 0; j < clusters; ++j) {
    const float u = 1.0f + squared_distance_float(zi, mu + size_t(j) * dims, dims);
    u_min = u < u_min ? u : u_min;
  }
  float total = 0.0f;
  for (int j = 0; j < clusters; ++j)
    total += u_min / (1.0f + squared_distance_float(zi, mu + size_t(j) * dims, dims));
  const float inverse = 1.0f / total;
  float* qi = q + i * clusters;
  for (int j = 0; j < clusters; ++j)
    qi[j] = u_min / (1.0f + squared_distance_float(zi, mu + size_t(j) * dims, dims)) * inverse;
}

__global__ void soft_assign_kernel(const float* __restrict__ z, size_t rows, int dims,
                                   const float* __restrict__ mu, int clusters, double alpha,
                                   float* __restrict__ q) {
  const size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= rows) return;
  const float* zi = z + i * dims;
  const double u_min = nearest_u(zi, mu, clusters, dims, alpha);
  double total = 0.0;
  for (int j = 0; j < clusters; ++j)
    total += student_t(student_u(zi, mu, j, dims, alpha), u_min, alpha);
  float* qi = q + i * clusters;
  for (int j = 0; j < clusters; ++j)
    qi[j] = float(student_t(student_u(zi, mu, j, dims, alpha), u_min, alpha) / total);
}

// One block per tile of kTileRows rows. Thread r handles row r of the tile: its coefficients
// c_j = factor (p_j - q_j) / u_j go to shared memory, its loss to loss_s, and
// dz_i += sum_j c_j (z_i - mu_j). Then the block sums the tile's dL/dmu (one entry per thread,
// rows in order) and its loss into tile slots of the workspace.
__global__ void kl_tile_kernel(const float* __restrict__ z, size_t rows, int dims,
                               const float* __restrict__ mu, int clusters, double alpha,
                               const double* __restrict__ frequency, double factor,
                               float* __restrict__ dz, double* __restrict__ tile_dmu,
                               double* __restrict__ tile_loss) {
  extern __shared__ double shared[];
  double* c_s = shared;                                    // [kTileRows][clusters]
  double* loss_s = shared + size_t(kTileRows) * clusters;  // [kTileRows]
  const size_t first = size_t(blockIdx.x) * kTileRows;
  const int n = int(rows - first < size_t(kTileRows) ? rows - first : size_t(kTileRows));
  const int r = threadIdx.x;
  if (r < n) {
    const size_t i = first + r;
    const float* zi = z + i * dims;
    const double u_min = nearest_u(zi, mu, clusters, dims, alpha);
    // p_j is proportional to q_j^2 / f_j, and q_j to t_j: normalise t_j^2 / f_j directly.
    double t_total = 0.0, p_total = 0.0;
    for (int j = 0; j < clusters; ++j) {
      const double t = student_t(student_u(zi, mu, j, dims, alpha), u_min, alpha);
      t_total += t;
      p_total += t * t * (1.0 / frequency[j]);
    }
    double loss = 0.0;
    double* c = c_s + size_t(r) * clusters;
    for (int j = 0; j < clusters; ++j) {
      const double u = student_u(zi, mu, j, dims, alpha);
      const double t = student_t(u, u_min, alpha);
      const double qj = t / t_total;
      const double pj = t * t * (1.0 / frequency[j]) / p_total;
      if (pj > 0) loss += pj * log(pj / qj);
      c[j] = factor * (pj - qj) / u;
    }
    loss_s[r] = loss;
    float* dz_i = dz + i * dims;
    for (int k = 0; k < dims; ++k) {
      const double zk = zi[k];
      double g = 0.0;
      for (int j = 0; j < clusters; ++j) g += c[j] * (zk - double(mu[size_t(j) * dims + k]));
      dz_i[k] += float(g);
    }
  }
  __syncthreads();
  const int entries = clusters * dims;
  double* part = tile_dmu + size_t(blockIdx.x) * entries;
  for (int e = threadIdx.x; e < entries; e += blockDim.x) {
    const int j = e / dims, k = e % dims;
    const double mu_jk = mu[e];
    double acc = 0.0;
    for (int row = 0; row < n; ++row)
      acc -= c_s[size_t(row) * clusters + j] * (double(z[(first + row) * dims + k]) - mu_jk);
    part[e] = acc;
  }
  if (threadIdx.x == 0) {
    double loss = 0.0;
    for (int row = 0; row < n; ++row) loss += loss_s[row];
    tile_loss[blockIdx.x] = loss;
  }
}

// Thread e < entries: dmu[e] += the sum of the tiles' partials in tile order; thread `entries`:
// the loss.
__global__ void kl_finish_kernel(const double* __restrict__ tile_dmu,
                                 const double* __restrict__ tile_loss, size_t tiles, int entries,
                                 double scale, float* __restrict__ dmu, double* loss_out) {
  const int e = blockIdx.x * blockDim.x + threadIdx.x;
  if (e < entries) {
    double total = 0.0;
    for (size_t t = 0; t < tiles; ++t) total += tile_dmu[t * entries + e];
    dmu[e] += float(total);
  } else if (e == entries) {
    double loss = 0.0;
    for (size_t t = 0; t < tiles; ++t) loss += tile_loss[t];
    *loss_out = scale * loss;
  }
}

void check_shape(const char* op, int dims, int clusters) {
  if (dims <= 0 || clusters <= 0)
    throw std::invalid_argument(std::string(op) +
                                ": expected dims > 0 and clusters > 0, found dims " +
                                std::to_string(dims) + ", clusters " + std::to_string(clusters));
}

}  // namespace

void soft_assign(const float* z, size_t rows, int dims, const float* mu, int clusters, float alpha,
                 float* q, cudaStream_t stream) {
  check_shape("soft_assign", dims, clusters);
  if (rows == 0) return;
  const int blocks = ceil_div(rows, kRowThreads);
  if (alpha == 1.0f && clusters <= kMaxFastClusters)
    soft_assign_alpha1_kernel<<<blocks, kRowThreads, 0, stream>>>(z, rows, dims, mu, clusters, q);
  else
    soft_assign_kernel<<<blocks, kRowThreads, 0, stream>>>(z, rows, dims, mu, clusters,
                                                           double(alpha), q);
  check(cudaGetLastError(), "soft_assign launch");
}

void kl_target_loss_grad(const float* z, size_t rows, int dims, const float* mu, int clusters,
                         float alpha, const double* frequency, float weight, size_t norm_rows,
                         float* dz, float* dmu, double* loss_out, Workspace& ws,
                         cudaStream_t stream) {
  check_shape("kl_target_loss_grad", dims, clusters);
  if (rows == 0) {
    check(cudaMemsetAsync(loss_out, 0, sizeof(double), stream), "kl_target_loss_grad: zero loss");
    return;
  }
  const size_t tiles = (rows + kTileRows - 1) / kTileRows;
  const int entries = clusters * dims;
  const double scale = double(weight) / double(norm_rows ? norm_rows : rows);
  const double a = alpha;
  const double factor = scale * (a + 1.0) / a;
  // Each tile keeps its rows' c_ij in shared memory; past 48 KiB (about 95 clusters) the kernel
  // must opt in to more, up to what the device has.
  const size_t shared_bytes = (size_t(kTileRows) * clusters + kTileRows) * sizeof(double);
  if (shared_bytes > 48 * 1024) {
    int device = 0, limit = 0;
    check(cudaGetDevice(&device), "kl_target_loss_grad: cudaGetDevice");
    check(cudaDeviceGetAttribute(&limit, cudaDevAttrMaxSharedMemoryPerBlockOptin, device),
          "kl_target_loss_grad: shared memory limit");
    if (shared_bytes > size_t(limit))
      throw std::invalid_argument("kl_target_loss_grad: expected at most " +
                                  std::to_string(limit / (kTileRows * sizeof(double)) - 1) +
                                  " clusters on this device, found " + std::to_string(clusters));
    check(cudaFuncSetAttribute(kl_tile_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               int(shared_bytes)),
          "kl_target_loss_grad: shared memory opt-in");
  }
  double* tile_dmu = static_cast<double*>(ws.get((tiles * entries + tiles) * sizeof(double)));
  double* tile_loss = tile_dmu + tiles * entries;
  kl_tile_kernel<<<unsigned(tiles), kTileRows, shared_bytes, stream>>>(
      z, rows, dims, mu, clusters, a, frequency, factor, dz, tile_dmu, tile_loss);
  check(cudaGetLastError(), "kl_target_loss_grad launch");
  kl_finish_kernel<<<ceil_div(size_t(entries) + 1, kFinishThreads), kFinishThreads, 0, stream>>>(
      tile_dmu, tile_loss, tiles, entries, scale, dmu, loss_out);
  check(cudaGetLastError(), "kl_target_loss_grad finish launch");
}

}  // namespace resilinet::kernels::cuda
