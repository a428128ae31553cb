// Settings of `resilinet explain`: the LRP composite (a rule for the input layer, the middle layers
// and the top layer of the classifier head), the seed level, and the perturbation delta. Read from
// YAML with the same strict binding as the training config; every key is in configs/README.md.
#pragma once
#include "trainer/explain/room.hpp"
#include <string>

#include "kernels/lrp.hpp"
#include "trainer/model/model.hpp"

namespace resilinet {

struct LrpRuleConfig {
  std::string rule;
  double epsilon = 1e-6;     // epsilon rule's epsilon
  double stabilizer = 1e-6;  // every other rule's stabiliser
  double gamma = 0.25;
  double alpha = 2.0;
  double beta = 1.0;
};

struct ExplainConfig {
  std::string source_file = "<defaults>";
  LrpRuleConfig input{"zbox"};
  LrpRuleConfig middle{"gamma"};
  LrpRuleConfig top{"epsilon"};
  std::string seed = "rated";  // "rated" or a level 1..K whose logit seeds every cell
  double delta = 0.1;          // perturbation in scaled units
  bool sensitivity = true;     // run the perturbation analysis
};

ExplainConfig load_explain_config(const std::string& path);  // "" = defaults
ExplainConfig parse_explain_config(const std::string& yaml_text, const std::string& file);
std::string to_yaml(const ExplainConfig& config);

// The composite for the model's classifier head; z^B bounds come from the scaler's training range.
kernels::LrpComposite build_composite(const ExplainConfig& config, const Model& model);
// The seed class (level - 1) for every row, or -1 for "the rated level".
int fixed_seed_class(const ExplainConfig& config, int clusters);

}  // namespace resilinet
