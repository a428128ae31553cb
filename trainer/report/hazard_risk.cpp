// Hazard quantiles and risk classes (trainer/report/hazard_risk.hpp).
#include "trainer/report/hazard_risk.hpp"

#include <algorithm>
#include <cmath>

#include "trainer/stages/training.hpp"

namespace resilinet {
namespace {
constexpr size_t kHazardSampleCap = size_t(1) << 20;  // hazard values kept for the quantiles
constexpr uint64_t kHazardSampleSeed = 0x68617a;
}  // namespace

HazardSample::HazardSample(size_t total_rows)
    : share_(std::min(1.0, double(kHazardSampleCap) / double(std::max<size_t>(1, total_rows)))) {}

void HazardSample::add(const Batch& b) {
  if (!b.hazard) return;
  for (size_t i = 0; i < b.rows; ++i)
    if (std::isfinite(b.hazard[i]) && (share_ >= 1.0 || is_holdout(b.cell_id[i], kHazardSampleSeed, share_)))
      values_.push_back(b.hazard[i]);
}

std::vector<double> HazardSample::cuts() {
  std::vector<double> cuts;
  if (values_.empty()) return cuts;
  std::sort(values_.begin(), values_.end());
  for (int k = 1; k < kRiskClasses; ++k) cuts.push_back(values_[values_.size() * k / kRiskClasses]);
  return cuts;
}

std::vector<double> hazard_cuts(const ShardSet& data, size_t slab_rows) {
  if (!data.has_hazard()) return {};
  HazardSample sample(data.total_rows());
  for_each_scaled_batch(data, slab_rows, nullptr, 65536, [&](const Batch& b, const float*) { sample.add(b); });
  return sample.cuts();
}

}  // namespace resilinet
