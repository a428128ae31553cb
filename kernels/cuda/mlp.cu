// Fused forward and backward of an MLP on a CUDA device: one thread block per tile of 32 rows runs
// every layer, the tile's activations in shared memory (unit-major, rows contiguous), weights
// staged through shared memory 4096 at a time, each thread computing up to 4 rows x 8 units. Weight
// gradients go to one slot per block and a second kernel sums the slots in block order: no atomics,
// the same bytes every run. CPU twin: cpu/mlp.cpp.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels/cuda/device_mlp.cuh"

namespace resilinet::kernels::cuda {
namespace {

// Threads of a block: inference runs two blocks of 8 warps per SM; a training block fills an SM's
// shared memory alone, and 16 warps hide more latency than 8.
constexpr int kForwardThreads = 256;
constexpr int kTrainThreads = 512;
constexpr int kTrainWarps = kTrainThreads / 32;
constexpr int kRows = 32;  // rows per tile
// Floats from one unit to the next in a tile buffer [units][kStride]: a multiple of 4, so that a
// thread reads 2 or 4 consecutive rows of a unit as one vector.
constexpr int kStride = kRows + 4;
// Products: a thread computes kTileRows rows (1, 2 or 4, chosen per layer) x kUnits units; a warp
// 32 rows x 8 kTileRows units, the block 8 kTileRows x its warps units. Weights are staged through
// shared memory 4096 at a time (those units x 4096 / units inputs), the next chunk loaded into
// registers while the current one is multiplied.
constexpr int kUnits = 8;
constexpr int kChunkFloats = 4096;
constexpr int kStageFloats = 64 * 68;  // at least the largest staged chunk with its pitch
constexpr int kGradUnits = 8;          // weight gradient: output units per warp per pass,
constexpr int kGradInputs = 4;         // and inputs per lane per pass
constexpr int kMaxBlocks = 256;        // training blocks, so at most this many gradient slots
constexpr size_t kSlotBytes = size_t(64) << 20;  // and slots of at most about this many bytes
constexpr int kMaxClusters = 64;  // latent loss: one double per cluster and row in shared memory

constexpr size_t round_up(size_t n, size_t multiple) {
  return (n + multiple - 1) / multiple * multiple;
}

struct Network {
  DeviceLayer layer[kMaxLayers];
  int layers = 0;
  const float* params = nullptr;
};

// ---- Tile building blocks (every thread of the block calls them) ----

// Rows [first, first + valid) of x [rows x inputs] into tile [inputs][kStride]; rows past valid
// are zero, so they stay finite and, with a zero loss gradient, add nothing.
template <int kThreads>
__device__ void load_tile(const float* x, int inputs, size_t first, int valid, float* tile) {
  for (int e = threadIdx.x; e < kRows * inputs; e += kThreads) {
    const int r = e / inputs, k = e - r * inputs;
    tile[k * kStride + r] = r < valid ? x[(first + r) * inputs + k] : 0.0f;
  }
}

// The weights of one staged chunk: W(n0 + nn, k0 + kk) for nn < kChunkUnits, kk < kChunkDepth,
// zero outside the matrix and where the mask cuts the connection. W [units][depth] row-major, or,
// transposed, W [depth][units] (the product with the output gradient). Consecutive threads read
// consecutive addresses of W. Held in registers from load() until store() puts them in the stage
// [kk][kPitch], so that the global reads of the next chunk overlap the products of this one.
template <bool kTransposed, int kTileRows, int kThreads>
struct WeightChunk {
  static constexpr int kChunkUnits = kThreads / 32 * kUnits * kTileRows;
  static constexpr int kChunkDepth = kChunkFloats / kChunkUnits;
  static constexpr int kPitch = kChunkUnits + 4;  // keeps float4 reads aligned
  static_assert(kChunkDepth * kPitch <= kStageFloats, "the stage holds one chunk");
  // Thread t takes element (t % kFast, t / kFast + kStep i) of the chunk, i < kStageLoads, the
  // fast index running along W's contiguous dimension: one base address and a stride.
  static constexpr int kFast = kTransposed ? kChunkUnits : kChunkDepth;
  static constexpr int kStep = kThreads / kFast;
  static constexpr int kStageLoads = kChunkFloats / kThreads;  // weights a thread stages
  static_assert(kThreads % kFast == 0 && kStep * kStageLoads * kFast == kChunkUnits * kChunkDepth,
                "the threads cover the chunk");
  float v[kStageLoads];

  __device__ __forceinline__ void load(const float* w, const uint8_t* mask, int units, int depth,
                                       int n0, int k0) {
    // W [slow][fast]: fast = inputs (k) of W [units][depth], or units (n) of its transpose.
    const int fast_limit = kTransposed ? units : depth, slow_limit = kTransposed ? depth : units;
    const int fast = (kTransposed ? n0 : k0) + int(threadIdx.x) % kFast;
    const int slow = (kTransposed ? k0 : n0) + int(threadIdx.x) / kFast;
    const size_t first = size_t(slow) * fast_limit + fast;
    const size_t stride = size_t(kStep) * fast_limit;
    const bool inside = fast < fast_limit;
#pragma unroll
    for (int i = 0; i < kStageLoads; ++i) {
      const size_t at = first + i * stride;
      v[i] = inside && slow + kStep * i < slow_limit && (!mask || mask[at]) ? __ldg(w + at) : 0.0f;
    }
  }
  // stage [kk][kPitch] = the chunk.
  __device__ __forceinline__ void store(float* stage) const {
    const int fast = int(threadIdx.x) % kFast, slow = int(threadIdx.x) / kFast;
    float* p = kTransposed ? stage + slow * kPitch + fast : stage + fast * kPitch + slow;
    constexpr int step = kTransposed ? kStep * kPitch : kStep;
#pragma unroll
    for (int i = 0; i < kStageLoads; ++i) p[i * step] = v[i];
  }
};

// kTileRows consecutive rows of one unit of a tile buffer.
template <int kTileRows>
struct RowVector {
  float v[kTileRows];
  __device__ __forceinline__ void load(const float* p) {
    if constexpr (kTileRows == 4) {
      const float4 t = *reinterpret_cast<const float4*>(p);
      v[0] = t.x, v[1] = t.y, v[2] = t.z, v[3] = t.w;
    } else if constexpr (kTileRows == 2) {
      const float2 t = *reinterpret_cast<const float2*>(p);
      v[0] = t.x, v[1] = t.y;
    } else {
      v[0] = *p;
    }
  }
};

// For every unit n < units and row r of the tile: epilogue(n, r, sum_k W(n, k) in[k][r]), k in
// [0, depth), summed in k order. A thread owns kTileRows rows and kUnits units of each chunk of
// units: lane = row group + (32 / kTileRows) x unit group. Starts and ends with __syncthreads: in
// may be written just before, the epilogue's output is read just after.
template <bool kTransposed, int kTileRows, int kThreads, class Epilogue>
__device__ __forceinline__ void tile_product_rows(const float* w, const uint8_t* mask, int units,
                                                  int depth, const float* in, float* stage,
                                                  Epilogue epilogue) {
  using Chunk = WeightChunk<kTransposed, kTileRows, kThreads>;
  constexpr int kGroups = 32 / kTileRows;  // row groups in a warp
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int row0 = (lane % kGroups) * kTileRows;
  const int unit0 = warp * kUnits * kTileRows + (lane / kGroups) * kUnits;  // within the chunk
  Chunk chunk;
  chunk.load(w, mask, units, depth, 0, 0);
  for (int n0 = 0; n0 < units; n0 += Chunk::kChunkUnits) {
    float acc[kTileRows][kUnits] = {};
    const bool busy = n0 + warp * kUnits * kTileRows < units;  // warp-uniform
    for (int k0 = 0; k0 < depth; k0 += Chunk::kChunkDepth) {
      __syncthreads();  // every reader of the previous chunk is done
      chunk.store(stage);
      __syncthreads();
      // The next chunk: the following inputs, or the first inputs of the following units.
      const int next_k = k0 + Chunk::kChunkDepth < depth ? k0 + Chunk::kChunkDepth : 0;
      const int next_n = next_k ? n0 : n0 + Chunk::kChunkUnits;
      if (next_n < units) chunk.load(w, mask, units, depth, next_n, next_k);
      if (!busy) continue;
      const int kc = min(Chunk::kChunkDepth, depth - k0);
      const float* x = in + k0 * kStride + row0;
      const float* s = stage + unit0;
#pragma unroll 4
      for (int kk = 0; kk < kc; ++kk) {
        RowVector<kTileRows> xv;
        xv.load(x + kk * kStride);
        const float4 lo = *reinterpret_cast<const float4*>(s + kk * Chunk::kPitch);
        const float4 hi = *reinterpret_cast<const float4*>(s + kk * Chunk::kPitch + 4);
        const float wv[kUnits] = {lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w};
#pragma unroll
        for (int i = 0; i < kTileRows; ++i)
#pragma unroll
          for (int j = 0; j < kUnits; ++j) acc[i][j] = fmaf(wv[j], xv.v[i], acc[i][j]);
      }
    }
    if (busy)
#pragma unroll
      for (int j = 0; j < kUnits; ++j) {
        const int n = n0 + unit0 + j;
        if (n < units)
#pragma unroll
          for (int i = 0; i < kTileRows; ++i) epilogue(n, row0 + i, acc[i][j]);
      }
  }
  __syncthreads();
}

// tile_product_rows with the rows per thread that keeps every warp busy on `units` outputs.
template <bool kTransposed, int kThreads, class Epilogue>
__device__ __forceinline__ void tile_product(const float* w, const uint8_t* mask, int units,
                                             int depth, const float* in, float* stage,
                                             Epilogue epilogue) {
  constexpr int kBlockUnits = kThreads / 32 * kUnits;  // units of a chunk at one row per thread
  if (units > 2 * kBlockUnits)
    tile_product_rows<kTransposed, 4, kThreads>(w, mask, units, depth, in, stage, epilogue);
  else if (units > kBlockUnits)
    tile_product_rows<kTransposed, 2, kThreads>(w, mask, units, depth, in, stage, epilogue);
  else
    tile_product_rows<kTransposed, 1, kThreads>(w, mask, units, depth, in, stage, epilogue);
}

// out [units][kStride] = activation(b + W in) of one layer.
template <int kThreads>
__device__ __forceinline__ void forward_layer(const Network& net, int l, const float* in,
                                              float* out, float* stage) {
  const DeviceLayer& layer = net.layer[l];
  const float* bias = net.params + layer.bias_offset;
  const bool relu = layer.relu;
  tile_product<false, kThreads>(net.params + layer.weight_offset, layer.mask, layer.out, layer.in,
                                in, stage, [&](int n, int r, float acc) {
                                  const float v = bias[n] + acc;
                                  out[n * kStride + r] = relu ? (v > 0.0f ? v : 0.0f) : v;
                                });
}

// Sum over the 32 lanes, in a fixed tree; lane 0 holds it.
__device__ __forceinline__ double warp_sum(double v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
  return v;
}

// ---- Inference ----

struct ForwardArgs {
  Network net;
  int last = 0;  // the layer whose output is y
  const float* x = nullptr;
  size_t rows = 0;
  float* y = nullptr;
  int buffer_floats = 0;  // one activation buffer: widest unit count x kStride, float4-aligned
};

__global__ void __launch_bounds__(kForwardThreads)
    forward_kernel(const __grid_constant__ ForwardArgs a) {
  extern __shared__ float4 shared4[];
  float* stage = reinterpret_cast<float*>(shared4);
  float* cur = stage + kStageFloats;
  float* next = cur + a.buffer_floats;
  const size_t first = size_t(blockIdx.x) * kRows;
  const int valid = a.rows - first < size_t(kRows) ? int(a.rows - first) : kRows;
  load_tile<kForwardThreads>(a.x, a.net.layer[0].in, first, valid, cur);
  // tile_product starts with __syncthreads, so the loaded tile is visible to its readers.
  for (int l = 0; l <= a.last; ++l) {
    forward_layer<kForwardThreads>(a.net, l, cur, next, stage);
    float* t = cur;
    cur = next;
    next = t;
  }
  const int outputs = a.net.layer[a.last].out;
  for (int e = threadIdx.x; e < valid * outputs; e += kForwardThreads) {
    const int r = e / outputs, o = e - r * outputs;
    a.y[(first + r) * outputs + o] = cur[o * kStride + r];
  }
}

// ---- Training ----

struct TrainArgs {
  Network net;
  const float* x = nullptr;
  size_t rows = 0, tiles = 0;
  // Output loss.
  int loss_kind = 0;
  const float* target = nullptr;
  const int32_t* labels = nullptr;
  const uint8_t* observed = nullptr;
  float mse_grad_scale = 0;  // 2 * weight / (norm_rows * outputs), as cpu/mlp.cpp rounds it
  double loss_scale = 0;     // the output loss is loss_scale * (sum of squares, or of -log p)
  // Latent loss (latent_layer < 0: none).
  int latent_layer = -1;
  const float* centroids = nullptr;
  const double* frequency = nullptr;
  int clusters = 0;
  double alpha = 1, exponent = -1;  // exponent = -(alpha + 1) / 2
  double latent_factor = 0;         // scale * (alpha + 1) / alpha
  double latent_scale = 0;          // weight / norm_rows
  // Shared memory: byte offsets of the scratch arrays; activation a (0 = input, l + 1 = output of
  // layer l) at act_offset[a] floats from the start of shared memory when bit a of act_shared is
  // set, else from the start of the block's spill region (too large to keep on chip).
  int offset_c = 0, offset_inv_freq = 0, offset_red = 0, offset_mu = 0, offset_dz = 0;
  int offset_grad0 = 0, offset_grad1 = 0;
  int act_offset[kMaxLayers + 1] = {};
  unsigned act_shared = 0;
  // Workspace.
  float* slots = nullptr;  // [gridDim.x][param_count]
  size_t param_count = 0;
  double* loss_part = nullptr;  // [gridDim.x]
  double* dmu_part = nullptr;   // [gridDim.x][clusters x latent width]
  float* spill = nullptr;       // [gridDim.x][spill_floats]
  size_t spill_floats = 0;
};

// The IDEC loss of the tile at z [dims][kStride], as kl_target_loss_grad of cpu/dec.cpp: writes
// dL/dz into dz [dims][kStride] (zero in rows past valid), adds dL/dmu of the tile to the block's
// dmu slot and returns this thread's share of sum_ij p log(p/q), unscaled. Warp 0 computes the
// coefficients c_j = factor (p_j - q_j) / u_j, one row per lane; every warp then shares the sums.
__device__ double latent_tile(const TrainArgs& a, int valid, bool first_tile, const float* z,
                              const float* mu, const double* inv_freq, double* c, float* dz) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int dims = a.net.layer[a.latent_layer].out, clusters = a.clusters;
  // u_j = 1 + |z - mu_j|^2 / alpha of this lane's row.
  auto student_u = [&](int j) {
    const float* mu_j = mu + j * dims;
    double d2 = 0;
    for (int k = 0; k < dims; ++k) {
      const double diff = double(z[k * kStride + lane]) - double(mu_j[k]);
      d2 += diff * diff;
    }
    return 1.0 + d2 / a.alpha;
  };
  // Student-t weight relative to the nearest centroid, as cpu/dec.cpp (no underflow).
  auto student_t = [&](double u, double u_min) {
    return a.alpha == 1.0 ? u_min / u : pow(u / u_min, a.exponent);
  };
  double loss = 0;
  if (warp == 0) {
    if (lane < valid) {
      double u_min = INFINITY;
      for (int j = 0; j < clusters; ++j) u_min = fmin(u_min, student_u(j));
      double t_total = 0, p_total = 0;
      for (int j = 0; j < clusters; ++j) {
        const double t = student_t(student_u(j), u_min);
        t_total += t;
        p_total += t * t * inv_freq[j];
      }
      for (int j = 0; j < clusters; ++j) {
        const double u = student_u(j);
        const double t = student_t(u, u_min);
        const double q = t / t_total;
        const double p = t * t * inv_freq[j] / p_total;
        if (p > 0) loss += p * log(p / q);
        c[j * 32 + lane] = a.latent_factor * (p - q) / u;
      }
    } else {
      for (int j = 0; j < clusters; ++j) c[j * 32 + lane] = 0.0;
    }
  }
  __syncthreads();
  // dz_k = sum_j c_j (z_k - mu_jk) in double, summed in j order as cpu/dec.cpp.
  for (int k = warp; k < dims; k += kTrainWarps) {
    const double zk = z[k * kStride + lane];
    double acc = 0;
    for (int j = 0; j < clusters; ++j) acc += c[j * 32 + lane] * (zk - double(mu[j * dims + k]));
    dz[k * kStride + lane] = float(acc);
  }
  // dmu_jk -= sum over the tile's rows of c_j (z_k - mu_jk); rows past valid have c = 0.
  double* dmu = a.dmu_part + size_t(blockIdx.x) * size_t(clusters) * dims;
  for (int v = warp; v < clusters * dims; v += kTrainWarps) {
    const int j = v / dims, k = v - j * dims;
    const double g = warp_sum(c[j * 32 + lane] * (double(z[k * kStride + lane]) - double(mu[v])));
    if (lane == 0) dmu[v] = first_tile ? -g : dmu[v] - g;
  }
  __syncthreads();
  return loss;
}

// grad [outputs][kStride] = dLoss/d(pre-activation) of the top layer for the tile (zero in rows
// past valid), as output_loss_grad and the hook of cpu/mlp.cpp; returns this thread's share of the
// unscaled loss sum. An out-of-range label makes the loss NaN (checking it on the host would need
// the labels copied back).
__device__ double output_loss_grad(const TrainArgs& a, size_t first, int valid, const float* y,
                                   const float* dz, float* grad) {
  const DeviceLayer& top = a.net.layer[a.net.layers - 1];
  const int outputs = top.out;
  double sum = 0;
  if (a.loss_kind == int(LossKind::softmax_cross_entropy)) {
    if (threadIdx.x < kRows) {  // one row per lane of warp 0
      const int r = threadIdx.x;
      const int label = r < valid ? a.labels[first + r] : -1;
      if (label >= 0 && label < outputs) {
        double peak = y[r];
        for (int o = 1; o < outputs; ++o) peak = fmax(peak, double(y[o * kStride + r]));
        double denom = 0;
        for (int o = 0; o < outputs; ++o) denom += exp(double(y[o * kStride + r]) - peak);
        const double log_denom = log(denom);
        sum += peak + log_denom - y[label * kStride + r];
        for (int o = 0; o < outputs; ++o) {
          const double p = exp(double(y[o * kStride + r]) - peak - log_denom);
          grad[o * kStride + r] = float(a.loss_scale * (p - (o == label ? 1.0 : 0.0)));
        }
      } else {
        if (r < valid) sum = NAN;
        for (int o = 0; o < outputs; ++o) grad[o * kStride + r] = 0.0f;
      }
    }
  } else {
    // Consecutive threads read consecutive target values.
    const bool mse = a.loss_kind == int(LossKind::mse);
    for (int e = threadIdx.x; e < kRows * outputs; e += kTrainThreads) {
      const int r = e / outputs, o = e - r * outputs;
      float g = 0.0f;
      if (mse && r < valid) {
        const size_t at = (first + r) * outputs + o;
        if (!a.observed || a.observed[at]) {
          const float d = y[o * kStride + r] - a.target[at];
          sum += double(d) * d;
          g = a.mse_grad_scale * d;
        }
      }
      grad[o * kStride + r] = g;
    }
  }
  __syncthreads();
  // The latent loss's gradient when z is the output, then the ReLU derivative (0 at 0).
  const bool latent_here = a.latent_layer == a.net.layers - 1;
  if (latent_here || top.relu) {
    for (int e = threadIdx.x; e < outputs * kRows; e += kTrainThreads) {
      const int o = e / kRows, r = e - o * kRows;
      const int at = o * kStride + r;
      float g = grad[at];
      if (latent_here) g += dz[at];
      if (top.relu && !(y[at] > 0.0f)) g = 0.0f;
      grad[at] = g;
    }
    __syncthreads();
  }
  return sum;
}

// dW = grad^T in and db = column sums of grad for layer l over the tile's rows (row order), into
// the block's slot: written on its first tile, added to after. Masked weights stay zero. Lane i
// owns inputs i, i + 32, ...; each warp 8 units per pass. Touches no shared memory it writes.
__device__ void weight_gradient(const TrainArgs& a, int l, const float* grad, const float* in,
                                bool first_tile) {
  const DeviceLayer& layer = a.net.layer[l];
  const int units = layer.out, inputs = layer.in;
  float* slot = a.slots + size_t(blockIdx.x) * a.param_count;
  float* dw = slot + layer.weight_offset;
  float* db = slot + layer.bias_offset;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  for (int o0 = warp * kGradUnits; o0 < units; o0 += kTrainWarps * kGradUnits)
    for (int i0 = lane; i0 < inputs; i0 += 32 * kGradInputs) {
      float acc[kGradUnits][kGradInputs] = {};
      // Four rows at a time, as float4 (rows are contiguous in a tile buffer), in row order.
      for (int r = 0; r < kRows; r += 4) {
        float4 g[kGradUnits], x[kGradInputs];
#pragma unroll
        for (int u = 0; u < kGradUnits; ++u)
          g[u] = o0 + u < units ? *reinterpret_cast<const float4*>(grad + (o0 + u) * kStride + r)
                                : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
#pragma unroll
        for (int q = 0; q < kGradInputs; ++q) {
          const int i = i0 + 32 * q;
          x[q] = i < inputs ? *reinterpret_cast<const float4*>(in + i * kStride + r)
                            : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        }
#pragma unroll
        for (int u = 0; u < kGradUnits; ++u)
#pragma unroll
          for (int q = 0; q < kGradInputs; ++q) {
            float t = acc[u][q];
            t = fmaf(g[u].x, x[q].x, t);
            t = fmaf(g[u].y, x[q].y, t);
            t = fmaf(g[u].z, x[q].z, t);
            acc[u][q] = fmaf(g[u].w, x[q].w, t);
          }
      }
#pragma unroll
      for (int u = 0; u < kGradUnits; ++u)
#pragma unroll
        for (int q = 0; q < kGradInputs; ++q) {
          const int o = o0 + u, i = i0 + 32 * q;
          if (o >= units || i >= inputs) continue;
          const size_t at = size_t(o) * inputs + i;
          const float v = (layer.mask && !layer.mask[at]) ? 0.0f : acc[u][q];
          dw[at] = first_tile ? v : dw[at] + v;
        }
    }
  for (int o = threadIdx.x; o < units; o += kTrainThreads) {
    float s = 0.0f;
    for (int r = 0; r < kRows; r += 4) {
      const float4 g = *reinterpret_cast<const float4*>(grad + o * kStride + r);
      s += g.x;
      s += g.y;
      s += g.z;
      s += g.w;
    }
    db[o] = first_tile ? s : db[o] + s;
  }
}

// Block b runs tiles b, b + gridDim.x, ...: forward, latent loss, output loss, backward; its
// gradient sums go to slot b, its loss to loss_part[b].
__global__ void __launch_bounds__(kTrainThreads) train_kernel(const __grid_constant__ TrainArgs a) {
  extern __shared__ float4 shared4[];
  char* base = reinterpret_cast<char*>(shared4);
  float* stage = reinterpret_cast<float*>(base);
  double* c = reinterpret_cast<double*>(base + a.offset_c);
  double* inv_freq = reinterpret_cast<double*>(base + a.offset_inv_freq);
  double* red = reinterpret_cast<double*>(base + a.offset_red);
  float* mu = reinterpret_cast<float*>(base + a.offset_mu);
  float* dz = reinterpret_cast<float*>(base + a.offset_dz);
  float* grad_a = reinterpret_cast<float*>(base + a.offset_grad0);
  float* grad_b = reinterpret_cast<float*>(base + a.offset_grad1);
  float* spill = a.spill + size_t(blockIdx.x) * a.spill_floats;
  auto act = [&](int i) -> float* {
    return ((a.act_shared >> i) & 1u) ? reinterpret_cast<float*>(base) + a.act_offset[i]
                                      : spill + a.act_offset[i];
  };
  const int layers = a.net.layers;
  const int inputs = a.net.layer[0].in;

  if (a.latent_layer >= 0) {
    const int values = a.clusters * a.net.layer[a.latent_layer].out;
    for (int v = threadIdx.x; v < values; v += kTrainThreads) mu[v] = a.centroids[v];
    for (int j = threadIdx.x; j < a.clusters; j += kTrainThreads)
      inv_freq[j] = 1.0 / a.frequency[j];
  }

  double output_sum = 0, latent_sum = 0;
  for (size_t t = blockIdx.x; t < a.tiles; t += gridDim.x) {
    const bool first_tile = t == blockIdx.x;
    const size_t first = t * kRows;
    const int valid = a.rows - first < size_t(kRows) ? int(a.rows - first) : kRows;
    __syncthreads();  // the previous tile's readers of the input tile are done
    load_tile<kTrainThreads>(a.x, inputs, first, valid, act(0));
    for (int l = 0; l < layers; ++l)
      forward_layer<kTrainThreads>(a.net, l, act(l), act(l + 1), stage);
    if (a.latent_layer >= 0)
      latent_sum += latent_tile(a, valid, first_tile, act(a.latent_layer + 1), mu, inv_freq, c, dz);
    float* grad = grad_a;
    float* grad_next = grad_b;
    output_sum += output_loss_grad(a, first, valid, act(layers), dz, grad);
    // grad holds dLoss/d(pre-activation) of layer l, zero in rows past valid.
    for (int l = layers - 1; l >= 0; --l) {
      weight_gradient(a, l, grad, act(l), first_tile);
      if (l == 0) break;
      const DeviceLayer& layer = a.net.layer[l];
      const float* below = act(l);
      const bool below_relu = a.net.layer[l - 1].relu;
      const bool latent_below = a.latent_layer == l - 1;
      tile_product<true, kTrainThreads>(a.net.params + layer.weight_offset, layer.mask, layer.in,
                                        layer.out, grad, stage, [&](int n, int r, float acc) {
                                          const int at = n * kStride + r;
                                          float v = acc;
                                          if (latent_below) v += dz[at];
                                          if (below_relu && !(below[at] > 0.0f)) v = 0.0f;
                                          grad_next[at] = v;
                                        });
      float* swap = grad;
      grad = grad_next;
      grad_next = swap;
    }
  }

  // The block's loss, summed in a fixed order.
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const double warp_output = warp_sum(output_sum), warp_latent = warp_sum(latent_sum);
  if (lane == 0) {
    red[warp] = warp_output;
    red[kTrainWarps + warp] = warp_latent;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    double o = 0, l = 0;
    for (int w = 0; w < kTrainWarps; ++w) o += red[w], l += red[kTrainWarps + w];
    a.loss_part[blockIdx.x] = a.loss_scale * o + a.latent_scale * l;
  }
}

// grads = sum of the blocks' slots, dmu = sum of their dmu partials, *loss = sum of their losses,
// each summed in block order.
__global__ void finish_kernel(const float* slots, size_t param_count, int blocks, float* grads,
                              const double* dmu_part, size_t dmu_values, float* dmu,
                              const double* loss_part, double* loss) {
  size_t total = param_count > dmu_values ? param_count : dmu_values;
  if (total == 0) total = 1;
  for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += size_t(gridDim.x) * blockDim.x) {
    if (i < param_count) {
      float s = 0.0f;
      for (int b = 0; b < blocks; ++b) s += slots[size_t(b) * param_count + i];
      grads[i] = s;
    }
    if (i < dmu_values) {
      double s = 0;
      for (int b = 0; b < blocks; ++b) s += dmu_part[size_t(b) * dmu_values + i];
      dmu[i] = float(s);
    }
    if (i == 0) {
      double s = 0;
      for (int b = 0; b < blocks; ++b) s += loss_part[b];
      *loss = s;
    }
  }
}

// ---- Host side ----

// Throws std::invalid_argument unless the fused kernels take the network.
void check_network(const DeviceMlp::Impl& d, const char* what) {
  const int layers = int(d.layers.size());
  if (layers == 0) throw std::invalid_argument(std::string(what) + ": the layout has no layers");
  if (layers > kMaxLayers)
    throw std::invalid_argument(std::string(what) + ": the network has " + std::to_string(layers) +
                                " layers; the CUDA kernels take at most " +
                                std::to_string(kMaxLayers));
  for (int l = 0; l < layers; ++l) {
    const DeviceLayer& layer = d.layers[l];
    if (layer.in < 1 || layer.out < 1 || layer.in > kMaxWidth || layer.out > kMaxWidth)
      throw std::invalid_argument(std::string(what) + ": layer " + std::to_string(l) + " is " +
                                  std::to_string(layer.in) + " -> " + std::to_string(layer.out) +
                                  " units; the CUDA kernels take widths 1 to " +
                                  std::to_string(kMaxWidth));
  }
}

Network network_args(const DeviceMlp::Impl& d, const float* params, int layers) {
  Network net;
  for (int l = 0; l < layers; ++l) net.layer[l] = d.layers[l];
  net.layers = layers;
  net.params = params;
  return net;
}

// Shared memory one block may use on the current device (the opt-in maximum).
size_t shared_memory_limit() {
  int device = 0, bytes = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  check(cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, device),
        "cudaDeviceGetAttribute(max shared memory per block)");
  return size_t(bytes);
}

constexpr size_t kStageBytes = size_t(kStageFloats) * sizeof(float);
size_t tile_bytes(int units) { return round_up(size_t(units) * kStride * sizeof(float), 16); }

// Where everything of the training kernel lives: the scratch arrays in shared memory, then the
// activations, in layer order, as long as they fit; the rest in a per-block spill region of the
// workspace.
struct TrainPlan {
  size_t shared_bytes = 0;
  size_t spill_floats = 0;
};

TrainPlan plan_training(const DeviceMlp::Impl& d, int latent_width, int clusters, TrainArgs& a) {
  const size_t limit = shared_memory_limit();
  const int layers = int(d.layers.size());
  int grad_width = 0;
  for (const DeviceLayer& layer : d.layers) grad_width = std::max(grad_width, layer.out);
  size_t bytes = kStageBytes;
  auto take = [&](size_t n) {
    const size_t at = bytes;
    bytes += round_up(n, 16);
    return int(at);
  };
  a.offset_c = take(size_t(clusters) * kRows * sizeof(double));
  a.offset_inv_freq = take(size_t(clusters) * sizeof(double));
  a.offset_red = take(2 * kTrainWarps * sizeof(double));
  a.offset_mu = take(size_t(clusters) * latent_width * sizeof(float));
  a.offset_dz = take(latent_width ? tile_bytes(latent_width) : 0);
  a.offset_grad0 = take(tile_bytes(grad_width));
  a.offset_grad1 = take(tile_bytes(grad_width));
  if (bytes > limit)
    throw std::invalid_argument(
        "mlp_forward_backward: the fused kernel's scratch needs " + std::to_string(bytes) +
        " bytes of shared memory and this device has " + std::to_string(limit) +
        " per block; use narrower layers or fewer clusters");
  TrainPlan plan;
  a.act_shared = 0;
  for (int i = 0; i <= layers; ++i) {
    const int width = i == 0 ? d.layers[0].in : d.layers[i - 1].out;
    const size_t n = tile_bytes(width);
    if (bytes + n <= limit) {
      a.act_offset[i] = int(bytes / sizeof(float));
      a.act_shared |= 1u << i;
      bytes += n;
    } else {
      a.act_offset[i] = int(plan.spill_floats);
      plan.spill_floats += n / sizeof(float);
    }
  }
  plan.shared_bytes = bytes;
  return plan;
}

// True when the layers' weights and biases cover [0, param_count) (the slots then need no zeroing).
bool layers_cover_params(const DeviceMlp::Impl& d) {
  size_t covered = 0;
  for (const DeviceLayer& layer : d.layers)
    covered += size_t(layer.out) * layer.in + size_t(layer.out);
  return covered == d.layout.param_count;
}

}  // namespace

void mlp_forward(const DeviceMlp& net, const float* params, const float* x, size_t rows, float* y,
                 cudaStream_t stream, int stop_layer) {
  const DeviceMlp::Impl& d = net.impl();
  check_network(d, "mlp_forward");
  const int layers = int(d.layers.size());
  if (stop_layer < -1 || stop_layer >= layers)
    throw std::invalid_argument("mlp_forward: stop_layer " + std::to_string(stop_layer) +
                                " is outside [-1, " + std::to_string(layers) + ")");
  if (rows == 0) return;
  const size_t tiles = (rows + kRows - 1) / kRows;
  if (tiles > size_t(0x7fffffff))
    throw std::invalid_argument("mlp_forward: " + std::to_string(rows) +
                                " rows are too many for one call");
  ForwardArgs a;
  a.last = stop_layer < 0 ? layers - 1 : stop_layer;
  a.net = network_args(d, params, a.last + 1);
  a.x = x;
  a.rows = rows;
  a.y = y;
  int width = d.layers[0].in;
  for (int l = 0; l <= a.last; ++l) width = std::max(width, d.layers[l].out);
  a.buffer_floats = int(tile_bytes(width) / sizeof(float));
  const size_t bytes = kStageBytes + 2 * tile_bytes(width);
  const size_t limit = shared_memory_limit();
  if (bytes > limit)
    throw std::invalid_argument("mlp_forward: the fused kernel needs " + std::to_string(bytes) +
                                " bytes of shared memory and this device has " +
                                std::to_string(limit) + " per block");
  check(
      cudaFuncSetAttribute(forward_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)),
      "mlp_forward: cudaFuncSetAttribute");
  forward_kernel<<<unsigned(tiles), kForwardThreads, bytes, stream>>>(a);
  check(cudaGetLastError(), "mlp_forward: launch");
}

void mlp_forward_backward(const DeviceMlp& net, const float* params, const float* x, size_t rows,
                          const LossSpec& loss, const LatentLoss* latent, float* grads,
                          double* loss_out, Workspace& ws, cudaStream_t stream) {
  const DeviceMlp::Impl& d = net.impl();
  check_network(d, "mlp_forward_backward");
  const int layers = int(d.layers.size());
  const int outputs = d.layers.back().out;
  // A rank's share of a small batch may have no rows: then there is nothing to read the loss from.
  if (rows > 0 && loss.kind == LossKind::mse && !loss.target)
    throw std::invalid_argument("mlp_forward_backward: mse loss needs a target");
  if (rows > 0 && loss.kind == LossKind::softmax_cross_entropy && !loss.labels)
    throw std::invalid_argument("mlp_forward_backward: cross entropy needs labels");
  if (latent) {
    if (latent->layer < 0 || latent->layer >= layers)
      throw std::invalid_argument("mlp_forward_backward: latent layer " +
                                  std::to_string(latent->layer) + " is outside [0, " +
                                  std::to_string(layers) + ")");
    if (latent->clusters < 1 || latent->clusters > kMaxClusters)
      throw std::invalid_argument("mlp_forward_backward: " + std::to_string(latent->clusters) +
                                  " clusters; the CUDA latent loss takes 1 to " +
                                  std::to_string(kMaxClusters));
    if (!latent->centroids || !latent->frequency || !latent->dmu)
      throw std::invalid_argument(
          "mlp_forward_backward: the latent loss needs centroids, frequency and dmu");
    if (!(latent->alpha > 0.0f))
      throw std::invalid_argument("mlp_forward_backward: latent alpha " +
                                  std::to_string(latent->alpha) + " is not positive");
  }
  const int latent_width = latent ? d.layers[latent->layer].out : 0;
  const int clusters = latent ? latent->clusters : 0;
  const size_t dmu_values = size_t(clusters) * latent_width;
  const size_t param_count = d.layout.param_count;

  TrainArgs a;
  a.net = network_args(d, params, layers);
  a.x = x;
  a.rows = rows;
  a.tiles = (rows + kRows - 1) / kRows;
  a.loss_kind = int(loss.kind);
  a.target = loss.target;
  a.labels = loss.labels;
  a.observed = loss.observed;
  const double norm_rows = double(loss.loss_rows ? loss.loss_rows : rows);
  if (loss.kind == LossKind::mse) {
    a.loss_scale = double(loss.weight) / (norm_rows * outputs);
    a.mse_grad_scale = float(2 * a.loss_scale);
  } else if (loss.kind == LossKind::softmax_cross_entropy) {
    a.loss_scale = double(loss.weight) / norm_rows;
  }
  if (latent) {
    a.latent_layer = latent->layer;
    a.centroids = latent->centroids;
    a.frequency = latent->frequency;
    a.clusters = clusters;
    a.alpha = latent->alpha;
    a.exponent = -(a.alpha + 1.0) / 2.0;
    a.latent_scale = double(latent->weight) / double(latent->norm_rows ? latent->norm_rows : rows);
    a.latent_factor = a.latent_scale * (a.alpha + 1.0) / a.alpha;
  }
  const TrainPlan plan = plan_training(d, latent_width, clusters, a);
  a.param_count = param_count;
  a.spill_floats = plan.spill_floats;

  // As many blocks as tiles, up to kMaxBlocks and the slot budget; each runs every blocks-th tile.
  const size_t block_bytes = param_count * sizeof(float) + plan.spill_floats * sizeof(float) +
                             dmu_values * sizeof(double) + sizeof(double);
  const size_t budget_blocks = std::max<size_t>(1, kSlotBytes / block_bytes);
  const int blocks = int(std::min({a.tiles, size_t(kMaxBlocks), budget_blocks}));

  // Workspace: loss partials, dmu partials, gradient slots, spilled activations.
  const size_t loss_bytes = round_up(size_t(blocks) * sizeof(double), 256);
  const size_t dmu_bytes = round_up(size_t(blocks) * dmu_values * sizeof(double), 256);
  const size_t slot_bytes = round_up(size_t(blocks) * param_count * sizeof(float), 256);
  const size_t spill_bytes = round_up(size_t(blocks) * plan.spill_floats * sizeof(float), 256);
  char* w = static_cast<char*>(
      ws.get(std::max<size_t>(256, loss_bytes + dmu_bytes + slot_bytes + spill_bytes)));
  a.loss_part = reinterpret_cast<double*>(w);
  a.dmu_part = reinterpret_cast<double*>(w + loss_bytes);
  a.slots = reinterpret_cast<float*>(w + loss_bytes + dmu_bytes);
  a.spill = reinterpret_cast<float*>(w + loss_bytes + dmu_bytes + slot_bytes);

  if (blocks > 0) {
    // Parameters no layer owns (a layout cut from a larger one) get zero gradients.
    if (!layers_cover_params(d))
      check(cudaMemsetAsync(a.slots, 0, size_t(blocks) * param_count * sizeof(float), stream),
            "mlp_forward_backward: zero the gradient slots");
    check(cudaFuncSetAttribute(train_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               int(plan.shared_bytes)),
          "mlp_forward_backward: cudaFuncSetAttribute");
    train_kernel<<<blocks, kTrainThreads, plan.shared_bytes, stream>>>(a);
    check(cudaGetLastError(), "mlp_forward_backward: launch");
  }
  const size_t total = std::max<size_t>({param_count, dmu_values, 1});
  const unsigned finish_blocks = unsigned(std::min<size_t>((total + 255) / 256, 4096));
  finish_kernel<<<finish_blocks, 256, 0, stream>>>(a.slots, param_count, blocks, grads, a.dmu_part,
                                                   dmu_values, latent ? latent->dmu : nullptr,
                                                   a.loss_part, loss_out);
  check(cudaGetLastError(), "mlp_forward_backward: launch of the sum");
}

}  // namespace resilinet::kernels::cuda
