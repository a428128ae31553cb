// Model assembly and the shared forward path (encode -> soft assignment -> classifier head).
#include "trainer/model.hpp"

#include <algorithm>
#include <numeric>
#include <optional>

#include "kernels/ops.hpp"

namespace resilinet {

using kernels::Activation;
using kernels::LayerRequest;

Model assemble_model(const TrainConfig& config, const Schema& schema) {
  Model m;
  m.schema = schema;
  m.clusters = config.idec.clusters;
  m.alpha = config.idec.alpha;
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

  m.centroids.assign(size_t(m.clusters) * config.encoder.latent, 0.0f);
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

void rate_scaled(const Model& model, const float* scaled, size_t rows, RatingBuffers& out,
                 bool with_classifier) {
  const int d = model.latent_dims();
  const int K = model.clusters;
  out.z.resize(rows * d);
  out.q.resize(rows * K);
  out.cluster_level.resize(rows);
  if (with_classifier) {
    out.logits.resize(rows * K);
    out.level.resize(rows);
  }
  // One parallel region per call, each tile of rows going through every step while it is in
  // cache: encoder -> z -> q -> cluster level, then head -> logits -> level.
  const kernels::cpu::MlpForwardPlan encoder(model.autoencoder, model.autoencoder_params.data(),
                                             model.latent_layer);
  std::optional<kernels::cpu::MlpForwardPlan> head;
  if (with_classifier) head.emplace(model.classifier, model.classifier_params.data());
  const size_t F = size_t(model.features()), tile_rows = kernels::cpu::kTileRows;
  const auto tiles = static_cast<std::ptrdiff_t>((rows + tile_rows - 1) / tile_rows);
#pragma omp parallel for schedule(dynamic) if (tiles > 1)
  for (std::ptrdiff_t t = 0; t < tiles; ++t) {
    const size_t first = size_t(t) * tile_rows, n = std::min(tile_rows, rows - first);
    float* z = out.z.data() + first * d;
    float* q = out.q.data() + first * K;
    encoder.run(scaled + first * F, n, z);
    kernels::cpu::soft_assign(z, n, d, model.centroids.data(), K, float(model.alpha), q);
    levels_from_q(model, q, n, out.cluster_level.data() + first);
    if (!head) continue;
    float* logits = out.logits.data() + first * K;
    head->run(scaled + first * F, n, logits);
    for (size_t r = 0; r < n; ++r) {
      const float* lr = logits + r * K;
      out.level[first + r] = int32_t(std::max_element(lr, lr + K) - lr) + 1;
    }
  }
}

}  // namespace resilinet
