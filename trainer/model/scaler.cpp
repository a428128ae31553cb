// Scaler fitting (one streaming pass) and transform.
#include "trainer/model/scaler.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "datasets/input_error.hpp"

namespace resilinet {
void Scaler::transform(const float* x, size_t rows, float* out) const {
  const size_t F = features();
  std::vector<float> med(F), off(F), inv(F);
  const float lo = float(-clip), hi = float(1.0 + clip);
  for (size_t f = 0; f < F; ++f) {
    med[f] = float(median[f]);
    off[f] = float(offset[f]);
    inv[f] = float(1.0 / scale[f]);
  }
  for (size_t r = 0; r < rows; ++r)
    for (size_t f = 0; f < F; ++f) {
      float v = x[r * F + f];
      if (std::isnan(v)) v = med[f];
      out[r * F + f] = std::clamp((v - off[f]) * inv[f], lo, hi);
    }
}

std::vector<float> Scaler::scaled_min() const {
  std::vector<float> out(features());
  for (size_t f = 0; f < features(); ++f) out[f] = float(std::clamp((min[f] - offset[f]) / scale[f], -clip, 1 + clip));
  return out;
}

std::vector<float> Scaler::scaled_max() const {
  std::vector<float> out(features());
  for (size_t f = 0; f < features(); ++f) out[f] = float(std::clamp((max[f] - offset[f]) / scale[f], -clip, 1 + clip));
  return out;
}

ScalerFitter::ScalerFitter(size_t features, size_t sample_cap)
    : features_(features),
      sums_{std::vector<double>(features, 0.0), std::vector<double>(features, 0.0),
            std::vector<double>(features, std::numeric_limits<double>::infinity()),
            std::vector<double>(features, -std::numeric_limits<double>::infinity()),
            std::vector<uint64_t>(features, 0), std::vector<uint64_t>(features, 0)},
      sample_(features, sample_cap) {}

void ScalerFitter::add(const float* x, const int64_t* cell_id, size_t rows) {
  for (size_t r = 0; r < rows; ++r)
    for (size_t f = 0; f < features_; ++f) {
      float v = x[r * features_ + f];
      if (std::isnan(v)) {
        ++sums_.missing[f];
        continue;
      }
      ++sums_.count[f];
      sums_.sum[f] += v;
      sums_.sumsq[f] += double(v) * v;
      sums_.min[f] = std::min(sums_.min[f], double(v));
      sums_.max[f] = std::max(sums_.max[f], double(v));
    }
  sample_.add(x, cell_id, rows);
}

Scaler ScalerFitter::finish(const ScalerConfig& config, const std::string& file) const {
  Scaler s;
  s.type = config.type;
  s.missing = sums_.missing;
  if (config.type == "robust") s.clip = config.clip;
  for (size_t f = 0; f < features_; ++f) {
    const double count = double(sums_.count[f]), min = sums_.min[f], max = sums_.max[f];
    if (sums_.count[f] == 0)
      throw InputError(file, "/features column " + std::to_string(f),
                       "at least one finite value to fit the scaler", "only missing values");
    s.median.push_back(sample_.quantile(f, 0.5));
    s.min.push_back(min);
    s.max.push_back(max);
    if (config.type == "zscore") {
      double mean = sums_.sum[f] / count;
      double var = std::max(0.0, sums_.sumsq[f] / count - mean * mean);
      s.offset.push_back(mean);
      s.scale.push_back(var > 0 ? std::sqrt(var) : 1.0);
    } else if (config.type == "robust") {
      double low = sample_.quantile(f, config.lower_quantile), high = sample_.quantile(f, config.upper_quantile);
      // A feature that is constant over the central range (mostly zeros, say) falls back to its
      // full range, so its rare nonzero values still count.
      if (!(high > low)) low = min, high = max;
      s.offset.push_back(low);
      s.scale.push_back(high > low ? high - low : 1.0);
    } else {
      double range = max - min;
      s.offset.push_back(min);
      s.scale.push_back(range > 0 ? range : 1.0);
    }
  }
  return s;
}

}  // namespace resilinet
