// Quality of a clustering or a rating: agreement between two labelings (adjusted Rand index,
// quadratic weighted kappa, Spearman's rank correlation, accuracy, macro F1, confusion matrix) and
// internal cluster quality on the latent z (silhouette, Calinski-Harabasz, Davies-Bouldin). All
// sums in double. No I/O and no label matching here.
#pragma once
#include "trainer/stages/room.hpp"
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace resilinet {

// Adjusted Rand index of two labelings of the same rows (any int labels), from their contingency
// table. 1 for identical partitions up to renaming; about 0 for independent ones. Also 1 when both
// put every row in one cluster, or every row in its own cluster (the index is 0/0 there).
double adjusted_rand_index(std::span<const int32_t> labels_a, std::span<const int32_t> labels_b);

// Counts of rows by (label a, label b): what two labelings share, without per-row vectors, so that
// tables from shards or ranks can be summed. Labels must lie in [0, rows) and [0, cols).
struct ContingencyTable {
  int rows = 0, cols = 0;
  std::vector<int64_t> counts;  // [rows x cols]
  ContingencyTable() = default;
  ContingencyTable(int r, int c) : rows(r), cols(c), counts(size_t(r) * c, 0) {}
  void add(int a, int b) { ++counts[size_t(a) * cols + b]; }
  int64_t at(int a, int b) const { return counts[size_t(a) * cols + b]; }
};
// The same index from a contingency table (empty rows and columns do not matter).
double adjusted_rand_index(const ContingencyTable& table);
// Cohen's kappa with quadratic weights (a - b)^2 / (k - 1)^2 between two ordinal labelings 0..k-1
// given as a square table; 1 = identical, 0 = chance. NaN for an empty table.
double quadratic_weighted_kappa(const ContingencyTable& table);
// Spearman's rank correlation of two ordinal labelings given as their table: rows 0..rows-1 and
// columns 0..cols-1 in increasing order. Tied rows share the mean of their ranks (midranks, from
// the table's margins), and the result is Pearson's correlation of those ranks over the rows
// counted, as scipy.stats.spearmanr. Empty rows and columns do not matter. NaN when either side
// has zero variance (all counted rows in one row or in one column, or an empty table).
double spearman(const ContingencyTable& table);

// Mean silhouette over a sample of at most max_sample rows drawn without replacement with seed
// (all rows when rows <= max_sample), exact Euclidean distances among the sampled rows.
// Rows alone in their cluster (within the sample) score 0. NaN when the sample has fewer than 2
// clusters or no cluster with two rows.
// share: the work split between `parts` processes that hold the same rows (the ranks of a job):
// part p scores the sampled rows [S p / parts, S (p + 1) / parts), and share.gather(this part's
// scores, all S) fills in every part's, in order; the mean then adds the same values in the same
// order as one process does, so every part returns one process's result, bitwise.
struct SilhouetteShare {
  int part = 0, parts = 1;
  std::function<void(std::span<const double> mine, std::span<double> all)> gather;
};
double silhouette_score(const float* z, size_t rows, int dims, std::span<const int32_t> labels,
                        size_t max_sample = 5000, uint64_t seed = 0, const SilhouetteShare& share = {});

// Between-cluster over within-cluster dispersion, (B / (k-1)) / (W / (n-k)). NaN with fewer than
// 2 clusters or k == n; 1 when W == 0 (as scikit-learn).
double calinski_harabasz(const float* z, size_t rows, int dims, std::span<const int32_t> labels);

// Mean over clusters of max_j (s_i + s_j) / |c_i - c_j|, s = mean distance to the centroid; lower
// is better. Coincident centroids contribute 0 (as scikit-learn). NaN with fewer than 2 clusters.
double davies_bouldin(const float* z, size_t rows, int dims, std::span<const int32_t> labels);

// Share of rows where predicted equals truth (NaN for none).
double accuracy(std::span<const int32_t> truth, std::span<const int32_t> predicted);

// counts[t * classes + p]: rows with truth t and prediction p. Labels must lie in [0, classes);
// anything else throws std::out_of_range.
// Built row by row (add) it is a sum of counts, so the tables of a pass split between ranks add up.
struct ConfusionMatrix {
  int classes = 0;
  std::vector<int64_t> counts;
  ConfusionMatrix() = default;
  explicit ConfusionMatrix(int k) : classes(k), counts(size_t(k) * k, 0) {}
  int64_t at(int truth, int predicted) const { return counts[size_t(truth) * classes + predicted]; }
  void add(int truth, int predicted);  // throws std::out_of_range as confusion_matrix does
  int64_t total() const;
};
ConfusionMatrix confusion_matrix(std::span<const int32_t> truth, std::span<const int32_t> predicted,
                                 int classes);
double accuracy(const ConfusionMatrix& confusion);

// Unweighted mean of the per-class F1 = 2 tp / (2 tp + fp + fn) over the classes that occur in
// truth or prediction (scikit-learn's default label set; a class never seen is not averaged in).
double macro_f1(const ConfusionMatrix& confusion);
double macro_f1(std::span<const int32_t> truth, std::span<const int32_t> predicted, int classes);

}  // namespace resilinet
