// fp64 reference of the MLP forward and backward pass: plain loops over rows and layers, no tiling,
// no threads. Tests check kernels/cpu/mlp.cpp against it; it is never used for training.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels/reference/reference.hpp"

namespace resilinet::kernels::reference {
namespace {

// W[o][i] as the layer uses it: masked-out connections count as zero whatever the buffer holds.
double weight(const LayerShape& l, const double* params, int o, int i) {
  size_t k = size_t(o) * l.in + i;
  if (!l.mask.empty() && !l.mask[k]) return 0.0;
  return params[l.weight_offset + k];
}

}  // namespace

std::vector<std::vector<double>> mlp_forward(const MlpLayout& layout, const double* params,
                                             const double* x, size_t rows) {
  std::vector<std::vector<double>> acts(layout.layers.size() + 1);
  acts[0].assign(x, x + rows * size_t(layout.inputs()));
  for (size_t li = 0; li < layout.layers.size(); ++li) {
    const LayerShape& l = layout.layers[li];
    const std::vector<double>& in = acts[li];
    std::vector<double>& out = acts[li + 1];
    out.assign(rows * size_t(l.out), 0.0);
    for (size_t r = 0; r < rows; ++r)
      for (int o = 0; o < l.out; ++o) {
        double z = params[l.bias_offset + o];
        for (int i = 0; i < l.in; ++i) z += weight(l, params, o, i) * in[r * l.in + i];
        out[r * l.out + o] = (l.act == Activation::relu) ? std::max(z, 0.0) : z;
      }
  }
  return acts;
}

double mlp_forward_backward(const MlpLayout& layout, const double* params, const double* x,
                            size_t rows, const LossSpec64& loss, int hook_layer,
                            const double* dz_hook, double* grads) {
  const int layers = int(layout.layers.size());
  std::fill(grads, grads + layout.param_count, 0.0);
  const auto acts = mlp_forward(layout, params, x, rows);
  const int outputs = layout.outputs();
  const std::vector<double>& y = acts[layers];
  const double norm_rows = double(loss.loss_rows ? loss.loss_rows : rows);

  // grad: dLoss/d(output of the current layer), [rows x width].
  std::vector<double> grad(rows * size_t(outputs), 0.0);
  double value = 0;
  if (loss.kind == LossKind::mse) {
    const double scale = loss.weight / (norm_rows * outputs);
    for (size_t k = 0; k < grad.size(); ++k) {
      if (loss.observed && !loss.observed[k]) continue;
      double d = y[k] - loss.target[k];
      value += scale * d * d;
      grad[k] = 2 * scale * d;
    }
  } else if (loss.kind == LossKind::softmax_cross_entropy) {
    const double scale = loss.weight / norm_rows;
    for (size_t r = 0; r < rows; ++r) {
      const double* yr = &y[r * outputs];
      const int label = loss.labels[r];
      if (label < 0 || label >= outputs)
        throw std::invalid_argument("reference::mlp_forward_backward: label out of range");
      double peak = *std::max_element(yr, yr + outputs);
      double denom = 0;
      for (int o = 0; o < outputs; ++o) denom += std::exp(yr[o] - peak);
      double log_denom = std::log(denom);
      value += scale * (peak + log_denom - yr[label]);
      for (int o = 0; o < outputs; ++o)
        grad[r * outputs + o] = scale * (std::exp(yr[o] - peak - log_denom) - (o == label ? 1 : 0));
    }
  }

  for (int li = layers - 1; li >= 0; --li) {
    const LayerShape& l = layout.layers[li];
    if (li == hook_layer && dz_hook)
      for (size_t k = 0; k < grad.size(); ++k) grad[k] += dz_hook[k];
    // ReLU derivative: 1 where the output is positive, 0 elsewhere (0 at 0).
    if (l.act == Activation::relu)
      for (size_t k = 0; k < grad.size(); ++k)
        if (!(acts[li + 1][k] > 0.0)) grad[k] = 0.0;
    const std::vector<double>& in = acts[li];
    std::vector<double> grad_in(rows * size_t(l.in), 0.0);
    for (size_t r = 0; r < rows; ++r)
      for (int o = 0; o < l.out; ++o) {
        const double g = grad[r * l.out + o];
        grads[l.bias_offset + o] += g;
        for (int i = 0; i < l.in; ++i) {
          size_t k = size_t(o) * l.in + i;
          if (!l.mask.empty() && !l.mask[k]) continue;
          grads[l.weight_offset + k] += g * in[r * l.in + i];
          grad_in[r * l.in + i] += g * params[l.weight_offset + k];
        }
      }
    grad = std::move(grad_in);
  }
  return value;
}

}  // namespace resilinet::kernels::reference
