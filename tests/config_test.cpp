// Config binding: defaults, strict rejection of unknown keys / wrong types / bad values (InputError
// naming the key and the valid choices), and a lossless resolved-YAML round trip.
#include <gtest/gtest.h>

#include "datasets/input_error.hpp"
#include "test_support.hpp"
#include "trainer/config.hpp"

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
  EXPECT_EQ(c.encoder.group_width, 16);
  EXPECT_EQ(c.encoder.hidden, std::vector<int>{32});
  EXPECT_EQ(c.encoder.latent, 8);
  EXPECT_EQ(c.idec.clusters, 5);
  EXPECT_DOUBLE_EQ(c.idec.alpha, 1.0);
  EXPECT_DOUBLE_EQ(c.idec.gamma, 0.1);
  EXPECT_EQ(c.classifier.net.hidden, (std::vector<int>{64, 32}));
  EXPECT_EQ(c.scaler, "minmax");
}

TEST(Config, ReadsNestedValues) {
  auto c = parse_train_config("idec: {clusters: 4, optimizer: {lr: 0.01}}\nencoder: {hidden: [20, 10]}\n", "x");
  EXPECT_EQ(c.idec.clusters, 4);
  EXPECT_FLOAT_EQ(float(c.idec.optimizer.lr), 0.01f);
  EXPECT_EQ(c.encoder.hidden, (std::vector<int>{20, 10}));
}

TEST(Config, UnknownKeyNamesKeyAndValidChoices) {
  std::string msg = error_of("idec: {clustres: 4}\n");
  EXPECT_NE(msg.find("cfg.yaml"), std::string::npos) << msg;
  EXPECT_NE(msg.find("idec.clustres"), std::string::npos) << msg;
  EXPECT_NE(msg.find("clusters"), std::string::npos) << msg;  // the valid keys are listed
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
  std::string msg = error_of("scaler: {type: robust}\n");
  EXPECT_NE(msg.find("minmax"), std::string::npos) << msg;
  EXPECT_NE(msg.find("zscore"), std::string::npos) << msg;
  EXPECT_NE(msg.find("robust"), std::string::npos) << msg;
}

TEST(Config, OutOfRangeValues) {
  EXPECT_NE(error_of("idec: {clusters: 1}\n").find("idec.clusters"), std::string::npos);
  EXPECT_NE(error_of("classifier: {holdout: 1.5}\n").find("classifier.holdout"), std::string::npos);
  EXPECT_NE(error_of("encoder: {latent: 0}\n").find("encoder.latent"), std::string::npos);
}

TEST(Config, MalformedYamlNamesLine) {
  std::string msg = error_of("idec:\n  clusters: [1, 2\n");
  EXPECT_NE(msg.find("line"), std::string::npos) << msg;
  EXPECT_NE(msg.find("valid YAML"), std::string::npos) << msg;
}

TEST(Config, ResolvedYamlRoundTrips) {
  auto c = parse_train_config("run: {seed: 7}\nidec: {gamma: 0.25, kmeans: {restarts: 3}}\n", "x");
  auto again = parse_train_config(resilinet::to_yaml(c), "resolved");
  EXPECT_EQ(resilinet::to_yaml(again), resilinet::to_yaml(c));
  EXPECT_EQ(again.seed, 7u);
  EXPECT_DOUBLE_EQ(again.idec.gamma, 0.25);
  EXPECT_EQ(again.idec.kmeans.restarts, 3);
}

TEST(Config, ShippedConfigsParse) {
  for (const char* name : {"default.yaml", "paper.yaml"})
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
