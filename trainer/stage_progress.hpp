// Where an epoch-driven training stage (pretrain, idec, classifier) stands after some whole
// epochs: with the model's parameters and centroids, enough to continue it exactly. Stored in the
// checkpoint.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "trainer/optimizer.hpp"

namespace resilinet {

// What IDEC carries between steps besides the networks: the centroids' optimizer, the last
// refresh (cluster frequencies and every cell's hard label) and the k-means initialisation's numbers.
struct IdecProgress {
  AdamState centroid_adam;
  std::vector<double> frequency;
  std::vector<int8_t> labels;
  int refreshes = 0;
  double changed = 1.0;
  double kmeans_inertia = 0, latent_scale = 1;
};

struct StageProgress {
  std::string stage;
  int epoch = 0;      // epochs done
  uint64_t step = 0;  // steps done
  AdamState adam;     // of the network the stage trains
  std::optional<IdecProgress> idec;
};

}  // namespace resilinet
