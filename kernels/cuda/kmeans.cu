// The k-means assignment step on the GPU: nearest centroid per row (one thread per row), then
// per-chunk partial sums, counts and inertia (one block per 4096-row chunk, every sum over its rows
// in row order), then the chunks added in chunk order. It repeats kernels/cpu/kmeans.cpp operation
// for operation (float distances without fused multiply-adds, the same chunks and 64-row inertia
// blocks), so labels, counts, sums and inertia are the CPU's bytes. Not the k-means driver.
#include <string>

#include "kernels/cuda/device_mlp.cuh"

namespace resilinet::kernels::cuda {
namespace {

constexpr int kChunkRows = 4096;  // the CPU's kChunkRows: the unit of the fixed-order reduction
constexpr int kBlockRows = 64;    // the CPU's kBlockRows: inertia is summed per block of rows
constexpr int kAssignThreads = 128;
constexpr int kChunkThreads = 256;
constexpr int kFinishThreads = 128;

// |x - c|^2 in float, each operation rounded on its own as the CPU's (compiled without
// contraction) so that equal distances, and hence ties, are equal on both.
__device__ float squared_distance(const float* x, const float* c, int dims) {
  float d2 = 0.0f;
  for (int k = 0; k < dims; ++k) {
    const float diff = __fsub_rn(x[k], c[k]);
    d2 = __fadd_rn(d2, __fmul_rn(diff, diff));
  }
  return d2;
}

// Strict < keeps the lowest index on ties, as the CPU.
__global__ void nearest_centroid_kernel(const float* __restrict__ x, size_t rows, int dims,
                                        const float* __restrict__ centroids, int clusters,
                                        int32_t* __restrict__ labels, float* __restrict__ best) {
  const size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= rows) return;
  const float* xi = x + i * dims;
  float b = squared_distance(xi, centroids, dims);
  int32_t label = 0;
  for (int j = 1; j < clusters; ++j) {
    const float d2 = squared_distance(xi, centroids + size_t(j) * dims, dims);
    if (d2 < b) {
      b = d2;
      label = j;
    }
  }
  labels[i] = label;
  best[i] = b;
}

// One block per chunk; each thread owns some of the chunk's outputs: sum entries (cluster j,
// dimension k), count entries (cluster j), and the last one the chunk's inertia. Each output is a
// running sum over the chunk's rows in order, as the CPU's.
__global__ void chunk_partials_kernel(const float* __restrict__ x, size_t rows, int dims,
                                      int clusters, const int32_t* __restrict__ labels,
                                      const float* __restrict__ best, int sum_entries,
                                      int count_entries, double* __restrict__ chunk_sums,
                                      int64_t* __restrict__ chunk_counts,
                                      double* __restrict__ chunk_inertia) {
  __shared__ int32_t label_s[kChunkRows];
  const size_t first = size_t(blockIdx.x) * kChunkRows;
  const int n = int(rows - first < size_t(kChunkRows) ? rows - first : size_t(kChunkRows));
  for (int r = threadIdx.x; r < n; r += blockDim.x) label_s[r] = labels[first + r];
  __syncthreads();
  const int outputs = sum_entries + count_entries + 1;
  for (int e = threadIdx.x; e < outputs; e += blockDim.x) {
    if (e < sum_entries) {
      const int j = e / dims, k = e % dims;
      const float* column = x + first * dims + k;
      double s = 0.0;
      for (int r = 0; r < n; ++r)
        if (label_s[r] == j) s += double(column[size_t(r) * dims]);
      chunk_sums[size_t(blockIdx.x) * sum_entries + e] = s;
    } else if (e < sum_entries + count_entries) {
      const int j = e - sum_entries;
      int64_t count = 0;
      for (int r = 0; r < n; ++r) count += label_s[r] == j;
      chunk_counts[size_t(blockIdx.x) * count_entries + j] = count;
    } else {
      // The CPU's sum_in_double per 64-row block: four interleaved accumulators.
      const float* b = best + first;
      double inertia = 0.0;
      for (int b0 = 0; b0 < n; b0 += kBlockRows) {
        const int m = n - b0 < kBlockRows ? n - b0 : kBlockRows;
        double a[4] = {0.0, 0.0, 0.0, 0.0};
        int r = 0;
        for (; r + 4 <= m; r += 4)
          for (int lane = 0; lane < 4; ++lane) a[lane] += double(b[b0 + r + lane]);
        for (; r < m; ++r) a[0] += double(b[b0 + r]);
        inertia += (a[0] + a[1]) + (a[2] + a[3]);
      }
      chunk_inertia[blockIdx.x] = inertia;
    }
  }
}

// Adds the chunks' partials in chunk order: one thread per sum and count entry, one for the
// inertia.
__global__ void finish_kernel(const double* __restrict__ chunk_sums,
                              const int64_t* __restrict__ chunk_counts,
                              const double* __restrict__ chunk_inertia, size_t chunks,
                              int sum_entries, int count_entries, double* sums, int64_t* counts,
                              double* inertia_out) {
  const int e = blockIdx.x * blockDim.x + threadIdx.x;
  if (e < sum_entries) {
    double s = sums[e];
    for (size_t c = 0; c < chunks; ++c) s += chunk_sums[c * sum_entries + e];
    sums[e] = s;
  } else if (e < sum_entries + count_entries) {
    const int j = e - sum_entries;
    int64_t count = counts[j];
    for (size_t c = 0; c < chunks; ++c) count += chunk_counts[c * count_entries + j];
    counts[j] = count;
  } else if (e == sum_entries + count_entries && inertia_out) {
    double inertia = 0.0;
    for (size_t c = 0; c < chunks; ++c) inertia += chunk_inertia[c];
    *inertia_out = inertia;
  }
}

size_t aligned(size_t bytes) { return (bytes + 255) / 256 * 256; }

}  // namespace

// labels, sums, counts and inertia_out may each be nullptr, as on the CPU (labels then live in the
// workspace).
void kmeans_assign(const float* x, size_t rows, int dims, const float* centroids, int clusters,
                   int32_t* labels, double* sums, int64_t* counts, double* inertia_out,
                   Workspace& ws, cudaStream_t stream) {
  if (dims <= 0 || clusters <= 0)
    throw std::invalid_argument("kmeans_assign: expected dims > 0 and clusters > 0, found dims " +
                                std::to_string(dims) + ", clusters " + std::to_string(clusters));
  if (rows == 0) {
    if (inertia_out)
      check(cudaMemsetAsync(inertia_out, 0, sizeof(double), stream), "kmeans_assign: zero inertia");
    return;
  }
  const size_t chunks = (rows + kChunkRows - 1) / kChunkRows;
  const int sum_entries = sums ? clusters * dims : 0;
  const int count_entries = counts ? clusters : 0;
  // Workspace: [labels (when the caller has none)] [best distance per row] [chunk sums]
  // [chunk counts] [chunk inertia], each 256-byte aligned.
  const size_t label_bytes = labels ? 0 : aligned(rows * sizeof(int32_t));
  const size_t best_bytes = aligned(rows * sizeof(float));
  const size_t sum_bytes = aligned(chunks * sum_entries * sizeof(double));
  const size_t count_bytes = aligned(chunks * count_entries * sizeof(int64_t));
  const size_t inertia_bytes = aligned(chunks * sizeof(double));
  char* base = static_cast<char*>(
      ws.get(label_bytes + best_bytes + sum_bytes + count_bytes + inertia_bytes));
  int32_t* row_labels = labels ? labels : reinterpret_cast<int32_t*>(base);
  float* best = reinterpret_cast<float*>(base + label_bytes);
  double* chunk_sums = reinterpret_cast<double*>(base + label_bytes + best_bytes);
  int64_t* chunk_counts = reinterpret_cast<int64_t*>(base + label_bytes + best_bytes + sum_bytes);
  double* chunk_inertia =
      reinterpret_cast<double*>(base + label_bytes + best_bytes + sum_bytes + count_bytes);

  nearest_centroid_kernel<<<ceil_div(rows, kAssignThreads), kAssignThreads, 0, stream>>>(
      x, rows, dims, centroids, clusters, row_labels, best);
  check(cudaGetLastError(), "kmeans_assign launch");
  chunk_partials_kernel<<<unsigned(chunks), kChunkThreads, 0, stream>>>(
      x, rows, dims, clusters, row_labels, best, sum_entries, count_entries, chunk_sums,
      chunk_counts, chunk_inertia);
  check(cudaGetLastError(), "kmeans_assign chunk launch");
  const int outputs = sum_entries + count_entries + 1;
  finish_kernel<<<ceil_div(size_t(outputs), kFinishThreads), kFinishThreads, 0, stream>>>(
      chunk_sums, chunk_counts, chunk_inertia, chunks, sum_entries, count_entries, sums, counts,
      inertia_out);
  check(cudaGetLastError(), "kmeans_assign finish launch");
}

}  // namespace resilinet::kernels::cuda
