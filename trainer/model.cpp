// Model assembly and the shared forward path (encode -> soft assignment -> classifier head).
#include "trainer/model.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>

#include "kernels/ops.hpp"

namespace resilinet {

using kernels::Activation;
using kernels::LayerRequest;

Model assemble_model(const TrainConfig& config, const Schema& schema) {
  Model m;
  m.schema = schema;
  m.clusters = config.clusters.k;
  m.alpha = config.clusters.alpha;
  m.cluster_space = config.clusters.space;
  const int F = int(schema.size());
  const auto systems = schema.systems();
  const int G = int(systems.size());

  std::vector<int> groups(F);
  for (int f = 0; f < F; ++f)
    groups[f] = int(std::find(systems.begin(), systems.end(), schema.features[f].system) - systems.begin());

  const int grouped_width = G * config.encoder.group_width;
  std::vector<LayerRequest> ae;
  ae.push_back({grouped_width, Activation::relu, groups});
  for (int w : config.encoder.hidden) ae.push_back({w, Activation::relu, {}});
  ae.push_back({config.encoder.latent, Activation::linear, {}});
  m.latent_layer = int(ae.size()) - 1;
  std::vector<int> decoder = config.encoder.decoder;
  if (decoder.empty()) {  // mirror the encoder
    decoder.assign(config.encoder.hidden.rbegin(), config.encoder.hidden.rend());
    decoder.push_back(grouped_width);
  }
  for (int w : decoder) ae.push_back({w, Activation::relu, {}});
  ae.push_back({F, Activation::linear, {}});
  m.autoencoder = kernels::MlpLayout::build(F, ae);
  m.autoencoder_params.resize(m.autoencoder.param_count);
  kernels::init_params(m.autoencoder, config.seed * 4 + 1, m.autoencoder_params.data());

  std::vector<LayerRequest> head;
  for (int w : config.classifier.net.hidden) head.push_back({w, Activation::relu, {}});
  head.push_back({m.clusters, Activation::linear, {}});
  m.classifier = kernels::MlpLayout::build(F, head);
  m.classifier_params.resize(m.classifier.param_count);
  kernels::init_params(m.classifier, config.seed * 4 + 2, m.classifier_params.data());

  m.centroids.assign(size_t(m.clusters) * m.cluster_dims(), 0.0f);
  m.cluster_level.resize(m.clusters);
  std::iota(m.cluster_level.begin(), m.cluster_level.end(), 1);
  return m;
}

void levels_from_q(const Model& model, const float* q, size_t rows, int32_t* level) {
  const int K = model.clusters;
  for (size_t r = 0; r < rows; ++r) {
    const float* qr = q + r * K;
    int best = int(std::max_element(qr, qr + K) - qr);
    level[r] = model.cluster_level[best];
  }
}

kernels::MlpLayout Model::decoder() const {
  kernels::MlpLayout d;
  d.layers.assign(autoencoder.layers.begin() + latent_layer + 1, autoencoder.layers.end());
  d.param_count = autoencoder.param_count;
  return d;
}

namespace {

// The forward plans of one pass, packed once and shared by the tiles.
struct ForwardPlans {
  kernels::cpu::MlpForwardPlan encoder;
  std::optional<kernels::cpu::MlpForwardPlan> decoder, head;
  ForwardPlans(const Model& model, bool with_classifier)
      : encoder(model.autoencoder, model.autoencoder_params.data(), model.latent_layer) {
    if (model.clusters_completed()) decoder.emplace(model.decoder(), model.autoencoder_params.data());
    if (with_classifier) head.emplace(model.classifier, model.classifier_params.data());
  }
};

// One tile: z from the encoder and, in the completed space, the scaled row with each missing value
// replaced by the decoder's reconstruction, times the cluster scale.
void space_tile(const Model& model, const ForwardPlans& plans, const float* raw, const float* scaled, size_t n,
                float* z, float* space) {
  plans.encoder.run(scaled, n, z);
  if (!model.clusters_completed()) {
    std::copy(z, z + n * model.latent_dims(), space);
    return;
  }
  const size_t F = size_t(model.features());
  plans.decoder->run(z, n, space);
  const float s = float(model.cluster_scale);
  for (size_t k = 0; k < n * F; ++k)
    space[k] = s * (raw && std::isnan(raw[k]) ? space[k] : scaled[k]);
}

template <class TileFn> void for_each_tile(size_t rows, const TileFn& fn) {
  const size_t tile_rows = kernels::cpu::kTileRows;
  const auto tiles = static_cast<std::ptrdiff_t>((rows + tile_rows - 1) / tile_rows);
#pragma omp parallel for schedule(dynamic) if (tiles > 1)
  for (std::ptrdiff_t t = 0; t < tiles; ++t) {
    const size_t first = size_t(t) * tile_rows;
    fn(first, std::min(tile_rows, rows - first));
  }
}

}  // namespace

void clustering_space(const Model& model, const float* raw, const float* scaled, size_t rows, float* out,
                      float* z) {
  const ForwardPlans plans(model, false);
  const size_t F = size_t(model.features()), d = size_t(model.latent_dims()), D = size_t(model.cluster_dims());
  std::vector<float> z_all;
  if (!z) {
    z_all.resize(rows * d);
    z = z_all.data();
  }
  for_each_tile(rows, [&](size_t first, size_t n) {
    space_tile(model, plans, raw ? raw + first * F : nullptr, scaled + first * F, n, z + first * d, out + first * D);
  });
}

void rate_scaled(const Model& model, const float* raw, const float* scaled, size_t rows, RatingBuffers& out,
                 bool with_classifier) {
  const int d = model.latent_dims();
  const int D = model.cluster_dims();
  const int K = model.clusters;
  out.z.resize(rows * d);
  out.space.resize(rows * D);
  out.q.resize(rows * K);
  out.cluster_level.resize(rows);
  if (with_classifier) {
    out.logits.resize(rows * K);
    out.level.resize(rows);
  }
  // One parallel region per call, each tile of rows going through every step while it is in
  // cache: encoder -> z (-> completed row) -> q -> cluster level, then head -> logits -> level.
  const ForwardPlans plans(model, with_classifier);
  const size_t F = size_t(model.features());
  for_each_tile(rows, [&](size_t first, size_t n) {
    float* space = out.space.data() + first * D;
    float* q = out.q.data() + first * K;
    space_tile(model, plans, raw ? raw + first * F : nullptr, scaled + first * F, n, out.z.data() + first * d, space);
    kernels::cpu::soft_assign(space, n, D, model.centroids.data(), K, float(model.alpha), q);
    levels_from_q(model, q, n, out.cluster_level.data() + first);
    if (!plans.head) return;
    float* logits = out.logits.data() + first * K;
    plans.head->run(scaled + first * F, n, logits);
    for (size_t r = 0; r < n; ++r) {
      const float* lr = logits + r * K;
      out.level[first + r] = int32_t(std::max_element(lr, lr + K) - lr) + 1;
    }
  });
}

}  // namespace resilinet
