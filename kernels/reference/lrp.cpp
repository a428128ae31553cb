// fp64 reference of LRP: every rule written out as the matrix formula of kernels/lrp.hpp, on the
// whole batch at once. Deliberately shares nothing with the fast driver (no hooks, no tiles), so a
// test comparing the two checks the hooks as well as the arithmetic.
#include "kernels/reference/lrp_reference.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <stdexcept>

namespace resilinet::kernels::reference {
namespace {

using Vec = std::vector<double>;

Matrix map(const Matrix& m, const std::function<double(double)>& f) {
  Matrix out(m.rows, m.cols);
  for (size_t k = 0; k < m.v.size(); ++k) out.v[k] = f(m.v[k]);
  return out;
}
Vec map(const Vec& v, const std::function<double(double)>& f) {
  Vec out(v.size());
  for (size_t k = 0; k < v.size(); ++k) out[k] = f(v[k]);
  return out;
}
double pos(double v) { return std::max(v, 0.0); }
double neg(double v) { return std::min(v, 0.0); }
Matrix pos(const Matrix& m) {
  return map(m, [](double v) { return pos(v); });
}
Matrix neg(const Matrix& m) {
  return map(m, [](double v) { return neg(v); });
}
Vec pos(const Vec& v) {
  return map(v, [](double x) { return pos(x); });
}
Vec neg(const Vec& v) {
  return map(v, [](double x) { return neg(x); });
}

Matrix operator+(const Matrix& a, const Matrix& b) {
  Matrix out = a;
  for (size_t k = 0; k < out.v.size(); ++k) out.v[k] += b.v[k];
  return out;
}
Matrix operator-(const Matrix& a, const Matrix& b) {
  Matrix out = a;
  for (size_t k = 0; k < out.v.size(); ++k) out.v[k] -= b.v[k];
  return out;
}
Matrix operator*(double s, const Matrix& a) {
  return map(a, [s](double v) { return s * v; });
}
Vec operator*(double s, const Vec& a) {
  return map(a, [s](double v) { return s * v; });
}
Vec operator+(const Vec& a, const Vec& b) {
  Vec out = a;
  for (size_t k = 0; k < out.size(); ++k) out[k] += b[k];
  return out;
}
// Elementwise (Hadamard) product.
Matrix hadamard(const Matrix& a, const Matrix& b) {
  Matrix out = a;
  for (size_t k = 0; k < out.v.size(); ++k) out.v[k] *= b.v[k];
  return out;
}
Matrix divide(const Matrix& a, const Matrix& b) {
  Matrix out = a;
  for (size_t k = 0; k < out.v.size(); ++k) out.v[k] /= b.v[k];
  return out;
}

// a [rows x in] times w^T, w [out x in], plus b [out] on every row (b may be empty = no bias).
Matrix times_wt(const Matrix& a, const Matrix& w, const Vec& b) {
  Matrix out(a.rows, w.rows);
  for (size_t r = 0; r < a.rows; ++r)
    for (size_t j = 0; j < w.rows; ++j) {
      double acc = b.empty() ? 0.0 : b[j];
      for (size_t i = 0; i < w.cols; ++i) acc += a(r, i) * w(j, i);
      out(r, j) = acc;
    }
  return out;
}
// s [rows x out] times w [out x in].
Matrix times_w(const Matrix& s, const Matrix& w) {
  Matrix out(s.rows, w.cols);
  for (size_t r = 0; r < s.rows; ++r)
    for (size_t i = 0; i < w.cols; ++i) {
      double acc = 0.0;
      for (size_t j = 0; j < w.rows; ++j) acc += s(r, j) * w(j, i);
      out(r, i) = acc;
    }
  return out;
}

// zennit's stabiliser: d + eps * sign(d), sign(0) = +1.
Matrix stab(const Matrix& d, double eps) {
  return map(d, [eps](double v) { return v + (v >= 0.0 ? eps : -eps); });
}

// A row vector repeated on every row (zbox bounds; one value broadcasts to every input).
Matrix rows_of(const std::vector<float>& bound, size_t rows, size_t cols) {
  Matrix out(rows, cols);
  for (size_t r = 0; r < rows; ++r)
    for (size_t i = 0; i < cols; ++i) out(r, i) = bound[bound.size() == 1 ? 0 : i];
  return out;
}

struct Forward {
  std::vector<Matrix> input;  // input of each layer; input[L] = network output
  std::vector<Matrix> z;      // pre-activation of each layer
  std::vector<Matrix> w, connected;
  std::vector<Vec> b;
};

Forward forward(const MlpLayout& layout, const double* params, const double* x, size_t rows) {
  Forward f;
  Matrix a(rows, size_t(layout.inputs()));
  std::copy(x, x + a.v.size(), a.v.begin());
  f.input.push_back(a);
  for (const auto& l : layout.layers) {
    Matrix w(size_t(l.out), size_t(l.in)), c(size_t(l.out), size_t(l.in), 1.0);
    std::copy(params + l.weight_offset, params + l.weight_offset + w.v.size(), w.v.begin());
    if (!l.mask.empty())
      for (size_t k = 0; k < c.v.size(); ++k) c.v[k] = l.mask[k] ? 1.0 : 0.0;
    Vec b(params + l.bias_offset, params + l.bias_offset + l.out);
    Matrix z = times_wt(f.input.back(), w, b);
    f.input.push_back(l.act == Activation::relu ? pos(z) : z);
    f.z.push_back(std::move(z));
    f.w.push_back(std::move(w));
    f.connected.push_back(std::move(c));
    f.b.push_back(std::move(b));
  }
  return f;
}

int32_t chosen_class(const int32_t* classes, const Matrix& y, size_t r) {
  if (classes) return classes[r];
  int32_t best = 0;
  for (size_t k = 1; k < y.cols; ++k)
    if (y(r, k) > y(r, size_t(best))) best = int32_t(k);
  return best;
}

}  // namespace

Matrix lrp_layer(const LrpRule& rule, const Matrix& W, const Vec& b, const Matrix& connected,
                 const Matrix& A, const Matrix& Z, const Matrix& R) {
  const double eps = rule.epsilon;
  const Matrix Ap = pos(A), An = neg(A), Wp = pos(W), Wn = neg(W);
  const Vec none;
  switch (rule.kind) {
    case LrpRuleKind::epsilon: {
      Matrix S = divide(R, stab(times_wt(A, W, b), eps));
      return hadamard(A, times_w(S, W));
    }
    case LrpRuleKind::zplus: {
      Matrix S = divide(R, stab(times_wt(Ap, Wp, pos(b)) + times_wt(An, Wn, none), eps));
      return hadamard(Ap, times_w(S, Wp)) + hadamard(An, times_w(S, Wn));
    }
    case LrpRuleKind::alpha_beta: {
      const double alpha = rule.alpha, beta = rule.beta;
      Matrix Sp = divide(R, stab(times_wt(Ap, Wp, pos(b)) + times_wt(An, Wn, none), eps));
      Matrix Sn = divide(R, stab(times_wt(Ap, Wn, neg(b)) + times_wt(An, Wp, none), eps));
      return alpha * (hadamard(Ap, times_w(Sp, Wp)) + hadamard(An, times_w(Sp, Wn))) -
             beta * (hadamard(Ap, times_w(Sn, Wn)) + hadamard(An, times_w(Sn, Wp)));
    }
    case LrpRuleKind::gamma: {
      const double g = rule.gamma;
      const Matrix Wg_p = W + g * Wp, Wg_n = W + g * Wn;
      const Vec bg_p = b + g * pos(b), bg_n = b + g * neg(b);
      Matrix above = map(Z, [](double v) { return v > 0.0 ? 1.0 : 0.0; });
      Matrix below = map(Z, [](double v) { return v < 0.0 ? 1.0 : 0.0; });
      Matrix Sp = divide(hadamard(above, R),
                         stab(times_wt(Ap, Wg_p, bg_p) + times_wt(An, Wg_n, none), eps));
      Matrix Sn = divide(hadamard(below, R),
                         stab(times_wt(Ap, Wg_n, bg_n) + times_wt(An, Wg_p, none), eps));
      return hadamard(Ap, times_w(Sp, Wg_p) + times_w(Sn, Wg_n)) +
             hadamard(An, times_w(Sp, Wg_n) + times_w(Sn, Wg_p));
    }
    case LrpRuleKind::flat: {
      Matrix ones(A.rows, A.cols, 1.0);
      Matrix S = divide(R, stab(times_wt(ones, connected, none), eps));
      return times_w(S, connected);
    }
    case LrpRuleKind::wsquare: {
      Matrix ones(A.rows, A.cols, 1.0);
      Matrix W2 = hadamard(W, W);
      Matrix S = divide(R, stab(times_wt(ones, W2, none), eps));
      return times_w(S, W2);
    }
    case LrpRuleKind::zbox: {
      Matrix L = rows_of(rule.low, A.rows, A.cols), H = rows_of(rule.high, A.rows, A.cols);
      // The bias cancels: (b) - (b+) - (b-) = 0.
      Matrix S = divide(
          R, stab(times_wt(A, W, none) - times_wt(L, Wp, none) - times_wt(H, Wn, none), eps));
      return hadamard(A, times_w(S, W)) - hadamard(L, times_w(S, Wp)) - hadamard(H, times_w(S, Wn));
    }
  }
  throw std::invalid_argument("reference::lrp_layer: unknown rule");
}

void lrp(const MlpLayout& layout, const double* params, const LrpComposite& composite,
         const double* x, size_t rows, const int32_t* classes, double* relevance, double* logits) {
  check_lrp_composite(layout, composite);
  Forward f = forward(layout, params, x, rows);
  const Matrix& y = f.input.back();
  if (logits) std::copy(y.v.begin(), y.v.end(), logits);
  Matrix R(rows, y.cols);
  for (size_t r = 0; r < rows; ++r) {
    const int32_t c = chosen_class(classes, y, r);
    R(r, size_t(c)) = y(r, size_t(c));
  }
  for (size_t l = layout.layers.size(); l-- > 0;)
    R = lrp_layer(composite[l], f.w[l], f.b[l], f.connected[l], f.input[l], f.z[l], R);
  std::copy(R.v.begin(), R.v.end(), relevance);
}

void gradient_x_input(const MlpLayout& layout, const double* params, const double* x, size_t rows,
                      const int32_t* classes, double* out) {
  Forward f = forward(layout, params, x, rows);
  const Matrix& y = f.input.back();
  Matrix G(rows, y.cols);
  for (size_t r = 0; r < rows; ++r) G(r, size_t(chosen_class(classes, y, r))) = 1.0;
  for (size_t l = layout.layers.size(); l-- > 0;) {
    if (layout.layers[l].act == Activation::relu)
      G = hadamard(G, map(f.z[l], [](double v) { return v > 0.0 ? 1.0 : 0.0; }));
    G = times_w(G, f.w[l]);
  }
  Matrix out_m = hadamard(f.input[0], G);
  std::copy(out_m.v.begin(), out_m.v.end(), out);
}

double network_output(const MlpLayout& layout, const double* params, const double* x_row,
                      int32_t cls) {
  Forward f = forward(layout, params, x_row, 1);
  return f.input.back()(0, size_t(cls));
}

std::vector<double> relu_margin(const MlpLayout& layout, const double* params, const double* x,
                                size_t rows) {
  Forward f = forward(layout, params, x, rows);
  std::vector<double> margin(rows, INFINITY);
  for (size_t l = 0; l < layout.layers.size(); ++l) {
    if (layout.layers[l].act != Activation::relu) continue;
    for (size_t r = 0; r < rows; ++r)
      for (size_t j = 0; j < f.z[l].cols; ++j)
        margin[r] = std::min(margin[r], std::abs(f.z[l](r, j)));
  }
  return margin;
}

}  // namespace resilinet::kernels::reference
