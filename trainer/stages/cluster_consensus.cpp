// The consensus of k-means restarts (cluster_consensus.hpp).
#include "trainer/stages/cluster_consensus.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/splitmix.hpp"
#include "trainer/stages/cluster_metrics.hpp"

namespace resilinet {
namespace {

bool in_restart(int64_t key, uint64_t seed, double share) {
  if (share >= 1.0) return true;
  const uint64_t h = splitmix64(uint64_t(key) ^ splitmix64(seed ^ 0xc0115e7ULL));
  return double(h >> 11) * 0x1.0p-53 < share;
}

struct Assignment {
  std::vector<int32_t> labels;
  std::vector<int64_t> counts;
  std::vector<double> sums;
  double inertia = 0;
};

Assignment assign(kernels::Backend& backend, const float* x, size_t rows, int dims, const std::vector<float>& centroids,
                  int clusters) {
  Assignment a;
  a.labels.resize(rows);
  a.counts.assign(clusters, 0);
  a.sums.assign(size_t(clusters) * dims, 0.0);
  a.inertia = kernels::kmeans_assign_host(backend, x, rows, dims, centroids.data(), clusters, a.labels.data(),
                                          a.sums.data(), a.counts.data());
  return a;
}

bool has_near_empty(const std::vector<int64_t>& counts, size_t rows, double min_share) {
  for (int64_t c : counts)
    if (double(c) < min_share * double(rows)) return true;
  return false;
}

}  // namespace

double Consensus::mean_agreement() const {
  const size_t R = size_t(std::sqrt(double(agreement.size())));
  if (R < 2) return 1.0;
  double sum = 0;
  for (size_t a = 0; a < R; ++a)
    for (size_t b = a + 1; b < R; ++b) sum += agreement[a * R + b];
  return sum / double(R * (R - 1) / 2);
}

double Consensus::min_agreement() const {
  const size_t R = size_t(std::sqrt(double(agreement.size())));
  double low = 1.0;
  for (size_t a = 0; a < R; ++a)
    for (size_t b = a + 1; b < R; ++b) low = std::min(low, agreement[a * R + b]);
  return low;
}

Consensus consensus_kmeans(const float* x, size_t rows, int dims, std::span<const int64_t> keys,
                           const ConsensusOptions& o) {
  return consensus_kmeans(x, rows, dims, keys, o, kernels::cpu::host_backend());
}

Consensus consensus_kmeans(const float* x, size_t rows, int dims, std::span<const int64_t> keys,
                           const ConsensusOptions& o, kernels::Backend& backend) {
  const int K = o.clusters, R = o.restarts;
  const size_t D = size_t(dims);
  Consensus out;
  std::vector<std::vector<float>> restart_centroids;
  std::vector<float> part;
  kernels::Staged<float> part_in(backend);
  const int parts = std::max(1, o.parts);
  restart_centroids.resize(size_t(R));
  for (int r = 0; r < R; ++r) {
    if (r % parts != o.part) continue;  // another part's
    const uint64_t seed = splitmix64(o.seed * 131 + uint64_t(r));
    part.clear();
    for (size_t i = 0; i < rows; ++i)
      if (in_restart(keys[i], seed, o.restart_share)) part.insert(part.end(), x + i * D, x + (i + 1) * D);
    size_t part_rows = part.size() / D;
    if (part_rows < size_t(K)) {  // too small a share of a small sample: the whole sample
      part.assign(x, x + rows * D);
      part_rows = rows;
    }
    kernels::KMeansOptions km;
    km.clusters = K;
    km.restarts = o.kmeans_restarts;
    km.max_iterations = o.max_iterations;
    km.seed = seed;
    restart_centroids[size_t(r)] = backend.kmeans(part_in.put(part.data(), part.size()), part_rows, dims, km).centroids;
  }
  if (parts > 1) o.share(restart_centroids);

  // Every restart's labels on this part's rows, then their sizes and the contingency table of every
  // pair of restarts (K x K counts, no per-row sort), summed over the parts.
  const size_t first = rows * size_t(o.part) / size_t(parts), end = rows * size_t(o.part + 1) / size_t(parts);
  const size_t KK = size_t(K) * K, pairs = size_t(R) * (R - 1) / 2;
  std::vector<int64_t> counts(size_t(R) * K + pairs * KK, 0);
  std::vector<std::vector<int32_t>> labels(static_cast<size_t>(R));
  for (int r = 0; r < R && end > first; ++r) {
    Assignment a = assign(backend, x + first * D, end - first, dims, restart_centroids[size_t(r)], K);
    std::copy(a.counts.begin(), a.counts.end(), counts.begin() + ptrdiff_t(size_t(r) * K));
    labels[size_t(r)] = std::move(a.labels);
  }
  int64_t* table = counts.data() + size_t(R) * K;
  for (int a = 0; a < R && end > first; ++a)
    for (int b = a + 1; b < R; ++b, table += KK) {
      const int32_t *la = labels[size_t(a)].data(), *lb = labels[size_t(b)].data();
      for (size_t i = 0; i < end - first; ++i) ++table[size_t(la[i]) * K + size_t(lb[i])];
    }
  if (parts > 1) counts = o.sum_counts(counts);
  for (int r = 0; r < R; ++r) {
    const std::vector<int64_t> sizes(counts.begin() + ptrdiff_t(size_t(r) * K), counts.begin() + ptrdiff_t(size_t(r + 1) * K));
    if (has_near_empty(sizes, rows, o.min_share)) out.near_empty_restarts.push_back(r);
  }
  out.agreement.assign(size_t(R) * R, 1.0);
  table = counts.data() + size_t(R) * K;
  for (int a = 0; a < R; ++a)
    for (int b = a + 1; b < R; ++b, table += KK) {
      ContingencyTable t(K, K);
      std::copy_n(table, KK, t.counts.begin());
      out.agreement[size_t(a) * R + b] = out.agreement[size_t(b) * R + a] = adjusted_rand_index(t);
    }

  // The medoid among the restarts without a near-empty cluster (among all if every one has one).
  const bool any_valid = int(out.near_empty_restarts.size()) < R;
  double best = -2;
  for (int r = 0; r < R; ++r) {
    if (any_valid && std::count(out.near_empty_restarts.begin(), out.near_empty_restarts.end(), r)) continue;
    double score = 0;
    for (int b = 0; b < R; ++b) score += b == r ? 0.0 : out.agreement[size_t(r) * R + b];
    if (score > best) best = score, out.chosen = r;
  }

  // Polish: Lloyd iterations on the whole sample from the chosen centroids.
  Polished p = lloyd_from(x, rows, dims, restart_centroids[out.chosen], K, o.max_iterations, backend);
  out.polish_iterations = p.iterations;
  out.centroids = std::move(p.centroids);
  out.labels = std::move(p.labels);
  out.sizes = std::move(p.sizes);
  out.inertia = p.inertia;
  out.near_empty = has_near_empty(out.sizes, rows, o.min_share);
  return out;
}

Polished lloyd_from(const float* x, size_t rows, int dims, std::vector<float> centroids, int clusters,
                    int max_iterations, kernels::Backend& backend) {
  const int K = clusters;
  const size_t D = size_t(dims);
  Polished out;
  Assignment a = assign(backend, x, rows, dims, centroids, K);
  for (int it = 0; it < max_iterations; ++it) {
    for (int k = 0; k < K; ++k)
      if (a.counts[k] > 0)
        for (size_t j = 0; j < D; ++j) centroids[k * D + j] = float(a.sums[k * D + j] / double(a.counts[k]));
    const double before = a.inertia;
    Assignment next = assign(backend, x, rows, dims, centroids, K);
    ++out.iterations;
    const bool settled = next.labels == a.labels;
    a = std::move(next);
    if (settled || !(a.inertia < before)) break;
  }
  out.centroids = std::move(centroids);
  out.labels = std::move(a.labels);
  out.sizes = std::move(a.counts);
  out.inertia = a.inertia;
  return out;
}

}  // namespace resilinet
