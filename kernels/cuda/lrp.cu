// LRP and gradient x input on the GPU: one thread block per tile of rows runs the forward pass
// (every layer's pre-activation kept in shared memory), seeds the explained output, then the
// modified backward passes layer by layer. It knows rules only through their hooks
// (lrp_rule_terms), packed per call on the device as kernels/cpu/lrp.cpp packs them on the host.
// Rows are independent: nothing is reduced across blocks. The CPU twin is kernels/cpu/lrp.cpp.
#include <algorithm>
#include <string>
#include <vector>

#include "kernels/cuda/device_mlp.cuh"

namespace resilinet::kernels::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kMaxTerms = 4;  // the largest rules (alpha_beta, gamma) have four terms
constexpr int kMaxGroups = 2;
constexpr int kPackThreads = 256;
constexpr int kPackBlocks = 256;
// Tile rows are chosen per network so that the tile's shared memory stays within this (several
// blocks per SM); the smallest tile always fits for kMaxLayers layers of kMaxWidth.
constexpr size_t kSharedBudget = 64 * 1024;

// How a term's denominator contribution is formed (cpu/lrp.cpp's PackedTerm):
//   reuse_z:  o_t = z (identity input and parameters, bias kept, sign +1)
//   constant: o_t = sign (W_t x_const + b_t), one row for all (ones, low, high, or the zero
//             negative part of a ReLU output)
//   rows:     o_t = x_t W_t'^T + b_t' with the row's modified input x_t
enum TermKind : uint8_t { kReuseZ = 0, kConstant = 1, kRows = 2 };

// The main kernel's view of a term; offsets are in floats into the packed buffer.
struct TermPlan {
  uint8_t input;  // LrpInput, after the ReLU simplification (rows terms: identity/pos/neg)
  uint8_t group;
  uint8_t kind;         // TermKind
  uint8_t has_bias;     // rows terms: add the packed bias
  uint8_t zero_input;   // constant input of zeros: no backward product
  uint32_t forward_wt;  // rows: sign * W_t^T [in][out]
  uint32_t bias;        // rows with bias: sign * b_t [out]
  uint32_t backward_w;  // coefficient * sign * W_t [out][in], unless zero_input
  uint32_t x_const;     // constant: x [in]
  uint32_t o_const;     // constant: sign * (W_t x + b_t) [out]
};

struct LayerPlan {
  int in = 0, out = 0, relu = 0;
  int terms = 0, groups = 0;
  float stabilizer = 0.0f;
  size_t weight_offset = 0, bias_offset = 0;  // W [out][in] and b [out] in params
  uint32_t wt = 0;                            // the plain W^T [in][out] in the packed buffer
  int z_column = 0;  // start of this layer's z in the per-row layout of shared memory
  float group_coefficient[kMaxGroups] = {};
  uint8_t group_gate[kMaxGroups] = {};
  TermPlan term[kMaxTerms] = {};
};

// The whole network for one launch; a __grid_constant__ kernel parameter.
struct NetPlan {
  int layers = 0, inputs = 0, outputs = 0, width = 0;  // width: the widest layer
  int z_columns = 0;  // inputs + the sum of the layer widths: where the work buffers start
  LayerPlan layer[kMaxLayers];
};
static_assert(sizeof(NetPlan) <= 4000, "the plan must fit the classic 4 KiB parameter space");

// What the packing kernel needs of one layer's terms.
struct PackTerm {
  uint8_t input;  // LrpInput as the rule has it (constant values: ones, low, high)
  uint8_t param;  // LrpParam
  uint8_t kind;
  uint8_t has_bias;
  uint8_t zero_rows;  // negative part of a ReLU output: a constant input of zeros
  float sign, coefficient;
  uint32_t forward_wt, bias, backward_w, x_const, o_const;  // as TermPlan; ~0u: not packed
};

struct PackLayer {
  int in = 0, out = 0, terms = 0;
  float gamma = 0.0f;
  size_t weight_offset = 0, bias_offset = 0;
  const uint8_t* mask = nullptr;
  uint32_t wt = 0;
  PackTerm term[kMaxTerms] = {};
  float low[kMaxWidth] = {}, high[kMaxWidth] = {};  // zbox bounds, one per input
};
static_assert(sizeof(PackLayer) <= 4000, "the packing arguments must fit 4 KiB");

constexpr uint32_t kNone = ~0u;

// std::max(v, 0) and std::min(v, 0) as the CPU writes them (the same result for -0 and NaN).
__device__ __forceinline__ float positive_part(float v) { return v < 0.0f ? 0.0f : v; }
__device__ __forceinline__ float negative_part(float v) { return 0.0f < v ? 0.0f : v; }

__device__ __forceinline__ float modify_input(uint8_t input, float a) {
  if (input == uint8_t(LrpInput::positive)) return positive_part(a);
  if (input == uint8_t(LrpInput::negative)) return negative_part(a);
  return a;
}

// cpu/lrp.cpp's modify_param; the gamma forms are rounded as there (no fused multiply-add).
__device__ float modify_param(uint8_t p, float w, float gamma, bool connected) {
  switch (LrpParam(p)) {
    case LrpParam::identity:
      return w;
    case LrpParam::positive:
      return positive_part(w);
    case LrpParam::negative:
      return negative_part(w);
    case LrpParam::gamma_positive:
      return __fadd_rn(w, __fmul_rn(gamma, positive_part(w)));
    case LrpParam::gamma_negative:
      return __fadd_rn(w, __fmul_rn(gamma, negative_part(w)));
    case LrpParam::ones:
      return connected ? 1.0f : 0.0f;
    case LrpParam::square:
      return __fmul_rn(w, w);
  }
  return w;
}

__device__ float constant_input(const PackLayer& p, const PackTerm& t, int i) {
  if (t.zero_rows) return 0.0f;
  if (t.input == uint8_t(LrpInput::ones)) return 1.0f;
  return t.input == uint8_t(LrpInput::low) ? p.low[i] : p.high[i];
}

// Packs one layer: the plain W^T, and per term its forward weights and bias, backward weights,
// constant input and constant output (in double, as the CPU). Grid-stride over the weights.
__global__ void pack_layer_kernel(const __grid_constant__ PackLayer p,
                                  const float* __restrict__ params, float* __restrict__ packed) {
  const float* w = params + p.weight_offset;
  const float* b = params + p.bias_offset;
  const size_t stride = size_t(gridDim.x) * blockDim.x;
  const size_t start = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const size_t weights = size_t(p.in) * p.out;
  for (size_t idx = start; idx < weights; idx += stride) {
    const int j = int(idx / p.in), i = int(idx % p.in);
    const float wji = w[idx];
    const bool connected = !p.mask || p.mask[idx];
    packed[p.wt + size_t(i) * p.out + j] = wji;
    for (int t = 0; t < p.terms; ++t) {
      const PackTerm& q = p.term[t];
      const float wm = modify_param(q.param, wji, p.gamma, connected);
      if (q.forward_wt != kNone) packed[q.forward_wt + size_t(i) * p.out + j] = q.sign * wm;
      if (q.backward_w != kNone) packed[q.backward_w + idx] = q.coefficient * q.sign * wm;
    }
  }
  for (size_t j = start; j < size_t(p.out); j += stride) {
    for (int t = 0; t < p.terms; ++t) {
      const PackTerm& q = p.term[t];
      const float bm = q.has_bias ? modify_param(q.param, b[j], p.gamma, true) : 0.0f;
      if (q.bias != kNone) packed[q.bias + j] = q.sign * bm;
      if (q.o_const != kNone) {
        // Row-independent: once per call, in double.
        double o = bm;
        for (int i = 0; i < p.in; ++i) {
          const size_t k = j * p.in + i;
          const float wm = modify_param(q.param, w[k], p.gamma, !p.mask || p.mask[k]);
          o += double(wm) * double(constant_input(p, q, i));
        }
        packed[q.o_const + j] = float(double(q.sign) * o);
      }
    }
  }
  for (size_t i = start; i < size_t(p.in); i += stride)
    for (int t = 0; t < p.terms; ++t)
      if (p.term[t].x_const != kNone)
        packed[p.term[t].x_const + i] = constant_input(p, p.term[t], int(i));
}

// ---- The tile product: C[r][n] = epilogue(r, n, sum_k A(r, k) B[k][n]) for r < T, n < N ----
// Thread (g, n) with n = tid % lanes owns column n of rows g, g + G, ...: B (global, row-major
// [K][N], packed so that a warp reads consecutive columns) is loaded once per k for RPT rows, and
// A (shared memory) is the same address across the warp (a broadcast). No synchronisation inside.
template <int T, int RPT, class A, class Epilogue>
__device__ __forceinline__ void product_rows(int K, int N, const float* __restrict__ B, int lanes,
                                             A a, Epilogue epilogue) {
  constexpr int G = T / RPT;
  const int n = int(threadIdx.x) % lanes, g = int(threadIdx.x) / lanes;
  if (g >= G || n >= N) return;
  float acc[RPT];
#pragma unroll
  for (int q = 0; q < RPT; ++q) acc[q] = 0.0f;
  for (int k = 0; k < K; ++k) {
    const float bk = B[size_t(k) * N + n];
#pragma unroll
    for (int q = 0; q < RPT; ++q) acc[q] = fmaf(a(g + G * q, k), bk, acc[q]);
  }
#pragma unroll
  for (int q = 0; q < RPT; ++q) epilogue(g + G * q, n, acc[q]);
}

template <int T, class A, class Epilogue>
__device__ __forceinline__ void product(int K, int N, const float* __restrict__ B, A a,
                                        Epilogue epilogue) {
  const int lanes = N <= 32 ? 32 : N <= 64 ? 64 : N <= 128 ? 128 : 256;  // N <= kMaxWidth
  const int groups = min(kThreads / lanes, T);  // powers of two, so RPT = T / groups is exact
  switch (T / groups) {
    case 1:
      product_rows<T, 1>(K, N, B, lanes, a, epilogue);
      break;
    case 2:
      if constexpr (T >= 2) product_rows<T, 2>(K, N, B, lanes, a, epilogue);
      break;
    case 4:
      if constexpr (T >= 4) product_rows<T, 4>(K, N, B, lanes, a, epilogue);
      break;
    case 8:
      if constexpr (T >= 8) product_rows<T, 8>(K, N, B, lanes, a, epilogue);
      break;
    case 16:
      if constexpr (T >= 16) product_rows<T, 16>(K, N, B, lanes, a, epilogue);
      break;
    case 32:
      if constexpr (T >= 32) product_rows<T, 32>(K, N, B, lanes, a, epilogue);
      break;
  }
}

// Shared memory of a tile, per row: the input x [inputs], every layer's z [out_l], then three
// work buffers of `width` floats (relevance out, relevance in, denominators / s).
template <int T>
struct TileMemory {
  float* smem;
  const NetPlan& plan;
  __device__ float* x() const { return smem; }
  __device__ float* z(int l) const { return smem + T * plan.layer[l].z_column; }
  __device__ float* buffer(int b) const {
    return smem + size_t(T) * plan.z_columns + size_t(b) * T * plan.width;
  }
  // The layer's input a (x, or the previous layer's output) at row r, column i.
  __device__ float input(int l, int r, int i) const {
    if (l == 0) return smem[r * plan.inputs + i];
    const LayerPlan& prev = plan.layer[l - 1];
    const float v = z(l - 1)[r * prev.out + i];
    return prev.relu ? positive_part(v) : v;
  }
  __device__ float output(int r, int c) const { return input(plan.layers, r, c); }
};

// Forward pass of the tile: z_l = a_l W_l^T + b_l for every layer.
template <int T>
__device__ void forward_tile(const TileMemory<T>& m, const float* __restrict__ params,
                             const float* __restrict__ packed) {
  const NetPlan& plan = m.plan;
  for (int l = 0; l < plan.layers; ++l) {
    const LayerPlan& lp = plan.layer[l];
    float* z = m.z(l);
    const float* bias = params + lp.bias_offset;
    const int out = lp.out;
    product<T>(
        lp.in, out, packed + lp.wt, [&](int r, int k) { return m.input(l, r, k); },
        [&](int r, int n, float acc) { z[r * out + n] = acc + bias[n]; });
    __syncthreads();
  }
}

// One layer's rule on the tile: relevance at its output r_out -> r_in (row stride plan.width).
template <int T>
__device__ void propagate_layer(const TileMemory<T>& m, int l, const float* __restrict__ packed,
                                const float* r_out, float* r_in, float* d) {
  const LayerPlan& lp = m.plan.layer[l];
  const int in = lp.in, out = lp.out, ld = m.plan.width;
  const float* z = m.z(l);
  for (int idx = threadIdx.x; idx < T * in; idx += kThreads)
    r_in[(idx / in) * ld + idx % in] = 0.0f;
  for (int g = 0; g < lp.groups; ++g) {
    if (lp.group_coefficient[g] == 0.0f) continue;  // e.g. beta = 0
    // The group's denominator d = sum_t sign_t o_t (signs are folded into the packed terms).
    for (int idx = threadIdx.x; idx < T * out; idx += kThreads)
      d[(idx / out) * ld + idx % out] = 0.0f;
    __syncthreads();
    for (int t = 0; t < lp.terms; ++t) {
      const TermPlan& q = lp.term[t];
      if (q.group != g) continue;
      if (q.kind == kReuseZ) {
        for (int idx = threadIdx.x; idx < T * out; idx += kThreads)
          d[(idx / out) * ld + idx % out] += z[idx];
      } else if (q.kind == kConstant) {
        const float* o = packed + q.o_const;
        for (int idx = threadIdx.x; idx < T * out; idx += kThreads)
          d[(idx / out) * ld + idx % out] += o[idx % out];
      } else {
        const float* bias = q.has_bias ? packed + q.bias : nullptr;
        const uint8_t input = q.input;
        product<T>(
            in, out, packed + q.forward_wt,
            [&](int r, int k) { return modify_input(input, m.input(l, r, k)); },
            [&](int r, int n, float acc) {
              if (bias) acc += bias[n];
              d[r * ld + n] += acc;
            });
      }
      __syncthreads();
    }
    // s = gate(z) R / stab(d), stab(d) = d + eps sign(d), sign(0) = +1; zero stays zero.
    const uint8_t gate = lp.group_gate[g];
    const float eps = lp.stabilizer;
    for (int idx = threadIdx.x; idx < T * out; idx += kThreads) {
      const int r = idx / out, n = idx % out;
      const float zv = z[idx];
      const bool open = gate == uint8_t(LrpGate::all) ||
                        (gate == uint8_t(LrpGate::positive_z) && zv > 0.0f) ||
                        (gate == uint8_t(LrpGate::negative_z) && zv < 0.0f);
      const float s = open ? r_out[r * ld + n] : 0.0f;
      const float dv = d[r * ld + n];
      const float stabilized = dv + (dv >= 0.0f ? eps : -eps);
      d[r * ld + n] = s != 0.0f ? s / stabilized : s;
    }
    __syncthreads();
    // R_in += x_t * (s W_back_t) for every term of the group with a nonzero input.
    for (int t = 0; t < lp.terms; ++t) {
      const TermPlan& q = lp.term[t];
      if (q.group != g || q.zero_input) continue;
      const float* x_const = q.kind == kConstant ? packed + q.x_const : nullptr;
      const uint8_t input = q.input;
      product<T>(
          out, in, packed + q.backward_w, [&](int r, int k) { return d[r * ld + k]; },
          [&](int r, int n, float acc) {
            const float scale = x_const ? x_const[n] : modify_input(input, m.input(l, r, n));
            r_in[r * ld + n] += acc * scale;
          });
      __syncthreads();
    }
  }
  __syncthreads();  // r_in complete (also when every group was skipped)
}

// One launch: a tile of T rows per block. kLrp: relevance by the packed rules; else gradient x
// input (ReLU'(0) = 0). Classes outside [0, outputs) leave their row's seed zero: the caller
// checks them (the CPU form throws std::out_of_range; device data cannot be checked on the host).
template <int T, bool kLrp>
__global__ void __launch_bounds__(kThreads, 2)
    tile_kernel(const __grid_constant__ NetPlan plan, const float* __restrict__ params,
                const float* __restrict__ packed, const float* __restrict__ x, size_t rows,
                const int32_t* __restrict__ classes, float* __restrict__ out,
                float* __restrict__ logits) {
  extern __shared__ float smem[];
  const TileMemory<T> m{smem, plan};
  const size_t first = size_t(blockIdx.x) * T;
  const int n_rows = int(rows - first < size_t(T) ? rows - first : size_t(T));
  const int inputs = plan.inputs, outputs = plan.outputs, ld = plan.width;

  // The tile's rows of x; rows past the end are zero and get a zero seed.
  for (int idx = threadIdx.x; idx < T * inputs; idx += kThreads)
    m.x()[idx] = idx / inputs < n_rows ? x[first * inputs + idx] : 0.0f;
  __syncthreads();
  forward_tile<T>(m, params, packed);

  if (logits)
    for (int idx = threadIdx.x; idx < n_rows * outputs; idx += kThreads)
      logits[first * outputs + idx] = m.output(idx / outputs, idx % outputs);

  float* r_out = m.buffer(0);
  float* r_in = m.buffer(1);
  float* d = m.buffer(2);
  for (int idx = threadIdx.x; idx < T * ld; idx += kThreads) r_out[idx] = 0.0f;
  __syncthreads();
  // The seed: the output at the explained class (the given one, or the first arg max) for LRP,
  // 1 for the gradient.
  if (int(threadIdx.x) < n_rows) {
    const int r = threadIdx.x;
    int c = 0;
    if (classes) {
      c = classes[first + r];
    } else {
      for (int o = 1; o < outputs; ++o)
        if (m.output(r, c) < m.output(r, o)) c = o;
    }
    if (c >= 0 && c < outputs) r_out[r * ld + c] = kLrp ? m.output(r, c) : 1.0f;
  }
  __syncthreads();

  for (int l = plan.layers - 1; l >= 0; --l) {
    if constexpr (kLrp) {
      propagate_layer<T>(m, l, packed, r_out, r_in, d);
    } else {
      const LayerPlan& lp = plan.layer[l];
      const int lout = lp.out, lin = lp.in;
      if (lp.relu) {  // ReLU'(z) = [z > 0]
        const float* z = m.z(l);
        for (int idx = threadIdx.x; idx < T * lout; idx += kThreads) {
          const int r = idx / lout, n = idx % lout;
          if (!(z[idx] > 0.0f)) r_out[r * ld + n] = 0.0f;
        }
        __syncthreads();
      }
      // d/da = g W (W [out][in] as stored in params); at the input layer, times x.
      const float* xs = m.x();
      product<T>(
          lout, lin, params + lp.weight_offset, [&](int r, int k) { return r_out[r * ld + k]; },
          [&](int r, int n, float acc) {
            r_in[r * ld + n] = l == 0 ? acc * xs[r * inputs + n] : acc;
          });
      __syncthreads();
    }
    float* swap = r_out;
    r_out = r_in;
    r_in = swap;
  }

  for (int idx = threadIdx.x; idx < n_rows * inputs; idx += kThreads)
    out[first * inputs + idx] = r_out[(idx / inputs) * ld + idx % inputs];
}

bool is_constant(LrpInput in) {
  return in == LrpInput::ones || in == LrpInput::low || in == LrpInput::high;
}

// Host side of one call: the plan, the packing arguments and the packed buffer's size.
struct Packing {
  NetPlan plan;
  std::vector<PackLayer> layers;
  size_t floats = 0;  // packed buffer
};

uint32_t reserve(size_t& floats, size_t n) {
  const size_t at = floats;
  floats += (n + 63) / 64 * 64;  // 256-byte aligned sections
  return uint32_t(at);
}

// Checks the network against the kernel's limits and lays out its plan; with a composite, the
// rules' terms too (cpu/lrp.cpp's pack_rule decisions, made here once per call).
Packing plan_network(const DeviceMlp& net, const LrpComposite* composite, const char* op) {
  const MlpLayout& layout = net.layout();
  const auto& dev = net.impl().layers;
  if (layout.layers.empty()) throw std::invalid_argument(std::string(op) + ": empty network");
  if (layout.layers.size() > size_t(kMaxLayers))
    throw std::invalid_argument(std::string(op) + ": expected at most " +
                                std::to_string(kMaxLayers) + " layers, found " +
                                std::to_string(layout.layers.size()));
  if (layout.max_width() > kMaxWidth)
    throw std::invalid_argument(std::string(op) + ": expected layers at most " +
                                std::to_string(kMaxWidth) + " wide, found " +
                                std::to_string(layout.max_width()));
  Packing pk;
  NetPlan& plan = pk.plan;
  plan.layers = int(layout.layers.size());
  plan.inputs = layout.inputs();
  plan.outputs = layout.outputs();
  plan.width = layout.max_width();
  int column = plan.inputs;
  for (size_t l = 0; l < layout.layers.size(); ++l) {
    const LayerShape& s = layout.layers[l];
    LayerPlan& lp = plan.layer[l];
    lp.in = s.in;
    lp.out = s.out;
    lp.relu = s.act == Activation::relu;
    lp.weight_offset = s.weight_offset;
    lp.bias_offset = s.bias_offset;
    lp.z_column = column;
    column += s.out;
    PackLayer p;
    p.in = s.in;
    p.out = s.out;
    p.weight_offset = s.weight_offset;
    p.bias_offset = s.bias_offset;
    p.mask = dev[l].mask;
    p.wt = lp.wt = reserve(pk.floats, size_t(s.in) * s.out);
    if (composite) {
      const LrpRule& rule = (*composite)[l];
      const LrpRuleTerms hooks = lrp_rule_terms(rule);
      if (hooks.terms.size() > size_t(kMaxTerms) || hooks.groups.size() > size_t(kMaxGroups))
        throw std::invalid_argument(std::string(op) + ": layer " + std::to_string(l) +
                                    ": a rule of more than " + std::to_string(kMaxTerms) +
                                    " terms");
      // Above a ReLU the input is >= 0: a+ = a, and a- = 0 brings only its bias.
      const bool input_nonnegative = l > 0 && layout.layers[l - 1].act == Activation::relu;
      lp.stabilizer = hooks.stabilizer;
      p.gamma = hooks.gamma;
      lp.groups = int(hooks.groups.size());
      for (size_t g = 0; g < hooks.groups.size(); ++g) {
        lp.group_coefficient[g] = hooks.groups[g].coefficient;
        lp.group_gate[g] = uint8_t(hooks.groups[g].gate);
      }
      for (int i = 0; i < s.in && rule.kind == LrpRuleKind::zbox; ++i) {
        p.low[i] = rule.low[rule.low.size() == 1 ? 0 : size_t(i)];
        p.high[i] = rule.high[rule.high.size() == 1 ? 0 : size_t(i)];
      }
      lp.terms = p.terms = int(hooks.terms.size());
      for (size_t t = 0; t < hooks.terms.size(); ++t) {
        const LrpTerm& h = hooks.terms[t];
        TermPlan& q = lp.term[t];
        PackTerm& pt = p.term[t];
        const LrpInput input =
            input_nonnegative && h.input == LrpInput::positive ? LrpInput::identity : h.input;
        const bool zero_rows = input_nonnegative && h.input == LrpInput::negative;
        q.input = uint8_t(input);
        q.group = uint8_t(h.group);
        pt.input = uint8_t(h.input);
        pt.param = uint8_t(h.param);
        pt.has_bias = h.bias;
        pt.zero_rows = zero_rows;
        pt.sign = h.sign;
        pt.coefficient = hooks.groups.at(size_t(h.group)).coefficient;
        pt.forward_wt = pt.bias = pt.backward_w = pt.x_const = pt.o_const = kNone;
        if (is_constant(h.input) || zero_rows) {
          q.kind = pt.kind = kConstant;
          bool zero = true;  // the constant input, as the packing kernel will write it
          for (int i = 0; i < s.in && !zero_rows; ++i) {
            const float v = h.input == LrpInput::ones  ? 1.0f
                            : h.input == LrpInput::low ? p.low[i]
                                                       : p.high[i];
            zero = zero && v == 0.0f;
          }
          q.zero_input = zero;
          q.x_const = pt.x_const = reserve(pk.floats, size_t(s.in));
          q.o_const = pt.o_const = reserve(pk.floats, size_t(s.out));
        } else if (input == LrpInput::identity && h.param == LrpParam::identity && h.bias &&
                   h.sign == 1.0f) {
          q.kind = pt.kind = kReuseZ;
        } else {
          q.kind = pt.kind = kRows;
          q.forward_wt = pt.forward_wt = reserve(pk.floats, size_t(s.in) * s.out);
          q.has_bias = h.bias;
          if (h.bias) q.bias = pt.bias = reserve(pk.floats, size_t(s.out));
        }
        if (!q.zero_input) q.backward_w = pt.backward_w = reserve(pk.floats, size_t(s.out) * s.in);
      }
    }
    pk.layers.push_back(p);
  }
  plan.z_columns = column;
  if (pk.floats >= size_t(kNone))
    throw std::invalid_argument(std::string(op) + ": network too large to pack");
  return pk;
}

template <int T, bool kLrp>
void launch_tiles(const NetPlan& plan, size_t shared_bytes, const float* params,
                  const float* packed, const float* x, size_t rows, const int32_t* classes,
                  float* out, float* logits, cudaStream_t stream) {
  auto kernel = tile_kernel<T, kLrp>;
  if (shared_bytes > 48 * 1024)
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               int(shared_bytes)),
          "lrp: shared memory opt-in");
  const size_t tiles = (rows + T - 1) / T;
  kernel<<<unsigned(tiles), kThreads, shared_bytes, stream>>>(plan, params, packed, x, rows,
                                                              classes, out, logits);
  check(cudaGetLastError(), kLrp ? "lrp launch" : "gradient_x_input launch");
}

// Packs on the device, then runs the tiles with the largest tile (32, 8 or 2 rows) whose shared
// memory fits the budget.
template <bool kLrp>
void run(const DeviceMlp& net, const LrpComposite* composite, const float* params, const float* x,
         size_t rows, const int32_t* classes, float* out, float* logits, Workspace& ws,
         cudaStream_t stream, const char* op) {
  const Packing pk = plan_network(net, composite, op);
  if (rows == 0) return;
  float* packed = static_cast<float*>(ws.get(pk.floats * sizeof(float)));
  for (const PackLayer& p : pk.layers) {
    const size_t work = std::max(size_t(p.in) * p.out, size_t(std::max(p.in, p.out)));
    const int blocks = int(std::min<size_t>((work + kPackThreads - 1) / kPackThreads, kPackBlocks));
    pack_layer_kernel<<<blocks, kPackThreads, 0, stream>>>(p, params, packed);
    check(cudaGetLastError(), "lrp: pack launch");
  }
  int device = 0, limit = 0;
  check(cudaGetDevice(&device), "lrp: cudaGetDevice");
  check(cudaDeviceGetAttribute(&limit, cudaDevAttrMaxSharedMemoryPerBlockOptin, device),
        "lrp: shared memory limit");
  const size_t budget = std::min(kSharedBudget, size_t(limit));
  const size_t row_bytes = (size_t(pk.plan.z_columns) + 3 * size_t(pk.plan.width)) * sizeof(float);
  if (32 * row_bytes <= budget)
    launch_tiles<32, kLrp>(pk.plan, 32 * row_bytes, params, packed, x, rows, classes, out, logits,
                           stream);
  else if (8 * row_bytes <= budget)
    launch_tiles<8, kLrp>(pk.plan, 8 * row_bytes, params, packed, x, rows, classes, out, logits,
                          stream);
  else if (2 * row_bytes <= budget)
    launch_tiles<2, kLrp>(pk.plan, 2 * row_bytes, params, packed, x, rows, classes, out, logits,
                          stream);
  else
    throw std::invalid_argument(std::string(op) + ": a tile of 2 rows needs " +
                                std::to_string(2 * row_bytes) + " bytes of shared memory, the " +
                                "device allows " + std::to_string(budget));
}

}  // namespace

void lrp(const DeviceMlp& net, const float* params, const LrpComposite& composite, const float* x,
         size_t rows, const int32_t* classes, float* relevance, float* logits, Workspace& ws,
         cudaStream_t stream) {
  check_lrp_composite(net.layout(), composite);
  run<true>(net, &composite, params, x, rows, classes, relevance, logits, ws, stream, "lrp");
}

void gradient_x_input(const DeviceMlp& net, const float* params, const float* x, size_t rows,
                      const int32_t* classes, float* out, float* logits, Workspace& ws,
                      cudaStream_t stream) {
  run<false>(net, nullptr, params, x, rows, classes, out, logits, ws, stream, "gradient_x_input");
}

}  // namespace resilinet::kernels::cuda
