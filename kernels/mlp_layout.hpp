// Shape of a multilayer perceptron whose parameters live in one flat buffer: per layer a weight
// matrix W[out][in] (row-major) and a bias b[out], plus an optional connection mask that makes a
// layer block-diagonal (the encoder's first layer is grouped by feature system).
// Gradients and Adam moments use the same layout. No math here.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace resilinet::kernels {

enum class Activation : int { linear = 0, relu = 1 };

struct LayerShape {
  int in = 0;
  int out = 0;
  Activation act = Activation::linear;
  size_t weight_offset = 0;   // W[out][in]
  size_t bias_offset = 0;     // b[out]
  std::vector<uint8_t> mask;  // empty = dense; else out*in, 1 where the connection exists
};

// How a layer is requested. groups (optional): for each input feature, the index of its group;
// group g's inputs connect only to the g-th contiguous block of `out / groups` hidden units.
struct LayerRequest {
  int out = 0;
  Activation act = Activation::relu;
  std::vector<int> input_groups;
};

struct MlpLayout {
  std::vector<LayerShape> layers;
  size_t param_count = 0;

  int inputs() const { return layers.empty() ? 0 : layers.front().in; }
  int outputs() const { return layers.empty() ? 0 : layers.back().out; }
  int max_width() const;

  // Lays the layers out back to back (W then b per layer) starting at offset 0.
  static MlpLayout build(int inputs, const std::vector<LayerRequest>& requests);
};

// Deterministic initialisation: He-uniform weights for ReLU layers, Glorot-uniform otherwise,
// zero biases; masked-out weights are zero. Same seed -> same bytes.
void init_params(const MlpLayout& layout, uint64_t seed, float* params);

// Zeroes masked-out entries of a gradient (or parameter) buffer.
void apply_mask(const MlpLayout& layout, float* buffer);

}  // namespace resilinet::kernels
