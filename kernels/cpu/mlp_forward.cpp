// Forward-only MLP on the CPU (MlpForwardPlan, mlp_forward), what rating and inference run: the
// weights packed once per plan into column panels that list only the inputs they connect to (so a
// grouped first layer skips its masked-out products), and each tile of rows taken through every
// layer with register-blocked products in the widest vectors the CPU has (16 lanes on AVX-512).
// A dense layer after a ReLU skips, per block of rows, the inputs that are zero in every row of the
// block: about 40% of the default encoder's 192 -> 128 products on a trained model. Each output is
// still the same chain of products in input order, less products that added an exact zero.
// Not training's fused forward-backward (mlp.cpp); the fp64 twin is reference/mlp.cpp.
#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu/float_buffer.hpp"
#include "kernels/cpu/isa.hpp"
#include "kernels/cpu/lanes.hpp"
#include "kernels/cpu/vec.hpp"
#include "kernels/ops.hpp"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

// The vectors only live inside inlined code, so the ABI note about them does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace resilinet::kernels::cpu {
namespace {

constexpr int kPad = 8;    // every width is padded to a multiple of 8 floats
constexpr int kRows = 64;  // rows taken through all layers at once (the tile of mlp_forward and rate)


int round_up(int n, int multiple) { return (n + multiple - 1) / multiple * multiple; }

// What the kernels need to know about an instruction set: vec.hpp's lane traits and the widest
// panel (in vectors).
struct Sse2 : Sse2Lanes {  // no FMA
  static constexpr int kMaxVectors = 3;
};
struct Avx2 : Avx2Lanes {
  static constexpr int kMaxVectors = 3;
};
struct Avx512 {  // 32 registers of 16 lanes; an 8-column remainder runs as one Avx2 vector
  using V = Vec16;
  static constexpr int kLanes = 16;
  static constexpr int kMaxVectors = 4;
  [[gnu::always_inline]] static V splat(const float* p) {
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
    // As for Avx2: {s, s, ...} becomes sixteen masked inserts; this is one vbroadcastss.
    return V(__builtin_ia32_broadcastss512(Vec4{*p, 0, 0, 0}, V{}, 0xffff));
#else
    const float s = *p;
    return V{s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s};
#endif
  }
  static constexpr int block_rows(int nb) { return nb == 4 ? 6 : nb == 3 ? 8 : nb == 2 ? 12 : 16; }
};

// A block of output columns: `vectors` vectors of the instruction set's width (0: the one 8-lane
// remainder of a 16-lane set), computed from the k inputs that connect to any of its columns.
struct Panel {
  int n0 = 0;
  int vectors = 0;
  int k = 0;
  size_t inputs = 0;   // offset of the k input indices in PackedForward::indices
  size_t weights = 0;  // offset of W^T on those inputs, [k][panel width], in the weight storage
};

struct ForwardLayer {
  int in = 0, out = 0, out_pad = 0;
  bool relu = false;
  // The input is the layer before's ReLU output and every panel reads all of it (a dense layer):
  // about half of it is exactly zero, and a block of rows skips the inputs that are zero in all
  // of its rows (a product with zero adds nothing).
  bool skip_zero_inputs = false;
  size_t bias = 0;  // offset of [out_pad] in the weight storage
  std::vector<Panel> panels;
};

struct PackedForward {
  std::vector<ForwardLayer> layers;
  int inputs = 0, max_pad = 0;
  FloatBuffer storage;
  const float* weights = nullptr;
  std::vector<int> indices;
};

// The inputs that connect to any column in [first, end) of layer s (all of them when dense).
std::vector<int> connected_inputs(const LayerShape& s, int first, int end) {
  std::vector<int> inputs;
  for (int i = 0; i < s.in; ++i) {
    bool any = s.mask.empty();
    for (int o = first; o < end && !any; ++o) any = s.mask[size_t(o) * s.in + i] != 0;
    if (any) inputs.push_back(i);
  }
  return inputs;
}

// Panel widths for a run of `vectors` vectors with the same inputs: as wide as allowed, never
// leaving a single vector behind when a split into wider panels exists.
std::vector<int> split_run(int vectors, int max_vectors) {
  std::vector<int> widths;
  while (vectors > 0) {
    int nb = vectors <= max_vectors ? vectors
             : vectors % max_vectors == 1 && max_vectors > 2 ? max_vectors - 1
                                                             : max_vectors;
    widths.push_back(nb);
    vectors -= nb;
  }
  return widths;
}

// Packs layers [0, last_layer] for an instruction set with `lanes` floats per vector.
void pack_forward(const MlpLayout& layout, const float* params, int last_layer, int lanes,
                  int max_vectors, PackedForward& net) {
  net.inputs = layout.inputs();
  net.max_pad = 0;
  std::vector<std::vector<int>> panel_inputs;  // per panel, in order
  size_t floats = 0;
  for (int l = 0; l <= last_layer; ++l) {
    const LayerShape& s = layout.layers[l];
    ForwardLayer f;
    f.in = s.in;
    f.out = s.out;
    f.out_pad = round_up(s.out, kPad);
    f.relu = s.act == Activation::relu;
    f.skip_zero_inputs = l > 0 && layout.layers[l - 1].act == Activation::relu && s.mask.empty() &&
                         s.in <= kMaxZeroColumns;
    f.bias = floats;
    floats += size_t(f.out_pad);
    net.max_pad = std::max(net.max_pad, f.out_pad);
    // Consecutive vectors that connect to the same inputs share panels.
    const int full = f.out_pad / lanes;
    std::vector<std::vector<int>> vector_inputs;
    for (int v = 0; v < full; ++v)
      vector_inputs.push_back(connected_inputs(s, v * lanes, std::min(s.out, (v + 1) * lanes)));
    for (int v = 0; v < full;) {
      int run = 1;
      while (v + run < full && vector_inputs[v + run] == vector_inputs[v]) ++run;
      for (int nb : split_run(run, max_vectors)) {
        Panel p;
        p.n0 = v * lanes;
        p.vectors = nb;
        p.k = int(vector_inputs[v].size());
        p.weights = floats;
        floats += size_t(p.k) * nb * lanes;
        f.panels.push_back(p);
        panel_inputs.push_back(vector_inputs[v]);
        v += nb;
      }
    }
    if (full * lanes < f.out_pad) {  // 8 columns left over by 16-lane vectors
      Panel p;
      p.n0 = full * lanes;
      p.vectors = 0;
      panel_inputs.push_back(connected_inputs(s, p.n0, s.out));
      p.k = int(panel_inputs.back().size());
      p.weights = floats;
      floats += size_t(p.k) * kPad;
      f.panels.push_back(p);
    }
    net.layers.push_back(std::move(f));
  }

  float* w = net.storage.ensure(floats);
  std::memset(w, 0, floats * sizeof(float));
  net.indices.clear();
  size_t panel = 0;
  for (int l = 0; l <= last_layer; ++l) {
    const LayerShape& s = layout.layers[l];
    ForwardLayer& f = net.layers[l];
    std::memcpy(w + f.bias, params + s.bias_offset, sizeof(float) * s.out);
    const float* src = params + s.weight_offset;
    for (Panel& p : f.panels) {
      const std::vector<int>& inputs = panel_inputs[panel++];
      const int width = p.vectors ? p.vectors * lanes : kPad;
      p.inputs = net.indices.size();
      net.indices.insert(net.indices.end(), inputs.begin(), inputs.end());
      for (int k = 0; k < p.k; ++k)
        for (int c = 0; c < width; ++c) {
          const int o = p.n0 + c, i = inputs[k];
          if (o >= s.out) continue;
          const size_t at = size_t(o) * s.in + i;
          if (s.mask.empty() || s.mask[at]) w[p.weights + size_t(k) * width + c] = src[at];
        }
    }
  }
  net.weights = w;
}

using ZeroColumns = ZeroColumnBlocks<kRows>;

// One panel's product on m rows: C = act(bias + sum over the panel's inputs of A(:, i) W^T(i, :)),
// in input order, so every output is the same sum of products as in the dense form.
struct PanelProduct {
  const float* a = nullptr;
  ptrdiff_t lda = 0;
  float* c = nullptr;  // at the panel's first column
  ptrdiff_t ldc = 0;
  int m = 0;
  const float* b = nullptr;  // [k][panel width]
  const int* inputs = nullptr;
  int k = 0;
  const float* bias = nullptr;  // at the panel's first column
  bool relu = false;
  ZeroColumns* zero_columns = nullptr;  // set where the inputs are 0..k-1 and a block of rows
                                        // skips those that are zero in all of its rows
};

// RB rows x NB vectors of C in registers, accumulated over the panel's inputs.
template <class T, int RB, int NB>
[[gnu::always_inline]] inline void panel_block(const PanelProduct& g, int m0) {
  using V = typename T::V;
  constexpr int L = T::kLanes;
  // The unroll pragmas keep acc in registers: GCC does not fully unroll 24 iterations by itself.
  V acc[RB][NB];
#pragma GCC unroll 4
  for (int j = 0; j < NB; ++j) {
    const V init = load<V>(g.bias + j * L);
#pragma GCC unroll 16
    for (int r = 0; r < RB; ++r) acc[r][j] = init;
  }
  const float* a = g.a + m0 * g.lda;
  if (g.zero_columns) {
    const uint64_t* words = g.zero_columns->of_block<T, RB>(a, g.lda, g.k, m0);
    for (int w = 0; w < (g.k + 63) / 64; ++w)
      for (uint64_t bits = words[w]; bits; bits &= bits - 1) {
        const int i = w * 64 + std::countr_zero(bits);
        add_column_product<T, RB, NB>(acc, a + i, g.lda, g.b + size_t(i) * NB * L);
      }
  } else {
    for (int k = 0; k < g.k; ++k) add_column_product<T, RB, NB>(acc, a + g.inputs[k], g.lda, g.b + size_t(k) * NB * L);
  }
#pragma GCC unroll 16
  for (int r = 0; r < RB; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < NB; ++j) {
      V c = acc[r][j];
      if (g.relu) c = c > V{} ? c : V{};
      store(g.c + (m0 + r) * g.ldc + j * L, c);
    }
}

// All m rows: blocks of RB rows, then the remainder in halving blocks.
template <class T, int RB, int NB>
[[gnu::always_inline]] inline void panel_rows(const PanelProduct& g, int m0) {
  for (; m0 + RB <= g.m; m0 += RB) panel_block<T, RB, NB>(g, m0);
  if constexpr (RB > 1)
    if (m0 < g.m) panel_rows<T, RB / 2, NB>(g, m0);
}

template <class T>
[[gnu::always_inline]] inline void panel_product(const Panel& p, const PanelProduct& g) {
  switch (p.vectors) {
    case 0:
      if constexpr (T::kLanes == 16) panel_rows<Avx2, 16, 1>(g, 0);
      break;
    case 1: panel_rows<T, T::block_rows(1), 1>(g, 0); break;
    case 2: panel_rows<T, T::block_rows(2), 2>(g, 0); break;
    case 3: panel_rows<T, T::block_rows(3), 3>(g, 0); break;
    default:
      if constexpr (T::kMaxVectors >= 4) panel_rows<T, T::block_rows(4), 4>(g, 0);
      break;
  }
}

// rows <= kRows of x through every packed layer into y [rows][outputs]; the activations live in
// two [kRows][max_pad] tiles of ws, the first layer reads x and a last layer with a width that is a
// multiple of 8 writes y in place.
template <class T>
[[gnu::always_inline]] inline void forward_rows(const PackedForward& net, const float* x,
                                                size_t rows, float* y, float* ws) {
  const float* a = x;
  ptrdiff_t lda = net.inputs;
  const size_t last = net.layers.size() - 1;
  ZeroColumns zero_columns;
  for (size_t l = 0; l <= last; ++l) {
    const ForwardLayer& f = net.layers[l];
    if (f.skip_zero_inputs) zero_columns.clear();
    const bool in_place = l == last && f.out == f.out_pad;
    float* c = in_place ? y : ws + (l % 2) * size_t(kRows) * net.max_pad;
    const ptrdiff_t ldc = in_place ? f.out : f.out_pad;
    for (const Panel& p : f.panels) {
      PanelProduct g;
      g.a = a;
      g.lda = lda;
      g.c = c + p.n0;
      g.ldc = ldc;
      g.m = int(rows);
      g.b = net.weights + p.weights;
      g.inputs = net.indices.data() + p.inputs;
      g.k = p.k;
      g.bias = net.weights + f.bias + p.n0;
      g.relu = f.relu;
      g.zero_columns = f.skip_zero_inputs ? &zero_columns : nullptr;
      panel_product<T>(p, g);
    }
    a = c;
    lda = ldc;
  }
  const ForwardLayer& top = net.layers[last];
  if (top.out == top.out_pad) return;
  for (size_t r = 0; r < rows; ++r)
    std::memcpy(y + r * top.out, a + r * lda, sizeof(float) * top.out);
}

using ForwardRows = void (*)(const PackedForward&, const float*, size_t, float*, float*);

void forward_rows_baseline(const PackedForward& net, const float* x, size_t rows, float* y,
                           float* ws) {
  forward_rows<Sse2>(net, x, rows, y, ws);
}

#if defined(__x86_64__)
// The same code compiled for AVX2 + FMA and for AVX-512 (16 lanes, 32 registers), chosen at run
// time, so a portable build is fast too.
[[gnu::target("avx2,fma")]] void forward_rows_avx2(const PackedForward& net, const float* x,
                                                   size_t rows, float* y, float* ws) {
  forward_rows<Avx2>(net, x, rows, y, ws);
}
[[gnu::target("avx512f,avx512vl,avx2,fma")]] void forward_rows_avx512(const PackedForward& net,
                                                                      const float* x, size_t rows,
                                                                      float* y, float* ws) {
  forward_rows<Avx512>(net, x, rows, y, ws);
}
#endif

struct IsaChoice {
  ForwardRows fn;
  int lanes, max_vectors;
};

IsaChoice forward_rows_for(Isa isa) {
#if defined(__x86_64__)
  if (isa == Isa::avx512) return {forward_rows_avx512, Avx512::kLanes, Avx512::kMaxVectors};
  if (isa == Isa::avx2) return {forward_rows_avx2, Avx2::kLanes, Avx2::kMaxVectors};
#endif
  (void)isa;
  return {forward_rows_baseline, Sse2::kLanes, Sse2::kMaxVectors};
}

// The activation tiles of the calling thread (one per OpenMP thread inside parallel regions).
float* forward_workspace(size_t floats) {
  thread_local FloatBuffer buffer;
  return buffer.ensure(floats);
}

}  // namespace

struct MlpForwardPlan::Impl {
  PackedForward net;
  ForwardRows fn = nullptr;
};

MlpForwardPlan::MlpForwardPlan(const MlpLayout& layout, const float* params, int stop_layer)
    : impl_(std::make_unique<Impl>()) {
  if (layout.layers.empty()) throw std::invalid_argument("mlp: the layout has no layers");
  const int layers = int(layout.layers.size());
  if (stop_layer < -1 || stop_layer >= layers)
    throw std::invalid_argument("mlp_forward: stop_layer " + std::to_string(stop_layer) +
                                " is outside [-1, " + std::to_string(layers) + ")");
  const IsaChoice isa = forward_rows_for(cpu_isa());
  pack_forward(layout, params, stop_layer < 0 ? layers - 1 : stop_layer, isa.lanes,
               isa.max_vectors, impl_->net);
  impl_->fn = isa.fn;
}

MlpForwardPlan::~MlpForwardPlan() = default;

int MlpForwardPlan::outputs() const { return impl_->net.layers.back().out; }

void MlpForwardPlan::run(const float* x, size_t rows, float* y) const {
  const PackedForward& net = impl_->net;
  const size_t out = size_t(outputs());
  float* ws = forward_workspace(2 * size_t(kRows) * net.max_pad);
  for (size_t first = 0; first < rows; first += kRows)
    impl_->fn(net, x + first * net.inputs, std::min<size_t>(kRows, rows - first), y + first * out,
              ws);
}

void mlp_forward(const MlpLayout& layout, const float* params, const float* x, size_t rows,
                 float* y, int stop_layer) {
  const MlpForwardPlan plan(layout, params, stop_layer);
  if (rows == 0) return;
  const size_t inputs = size_t(layout.inputs()), outputs = size_t(plan.outputs());
  const ptrdiff_t tiles = ptrdiff_t((rows + kTileRows - 1) / kTileRows);
#pragma omp parallel for schedule(dynamic) if (tiles > 1)
  for (ptrdiff_t t = 0; t < tiles; ++t) {
    const size_t first = size_t(t) * kTileRows;
    plan.run(x + first * inputs, std::min(kTileRows, rows - first), y + first * outputs);
  }
}

}  // namespace resilinet::kernels::cpu
