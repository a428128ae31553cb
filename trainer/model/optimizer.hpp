// Adam over one flat parameter buffer. AdamState is the host form that checkpoints store (moments
// share the parameter layout, plus the step), so a resumed run continues exactly; OptimizedBuffer
// is the live form: parameters, gradients and moments in the backend's memory, stepped by one
// kernel call.
#pragma once
#include "trainer/model/room.hpp"
#include <cstdint>
#include <functional>
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
  void step() { step(0, size()); }
  // The same step on elements [first, end) alone (a sharded step: each rank its own share; Adam is
  // element-wise, so each element gets what a whole step gives it).
  void step(size_t first, size_t end) {
    ++adam_.step;
    if (end > first)
      backend_.adam_step(params_.data() + first, grads_.data() + first, m_.data() + first, v_.data() + first,
                         end - first, adam_.config, adam_.step);
  }
  // After sharded steps each rank's moments are current only in its own share: moments() then
  // brings in the other shares with `gather` (in place on a host copy; collective, so every rank
  // calls moments() at the same points).
  void gather_moments_with(std::function<void(float* values, size_t count)> gather) { gather_ = std::move(gather); }
  bool gathers_moments() const { return bool(gather_); }
  void set_lr(float lr) { adam_.config.lr = lr; }

  void download_params(std::vector<float>& host) const { params_.download(host); }
  void upload_params(const std::vector<float>& host) { params_.upload(host); }
  // The optimizer in checkpoint form, and back.
  AdamState moments() const {
    AdamState a = adam_;
    m_.download(a.m);
    v_.download(a.v);
    if (gather_) {
      gather_(a.m.data(), a.m.size());
      gather_(a.v.data(), a.v.size());
    }
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
  std::function<void(float*, size_t)> gather_;
};

}  // namespace resilinet
