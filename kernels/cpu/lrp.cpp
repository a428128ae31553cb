// LRP and gradient x input on the CPU: one driver that runs a forward pass per tile of rows, then
// the modified backward passes layer by layer. It knows rules only through their hooks
// (kernels/lrp_rules.cpp); reference/lrp.cpp restates each formula in fp64.
#include "kernels/lrp.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

#include "kernels/cpu/isa.hpp"
#include "kernels/cpu/vec.hpp"

namespace resilinet::kernels {
namespace cpu {
namespace {

// Tile buffers and packed weights pad every width to a multiple of kPad floats with zeros, so inner
// loops have no tails. The tile code is compiled for baseline x86-64 (SSE, 4 lanes), AVX2 + FMA and
// AVX-512VL (8 lanes) and chosen at run time. The vectors only live inside inlined code, so the
// AVX ABI note does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"
constexpr int kPad = 8;
constexpr int kRows = 64;  // rows per tile; the last tile is padded with zero rows
typedef float Vec4 __attribute__((vector_size(4 * sizeof(float))));
typedef float Vec8 __attribute__((vector_size(8 * sizeof(float))));

// Register blocks of the tile product: kBlockRows rows x kVectors vectors of columns.
struct Baseline {  // 16 SSE registers: 4 rows x 2 vectors of 4
  using V = Vec4;
  static constexpr int kBlockRows = 4, kVectors = 2;
};
struct Avx2 {  // 16 AVX registers: 4 rows x 2 vectors of 8
  using V = Vec8;
  static constexpr int kBlockRows = 4, kVectors = 2;
};
struct Avx512 {  // AVX-512VL: 32 registers of 8 lanes: 8 rows x 2 vectors
  using V = Vec8;
  static constexpr int kBlockRows = 8, kVectors = 2;
};

int padded(int n) { return (n + kPad - 1) / kPad * kPad; }

// How the tile product's result meets C: C = [C +] scale * (A B + bias), scale = 1, a per-row
// matrix (the layer input of a term) or one row (a constant input).
enum class Scale { one, rows, row };

// C[r][0:n_pad] (+)= scale * (sum_k a[r][k] b[k][0:n_pad] + bias) for the kRows rows of a tile.
// a has row stride lda and k_count columns; b is [k_count][n_pad]; c and a row-matrix scale have
// row stride n_pad.
struct Product {
  const float* a;
  int lda, k_count;
  const float* b;
  int n_pad;
  const float* bias;   // [n_pad] or nullptr
  const float* scale;  // Scale::rows: [kRows][n_pad]; Scale::row: [n_pad]
  float* c;
};

template <class V, int RB, int NV, bool kAccumulate, Scale kScale>
[[gnu::always_inline]] inline void product_block(const Product& p, int r0, int c0) {
  constexpr int kWidth = int(sizeof(V) / sizeof(float));
  V acc[RB][NV] = {};
  for (int k = 0; k < p.k_count; ++k) {
    V bk[NV];
    for (int v = 0; v < NV; ++v) bk[v] = load<V>(p.b + size_t(k) * p.n_pad + c0 + v * kWidth);
    for (int q = 0; q < RB; ++q) {
      const float ak = p.a[size_t(r0 + q) * p.lda + k];
      for (int v = 0; v < NV; ++v) acc[q][v] += ak * bk[v];
    }
  }
  for (int q = 0; q < RB; ++q)
    for (int v = 0; v < NV; ++v) {
      const int col = c0 + v * kWidth;
      const size_t at = size_t(r0 + q) * p.n_pad + col;
      V out = acc[q][v];
      if (p.bias) out += load<V>(p.bias + col);
      if constexpr (kScale == Scale::rows) out *= load<V>(p.scale + at);
      if constexpr (kScale == Scale::row) out *= load<V>(p.scale + col);
      if constexpr (kAccumulate) out += load<V>(p.c + at);
      store<V>(p.c + at, out);
    }
}

template <class T, bool kAccumulate, Scale kScale>
[[gnu::always_inline]] inline void tile_product(const Product& p) {
  using V = typename T::V;
  constexpr int RB = T::kBlockRows, NV = T::kVectors;
  constexpr int kWidth = int(sizeof(V) / sizeof(float));
  for (int r0 = 0; r0 < kRows; r0 += RB) {
    int c0 = 0;
    for (; c0 + NV * kWidth <= p.n_pad; c0 += NV * kWidth)
      product_block<V, RB, NV, kAccumulate, kScale>(p, r0, c0);
    for (; c0 < p.n_pad; c0 += kWidth) product_block<V, RB, 1, kAccumulate, kScale>(p, r0, c0);
  }
}

float modify_param(LrpParam p, float w, float gamma, bool connected) {
  switch (p) {
    case LrpParam::identity: return w;
    case LrpParam::positive: return std::max(w, 0.0f);
    case LrpParam::negative: return std::min(w, 0.0f);
    case LrpParam::gamma_positive: return w + gamma * std::max(w, 0.0f);
    case LrpParam::gamma_negative: return w + gamma * std::min(w, 0.0f);
    case LrpParam::ones: return connected ? 1.0f : 0.0f;
    case LrpParam::square: return w * w;
  }
  return w;
}

// One layer of the network, padded: W^T for the forward pass and W for the gradient.
struct PackedLayer {
  int in = 0, out = 0, in_pad = 0, out_pad = 0;
  bool relu = false;
  std::vector<float> wt;    // W^T [in][out_pad]
  std::vector<float> w;     // W [out][in_pad]
  std::vector<float> bias;  // [out_pad]
};

// One term of a rule with its modified parameters, padded. The sign is folded into the forward
// weights and bias (a group's denominator is then a plain sum) and sign * coefficient into the
// backward weights (every term's reduction is then R_in += x_t * (s W_back)).
struct PackedTerm {
  LrpInput input = LrpInput::identity;
  int group = 0;
  bool reuses_z = false;          // identity input and parameters, bias kept: o_t = z
  bool zero_input = false;        // a constant input of zeros (e.g. z^B's low = 0): no reduction
  std::vector<float> forward_wt;  // sign * W_t^T [in][out_pad]; only for row-dependent inputs
  std::vector<float> bias;        // sign * b_t [out_pad]; empty when the term has no bias
  std::vector<float> backward_w;  // coefficient * sign * W_t [out][in_pad]
  std::vector<float> x_const;     // constant input [in_pad] (ones, low, high)
  std::vector<float> o_const;     // sign * (W_t x_const + b_t) [out_pad]
};

struct PackedRule {
  std::vector<LrpGroup> groups;
  std::vector<PackedTerm> terms;
  float stabilizer = 0.0f;
};

bool is_constant(LrpInput in) {
  return in == LrpInput::ones || in == LrpInput::low || in == LrpInput::high;
}

std::vector<PackedLayer> pack_network(const MlpLayout& layout, const float* params) {
  std::vector<PackedLayer> net;
  for (const auto& s : layout.layers) {
    PackedLayer p;
    p.in = s.in;
    p.out = s.out;
    p.in_pad = padded(s.in);
    p.out_pad = padded(s.out);
    p.relu = s.act == Activation::relu;
    p.wt.assign(size_t(s.in) * p.out_pad, 0.0f);
    p.w.assign(size_t(s.out) * p.in_pad, 0.0f);
    p.bias.assign(size_t(p.out_pad), 0.0f);
    const float* w = params + s.weight_offset;
    for (int j = 0; j < s.out; ++j) {
      for (int i = 0; i < s.in; ++i) {
        p.wt[size_t(i) * p.out_pad + j] = w[size_t(j) * s.in + i];
        p.w[size_t(j) * p.in_pad + i] = w[size_t(j) * s.in + i];
      }
      p.bias[j] = params[s.bias_offset + j];
    }
    net.push_back(std::move(p));
  }
  return net;
}

// input_nonnegative: the layer's input is a ReLU output, so a+ = a and a- = 0 (no copies, and the
// a- terms only bring their bias to the denominator).
PackedRule pack_rule(const LayerShape& shape, const float* params, const LrpRule& rule,
                     const PackedLayer& p, bool input_nonnegative) {
  const LrpRuleTerms hooks = lrp_rule_terms(rule);
  PackedRule packed;
  packed.groups = hooks.groups;
  packed.stabilizer = hooks.stabilizer;
  const int in = p.in, out = p.out;
  const float* w_src = params + shape.weight_offset;
  const float* b_src = params + shape.bias_offset;
  for (const LrpTerm& t : hooks.terms) {
    PackedTerm q;
    q.input = input_nonnegative && t.input == LrpInput::positive ? LrpInput::identity : t.input;
    q.group = t.group;
    const bool zero_rows = input_nonnegative && t.input == LrpInput::negative;
    const float coefficient = hooks.groups.at(size_t(t.group)).coefficient;
    std::vector<float> w(size_t(out) * in), b(size_t(out), 0.0f);
    for (size_t k = 0; k < w.size(); ++k)
      w[k] = modify_param(t.param, w_src[k], hooks.gamma, shape.mask.empty() || shape.mask[k]);
    if (t.bias)
      for (int j = 0; j < out; ++j) b[j] = modify_param(t.param, b_src[j], hooks.gamma, true);
    q.backward_w.assign(size_t(out) * p.in_pad, 0.0f);
    for (int j = 0; j < out; ++j)
      for (int i = 0; i < in; ++i)
        q.backward_w[size_t(j) * p.in_pad + i] = coefficient * t.sign * w[size_t(j) * in + i];
    q.reuses_z =
        q.input == LrpInput::identity && t.param == LrpParam::identity && t.bias && t.sign == 1.0f;
    if (is_constant(t.input) || zero_rows) {
      const std::vector<float>& bound = t.input == LrpInput::low ? rule.low : rule.high;
      q.x_const.assign(size_t(p.in_pad), 0.0f);
      q.zero_input = true;
      for (int i = 0; i < in && !zero_rows; ++i) {
        q.x_const[i] = t.input == LrpInput::ones ? 1.0f : bound[bound.size() == 1 ? 0 : size_t(i)];
        q.zero_input = q.zero_input && q.x_const[i] == 0.0f;
      }
      // Row-independent: computed once, in double.
      q.o_const.assign(size_t(p.out_pad), 0.0f);
      for (int j = 0; j < out; ++j) {
        double o = b[j];
        for (int i = 0; i < in; ++i) o += double(w[size_t(j) * in + i]) * q.x_const[i];
        q.o_const[j] = float(t.sign * o);
      }
    } else if (!q.reuses_z) {
      q.forward_wt.assign(size_t(in) * p.out_pad, 0.0f);
      for (int j = 0; j < out; ++j)
        for (int i = 0; i < in; ++i)
          q.forward_wt[size_t(i) * p.out_pad + j] = t.sign * w[size_t(j) * in + i];
      if (t.bias) {
        q.bias.assign(size_t(p.out_pad), 0.0f);
        for (int j = 0; j < out; ++j) q.bias[j] = t.sign * b[j];
      }
    }
    packed.terms.push_back(std::move(q));
  }
  return packed;
}

// Per-thread buffers of one tile, all [kRows][width padded]: the input, every layer's
// pre-activation z and output, relevance in and out, a group's s and denominator, and one modified
// input per term.
struct TileScratch {
  std::vector<float> x;
  std::vector<std::vector<float>> z, act;
  std::vector<float> rel_a, rel_b, s, denom;
  std::vector<std::vector<float>> x_term;
  std::vector<const float*> inputs;  // input of each layer, then the network output
  std::vector<char> active;

  TileScratch(const std::vector<PackedLayer>& net, size_t max_terms) {
    int width = net.front().in_pad;
    for (const auto& l : net) width = std::max(width, l.out_pad);
    const size_t n = size_t(kRows) * width;
    x.assign(size_t(kRows) * net.front().in_pad, 0.0f);
    for (const auto& l : net) {
      z.emplace_back(size_t(kRows) * l.out_pad);
      act.emplace_back(l.relu ? size_t(kRows) * l.out_pad : 0);
    }
    rel_a.resize(n);
    rel_b.resize(n);
    s.resize(n);
    denom.resize(n);
    x_term.assign(max_terms, std::vector<float>(n));
    inputs.resize(net.size() + 1);
    active.resize(max_terms);
  }
};

// Everything one call needs, shared read-only by the tiles (outputs are disjoint per tile).
struct Problem {
  const std::vector<PackedLayer>* net;
  const std::vector<PackedRule>* rules;  // LRP only
  const float* x;
  size_t rows;
  int inputs, outputs;
  const int32_t* classes;
  float* out;     // relevance, or gradient x input
  float* logits;  // optional
};

// Copies the tile's rows of x into the padded tile buffer (zero rows and columns beyond).
size_t load_tile(const Problem& pb, size_t tile, TileScratch& sc) {
  const size_t first = tile * kRows, rows = std::min(size_t(kRows), pb.rows - first);
  const int in_pad = padded(pb.inputs);
  std::fill(sc.x.begin(), sc.x.end(), 0.0f);
  for (size_t r = 0; r < rows; ++r)
    std::copy(pb.x + (first + r) * pb.inputs, pb.x + (first + r + 1) * pb.inputs,
              sc.x.data() + r * in_pad);
  return rows;
}

// Writes the first `rows` rows of a padded tile buffer to out [rows x cols].
void store_tile(const float* tile, int cols, size_t rows, float* out) {
  const int pad = padded(cols);
  for (size_t r = 0; r < rows; ++r)
    std::copy(tile + r * pad, tile + r * pad + cols, out + r * cols);
}

// Forward pass of one tile: fills sc.z and sc.inputs (input of each layer, then the output).
template <class T>
[[gnu::always_inline]] inline void forward_tile(const std::vector<PackedLayer>& net,
                                                TileScratch& sc) {
  sc.inputs[0] = sc.x.data();
  for (size_t l = 0; l < net.size(); ++l) {
    const PackedLayer& p = net[l];
    float* z = sc.z[l].data();
    tile_product<T, false, Scale::one>(
        {sc.inputs[l], p.in_pad, p.in, p.wt.data(), p.out_pad, p.bias.data(), nullptr, z});
    if (p.relu) {
      float* a = sc.act[l].data();
      for (size_t k = 0; k < size_t(kRows) * p.out_pad; ++k) a[k] = std::max(z[k], 0.0f);
      sc.inputs[l + 1] = a;
    } else {
      sc.inputs[l + 1] = z;
    }
  }
}

// The seed of each row at the class it explains (given, or the arg max of the output): the output
// there (LRP), or 1 (the gradient).
void seed_tile(const Problem& pb, size_t tile, size_t rows, const float* y, bool unit,
               float* seed) {
  const int out_pad = padded(pb.outputs);
  std::fill(seed, seed + size_t(kRows) * out_pad, 0.0f);
  for (size_t r = 0; r < rows; ++r) {
    const float* yr = y + r * out_pad;
    const int32_t c = pb.classes ? pb.classes[tile * kRows + r]
                                 : int32_t(std::max_element(yr, yr + pb.outputs) - yr);
    seed[r * out_pad + c] = unit ? 1.0f : yr[c];
  }
}

// One layer's rule on a tile: relevance at the output r_out -> r_in (both padded).
template <class T>
[[gnu::always_inline]] inline void propagate_layer(const PackedLayer& p, const PackedRule& rule,
                                                   const float* a, const float* z,
                                                   const float* r_out, TileScratch& sc,
                                                   float* r_in) {
  const size_t n_out = size_t(kRows) * p.out_pad, n_in = size_t(kRows) * p.in_pad;
  std::fill(r_in, r_in + n_in, 0.0f);
  for (size_t g = 0; g < rule.groups.size(); ++g) {
    const LrpGroup& group = rule.groups[g];
    if (group.coefficient == 0.0f) continue;
    float* s = sc.s.data();
    int any = 0;
    for (size_t k = 0; k < n_out; ++k) {
      const bool open = group.gate == LrpGate::all ||
                        (group.gate == LrpGate::positive_z && z[k] > 0) ||
                        (group.gate == LrpGate::negative_z && z[k] < 0);
      s[k] = open ? r_out[k] : 0.0f;
      any |= s[k] != 0.0f;
    }
    if (!any) continue;  // e.g. gamma's negative group above ReLU units that carry no relevance

    float* d = sc.denom.data();
    std::fill(d, d + n_out, 0.0f);
    for (size_t t = 0; t < rule.terms.size(); ++t) {
      const PackedTerm& q = rule.terms[t];
      sc.active[t] = 0;
      if (q.group != int(g)) continue;
      sc.active[t] = !q.zero_input;
      if (q.reuses_z) {
        for (size_t k = 0; k < n_out; ++k) d[k] += z[k];
      } else if (!q.o_const.empty()) {
        for (int r = 0; r < kRows; ++r)
          for (int j = 0; j < p.out_pad; ++j) d[size_t(r) * p.out_pad + j] += q.o_const[j];
      } else {
        const float* x = a;
        if (q.input != LrpInput::identity) {
          float* xt = sc.x_term[t].data();
          int nonzero = 0;
          for (size_t k = 0; k < n_in; ++k) {
            xt[k] = q.input == LrpInput::positive ? std::max(a[k], 0.0f) : std::min(a[k], 0.0f);
            nonzero |= xt[k] != 0.0f;
          }
          x = xt;
          sc.active[t] = nonzero;  // e.g. the negative part of a ReLU output
        }
        const float* bias = q.bias.empty() ? nullptr : q.bias.data();
        if (sc.active[t]) {
          tile_product<T, true, Scale::one>(
              {x, p.in_pad, p.in, q.forward_wt.data(), p.out_pad, bias, nullptr, d});
        } else if (bias) {  // a zero input still brings its bias to the denominator
          for (int r = 0; r < kRows; ++r)
            for (int j = 0; j < p.out_pad; ++j) d[size_t(r) * p.out_pad + j] += bias[j];
        }
      }
    }
    // s = gate * R / stab(d), stab(d) = d + eps * sign(d), sign(0) = +1. Zero stays zero (also
    // in the padding, where d may be 0 and eps may be 0).
    const float eps = rule.stabilizer;
    for (size_t k = 0; k < n_out; ++k) {
      const float stabilized = d[k] + (d[k] >= 0.0f ? eps : -eps);
      s[k] /= s[k] != 0.0f ? stabilized : 1.0f;  // branch-free, so it vectorises
    }
    for (size_t t = 0; t < rule.terms.size(); ++t) {
      const PackedTerm& q = rule.terms[t];
      if (q.group != int(g) || !sc.active[t]) continue;
      const float* x_rows = q.input == LrpInput::identity ? a : sc.x_term[t].data();
      const float* scale = q.x_const.empty() ? x_rows : q.x_const.data();
      const Product back{s, p.out_pad, p.out, q.backward_w.data(), p.in_pad, nullptr, scale, r_in};
      if (!q.x_const.empty())
        tile_product<T, true, Scale::row>(back);
      else
        tile_product<T, true, Scale::rows>(back);
    }
  }
}

template <class T>
[[gnu::always_inline]] inline void lrp_tile(const Problem& pb, size_t tile, TileScratch& sc) {
  const std::vector<PackedLayer>& net = *pb.net;
  const size_t rows = load_tile(pb, tile, sc);
  forward_tile<T>(net, sc);
  const float* y = sc.inputs.back();
  if (pb.logits) store_tile(y, pb.outputs, rows, pb.logits + tile * kRows * pb.outputs);
  // Seed: the output at the chosen class; activations pass relevance through unchanged.
  float* r_out = sc.rel_a.data();
  float* r_in = sc.rel_b.data();
  seed_tile(pb, tile, rows, y, false, r_out);
  for (size_t l = net.size(); l-- > 0;) {
    propagate_layer<T>(net[l], (*pb.rules)[l], sc.inputs[l], sc.z[l].data(), r_out, sc, r_in);
    std::swap(r_out, r_in);
  }
  store_tile(r_out, pb.inputs, rows, pb.out + tile * kRows * pb.inputs);
}

template <class T>
[[gnu::always_inline]] inline void gradient_tile(const Problem& pb, size_t tile, TileScratch& sc) {
  const std::vector<PackedLayer>& net = *pb.net;
  const size_t rows = load_tile(pb, tile, sc);
  forward_tile<T>(net, sc);
  const float* y = sc.inputs.back();
  if (pb.logits) store_tile(y, pb.outputs, rows, pb.logits + tile * kRows * pb.outputs);
  float* g_out = sc.rel_a.data();
  float* g_in = sc.rel_b.data();
  seed_tile(pb, tile, rows, y, true, g_out);
  for (size_t l = net.size(); l-- > 0;) {
    const PackedLayer& p = net[l];
    if (p.relu) {  // ReLU'(z) = [z > 0]
      const float* z = sc.z[l].data();
      for (size_t k = 0; k < size_t(kRows) * p.out_pad; ++k)
        g_out[k] = z[k] > 0.0f ? g_out[k] : 0.0f;
    }
    // d/da = g W; at the input layer, times x.
    const Product back{g_out, p.out_pad, p.out, p.w.data(), p.in_pad, nullptr, sc.x.data(), g_in};
    if (l == 0)
      tile_product<T, false, Scale::rows>(back);
    else
      tile_product<T, false, Scale::one>(back);
    std::swap(g_out, g_in);
  }
  store_tile(g_out, pb.inputs, rows, pb.out + tile * kRows * pb.inputs);
}

using TileFunction = void (*)(const Problem&, size_t, TileScratch&);

void lrp_tile_baseline(const Problem& pb, size_t tile, TileScratch& sc) {
  lrp_tile<Baseline>(pb, tile, sc);
}
void gradient_tile_baseline(const Problem& pb, size_t tile, TileScratch& sc) {
  gradient_tile<Baseline>(pb, tile, sc);
}
#if defined(__x86_64__)
[[gnu::target("avx2,fma")]] void lrp_tile_avx2(const Problem& pb, size_t tile, TileScratch& sc) {
  lrp_tile<Avx2>(pb, tile, sc);
}
[[gnu::target("avx2,fma")]] void gradient_tile_avx2(const Problem& pb, size_t tile,
                                                    TileScratch& sc) {
  gradient_tile<Avx2>(pb, tile, sc);
}
[[gnu::target("avx512f,avx512vl,avx2,fma")]] void lrp_tile_avx512(const Problem& pb, size_t tile,
                                                                  TileScratch& sc) {
  lrp_tile<Avx512>(pb, tile, sc);
}
[[gnu::target("avx512f,avx512vl,avx2,fma")]] void gradient_tile_avx512(const Problem& pb,
                                                                       size_t tile,
                                                                       TileScratch& sc) {
  gradient_tile<Avx512>(pb, tile, sc);
}
#endif

TileFunction select_tile(bool lrp) {
  const Isa isa = cpu_isa();
#if defined(__x86_64__)
  if (isa == Isa::avx512) return lrp ? lrp_tile_avx512 : gradient_tile_avx512;
  if (isa == Isa::avx2) return lrp ? lrp_tile_avx2 : gradient_tile_avx2;
#endif
  (void)isa;
  return lrp ? lrp_tile_baseline : gradient_tile_baseline;
}

void check_classes(const int32_t* classes, size_t rows, int outputs) {
  if (!classes) return;
  for (size_t r = 0; r < rows; ++r)
    if (classes[r] < 0 || classes[r] >= outputs)
      throw std::out_of_range("LRP: class " + std::to_string(classes[r]) + " of row " +
                              std::to_string(r) + " is outside [0, " + std::to_string(outputs) +
                              ")");
}

// Runs one tile function over all tiles; OpenMP over tiles, per-thread scratch. A few tiles are
// cheaper on one thread than a parallel region.
void run_tiles(const Problem& pb, TileFunction tile_fn, size_t max_terms) {
  const long tiles = long((pb.rows + kRows - 1) / kRows);
#pragma omp parallel if (tiles >= 4)
  {
    TileScratch sc(*pb.net, max_terms);
#pragma omp for schedule(static)
    for (long tile = 0; tile < tiles; ++tile) tile_fn(pb, size_t(tile), sc);
  }
}

}  // namespace

void lrp(const MlpLayout& layout, const float* params, const LrpComposite& composite,
         const float* x, size_t rows, const int32_t* classes, float* relevance, float* logits) {
  check_lrp_composite(layout, composite);
  check_classes(classes, rows, layout.outputs());
  const TileFunction tile_fn = select_tile(true);
  if (rows == 0) return;
  const std::vector<PackedLayer> net = pack_network(layout, params);
  std::vector<PackedRule> rules;
  size_t max_terms = 1;
  for (size_t l = 0; l < net.size(); ++l) {
    const bool input_nonnegative = l > 0 && net[l - 1].relu;
    rules.push_back(pack_rule(layout.layers[l], params, composite[l], net[l], input_nonnegative));
    max_terms = std::max(max_terms, rules.back().terms.size());
  }
  const Problem pb{&net,    &rules,    x,     rows, layout.inputs(), layout.outputs(),
                   classes, relevance, logits};
  run_tiles(pb, tile_fn, max_terms);
}

void gradient_x_input(const MlpLayout& layout, const float* params, const float* x, size_t rows,
                      const int32_t* classes, float* out, float* logits) {
  if (layout.layers.empty()) throw std::invalid_argument("gradient_x_input: empty network");
  check_classes(classes, rows, layout.outputs());
  const TileFunction tile_fn = select_tile(false);
  if (rows == 0) return;
  const std::vector<PackedLayer> net = pack_network(layout, params);
  const Problem pb{&net, nullptr, x, rows, layout.inputs(), layout.outputs(), classes, out, logits};
  run_tiles(pb, tile_fn, 1);
}

std::string lrp_instruction_set() { return isa_name(cpu_isa()); }

}  // namespace cpu
}  // namespace resilinet::kernels
