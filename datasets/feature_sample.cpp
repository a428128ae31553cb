#include "datasets/feature_sample.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "kernels/splitmix.hpp"

namespace resilinet {

namespace {
// A fixed seed: the scaler and `inspect` pick the same values whatever the run's seed.
constexpr uint64_t kSampleSeed = 0x5eed1e5b1a5ull;
}  // namespace

FeatureSample::FeatureSample(size_t features, size_t capacity)
    : features_(features), capacity_(std::max<size_t>(capacity, 1)), kept_(features), seen_(features, 0) {}

void FeatureSample::offer(size_t f, uint64_t key, float value) {
  auto& kept = kept_[f];
  const std::pair<uint64_t, float> entry{key, value};
  if (kept.size() < capacity_) {
    kept.push_back(entry);
    if (kept.size() == capacity_) std::make_heap(kept.begin(), kept.end());
    return;
  }
  if (!(entry < kept.front())) return;
  std::pop_heap(kept.begin(), kept.end());
  kept.back() = entry;
  std::push_heap(kept.begin(), kept.end());
}

void FeatureSample::add(const float* x, const int64_t* cell_id, size_t rows) {
  for (size_t r = 0; r < rows; ++r) {
    const uint64_t cell = splitmix64(kSampleSeed ^ splitmix64(uint64_t(cell_id[r])));
    for (size_t f = 0; f < features_; ++f) {
      const float v = x[r * features_ + f];
      if (std::isnan(v)) continue;
      ++seen_[f];
      offer(f, splitmix64(cell + f), v);
    }
  }
}

void FeatureSample::trim(size_t f) {
  // Entries appended all at once, then the capacity's smallest kept: linear, where offering them
  // one by one into the full heap would cost a logarithm each.
  auto& kept = kept_[f];
  if (kept.size() > capacity_) {
    std::nth_element(kept.begin(), kept.begin() + ptrdiff_t(capacity_), kept.end());
    kept.resize(capacity_);
  }
  if (kept.size() == capacity_) std::make_heap(kept.begin(), kept.end());
}

void FeatureSample::merge(const FeatureSample& other) {
  if (other.features_ != features_ || other.capacity_ != capacity_)
    throw std::invalid_argument("FeatureSample::merge: samples of " + std::to_string(other.features_) + " and " +
                                std::to_string(features_) + " features, capacities " +
                                std::to_string(other.capacity_) + " and " + std::to_string(capacity_));
  for (size_t f = 0; f < features_; ++f) {
    seen_[f] += other.seen_[f];
    kept_[f].insert(kept_[f].end(), other.kept_[f].begin(), other.kept_[f].end());
    trim(f);
  }
}

void FeatureSample::kept(size_t f, std::vector<uint64_t>& keys, std::vector<float>& values) const {
  keys.clear();
  values.clear();
  for (const auto& [key, value] : kept_[f]) {
    keys.push_back(key);
    values.push_back(value);
  }
}

void FeatureSample::merge_feature(size_t f, const std::vector<uint64_t>& keys, const std::vector<float>& values,
                                  uint64_t seen) {
  if (keys.size() != values.size() || keys.size() > capacity_)
    throw std::invalid_argument("FeatureSample::merge_feature: " + std::to_string(keys.size()) + " keys, " +
                                std::to_string(values.size()) + " values, capacity " + std::to_string(capacity_));
  seen_[f] += seen;
  auto& kept = kept_[f];
  kept.reserve(kept.size() + keys.size());
  for (size_t i = 0; i < keys.size(); ++i) kept.emplace_back(keys[i], values[i]);
  trim(f);
}

double FeatureSample::quantile(size_t f, double q) const {
  const auto& kept = kept_[f];
  if (kept.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::vector<float> v(kept.size());
  for (size_t i = 0; i < kept.size(); ++i) v[i] = kept[i].second;
  const double pos = q * double(v.size() - 1);
  const size_t below = size_t(pos);
  std::nth_element(v.begin(), v.begin() + ptrdiff_t(below), v.end());
  const double low = v[below];
  if (below + 1 >= v.size()) return low;
  const double high = *std::min_element(v.begin() + ptrdiff_t(below) + 1, v.end());
  return low + (pos - double(below)) * (high - low);
}

}  // namespace resilinet
