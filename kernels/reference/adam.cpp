// fp64 reference of one Adam step with bias correction and optional L2 weight decay: the textbook
// formula, one element at a time. Tests check kernels/cpu/adam.cpp against it.
#include <cmath>
#include <stdexcept>

#include "kernels/reference/reference.hpp"

namespace resilinet::kernels::reference {

void adam_step(double* params, const double* grads, double* m, double* v, size_t n,
               const cpu::AdamConfig& config, int64_t step) {
  if (step < 1) throw std::invalid_argument("reference::adam_step: step counts from 1");
  const double beta1 = config.beta1, beta2 = config.beta2;
  const double correction1 = 1 - std::pow(beta1, double(step));
  const double correction2 = 1 - std::pow(beta2, double(step));
  for (size_t i = 0; i < n; ++i) {
    const double g = grads[i] + double(config.weight_decay) * params[i];
    m[i] = beta1 * m[i] + (1 - beta1) * g;
    v[i] = beta2 * v[i] + (1 - beta2) * g * g;
    const double m_hat = m[i] / correction1;
    const double v_hat = v[i] / correction2;
    params[i] -= double(config.lr) * m_hat / (std::sqrt(v_hat) + double(config.eps));
  }
}

}  // namespace resilinet::kernels::reference
