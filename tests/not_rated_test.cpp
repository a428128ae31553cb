// A cell whose rating is not finite is marked as not rated (level 0, zeros) instead of writing NaN
// into the outputs; finite cells are left exactly as they were.
#include <cmath>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "trainer/model/model.hpp"

using namespace resilinet;

TEST(MarkNotRated, OnlyRowsWithANonFiniteValueAreMarked) {
  const size_t rows = 4, d = 2, K = 3;
  RatingBuffers out;
  out.z = {0.5f, -1.0f, 0.1f, 0.2f, 0.3f, 0.4f, 1.0f, 2.0f};
  out.space = out.z;
  out.q = {0.2f, 0.3f, 0.5f, 0.1f, 0.1f, 0.8f, 0.3f, 0.3f, 0.4f, 0.6f, 0.2f, 0.2f};
  out.logits = {1, 2, 3, 3, 2, 1, 0, 1, 0, 5, 4, 3};
  out.level = {3, 1, 2, 1};
  out.cluster_level = {3, 3, 3, 1};
  const float inf = std::numeric_limits<float>::infinity();
  out.z[1 * d + 1] = std::nanf("");   // row 1: latent
  out.logits[3 * K + 2] = -inf;       // row 3: the head
  const RatingBuffers before = out;
  EXPECT_EQ(mark_not_rated(out, rows), 2u);
  EXPECT_EQ(out.level, (std::vector<int32_t>{3, kNotRated, 2, kNotRated}));
  EXPECT_EQ(out.cluster_level, (std::vector<int32_t>{3, kNotRated, 3, kNotRated}));
  for (size_t r : {size_t(1), size_t(3)}) {
    for (size_t j = 0; j < d; ++j) EXPECT_EQ(out.z[r * d + j], 0.0f);
    for (size_t j = 0; j < K; ++j) EXPECT_EQ(out.q[r * K + j], 0.0f);
    for (size_t j = 0; j < K; ++j) EXPECT_EQ(out.logits[r * K + j], 0.0f);
  }
  for (size_t r : {size_t(0), size_t(2)}) {
    for (size_t j = 0; j < d; ++j) EXPECT_EQ(out.z[r * d + j], before.z[r * d + j]);
    for (size_t j = 0; j < K; ++j) EXPECT_EQ(out.q[r * K + j], before.q[r * K + j]);
  }
  EXPECT_EQ(mark_not_rated(out, rows), 0u);  // nothing left to mark
}
