// Building MLP layouts on a flat parameter buffer, deterministic initialisation and masking.
#include "kernels/mlp_layout.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <string>

namespace resilinet::kernels {

int MlpLayout::max_width() const {
  int w = inputs();
  for (const auto& l : layers) w = std::max(w, l.out);
  return w;
}

MlpLayout MlpLayout::build(int inputs, const std::vector<LayerRequest>& requests) {
  MlpLayout layout;
  int in = inputs;
  size_t offset = 0;
  for (const auto& r : requests) {
    if (r.out <= 0 || in <= 0) throw std::invalid_argument("MlpLayout: layer widths must be positive");
    LayerShape l;
    l.in = in;
    l.out = r.out;
    l.act = r.act;
    l.weight_offset = offset;
    offset += size_t(l.out) * size_t(l.in);
    l.bias_offset = offset;
    offset += size_t(l.out);
    if (!r.input_groups.empty()) {
      if (int(r.input_groups.size()) != in)
        throw std::invalid_argument("MlpLayout: input_groups needs one entry per input");
      int groups = *std::max_element(r.input_groups.begin(), r.input_groups.end()) + 1;
      if (groups <= 0 || r.out % groups != 0)
        throw std::invalid_argument("MlpLayout: grouped layer width " + std::to_string(r.out) +
                                    " must be a multiple of the group count " +
                                    std::to_string(groups));
      int block = r.out / groups;
      l.mask.assign(size_t(l.out) * size_t(l.in), 0);
      for (int o = 0; o < l.out; ++o)
        for (int i = 0; i < l.in; ++i)
          l.mask[size_t(o) * l.in + i] = (r.input_groups[i] == o / block) ? 1 : 0;
    }
    layout.layers.push_back(std::move(l));
    in = r.out;
  }
  layout.param_count = offset;
  return layout;
}

void init_params(const MlpLayout& layout, uint64_t seed, float* params) {
  std::mt19937_64 rng(seed);
  for (const auto& l : layout.layers) {
    // Fan-in counts only connected inputs, so grouped layers get the right scale.
    int fan_in = l.in;
    if (!l.mask.empty()) {
      fan_in = 0;
      for (int i = 0; i < l.in; ++i) fan_in += l.mask[i];
      fan_in = std::max(fan_in, 1);
    }
    double limit = l.act == Activation::relu ? std::sqrt(6.0 / fan_in)
                                             : std::sqrt(6.0 / (fan_in + l.out));
    std::uniform_real_distribution<double> u(-limit, limit);
    for (size_t k = 0; k < size_t(l.out) * l.in; ++k) {
      double w = u(rng);
      params[l.weight_offset + k] = (l.mask.empty() || l.mask[k]) ? float(w) : 0.0f;
    }
    std::fill(params + l.bias_offset, params + l.bias_offset + l.out, 0.0f);
  }
}

void apply_mask(const MlpLayout& layout, float* buffer) {
  for (const auto& l : layout.layers) {
    if (l.mask.empty()) continue;
    for (size_t k = 0; k < l.mask.size(); ++k)
      if (!l.mask[k]) buffer[l.weight_offset + k] = 0.0f;
  }
}

}  // namespace resilinet::kernels
