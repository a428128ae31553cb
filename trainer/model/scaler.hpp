// Feature scaling fitted on training data: median imputation of missing values, then robust
// min-max (default: the 1st..99th percentile to [0,1], clipped a little beyond), min-max or z-score. Fitted in one streaming pass; saved in the checkpoint and reused by
// every later step (rate, explain, scenarios).
#pragma once
#include "trainer/model/room.hpp"
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "datasets/feature_sample.hpp"

#include "trainer/model/config.hpp"

namespace resilinet {

struct Scaler {
  std::string type = "minmax";      // robust | minmax | zscore
  std::vector<double> median;       // imputation value per feature (training median)
  std::vector<double> offset;       // scaled = (x - offset) / scale
  std::vector<double> scale;
  std::vector<double> min, max;     // observed training range (for bounds and range flags)
  std::vector<uint64_t> missing;    // missing values per feature in the training data
  // Scaled values are clipped to [-clip, 1 + clip] (robust scaling): a few extreme cells must not
  // set the geometry every distance-based step sees. Infinity: no clipping.
  double clip = std::numeric_limits<double>::infinity();

  size_t features() const { return offset.size(); }
  // out[rows x F] = scaled values; NaN inputs are replaced by the median first.
  void transform(const float* x, size_t rows, float* out) const;
  // Scaled value of the observed training min / max per feature, clipped as transform clips
  // (z^B bounds for LRP).
  std::vector<float> scaled_min() const;
  std::vector<float> scaled_max() const;
};

// Streams batches of raw rows and fits a Scaler. Medians and quantiles come from a FeatureSample
// (datasets/feature_sample.hpp, the one `inspect` prints from): exact up to sample_cap values per
// feature, a uniform sample keyed by cell id beyond.
class ScalerFitter {
 public:
  // What a fit adds up per feature. Ranks that split the pass merge theirs (fit_scaler).
  struct Sums {
    std::vector<double> sum, sumsq, min, max;  // of the finite values
    std::vector<uint64_t> count, missing;
  };
  explicit ScalerFitter(size_t features, size_t sample_cap = FeatureSample::kDefaultCapacity);
  // x [rows x features] raw values (NaN: missing), cell_id [rows].
  void add(const float* x, const int64_t* cell_id, size_t rows);
  // Throws InputError(file, ...) if a feature has no finite value at all.
  Scaler finish(const ScalerConfig& config, const std::string& file) const;
  size_t features() const { return features_; }
  Sums& sums() { return sums_; }
  FeatureSample& sample() { return sample_; }

 private:
  size_t features_;
  Sums sums_;
  FeatureSample sample_;
};

}  // namespace resilinet
