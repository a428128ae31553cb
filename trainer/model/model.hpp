// The Resili-Net model: scaler, socio-technical autoencoder (first layer grouped by feature system,
// or dense with encoder.first_layer: dense),
// cluster centroids with their cluster-to-level map, and the classifier head. The centroids live in
// the clustering space: the completed features (scaled features, missing values filled in by the
// autoencoder) or the latent z. Assembly from the
// config and the shard schema; the forward paths used by training, rating and explanation.
#pragma once
#include "trainer/model/room.hpp"
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "datasets/schema.hpp"
#include "kernels/backend.hpp"
#include "kernels/mlp_layout.hpp"
#include "trainer/model/config.hpp"
#include "trainer/model/scaler.hpp"

namespace resilinet {

struct Model {
  Schema schema;
  Scaler scaler;

  kernels::MlpLayout autoencoder;  // encoder layers then decoder layers
  int latent_layer = 0;            // index of the layer whose output is z
  std::vector<float> autoencoder_params;

  int clusters = 5;
  double alpha = 1.0;
  std::string cluster_space = "completed";  // completed | latent (ClustersConfig::space)
  double cluster_scale = 1.0;         // completed space: rows are multiplied by this before q
  std::vector<float> centroids;       // [clusters x cluster_dims()]
  std::vector<int32_t> cluster_level;  // cluster -> level 1..clusters (1 = very low resilience)

  kernels::MlpLayout classifier;
  std::vector<float> classifier_params;

  int features() const { return int(schema.size()); }
  int latent_dims() const { return autoencoder.layers[latent_layer].out; }
  bool clusters_completed() const { return cluster_space == "completed"; }
  int cluster_dims() const { return clusters_completed() ? features() : latent_dims(); }
  // The decoder alone (z -> reconstruction), over the same parameter buffer.
  kernels::MlpLayout decoder() const;
};

// Builds the layouts from the config and schema and initialises parameters from the seed.
Model assemble_model(const TrainConfig& config, const Schema& schema);

// Per-cell outputs of the model on scaled rows.
struct RatingBuffers {
  std::vector<float> z;                // [rows x latent]
  std::vector<float> space;            // [rows x cluster_dims()]: the rows in the clustering space
  std::vector<float> q;                // [rows x clusters]
  std::vector<int32_t> cluster_level;  // level of the nearest cluster by q (1..K)
  std::vector<float> logits;           // [rows x clusters], classifier head
  std::vector<int32_t> level;          // classifier head's level (1..K): the rating
};

// A model's networks, parameters and centroids prepared on a backend for rating passes. A copy:
// changes to the model afterwards are not seen.
class ModelOnBackend {
 public:
  ModelOnBackend(const Model& model, kernels::Backend& backend, bool with_classifier = true);
  const Model& model() const { return *model_; }
  kernels::Backend& backend() const { return *backend_; }
  bool has_classifier() const;
  kernels::RatingPass pass() const;
  const float* autoencoder_params() const { return autoencoder_params_.data(); }  // on the backend

 private:
  struct Nets;
  const Model* model_;
  kernels::Backend* backend_;
  std::shared_ptr<const Nets> nets_;
  kernels::BackendArray<float> autoencoder_params_, classifier_params_, centroids_;
};

// Encodes, soft-assigns and classifies scaled rows on the model's backend (rows are on the host).
// Without z (with_z false) out.z is left empty, and the CPU skips the encoder where nothing else
// needs it (completed space: rows without a missing value); the other outputs, and which rows
// mark_not_rated marks, are the same.
void rate_scaled(const ModelOnBackend& model, const float* raw, const float* scaled, size_t rows, RatingBuffers& out,
                 bool with_classifier = true, bool with_z = true);

// Encodes, soft-assigns and classifies scaled rows on the CPU. raw holds the same rows unscaled, NaN where a
// value is missing (the completed space fills those in); nullptr: every value observed. The
// classifier part is skipped if with_classifier is false (during clustering, before the head exists).
void rate_scaled(const Model& model, const float* raw, const float* scaled, size_t rows, RatingBuffers& out,
                 bool with_classifier = true);

// A cell whose rating is not finite (extreme values with an unclipped scaler, or an extreme
// model) is not rated: its levels become 0 (kNotRated) and its z, q and logits 0, so no output
// holds NaN. Returns how many of the rows were marked. Call on rated rows with the classifier.
constexpr int32_t kNotRated = 0;
size_t mark_not_rated(RatingBuffers& out, size_t rows);

// The rows in the clustering space, without soft assignment: out [rows x cluster_dims()], and z
// [rows x latent] when z is not null.
void clustering_space(const Model& model, const float* raw, const float* scaled, size_t rows, float* out,
                      float* z = nullptr);

// The hard cluster level of each row from its soft assignment q.
void levels_from_q(const Model& model, const float* q, size_t rows, int32_t* level);

}  // namespace resilinet
