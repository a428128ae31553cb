// Goal seeking by stepping each feature toward both ends of its training range
// (trainer/scenario/goal_seek.hpp).
#include "trainer/scenario/goal_seek.hpp"

#include <cmath>
#include <limits>

namespace resilinet {

void seek_level(const Model& model, HeadOnBackend& head, const float* raw, const int32_t* level, size_t rows,
                int target, GoalResult* out) {
  const Scaler& scaler = model.scaler;
  const size_t F = size_t(model.features());
  const size_t per_cell = F * 2 * kGoalSteps;  // candidate rows per cell: features x directions x steps
  const size_t chunk = std::max<size_t>(1, 65536 / per_cell);
  std::vector<float> candidates, scaled;
  std::vector<int32_t> rated;
  for (size_t first = 0; first < rows; first += chunk) {
    const size_t n = std::min(chunk, rows - first);
    candidates.resize(n * per_cell * F);
    for (size_t i = 0; i < n; ++i) {
      const float* x = raw + (first + i) * F;
      for (size_t f = 0; f < F; ++f)
        for (int dir = 0; dir < 2; ++dir) {
          const double from = std::isnan(x[f]) ? scaler.median[f] : double(x[f]);
          const double to = dir ? scaler.max[f] : scaler.min[f];
          for (int s = 0; s < kGoalSteps; ++s) {
            float* row = candidates.data() + (((i * F + f) * 2 + dir) * kGoalSteps + s) * F;
            std::copy(x, x + F, row);
            row[f] = float(from + (to - from) * double(s + 1) / kGoalSteps);
          }
        }
    }
    const size_t m = n * per_cell;
    scaled.resize(m * F);
    scaler.transform(candidates.data(), m, scaled.data());
    rated.resize(m);
    head.levels(scaled.data(), m, rated.data());
    for (size_t i = 0; i < n; ++i) {
      GoalResult& r = out[first + i];
      r = GoalResult{};
      if (level[first + i] == target) {
        r.reached = true;
        continue;
      }
      const float* x = raw + (first + i) * F;
      double best = std::numeric_limits<double>::infinity();
      for (size_t f = 0; f < F; ++f)
        for (int dir = 0; dir < 2; ++dir)
          for (int s = 0; s < kGoalSteps; ++s) {
            const size_t c = ((i * F + f) * 2 + dir) * kGoalSteps + s;
            if (rated[c] != target) continue;
            const float value = candidates[c * F + f];
            const double from = std::isnan(x[f]) ? scaler.median[f] : double(x[f]);
            const double distance = std::fabs(double(value) - from) / scaler.scale[f];
            if (distance < best) {
              best = distance;
              r = {true, int(f), value, float(double(value) - from)};
            }
            break;  // the nearest step of this direction
          }
    }
  }
}

}  // namespace resilinet
