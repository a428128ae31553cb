// Fused forward and backward of an MLP on the CPU: one pass per tile of kTileRows rows, every
// layer's activations in a per-thread cache-sized buffer, OpenMP over tiles, weight gradients in
// one slot per tile summed up the tile tree (kernels/tile_tree.hpp). Not the trainer's model, nor
// the forward-only pass (mlp_forward.cpp); fp64 twin: reference/mlp.cpp.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu/float_buffer.hpp"
#include "kernels/cpu/isa.hpp"
#include "kernels/cpu/lanes.hpp"
#include "kernels/cpu/vec.hpp"
#include "kernels/ops.hpp"
#include "kernels/tile_tree.hpp"

#if defined(__x86_64__)
#include <immintrin.h>  // also declares the AVX builtins used below
#endif

// The AVX vectors only ever live inside inlined code, so the ABI note about them does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace resilinet::kernels::cpu {
namespace {

// Every width is padded to a multiple of kPad floats inside the kernel (two SSE vectors or one AVX
// vector), so no inner loop has a remainder.
constexpr int kPad = 8;
constexpr int kRows = int(kTileRows);
using ZeroColumns = ZeroColumnBlocks<kRows>;
// Per-tile gradient slots of one round stay below this, whatever the batch size.
constexpr size_t kRoundBytes = size_t(16) << 20;
constexpr size_t kFoldChunk = 256;  // floats per work item when summing the slots
constexpr size_t kParallelSumFloats = size_t(1) << 20;  // slot floats worth summing on all threads

int round_up(int n, int multiple) { return (n + multiple - 1) / multiple * multiple; }

// What the tile kernels need to know about an instruction set (vec.hpp); the block rows are powers
// of two so that 64 rows divide.
using Sse2 = Sse2Lanes;
using Avx2 = Avx2Lanes;
struct Avx512 : Avx2 {  // AVX-512VL: 32 registers of 8 lanes
  static constexpr int block_rows(int nb) { return nb == 1 ? 16 : 8; }
};

// The network repacked for the tile kernels: masked weights zeroed, widths padded with zeros.
struct PackedLayer {
  int in = 0, out = 0, in_pad = 0, out_pad = 0;
  bool relu = false;
  const float* wt = nullptr;    // W^T [in][out_pad]: forward operand
  const float* w = nullptr;     // W [out][in_pad]: operand of the gradient w.r.t. the input
  const float* bias = nullptr;  // [out_pad]
  size_t act = 0;               // output [kRows][out_pad] in the tile workspace
  size_t slot_w = 0;            // dW [out][in_pad] in a gradient slot
  size_t slot_b = 0;            // db [out_pad] in a gradient slot
};

struct PackedNet {
  std::vector<PackedLayer> layers;
  int inputs = 0, in_pad = 0, max_pad = 0;
  size_t act_floats = 0;   // input tile plus every layer's output tile
  size_t slot_floats = 0;  // one tile's gradient, a multiple of 16 floats (own cache lines)
};

// wt[i][o0 + k] = w[o0 + k][i] for the 4 rows o0..o0+3 of w[out][in_pad], just written (in L1):
// packing the transposed weights with one strided store per element was a tenth of a small
// training step.
void transpose_rows4(const float* w, int o0, int in, int in_pad, float* wt, int out_pad) {
  const float* r = w + size_t(o0) * in_pad;
  int i = 0;
#if defined(__x86_64__)
  for (; i + 4 <= in; i += 4) {
    __m128 a = _mm_loadu_ps(r + i), b = _mm_loadu_ps(r + in_pad + i);
    __m128 c = _mm_loadu_ps(r + 2 * size_t(in_pad) + i), d = _mm_loadu_ps(r + 3 * size_t(in_pad) + i);
    _MM_TRANSPOSE4_PS(a, b, c, d);
    float* to = wt + size_t(i) * out_pad + o0;
    _mm_storeu_ps(to, a);
    _mm_storeu_ps(to + out_pad, b);
    _mm_storeu_ps(to + 2 * size_t(out_pad), c);
    _mm_storeu_ps(to + 3 * size_t(out_pad), d);
  }
#endif
  for (; i < in; ++i)
    for (int k = 0; k < 4; ++k) wt[size_t(i) * out_pad + o0 + k] = r[size_t(k) * in_pad + i];
}

// Packs layers [0, last_layer] of the network; storage must outlive the result.
PackedNet pack_network(const MlpLayout& layout, const float* params, int last_layer,
                       FloatBuffer& storage) {
  PackedNet net;
  net.inputs = layout.inputs();
  net.in_pad = round_up(net.inputs, kPad);
  net.max_pad = net.in_pad;
  size_t weight_floats = 0;
  net.act_floats = size_t(kRows) * net.in_pad;
  for (int l = 0; l <= last_layer; ++l) {
    const LayerShape& s = layout.layers[l];
    PackedLayer p;
    p.in = s.in;
    p.out = s.out;
    p.in_pad = round_up(s.in, kPad);
    p.out_pad = round_up(s.out, kPad);
    p.relu = s.act == Activation::relu;
    p.act = net.act_floats;
    net.act_floats += size_t(kRows) * p.out_pad;
    p.slot_w = net.slot_floats;
    net.slot_floats += size_t(p.out) * p.in_pad;
    p.slot_b = net.slot_floats;
    net.slot_floats += p.out_pad;
    net.max_pad = std::max(net.max_pad, p.out_pad);
    weight_floats += size_t(s.in) * p.out_pad + size_t(s.out) * p.in_pad + p.out_pad;
    net.layers.push_back(p);
  }
  net.slot_floats = (net.slot_floats + 15) / 16 * 16;

  // Packed once per step on every rank, so cheaply: W row by row, W^T from each 4 rows of it
  // while they are in L1, only the pads zeroed.
  float* dst = storage.ensure(weight_floats);
  for (int l = 0; l <= last_layer; ++l) {
    const LayerShape& s = layout.layers[l];
    PackedLayer& p = net.layers[l];
    float* wt = dst;
    float* w = wt + size_t(s.in) * p.out_pad;
    float* b = w + size_t(s.out) * p.in_pad;
    dst = b + p.out_pad;
    const float* src = params + s.weight_offset;
    const uint8_t* keep = s.mask.empty() ? nullptr : s.mask.data();
    for (int o = 0; o < s.out; ++o) {
      const float* from = src + size_t(o) * s.in;
      float* to = w + size_t(o) * p.in_pad;
      if (keep) {
        const uint8_t* k = keep + size_t(o) * s.in;
        for (int i = 0; i < s.in; ++i) to[i] = k[i] ? from[i] : 0.0f;
      } else {
        std::memcpy(to, from, sizeof(float) * size_t(s.in));
      }
      std::fill(to + s.in, to + p.in_pad, 0.0f);
      if (o % 4 == 3) transpose_rows4(w, o - 3, s.in, p.in_pad, wt, p.out_pad);
    }
    for (int o = s.out / 4 * 4; o < s.out; ++o)
      for (int i = 0; i < s.in; ++i) wt[size_t(i) * p.out_pad + o] = w[size_t(o) * p.in_pad + i];
    for (int i = 0; i < s.in; ++i) std::fill(wt + size_t(i) * p.out_pad + s.out, wt + size_t(i + 1) * p.out_pad, 0.0f);
    std::memcpy(b, params + s.bias_offset, sizeof(float) * s.out);
    std::fill(b + s.out, b + p.out_pad, 0.0f);
    p.wt = wt;
    p.w = w;
    p.bias = b;
  }
  return net;
}

// C[m][n] = init + sum_k A(m,k) B[k][n], with A(m,k) = a[m * a_row + k * a_col], so one kernel
// serves the forward product (A = activations), the input gradient (A = output gradient) and the
// weight gradient (A = transposed output gradient, k = rows). n is a multiple of kPad.
struct Gemm {
  const float* a = nullptr;
  ptrdiff_t a_row = 0, a_col = 0;
  const float* b = nullptr;
  ptrdiff_t ldb = 0;
  float* c = nullptr;
  ptrdiff_t ldc = 0;
  int m = 0, n = 0, k = 0;
  const float* bias = nullptr;  // [n]: the initial value of every row (else zero)
  bool relu = false;            // C = max(C, 0)
  const float* gate = nullptr;  // [m][ldc]: C = 0 where gate <= 0 (the ReLU derivative)
  // A is row-major (a_col == 1) and often zero (a ReLU's output, or the gradient of a ReLU layer's
  // pre-activation): a block skips the k that are zero in all its rows. The same sums, less
  // products that added an exact zero.
  bool skip_zero_a = false;
};

// One register block: RB rows x NB vectors of C, accumulated over all of k.
template <class T, int RB, int NB>
[[gnu::always_inline]] inline void gemm_block(const Gemm& g, int m0, int n0, ZeroColumns& zero) {
  using V = typename T::V;
  constexpr int L = T::kLanes;
  // The unroll pragmas keep acc in registers: GCC does not fully unroll 24 iterations by itself.
  V acc[RB][NB];
#pragma GCC unroll 4
  for (int j = 0; j < NB; ++j) {
    V init = g.bias ? load<V>(g.bias + n0 + j * L) : V{};
#pragma GCC unroll 16
    for (int r = 0; r < RB; ++r) acc[r][j] = init;
  }
  const float* a = g.a + m0 * g.a_row;
  const float* b = g.b + n0;
  if (g.skip_zero_a) {
    const uint64_t* words = zero.of_block<T, RB>(a, g.a_row, g.k, m0);
    for (int w = 0; w < (g.k + 63) / 64; ++w)
      for (uint64_t bits = words[w]; bits; bits &= bits - 1) {
        const int k = w * 64 + std::countr_zero(bits);
        add_column_product<T, RB, NB>(acc, a + k, g.a_row, b + k * g.ldb);
      }
  } else {
    for (int k = 0; k < g.k; ++k, a += g.a_col, b += g.ldb) add_column_product<T, RB, NB>(acc, a, g.a_row, b);
  }
#pragma GCC unroll 16
  for (int r = 0; r < RB; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < NB; ++j) {
      V c = acc[r][j];
      if (g.relu) c = c > V{} ? c : V{};
      ptrdiff_t at = (m0 + r) * g.ldc + n0 + j * L;
      if (g.gate) c = load<V>(g.gate + at) > V{} ? c : V{};
      store(g.c + at, c);
    }
}

// All rows of one panel of NB vectors: blocks of RB rows, then the remainder in halving blocks.
template <class T, int RB, int NB>
[[gnu::always_inline]] inline void gemm_panel(const Gemm& g, int n0, int m0, ZeroColumns& zero) {
  for (; m0 + RB <= g.m; m0 += RB) gemm_block<T, RB, NB>(g, m0, n0, zero);
  if constexpr (RB > 1)
    if (m0 < g.m) gemm_panel<T, RB / 2, NB>(g, n0, m0, zero);
}

template <class T>
[[gnu::always_inline]] inline void gemm(const Gemm& g) {
  constexpr int L = T::kLanes;
  ZeroColumns zero;  // the panels below share each block's bits
  if (g.skip_zero_a) zero.clear();
  int n0 = 0;
  int vectors = g.n / L;
  while (vectors > 0) {
    if (vectors == 2 || vectors == 4) {
      gemm_panel<T, T::block_rows(2), 2>(g, n0, 0, zero);
      n0 += 2 * L;
      vectors -= 2;
    } else if (vectors == 1) {
      gemm_panel<T, T::block_rows(1), 1>(g, n0, 0, zero);
      n0 += L;
      vectors -= 1;
    } else {
      gemm_panel<T, T::block_rows(3), 3>(g, n0, 0, zero);
      n0 += 3 * L;
      vectors -= 3;
    }
  }
}

// What every tile of one call shares.
struct Problem {
  const PackedNet* net = nullptr;
  const float* x = nullptr;
  size_t rows = 0;
  const LossSpec* loss = nullptr;
  double norm_rows = 1;
  const LatentLoss* latent = nullptr;  // null when there is none
  size_t latent_rows = 1;              // divisor of the latent loss
  float* dmu_tiles = nullptr;          // [tiles][clusters x width]: each tile's dL/dmu
};

// Loads rows [first_row, first_row + rows) of x into a zero-padded [kRows][in_pad] tile.
[[gnu::always_inline]] inline void load_input_tile(const PackedNet& net, const float* x,
                                                   size_t rows, float* tile) {
  std::memset(tile, 0, sizeof(float) * size_t(kRows) * net.in_pad);
  for (size_t r = 0; r < rows; ++r)
    std::memcpy(tile + r * net.in_pad, x + r * net.inputs, sizeof(float) * net.inputs);
}

template <class T>
[[gnu::always_inline]] inline void forward_layers(const PackedNet& net, float* acts,
                                                  int last_layer) {
  const float* in = acts;
  int in_pad = net.in_pad;
  for (int l = 0; l <= last_layer; ++l) {
    const PackedLayer& p = net.layers[l];
    Gemm g;
    g.a = in;
    g.a_row = in_pad;
    g.a_col = 1;
    g.b = p.wt;
    g.ldb = p.out_pad;
    g.c = acts + p.act;
    g.ldc = p.out_pad;
    g.m = kRows;
    g.n = p.out_pad;
    g.k = p.in;
    g.bias = p.bias;
    g.relu = p.relu;
    g.skip_zero_a = l > 0 && net.layers[l - 1].relu && p.in <= kMaxZeroColumns;
    gemm<T>(g);
    in = g.c;
    in_pad = p.out_pad;
  }
}

// Writes dLoss/dy into grad [kRows][out_pad] (zero outside the tile) and returns the tile's loss.
double output_loss_grad(const Problem& pb, size_t first_row, size_t rows, const float* y,
                        float* grad) {
  const PackedLayer& top = pb.net->layers.back();
  const int outputs = top.out;
  std::memset(grad, 0, sizeof(float) * size_t(kRows) * top.out_pad);
  const LossSpec& loss = *pb.loss;
  double sum = 0;
  if (loss.kind == LossKind::mse) {
    const double scale = double(loss.weight) / (pb.norm_rows * outputs);
    const float* t = loss.target + first_row * outputs;
    const uint8_t* seen = loss.observed ? loss.observed + first_row * outputs : nullptr;
    const float grad_scale = float(2 * scale);
    for (size_t r = 0; r < rows; ++r)
      for (int o = 0; o < outputs; ++o) {
        if (seen && !seen[r * outputs + o]) continue;
        float d = y[r * top.out_pad + o] - t[r * outputs + o];
        sum += double(d) * d;
        grad[r * top.out_pad + o] = grad_scale * d;
      }
    return scale * sum;
  }
  if (loss.kind == LossKind::softmax_cross_entropy) {
    const double scale = double(loss.weight) / pb.norm_rows;
    for (size_t r = 0; r < rows; ++r) {
      const float* yr = y + r * top.out_pad;
      double peak = yr[0];
      for (int o = 1; o < outputs; ++o) peak = std::max(peak, double(yr[o]));
      double denom = 0;
      for (int o = 0; o < outputs; ++o) denom += std::exp(double(yr[o]) - peak);
      const double log_denom = std::log(denom);
      const int label = loss.labels[first_row + r];
      sum += peak + log_denom - yr[label];
      for (int o = 0; o < outputs; ++o) {
        double p = std::exp(double(yr[o]) - peak - log_denom);
        grad[r * top.out_pad + o] = float(scale * (p - (o == label ? 1.0 : 0.0)));
      }
    }
    return scale * sum;
  }
  return 0;
}

// The latent loss on the tile's activations of its layer; returns its loss. dz [rows][width] is
// handed back compact in *dz_out (the padded activations are copied only when the widths differ);
// dL/dmu goes to the tile's own slot, summed up the tile tree by the caller.
double latent_loss_grad(const Problem& pb, size_t tile, size_t rows, const float* acts,
                        float* scratch, float** dz_out) {
  const LatentLoss& latent = *pb.latent;
  const PackedLayer& p = pb.net->layers[latent.layer];
  const float* z = acts + p.act;
  float* dz = scratch;
  if (p.out != p.out_pad) {
    float* compact = scratch + size_t(kRows) * p.out;
    for (size_t r = 0; r < rows; ++r)
      std::memcpy(compact + r * p.out, z + r * p.out_pad, sizeof(float) * p.out);
    z = compact;
  }
  std::memset(dz, 0, sizeof(float) * rows * p.out);
  *dz_out = dz;
  float* dmu = pb.dmu_tiles + tile * size_t(latent.clusters) * p.out;
  return kl_target_loss_grad(z, rows, p.out, latent.centroids, latent.clusters, latent.alpha,
                             latent.frequency, latent.weight, pb.latent_rows, dz, dmu);
}

// grad [kRows][out_pad] of layer p's output becomes the gradient of its pre-activation (the ReLU
// derivative is 1 where the output is positive, else 0, also at 0).
void apply_activation_derivative(const PackedLayer& p, const float* acts, float* grad) {
  if (!p.relu) return;
  const float* y = acts + p.act;
  for (size_t k = 0; k < size_t(kRows) * p.out_pad; ++k)
    if (!(y[k] > 0.0f)) grad[k] = 0.0f;
}

// Adds the latent loss's dz [rows][out] into grad [kRows][out_pad], then applies the ReLU derivative.
void add_latent_gradient(const PackedLayer& p, size_t rows, const float* dz, const float* acts,
                       float* grad) {
  for (size_t r = 0; r < rows; ++r)
    for (int o = 0; o < p.out; ++o) grad[r * p.out_pad + o] += dz[r * p.out + o];
  apply_activation_derivative(p, acts, grad);
}

// Forward, losses and backward of one tile; writes the tile's gradient into slot and returns the
// output loss (the latent loss goes to *latent_loss).
template <class T>
[[gnu::always_inline]] inline double forward_backward_tile(const Problem& pb, size_t tile,
                                                           float* workspace, float* slot,
                                                           double* latent_loss) {
  const PackedNet& net = *pb.net;
  const int last = int(net.layers.size()) - 1;
  const size_t first_row = tile * kTileRows;
  const size_t rows = std::min(kTileRows, pb.rows - first_row);
  float* acts = workspace;
  float* grad = acts + net.act_floats;
  float* grad_next = grad + size_t(kRows) * net.max_pad;
  float* latent_scratch = grad_next + size_t(kRows) * net.max_pad;

  load_input_tile(net, pb.x + first_row * net.inputs, rows, acts);
  forward_layers<T>(net, acts, last);
  float* dz = nullptr;
  const int latent_layer = pb.latent ? pb.latent->layer : -1;
  *latent_loss = pb.latent ? latent_loss_grad(pb, tile, rows, acts, latent_scratch, &dz) : 0.0;

  const PackedLayer& top = net.layers[last];
  double loss = output_loss_grad(pb, first_row, rows, acts + top.act, grad);
  if (latent_layer == last)
    add_latent_gradient(top, rows, dz, acts, grad);
  else
    apply_activation_derivative(top, acts, grad);

  // grad holds dLoss/d(pre-activation) of layer l, zero outside the tile's rows.
  for (int l = last; l >= 0; --l) {
    const PackedLayer& p = net.layers[l];
    const float* input = l == 0 ? acts : acts + net.layers[l - 1].act;
    const int in_pad = l == 0 ? net.in_pad : net.layers[l - 1].out_pad;

    for (int j = 0; j < p.out_pad; j += T::kLanes) {
      typename T::V db{};
      for (size_t r = 0; r < rows; ++r) db += load<typename T::V>(grad + r * p.out_pad + j);
      store(slot + p.slot_b + j, db);
    }

    Gemm dw;
    dw.a = grad;
    dw.a_row = 1;
    dw.a_col = p.out_pad;
    dw.b = input;
    dw.ldb = in_pad;
    dw.c = slot + p.slot_w;
    dw.ldc = p.in_pad;
    dw.m = p.out;
    dw.n = p.in_pad;
    dw.k = int(rows);
    gemm<T>(dw);

    if (l == 0) break;
    const PackedLayer& below = net.layers[l - 1];
    Gemm dx;
    dx.a = grad;
    dx.a_row = p.out_pad;
    dx.a_col = 1;
    dx.b = p.w;
    dx.ldb = p.in_pad;
    dx.c = grad_next;
    dx.ldc = p.in_pad;
    dx.m = kRows;
    dx.n = p.in_pad;
    dx.k = p.out;
    dx.skip_zero_a = p.relu && p.out <= kMaxZeroColumns;  // grad is zero where layer l's ReLU was
    const bool latent_here = latent_layer == l - 1;
    if (below.relu && !latent_here) dx.gate = acts + below.act;
    gemm<T>(dx);
    if (latent_here) add_latent_gradient(below, rows, dz, acts, grad_next);
    std::swap(grad, grad_next);
  }
  return loss;
}

using ForwardBackwardTile = double (*)(const Problem&, size_t, float*, float*, double*);

double forward_backward_tile_baseline(const Problem& pb, size_t tile, float* ws, float* slot,
                                      double* latent_loss) {
  return forward_backward_tile<Sse2>(pb, tile, ws, slot, latent_loss);
}

#if defined(__x86_64__)
// The same code compiled for AVX2 + FMA and for AVX-512VL (32 registers), chosen at run time, so a
// portable build is fast too.
[[gnu::target("avx2,fma")]] double forward_backward_tile_avx2(const Problem& pb, size_t tile,
                                                              float* ws, float* slot,
                                                              double* latent_loss) {
  return forward_backward_tile<Avx2>(pb, tile, ws, slot, latent_loss);
}
[[gnu::target("avx512f,avx512vl,avx2,fma")]] double forward_backward_tile_avx512(
    const Problem& pb, size_t tile, float* ws, float* slot, double* latent_loss) {
  return forward_backward_tile<Avx512>(pb, tile, ws, slot, latent_loss);
}
#endif

ForwardBackwardTile forward_backward_tile_for(Isa isa) {
#if defined(__x86_64__)
  if (isa == Isa::avx512) return forward_backward_tile_avx512;
  if (isa == Isa::avx2) return forward_backward_tile_avx2;
#endif
  (void)isa;
  return forward_backward_tile_baseline;
}

// Tile workspace of the calling thread (one per OpenMP thread inside parallel regions).
float* training_workspace(size_t floats) {
  thread_local FloatBuffer buffer;
  return buffer.ensure(floats);
}

void check_layout(const MlpLayout& layout) {
  if (layout.layers.empty()) throw std::invalid_argument("mlp: the layout has no layers");
}

// Keeps the first exception thrown inside a parallel region so it can be rethrown outside.
class FirstError {
 public:
  void capture() {
#pragma omp critical(resilinet_mlp_error)
    if (!error_) error_ = std::current_exception();
  }
  void rethrow() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::exception_ptr error_;
};

// dLoss/dparams in the public layout [param_count] (masked entries zero) from a gradient slot.
void unpack_slot(const MlpLayout& layout, const PackedNet& net, const float* slot, float* grads) {
  for (size_t l = 0; l < layout.layers.size(); ++l) {
    const LayerShape& s = layout.layers[l];
    const PackedLayer& p = net.layers[l];
    for (int o = 0; o < s.out; ++o) {
      const float* from = slot + p.slot_w + size_t(o) * p.in_pad;
      float* to = grads + s.weight_offset + size_t(o) * s.in;
      if (s.mask.empty()) {
        std::memcpy(to, from, sizeof(float) * size_t(s.in));
        continue;
      }
      const uint8_t* keep = s.mask.data() + size_t(o) * s.in;
      for (int i = 0; i < s.in; ++i) to[i] = keep[i] ? from[i] : 0.0f;
    }
    std::memcpy(grads + s.bias_offset, slot + p.slot_b, sizeof(float) * s.out);
  }
}

// Both entry points: out_tiles == nullptr sums the tiles' gradients into grads (and latent->dmu);
// otherwise each tile's goes to its own place in *out_tiles.
double forward_backward(const MlpLayout& layout, const float* params, const float* x, size_t rows,
                        const LossSpec& loss, const LatentLoss* latent, float* grads,
                        const TileGradients* out_tiles) {
  check_layout(layout);
  const int layers = int(layout.layers.size());
  if (latent && (latent->layer < 0 || latent->layer >= layers))
    throw std::invalid_argument("mlp_forward_backward: latent loss layer " + std::to_string(latent->layer) +
                                " is outside [0, " + std::to_string(layers) + ")");
  if (latent && (latent->clusters < 1 || !latent->centroids || !latent->frequency || !latent->dmu))
    throw std::invalid_argument("mlp_forward_backward: the latent loss needs clusters, centroids, frequencies and dmu");
  const size_t dmu_floats = latent ? size_t(latent->clusters) * layout.layers[latent->layer].out : 0;
  if (latent && !out_tiles) std::fill(latent->dmu, latent->dmu + dmu_floats, 0.0f);
  if (out_tiles && (!out_tiles->grads || (latent && !out_tiles->dmu)))
    throw std::invalid_argument("mlp_forward_backward_tiles: the tile gradients need their buffers");
  const int outputs = layout.outputs();
  // A rank's share of a small batch may have no rows: then there is nothing to read the loss from.
  if (rows > 0 && loss.kind == LossKind::mse && !loss.target)
    throw std::invalid_argument("mlp_forward_backward: mse loss needs a target");
  if (loss.kind == LossKind::softmax_cross_entropy) {
    if (rows > 0 && !loss.labels)
      throw std::invalid_argument("mlp_forward_backward: cross entropy needs labels");
    for (size_t r = 0; r < rows; ++r)
      if (loss.labels[r] < 0 || loss.labels[r] >= outputs)
        throw std::invalid_argument(
            "mlp_forward_backward: label " + std::to_string(loss.labels[r]) + " of row " +
            std::to_string(r) + " is outside [0, " + std::to_string(outputs) + ")");
  }
  if (!out_tiles) std::fill(grads, grads + layout.param_count, 0.0f);
  if (rows == 0) return 0.0;

  thread_local FloatBuffer packed_storage, slot_storage, sum_storage, levels_storage;
  const PackedNet net = pack_network(layout, params, layers - 1, packed_storage);
  const ForwardBackwardTile tile_fn = forward_backward_tile_for(cpu_isa());

  Problem pb;
  pb.net = &net;
  pb.x = x;
  pb.rows = rows;
  pb.loss = &loss;
  pb.norm_rows = double(loss.loss_rows ? loss.loss_rows : rows);
  pb.latent = latent;
  pb.latent_rows = latent && latent->norm_rows ? latent->norm_rows : rows;

  const size_t tiles = (rows + kTileRows - 1) / kTileRows;
  const size_t slot_bytes = net.slot_floats * sizeof(float);
  const size_t round_tiles = std::clamp<size_t>(kRoundBytes / slot_bytes, 1, tiles);
  float* slots = slot_storage.ensure(round_tiles * net.slot_floats);
  float* sum = sum_storage.ensure(net.slot_floats);
  // The binary counter's blocks: one per bit of the tile count.
  float* levels = levels_storage.ensure(size_t(std::bit_width(tiles)) * net.slot_floats);
  const size_t latent_floats = latent ? 2 * size_t(kRows) * layout.layers[latent->layer].out : 0;
  const size_t workspace_floats = net.act_floats + 2 * size_t(kRows) * net.max_pad + latent_floats;
  std::vector<float> dmu_storage(out_tiles ? 0 : tiles * dmu_floats, 0.0f);
  pb.dmu_tiles = out_tiles ? out_tiles->dmu : dmu_storage.data();
  if (out_tiles) std::fill(pb.dmu_tiles, pb.dmu_tiles + tiles * dmu_floats, 0.0f);
  std::vector<double> tile_loss(tiles, 0.0), tile_latent_loss(tiles, 0.0);
  const ptrdiff_t chunks = ptrdiff_t((net.slot_floats + kFoldChunk - 1) / kFoldChunk);
  FirstError error;

  for (size_t first = 0; first < tiles; first += round_tiles) {
    const size_t end = std::min(tiles, first + round_tiles);
    // Dynamic: on a busy machine a thread that starts late leaves its tiles to the others. The
    // result does not depend on who computes a tile: each tile has its own slot.
#pragma omp parallel for schedule(dynamic) if (end - first > 1)
    for (ptrdiff_t t = ptrdiff_t(first); t < ptrdiff_t(end); ++t) {
      try {
        tile_loss[t] = tile_fn(pb, size_t(t), training_workspace(workspace_floats),
                               slots + (t - first) * net.slot_floats, &tile_latent_loss[t]);
      } catch (...) {
        error.capture();
      }
    }
    error.rethrow();
    if (out_tiles) {  // the caller sums them
      for (size_t t = first; t < end; ++t)
        unpack_slot(layout, net, slots + (t - first) * net.slot_floats, out_tiles->grads + t * layout.param_count);
      continue;
    }
    // Sum the slots up the tile tree (kernels/tile_tree.hpp), streamed: levels[d] holds the d-th
    // finished block of a binary counter, and tile t closes countr_one(t) of them. Each float sees
    // the same additions whatever the threads. Small sums (a batch of a few thousand rows) are
    // cheaper on one thread than another fork and join.
    const bool parallel_sum = (end - first) * net.slot_floats >= kParallelSumFloats;
#pragma omp parallel for schedule(static) if (parallel_sum)
    for (ptrdiff_t c = 0; c < chunks; ++c) {
      const size_t begin = size_t(c) * kFoldChunk;
      const size_t n = std::min(net.slot_floats, begin + kFoldChunk) - begin;
      float v[kFoldChunk];
      for (size_t t = first; t < end; ++t) {
        const float* s = slots + (t - first) * net.slot_floats + begin;
        const int depth = std::popcount(t), closes = std::countr_one(t);
        float* into = levels + size_t(depth - closes) * net.slot_floats + begin;
        if (closes == 0) {
          std::memcpy(into, s, sizeof(float) * n);
          continue;
        }
        // Each closed block is its left half plus what is right of it, innermost first; the last
        // one lands where the outermost block was.
        const float* right = s;
        for (int j = 1; j < closes; ++j) {
          const float* left = levels + size_t(depth - j) * net.slot_floats + begin;
#pragma omp simd
          for (size_t k = 0; k < n; ++k) v[k] = left[k] + right[k];
          right = v;
        }
#pragma omp simd
        for (size_t k = 0; k < n; ++k) into[k] = into[k] + right[k];
      }
    }
  }
  if (!out_tiles) {  // the open blocks, right to left: the tree's last additions
    const int open = std::popcount(tiles);
    std::memcpy(sum, levels + size_t(open - 1) * net.slot_floats, sizeof(float) * net.slot_floats);
    for (int d = open - 2; d >= 0; --d) {
      const float* left = levels + size_t(d) * net.slot_floats;
      for (size_t k = 0; k < net.slot_floats; ++k) sum[k] = left[k] + sum[k];
    }
  }

  if (!out_tiles) {
    unpack_slot(layout, net, sum, grads);
    // Up the same tile tree as the slots: what a caller summing TileGradients gets.
    if (latent) {
      thread_local kernels::TileTreeScratch scratch;
      kernels::tile_tree_sum(dmu_storage.data(), 0, tiles, dmu_floats, dmu_floats, kernels::tile_tree_root(tiles),
                             latent->dmu, scratch);
    }
  }
  double total = 0;
  for (double v : tile_loss) total += v;
  for (double v : tile_latent_loss) total += v;
  return total;
}

}  // namespace

double mlp_forward_backward(const MlpLayout& layout, const float* params, const float* x,
                            size_t rows, const LossSpec& loss, const LatentLoss* latent,
                            float* grads) {
  return forward_backward(layout, params, x, rows, loss, latent, grads, nullptr);
}

double mlp_forward_backward_tiles(const MlpLayout& layout, const float* params, const float* x,
                                  size_t rows, const LossSpec& loss, const LatentLoss* latent,
                                  const TileGradients& tiles) {
  return forward_backward(layout, params, x, rows, loss, latent, nullptr, &tiles);
}

}  // namespace resilinet::kernels::cpu
