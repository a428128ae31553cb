// Config binding: defaults, strict rejection of unknown keys / wrong types / bad values (InputError
// naming the key and the valid choices), and a lossless resolved-YAML round trip.
#include <filesystem>

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

// Paths of every kind of text come back unchanged from the resolved YAML, whatever style yaml-cpp
// writes them in; what is not text (invalid UTF-8, control characters, noncharacters), which the
// resolved YAML would not hold unchanged (a carriage return before a line break is dropped, the
// rest replaced), is refused, naming the key.
TEST(Config, PathsRoundTripAndNonTextIsRefused) {
  const std::vector<std::string> paths = {
      "a b/c*.h5",      "~",          "null",       "- x",         "#x: y",    "'q\"",   "[a, {b}]",
      "\u00e9t\u00e9/*.h5", "a\u0085b", "a\u2028b", "\u00a0lead", "trail ", "\U0001F600.h5", "0x1f"};
  for (const std::string& path : paths) {
    auto c = parse_train_config("", "x");
    c.data = c.run_dir = c.init_from.path = path;
    const std::string yaml = resilinet::to_yaml(c);
    auto again = parse_train_config(yaml, "resolved");
    EXPECT_EQ(again.data, path) << yaml;
    EXPECT_EQ(again.run_dir, path) << yaml;
    EXPECT_EQ(again.init_from.path, path) << yaml;
    EXPECT_EQ(resilinet::to_yaml(again), yaml);
  }
  // What the resolved YAML holds is what was written: the escapes were decoded once.
  EXPECT_EQ(parse_train_config("data: \"\\u00e9\"\n", "x").data, "\xc3\xa9");
  for (const auto& [yaml, key] : std::vector<std::pair<std::string, std::string>>{
           {"data: \"a\\rb\"\n", "data"},
           {"data: \"a\\r\"\n", "data"},
           {"data: \"a\\x00b\"\n", "data"},
           {"run: {dir: \"\xff\"}\n", "run.dir"},
           {"init_from: {path: \"a\\tb\"}\n", "init_from.path"},
           {"data: \"[\\uFFFE\"\n", "data"},
           {"data: \"a\\uFDD0\"\n", "data"},
           {"run: {dir: \"\\U0010FFFF\"}\n", "run.dir"}}) {
    const std::string msg = error_of(yaml);
    EXPECT_NE(msg.find(key), std::string::npos) << yaml << ": " << msg;
    EXPECT_NE(msg.find("UTF-8 text"), std::string::npos) << yaml << ": " << msg;
  }
  // Set without the reader (a command-line override), the path is checked as the file's is.
  auto c = parse_train_config("", "x");
  c.run_dir = "runs/\x01";
  EXPECT_THROW(resilinet::validate_train_config(c), InputError);
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

// Every number is bounded (NaN and infinities fail every bound), with the key named: the values a
// hostile or careless config used to turn into a NaN model, a crash or an allocation failure.
TEST(Config, EveryNumberIsBoundedAndNaNOrInfinityIsRefused) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"pretrain: {optimizer: {lr: .nan}}\n", "pretrain.optimizer.lr"},
      {"pretrain: {optimizer: {lr: .inf}}\n", "pretrain.optimizer.lr"},
      {"idec: {optimizer: {beta1: 1.0}}\n", "idec.optimizer.beta1"},
      {"classifier: {optimizer: {beta2: 1}}\n", "classifier.optimizer.beta2"},
      {"pretrain: {optimizer: {eps: 0}}\n", "pretrain.optimizer.eps"},
      {"pretrain: {optimizer: {weight_decay: -1}}\n", "pretrain.optimizer.weight_decay"},
      {"clusters: {alpha: .inf}\n", "clusters.alpha"},
      {"clusters: {spread: .nan}\n", "clusters.spread"},
      {"idec: {gamma: .inf}\n", "idec.gamma"},
      {"pretrain: {input_noise: .nan}\n", "pretrain.input_noise"},
      {"scaler: {clip: .inf}\n", "scaler.clip"},
      {"run: {threads: 100000}\n", "run.threads"},
      {"run: {threads: -1}\n", "run.threads"},
      {"encoder: {hidden: [1000000]}\n", "encoder.hidden"},
      {"encoder: {group_width: 100000}\n", "encoder.group_width"},
      {"pretrain: {batch: 2000000000}\n", "pretrain.batch"},
      {"classifier: {hidden: [64, 100000]}\n", "classifier.hidden"},
  };
  for (const auto& [yaml, key] : cases) {
    const std::string msg = error_of(yaml);
    EXPECT_NE(msg.find(key), std::string::npos) << yaml << " -> " << msg;
  }
  EXPECT_EQ(error_of("pretrain: {optimizer: {lr: 0.01, beta1: 0, beta2: 0.5, eps: 1e-6, weight_decay: 0.1}}\n"), "");
}

TEST(Config, DuplicateAndNonScalarKeysAreRefused) {
  std::string msg = error_of("run: {seed: 1}\nrun: {seed: 2}\n");
  EXPECT_NE(msg.find("each key once"), std::string::npos) << msg;
  msg = error_of("pretrain:\n  epochs: 3\n  epochs: 4\n");
  EXPECT_NE(msg.find("pretrain.epochs"), std::string::npos) << msg;
  msg = error_of("? [a, b]\n: 1\n");
  EXPECT_NE(msg.find("keys that are plain names"), std::string::npos) << msg;
}

// The command line's overrides meet the same ranges as the file; a folder is not a config.
TEST(Config, OverridesAndFoldersAreCheckedAsTheFileIs) {
  auto dir = resilinet::testing::scratch_dir();
  const std::vector<std::pair<std::string, std::string>> cases = {{"--threads -1", "run.threads"},
                                                                   {"--threads 100000", "run.threads"},
                                                                   {"--seed -1", "--seed"},
                                                                   {"--config " + dir.string(), "a folder"}};
  for (const auto& [args, said] : cases) {
    auto r = resilinet::testing::run_resilinet("train --run-dir " + (dir / "run").string() + " " + args);
    EXPECT_EQ(r.exit_code, 2) << args << ": " << r.output;
    EXPECT_NE(r.output.find(said), std::string::npos) << args << ": " << r.output;
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "run"));  // refused before anything was written
}
