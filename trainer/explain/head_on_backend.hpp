// The classifier head on a backend, for the commands that re-rate or explain scaled rows without
// the rest of the model (the head reads the scaled features only): its levels, and LRP relevance
// and gradient x input seeded at given levels. Shared by `explain` and `scenario`.
#pragma once
#include "trainer/explain/room.hpp"
#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/backend.hpp"
#include "kernels/lrp.hpp"
#include "trainer/model/model.hpp"

namespace resilinet {

class HeadOnBackend {
 public:
  HeadOnBackend(const Model& model, kernels::Backend& backend, kernels::LrpComposite composite);

  // level[i] = the head's level 1..K of scaled row i, kNotRated where a logit is not finite (what
  // rate_scaled + mark_not_rated give, without the encoder and clustering).
  void levels(const float* scaled, size_t rows, int32_t* level);
  // Relevance of every feature [rows x F], seeded at seed_class[i] (level - 1); gxi (optional) the
  // gradient x input with the same seeds.
  void relevance(const float* scaled, size_t rows, const int32_t* seed_class, float* relevance, float* gxi = nullptr);

 private:
  const Model& model_;
  kernels::Backend& backend_;
  std::unique_ptr<kernels::Network> head_;
  kernels::BackendArray<float> params_;
  kernels::LrpComposite composite_;
  kernels::Staged<float> x_;
  kernels::Staged<int32_t> classes_;
  kernels::Landing<float> logits_, relevance_, gxi_;
  std::vector<float> logits_host_;
};

}  // namespace resilinet
