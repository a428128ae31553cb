// Cluster and rating quality metrics: adjusted Rand index, quadratic weighted kappa, Spearman's
// rank correlation, silhouette, Calinski-Harabasz, Davies-Bouldin, accuracy, confusion matrix and
// macro F1, all accumulated in double.
// Definitions follow scikit-learn's, including its conventions at degenerate inputs.
#include "trainer/stages/cluster_metrics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>

namespace resilinet {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void check_same_length(size_t a, size_t b, const char* what) {
  if (a != b)
    throw std::invalid_argument(std::string(what) + ": labelings differ in length (" +
                                std::to_string(a) + " vs " + std::to_string(b) + ")");
}

// Labels renamed to 0..k-1 in increasing order of their values.
struct CompactLabels {
  std::vector<int32_t> index;  // [rows]
  int clusters = 0;
};

CompactLabels compact(std::span<const int32_t> labels) {
  std::vector<int32_t> values(labels.begin(), labels.end());
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  CompactLabels out;
  out.clusters = int(values.size());
  out.index.resize(labels.size());
  for (size_t i = 0; i < labels.size(); ++i)
    out.index[i] = int32_t(std::lower_bound(values.begin(), values.end(), labels[i]) - values.begin());
  return out;
}

double pairs(double n) { return n * (n - 1.0) / 2.0; }  // n choose 2, in double: no overflow

// The index from the sum over contingency cells of C(n_ij, 2) and the two labelings' cluster sizes.
double ari_from_sums(double sum_cells, const std::vector<int64_t>& size_a, const std::vector<int64_t>& size_b,
                     size_t rows) {
  double sum_a = 0, sum_b = 0;
  for (int64_t s : size_a) sum_a += pairs(double(s));
  for (int64_t s : size_b) sum_b += pairs(double(s));
  const double total = pairs(double(rows));
  if (total == 0) return 1.0;
  const double expected = sum_a * sum_b / total;
  const double maximum = (sum_a + sum_b) / 2.0;
  // Only when both labelings are one cluster, or both all singletons: identical partitions.
  if (maximum == expected) return 1.0;
  return (sum_cells - expected) / (maximum - expected);
}

double distance(const float* a, const float* b, int dims) {
  double d2 = 0;
  for (int k = 0; k < dims; ++k) {
    const double diff = double(a[k]) - double(b[k]);
    d2 += diff * diff;
  }
  return std::sqrt(d2);
}

// Per-cluster means [clusters x dims] and sizes, in double.
struct ClusterMeans {
  std::vector<double> centroids;
  std::vector<int64_t> sizes;
};

ClusterMeans cluster_means(const float* z, size_t rows, int dims, const CompactLabels& labels) {
  ClusterMeans m;
  m.centroids.assign(size_t(labels.clusters) * dims, 0.0);
  m.sizes.assign(labels.clusters, 0);
  for (size_t i = 0; i < rows; ++i) {
    const int c = labels.index[i];
    m.sizes[c] += 1;
    for (int k = 0; k < dims; ++k) m.centroids[size_t(c) * dims + k] += z[i * dims + k];
  }
  for (int c = 0; c < labels.clusters; ++c)
    for (int k = 0; k < dims; ++k) m.centroids[size_t(c) * dims + k] /= double(m.sizes[c]);
  return m;
}

double squared_distance_to(const float* a, const double* b, int dims) {
  double d2 = 0;
  for (int k = 0; k < dims; ++k) {
    const double diff = double(a[k]) - b[k];
    d2 += diff * diff;
  }
  return d2;
}

// Up to max_sample distinct row indices in increasing order, chosen by a partial Fisher-Yates
// shuffle seeded with seed; all rows when there are no more than max_sample.
std::vector<size_t> sample_rows(size_t rows, size_t max_sample, uint64_t seed) {
  std::vector<size_t> index(rows);
  for (size_t i = 0; i < rows; ++i) index[i] = i;
  if (rows <= max_sample) return index;
  std::mt19937_64 rng(seed);
  for (size_t i = 0; i < max_sample; ++i) std::swap(index[i], index[i + rng() % (rows - i)]);
  index.resize(max_sample);
  std::sort(index.begin(), index.end());
  return index;
}

// The midrank of every category (1-based ranks; tied rows share the mean of theirs) from the
// category sizes in order; also how many categories are not empty.
std::vector<double> midranks(const std::vector<double>& sizes, int& occupied) {
  std::vector<double> rank(sizes.size(), 0.0);
  double before = 0;
  occupied = 0;
  for (size_t c = 0; c < sizes.size(); ++c) {
    rank[c] = before + (sizes[c] + 1.0) / 2.0;
    before += sizes[c];
    occupied += sizes[c] > 0;
  }
  return rank;
}

}  // namespace

double adjusted_rand_index(std::span<const int32_t> labels_a, std::span<const int32_t> labels_b) {
  check_same_length(labels_a.size(), labels_b.size(), "adjusted_rand_index");
  const size_t rows = labels_a.size();
  const CompactLabels a = compact(labels_a), b = compact(labels_b);
  // Contingency cells as sorted (a, b) keys; runs of equal keys are the cell counts.
  std::vector<uint64_t> cells(rows);
  for (size_t i = 0; i < rows; ++i) cells[i] = (uint64_t(a.index[i]) << 32) | uint32_t(b.index[i]);
  std::sort(cells.begin(), cells.end());
  double sum_cells = 0;
  for (size_t i = 0; i < rows;) {
    size_t j = i;
    while (j < rows && cells[j] == cells[i]) ++j;
    sum_cells += pairs(double(j - i));
    i = j;
  }
  std::vector<int64_t> size_a(a.clusters, 0), size_b(b.clusters, 0);
  for (size_t i = 0; i < rows; ++i) {
    size_a[a.index[i]] += 1;
    size_b[b.index[i]] += 1;
  }
  return ari_from_sums(sum_cells, size_a, size_b, rows);
}

double adjusted_rand_index(const ContingencyTable& t) {
  std::vector<int64_t> size_a(t.rows, 0), size_b(t.cols, 0);
  double sum_cells = 0;
  int64_t n = 0;
  for (int a = 0; a < t.rows; ++a)
    for (int b = 0; b < t.cols; ++b) {
      const int64_t c = t.at(a, b);
      sum_cells += pairs(double(c));
      size_a[a] += c;
      size_b[b] += c;
      n += c;
    }
  return ari_from_sums(sum_cells, size_a, size_b, size_t(n));
}

double quadratic_weighted_kappa(const ContingencyTable& t) {
  if (t.rows != t.cols) throw std::invalid_argument("quadratic_weighted_kappa: the table must be square");
  const int k = t.rows;
  std::vector<double> row(k, 0), col(k, 0);
  double n = 0;
  for (int a = 0; a < k; ++a)
    for (int b = 0; b < k; ++b) {
      row[a] += double(t.at(a, b));
      col[b] += double(t.at(a, b));
      n += double(t.at(a, b));
    }
  if (n == 0 || k < 2) return kNaN;
  double observed = 0, expected = 0;
  for (int a = 0; a < k; ++a)
    for (int b = 0; b < k; ++b) {
      const double w = double(a - b) * double(a - b) / double((k - 1) * (k - 1));
      observed += w * double(t.at(a, b)) / n;
      expected += w * row[a] * col[b] / (n * n);
    }
  return expected > 0 ? 1.0 - observed / expected : kNaN;
}

double spearman(const ContingencyTable& t) {
  std::vector<double> row(t.rows, 0.0), col(t.cols, 0.0);
  double n = 0;
  for (int a = 0; a < t.rows; ++a)
    for (int b = 0; b < t.cols; ++b) {
      const double c = double(t.at(a, b));
      row[a] += c;
      col[b] += c;
      n += c;
    }
  int rows_occupied = 0, cols_occupied = 0;
  const std::vector<double> rank_a = midranks(row, rows_occupied), rank_b = midranks(col, cols_occupied);
  if (rows_occupied < 2 || cols_occupied < 2) return kNaN;  // one side constant: 0/0
  const double mean = (n + 1.0) / 2.0;                       // of ranks 1..n, either side
  double covariance = 0, var_a = 0, var_b = 0;
  for (int a = 0; a < t.rows; ++a) var_a += row[a] * (rank_a[a] - mean) * (rank_a[a] - mean);
  for (int b = 0; b < t.cols; ++b) var_b += col[b] * (rank_b[b] - mean) * (rank_b[b] - mean);
  for (int a = 0; a < t.rows; ++a)
    for (int b = 0; b < t.cols; ++b) covariance += double(t.at(a, b)) * (rank_a[a] - mean) * (rank_b[b] - mean);
  return std::clamp(covariance / std::sqrt(var_a * var_b), -1.0, 1.0);
}

double silhouette_score(const float* z, size_t rows, int dims, std::span<const int32_t> labels,
                        size_t max_sample, uint64_t seed, const SilhouetteShare& share) {
  check_same_length(rows, labels.size(), "silhouette_score");
  const std::vector<size_t> sample = sample_rows(rows, max_sample, seed);
  std::vector<int32_t> sample_labels(sample.size());
  for (size_t s = 0; s < sample.size(); ++s) sample_labels[s] = labels[sample[s]];
  const CompactLabels cl = compact(sample_labels);
  std::vector<int64_t> sizes(cl.clusters, 0);
  for (int32_t c : cl.index) sizes[c] += 1;
  if (cl.clusters < 2 || cl.clusters >= int64_t(sample.size())) return kNaN;

  const auto count = static_cast<std::ptrdiff_t>(sample.size());
  std::vector<double> score(sample.size(), 0.0);
  const size_t parts = size_t(std::max(1, share.parts));
  const auto first = static_cast<std::ptrdiff_t>(sample.size() * size_t(share.part) / parts);
  const auto end = static_cast<std::ptrdiff_t>(sample.size() * (size_t(share.part) + 1) / parts);
#pragma omp parallel
  {
    std::vector<double> distance_sum(cl.clusters);
#pragma omp for schedule(dynamic, 64)
    for (std::ptrdiff_t s = first; s < end; ++s) {
      std::fill(distance_sum.begin(), distance_sum.end(), 0.0);
      const float* zs = z + sample[s] * dims;
      for (std::ptrdiff_t t = 0; t < count; ++t)
        if (t != s) distance_sum[cl.index[t]] += distance(zs, z + sample[t] * dims, dims);
      const int own = cl.index[s];
      if (sizes[own] < 2) continue;  // a singleton scores 0
      const double a = distance_sum[own] / double(sizes[own] - 1);
      double b = std::numeric_limits<double>::infinity();
      for (int c = 0; c < cl.clusters; ++c)
        if (c != own) b = std::min(b, distance_sum[c] / double(sizes[c]));
      const double denominator = std::max(a, b);
      score[s] = denominator > 0 ? (b - a) / denominator : 0.0;
    }
  }
  if (parts > 1) {
    const std::vector<double> mine(score.begin() + first, score.begin() + end);
    share.gather(mine, score);
  }
  double total = 0;
  for (double v : score) total += v;
  return total / double(sample.size());
}

double calinski_harabasz(const float* z, size_t rows, int dims, std::span<const int32_t> labels) {
  check_same_length(rows, labels.size(), "calinski_harabasz");
  const CompactLabels cl = compact(labels);
  if (cl.clusters < 2 || size_t(cl.clusters) >= rows) return kNaN;
  const ClusterMeans m = cluster_means(z, rows, dims, cl);
  std::vector<double> mean(dims, 0.0);
  for (size_t i = 0; i < rows; ++i)
    for (int k = 0; k < dims; ++k) mean[k] += z[i * dims + k];
  for (int k = 0; k < dims; ++k) mean[k] /= double(rows);
  double within = 0, between = 0;
  for (size_t i = 0; i < rows; ++i)
    within += squared_distance_to(z + i * dims, m.centroids.data() + size_t(cl.index[i]) * dims, dims);
  for (int c = 0; c < cl.clusters; ++c) {
    double d2 = 0;
    for (int k = 0; k < dims; ++k) {
      const double diff = m.centroids[size_t(c) * dims + k] - mean[k];
      d2 += diff * diff;
    }
    between += double(m.sizes[c]) * d2;
  }
  if (within == 0) return 1.0;
  return (between / double(cl.clusters - 1)) / (within / double(rows - cl.clusters));
}

double davies_bouldin(const float* z, size_t rows, int dims, std::span<const int32_t> labels) {
  check_same_length(rows, labels.size(), "davies_bouldin");
  const CompactLabels cl = compact(labels);
  if (cl.clusters < 2) return kNaN;
  const ClusterMeans m = cluster_means(z, rows, dims, cl);
  std::vector<double> spread(cl.clusters, 0.0);
  for (size_t i = 0; i < rows; ++i) {
    const int c = cl.index[i];
    spread[c] += std::sqrt(squared_distance_to(z + i * dims, m.centroids.data() + size_t(c) * dims, dims));
  }
  for (int c = 0; c < cl.clusters; ++c) spread[c] /= double(m.sizes[c]);
  bool any_spread = false, any_separation = false;
  double total = 0;
  for (int c = 0; c < cl.clusters; ++c) {
    any_spread = any_spread || spread[c] > 0;
    double worst = 0;
    for (int o = 0; o < cl.clusters; ++o) {
      if (o == c) continue;
      double d2 = 0;
      for (int k = 0; k < dims; ++k) {
        const double diff = m.centroids[size_t(c) * dims + k] - m.centroids[size_t(o) * dims + k];
        d2 += diff * diff;
      }
      if (d2 == 0) continue;  // coincident centroids count as 0, as in scikit-learn
      any_separation = true;
      worst = std::max(worst, (spread[c] + spread[o]) / std::sqrt(d2));
    }
    total += worst;
  }
  if (!any_spread || !any_separation) return 0.0;
  return total / double(cl.clusters);
}

double accuracy(std::span<const int32_t> truth, std::span<const int32_t> predicted) {
  check_same_length(truth.size(), predicted.size(), "accuracy");
  if (truth.empty()) return kNaN;
  size_t equal = 0;
  for (size_t i = 0; i < truth.size(); ++i) equal += truth[i] == predicted[i];
  return double(equal) / double(truth.size());
}

void ConfusionMatrix::add(int truth, int predicted) {
  if (truth < 0 || truth >= classes || predicted < 0 || predicted >= classes)
    throw std::out_of_range("confusion_matrix: label outside [0, " + std::to_string(classes) + "): truth " +
                            std::to_string(truth) + ", predicted " + std::to_string(predicted));
  counts[size_t(truth) * classes + predicted] += 1;
}

int64_t ConfusionMatrix::total() const {
  int64_t n = 0;
  for (int64_t c : counts) n += c;
  return n;
}

double accuracy(const ConfusionMatrix& m) {
  const int64_t n = m.total();
  if (n == 0) return kNaN;
  int64_t equal = 0;
  for (int k = 0; k < m.classes; ++k) equal += m.at(k, k);
  return double(equal) / double(n);
}

ConfusionMatrix confusion_matrix(std::span<const int32_t> truth, std::span<const int32_t> predicted,
                                 int classes) {
  check_same_length(truth.size(), predicted.size(), "confusion_matrix");
  ConfusionMatrix m(classes);
  for (size_t i = 0; i < truth.size(); ++i) m.add(truth[i], predicted[i]);
  return m;
}

double macro_f1(const ConfusionMatrix& confusion) {
  const int n = confusion.classes;
  double total = 0;
  int present = 0;
  for (int c = 0; c < n; ++c) {
    int64_t true_count = 0, predicted_count = 0;
    for (int o = 0; o < n; ++o) {
      true_count += confusion.at(c, o);
      predicted_count += confusion.at(o, c);
    }
    if (true_count == 0 && predicted_count == 0) continue;
    ++present;
    // 2 tp + fp + fn = predicted + true.
    total += 2.0 * double(confusion.at(c, c)) / double(true_count + predicted_count);
  }
  return present ? total / present : kNaN;
}

double macro_f1(std::span<const int32_t> truth, std::span<const int32_t> predicted, int classes) {
  return macro_f1(confusion_matrix(truth, predicted, classes));
}

}  // namespace resilinet
