// Where an epoch-driven training stage (pretrain, idec, classifier) stands after some whole
// epochs: with the model's parameters and centroids, enough to continue it exactly. Stored in the
// checkpoint.
#pragma once
#include "trainer/model/room.hpp"
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "trainer/model/optimizer.hpp"

namespace resilinet {

// The state IDEC falls back to when a refresh tears the partition: the networks, centroids and
// optimizers as they were at the last accepted refresh, with that refresh's cluster frequencies.
struct IdecSnapshot {
  std::vector<float> params, centroids;
  AdamState adam, centroid_adam;
  std::vector<double> frequency;
};

// What IDEC carries between steps besides the networks: the centroids' optimizer, the cluster
// frequencies in use, the accepted snapshot, the step size after rollbacks, and the clustering
// that started it (reported in the stage metrics).
struct IdecProgress {
  AdamState centroid_adam;
  std::vector<double> frequency;
  IdecSnapshot accepted;
  int refreshes = 0;
  int rollbacks = 0;
  double changed = 0.0;   // share of labels the last accepted refresh changed (0: none yet)
  double lr_scale = 1.0;  // halved at every rollback
  std::string start_json = "{}";  // metrics of the initial clustering (consensus of restarts)
};

struct StageProgress {
  std::string stage;
  int epoch = 0;      // epochs done
  uint64_t step = 0;  // steps done
  AdamState adam;     // of the network the stage trains
  std::optional<IdecProgress> idec;
};

}  // namespace resilinet
