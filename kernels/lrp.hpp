// Layer-wise relevance propagation (LRP) and gradient x input for the MLPs of
// kernels/mlp_layout.hpp (the classifier head is the network that is explained). Rule semantics
// follow zennit; every rule is one set of small hooks (LrpRuleTerms) run by one driver. No I/O, no
// YAML (config code turns names into rules with make_lrp_rule). The fp64 twin in matrix form is
// reference/lrp_reference.hpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/mlp_layout.hpp"

namespace resilinet::kernels {

// For one linear layer z = W a + b, relevance R at its output (after the activation: activations
// pass relevance through unchanged) and the layer input a, each rule gives the input relevance:
//   epsilon     R_in = a * W^T (R / stab(z))                       (stabiliser = epsilon)
//   zplus       R_in = a+ * W+^T s + a- * W-^T s,  s = R / stab(W+ a+ + W- a- + b+)
//               (= alpha_beta with alpha = 1, beta = 0)
//   alpha_beta  R_in = alpha * [a+ * W+^T s_p + a- * W-^T s_p]
//                      - beta * [a+ * W-^T s_n + a- * W+^T s_n],
//               s_p = R / stab(W+ a+ + W- a- + b+),  s_n = R / stab(W- a+ + W+ a- + b-)
//   gamma       (generalised, zennit >= 0.5) with Wp = W + gamma W+, Wn = W + gamma W-,
//               bp = b + gamma b+, bn = b + gamma b-:
//               s_p = [z > 0] R / stab(Wp a+ + Wn a- + bp),
//               s_n = [z < 0] R / stab(Wn a+ + Wp a- + bn),
//               R_in = a+ * (Wp^T s_p + Wn^T s_n) + a- * (Wn^T s_p + Wp^T s_n)
//   flat        R_in,i = sum_j M_ji R_j / stab(sum_k M_jk), M = 1 where a connection exists
//   wsquare     R_in,i = sum_j W_ji^2 R_j / stab(sum_k W_jk^2); no bias
//   zbox        R_in = a * W^T s - low * W+^T s - high * W-^T s,
//               s = R / stab(W a - W+ low - W- high)
// where a+ = max(a, 0), a- = min(a, 0), W+ = max(W, 0), W- = min(W, 0), products with a vector on
// the left are elementwise, and stab(d) = d + eps * sign(d) with sign(0) = +1.
// Biases follow zennit's defaults (zero_params=None) except in wsquare, which by design ignores the
// bias (zennit squares it unless zero_params=['bias']); flat ignores it as in zennit. Masked-out
// weights of a grouped layer are zero in the parameters; flat's M leaves them out too.
enum class LrpRuleKind : int { epsilon = 0, zplus, alpha_beta, gamma, flat, wsquare, zbox };

struct LrpRule {
  LrpRuleKind kind = LrpRuleKind::epsilon;
  float epsilon =
      1e-6f;            // epsilon rule: its epsilon; every other rule: the stabiliser eps of stab()
  float gamma = 0.25f;  // gamma rule
  float alpha = 2.0f;   // alpha_beta rule: alpha - beta = 1, both >= 0
  float beta = 1.0f;
  std::vector<float> low;   // zbox rule: bounds of the layer's input, one per input or one for all
  std::vector<float> high;  //   (input layer: the scaled feature range, e.g. 0 and 1 for min-max)
};

// Rule constructors; bad settings throw std::invalid_argument (see check_lrp_rule).
LrpRule epsilon_rule(float epsilon = 1e-6f);
LrpRule zplus_rule(float stabilizer = 1e-6f);
LrpRule alpha_beta_rule(float alpha, float beta, float stabilizer = 1e-6f);
LrpRule gamma_rule(float gamma = 0.25f, float stabilizer = 1e-6f);
LrpRule flat_rule(float stabilizer = 1e-6f);
LrpRule wsquare_rule(float stabilizer = 1e-6f);
LrpRule zbox_rule(std::vector<float> low, std::vector<float> high, float stabilizer = 1e-6f);

// One rule per layer, input layer first.
using LrpComposite = std::vector<LrpRule>;

// zbox(low, high) on the input layer, gamma 0.25 on the middle layers, epsilon 1e-6 on the top
// layer (a single-layer network gets zbox only).
LrpComposite default_lrp_composite(const MlpLayout& layout, std::vector<float> low,
                                   std::vector<float> high);

// Throw std::invalid_argument (naming the layer) when a rule's settings are invalid: alpha - beta
// != 1, negative alpha, beta, gamma or epsilon, zbox bounds missing, of the wrong length or with
// low > high; or when the composite does not have one rule per layer. layer_inputs < 0: unknown.
void check_lrp_rule(const LrpRule& rule, int layer_inputs);
void check_lrp_composite(const MlpLayout& layout, const LrpComposite& composite);

// A rule name or setting from a config that is not valid: where it came from (the config file and
// field, passed through for the message), what was expected and what was found. Config code
// reports it to the user as bad input.
class LrpRuleError : public std::invalid_argument {
 public:
  LrpRuleError(std::string file, std::string field, std::string expected, std::string found);
  const std::string& file() const { return file_; }
  const std::string& field() const { return field_; }
  const std::string& expected() const { return expected_; }
  const std::string& found() const { return found_; }

 private:
  std::string file_, field_, expected_, found_;
};

// Config names, in order: epsilon, zplus, alpha_beta, gamma, flat, wsquare, zbox.
const std::vector<std::string>& lrp_rule_names();
const std::string& lrp_rule_name(LrpRuleKind kind);
// Unknown names throw LrpRuleError(file, field, "one of epsilon, zplus, ...", name).
LrpRuleKind parse_lrp_rule_kind(const std::string& name, const std::string& file = "",
                                const std::string& field = "lrp.composite");
// The rule `name` with the numeric settings and bounds of `settings` (its kind is ignored); invalid
// settings throw LrpRuleError(file, field, ...). For zbox on the input layer the caller fills
// low/high from the scaler before calling.
LrpRule make_lrp_rule(const std::string& name, const LrpRule& settings,
                      const std::string& file = "", const std::string& field = "lrp.composite");

// ---- The hooks: how a rule modifies one layer (zennit's input, parameter, output modifiers) ----
// A rule is a list of terms in one or more groups. Term t feeds a modified input x_t through
// modified parameters: o_t = W_t x_t + b_t. Group g has the denominator
// d_g = sum_{t in g} sign_t o_t and
//   s_g = gate_g(z) * R / stab(d_g),
//   R_in = sum_g coefficient_g sum_{t in g} sign_t x_t * W_t^T s_g.
enum class LrpInput : uint8_t { identity, positive, negative, ones, low, high };
enum class LrpParam : uint8_t {
  identity,        // w
  positive,        // max(w, 0)
  negative,        // min(w, 0)
  gamma_positive,  // w + gamma max(w, 0)
  gamma_negative,  // w + gamma min(w, 0)
  ones,            // 1 where the connection exists
  square,          // w^2
};
enum class LrpGate : uint8_t { all, positive_z, negative_z };

struct LrpTerm {
  LrpInput input = LrpInput::identity;
  LrpParam param = LrpParam::identity;
  bool bias = true;   // the bias gets the same modifier; false: the term has no bias
  float sign = 1.0f;  // +1 or -1 in both the denominator and the reducer
  int group = 0;
};
struct LrpGroup {
  float coefficient = 1.0f;
  LrpGate gate = LrpGate::all;
};
struct LrpRuleTerms {
  std::vector<LrpGroup> groups;
  std::vector<LrpTerm> terms;
  float stabilizer = 1e-6f;
  float gamma = 0.0f;  // used by gamma_positive / gamma_negative
};
// The hooks of a rule (checked with check_lrp_rule first).
LrpRuleTerms lrp_rule_terms(const LrpRule& rule);

namespace cpu {

// relevance [rows x inputs]: LRP of the seed y[i, c_i] (the network output of row i at class c_i,
// relevance 0 at the other outputs) back to the inputs, one rule per layer (check_lrp_composite is
// called first). classes: c_i in [0, outputs) per row, or nullptr for the arg max of the output
// (the rated level - 1). logits (optional, [rows x outputs]) receives the network output. One
// forward per tile of rows, then the modified backward passes layer by layer; OpenMP over tiles.
// Throws std::out_of_range for a class outside [0, outputs).
void lrp(const MlpLayout& layout, const float* params, const LrpComposite& composite,
         const float* x, size_t rows, const int32_t* classes, float* relevance,
         float* logits = nullptr);

// out [rows x inputs] = x * d y[i, c_i] / d x, same seeding and arguments as lrp (ReLU'(0) = 0).
void gradient_x_input(const MlpLayout& layout, const float* params, const float* x, size_t rows,
                      const int32_t* classes, float* out, float* logits = nullptr);

// The instruction set both run with, by name: "baseline", "avx2" or "avx512" (cpu_isa() of
// kernels/cpu/isa.hpp: the best this CPU has, unless RESILINET_CPU_ISA asks for another).
// Results are the same bytes for any thread count; across instruction sets they may differ in the
// last bits (FMA).
std::string lrp_instruction_set();

}  // namespace cpu
}  // namespace resilinet::kernels
