// Goal seeking for `resilinet scenario --target-level L`: for a cell, the smallest change of one
// feature, within the feature's training range, that makes the frozen model rate the cell at level
// L. "Smallest" is measured in scaled units, so that features of different units compare.
#pragma once
#include "trainer/scenario/room.hpp"
#include <cstdint>
#include <vector>

#include "trainer/explain/head_on_backend.hpp"
#include "trainer/model/model.hpp"

namespace resilinet {

struct GoalResult {
  bool reached = false;  // the cell is at the target level, or a change below reaches it
  int feature = -1;      // the feature to change; -1 when the cell is already at the target
  float value = 0;       // the feature's new raw value
  float change = 0;      // value minus the cell's value (the training median where missing)
};

// Steps tried from the cell's value to each end of the training range; the answer is the first
// step that reaches the target, so it is exact (re-rating the changed cell gives the target) and
// within 1/kGoalSteps of the range of the smallest change.
inline constexpr int kGoalSteps = 32;

// raw [rows x F] (NaN = missing), level [rows] the cells' rated levels. out [rows]. The rating is the
// classifier head's level on the scaled row, as `rate` gives it.
void seek_level(const Model& model, HeadOnBackend& head, const float* raw, const int32_t* level, size_t rows,
                int target, GoalResult* out);

}  // namespace resilinet
