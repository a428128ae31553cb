// Per-cell ratings written while streaming (ratings.h5, ratings.csv, ratings.geojson;
// docs/FORMAT.md): the classifier head's level with its probability per level, the nearest
// cluster's level, the hazard with its risk class and the priority flag, and (HDF5, CSV) the latent
// z; the HDF5 file also holds q, the soft assignment per cluster, with the cluster -> level map.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "datasets/loader.hpp"
#include "trainer/model/model.hpp"
#include "trainer/outputs/cell_table.hpp"
#include "trainer/outputs/room.hpp"

namespace resilinet {

using RatingsOutputs = CellTableFiles;

class RatingsWriter {
 public:
  // hazard_cuts: the risk classes' cuts (trainer/report/hazard_risk.hpp); with_hazard: the data has
  // /hazard (the hazard, risk class and priority columns are written only then). groups: the data's
  // groupings with their global labels (ShardSet::group_names, group_labels); each is a column
  // group_<name> (the label in CSV and GeoJSON, the code with a `labels` attribute in HDF5).
  // with_latent: write q and z (false: left out, for ratings of very many cells).
  RatingsWriter(const std::string& out_dir, const std::vector<std::string>& region_names, const Model& model,
                bool with_hazard, std::vector<double> hazard_cuts, RatingsOutputs outputs,
                const std::vector<ShardGrouping>& groups = {}, bool with_latent = true);
  ~RatingsWriter();
  void append(const Batch& batch, const RatingBuffers& rated);
  void commit();
  size_t rows() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Softmax of the classifier head's logits: the probability of each level, in level order. A cell
// that is not rated (model.hpp: mark_not_rated) gets zeros.
void level_probabilities(const RatingBuffers& rated, size_t rows, int levels, float* out);

}  // namespace resilinet
