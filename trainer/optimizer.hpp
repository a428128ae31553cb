// Adam state over one flat parameter buffer (moments share the parameter layout), stepped by one
// kernel call; checkpoints store m, v and the step so a resumed run continues exactly.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/ops.hpp"
#include "trainer/config.hpp"

namespace resilinet {

struct AdamState {
  kernels::cpu::AdamConfig config{};
  std::vector<float> m, v;
  int64_t step = 0;

  AdamState() = default;
  AdamState(const OptimizerConfig& c, size_t params)
      : config{float(c.lr), float(c.beta1), float(c.beta2), float(c.eps), float(c.weight_decay)},
        m(params, 0.0f), v(params, 0.0f) {}

  void apply(float* params, const float* grads) {
    kernels::cpu::adam_step(params, grads, m.data(), v.data(), m.size(), config, ++step);
  }
};

}  // namespace resilinet
