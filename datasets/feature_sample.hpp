// A uniform sample of each feature's finite values, for the medians and quantiles the scaler fits
// and `inspect` prints (both use this one). Per feature it keeps at most `capacity` values: those
// of the cells with the smallest keys hash(cell id, feature) (a bottom-k sample). While a feature
// has no more values than that, every one is kept and its quantiles are exact. The sample depends
// on the cells only, not on their order or on how a pass was split: the samples of the parts merge
// into the sample of the whole (merge, or merge_feature where ranks exchange one feature at a time).
#pragma once
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace resilinet {

class FeatureSample {
 public:
  static constexpr size_t kDefaultCapacity = size_t(1) << 20;
  FeatureSample(size_t features, size_t capacity = kDefaultCapacity);

  // x [rows x features] raw values (NaN: missing, skipped), cell_id [rows].
  void add(const float* x, const int64_t* cell_id, size_t rows);
  // Keeps the sample of both sets of cells (same features and capacity; cells assumed distinct).
  void merge(const FeatureSample& other);
  // Feature f's part of a sample, for parts held apart (ranks): its kept values with their keys
  // (in no particular order), and merge_feature, which takes in another part's.
  void kept(size_t f, std::vector<uint64_t>& keys, std::vector<float>& values) const;
  void merge_feature(size_t f, const std::vector<uint64_t>& keys, const std::vector<float>& values, uint64_t seen);

  // The q-quantile (0 <= q <= 1) of feature f's sample by linear interpolation between order
  // statistics: at q = 0.5 the middle value, or the mean of the two middle ones. NaN where the
  // feature has no value.
  double quantile(size_t f, double q) const;
  size_t size(size_t f) const { return kept_[f].size(); }
  // Values of feature f seen (finite), kept or not; exact(f): all of them are kept.
  uint64_t seen(size_t f) const { return seen_[f]; }
  bool exact(size_t f) const { return seen_[f] == kept_[f].size(); }

 private:
  void offer(size_t f, uint64_t key, float value);
  void trim(size_t f);  // back to the capacity after another part's entries were appended
  size_t features_, capacity_;
  // Per feature (key, value); a max-heap on the key once full, so the largest key leaves first.
  std::vector<std::vector<std::pair<uint64_t, float>>> kept_;
  std::vector<uint64_t> seen_;
};

}  // namespace resilinet
