// The classifier head's levels and relevance on a backend (trainer/explain/head_on_backend.hpp).
#include "trainer/explain/head_on_backend.hpp"

#include <algorithm>
#include <cmath>

namespace resilinet {

HeadOnBackend::HeadOnBackend(const Model& model, kernels::Backend& backend, kernels::LrpComposite composite)
    : model_(model),
      backend_(backend),
      head_(backend.network(model.classifier)),
      params_(backend, model.classifier_params),
      composite_(std::move(composite)),
      x_(backend),
      classes_(backend),
      logits_(backend),
      relevance_(backend),
      gxi_(backend) {}

void HeadOnBackend::levels(const float* scaled, size_t rows, int32_t* level) {
  const size_t F = size_t(model_.features()), K = size_t(model_.clusters);
  logits_host_.resize(rows * K);
  backend_.mlp_forward(*head_, params_.data(), x_.put(scaled, rows * F), rows,
                       logits_.at(logits_host_.data(), logits_host_.size()));
  logits_.get();
  for (size_t i = 0; i < rows; ++i) {
    const float* l = logits_host_.data() + i * K;
    const bool finite = std::all_of(l, l + K, [](float v) { return std::isfinite(v); });
    level[i] = finite ? int32_t(std::max_element(l, l + K) - l) + 1 : kNotRated;
  }
}

void HeadOnBackend::relevance(const float* scaled, size_t rows, const int32_t* seed_class, float* relevance,
                              float* gxi) {
  const size_t F = size_t(model_.features());
  const float* x = x_.put(scaled, rows * F);
  const int32_t* classes = classes_.put(seed_class, rows);
  backend_.lrp(*head_, params_.data(), composite_, x, rows, classes, relevance_.at(relevance, rows * F));
  if (gxi) backend_.gradient_x_input(*head_, params_.data(), x, rows, classes, gxi_.at(gxi, rows * F));
  relevance_.get();
  if (gxi) gxi_.get();
}

}  // namespace resilinet
