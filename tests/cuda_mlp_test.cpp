// Tests of the CUDA fused MLP and Adam (kernels/cuda/mlp.cu, adam.cu): forward (stop_layer too),
// both output losses, every gradient and the latent loss with its dmu against the fp64 reference
// and the CPU kernels, on odd row counts and widths, a grouped first layer and a network too large
// for shared memory; bitwise repeatability; rows = 0; the shapes the kernels refuse.
// Every test skips without a CUDA device. RESILINET_GPU_TEST_SMALL=1 keeps to small shapes (for
// runs under compute-sanitizer).
#include <gtest/gtest.h>

#if RESILINET_HAVE_CUDA

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cuda/cuda_ops.hpp"
#include "kernels/ops.hpp"
#include "kernels/reference/reference.hpp"
#include "cuda_test_support.hpp"
#include "random_data.hpp"

namespace resilinet::kernels {
namespace {

using resilinet::testing::download;
using resilinet::testing::random_labels;
using resilinet::testing::random_params;
using resilinet::testing::random_values;
using resilinet::testing::small_shapes;
using resilinet::testing::shallow_only;
using resilinet::testing::to_double;
using resilinet::testing::upload;

using Act = Activation;

// Tolerances, relative to the largest entry of the compared block (fp32 on the device against
// fp64): outputs and losses; gradients and dmu; gradients of the 16-layer network, whose rounding
// compounds over 32 products.
constexpr double kValueTolerance = 1e-5;
constexpr double kGradTolerance = 1e-4;
constexpr double kDeepTolerance = 1e-3;
constexpr float kLossWeight = 0.7f;
constexpr float kLatentWeight = 0.5f;
// Inputs are drawn again until every ReLU pre-activation is this far from 0 in fp64, so that the
// fp32 kernels take the same side of every kink and the gradients are comparable.
constexpr double kKinkMargin = 1e-4;

// ---- Shapes ----

// The default autoencoder: 12 features in three feature systems, a grouped 3 x 64 first layer.
MlpLayout autoencoder_layout() {
  std::vector<int> groups(12);
  for (int i = 0; i < 12; ++i) groups[i] = i / 4;
  return MlpLayout::build(12, {{192, Act::relu, groups},
                               {128, Act::relu, {}},
                               {8, Act::linear, {}},
                               {128, Act::relu, {}},
                               {192, Act::relu, {}},
                               {12, Act::linear, {}}});
}

MlpLayout classifier_layout() {
  return MlpLayout::build(12, {{64, Act::relu, {}}, {32, Act::relu, {}}, {5, Act::linear, {}}});
}

// Widths 7, 33, 130, 3 (none a multiple of 32 or 64 except by chance), groups that are not
// contiguous, a ReLU on the output.
MlpLayout odd_layout() {
  const std::vector<int> groups = {0, 2, 1, 0, 2, 1, 0};
  return MlpLayout::build(7, {{33, Act::relu, groups},
                              {130, Act::relu, {}},
                              {3, Act::linear, {}},
                              {7, Act::relu, {}},
                              {130, Act::relu, {}},
                              {33, Act::relu, {}}});
}

// kMaxLayers layers of kMaxWidth: the activations of a tile do not fit in shared memory and
// spill to the workspace; the weights do not fit either and are staged chunk by chunk.
MlpLayout deep_layout() {
  std::vector<LayerRequest> layers(15, LayerRequest{256, Act::relu, {}});
  layers.push_back({256, Act::linear, {}});
  return MlpLayout::build(256, layers);
}

// The smallest |pre-activation| of a ReLU unit on one input row, in fp64.
double relu_margin(const MlpLayout& layout, const std::vector<double>& params, const float* x) {
  std::vector<double> in(x, x + layout.inputs()), out;
  double margin = std::numeric_limits<double>::infinity();
  for (const auto& l : layout.layers) {
    out.assign(l.out, 0.0);
    for (int o = 0; o < l.out; ++o) {
      double z = params[l.bias_offset + o];
      for (int i = 0; i < l.in; ++i) {
        const size_t k = size_t(o) * l.in + i;
        if (l.mask.empty() || l.mask[k]) z += params[l.weight_offset + k] * in[i];
      }
      if (l.act == Act::relu) margin = std::min(margin, std::abs(z));
      out[o] = l.act == Act::relu ? std::max(z, 0.0) : z;
    }
    in.swap(out);
  }
  return margin;
}

// Inputs in [0, 1) whose every ReLU pre-activation is at least kKinkMargin from zero.
std::vector<float> kink_free_inputs(const MlpLayout& layout, const std::vector<float>& params,
                                    size_t rows, uint64_t seed) {
  const size_t inputs = size_t(layout.inputs());
  const auto params64 = to_double(params);
  std::vector<float> x = random_values(rows * inputs, seed);
  std::mt19937_64 rng(seed + 1);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (size_t r = 0; r < rows; ++r) {
    int tries = 0;
    while (relu_margin(layout, params64, x.data() + r * inputs) < kKinkMargin) {
      if (++tries > 1000) throw std::runtime_error("no input row clear of the ReLU kinks");
      for (size_t k = 0; k < inputs; ++k) x[r * inputs + k] = u(rng);
    }
  }
  return x;
}

// max|a - b| / max|b|: the error relative to the block's largest entry.
template <class T>
double relative_error(const float* a, const T* b, size_t n) {
  double diff = 0, scale = 0;
  for (size_t k = 0; k < n; ++k) {
    diff = std::max(diff, std::abs(double(a[k]) - double(b[k])));
    scale = std::max(scale, std::abs(double(b[k])));
  }
  return scale > 0 ? diff / scale : diff;
}

// ---- Device memory ----

// Fills device memory with NaN bytes, so that a value the kernel should write but does not shows.
template <class T>
void poison(cuda::DeviceArray<T>& d) {
  cuda::check(cudaMemset(d.data(), 0xff, d.size() * sizeof(T)), "cudaMemset");
}

// ---- One training call ----

struct Case {
  std::string name;
  MlpLayout layout;
  size_t rows;
  LossKind loss;
  int latent_layer;        // -1: no latent loss
  size_t norm_rows = 0;    // loss_rows of the output loss and norm_rows of the latent loss
  bool masked = false;     // mse with about a third of the target values unobserved
  float alpha = 1.0f;
  double tolerance = kGradTolerance;  // of gradients and dmu
};

// The host data of one case.
struct Problem {
  std::vector<float> params, x, target, centroids;
  std::vector<int32_t> labels;
  std::vector<uint8_t> observed;
  std::vector<double> frequency;
  int clusters = 0, dims = 0;
};

Problem make_problem(const Case& c, uint64_t seed) {
  const MlpLayout& layout = c.layout;
  const int outputs = layout.outputs();
  Problem p;
  p.params = random_params(layout, seed);
  p.x = kink_free_inputs(layout, p.params, c.rows, seed + 2);
  p.target = random_values(c.rows * outputs, seed + 3);
  p.labels = random_labels(c.rows, outputs, seed + 4);
  p.observed.resize(c.rows * outputs);
  for (size_t k = 0; k < p.observed.size(); ++k) p.observed[k] = (k * 7919 + seed) % 3 != 0;
  if (c.latent_layer >= 0) {
    p.dims = layout.layers[c.latent_layer].out;
    p.clusters = 5;
    const auto params64 = to_double(p.params), x64 = to_double(p.x);
    const auto acts = reference::mlp_forward(layout, params64.data(), x64.data(), c.rows);
    const std::vector<double>& z = acts[c.latent_layer + 1];
    // Centroids near rows of z, so that the soft assignment is neither flat nor one-hot.
    std::mt19937_64 rng(seed + 5);
    std::normal_distribution<double> noise(0.0, 0.3);
    for (int j = 0; j < p.clusters; ++j)
      for (int k = 0; k < p.dims; ++k)
        p.centroids.push_back(float(z[(size_t(j) * 7 % c.rows) * p.dims + k] + noise(rng)));
    // The batch's own cluster frequencies, kept off zero.
    std::vector<double> q(c.rows * p.clusters);
    const auto mu64 = to_double(p.centroids);
    reference::soft_assign(z.data(), c.rows, p.dims, mu64.data(), p.clusters, c.alpha, q.data());
    p.frequency = reference::cluster_frequency(q.data(), c.rows, p.clusters);
    for (double& f : p.frequency) f += 0.5;
  }
  return p;
}

struct Result {
  double loss = 0;
  std::vector<float> grads, dmu;
};

Result run_cuda(const Case& c, const Problem& p, cuda::Workspace& ws) {
  const MlpLayout& layout = c.layout;
  cuda::DeviceMlp net(layout);
  auto params = upload(p.params), x = upload(p.x), target = upload(p.target);
  auto labels = upload(p.labels);
  auto observed = upload(p.observed);
  auto centroids = upload(p.centroids);
  auto frequency = upload(p.frequency);
  cuda::DeviceArray<float> grads(layout.param_count);
  cuda::DeviceArray<float> dmu(std::max<size_t>(1, size_t(p.clusters) * p.dims));
  cuda::DeviceArray<double> loss(1);
  poison(grads);
  poison(dmu);
  poison(loss);
  LossSpec spec{c.loss, kLossWeight, target.data(), labels.data(), c.norm_rows,
                c.masked ? observed.data() : nullptr};
  LatentLoss latent;
  latent.layer = c.latent_layer;
  latent.centroids = centroids.data();
  latent.clusters = p.clusters;
  latent.alpha = c.alpha;
  latent.frequency = frequency.data();
  latent.weight = kLatentWeight;
  latent.norm_rows = c.norm_rows;
  latent.dmu = dmu.data();
  cuda::mlp_forward_backward(net, params.data(), x.data(), c.rows, spec,
                             c.latent_layer >= 0 ? &latent : nullptr, grads.data(), loss.data(), ws,
                             nullptr);
  cuda::check(cudaDeviceSynchronize(), "mlp_forward_backward");
  Result r;
  r.loss = download(loss.data(), 1)[0];
  r.grads = download(grads.data(), layout.param_count);
  r.dmu = download(dmu.data(), size_t(p.clusters) * p.dims);
  return r;
}

// The fp64 reference of one case: the latent loss (reference kl_target_loss_grad on the fp64 z)
// and the network's loss and gradients with its dz injected.
Result run_reference(const Case& c, const Problem& p, std::vector<double>& grads64,
                     std::vector<double>& dmu64) {
  const MlpLayout& layout = c.layout;
  const auto params64 = to_double(p.params), x64 = to_double(p.x), target64 = to_double(p.target);
  double expected = 0;
  std::vector<double> dz;
  if (c.latent_layer >= 0) {
    const auto acts = reference::mlp_forward(layout, params64.data(), x64.data(), c.rows);
    const auto mu64 = to_double(p.centroids);
    dz.assign(c.rows * p.dims, 0.0);
    dmu64.assign(size_t(p.clusters) * p.dims, 0.0);
    expected += reference::kl_target_loss_grad(
        acts[c.latent_layer + 1].data(), c.rows, p.dims, mu64.data(), p.clusters, c.alpha,
        p.frequency.data(), kLatentWeight, c.norm_rows ? c.norm_rows : c.rows, dz.data(),
        dmu64.data());
  }
  reference::LossSpec64 spec{c.loss, kLossWeight, target64.data(), p.labels.data(), c.norm_rows,
                             c.masked ? p.observed.data() : nullptr};
  grads64.assign(layout.param_count, 0.0);
  expected += reference::mlp_forward_backward(layout, params64.data(), x64.data(), c.rows, spec,
                                              c.latent_layer, dz.empty() ? nullptr : dz.data(),
                                              grads64.data());
  Result r;
  r.loss = expected;
  return r;
}

void check_against_reference(const Case& c, uint64_t seed, cuda::Workspace& ws) {
  SCOPED_TRACE(c.name + ", " + std::to_string(c.rows) + " rows");
  const Problem p = make_problem(c, seed);
  const Result got = run_cuda(c, p, ws);
  std::vector<double> grads64, dmu64;
  const double expected = run_reference(c, p, grads64, dmu64).loss;
  // The loss sums squares and logs of the outputs: a tenth of the gradients' tolerance.
  EXPECT_NEAR(got.loss, expected, c.tolerance / 10 * std::max(1e-3, std::abs(expected)));
  for (size_t l = 0; l < c.layout.layers.size(); ++l) {
    const auto& s = c.layout.layers[l];
    EXPECT_LE(relative_error(got.grads.data() + s.weight_offset, grads64.data() + s.weight_offset,
                             size_t(s.out) * s.in),
              c.tolerance)
        << "dW of layer " << l;
    EXPECT_LE(relative_error(got.grads.data() + s.bias_offset, grads64.data() + s.bias_offset,
                             size_t(s.out)),
              c.tolerance)
        << "db of layer " << l;
    size_t nonzero_masked = 0;
    for (size_t k = 0; k < s.mask.size(); ++k)
      if (!s.mask[k] && got.grads[s.weight_offset + k] != 0.0f) ++nonzero_masked;
    EXPECT_EQ(nonzero_masked, 0u) << "masked entries of layer " << l;
  }
  if (c.latent_layer >= 0) {
    EXPECT_LE(relative_error(got.dmu.data(), dmu64.data(), dmu64.size()), c.tolerance) << "dmu";
  }
}

std::vector<Case> comparison_cases() {
  const MlpLayout ae = autoencoder_layout();
  const MlpLayout odd = odd_layout();
  const MlpLayout head = classifier_layout();
  const int odd_top = int(odd.layers.size()) - 1;
  std::vector<Case> cases = {
      {"autoencoder mse", ae, 1000, LossKind::mse, -1},
      {"autoencoder mse + latent", ae, 4097, LossKind::mse, 2},
      {"autoencoder latent only", ae, 65, LossKind::none, 2},
      {"autoencoder mse + latent, loss_rows and norm_rows 10", ae, 1, LossKind::mse, 2, 10},
      {"autoencoder masked mse + latent", ae, 63, LossKind::mse, 2, 0, true},
      {"classifier cross entropy", head, 1000, LossKind::softmax_cross_entropy, -1},
      {"classifier cross entropy + latent on a ReLU layer", head, 65,
       LossKind::softmax_cross_entropy, 1},
      {"odd widths mse + latent, alpha 1.7", odd, 1000, LossKind::mse, 2, 0, false, 1.7f},
      {"odd widths masked mse + latent on the ReLU output", odd, 65, LossKind::mse, odd_top, 0,
       true},
      {"odd widths cross entropy + latent on layer 0", odd, 129, LossKind::softmax_cross_entropy,
       0},
      {"16 layers of 256 (activations spilled), mse + latent", deep_layout(), 65, LossKind::mse,
       7, 0, false, 1.0f, kDeepTolerance},
  };
  if (small_shapes())
    for (Case& c : cases) c.rows = std::min<size_t>(c.rows, 65);
  if (shallow_only())
    std::erase_if(cases, [](const Case& c) { return c.layout.max_width() > 200; });
  return cases;
}

TEST(CudaMlpForwardBackward, MatchesReferenceOnEveryCase) {
  REQUIRE_CUDA_DEVICE();
  cuda::Workspace ws;
  uint64_t seed = 300;
  for (const Case& c : comparison_cases()) check_against_reference(c, seed += 10, ws);
}

// More tiles (301) than training blocks (256): blocks add their later tiles' gradients and dmu to
// what their first tile wrote. The classifier is small enough to keep this case in small mode.
TEST(CudaMlpForwardBackward, BlocksWithSeveralTiles) {
  REQUIRE_CUDA_DEVICE();
  cuda::Workspace ws;
  check_against_reference({"classifier cross entropy + latent on a ReLU layer", classifier_layout(),
                           9601, LossKind::softmax_cross_entropy, 1},
                          500, ws);
}

// The same call on the CPU kernel: the two fast forms agree as well as each agrees with fp64.
TEST(CudaMlpForwardBackward, MatchesCpuKernel) {
  REQUIRE_CUDA_DEVICE();
  const Case c{"autoencoder masked mse + latent", autoencoder_layout(), small_shapes() ? 65u : 1000u,
               LossKind::mse, 2, 0, true};
  const Problem p = make_problem(c, 77);
  cuda::Workspace ws;
  const Result got = run_cuda(c, p, ws);

  LossSpec spec{c.loss, kLossWeight, p.target.data(), p.labels.data(), 0, p.observed.data()};
  std::vector<float> dmu(size_t(p.clusters) * p.dims), grads(c.layout.param_count);
  LatentLoss latent;
  latent.layer = c.latent_layer;
  latent.centroids = p.centroids.data();
  latent.clusters = p.clusters;
  latent.alpha = c.alpha;
  latent.frequency = p.frequency.data();
  latent.weight = kLatentWeight;
  latent.dmu = dmu.data();
  const double expected = cpu::mlp_forward_backward(c.layout, p.params.data(), p.x.data(), c.rows,
                                                    spec, &latent, grads.data());
  EXPECT_NEAR(got.loss, expected, kValueTolerance * std::abs(expected));
  for (size_t l = 0; l < c.layout.layers.size(); ++l) {
    const auto& s = c.layout.layers[l];
    EXPECT_LE(relative_error(got.grads.data() + s.weight_offset, grads.data() + s.weight_offset,
                             size_t(s.out) * s.in),
              kGradTolerance)
        << "dW of layer " << l;
    EXPECT_LE(relative_error(got.grads.data() + s.bias_offset, grads.data() + s.bias_offset,
                             size_t(s.out)),
              kGradTolerance)
        << "db of layer " << l;
  }
  EXPECT_LE(relative_error(got.dmu.data(), dmu.data(), dmu.size()), kGradTolerance);
}

// Repeated calls give the same bytes: gradients, loss and dmu are summed in a fixed order, in a
// reused workspace and in a fresh one.
TEST(CudaMlpForwardBackward, BitwiseRepeatable) {
  REQUIRE_CUDA_DEVICE();
  const Case c{"autoencoder masked mse + latent", autoencoder_layout(),
               small_shapes() ? 97u : 4097u, LossKind::mse, 2, 0, true};
  const Problem p = make_problem(c, 91);
  cuda::Workspace ws, fresh;
  const Result one = run_cuda(c, p, ws);
  const Result two = run_cuda(c, p, ws);
  const Result three = run_cuda(c, p, fresh);
  for (const Result* other : {&two, &three}) {
    EXPECT_EQ(0, std::memcmp(&one.loss, &other->loss, sizeof(double)));
    EXPECT_EQ(0, std::memcmp(one.grads.data(), other->grads.data(), one.grads.size() * sizeof(float)));
    EXPECT_EQ(0, std::memcmp(one.dmu.data(), other->dmu.data(), one.dmu.size() * sizeof(float)));
  }
}

// No rows: zero gradients, zero loss, zero dmu, every value written.
TEST(CudaMlpForwardBackward, ZeroRows) {
  REQUIRE_CUDA_DEVICE();
  Case c{"autoencoder mse + latent", autoencoder_layout(), 1, LossKind::mse, 2};
  const Problem p = make_problem(c, 5);
  c.rows = 0;
  cuda::Workspace ws;
  const Result got = run_cuda(c, p, ws);
  EXPECT_EQ(got.loss, 0.0);
  for (size_t k = 0; k < got.grads.size(); ++k) ASSERT_EQ(got.grads[k], 0.0f) << "entry " << k;
  for (size_t k = 0; k < got.dmu.size(); ++k) ASSERT_EQ(got.dmu[k], 0.0f) << "entry " << k;
}

// Garbage in masked-out weights changes nothing: the kernels treat them as zero.
TEST(CudaMlpForwardBackward, MaskedWeightsAreIgnored) {
  REQUIRE_CUDA_DEVICE();
  const Case c{"autoencoder mse", autoencoder_layout(), 100, LossKind::mse, -1};
  Problem p = make_problem(c, 17);
  cuda::Workspace ws;
  const Result clean = run_cuda(c, p, ws);
  const auto& first = c.layout.layers[0];
  for (size_t k = 0; k < first.mask.size(); ++k)
    if (!first.mask[k]) p.params[first.weight_offset + k] = 100.0f;
  const Result dirty = run_cuda(c, p, ws);
  EXPECT_EQ(clean.loss, dirty.loss);
  EXPECT_EQ(0, std::memcmp(clean.grads.data(), dirty.grads.data(), clean.grads.size() * sizeof(float)));
}

// ---- Forward ----

TEST(CudaMlpForward, MatchesReferenceAndCpuIncludingStopLayer) {
  REQUIRE_CUDA_DEVICE();
  struct Shape {
    std::string name;
    MlpLayout layout;
    int stop_layer;
    double tolerance = kValueTolerance;
  };
  const std::vector<Shape> shapes = {{"autoencoder", autoencoder_layout(), -1},
                                     {"encoder (stop at the latent)", autoencoder_layout(), 2},
                                     {"classifier", classifier_layout(), -1},
                                     {"odd widths", odd_layout(), -1},
                                     {"odd widths to layer 1", odd_layout(), 1},
                                     {"16 layers of 256", deep_layout(), -1, kGradTolerance}};
  std::vector<size_t> row_counts = {1, 63, 65, 1000, 4097};
  if (small_shapes()) row_counts = {1, 63, 65};
  uint64_t seed = 40;
  for (const Shape& s : shapes)
    for (size_t rows : row_counts) {
      if (shallow_only() && s.layout.max_width() > 200) continue;
      if (s.layout.inputs() == 256 && rows > 1000) continue;  // the fp64 twin is slow there
      SCOPED_TRACE(s.name + ", " + std::to_string(rows) + " rows");
      const auto params = random_params(s.layout, ++seed);
      const auto x = random_values(rows * s.layout.inputs(), ++seed, -1.0f, 2.0f);
      const int last = s.stop_layer < 0 ? int(s.layout.layers.size()) - 1 : s.stop_layer;
      const size_t width = size_t(s.layout.layers[last].out);
      cuda::DeviceMlp net(s.layout);
      auto params_d = upload(params), x_d = upload(x);
      // One extra value past the output that must stay untouched.
      auto y_d = upload(std::vector<float>(rows * width + 1, 12345.0f));
      cuda::mlp_forward(net, params_d.data(), x_d.data(), rows, y_d.data(), nullptr, s.stop_layer);
      cuda::check(cudaDeviceSynchronize(), "mlp_forward");
      const auto y = download(y_d.data(), rows * width + 1);
      const auto p64 = to_double(params), x64 = to_double(x);
      const auto acts = reference::mlp_forward(s.layout, p64.data(), x64.data(), rows);
      EXPECT_LE(relative_error(y.data(), acts[last + 1].data(), rows * width), s.tolerance);
      EXPECT_EQ(y.back(), 12345.0f);
      std::vector<float> y_cpu(rows * width);
      cpu::mlp_forward(s.layout, params.data(), x.data(), rows, y_cpu.data(), s.stop_layer);
      EXPECT_LE(relative_error(y.data(), y_cpu.data(), rows * width), s.tolerance);
    }
}

TEST(CudaMlpForward, ZeroRowsWritesNothing) {
  REQUIRE_CUDA_DEVICE();
  const MlpLayout layout = classifier_layout();
  cuda::DeviceMlp net(layout);
  auto params = upload(random_params(layout, 3));
  auto y = upload(std::vector<float>{7.0f});
  cuda::mlp_forward(net, params.data(), nullptr, 0, y.data(), nullptr);
  cuda::check(cudaDeviceSynchronize(), "mlp_forward");
  EXPECT_EQ(download(y.data(), 1)[0], 7.0f);
}

// ---- What the kernels refuse ----

TEST(CudaMlp, RejectsShapesItCannotRun) {
  REQUIRE_CUDA_DEVICE();
  cuda::Workspace ws;
  cuda::DeviceArray<float> params(1), grads(1), x(1), y(1), target(1);
  cuda::DeviceArray<double> loss(1);
  LossSpec mse{LossKind::mse, 1.0f, target.data(), nullptr, 0};

  const MlpLayout wide = MlpLayout::build(4, {{257, Act::relu, {}}, {3, Act::linear, {}}});
  cuda::DeviceMlp wide_net(wide);
  EXPECT_THROW(cuda::mlp_forward(wide_net, params.data(), x.data(), 1, y.data(), nullptr),
               std::invalid_argument);
  EXPECT_THROW(cuda::mlp_forward_backward(wide_net, params.data(), x.data(), 1, mse, nullptr,
                                          grads.data(), loss.data(), ws, nullptr),
               std::invalid_argument);

  const MlpLayout deep = MlpLayout::build(4, std::vector<LayerRequest>(17, {4, Act::relu, {}}));
  cuda::DeviceMlp deep_net(deep);
  EXPECT_THROW(cuda::mlp_forward(deep_net, params.data(), x.data(), 1, y.data(), nullptr),
               std::invalid_argument);

  const MlpLayout head = classifier_layout();
  cuda::DeviceMlp head_net(head);
  EXPECT_THROW(cuda::mlp_forward(head_net, params.data(), x.data(), 1, y.data(), nullptr, 3),
               std::invalid_argument);
  EXPECT_THROW(cuda::mlp_forward(head_net, params.data(), x.data(), 1, y.data(), nullptr, -2),
               std::invalid_argument);
  LossSpec no_labels{LossKind::softmax_cross_entropy, 1.0f, nullptr, nullptr, 0};
  EXPECT_THROW(cuda::mlp_forward_backward(head_net, params.data(), x.data(), 1, no_labels, nullptr,
                                          grads.data(), loss.data(), ws, nullptr),
               std::invalid_argument);
  cuda::DeviceArray<float> centroids(65 * 32), dmu(65 * 32);
  cuda::DeviceArray<double> frequency(65);
  LatentLoss latent;
  latent.layer = 1;
  latent.centroids = centroids.data();
  latent.frequency = frequency.data();
  latent.dmu = dmu.data();
  latent.clusters = 65;  // more than the kernel keeps in shared memory
  EXPECT_THROW(cuda::mlp_forward_backward(head_net, params.data(), x.data(), 1, mse, &latent,
                                          grads.data(), loss.data(), ws, nullptr),
               std::invalid_argument);
  latent.clusters = 5;
  latent.layer = 3;  // no such layer
  EXPECT_THROW(cuda::mlp_forward_backward(head_net, params.data(), x.data(), 1, mse, &latent,
                                          grads.data(), loss.data(), ws, nullptr),
               std::invalid_argument);
}

// ---- Adam ----

TEST(CudaAdam, MatchesCpu) {
  REQUIRE_CUDA_DEVICE();
  std::vector<size_t> sizes = {1, 1000, 100003};
  if (small_shapes()) sizes = {1, 1000};
  cpu::AdamConfig config;
  config.lr = 1e-2f;
  config.weight_decay = 0.01f;
  for (size_t n : sizes) {
    SCOPED_TRACE(std::to_string(n) + " parameters");
    auto params = random_values(n, n + 1, -1.0f, 1.0f);
    auto m = std::vector<float>(n, 0.0f), v = std::vector<float>(n, 0.0f);
    auto params_d = upload(params), m_d = upload(m), v_d = upload(v);
    for (int64_t step = 1; step <= 3; ++step) {
      const auto grads = random_values(n, n * 10 + step, -1.0f, 1.0f);
      auto grads_d = upload(grads);
      cuda::adam_step(params_d.data(), grads_d.data(), m_d.data(), v_d.data(), n, config, step,
                      nullptr);
      cpu::adam_step(params.data(), grads.data(), m.data(), v.data(), n, config, step);
    }
    cuda::check(cudaDeviceSynchronize(), "adam_step");
    // Same operations in fp32; the two compilers may fuse different multiply-adds.
    EXPECT_LE(relative_error(download(params_d.data(), n).data(), params.data(), n), 1e-6);
    EXPECT_LE(relative_error(download(m_d.data(), n).data(), m.data(), n), 1e-6);
    EXPECT_LE(relative_error(download(v_d.data(), n).data(), v.data(), n), 1e-6);
  }
  cuda::DeviceArray<float> one(1);
  EXPECT_THROW(cuda::adam_step(one.data(), one.data(), one.data(), one.data(), 1, config, 0, nullptr),
               std::invalid_argument);
}

}  // namespace
}  // namespace resilinet::kernels

#else

TEST(CudaMlp, SkippedWithoutCuda) { GTEST_SKIP() << "built without CUDA (RESILINET_HAVE_CUDA unset)"; }

#endif
