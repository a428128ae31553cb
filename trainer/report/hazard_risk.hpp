// The hazard cuts of the resilience-risk overlay: kRiskClasses - 1 quantiles of /hazard over all
// cells (the rules that use them are in trainer/outputs/risk_class.hpp).
#pragma once
#include <cstdint>
#include <vector>

#include "datasets/loader.hpp"
#include "datasets/shard_set.hpp"
#include "trainer/outputs/risk_class.hpp"
#include "trainer/report/room.hpp"

namespace resilinet {

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

}  // namespace resilinet
