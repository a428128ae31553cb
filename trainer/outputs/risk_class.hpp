// The resilience-risk overlay's rules (DESIGN.md "Scenarios and risk"), shared by `rate`, `report`
// and `scenario`: the hazard column binned into kRiskClasses classes by cuts (quantiles over all
// cells, trainer/report/hazard_risk.hpp), and priority cells, the top two risk classes in the
// bottom two levels.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "trainer/outputs/room.hpp"

namespace resilinet {

inline constexpr int kRiskClasses = 5;

// Risk class 1 (lowest) .. kRiskClasses (highest) of a hazard value; 0 for a value that is not
// finite or when there are no cuts (the cell has no risk class).
inline int risk_class(const std::vector<double>& cuts, double hazard) {
  if (cuts.empty() || !std::isfinite(hazard)) return 0;
  return 1 + int(std::upper_bound(cuts.begin(), cuts.end(), hazard) - cuts.begin());
}

// A cell in the top two risk classes and the bottom two levels (level 0, not rated, never is).
inline bool is_priority(int risk, int32_t level) { return risk >= kRiskClasses - 1 && level >= 1 && level <= 2; }

}  // namespace resilinet
