// Strict YAML binding of TrainConfig. One field list (visit_config) drives both reading and
// writing, so the resolved YAML can never miss a key that the reader accepts.
#include "trainer/model/config.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "datasets/input_error.hpp"
#include "datasets/text.hpp"
#include "trainer/model/yaml_binding.hpp"

namespace resilinet {
namespace {

using yaml_binding::Reader;
using yaml_binding::Writer;

template <class V> void visit_optimizer(V& v, OptimizerConfig& o) {
  v.choice("type", o.type, {"adam"});
  v.field("lr", o.lr);
  v.field("beta1", o.beta1);
  v.field("beta2", o.beta2);
  v.field("eps", o.eps);
  v.field("weight_decay", o.weight_decay);
}

template <class V> void visit_config(V& v, TrainConfig& c) {
  v.field("data", c.data);
  v.section("run", [&](V& s) {
    s.field("dir", c.run_dir);
    s.field("seed", c.seed);
    s.field("threads", c.threads);
    s.choice("device", c.device, {"cpu", "cuda", "auto"});
    s.field("checkpoint_keep", c.checkpoint_keep);
    s.field("checkpoint_every", c.checkpoint_every);
    s.field("metrics_sample_rows", c.metrics_sample_rows);
  });
  v.section("loader", [&](V& s) { s.field("slab_rows", c.slab_rows); });
  v.section("scaler", [&](V& s) {
    s.choice("type", c.scaler.type, {"robust", "minmax", "zscore"});
    s.field("lower_quantile", c.scaler.lower_quantile);
    s.field("upper_quantile", c.scaler.upper_quantile);
    s.field("clip", c.scaler.clip);
  });
  v.section("encoder", [&](V& s) {
    s.choice("first_layer", c.encoder.first_layer, {"grouped", "dense"});
    s.field("group_width", c.encoder.group_width);
    s.field("hidden", c.encoder.hidden);
    s.field("latent", c.encoder.latent);
    s.field("decoder", c.encoder.decoder);
  });
  v.section("pretrain", [&](V& s) {
    s.field("epochs", c.pretrain.epochs);
    s.field("min_steps", c.pretrain.min_steps);
    s.field("max_steps", c.pretrain.max_steps);
    s.field("batch", c.pretrain.batch);
    s.field("mask_rate", c.pretrain.mask_rate);
    s.field("input_noise", c.pretrain.input_noise);
    s.section("optimizer", [&](V& o) { visit_optimizer(o, c.pretrain.optimizer); });
  });
  v.section("clusters", [&](V& s) {
    s.field("k", c.clusters.k);
    s.choice("space", c.clusters.space, {"completed", "latent"});
    s.field("alpha", c.clusters.alpha);
    s.field("spread", c.clusters.spread);
    s.field("restarts", c.clusters.restarts);
    s.field("restart_share", c.clusters.restart_share);
    s.field("min_share", c.clusters.min_share);
    s.section("kmeans", [&](V& k) {
      k.field("restarts", c.clusters.kmeans.restarts);
      k.field("max_iterations", c.clusters.kmeans.max_iterations);
      k.field("sample_rows", c.clusters.kmeans.sample_rows);
    });
  });
  v.section("idec", [&](V& s) {
    s.field("gamma", c.idec.gamma);
    s.field("refresh_every", c.idec.refresh_every);
    s.field("tol", c.idec.tol);
    s.field("max_change", c.idec.max_change);
    s.field("max_rollbacks", c.idec.max_rollbacks);
    s.field("max_epochs", c.idec.max_epochs);
    s.field("max_steps", c.idec.max_steps);
    s.field("batch", c.idec.batch);
    s.section("optimizer", [&](V& o) { visit_optimizer(o, c.idec.optimizer); });
  });
  v.section("levels", [&](V& s) { s.choice("order", c.level_order, {"component_score", "feature_mean"}); });
  v.section("classifier", [&](V& s) {
    s.field("hidden", c.classifier.net.hidden);
    s.field("epochs", c.classifier.epochs);
    s.field("min_steps", c.classifier.min_steps);
    s.field("max_steps", c.classifier.max_steps);
    s.field("batch", c.classifier.batch);
    s.field("holdout", c.classifier.holdout);
    s.field("label_cache_rows", c.classifier.label_cache_rows);
    s.section("optimizer", [&](V& o) { visit_optimizer(o, c.classifier.optimizer); });
  });
  v.section("init_from", [&](V& s) {
    s.field("path", c.init_from.path);
    s.field("sha256", c.init_from.sha256);
  });
}

void require(bool ok, const TrainConfig& c, const std::string& key, const std::string& expected,
             const std::string& found) {
  if (!ok) throw InputError(c.source_file, key, expected, found);
}

}  // namespace

void validate_train_config(const TrainConfig& c) {
  // Sizes are bounded up front, so that an absurd one is a config error rather than a failed
  // allocation or an overflow halfway through a run.
  auto size_at_most = [&](long long v, long long most, const char* key) {
    require(v > 0 && v <= most, c, key, "an integer in [1, " + std::to_string(most) + "]", std::to_string(v));
  };
  // A number in [lo, hi]: NaN and infinities fail every such test.
  auto in_range = [&](double v, double lo, double hi, const std::string& key) {
    require(v >= lo && v <= hi, c, key, fmt::format("a number in [{:g}, {:g}]", lo, hi), fmt::format("{:g}", v));
  };
  constexpr long long kMaxWidth = 8192, kMaxBatch = 1 << 22;
  // The paths again (the reader checks them too): command-line overrides set them without it.
  for (const auto& [path, key] : {std::pair{&c.data, "data"}, std::pair{&c.run_dir, "run.dir"},
                                  std::pair{&c.init_from.path, "init_from.path"}})
    check_name(c.source_file, key, *path, kMaxTextBytes);
  // The choices again: code and command-line overrides set them without the reader.
  require(c.encoder.first_layer == "grouped" || c.encoder.first_layer == "dense", c, "encoder.first_layer",
          "one of: grouped, dense", "'" + c.encoder.first_layer + "'");
  require(c.level_order == "component_score" || c.level_order == "feature_mean", c, "levels.order",
          "one of: component_score, feature_mean", "'" + c.level_order + "'");
  size_at_most(c.encoder.group_width, kMaxWidth, "encoder.group_width");
  size_at_most(c.encoder.latent, kMaxWidth, "encoder.latent");
  for (int w : c.encoder.hidden) size_at_most(w, kMaxWidth, "encoder.hidden");
  for (int w : c.encoder.decoder) size_at_most(w, kMaxWidth, "encoder.decoder");
  for (int w : c.classifier.net.hidden) size_at_most(w, kMaxWidth, "classifier.hidden");
  size_at_most(c.pretrain.batch, kMaxBatch, "pretrain.batch");
  size_at_most(c.idec.batch, kMaxBatch, "idec.batch");
  size_at_most(c.classifier.batch, kMaxBatch, "classifier.batch");
  size_at_most(c.clusters.kmeans.restarts, 1000, "clusters.kmeans.restarts");
  size_at_most(c.clusters.kmeans.max_iterations, 1000000, "clusters.kmeans.max_iterations");
  size_at_most(static_cast<long long>(c.slab_rows), 1 << 26, "loader.slab_rows");
  size_at_most(c.checkpoint_keep, 1000, "run.checkpoint_keep");
  require(c.threads >= 0 && c.threads <= 4096, c, "run.threads", "an integer in [0, 4096] (0 = all cores)",
          std::to_string(c.threads));
  in_range(c.pretrain.input_noise, 0, 10, "pretrain.input_noise");
  in_range(c.clusters.alpha, 1e-3, 1e3, "clusters.alpha");
  in_range(c.clusters.spread, 0, 1e3, "clusters.spread");
  in_range(c.idec.gamma, 0, 1e3, "idec.gamma");
  in_range(c.scaler.clip, 0, 100, "scaler.clip");
  for (const auto& [o, stage] : {std::pair{&c.pretrain.optimizer, "pretrain"}, std::pair{&c.idec.optimizer, "idec"},
                                 std::pair{&c.classifier.optimizer, "classifier"}}) {
    const std::string at = std::string(stage) + ".optimizer.";
    require(o->lr > 0 && o->lr <= 1, c, at + "lr", "a number in (0, 1]", fmt::format("{:g}", o->lr));
    require(o->beta1 >= 0 && o->beta1 < 1, c, at + "beta1", "a number in [0, 1)", fmt::format("{:g}", o->beta1));
    require(o->beta2 >= 0 && o->beta2 < 1, c, at + "beta2", "a number in [0, 1)", fmt::format("{:g}", o->beta2));
    require(o->eps > 0 && o->eps <= 1, c, at + "eps", "a number in (0, 1]", fmt::format("{:g}", o->eps));
    in_range(o->weight_decay, 0, 1, at + "weight_decay");
  }
  require(c.pretrain.epochs >= 0, c, "pretrain.epochs", "an integer >= 0", std::to_string(c.pretrain.epochs));
  require(c.pretrain.mask_rate >= 0 && c.pretrain.mask_rate < 1, c, "pretrain.mask_rate", "a number in [0, 1)",
          std::to_string(c.pretrain.mask_rate));
  // Cluster labels are stored in one byte; more than 100 levels is not a rating.
  require(c.clusters.k >= 2 && c.clusters.k <= 100, c, "clusters.k", "an integer in [2, 100]",
          std::to_string(c.clusters.k));
  require(c.clusters.restarts >= 1 && c.clusters.restarts <= 64, c, "clusters.restarts", "an integer in [1, 64]",
          std::to_string(c.clusters.restarts));
  require(c.clusters.restart_share > 0 && c.clusters.restart_share <= 1, c, "clusters.restart_share",
          "a number in (0, 1]", std::to_string(c.clusters.restart_share));
  require(c.clusters.min_share >= 0 && c.clusters.min_share * c.clusters.k < 1, c, "clusters.min_share",
          "a number in [0, 1/k)", std::to_string(c.clusters.min_share));
  // Each restart clusters its restart_share (80%) of this sample: with fewer than 10 cells per
  // cluster, the least a data set must hold to be trained at all, the restarts fit noise (and
  // under k cells every restart falls back to the whole sample, so they cannot disagree).
  constexpr size_t kMinSampleRowsPerCluster = 10;
  const size_t min_sample_rows = kMinSampleRowsPerCluster * size_t(c.clusters.k);
  require(c.clusters.kmeans.sample_rows >= min_sample_rows, c, "clusters.kmeans.sample_rows",
          fmt::format("an integer >= {} ({} cells per cluster, clusters.k = {})", min_sample_rows,
                      kMinSampleRowsPerCluster, c.clusters.k),
          std::to_string(c.clusters.kmeans.sample_rows));
  require(c.idec.refresh_every > 0 && c.idec.refresh_every <= 10, c, "idec.refresh_every",
          "a number of epochs in (0, 10]", std::to_string(c.idec.refresh_every));
  require(c.idec.tol >= 0 && c.idec.tol < 1, c, "idec.tol", "a number in [0, 1)", std::to_string(c.idec.tol));
  require(c.idec.max_change > 0 && c.idec.max_change <= 1, c, "idec.max_change", "a number in (0, 1]",
          std::to_string(c.idec.max_change));
  require(c.idec.max_rollbacks >= 0, c, "idec.max_rollbacks", "an integer >= 0", std::to_string(c.idec.max_rollbacks));
  require(c.idec.max_epochs >= 0, c, "idec.max_epochs", "an integer >= 0", std::to_string(c.idec.max_epochs));
  require(c.idec.max_steps >= 0, c, "idec.max_steps", "an integer >= 0 (0 = no cap)", std::to_string(c.idec.max_steps));
  require(c.scaler.lower_quantile >= 0 && c.scaler.lower_quantile < c.scaler.upper_quantile &&
              c.scaler.upper_quantile <= 1,
          c, "scaler.lower_quantile", "0 <= lower_quantile < upper_quantile <= 1",
          std::to_string(c.scaler.lower_quantile) + " and " + std::to_string(c.scaler.upper_quantile));
  require(c.classifier.min_steps >= 0, c, "classifier.min_steps", "an integer >= 0",
          std::to_string(c.classifier.min_steps));
  require(c.pretrain.min_steps >= 0, c, "pretrain.min_steps", "an integer >= 0", std::to_string(c.pretrain.min_steps));
  require(c.pretrain.max_steps >= 0, c, "pretrain.max_steps", "an integer >= 0 (0 = no cap)",
          std::to_string(c.pretrain.max_steps));
  require(c.classifier.max_steps >= 0, c, "classifier.max_steps", "an integer >= 0 (0 = no cap)",
          std::to_string(c.classifier.max_steps));
  const std::string& sha = c.init_from.sha256;
  require(sha.empty() || (sha.size() == 64 && sha.find_first_not_of("0123456789abcdef") == std::string::npos), c,
          "init_from.sha256", "64 lowercase hex digits, or empty", "'" + sha + "'");
  require(sha.empty() || !c.init_from.path.empty(), c, "init_from.sha256",
          "empty when init_from.path is (a hash pins the checkpoint at that path)", "'" + sha + "'");
  require(c.classifier.epochs >= 0, c, "classifier.epochs", "an integer >= 0", std::to_string(c.classifier.epochs));
  require(c.classifier.holdout > 0 && c.classifier.holdout < 1, c, "classifier.holdout",
          "a number in (0, 1)", std::to_string(c.classifier.holdout));
  require(c.checkpoint_every >= 0, c, "run.checkpoint_every", "an integer >= 0 (0 = at stage ends only)",
          std::to_string(c.checkpoint_every));
}

TrainConfig parse_train_config(const std::string& yaml_text, const std::string& file) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::ParserException& e) {
    throw InputError(file, "line " + std::to_string(e.mark.line + 1), "valid YAML", e.msg);
  }
  TrainConfig c;
  c.source_file = file;
  Reader r(root, file, "");
  visit_config(r, c);
  r.finish();
  validate_train_config(c);
  return c;
}

TrainConfig load_train_config(const std::string& path) {
  if (path.empty()) {
    TrainConfig c;
    c.source_file = "<defaults>";
    return c;
  }
  if (std::filesystem::is_directory(path)) throw InputError(path, "", "a config file", "a folder");
  std::ifstream in(path);
  if (!in) throw InputError(path, "", "a readable config file", "cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_train_config(ss.str(), path);
}

std::string to_yaml(const TrainConfig& config) {
  TrainConfig c = config;
  YAML::Emitter out;
  out << YAML::BeginMap;
  Writer w(out);
  visit_config(w, c);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace resilinet
