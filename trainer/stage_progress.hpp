// Where an epoch-driven training stage (pretrain, classifier) stands after some whole epochs: with
// the model's parameters, enough to continue it exactly. Stored in the checkpoint.
#pragma once
#include <cstdint>
#include <string>

#include "trainer/optimizer.hpp"

namespace resilinet {

struct StageProgress {
  std::string stage;
  int epoch = 0;      // epochs done
  uint64_t step = 0;  // steps done
  AdamState adam;
};

}  // namespace resilinet
