// Tests of the fused MLP kernels: the CPU form against the fp64 reference (forward, loss, every
// gradient; odd shapes, grouped layers, both losses, the latent IDEC loss, every instruction set), the
// reference against finite differences, masking, and bitwise determinism across thread counts.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "isa_support.hpp"
#include "random_data.hpp"

#include "kernels/ops.hpp"
#include "kernels/reference/reference.hpp"

namespace resilinet::kernels {
namespace {

using resilinet::testing::random_labels;
using resilinet::testing::random_params;
using resilinet::testing::random_values;
using resilinet::testing::to_double;

using resilinet::testing::instruction_sets;
using resilinet::testing::ScopedIsa;

using Act = Activation;

MlpLayout autoencoder_layout(int features) {
  std::vector<int> groups(features);
  for (int i = 0; i < features; ++i) groups[i] = i * 3 / features;  // three feature systems
  return MlpLayout::build(features, {{48, Act::relu, groups},
                                     {32, Act::relu, {}},
                                     {8, Act::linear, {}},
                                     {32, Act::relu, {}},
                                     {48, Act::relu, {}},
                                     {features, Act::linear, {}}});
}

MlpLayout classifier_layout() {
  return MlpLayout::build(12, {{64, Act::relu, {}}, {32, Act::relu, {}}, {5, Act::linear, {}}});
}

// Odd widths everywhere, a grouped first layer whose groups are not contiguous, a ReLU output.
MlpLayout odd_layout() {
  std::vector<int> groups = {0, 2, 1, 0, 2, 1, 0, 0, 1, 2, 2, 1, 0};
  return MlpLayout::build(
      13, {{15, Act::relu, groups}, {7, Act::relu, {}}, {13, Act::linear, {}}, {9, Act::relu, {}}});
}

// max|a - b| / max|b|: the error relative to the block's largest entry.
double relative_error(const float* a, const double* b, size_t n) {
  double diff = 0, scale = 0;
  for (size_t k = 0; k < n; ++k) {
    diff = std::max(diff, std::abs(double(a[k]) - b[k]));
    scale = std::max(scale, std::abs(b[k]));
  }
  return scale > 0 ? diff / scale : diff;
}

class ScopedThreads {
 public:
  explicit ScopedThreads(int n) : old_(omp_get_max_threads()) { omp_set_num_threads(n); }
  ~ScopedThreads() { omp_set_num_threads(old_); }

 private:
  int old_;
};

constexpr double kTolerance = 1e-5;
constexpr int kLatentClusters = 3;

struct Case {
  std::string name;
  MlpLayout layout;
  size_t rows;
  LossKind loss;
  int hook_layer;  // the layer of the latent loss; -1: none
  size_t loss_rows = 0;
  bool masked = false;  // mse with about a third of the target values unobserved
};

std::vector<Case> comparison_cases() {
  const MlpLayout ae = autoencoder_layout(12);
  const MlpLayout odd = odd_layout();
  const MlpLayout head = classifier_layout();
  return {
      {"autoencoder mse, 1000 rows", ae, 1000, LossKind::mse, -1},
      {"autoencoder mse + latent loss, 1024 rows", ae, 1024, LossKind::mse, 2},
      {"autoencoder latent loss only, 65 rows", ae, 65, LossKind::none, 2},
      {"autoencoder mse, 1 row, loss_rows 10", ae, 1, LossKind::mse, -1, 10},
      {"autoencoder F=7 mse + latent loss, 63 rows", autoencoder_layout(7), 63, LossKind::mse, 2},
      {"autoencoder masked mse + latent loss, 200 rows", ae, 200, LossKind::mse, 2, 0, true},
      {"classifier cross entropy, 1000 rows", head, 1000, LossKind::softmax_cross_entropy, -1},
      {"classifier cross entropy + latent loss, 64 rows", head, 64, LossKind::softmax_cross_entropy, 1},
      {"odd widths mse + latent loss on the output, 65 rows", odd, 65, LossKind::mse, 3},
      {"odd widths cross entropy + latent loss, 129 rows", odd, 129, LossKind::softmax_cross_entropy, 0},
  };
}

// Runs the CPU kernel and the fp64 reference on one case and checks loss, gradients and the hook.
void check_against_reference(const Case& c, uint64_t seed) {
  SCOPED_TRACE(c.name);
  const MlpLayout& layout = c.layout;
  const int inputs = layout.inputs(), outputs = layout.outputs();
  const auto params = random_params(layout, seed);
  const auto x = random_values(c.rows * inputs, seed + 2);
  const auto target = random_values(c.rows * outputs, seed + 3);
  const auto labels = random_labels(c.rows, outputs, seed + 4);

  std::vector<uint8_t> observed(c.rows * outputs);
  for (size_t k = 0; k < observed.size(); ++k) observed[k] = (k * 7919 + seed) % 3 != 0;
  LossSpec loss{c.loss, 0.7f, target.data(), labels.data(), c.loss_rows,
                c.masked ? observed.data() : nullptr};
  // The IDEC loss at layer hook_layer: centroids, frequencies and weight of its own.
  const int width = c.hook_layer >= 0 ? layout.layers[c.hook_layer].out : 0;
  const auto centroids = random_values(size_t(kLatentClusters) * width, seed + 5, -1.0f, 1.0f);
  const std::vector<double> frequency = {0.2 * double(c.rows), 0.5 * double(c.rows), 0.3 * double(c.rows)};
  std::vector<float> dmu(centroids.size(), std::nanf(""));  // must be overwritten
  LatentLoss latent;
  latent.layer = c.hook_layer;
  latent.centroids = centroids.data();
  latent.clusters = kLatentClusters;
  latent.alpha = 1.0f;
  latent.frequency = frequency.data();
  latent.weight = 0.6f;
  latent.dmu = dmu.data();
  std::vector<float> grads(layout.param_count, std::nanf(""));  // must be overwritten
  const double value = cpu::mlp_forward_backward(layout, params.data(), x.data(), c.rows, loss,
                                                 c.hook_layer >= 0 ? &latent : nullptr, grads.data());

  const auto params64 = to_double(params);
  const auto x64 = to_double(x);
  const auto target64 = to_double(target);
  std::vector<double> dz_hook, dmu64(centroids.size(), 0.0);
  double expected = 0;
  if (c.hook_layer >= 0) {
    const auto acts = reference::mlp_forward(layout, params64.data(), x64.data(), c.rows);
    const auto mu64 = to_double(centroids);
    dz_hook.assign(c.rows * width, 0.0);
    expected += reference::kl_target_loss_grad(acts[c.hook_layer + 1].data(), c.rows, width, mu64.data(),
                                               kLatentClusters, 1.0, frequency.data(), 0.6, c.rows,
                                               dz_hook.data(), dmu64.data());
  }
  reference::LossSpec64 loss64{c.loss, 0.7, target64.data(), labels.data(), c.loss_rows,
                               c.masked ? observed.data() : nullptr};
  std::vector<double> grads64(layout.param_count);
  expected += reference::mlp_forward_backward(
      layout, params64.data(), x64.data(), c.rows, loss64, c.hook_layer,
      dz_hook.empty() ? nullptr : dz_hook.data(), grads64.data());

  EXPECT_NEAR(value, expected, kTolerance * std::max(1e-3, std::abs(expected)));
  for (size_t l = 0; l < layout.layers.size(); ++l) {
    const auto& s = layout.layers[l];
    EXPECT_LE(relative_error(grads.data() + s.weight_offset, grads64.data() + s.weight_offset,
                             size_t(s.out) * s.in),
              kTolerance)
        << "dW of layer " << l;
    EXPECT_LE(relative_error(grads.data() + s.bias_offset, grads64.data() + s.bias_offset, s.out),
              kTolerance)
        << "db of layer " << l;
  }
  if (c.hook_layer >= 0)
    EXPECT_LE(relative_error(dmu.data(), dmu64.data(), dmu.size()), kTolerance) << "dmu";
}

TEST(MlpForwardBackward, MatchesReferenceOnEveryCase) {
  for (const std::string& isa : instruction_sets()) {
    SCOPED_TRACE(std::string("RESILINET_CPU_ISA=") + isa);
    ScopedIsa scoped(isa);
    uint64_t seed = 100;
    for (const auto& c : comparison_cases()) check_against_reference(c, seed += 10);
  }
}

// An unobserved target value adds nothing: changing it leaves loss and gradients bitwise equal,
// and an all-observed mask is the same as no mask.
TEST(MlpForwardBackward, UnobservedTargetsAreIgnored) {
  const MlpLayout layout = autoencoder_layout(12);
  const auto params = random_params(layout, 51);
  const size_t rows = 300;
  const auto x = random_values(rows * 12, 52);
  auto target = x;
  std::vector<uint8_t> observed(target.size(), 1);
  auto run = [&](const uint8_t* mask, std::vector<float>& grads) {
    LossSpec loss{LossKind::mse, 1.0f, target.data(), nullptr, 0, mask};
    return cpu::mlp_forward_backward(layout, params.data(), x.data(), rows, loss, nullptr, grads.data());
  };
  std::vector<float> plain(layout.param_count), all(layout.param_count);
  const double plain_loss = run(nullptr, plain), all_loss = run(observed.data(), all);
  EXPECT_EQ(plain_loss, all_loss);
  EXPECT_EQ(0, std::memcmp(plain.data(), all.data(), plain.size() * sizeof(float)));

  for (size_t k = 5; k < observed.size(); k += 11) observed[k] = 0;
  std::vector<float> before(layout.param_count), after(layout.param_count);
  const double loss_before = run(observed.data(), before);
  for (size_t k = 5; k < observed.size(); k += 11) target[k] += 100.0f;
  const double loss_after = run(observed.data(), after);
  EXPECT_EQ(loss_before, loss_after);
  EXPECT_EQ(0, std::memcmp(before.data(), after.data(), before.size() * sizeof(float)));
  EXPECT_LT(loss_before, plain_loss);  // the masked values did count before they were masked
}

TEST(MlpForward, MatchesReferenceIncludingStopLayer) {
  struct Shape {
    MlpLayout layout;
    size_t rows;
    int stop_layer;
  };
  const std::vector<Shape> shapes = {
      {classifier_layout(), 1000, -1}, {classifier_layout(), 1, -1},
      {autoencoder_layout(12), 65, 2}, {autoencoder_layout(12), 64, -1},
      {odd_layout(), 63, -1},          {odd_layout(), 130, 1}};
  for (const std::string& isa : instruction_sets()) {
    ScopedIsa scoped(isa);
    uint64_t seed = 7;
    for (const auto& s : shapes) {
      SCOPED_TRACE(std::string(isa) + ", rows " + std::to_string(s.rows) + ", stop " +
                   std::to_string(s.stop_layer));
      const auto params = random_params(s.layout, ++seed);
      const auto x = random_values(s.rows * s.layout.inputs(), ++seed, -1.0f, 2.0f);
      const int last = s.stop_layer < 0 ? int(s.layout.layers.size()) - 1 : s.stop_layer;
      const size_t width = size_t(s.layout.layers[last].out);
      std::vector<float> y(s.rows * width + 1, 12345.0f);  // the extra entry must stay untouched
      cpu::mlp_forward(s.layout, params.data(), x.data(), s.rows, y.data(), s.stop_layer);
      const auto p64 = to_double(params);
      const auto x64 = to_double(x);
      const auto acts = reference::mlp_forward(s.layout, p64.data(), x64.data(), s.rows);
      EXPECT_LE(relative_error(y.data(), acts[last + 1].data(), s.rows * width), kTolerance);
      EXPECT_EQ(y.back(), 12345.0f);
    }
  }
}

// The rating model's encoder shape: three systems of 64 units (features interleaved), a wide
// fusion layer, an 8-wide latent; plus widths that leave 8 columns over a 16-lane vector.
MlpLayout wide_grouped_layout(bool grouped) {
  std::vector<int> groups = {0, 1, 2, 0, 1, 2, 2, 1, 0, 0, 1, 2};
  if (!grouped) groups.clear();
  return MlpLayout::build(12, {{192, Act::relu, groups}, {128, Act::relu, {}}, {8, Act::linear, {}},
                               {40, Act::relu, {}}, {24, Act::linear, {}}});
}

// The forward pass computes a grouped layer only on the inputs each output connects to. Skipping
// the masked-out products must give the same bits as the dense layer with those weights at zero.
TEST(MlpForward, GroupedLayerGivesTheBitsOfTheDenseLayerWithZeros) {
  const MlpLayout grouped = wide_grouped_layout(true), dense = wide_grouped_layout(false);
  auto params = random_params(grouped, 21);
  const auto& first = grouped.layers[0];
  for (size_t k = 0; k < first.mask.size(); ++k)
    if (!first.mask[k]) params[first.weight_offset + k] = 0.0f;
  for (const std::string& isa : instruction_sets()) {
    ScopedIsa scoped(isa);
    for (size_t rows : {size_t(1), size_t(63), size_t(64), size_t(130)}) {
      for (int stop : {2, -1}) {
        SCOPED_TRACE(isa + ", rows " + std::to_string(rows) + ", stop " + std::to_string(stop));
        const auto x = random_values(rows * 12, 22, -1.0f, 2.0f);
        const int last = stop < 0 ? int(grouped.layers.size()) - 1 : stop;
        const size_t width = size_t(grouped.layers[last].out);
        std::vector<float> y_grouped(rows * width), y_dense(rows * width);
        cpu::mlp_forward(grouped, params.data(), x.data(), rows, y_grouped.data(), stop);
        cpu::mlp_forward(dense, params.data(), x.data(), rows, y_dense.data(), stop);
        EXPECT_EQ(0, std::memcmp(y_grouped.data(), y_dense.data(), y_grouped.size() * sizeof(float)));
        const auto acts = reference::mlp_forward(grouped, to_double(params).data(), to_double(x).data(), rows);
        EXPECT_LE(relative_error(y_grouped.data(), acts[last + 1].data(), rows * width), kTolerance);
      }
    }
  }
}

// A dense layer after a ReLU skips, for each block of rows, the inputs that are zero in all of
// them. The same layer with an all-ones mask reads every input: both must give the same bits, on
// inputs where whole units are dead (every row zero) and others are zero in some rows.
TEST(MlpForward, SkippedZeroInputsGiveTheBitsOfTheFullSum) {
  const MlpLayout skipping = wide_grouped_layout(false);
  MlpLayout reading_all = skipping;
  for (size_t l : {size_t(1), size_t(3)})
    reading_all.layers[l].mask.assign(size_t(reading_all.layers[l].out) * size_t(reading_all.layers[l].in), 1);
  auto params = random_params(skipping, 41);
  const auto& first = skipping.layers[0];
  for (int o = 0; o < first.out; o += 3) params[first.bias_offset + size_t(o)] = -50.0f;  // dead units
  for (const std::string& isa : instruction_sets()) {
    ScopedIsa scoped(isa);
    for (size_t rows : {size_t(1), size_t(7), size_t(64), size_t(130)}) {
      SCOPED_TRACE(isa + ", rows " + std::to_string(rows));
      const auto x = random_values(rows * 12, 42, -1.0f, 2.0f);
      std::vector<float> y_skip(rows * 24), y_all(rows * 24);
      cpu::mlp_forward(skipping, params.data(), x.data(), rows, y_skip.data());
      cpu::mlp_forward(reading_all, params.data(), x.data(), rows, y_all.data());
      EXPECT_EQ(0, std::memcmp(y_skip.data(), y_all.data(), y_skip.size() * sizeof(float)));
      const auto acts = reference::mlp_forward(skipping, to_double(params).data(), to_double(x).data(), rows);
      EXPECT_LE(relative_error(y_skip.data(), acts.back().data(), rows * 24), kTolerance);
      size_t zeros = 0;  // the dead units really are zero in every row
      for (size_t r = 0; r < rows; ++r) zeros += acts[1][r * 192] == 0.0;
      EXPECT_EQ(zeros, rows);
    }
  }
}

// Each output is the same chain of fused multiply-adds whatever the vector width, so AVX2 and
// AVX-512 give the same bits (the SSE2 baseline has no FMA and rounds differently).
TEST(MlpForward, SameBitsOnEveryFmaInstructionSet) {
  std::vector<std::string> fma;
  for (const std::string& isa : instruction_sets())
    if (isa != "baseline") fma.push_back(isa);
  if (fma.size() < 2) GTEST_SKIP() << "this CPU runs fewer than two FMA instruction sets";
  const std::vector<MlpLayout> layouts = {wide_grouped_layout(true), classifier_layout(), odd_layout()};
  uint64_t seed = 30;
  for (const MlpLayout& layout : layouts) {
    const size_t rows = 150;
    const auto params = random_params(layout, ++seed);
    const auto x = random_values(rows * layout.inputs(), ++seed, -1.0f, 2.0f);
    std::vector<std::vector<float>> y;
    for (const std::string& isa : fma) {
      ScopedIsa scoped(isa);
      y.emplace_back(rows * layout.outputs());
      cpu::mlp_forward(layout, params.data(), x.data(), rows, y.back().data());
    }
    for (size_t i = 1; i < y.size(); ++i)
      EXPECT_EQ(0, std::memcmp(y[0].data(), y[i].data(), y[0].size() * sizeof(float))) << fma[i];
  }
}

TEST(MlpForward, RejectsBadStopLayer) {
  const MlpLayout layout = classifier_layout();
  std::vector<float> params(layout.param_count), x(12), y(64);
  EXPECT_THROW(cpu::mlp_forward(layout, params.data(), x.data(), 1, y.data(), 3),
               std::invalid_argument);
  EXPECT_THROW(cpu::mlp_forward(layout, params.data(), x.data(), 1, y.data(), -2),
               std::invalid_argument);
}

TEST(MlpForward, RejectsUnknownInstructionSet) {
  const MlpLayout layout = classifier_layout();
  std::vector<float> params(layout.param_count), x(12), y(5);
  ScopedIsa scoped("sse5");
  EXPECT_THROW(cpu::mlp_forward(layout, params.data(), x.data(), 1, y.data()),
               std::invalid_argument);
}

TEST(MlpForwardBackward, RejectsLabelsOutOfRange) {
  const MlpLayout layout = classifier_layout();
  std::vector<float> params(layout.param_count), x(24), grads(layout.param_count);
  std::vector<int32_t> labels = {0, 5};
  LossSpec loss{LossKind::softmax_cross_entropy, 1.0f, nullptr, labels.data(), 0};
  EXPECT_THROW(
      cpu::mlp_forward_backward(layout, params.data(), x.data(), 2, loss, nullptr, grads.data()),
      std::invalid_argument);
}

TEST(MlpForwardBackward, MaskedEntriesAreZeroAndIgnored) {
  const MlpLayout layout = autoencoder_layout(12);
  const auto& first = layout.layers[0];
  ASSERT_FALSE(first.mask.empty());
  const size_t rows = 200;
  auto params = random_params(layout, 5);
  const auto x = random_values(rows * 12, 6);
  LossSpec loss{LossKind::mse, 1.0f, x.data(), nullptr, 0};

  std::vector<float> grads(layout.param_count), y(rows * 12);
  const double value =
      cpu::mlp_forward_backward(layout, params.data(), x.data(), rows, loss, nullptr, grads.data());
  cpu::mlp_forward(layout, params.data(), x.data(), rows, y.data());
  size_t masked = 0;
  for (size_t k = 0; k < first.mask.size(); ++k)
    if (!first.mask[k]) {
      ++masked;
      EXPECT_EQ(grads[first.weight_offset + k], 0.0f) << "entry " << k;
    }
  EXPECT_EQ(masked, size_t(48 * 12 - 48 * 4));

  // Garbage in masked-out weights changes nothing: the kernel treats them as zero.
  for (size_t k = 0; k < first.mask.size(); ++k)
    if (!first.mask[k]) params[first.weight_offset + k] = 100.0f;
  std::vector<float> grads2(layout.param_count), y2(rows * 12);
  const double value2 = cpu::mlp_forward_backward(layout, params.data(), x.data(), rows, loss,
                                                  nullptr, grads2.data());
  cpu::mlp_forward(layout, params.data(), x.data(), rows, y2.data());
  EXPECT_EQ(value, value2);
  EXPECT_EQ(0, std::memcmp(grads.data(), grads2.data(), grads.size() * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(y.data(), y2.data(), y.size() * sizeof(float)));

  std::vector<double> grads64(layout.param_count);
  const auto p64 = to_double(params);
  const auto x64 = to_double(x);
  reference::LossSpec64 loss64{LossKind::mse, 1.0, x64.data(), nullptr, 0};
  reference::mlp_forward_backward(layout, p64.data(), x64.data(), rows, loss64, -1, nullptr,
                                  grads64.data());
  for (size_t k = 0; k < first.mask.size(); ++k)
    if (!first.mask[k]) EXPECT_EQ(grads64[first.weight_offset + k], 0.0);
}

// Runs one call with the given thread count and returns the loss and gradients.
std::pair<double, std::vector<float>> run_with_threads(const MlpLayout& layout,
                                                       const std::vector<float>& params,
                                                       const std::vector<float>& x, size_t rows,
                                                       int threads, bool with_hook) {
  ScopedThreads scoped(threads);
  LossSpec loss{LossKind::mse, 1.0f, x.data(), nullptr, 0};
  const auto centroids = random_values(size_t(kLatentClusters) * layout.layers[1].out, 77, -1.0f, 1.0f);
  const std::vector<double> frequency = {1.0, 2.0, 3.0};
  std::vector<float> grads(layout.param_count), dmu(centroids.size());
  LatentLoss latent{1, centroids.data(), kLatentClusters, 1.0f, frequency.data(), 0.1f, 0, dmu.data()};
  double value = cpu::mlp_forward_backward(layout, params.data(), x.data(), rows, loss,
                                           with_hook ? &latent : nullptr, grads.data());
  grads.insert(grads.end(), dmu.begin(), dmu.end());  // the centroid gradient must not vary either
  return {value, grads};
}

TEST(MlpForwardBackward, BitwiseIdenticalForAnyThreadCount) {
  const MlpLayout layout = autoencoder_layout(12);
  const auto params = random_params(layout, 11);
  for (size_t rows : {size_t(1000), size_t(4096 + 17)}) {
    const auto x = random_values(rows * 12, rows);
    const auto one = run_with_threads(layout, params, x, rows, 1, true);
    for (int threads : {1, 2, 3}) {
      const auto other = run_with_threads(layout, params, x, rows, threads, true);
      EXPECT_EQ(one.first, other.first) << threads << " threads, " << rows << " rows";
      EXPECT_EQ(
          0, std::memcmp(one.second.data(), other.second.data(), one.second.size() * sizeof(float)))
          << threads << " threads, " << rows << " rows";
    }
  }
}

// Data-parallel ranks keep each tile's gradient apart and sum every rank's tiles up the tile tree.
// The tiles summed that way (written out here from the tree's definition) must be the summed call
// bitwise, for any thread count, and the tiles of a tile-aligned part of the rows must be those of
// the whole call: the two facts that make 1, 2 or 3 ranks train the same parameters.
TEST(MlpForwardBackward, TileGradientsSummedUpTheTileTreeAreTheSumBitwise) {
  const MlpLayout layout = autoencoder_layout(12);
  const auto params = random_params(layout, 12);
  const size_t rows = 5 * cpu::kTileRows + 17, tiles = 6;
  const auto x = random_values(rows * 12, 13);
  LossSpec loss{LossKind::mse, 1.0f, x.data(), nullptr, rows};
  const auto centroids = random_values(size_t(kLatentClusters) * layout.layers[1].out, 14, -1.0f, 1.0f);
  const std::vector<double> frequency = {1.0, 2.0, 3.0};
  const size_t P = layout.param_count, D = centroids.size();
  std::vector<float> grads(P), dmu(D);
  LatentLoss latent{1, centroids.data(), kLatentClusters, 1.0f, frequency.data(), 0.1f, rows, dmu.data()};
  const double value = cpu::mlp_forward_backward(layout, params.data(), x.data(), rows, loss, &latent, grads.data());
  for (int threads : {1, 2, 3}) {
    SCOPED_TRACE(std::to_string(threads) + " threads");
    ScopedThreads scoped(threads);
    std::vector<float> tile_grads(tiles * P, std::nanf("")), tile_dmu(tiles * D, std::nanf(""));
    const double tile_value = cpu::mlp_forward_backward_tiles(layout, params.data(), x.data(), rows, loss, &latent,
                                                              {tile_grads.data(), tile_dmu.data()});
    EXPECT_NEAR(tile_value, value, 1e-12 * std::abs(value));
    // 6 tiles: ((t0 + t1) + (t2 + t3)) + (t4 + t5).
    auto tree = [](const std::vector<float>& t, size_t n, size_t k) {
      return ((t[0 * n + k] + t[1 * n + k]) + (t[2 * n + k] + t[3 * n + k])) + (t[4 * n + k] + t[5 * n + k]);
    };
    std::vector<float> folded(P), folded_dmu(D);
    for (size_t k = 0; k < P; ++k) folded[k] = tree(tile_grads, P, k);
    for (size_t k = 0; k < D; ++k) folded_dmu[k] = tree(tile_dmu, D, k);
    EXPECT_EQ(0, std::memcmp(folded.data(), grads.data(), P * sizeof(float)));
    EXPECT_EQ(0, std::memcmp(folded_dmu.data(), dmu.data(), D * sizeof(float)));

    // Tiles 2..5 from a call over their rows alone (a rank's share): the same bytes.
    const size_t first = 2 * cpu::kTileRows, part_rows = rows - first;
    LossSpec part_loss{LossKind::mse, 1.0f, x.data() + first * 12, nullptr, rows};
    std::vector<float> part_grads(4 * P), part_dmu(4 * D);
    cpu::mlp_forward_backward_tiles(layout, params.data(), x.data() + first * 12, part_rows, part_loss, &latent,
                                    {part_grads.data(), part_dmu.data()});
    EXPECT_EQ(0, std::memcmp(part_grads.data(), tile_grads.data() + 2 * P, 4 * P * sizeof(float)));
    EXPECT_EQ(0, std::memcmp(part_dmu.data(), tile_dmu.data() + 2 * D, 4 * D * sizeof(float)));
  }
}

// A network whose per-tile gradient (about 4 MB) makes the tiles of one call span several rounds
// of gradient slots; the sum must still match the reference and not depend on the thread count.
TEST(MlpForwardBackward, WideNetworkAcrossSlotRounds) {
  const MlpLayout layout =
      MlpLayout::build(12, {{1024, Act::relu, {}}, {1024, Act::relu, {}}, {5, Act::linear, {}}});
  const size_t rows = 300;
  const auto params = random_params(layout, 21);
  const auto x = random_values(rows * 12, 22);
  const auto labels = random_labels(rows, 5, 23);
  LossSpec loss{LossKind::softmax_cross_entropy, 1.0f, nullptr, labels.data(), 0};
  std::vector<float> grads(layout.param_count), grads2(layout.param_count);
  double value, value2;
  {
    ScopedThreads scoped(1);
    value = cpu::mlp_forward_backward(layout, params.data(), x.data(), rows, loss, nullptr,
                                      grads.data());
  }
  {
    ScopedThreads scoped(2);
    value2 = cpu::mlp_forward_backward(layout, params.data(), x.data(), rows, loss, nullptr,
                                       grads2.data());
  }
  EXPECT_EQ(value, value2);
  EXPECT_EQ(0, std::memcmp(grads.data(), grads2.data(), grads.size() * sizeof(float)));

  const auto p64 = to_double(params);
  const auto x64 = to_double(x);
  reference::LossSpec64 loss64{LossKind::softmax_cross_entropy, 1.0, nullptr, labels.data(), 0};
  std::vector<double> grads64(layout.param_count);
  const double expected = reference::mlp_forward_backward(layout, p64.data(), x64.data(), rows,
                                                          loss64, -1, nullptr, grads64.data());
  EXPECT_NEAR(value, expected, kTolerance * std::abs(expected));
  for (const auto& s : layout.layers) {
    EXPECT_LE(relative_error(grads.data() + s.weight_offset, grads64.data() + s.weight_offset,
                             size_t(s.out) * s.in),
              kTolerance);
    EXPECT_LE(relative_error(grads.data() + s.bias_offset, grads64.data() + s.bias_offset, s.out),
              kTolerance);
  }
}

// With zero weights and biases the first layer's pre-activations are exactly 0; the ReLU
// derivative there is 0, so nothing flows into that layer.
TEST(MlpForwardBackward, ReluDerivativeAtZeroIsZero) {
  const MlpLayout layout = MlpLayout::build(4, {{3, Act::relu, {}}, {2, Act::linear, {}}});
  auto params = random_params(layout, 31);
  const auto& first = layout.layers[0];
  std::fill(params.begin() + first.weight_offset, params.begin() + first.bias_offset + first.out,
            0.0f);
  const size_t rows = 70;
  const auto x = random_values(rows * 4, 32);
  const auto target = random_values(rows * 2, 33);
  LossSpec loss{LossKind::mse, 1.0f, target.data(), nullptr, 0};
  std::vector<float> grads(layout.param_count);
  cpu::mlp_forward_backward(layout, params.data(), x.data(), rows, loss, nullptr, grads.data());
  const auto p64 = to_double(params);
  const auto x64 = to_double(x);
  const auto t64 = to_double(target);
  reference::LossSpec64 loss64{LossKind::mse, 1.0, t64.data(), nullptr, 0};
  std::vector<double> grads64(layout.param_count);
  reference::mlp_forward_backward(layout, p64.data(), x64.data(), rows, loss64, -1, nullptr,
                                  grads64.data());
  for (size_t k = first.weight_offset; k < first.bias_offset + first.out; ++k) {
    EXPECT_EQ(grads[k], 0.0f) << "parameter " << k;
    EXPECT_EQ(grads64[k], 0.0) << "parameter " << k;
  }
  const auto& second = layout.layers[1];
  EXPECT_NE(grads64[second.bias_offset], 0.0);  // the output layer still learns
  EXPECT_LE(
      relative_error(grads.data() + second.bias_offset, grads64.data() + second.bias_offset, 2),
      kTolerance);
}

TEST(MlpForwardBackward, LatentLossOutsideTheNetworkIsRefused) {
  const MlpLayout layout = autoencoder_layout(12);
  const auto params = random_params(layout, 41);
  const size_t rows = 10;
  const auto x = random_values(rows * 12, 42);
  LossSpec loss{LossKind::mse, 1.0f, x.data(), nullptr, 0};
  std::vector<float> centroids(3 * 8), dmu(3 * 8);
  const std::vector<double> frequency = {1.0, 1.0, 1.0};
  LatentLoss latent{int(layout.layers.size()), centroids.data(), 3, 1.0f, frequency.data(), 1.0f, 0, dmu.data()};
  std::vector<float> grads(layout.param_count);
  EXPECT_THROW(cpu::mlp_forward_backward(layout, params.data(), x.data(), rows, loss, &latent, grads.data()),
               std::invalid_argument);
  latent.layer = 2;
  latent.dmu = nullptr;
  EXPECT_THROW(cpu::mlp_forward_backward(layout, params.data(), x.data(), rows, loss, &latent, grads.data()),
               std::invalid_argument);
}

TEST(MlpForwardBackward, NoRowsGivesZeroGradients) {
  const MlpLayout layout = classifier_layout();
  const auto params = random_params(layout, 3);
  std::vector<float> grads(layout.param_count, 1.0f);
  LossSpec loss{LossKind::mse, 1.0f, params.data(), nullptr, 0};
  EXPECT_EQ(cpu::mlp_forward_backward(layout, params.data(), params.data(), 0, loss, nullptr,
                                      grads.data()),
            0.0);
  for (float g : grads) EXPECT_EQ(g, 0.0f);
  // A rank whose share of a batch is empty passes no labels or target at all (an empty vector's
  // data()): still zero gradients, not an error.
  for (LossKind kind : {LossKind::mse, LossKind::softmax_cross_entropy}) {
    std::fill(grads.begin(), grads.end(), 1.0f);
    const LossSpec none{kind, 1.0f, nullptr, nullptr, 0};
    EXPECT_EQ(cpu::mlp_forward_backward(layout, params.data(), nullptr, 0, none, nullptr, grads.data()), 0.0);
    for (float g : grads) EXPECT_EQ(g, 0.0f);
  }
}

// ---- The reference against central finite differences (fp64) ----

// Loss of the reference as a function of the parameters, plus sum(dz_hook * z) for a fixed dz_hook:
// exactly the function whose gradient mlp_forward_backward returns when given that dz_hook.
double reference_objective(const MlpLayout& layout, const std::vector<double>& params,
                           const std::vector<double>& x, size_t rows,
                           const reference::LossSpec64& loss, int hook_layer,
                           const std::vector<double>& dz_hook, std::vector<uint8_t>* pattern) {
  std::vector<double> scratch(layout.param_count);
  double value = reference::mlp_forward_backward(layout, params.data(), x.data(), rows, loss, -1,
                                                 nullptr, scratch.data());
  const auto acts = reference::mlp_forward(layout, params.data(), x.data(), rows);
  if (hook_layer >= 0)
    for (size_t k = 0; k < dz_hook.size(); ++k) value += dz_hook[k] * acts[hook_layer + 1][k];
  if (pattern) {
    pattern->clear();
    for (size_t l = 0; l < layout.layers.size(); ++l)
      if (layout.layers[l].act == Act::relu)
        for (double a : acts[l + 1]) pattern->push_back(a > 0.0);
  }
  return value;
}

TEST(ReferenceMlp, GradientsMatchFiniteDifferences) {
  struct FdCase {
    std::string name;
    MlpLayout layout;
    LossKind loss;
    int hook_layer;
  };
  const std::vector<int> groups = {0, 0, 1, 1, 2, 2};
  const std::vector<FdCase> cases = {
      {"relu grouped, mse",
       MlpLayout::build(6, {{9, Act::relu, groups}, {5, Act::relu, {}}, {6, Act::linear, {}}}),
       LossKind::mse, -1},
      {"relu grouped, mse + hook",
       MlpLayout::build(6, {{9, Act::relu, groups}, {5, Act::relu, {}}, {6, Act::linear, {}}}),
       LossKind::mse, 1},
      {"relu, cross entropy + hook on the output",
       MlpLayout::build(6, {{7, Act::relu, {}}, {4, Act::linear, {}}}),
       LossKind::softmax_cross_entropy, 1},
      {"linear, cross entropy", MlpLayout::build(6, {{5, Act::linear, {}}, {3, Act::linear, {}}}),
       LossKind::softmax_cross_entropy, -1},
      {"relu output, hook only", MlpLayout::build(6, {{9, Act::relu, groups}, {3, Act::relu, {}}}),
       LossKind::none, 0},
  };
  const size_t rows = 7;
  uint64_t seed = 40;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const int outputs = c.layout.outputs();
    const auto params32 = random_params(c.layout, ++seed);
    auto params = to_double(params32);
    const auto x = to_double(random_values(rows * 6, ++seed, -1.0f, 1.0f));
    const auto target = to_double(random_values(rows * outputs, ++seed));
    const auto labels = random_labels(rows, outputs, ++seed);
    reference::LossSpec64 loss{c.loss, 0.9, target.data(), labels.data(), 11};
    std::vector<double> dz_hook;
    if (c.hook_layer >= 0)
      dz_hook = to_double(random_values(rows * c.layout.layers[c.hook_layer].out, ++seed, -1, 1));

    std::vector<double> grads(c.layout.param_count);
    reference::mlp_forward_backward(c.layout, params.data(), x.data(), rows, loss, c.hook_layer,
                                    dz_hook.empty() ? nullptr : dz_hook.data(), grads.data());
    std::vector<uint8_t> base, plus, minus;
    reference_objective(c.layout, params, x, rows, loss, c.hook_layer, dz_hook, &base);
    const double h = 1e-5;
    double diff = 0, scale = 0;
    for (size_t k = 0; k < params.size(); ++k) {
      const double saved = params[k];
      params[k] = saved + h;
      const double up =
          reference_objective(c.layout, params, x, rows, loss, c.hook_layer, dz_hook, &plus);
      params[k] = saved - h;
      const double down =
          reference_objective(c.layout, params, x, rows, loss, c.hook_layer, dz_hook, &minus);
      params[k] = saved;
      // A ReLU kink inside [-h, h] would make the difference meaningless: require none.
      ASSERT_EQ(plus, base) << "parameter " << k << " crosses a ReLU kink; pick another seed";
      ASSERT_EQ(minus, base) << "parameter " << k << " crosses a ReLU kink; pick another seed";
      const double fd = (up - down) / (2 * h);
      diff = std::max(diff, std::abs(fd - grads[k]));
      scale = std::max(scale, std::abs(grads[k]));
    }
    EXPECT_GT(scale, 0.0);
    EXPECT_LT(diff / scale, 1e-6) << "max |fd - grad| = " << diff << ", max |grad| = " << scale;
  }
}

}  // namespace
}  // namespace resilinet::kernels
