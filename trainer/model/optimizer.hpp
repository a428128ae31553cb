// Adam over one flat parameter buffer. AdamState is the host form that checkpoints store (moments
// share the parameter layout, plus the step), so a resumed run continues exactly; OptimizedBuffer
// is the live form: parameters, gradients and moments in the backend's memory, stepped by one
// kernel call.
#pragma once
#include "trainer/model/room.hpp"
#include <cstdint>
#include <vector>

#include "kernels/backend.hpp"
#include "kernels/ops.hpp"
#include "trainer/model/config.hpp"

namespace resilinet {

struct AdamState {
  kernels::AdamConfig config{};
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

// Parameters with their gradients and Adam moments in a backend's memory.
class OptimizedBuffer {
 public:
  OptimizedBuffer(kernels::Backend& backend, const std::vector<float>& params, const OptimizerConfig& optimizer)
      : backend_(backend), params_(backend, params), grads_(backend, params.size()),
        adam_(optimizer, params.size()), m_(backend, adam_.m), v_(backend, adam_.v) {
    adam_.m = {};
    adam_.v = {};
  }

  float* params() { return params_.data(); }
  const float* params() const { return params_.data(); }
  float* grads() { return grads_.data(); }
  size_t size() const { return params_.size(); }

  // One Adam step with the gradients in grads().
  void step() {
    backend_.adam_step(params_.data(), grads_.data(), m_.data(), v_.data(), size(), adam_.config, ++adam_.step);
  }
  void set_lr(float lr) { adam_.config.lr = lr; }

  void download_params(std::vector<float>& host) const { params_.download(host); }
  void upload_params(const std::vector<float>& host) { params_.upload(host); }
  // The optimizer in checkpoint form, and back.
  AdamState moments() const {
    AdamState a = adam_;
    m_.download(a.m);
    v_.download(a.v);
    return a;
  }
  // Moments and step of `from`; the learning rate stays this buffer's.
  void restore(const AdamState& from) {
    adam_.step = from.step;
    m_.upload(from.m);
    v_.upload(from.v);
  }

 private:
  kernels::Backend& backend_;
  kernels::BackendArray<float> params_, grads_;
  AdamState adam_;  // config and step; the moments live in m_ and v_
  kernels::BackendArray<float> m_, v_;
};

}  // namespace resilinet
