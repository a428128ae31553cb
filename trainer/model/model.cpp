// Model assembly and the shared forward path (encode -> soft assignment -> classifier head).
#include "trainer/model/model.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>

#include "kernels/cpu/cpu_backend.hpp"
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

  // The dense variant keeps the grouped layer's width, so the two differ only in the block structure.
  const int grouped_width = G * config.encoder.group_width;
  if (config.encoder.first_layer == "dense") groups.clear();
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

// The networks of a rating pass on one backend (the decoder only in the completed space).
struct PreparedNets {
  std::unique_ptr<kernels::Network> encoder, decoder, head;
  PreparedNets(const Model& model, kernels::Backend& backend, bool with_classifier) {
    encoder = backend.network(model.autoencoder);
    if (model.clusters_completed()) decoder = backend.network(model.decoder());
    if (with_classifier) head = backend.network(model.classifier);
  }
};

kernels::RatingPass rating_pass(const Model& model, const PreparedNets& nets, const float* autoencoder_params,
                                const float* classifier_params, const float* centroids) {
  kernels::RatingPass p;
  p.encoder = nets.encoder.get();
  p.decoder = nets.decoder.get();
  p.autoencoder_params = autoencoder_params;
  p.latent_layer = model.latent_layer;
  p.completed = model.clusters_completed();
  p.cluster_scale = float(model.cluster_scale);
  p.centroids = centroids;
  p.clusters = model.clusters;
  p.alpha = float(model.alpha);
  p.head = nets.head.get();
  p.head_params = nets.head ? classifier_params : nullptr;
  return p;
}

void size_outputs(const Model& model, size_t rows, RatingBuffers& out, bool with_classifier, bool with_z = true) {
  out.z.resize(with_z ? rows * model.latent_dims() : 0);
  out.space.resize(rows * model.cluster_dims());
  out.q.resize(rows * model.clusters);
  out.cluster_level.resize(rows);
  if (with_classifier) {
    out.logits.resize(rows * model.clusters);
    out.level.resize(rows);
  }
}

void levels_from_logits(const Model& model, size_t rows, RatingBuffers& out) {
  const int K = model.clusters;
  for (size_t r = 0; r < rows; ++r) {
    const float* lr = out.logits.data() + r * K;
    out.level[r] = int32_t(std::max_element(lr, lr + K) - lr) + 1;
  }
}

}  // namespace

struct ModelOnBackend::Nets : PreparedNets {
  using PreparedNets::PreparedNets;
};

ModelOnBackend::ModelOnBackend(const Model& model, kernels::Backend& backend, bool with_classifier)
    : model_(&model), backend_(&backend), nets_(std::make_shared<Nets>(model, backend, with_classifier)),
      autoencoder_params_(backend, model.autoencoder_params), centroids_(backend, model.centroids) {
  if (with_classifier) classifier_params_ = kernels::BackendArray<float>(backend, model.classifier_params);
}

bool ModelOnBackend::has_classifier() const { return nets_->head != nullptr; }

kernels::RatingPass ModelOnBackend::pass() const {
  return rating_pass(*model_, *nets_, autoencoder_params_.data(), classifier_params_.data(), centroids_.data());
}

void clustering_space(const Model& model, const float* raw, const float* scaled, size_t rows, float* out,
                      float* z) {
  // The rating pass without the head; q is computed and dropped (a small share of the pass).
  RatingBuffers scratch;
  rate_scaled(model, raw, scaled, rows, scratch, false);
  std::copy(scratch.space.begin(), scratch.space.end(), out);
  if (z) std::copy(scratch.z.begin(), scratch.z.end(), z);
}

void rate_scaled(const Model& model, const float* raw, const float* scaled, size_t rows, RatingBuffers& out,
                 bool with_classifier) {
  size_outputs(model, rows, out, with_classifier);
  kernels::cpu::CpuBackend& cpu = kernels::cpu::host_backend();
  const PreparedNets nets(model, cpu, with_classifier);
  const kernels::RatingPass pass = rating_pass(model, nets, model.autoencoder_params.data(),
                                               model.classifier_params.data(), model.centroids.data());
  cpu.rate(pass, raw, scaled, rows, out.z.data(), out.space.data(), out.q.data(),
           with_classifier ? out.logits.data() : nullptr);
  levels_from_q(model, out.q.data(), rows, out.cluster_level.data());
  if (with_classifier) levels_from_logits(model, rows, out);
}

size_t mark_not_rated(RatingBuffers& out, size_t rows) {
  if (rows == 0) return 0;
  const size_t d = out.z.size() / rows, K = out.q.size() / rows, S = out.space.size() / rows;
  auto finite = [](const float* v, size_t n) {
    for (size_t j = 0; j < n; ++j)
      if (!std::isfinite(v[j])) return false;
    return true;
  };
  // z may be left out (rate_scaled's with_z): its rows then were checked through the space.
  const bool with_z = d > 0;
  size_t marked = 0;
  for (size_t r = 0; r < rows; ++r) {
    if ((!with_z || finite(out.z.data() + r * d, d)) && finite(out.q.data() + r * K, K) &&
        finite(out.logits.data() + r * K, K) && finite(out.space.data() + r * S, S))
      continue;
    if (with_z) std::fill_n(out.z.data() + r * d, d, 0.0f);
    std::fill_n(out.q.data() + r * K, K, 0.0f);
    std::fill_n(out.logits.data() + r * K, K, 0.0f);
    std::fill_n(out.space.data() + r * S, S, 0.0f);
    out.level[r] = out.cluster_level[r] = kNotRated;
    ++marked;
  }
  return marked;
}

void rate_scaled(const ModelOnBackend& on, const float* raw, const float* scaled, size_t rows, RatingBuffers& out,
                 bool with_classifier, bool with_z) {
  const Model& model = on.model();
  with_classifier = with_classifier && on.has_classifier();
  size_outputs(model, rows, out, with_classifier, with_z);
  kernels::Backend& b = on.backend();
  kernels::RatingPass pass = on.pass();
  if (!with_classifier) pass.head = nullptr;
  const size_t F = size_t(model.features());
  kernels::Staged<float> raw_in(b), scaled_in(b);
  kernels::Landing<float> z(b), space(b), q(b), logits(b);
  b.rate(pass, raw_in.put(raw, rows * F), scaled_in.put(scaled, rows * F), rows, with_z ? z.at(out.z.data(), out.z.size()) : nullptr,
         space.at(out.space.data(), out.space.size()), q.at(out.q.data(), out.q.size()),
         with_classifier ? logits.at(out.logits.data(), out.logits.size()) : nullptr);
  z.get(), space.get(), q.get(), logits.get();
  levels_from_q(model, out.q.data(), rows, out.cluster_level.data());
  if (with_classifier) levels_from_logits(model, rows, out);
}

}  // namespace resilinet
