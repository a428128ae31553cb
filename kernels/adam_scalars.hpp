// The per-step scalars of Adam, shared by the CPU and CUDA updates so that both round them the
// same way: the bias corrections are folded into the step size on the host, in double.
#pragma once
#include <cmath>
#include <cstdint>
#include <stdexcept>

#include "kernels/ops.hpp"

namespace resilinet::kernels {

struct AdamScalars {
  float beta1, beta2, one_minus_beta1, one_minus_beta2, step_size, inv_sqrt_correction2, eps,
      weight_decay;
};

// Throws std::invalid_argument unless step >= 1.
inline AdamScalars adam_scalars(const AdamConfig& config, int64_t step) {
  if (step < 1) throw std::invalid_argument("adam_step: step counts from 1");
  const double correction1 = 1 - std::pow(double(config.beta1), double(step));
  const double correction2 = 1 - std::pow(double(config.beta2), double(step));
  AdamScalars s;
  s.beta1 = config.beta1;
  s.beta2 = config.beta2;
  s.one_minus_beta1 = float(1 - double(config.beta1));
  s.one_minus_beta2 = float(1 - double(config.beta2));
  s.step_size = float(double(config.lr) / correction1);
  s.inv_sqrt_correction2 = float(1 / std::sqrt(correction2));
  s.eps = config.eps;
  s.weight_decay = config.weight_decay;
  return s;
}

}  // namespace resilinet::kernels
