// The training configuration: every key with its default (documented in configs/README.md), read
// from YAML with strict checking (unknown keys and wrong types -> InputError naming the key and the
// valid choices), and written back as the resolved YAML stored in run folders and checkpoints.
#pragma once
#include "trainer/model/room.hpp"
#include <cstdint>
#include <string>
#include <vector>

namespace resilinet {

struct OptimizerConfig {
  std::string type = "adam";
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
};

struct EncoderConfig {
  // grouped: block-diagonal by feature system (the method); dense: every feature feeds every unit
  // of the same width (systems x group_width), the variant that tests what the grouping adds.
  std::string first_layer = "grouped";
  int group_width = 64;             // hidden units per feature system in the grouped first layer
  std::vector<int> hidden = {128};  // dense fusion layers after the grouped layer
  int latent = 8;
  std::vector<int> decoder = {};    // empty: mirror of the encoder (latent -> 128 -> 3*64 -> F)
};

struct ClassifierNetConfig {
  std::vector<int> hidden = {64, 32};
};

struct ScalerConfig {
  std::string type = "robust";   // robust | minmax | zscore
  double lower_quantile = 0.01;  // robust: the values mapped to 0 and 1
  double upper_quantile = 0.99;
  double clip = 0.2;             // robust: scaled values are clipped to [-clip, 1 + clip]
};

struct PretrainConfig {
  int epochs = 60;
  int min_steps = 3000;      // small data: at least this many steps (more epochs than `epochs`)
  int max_steps = 0;         // > 0: the stage ends after this many steps, inside an epoch if need be
  int batch = 256;
  double mask_rate = 0.3;    // denoising: share of input values replaced by the imputation value
  double input_noise = 0.0;  // denoising: std of Gaussian noise added to the scaled inputs
  OptimizerConfig optimizer{};
};

struct KMeansInitConfig {
  int restarts = 8;
  int max_iterations = 200;
  size_t sample_rows = 200000;  // k-means++ runs on at most this many rows (deterministic sample)
};

// Stage 2: the partition of the cells into K clusters.
struct ClustersConfig {
  int k = 5;
  // completed: the scaled features with missing values filled in by the autoencoder (observed
  // values as they are); latent: the encoder's z, then IDEC (the `idec` section).
  std::string space = "completed";
  double alpha = 1.0;           // Student-t degrees of freedom of the soft assignment q
  double spread = 3.0;          // the space is scaled so cells sit this RMS distance from their centroid
  int restarts = 10;            // independent k-means solutions, combined into the consensus
  double restart_share = 0.8;   // share of the sample each restart clusters (by hashed cell id)
  double min_share = 0.02;      // a cluster with fewer cells is near-empty: warned about and avoided
  KMeansInitConfig kmeans{};
};

// IDEC: the joint fine-tuning of encoder, decoder and centroids on KL(P||Q) + gamma * MSE, for
// clusters.space = latent. Refreshes are measured and a refresh that tears the partition is undone.
struct IdecConfig {
  double gamma = 0.1;             // weight of the reconstruction loss next to KL(P||Q)
  double refresh_every = 0.25;    // epochs between refreshes of the cluster frequencies f
  double tol = 0.001;             // stop when fewer than tol of the hard labels change at a refresh
  double max_change = 0.1;        // a refresh that changes more labels than this is rolled back
  int max_rollbacks = 3;          // after this many rollbacks IDEC stops at its last accepted state
  int max_epochs = 10;
  int max_steps = 0;              // > 0: IDEC ends after this many steps, inside an epoch if need be
  int batch = 256;
  OptimizerConfig optimizer{.lr = 3e-5};
};

struct ClassifierConfig {
  int epochs = 20;
  int min_steps = 3000;  // small data: at least this many steps (more epochs than `epochs`)
  int max_steps = 0;     // > 0: the stage ends after this many steps, inside an epoch if need be
  int batch = 256;
  double holdout = 0.2;  // share of cells (by hashed cell id) kept out of training for evaluation
  // Data of at most this many cells have their levels rated once and kept (a byte a cell) for the
  // stage's epochs; larger data rate each step's rows, so memory does not grow with the cells.
  size_t label_cache_rows = size_t(1) << 24;
  OptimizerConfig optimizer{};
  ClassifierNetConfig net{};
};

// Fine-tuning (`train --init-from`): the finished checkpoint this run's model starts from, and the
// SHA-256 of its bytes. train fills the hash in; a config that sets it accepts only that file.
struct InitFromConfig {
  std::string path;  // "": train from scratch
  std::string sha256;
};

struct TrainConfig {
  std::string source_file;  // where the config came from (for messages)

  std::string data = "data/default/*.h5";  // glob of shards
  std::string run_dir = "runs/default";
  uint64_t seed = 0;
  int threads = 0;          // 0 = all cores (OpenMP default)
  std::string device = "cpu";
  ScalerConfig scaler{};
  std::string level_order = "component_score";  // component_score | feature_mean (level_order.cpp)
  size_t slab_rows = 65536;
  int checkpoint_keep = 2;
  int checkpoint_every = 10;  // epochs between checkpoints inside pretraining and the head (0: stage ends only)
  size_t metrics_sample_rows = 100000;  // cells sampled for silhouette/CH/DB

  EncoderConfig encoder{};
  PretrainConfig pretrain{};
  ClustersConfig clusters{};
  IdecConfig idec{};
  ClassifierConfig classifier{};
  InitFromConfig init_from{};
};

// Reads a config file; path "" gives the defaults. Throws InputError on any bad key or value.
// Every value in its range (numbers finite, sizes that fit in memory); throws InputError naming
// the key. parse_train_config calls it; so must anything that changes a config afterwards (the
// command line's overrides).
void validate_train_config(const TrainConfig& config);
TrainConfig load_train_config(const std::string& path);
// Parses YAML text (file is used in messages only).
TrainConfig parse_train_config(const std::string& yaml_text, const std::string& file);
// The resolved configuration as YAML (every key, defaults filled in); parses back to the same.
std::string to_yaml(const TrainConfig& config);

}  // namespace resilinet
