// Restarts and their consensus: k-means is run several times, each restart on its own hashed part
// of a sample of cells and from its own k-means++ seeds. Every restart's centroids label the whole
// sample; the restart that agrees best with the others (highest mean adjusted Rand index) is kept
// and polished by Lloyd iterations on the whole sample. Restarts with a near-empty cluster are not
// chosen while another restart has none. The pairwise agreement is the run's own measure of how
// reproducible its partition is.
#pragma once
#include "trainer/stages/room.hpp"
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "kernels/backend.hpp"

namespace resilinet {

struct ConsensusOptions {
  int clusters = 5;
  int restarts = 5;             // independent solutions
  double restart_share = 0.8;   // share of the sample rows each restart clusters
  int kmeans_restarts = 8;      // k-means++ seedings per restart; the lowest inertia wins
  int max_iterations = 200;
  double min_share = 0.02;      // clusters with fewer sample rows are near-empty
  uint64_t seed = 0;
  // Restarts split between `parts` processes that hold the same sample (the ranks of a job): part
  // p fits restarts p, p + parts, ..., and share(every restart's centroids, this part's filled in)
  // fills in the others', so that every part goes on from all of them with one process's result.
  // The restarts' agreement is counted on part p's slice of the sample rows, and sum_counts(this
  // part's counts) returns the counts summed over the parts: integers, exact in any order.
  int part = 0, parts = 1;
  std::function<void(std::vector<std::vector<float>>& restart_centroids)> share;
  std::function<std::vector<int64_t>(std::span<const int64_t> counts)> sum_counts;
};

struct Consensus {
  std::vector<float> centroids;        // [clusters x dims], after polishing
  std::vector<int32_t> labels;         // [rows] of the sample, by the polished centroids
  std::vector<int64_t> sizes;          // [clusters] of the sample
  double inertia = 0;                  // sum of squared distances of the sample to its centroid
  int chosen = 0;                      // the restart kept
  std::vector<double> agreement;       // [restarts x restarts] pairwise adjusted Rand index
  std::vector<int> near_empty_restarts;  // restarts that had a cluster under min_share
  bool near_empty = false;             // the result itself has a cluster under min_share
  int polish_iterations = 0;

  double mean_agreement() const;       // mean over pairs of different restarts (1 with one restart)
  double min_agreement() const;
};

// Lloyd iterations on rows x dims values from the given centroids [clusters x dims], until the
// labels settle, the inertia stops falling or max_iterations pass. A cluster that loses every row
// keeps its centroid, so cluster j stays the cluster that started at centroids j.
struct Polished {
  std::vector<float> centroids;  // [clusters x dims]
  std::vector<int32_t> labels;   // [rows]
  std::vector<int64_t> sizes;    // [clusters]
  double inertia = 0;
  int iterations = 0;
};
Polished lloyd_from(const float* x, size_t rows, int dims, std::vector<float> centroids, int clusters,
                    int max_iterations, kernels::Backend& backend);

// rows x dims values in x; keys (one per row, e.g. the cell id) decide which restart sees which
// row, so the split does not depend on the order of the rows.
// The k-means and assignment passes run on `backend` (x stays on the host); without one, on the CPU.
Consensus consensus_kmeans(const float* x, size_t rows, int dims, std::span<const int64_t> keys,
                           const ConsensusOptions& options, kernels::Backend& backend);
Consensus consensus_kmeans(const float* x, size_t rows, int dims, std::span<const int64_t> keys,
                           const ConsensusOptions& options);

}  // namespace resilinet
