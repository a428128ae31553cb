// Config binding: defaults, strict rejection of unknown keys / wrong types / bad values (InputError
// naming the key and the valid choices), and a lossless resolved-YAML round trip.
#include <gtest/gtest.h>

#include "datasets/input_error.hpp"
#include "test_support.hpp"
#include "trainer/model/config.hpp"

using resilinet::InputError;
using resilinet::parse_train_config;

namespace {
std::string error_of(const std::string& yaml) {
  try {
    parse_train_config(yaml, "cfg.yaml");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Config, DefaultsMatchTheDocumentedMethod) {
  auto c = parse_train_config("{}", "cfg.yaml");
  EXPECT_EQ(c.encoder.group_width, 64);
  EXPECT_EQ(c.encoder.hidden, std::vector<int>{128});
  EXPECT_EQ(c.encoder.latent, 8);
  EXPECT_EQ(c.clusters.k, 5);
  EXPECT_EQ(c.clusters.space, "completed");
  EXPECT_DOUBLE_EQ(c.clusters.alpha, 1.0);
  EXPECT_DOUBLE_EQ(c.idec.gamma, 0.1);
  EXPECT_EQ(c.classifier.net.hidden, (std::vector<int>{64, 32}));
  EXPECT_EQ(c.scaler.type, "robust");
}

// `train` without --config and with configs/default.yaml run the same model.
TEST(Config, DefaultYamlIsTheBuiltInDefault) {
  auto shipped = resilinet::load_train_config(std::string(RESILINET_SOURCE_DIR) + "/configs/default.yaml");
  auto built_in = resilinet::load_train_config("");
  EXPECT_EQ(resilinet::to_yaml(shipped), resilinet::to_yaml(built_in));
}

TEST(Config, ReadsNestedValues) {
  auto c = parse_train_config("clusters: {k: 4}\nidec: {optimizer: {lr: 0.01}}\nencoder: {hidden: [20, 10]}\n", "x");
  EXPECT_EQ(c.clusters.k, 4);
  EXPECT_FLOAT_EQ(float(c.idec.optimizer.lr), 0.01f);
  EXPECT_EQ(c.encoder.hidden, (std::vector<int>{20, 10}));
}

TEST(Config, UnknownKeyNamesKeyAndValidChoices) {
  std::string msg = error_of("clusters: {restrats: 4}\n");
  EXPECT_NE(msg.find("cfg.yaml"), std::string::npos) << msg;
  EXPECT_NE(msg.find("clusters.restrats"), std::string::npos) << msg;
  EXPECT_NE(msg.find("restart_share"), std::string::npos) << msg;  // the valid keys are listed
}

TEST(Config, UnknownTopLevelKey) {
  std::string msg = error_of("trainer: 3\n");
  EXPECT_NE(msg.find("trainer"), std::string::npos) << msg;
  EXPECT_NE(msg.find("pretrain"), std::string::npos) << msg;
}

TEST(Config, WrongTypeNamesExpectedType) {
  std::string msg = error_of("pretrain: {epochs: many}\n");
  EXPECT_NE(msg.find("pretrain.epochs"), std::string::npos) << msg;
  EXPECT_NE(msg.find("integer"), std::string::npos) << msg;
  EXPECT_NE(error_of("encoder: {hidden: 32x}\n"), "");
  EXPECT_NE(error_of("pretrain: 5\n"), "");  // a section must be a mapping
}

TEST(Config, BadChoiceListsChoices) {
  std::string msg = error_of("scaler: {type: quantile}\n");
  EXPECT_NE(msg.find("minmax"), std::string::npos) << msg;
  EXPECT_NE(msg.find("zscore"), std::string::npos) << msg;
  EXPECT_NE(msg.find("robust"), std::string::npos) << msg;
}

TEST(Config, OutOfRangeValues) {
  EXPECT_NE(error_of("clusters: {k: 1}\n").find("clusters.k"), std::string::npos);
  EXPECT_NE(error_of("clusters: {k: 129}\n").find("clusters.k"), std::string::npos);
  EXPECT_NE(error_of("clusters: {restarts: 0}\n").find("clusters.restarts"), std::string::npos);
  EXPECT_NE(error_of("clusters: {min_share: 0.3}\n").find("clusters.min_share"), std::string::npos);
  EXPECT_NE(error_of("idec: {refresh_every: 0}\n").find("idec.refresh_every"), std::string::npos);
  EXPECT_NE(error_of("scaler: {lower_quantile: 0.9, upper_quantile: 0.1}\n").find("scaler.lower_quantile"),
            std::string::npos);
  EXPECT_NE(error_of("classifier: {holdout: 1.5}\n").find("classifier.holdout"), std::string::npos);
  EXPECT_NE(error_of("encoder: {latent: 0}\n").find("encoder.latent"), std::string::npos);
}

TEST(Config, MalformedYamlNamesLine) {
  std::string msg = error_of("clusters:\n  k: [1, 2\n");
  EXPECT_NE(msg.find("line"), std::string::npos) << msg;
  EXPECT_NE(msg.find("valid YAML"), std::string::npos) << msg;
}

TEST(Config, ResolvedYamlRoundTrips) {
  auto c = parse_train_config("run: {seed: 7}\nidec: {gamma: 0.25}\nclusters: {kmeans: {restarts: 3}}\n", "x");
  auto again = parse_train_config(resilinet::to_yaml(c), "resolved");
  EXPECT_EQ(resilinet::to_yaml(again), resilinet::to_yaml(c));
  EXPECT_EQ(again.seed, 7u);
  EXPECT_DOUBLE_EQ(again.idec.gamma, 0.25);
  EXPECT_EQ(again.clusters.kmeans.restarts, 3);
}

TEST(Config, ShippedConfigsParse) {
  for (const char* name : {"default.yaml", "paper.yaml", "us_counties.yaml"})
    EXPECT_NO_THROW(resilinet::load_train_config(std::string(RESILINET_SOURCE_DIR) + "/configs/" + name)) << name;
}

TEST(Config, TrainWithBadConfigExitsTwo) {
  auto dir = resilinet::testing::scratch_dir();
  resilinet::testing::write_text(dir / "bad.yaml", "pretrain: {epoch: 3}\n");
  auto r = resilinet::testing::run_resilinet("train --config " + (dir / "bad.yaml").string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("pretrain.epoch"), std::string::npos) << r.output;
  auto missing = resilinet::testing::run_resilinet("train --config " + (dir / "nope.yaml").string());
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
}
