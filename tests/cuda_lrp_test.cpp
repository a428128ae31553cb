// Tests of LRP and gradient x input on the GPU (kernels/cuda/lrp.cu): every rule, the default
// composite and gradient x input against the fast CPU form and the fp64 matrix formulas
// (kernels/reference/lrp.cpp) on odd widths, grouped first layers, every tile size and odd row
// counts; conservation where the rule conserves; arg-max seeding; the same bytes on a second run;
// the limits. Every test skips where no CUDA device can run kernels; RESILINET_GPU_TEST_SMALL=1
// keeps the row counts small (for compute-sanitizer).
#include <gtest/gtest.h>

#if RESILINET_HAVE_CUDA

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cuda/cuda_ops.hpp"
#include "kernels/lrp.hpp"
#include "kernels/reference/lrp_reference.hpp"
#include "cuda_test_support.hpp"
#include "random_data.hpp"

namespace resilinet::kernels {
namespace {

using resilinet::testing::download;
using resilinet::testing::make_net;
using resilinet::testing::random_labels;
using resilinet::testing::Net;
using resilinet::testing::small_shapes;
using resilinet::testing::Stream;
using resilinet::testing::upload;

struct Shape {
  std::string name;
  std::vector<int> widths;
  std::vector<int> groups;
  bool deep;  // 256 wide: few rows (the fp64 reference is slow) and a 1e-4 tolerance
};

std::vector<int> two_groups(int inputs) {
  std::vector<int> g(inputs);
  for (int i = 0; i < inputs; ++i) g[i] = i < inputs / 2 ? 0 : 1;
  return g;
}

// The classifier head; odd widths with grouped first layers; a single (linear) layer; and
// networks whose tiles are 8 and 2 rows (the kernel's shared memory budget picks the tile).
std::vector<Shape> shapes() {
  return {{"head", {12, 64, 32, 5}, {}, false},
          {"grouped 7-9-6-3", {7, 9, 6, 3}, {0, 0, 0, 1, 1, 2, 2}, false},
          {"grouped 33-130-7-3", {33, 130, 7, 3}, two_groups(33), false},
          {"single layer 3-7", {3, 7}, {}, false},
          {"tile of 8", {33, 256, 256, 7}, {}, true},
          {"tile of 2", {130, 256, 256, 256, 256, 256, 33, 5}, {}, true}};
}

// Under compute-sanitizer: the shallow shapes only.
std::vector<Shape> tested_shapes() {
  std::vector<Shape> all = shapes();
  if (small_shapes()) std::erase_if(all, [](const Shape& s) { return s.deep; });
  return all;
}

std::vector<size_t> row_counts(const Shape& s) {
  if (small_shapes()) return {1, 65};
  if (s.deep) return {1, 63, 65};
  return {1, 63, 65, 1000, 4097};
}

// Bounds with mixed signs, so that the positive and negative input terms are both exercised.
std::vector<float> low_bounds(int f) {
  std::vector<float> v(f);
  for (int i = 0; i < f; ++i) v[i] = -0.6f + 0.05f * float(i % 9);
  return v;
}
std::vector<float> high_bounds(int f) {
  std::vector<float> v(f);
  for (int i = 0; i < f; ++i) v[i] = 1.0f + 0.03f * float(i % 7);
  return v;
}

std::vector<float> rows_in_bounds(size_t rows, int f, uint64_t seed) {
  return resilinet::testing::uniform_rows(rows, low_bounds(f), high_bounds(f), seed);
}

std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

struct Variant {
  std::string name;
  LrpRule rule;
  // alpha_beta(2, 1) weighs two differences of positive and negative parts (alpha + beta = 3 per
  // layer): fp32 rounding grows by about that factor over the reference.
  double tolerance_factor = 1.0;
};

std::vector<Variant> variants(int inputs) {
  return {{"epsilon 1e-6", epsilon_rule(1e-6f)},
          {"epsilon 1", epsilon_rule(1.0f)},
          {"zplus", zplus_rule()},
          {"alpha_beta 2 1", alpha_beta_rule(2.0f, 1.0f), 3.0},
          {"alpha_beta 1 0", alpha_beta_rule(1.0f, 0.0f)},
          {"gamma 0.25", gamma_rule(0.25f)},
          {"gamma 0.5", gamma_rule(0.5f)},
          {"flat", flat_rule()},
          {"wsquare", wsquare_rule()},
          {"zbox", zbox_rule(low_bounds(inputs), high_bounds(inputs))}};
}

// The rule on every layer; zbox above the input layer gets bounds that hold ReLU outputs.
LrpComposite everywhere(const LrpRule& rule, size_t layers) {
  LrpComposite c(layers, rule);
  if (rule.kind == LrpRuleKind::zbox)
    for (size_t l = 1; l < layers; ++l) c[l] = zbox_rule({0.0f}, {10.0f});
  return c;
}

// A network on the device, and one call of lrp (composite given) or gradient x input.
struct GpuNet {
  cuda::DeviceMlp mlp;
  cuda::DeviceArray<float> params;
  explicit GpuNet(const Net& n) : mlp(n.layout), params(upload(n.params)) {}
};

struct GpuResult {
  std::vector<float> out, logits;
};

GpuResult run_gpu(const GpuNet& g, const LrpComposite* composite, const std::vector<float>& x,
                  size_t rows, const std::vector<int32_t>* classes, cuda::Workspace& ws,
                  const Stream& stream) {
  const int f = g.mlp.layout().inputs(), k = g.mlp.layout().outputs();
  auto dx = upload(x);
  cuda::DeviceArray<int32_t> dc;
  if (classes) dc = upload(*classes);
  cuda::DeviceArray<float> out(std::max<size_t>(rows * f, 1)),
      logits(std::max<size_t>(rows * k, 1));
  const int32_t* c = classes ? dc.data() : nullptr;
  if (composite)
    cuda::lrp(g.mlp, g.params.data(), *composite, dx.data(), rows, c, out.data(), logits.data(), ws,
              stream.s);
  else
    cuda::gradient_x_input(g.mlp, g.params.data(), dx.data(), rows, c, out.data(), logits.data(),
                           ws, stream.s);
  stream.sync();
  return {download(out.data(), rows * f), download(logits.data(), rows * k)};
}

// What a fast result is compared with: the fp64 reference, and per row the scale errors are
// divided by (the largest |logit| or |reference value| of the row; relevance is linear in the
// seed) or 0 for a row that is skipped: within 1e-4 of a ReLU kink, where fp32 and fp64 may take
// different sides, or with no scale at all.
struct Expected {
  std::vector<double> values, logits, scale;
  size_t skipped = 0;
  double mass = 0.0;  // mean over compared rows of sum |reference| / scale: relevance is not all 0
};

Expected expected(const Net& net, const LrpComposite* composite, const std::vector<float>& x,
                  size_t rows, const std::vector<int32_t>& classes) {
  const int f = net.layout.inputs(), k = net.layout.outputs();
  std::vector<double> p = to_double(net.params), xd = to_double(x);
  Expected e;
  e.values.resize(rows * f);
  e.logits.resize(rows * k);
  if (composite) {
    reference::lrp(net.layout, p.data(), *composite, xd.data(), rows, classes.data(),
                   e.values.data(), e.logits.data());
  } else {
    reference::gradient_x_input(net.layout, p.data(), xd.data(), rows, classes.data(),
                                e.values.data());
    std::vector<double> scratch(rows * f);  // the logits come with lrp
    reference::lrp(net.layout, p.data(), LrpComposite(net.layout.layers.size(), epsilon_rule()),
                   xd.data(), rows, classes.data(), scratch.data(), e.logits.data());
  }
  const std::vector<double> margin = reference::relu_margin(net.layout, p.data(), xd.data(), rows);
  e.scale.assign(rows, 0.0);
  size_t compared = 0;
  for (size_t r = 0; r < rows; ++r) {
    double logit = 0.0, value = 0.0;
    for (int c = 0; c < k; ++c) logit = std::max(logit, std::abs(e.logits[r * k + c]));
    for (int i = 0; i < f; ++i) value = std::max(value, std::abs(e.values[r * f + i]));
    if (margin[r] < 1e-4 || logit < 1e-3) {
      ++e.skipped;
      continue;
    }
    e.scale[r] = std::max(logit, value);
    double mass = 0.0;
    for (int i = 0; i < f; ++i) mass += std::abs(e.values[r * f + i]);
    e.mass += mass / e.scale[r];
    ++compared;
  }
  if (compared) e.mass /= double(compared);
  return e;
}

// The largest scaled difference of `got` from `want` over the compared rows.
double scaled_error(const std::vector<float>& got, const std::vector<double>& want,
                    const std::vector<double>& scale, int f) {
  double err = 0.0;
  for (size_t r = 0; r < scale.size(); ++r) {
    if (scale[r] == 0.0) continue;
    for (int i = 0; i < f; ++i)
      err = std::max(err, std::abs(double(got[r * f + i]) - want[r * f + i]) / scale[r]);
  }
  return err;
}

std::vector<double> as_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// GPU against the reference and the CPU (both at `tolerance`, scaled per row), logits against the
// reference (1e-5 times the row's scale, or 1e-4 on the deep shapes).
void compare(const Net& net, const LrpComposite* composite, const std::vector<float>& x,
             size_t rows, const std::vector<int32_t>& classes, const GpuResult& gpu,
             double tolerance, bool check_mass) {
  const int f = net.layout.inputs(), k = net.layout.outputs();
  const Expected e = expected(net, composite, x, rows, classes);
  // A deep row crosses many units: more of them come within 1e-4 of a kink.
  EXPECT_LE(e.skipped, rows / (net.layout.max_width() > 200 ? 4 : 10) + 1);
  std::vector<float> cpu_out(rows * f), cpu_logits(rows * k);
  if (composite)
    cpu::lrp(net.layout, net.params.data(), *composite, x.data(), rows, classes.data(),
             cpu_out.data(), cpu_logits.data());
  else
    cpu::gradient_x_input(net.layout, net.params.data(), x.data(), rows, classes.data(),
                          cpu_out.data(), cpu_logits.data());
  EXPECT_LT(scaled_error(gpu.out, e.values, e.scale, f), tolerance) << "against the reference";
  EXPECT_LT(scaled_error(gpu.out, as_double(cpu_out), e.scale, f), tolerance) << "against the CPU";
  for (size_t r = 0; r < rows; ++r)
    for (int c = 0; c < k; ++c)
      ASSERT_NEAR(gpu.logits[r * k + c], e.logits[r * k + c],
                  tolerance * std::max(1.0, std::abs(e.logits[r * k + c])))
          << "logit " << c << " of row " << r;
  // Over a few rows the mass may be small by chance (epsilon 1 absorbs much of it).
  if (check_mass && rows >= 20) {
    EXPECT_GT(e.mass, 1e-3) << "relevance is all zero";
  }
}

TEST(CudaLrp, EveryRuleMatchesCpuAndReference) {
  REQUIRE_CUDA_DEVICE();
  Stream stream;
  cuda::Workspace ws;
  const std::vector<bool> biases =
      small_shapes() ? std::vector<bool>{true} : std::vector<bool>{false, true};
  for (const Shape& shape : tested_shapes())
    for (bool bias : biases) {
      const Net net = make_net(shape.widths, 1, bias, shape.groups);
      const GpuNet gpu(net);
      const int f = shape.widths.front();
      const double tolerance = shape.deep ? 1e-4 : 1e-5;
      for (size_t rows : row_counts(shape)) {
        const auto x = rows_in_bounds(rows, f, rows + 10);
        const auto classes = random_labels(rows, shape.widths.back(), rows + 20);
        for (const Variant& v : variants(f)) {
          SCOPED_TRACE(shape.name + " bias " + std::to_string(bias) + " rows " +
                       std::to_string(rows) + " rule " + v.name);
          const LrpComposite c = everywhere(v.rule, net.layout.layers.size());
          const GpuResult got = run_gpu(gpu, &c, x, rows, &classes, ws, stream);
          compare(net, &c, x, rows, classes, got, tolerance * v.tolerance_factor, true);
        }
      }
    }
}

// A rule per layer that differs from its neighbours (the default composite), and seeding by the
// arg max: classes = nullptr gives the same bytes as the GPU's own first arg max passed in.
TEST(CudaLrp, DefaultCompositeAndArgmaxSeeding) {
  REQUIRE_CUDA_DEVICE();
  Stream stream;
  cuda::Workspace ws;
  for (const Shape& shape : tested_shapes()) {
    const Net net = make_net(shape.widths, 2, true, shape.groups);
    const GpuNet gpu(net);
    const int f = shape.widths.front(), k = shape.widths.back();
    const LrpComposite def = default_lrp_composite(net.layout, low_bounds(f), high_bounds(f));
    for (size_t rows : row_counts(shape)) {
      SCOPED_TRACE(shape.name + " rows " + std::to_string(rows));
      const auto x = rows_in_bounds(rows, f, rows + 30);
      const auto classes = random_labels(rows, k, rows + 40);
      const GpuResult got = run_gpu(gpu, &def, x, rows, &classes, ws, stream);
      compare(net, &def, x, rows, classes, got, shape.deep ? 1e-4 : 1e-5, true);

      const GpuResult seeded = run_gpu(gpu, &def, x, rows, nullptr, ws, stream);
      std::vector<int32_t> argmax(rows);
      for (size_t r = 0; r < rows; ++r) {
        const float* y = &seeded.logits[r * k];
        argmax[r] = int32_t(std::max_element(y, y + k) - y);
      }
      const GpuResult given = run_gpu(gpu, &def, x, rows, &argmax, ws, stream);
      EXPECT_EQ(seeded.out, given.out);
      EXPECT_EQ(seeded.logits, given.logits);
    }
  }
}

// Without biases, epsilon (tiny eps) conserves the seed: sum_i R_i = y_c. flat and wsquare ignore
// biases and conserve with them. Checked to 1e-4 relative where |y_c| >= 1e-3, explaining the
// class of the largest |logit|, on rows whose hidden pre-activations are all at least 1e-3 from 0
// (epsilon divides by them, and fp32 rounding of the numerators is relative to sum |a w|).
TEST(CudaLrp, ConservesTheSeedWhereTheRuleDoes) {
  REQUIRE_CUDA_DEVICE();
  Stream stream;
  cuda::Workspace ws;
  for (const Shape& shape : tested_shapes()) {
    if (shape.deep) continue;
    const int f = shape.widths.front(), k = shape.widths.back();
    const std::vector<std::pair<std::string, LrpRule>> rules = {
        {"epsilon 1e-9", epsilon_rule(1e-9f)}, {"flat", flat_rule()}, {"wsquare", wsquare_rule()}};
    for (const auto& [name, rule] : rules) {
      const bool bias = rule.kind != LrpRuleKind::epsilon;
      const Net net = make_net(shape.widths, 3, bias, shape.groups);
      const GpuNet gpu(net);
      const LrpComposite c = everywhere(rule, net.layout.layers.size());
      const size_t rows = small_shapes() ? 65 : 1000;
      const auto x = rows_in_bounds(rows, f, 50);
      const GpuResult first = run_gpu(gpu, &c, x, rows, nullptr, ws, stream);
      std::vector<int32_t> classes(rows);
      for (size_t r = 0; r < rows; ++r) {
        const float* y = &first.logits[r * k];
        classes[r] = int32_t(
            std::max_element(y, y + k, [](float a, float b) { return std::abs(a) < std::abs(b); }) -
            y);
      }
      const GpuResult got = run_gpu(gpu, &c, x, rows, &classes, ws, stream);
      const std::vector<double> p = to_double(net.params), xd = to_double(x);
      const std::vector<double> margin =
          reference::relu_margin(net.layout, p.data(), xd.data(), rows);
      for (size_t r = 0; r < rows; ++r) {
        const double y = got.logits[r * k + classes[r]];
        if (std::abs(y) < 1e-3 || margin[r] < 1e-3) continue;
        double sum = 0.0;
        for (int i = 0; i < f; ++i) sum += got.out[r * f + i];
        ASSERT_LT(std::abs(sum - y) / std::abs(y), 1e-4)
            << shape.name << " " << name << " row " << r;
      }
    }
  }
}

// x * dy_c/dx with ReLU'(0) = 0, against the CPU and the fp64 reference (scaled as LRP), and
// nullptr classes as the arg max.
TEST(CudaGradientXInput, MatchesCpuAndReference) {
  REQUIRE_CUDA_DEVICE();
  Stream stream;
  cuda::Workspace ws;
  for (const Shape& shape : tested_shapes()) {
    const Net net = make_net(shape.widths, 4, true, shape.groups);
    const GpuNet gpu(net);
    const int f = shape.widths.front(), k = shape.widths.back();
    for (size_t rows : row_counts(shape)) {
      SCOPED_TRACE(shape.name + " rows " + std::to_string(rows));
      const auto x = rows_in_bounds(rows, f, rows + 60);
      const auto classes = random_labels(rows, k, rows + 70);
      const GpuResult got = run_gpu(gpu, nullptr, x, rows, &classes, ws, stream);
      compare(net, nullptr, x, rows, classes, got, shape.deep ? 1e-4 : 1e-5, false);

      const GpuResult seeded = run_gpu(gpu, nullptr, x, rows, nullptr, ws, stream);
      std::vector<int32_t> argmax(rows);
      for (size_t r = 0; r < rows; ++r) {
        const float* y = &seeded.logits[r * k];
        argmax[r] = int32_t(std::max_element(y, y + k) - y);
      }
      EXPECT_EQ(seeded.out, run_gpu(gpu, nullptr, x, rows, &argmax, ws, stream).out);
    }
  }
}

// Rows are independent and nothing is reduced across blocks, but a second run must still give
// the same bytes (for LRP and gradient x input, on every tile size).
TEST(CudaLrp, SameBytesOnASecondRun) {
  REQUIRE_CUDA_DEVICE();
  Stream stream;
  cuda::Workspace ws;
  for (const Shape& shape : tested_shapes()) {
    SCOPED_TRACE(shape.name);
    const Net net = make_net(shape.widths, 5, true, shape.groups);
    const GpuNet gpu(net);
    const int f = shape.widths.front();
    const size_t rows = small_shapes() || shape.deep ? 65 : 4097;
    const auto x = rows_in_bounds(rows, f, 80);
    const LrpComposite def = default_lrp_composite(net.layout, low_bounds(f), high_bounds(f));
    const GpuResult a = run_gpu(gpu, &def, x, rows, nullptr, ws, stream);
    const GpuResult b = run_gpu(gpu, &def, x, rows, nullptr, ws, stream);
    EXPECT_EQ(std::memcmp(a.out.data(), b.out.data(), a.out.size() * sizeof(float)), 0);
    EXPECT_EQ(std::memcmp(a.logits.data(), b.logits.data(), a.logits.size() * sizeof(float)), 0);
    const GpuResult g1 = run_gpu(gpu, nullptr, x, rows, nullptr, ws, stream);
    const GpuResult g2 = run_gpu(gpu, nullptr, x, rows, nullptr, ws, stream);
    EXPECT_EQ(std::memcmp(g1.out.data(), g2.out.data(), g1.out.size() * sizeof(float)), 0);
  }
}

// Widths past kMaxWidth, more than kMaxLayers layers and a composite of the wrong length are
// errors; no rows is nothing to do. A class outside [0, outputs) cannot be checked on the host
// (device data): the row gets no seed, so zero relevance, and the other rows are unaffected.
TEST(CudaLrp, LimitsAndUncheckedClasses) {
  REQUIRE_CUDA_DEVICE();
  Stream stream;
  cuda::Workspace ws;
  {
    const Net wide = make_net({4, 257, 3}, 1, false);
    const GpuNet gpu(wide);
    const auto x = rows_in_bounds(2, 4, 1);
    const LrpComposite c = everywhere(epsilon_rule(), 2);
    EXPECT_THROW(run_gpu(gpu, &c, x, 2, nullptr, ws, stream), std::invalid_argument);
    EXPECT_THROW(run_gpu(gpu, nullptr, x, 2, nullptr, ws, stream), std::invalid_argument);
  }
  {
    const Net deep = make_net(std::vector<int>(18, 4), 1, false);  // 17 layers
    const GpuNet gpu(deep);
    const auto x = rows_in_bounds(2, 4, 1);
    const LrpComposite c = everywhere(epsilon_rule(), 17);
    EXPECT_THROW(run_gpu(gpu, &c, x, 2, nullptr, ws, stream), std::invalid_argument);
  }
  const Net net = make_net({12, 64, 32, 5}, 6, true);
  const GpuNet gpu(net);
  const size_t rows = 65;
  const auto x = rows_in_bounds(rows, 12, 2);
  const LrpComposite two = everywhere(epsilon_rule(), 2);
  EXPECT_THROW(run_gpu(gpu, &two, x, rows, nullptr, ws, stream), std::invalid_argument);
  const LrpComposite def = default_lrp_composite(net.layout, low_bounds(12), high_bounds(12));
  EXPECT_NO_THROW(run_gpu(gpu, &def, x, 0, nullptr, ws, stream));

  auto classes = random_labels(rows, 5, 3);
  const GpuResult good = run_gpu(gpu, &def, x, rows, &classes, ws, stream);
  classes[7] = 5;
  classes[64] = -1;
  const GpuResult bad = run_gpu(gpu, &def, x, rows, &classes, ws, stream);
  for (size_t r = 0; r < rows; ++r)
    for (int i = 0; i < 12; ++i) {
      const float want = r == 7 || r == 64 ? 0.0f : good.out[r * 12 + i];
      ASSERT_EQ(bad.out[r * 12 + i], want) << "row " << r;
    }
}

}  // namespace
}  // namespace resilinet::kernels

#else

TEST(CudaLrp, SkippedWithoutCuda) { GTEST_SKIP() << "built without the CUDA backend"; }

#endif
