// Scaler fitting (one streaming pass) and transform.
#include "trainer/scaler.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "datasets/input_error.hpp"
#include "kernels/splitmix.hpp"

namespace resilinet {
void Scaler::transform(const float* x, size_t rows, float* out) const {
  const size_t F = features();
  std::vector<float> med(F), off(F), inv(F);
  for (size_t f = 0; f < F; ++f) {
    med[f] = float(median[f]);
    off[f] = float(offset[f]);
    inv[f] = float(1.0 / scale[f]);
  }
  for (size_t r = 0; r < rows; ++r)
    for (size_t f = 0; f < F; ++f) {
      float v = x[r * F + f];
      if (std::isnan(v)) v = med[f];
      out[r * F + f] = (v - off[f]) * inv[f];
    }
}

std::vector<float> Scaler::scaled_min() const {
  std::vector<float> out(features());
  for (size_t f = 0; f < features(); ++f) out[f] = float((min[f] - offset[f]) / scale[f]);
  return out;
}

std::vector<float> Scaler::scaled_max() const {
  std::vector<float> out(features());
  for (size_t f = 0; f < features(); ++f) out[f] = float((max[f] - offset[f]) / scale[f]);
  return out;
}

ScalerFitter::ScalerFitter(size_t features, uint64_t seed, size_t sample_cap)
    : features_(features), seed_(seed), cap_(sample_cap),
      sum_(features, 0.0), sumsq_(features, 0.0),
      min_(features, std::numeric_limits<double>::infinity()),
      max_(features, -std::numeric_limits<double>::infinity()),
      count_(features, 0), missing_(features, 0), sample_(features) {}

void ScalerFitter::add(const float* x, size_t rows) {
  for (size_t r = 0; r < rows; ++r)
    for (size_t f = 0; f < features_; ++f) {
      float v = x[r * features_ + f];
      if (std::isnan(v)) {
        ++missing_[f];
        continue;
      }
      uint64_t n = count_[f]++;
      sum_[f] += v;
      sumsq_[f] += double(v) * v;
      min_[f] = std::min(min_[f], double(v));
      max_[f] = std::max(max_[f], double(v));
      // Reservoir sampling (Algorithm R) keyed by the value's position: deterministic per seed.
      if (sample_[f].size() < cap_) {
        sample_[f].push_back(v);
      } else {
        uint64_t j = splitmix64(seed_ ^ splitmix64(n * features_ + f)) % (n + 1);
        if (j < cap_) sample_[f][j] = v;
      }
    }
}

Scaler ScalerFitter::finish(const std::string& type, const std::string& file) const {
  Scaler s;
  s.type = type;
  s.missing = missing_;
  for (size_t f = 0; f < features_; ++f) {
    if (count_[f] == 0)
      throw InputError(file, "/features column " + std::to_string(f),
                       "at least one finite value to fit the scaler", "only missing values");
    std::vector<float> v = sample_[f];
    size_t mid = v.size() / 2;
    std::nth_element(v.begin(), v.begin() + mid, v.end());
    double med = v[mid];
    if (v.size() % 2 == 0) {
      double lower = *std::max_element(v.begin(), v.begin() + mid);
      med = 0.5 * (med + lower);
    }
    s.median.push_back(med);
    s.min.push_back(min_[f]);
    s.max.push_back(max_[f]);
    if (type == "zscore") {
      double mean = sum_[f] / count_[f];
      double var = std::max(0.0, sumsq_[f] / count_[f] - mean * mean);
      s.offset.push_back(mean);
      s.scale.push_back(var > 0 ? std::sqrt(var) : 1.0);
    } else {
      double range = max_[f] - min_[f];
      s.offset.push_back(min_[f]);
      s.scale.push_back(range > 0 ? range : 1.0);
    }
  }
  return s;
}

}  // namespace resilinet
