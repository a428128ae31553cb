// The sample the scaler's medians and quantiles and `inspect`'s medians come from: exact while a
// feature has no more values than the capacity, a uniform sample beyond, and the same sample
// whatever the order of the cells or the split of a pass into parts that are merged.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "datasets/feature_sample.hpp"

using resilinet::FeatureSample;

namespace {

// Two features: f0 = the cell's index, f1 = its square root, NaN on every 7th cell.
struct Cells {
  std::vector<float> x;
  std::vector<int64_t> id;
};
Cells cells(size_t n) {
  Cells c;
  for (size_t i = 0; i < n; ++i) {
    c.x.push_back(float(i));
    c.x.push_back(i % 7 == 0 ? std::nanf("") : std::sqrt(float(i)));
    c.id.push_back(int64_t(i) * 31 + 5);
  }
  return c;
}

double interpolated(std::vector<float> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * double(v.size() - 1);
  const size_t below = size_t(pos);
  if (below + 1 >= v.size()) return v[below];
  return v[below] + (pos - double(below)) * (double(v[below + 1]) - v[below]);
}

}  // namespace

TEST(FeatureSample, ExactWhileEveryValueFits) {
  for (size_t n : {size_t(1), size_t(2), size_t(10), size_t(1001)}) {
    SCOPED_TRACE(n);
    const Cells c = cells(n);
    FeatureSample s(2, 5000);
    s.add(c.x.data(), c.id.data(), n);
    std::vector<float> f0, f1;
    for (size_t i = 0; i < n; ++i) {
      f0.push_back(c.x[2 * i]);
      if (!std::isnan(c.x[2 * i + 1])) f1.push_back(c.x[2 * i + 1]);
    }
    EXPECT_TRUE(s.exact(0));
    EXPECT_EQ(s.seen(1), f1.size());
    for (double q : {0.0, 0.01, 0.5, 0.99, 1.0}) {
      EXPECT_DOUBLE_EQ(s.quantile(0, q), interpolated(f0, q)) << q;
      if (!f1.empty()) EXPECT_DOUBLE_EQ(s.quantile(1, q), interpolated(f1, q)) << q;
    }
    if (n == 2) EXPECT_DOUBLE_EQ(s.quantile(0, 0.5), 0.5);  // the mean of the two middle values
  }
  FeatureSample empty(1, 10);
  EXPECT_TRUE(std::isnan(empty.quantile(0, 0.5)));
}

TEST(FeatureSample, TheSameSampleWhateverTheOrderOrTheSplit) {
  const size_t n = 20000;
  const Cells c = cells(n);
  FeatureSample whole(2, 1000);
  whole.add(c.x.data(), c.id.data(), n);
  EXPECT_EQ(whole.size(0), 1000u);
  EXPECT_FALSE(whole.exact(0));

  // The cells shuffled and fed in batches of 333.
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t(0));
  std::shuffle(order.begin(), order.end(), std::mt19937_64(7));
  FeatureSample shuffled(2, 1000);
  std::vector<float> x;
  std::vector<int64_t> id;
  for (size_t k = 0; k < n; ++k) {
    x.insert(x.end(), c.x.begin() + 2 * order[k], c.x.begin() + 2 * order[k] + 2);
    id.push_back(c.id[order[k]]);
    if (id.size() == 333 || k + 1 == n) {
      shuffled.add(x.data(), id.data(), id.size());
      x.clear();
      id.clear();
    }
  }
  // Three parts (the slabs of three ranks, say), merged.
  FeatureSample parts(2, 1000), b(2, 1000), d(2, 1000);
  parts.add(c.x.data(), c.id.data(), 5000);
  b.add(c.x.data() + 2 * 5000, c.id.data() + 5000, 12000);
  d.add(c.x.data() + 2 * 17000, c.id.data() + 17000, 3000);
  // The same parts merged feature by feature, as ranks exchange them (kept, merge_feature).
  FeatureSample by_feature = parts;
  std::vector<uint64_t> keys;
  std::vector<float> values;
  for (size_t f = 0; f < 2; ++f)
    for (const FeatureSample* other : {&b, &d}) {
      other->kept(f, keys, values);
      EXPECT_EQ(keys.size(), other->size(f));
      by_feature.merge_feature(f, keys, values, other->seen(f));
    }
  parts.merge(b);
  parts.merge(d);
  for (const FeatureSample* other : {&shuffled, &parts, &by_feature})
    for (size_t f = 0; f < 2; ++f) {
      EXPECT_EQ(other->seen(f), whole.seen(f));
      for (double q : {0.01, 0.5, 0.99}) EXPECT_EQ(other->quantile(f, q), whole.quantile(f, q)) << f << " " << q;
    }
  // A uniform sample: the median of 0..19999 from 1000 values (standard deviation about 320).
  EXPECT_NEAR(whole.quantile(0, 0.5), 9999.5, 1300.0);
  EXPECT_NE(whole.quantile(0, 0.5), 9999.5);
  EXPECT_THROW(parts.merge(FeatureSample(3, 1000)), std::invalid_argument);
  EXPECT_THROW(parts.merge_feature(0, {1, 2}, {1.0f}, 2), std::invalid_argument);
}
