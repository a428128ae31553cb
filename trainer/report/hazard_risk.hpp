// The resilience-risk overlay's rules (DESIGN.md "Scenarios and risk"), shared by `rate`, `report`
// and `scenario`: the hazard column binned into kRiskClasses classes by quantiles over all cells,
// and priority cells, the top two risk classes in the bottom two levels.
#pragma once
#include "trainer/report/room.hpp"
#include <cstdint>
#include <vector>

#include "datasets/loader.hpp"
#include "datasets/shard_set.hpp"

namespace resilinet {

inline constexpr int kRiskClasses = 5;

// The hazard values the cuts are computed from: every finite value, or past 2^20 cells a bounded
// sample picked by hashed cell id, so that the cuts depend neither on the shard layout nor on the
// rank count. Fed batch by batch, for commands that already stream the data.
class HazardSample {
 public:
  explicit HazardSample(size_t total_rows);
  void add(const Batch& batch);
  // kRiskClasses - 1 cuts, the quantiles of the values added; empty when none was finite.
  std::vector<double> cuts();

 private:
  double share_;
  std::vector<double> values_;
};

// The cuts over every cell of the set, in a pass of its own; empty without a hazard column.
std::vector<double> hazard_cuts(const ShardSet& data, size_t slab_rows);

// Risk class 1 (lowest) .. kRiskClasses (highest) of a hazard value; 0 for a value that is not
// finite or when there are no cuts (the cell has no risk class).
int risk_class(const std::vector<double>& cuts, double hazard);

// A cell in the top two risk classes and the bottom two levels (level 0, not rated, never is).
inline bool is_priority(int risk, int32_t level) {
  return risk >= kRiskClasses - 1 && level >= 1 && level <= 2;
}

}  // namespace resilinet
