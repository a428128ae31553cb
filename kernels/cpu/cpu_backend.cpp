// The CPU backend: host memory, the fused kernels of kernels/cpu/ as they are. The rating pass
// runs every step of a tile of rows while it is in cache: encoder -> z (-> completed row) -> q,
// then head -> logits.
#include "kernels/cpu/cpu_backend.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <vector>

#include "kernels/cpu/float_buffer.hpp"
#include "kernels/cpu/isa.hpp"

namespace resilinet::kernels::cpu {

namespace {

class CpuNetwork final : public Network {
 public:
  explicit CpuNetwork(const MlpLayout& layout) : layout_(layout) {}
  const MlpLayout& layout() const override { return layout_; }

  // The forward plan of these weights up to stop_layer, packed on the first rating pass and kept
  // for the next ones: packing costs as much as rating a few hundred rows, and a model rates
  // batch after batch with the same weights (RatingPass: they do not change while it lives).
  std::shared_ptr<const MlpForwardPlan> rating_plan(const float* params, int stop_layer) const {
    const Isa isa = cpu_isa();
    const std::lock_guard<std::mutex> lock(mutex_);
    if (!plan_ || plan_params_ != params || plan_stop_ != stop_layer || plan_isa_ != isa) {
      plan_ = std::make_shared<const MlpForwardPlan>(layout_, params, stop_layer);
      plan_params_ = params;
      plan_stop_ = stop_layer;
      plan_isa_ = isa;
    }
    return plan_;
  }
  // finite_input_bound of these weights, kept for the next passes like the plan.
  float input_bound(const float* params, int stop_layer) const {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (bound_params_ != params || bound_stop_ != stop_layer) {
      bound_ = finite_input_bound(layout_, params, stop_layer);
      bound_params_ = params;
      bound_stop_ = stop_layer;
    }
    return bound_;
  }

 private:
  MlpLayout layout_;
  mutable std::mutex mutex_;
  mutable std::shared_ptr<const MlpForwardPlan> plan_;
  mutable const float* plan_params_ = nullptr;
  mutable int plan_stop_ = -1;
  mutable Isa plan_isa_ = Isa::baseline;
  mutable const float* bound_params_ = nullptr;
  mutable int bound_stop_ = -1;
  mutable float bound_ = 0.0f;
};

const MlpLayout& layout_of(const Network& net) { return net.layout(); }

const CpuNetwork& cpu_network(const Network* net) {
  const auto* cpu = dynamic_cast<const CpuNetwork*>(net);
  if (!cpu) throw std::invalid_argument("cpu rate: the rating pass holds a network of another backend");
  return *cpu;
}

// The forward plans of one rating pass, shared by the tiles.
struct RatingPlans {
  std::shared_ptr<const MlpForwardPlan> encoder, decoder, head;
  explicit RatingPlans(const RatingPass& pass)
      : encoder(cpu_network(pass.encoder).rating_plan(pass.autoencoder_params, pass.latent_layer)) {
    if (pass.completed) decoder = cpu_network(pass.decoder).rating_plan(pass.autoencoder_params, -1);
    if (pass.head) head = cpu_network(pass.head).rating_plan(pass.head_params, -1);
  }
};

// Rows of a tile that go through a network on their own, gathered into a block.
struct GatheredRows {
  std::vector<uint32_t> rows;
  FloatBuffer x, z, decoded;
};
GatheredRows& gathered_rows() {
  thread_local GatheredRows g;
  return g;
}

bool has_gap(const float* raw_row, size_t F) {
  return std::any_of(raw_row, raw_row + F, [](float v) { return std::isnan(v); });
}

// The completed space of n rows: each scaled row (times scale), the listed rows' missing values
// replaced by the decoder's reconstruction from their z (zg, one row of d per listed row). Only
// rows with a missing value need listing: a row's outputs do not depend on the rows beside it,
// and on real data most rows are complete, so the decoder, about as costly as the encoder, mostly
// has nothing to do.
void complete_rows(const MlpForwardPlan& decoder, const float* x, const float* raw, const std::vector<uint32_t>& rows,
                   const float* zg, size_t n, size_t F, float scale, float* out, FloatBuffer& decoded) {
  for (size_t k = 0; k < n * F; ++k) out[k] = scale * x[k];
  if (rows.empty() || !raw) return;
  float* rec = decoded.ensure(rows.size() * F);
  decoder.run(zg, rows.size(), rec);
  for (size_t i = 0; i < rows.size(); ++i) {
    const size_t r = rows[i];
    for (size_t f = 0; f < F; ++f)
      if (std::isnan(raw[r * F + f])) out[r * F + f] = scale * rec[i * F + f];
  }
}

// A completed-space tile whose z [n x d] the encoder has written: the rows with a gap are decoded.
void complete_rows_with_z(const RatingPlans& plans, const float* x, const float* raw, const float* z, size_t n,
                          size_t F, size_t d, float scale, float* out) {
  GatheredRows& g = gathered_rows();
  g.rows.clear();
  for (size_t r = 0; raw && r < n; ++r)
    if (has_gap(raw + r * F, F)) g.rows.push_back(uint32_t(r));
  float* zg = g.z.ensure(g.rows.size() * d);
  for (size_t i = 0; i < g.rows.size(); ++i) std::copy_n(z + size_t(g.rows[i]) * d, d, zg + i * d);
  complete_rows(*plans.decoder, x, raw, g.rows, zg, n, F, scale, out, g.decoded);
}

// A completed-space tile without z for the caller: the encoder runs on the rows with a missing
// value (their reconstruction needs z) and on those with a value beyond `bound` (their z might
// not be finite, which makes them not rated); the others' outputs do not depend on z.
void complete_rows_without_z(const RatingPlans& plans, const float* x, const float* raw, size_t n, size_t F, size_t d,
                             float scale, float bound, float* out) {
  GatheredRows& g = gathered_rows();
  g.rows.clear();
  for (size_t r = 0; r < n; ++r) {
    const float* row = x + r * F;
    const bool within = std::all_of(row, row + F, [bound](float v) { return std::fabs(v) <= bound; });
    if (!within || (raw && has_gap(raw + r * F, F))) g.rows.push_back(uint32_t(r));
  }
  const size_t m = g.rows.size();
  float* xg = g.x.ensure(m * F);
  for (size_t i = 0; i < m; ++i) std::copy_n(x + size_t(g.rows[i]) * F, F, xg + i * F);
  float* zg = g.z.ensure(m * d);
  if (m > 0) plans.encoder->run(xg, m, zg);
  complete_rows(*plans.decoder, x, raw, g.rows, zg, n, F, scale, out, g.decoded);
  for (size_t i = 0; i < m; ++i)
    if (!std::all_of(zg + i * d, zg + (i + 1) * d, [](float v) { return std::isfinite(v); }))
      std::fill_n(out + size_t(g.rows[i]) * F, F, std::numeric_limits<float>::quiet_NaN());
}

}  // namespace

void rate(const RatingPass& pass, const float* raw, const float* scaled, size_t rows, float* z,
          float* space, float* q, float* logits) {
  const RatingPlans plans(pass);
  const size_t F = size_t(layout_of(*pass.encoder).inputs());
  const size_t d = size_t(plans.encoder->outputs());
  const size_t D = pass.completed ? F : d;
  const size_t K = size_t(pass.clusters);
  const bool skip_encoder = !z && pass.completed;
  const float bound = skip_encoder ? cpu_network(pass.encoder).input_bound(pass.autoencoder_params, pass.latent_layer) : 0.0f;
  const auto tiles = static_cast<std::ptrdiff_t>((rows + kTileRows - 1) / kTileRows);
#pragma omp parallel for schedule(dynamic) if (tiles > 1)
  for (std::ptrdiff_t t = 0; t < tiles; ++t) {
    const size_t first = size_t(t) * kTileRows, n = std::min(kTileRows, rows - first);
    const float* x = scaled + first * F;
    const float* raw_t = raw ? raw + first * F : nullptr;
    float* st = space + first * D;
    if (skip_encoder) {
      complete_rows_without_z(plans, x, raw_t, n, F, d, pass.cluster_scale, bound, st);
    } else {
      thread_local FloatBuffer own_z;  // z not wanted, in the latent space: it is the space
      float* zt = z ? z + first * d : own_z.ensure(n * d);
      plans.encoder->run(x, n, zt);
      if (pass.completed)
        complete_rows_with_z(plans, x, raw_t, zt, n, F, d, pass.cluster_scale, st);
      else
        std::copy(zt, zt + n * d, st);
    }
    soft_assign(st, n, int(D), pass.centroids, int(K), pass.alpha, q + first * K);
    if (plans.head) plans.head->run(x, n, logits + first * K);
  }
}

float finite_input_bound(const MlpLayout& layout, const float* params, int stop_layer) {
  // Every output's magnitude is at most a * B + c; the margin leaves the sums' rounding room.
  constexpr double kLimit = 1e30;
  double a = 1, c = 0;
  const size_t last = stop_layer < 0 ? layout.layers.size() : size_t(stop_layer) + 1;
  for (size_t l = 0; l < last && l < layout.layers.size(); ++l) {
    const LayerShape& s = layout.layers[l];
    double next_a = 0, next_c = 0;
    for (int o = 0; o < s.out; ++o) {
      double weights = 0;
      for (int i = 0; i < s.in; ++i)
        if (s.mask.empty() || s.mask[size_t(o) * s.in + i]) weights += std::fabs(double(params[s.weight_offset + size_t(o) * s.in + i]));
      const double bias = std::fabs(double(params[s.bias_offset + o]));
      if (!std::isfinite(weights) || !std::isfinite(bias)) return -1.0f;
      next_a = std::max(next_a, weights * a);
      next_c = std::max(next_c, weights * c + bias);
    }
    a = next_a;
    c = next_c;
  }
  if (!(c < kLimit)) return -1.0f;
  const double bound = a > 0 ? (kLimit - c) / a : std::numeric_limits<double>::infinity();
  return float(std::min<double>(bound, std::numeric_limits<float>::max()));
}

std::string CpuBackend::describe() const { return std::string("cpu (") + isa_name(cpu_isa()) + ")"; }

void* CpuBackend::allocate(size_t bytes) {
  // 64-byte aligned like the kernels' own buffers.
  void* p = std::aligned_alloc(64, (std::max<size_t>(bytes, 1) + 63) / 64 * 64);
  if (!p) throw std::bad_alloc();
  return p;
}
void CpuBackend::release(void* p) noexcept { std::free(p); }
void CpuBackend::upload(void* device, const void* host, size_t bytes) { std::memcpy(device, host, bytes); }
void CpuBackend::download(void* host, const void* device, size_t bytes) { std::memcpy(host, device, bytes); }
void CpuBackend::copy(void* to, const void* from, size_t bytes) { std::memmove(to, from, bytes); }
void CpuBackend::fill_zero(void* p, size_t bytes) { std::memset(p, 0, bytes); }

std::unique_ptr<Network> CpuBackend::network(const MlpLayout& layout) {
  return std::make_unique<CpuNetwork>(layout);
}

void CpuBackend::mlp_forward(const Network& net, const float* params, const float* x, size_t rows, float* y,
                             int stop_layer) {
  cpu::mlp_forward(layout_of(net), params, x, rows, y, stop_layer);
}

void CpuBackend::mlp_forward_backward(const Network& net, const float* params, const float* x, size_t rows,
                                      const LossSpec& loss, const LatentLoss* latent, float* grads, double* loss_out) {
  *loss_out = cpu::mlp_forward_backward(layout_of(net), params, x, rows, loss, latent, grads);
}

void CpuBackend::mlp_forward_backward_tiles(const Network& net, const float* params, const float* x, size_t rows,
                                            const LossSpec& loss, const LatentLoss* latent, const TileGradients& tiles,
                                            double* loss_out) {
  *loss_out = cpu::mlp_forward_backward_tiles(layout_of(net), params, x, rows, loss, latent, tiles);
}

void CpuBackend::adam_step(float* params, const float* grads, float* m, float* v, size_t n,
                           const AdamConfig& config, int64_t step) {
  cpu::adam_step(params, grads, m, v, n, config, step);
}

void CpuBackend::soft_assign(const float* z, size_t rows, int dims, const float* mu, int clusters, float alpha,
                             float* q) {
  cpu::soft_assign(z, rows, dims, mu, clusters, alpha, q);
}

double CpuBackend::kmeans_assign(const float* x, size_t rows, int dims, const float* centroids, int clusters,
                                 int32_t* labels, double* sums, int64_t* counts) {
  return cpu::kmeans_assign(x, rows, dims, centroids, clusters, labels, sums, counts);
}

KMeansResult CpuBackend::kmeans(const float* x, size_t rows, int dims, const KMeansOptions& options) {
  return cpu::kmeans(x, rows, dims, options);
}

CpuBackend& host_backend() {
  static CpuBackend backend;
  return backend;
}

void CpuBackend::rate(const RatingPass& pass, const float* raw, const float* scaled, size_t rows, float* z,
                      float* space, float* q, float* logits) {
  cpu::rate(pass, raw, scaled, rows, z, space, q, logits);
}

void CpuBackend::lrp(const Network& net, const float* params, const LrpComposite& composite, const float* x,
                     size_t rows, const int32_t* classes, float* relevance, float* logits) {
  cpu::lrp(layout_of(net), params, composite, x, rows, classes, relevance, logits);
}

void CpuBackend::gradient_x_input(const Network& net, const float* params, const float* x, size_t rows,
                                  const int32_t* classes, float* out, float* logits) {
  cpu::gradient_x_input(layout_of(net), params, x, rows, classes, out, logits);
}

}  // namespace resilinet::kernels::cpu
