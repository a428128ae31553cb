// fp64 twin of kernels/lrp.hpp for tests and benchmarks: each LRP rule restated in matrix form
// (whole-batch products, no tiles, no threads, no shared hooks), plus gradient x input and the
// network output for finite differences. Never used by the trainer.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/lrp.hpp"

namespace resilinet::kernels::reference {

// A dense row-major matrix of doubles.
struct Matrix {
  size_t rows = 0, cols = 0;
  std::vector<double> v;
  Matrix() = default;
  Matrix(size_t r, size_t c, double fill = 0.0) : rows(r), cols(c), v(r * c, fill) {}
  double& operator()(size_t r, size_t c) { return v[r * cols + c]; }
  double operator()(size_t r, size_t c) const { return v[r * cols + c]; }
};

// One rule on one layer z = a W^T + b: W [out x in], b [out], connected [out x in] (1 where the
// connection exists), a [rows x in] the layer input, z [rows x out] its pre-activation, r_out
// [rows x out] the relevance at its output. Returns r_in [rows x in].
Matrix lrp_layer(const LrpRule& rule, const Matrix& w, const std::vector<double>& b,
                 const Matrix& connected, const Matrix& a, const Matrix& z, const Matrix& r_out);

// Same meaning and arguments as cpu::lrp / cpu::gradient_x_input, in fp64.
void lrp(const MlpLayout& layout, const double* params, const LrpComposite& composite,
         const double* x, size_t rows, const int32_t* classes, double* relevance,
         double* logits = nullptr);
void gradient_x_input(const MlpLayout& layout, const double* params, const double* x, size_t rows,
                      const int32_t* classes, double* out);

// Network output of one row at one class (for finite differences).
double network_output(const MlpLayout& layout, const double* params, const double* x_row,
                      int32_t cls);

// Per row, the smallest |z| over the pre-activations of the ReLU layers: how close the row is to a
// kink, where fp32 and fp64 may take different sides (tests skip such rows when comparing).
std::vector<double> relu_margin(const MlpLayout& layout, const double* params, const double* x,
                                size_t rows);

}  // namespace resilinet::kernels::reference
