// Tests of the model options that the variants benchmark compares: encoder.first_layer (grouped or
// dense: connections, gradients against finite differences, LRP conservation, a short run that
// trains, rates and explains) and levels.order (component_score or feature_mean, on hand-built sums).
// Not a test of the quality either variant reaches.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numeric>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "datasets/input_error.hpp"
#include "datasets/shard_set.hpp"
#include "datasets/synth.hpp"
#include "h5_rows.hpp"
#include "kernels/lrp.hpp"
#include "kernels/ops.hpp"
#include "kernels/reference/lrp_reference.hpp"
#include "kernels/reference/reference.hpp"
#include "random_data.hpp"
#include "test_support.hpp"
#include "trainer/model/checkpoint.hpp"
#include "trainer/model/config.hpp"
#include "trainer/model/model.hpp"
#include "trainer/stages/train_run.hpp"
#include "trainer/stages/training.hpp"

namespace rt = resilinet::testing;
using namespace resilinet;

namespace {

// A small autoencoder on the 12 default features in 3 systems: 12 -> 3 x 2 -> 4 -> 2 -> 4 -> 6 -> 12.
TrainConfig small_encoder(const std::string& first_layer) {
  TrainConfig c;
  c.seed = 3;
  c.encoder.first_layer = first_layer;
  c.encoder.group_width = 2;
  c.encoder.hidden = {4};
  c.encoder.latent = 2;
  return c;
}

// Weights that exist (the mask's ones; all of a dense layer) plus the biases.
size_t connected_params(const kernels::LayerShape& l) {
  const size_t weights = l.mask.empty() ? size_t(l.in) * size_t(l.out)
                                        : size_t(std::count(l.mask.begin(), l.mask.end(), uint8_t(1)));
  return weights + size_t(l.out);
}

// The encoder alone (input -> z) over the autoencoder's parameter buffer.
kernels::MlpLayout encoder_of(const Model& m) {
  kernels::MlpLayout e;
  e.layers.assign(m.autoencoder.layers.begin(), m.autoencoder.layers.begin() + m.latent_layer + 1);
  e.param_count = m.autoencoder.param_count;
  return e;
}

}  // namespace

TEST(FirstLayer, DenseHasEveryConnectionAtTheGroupedWidth) {
  const Schema schema = default_schema();
  const int F = int(schema.size()), G = int(schema.systems().size());
  TrainConfig c;  // the defaults: 64 units per system
  const Model grouped = assemble_model(c, schema);
  c.encoder.first_layer = "dense";
  const Model dense = assemble_model(c, schema);

  const kernels::LayerShape& d = dense.autoencoder.layers[0];
  const kernels::LayerShape& g = grouped.autoencoder.layers[0];
  EXPECT_TRUE(d.mask.empty());
  EXPECT_EQ(d.in, F);
  EXPECT_EQ(d.out, G * 64);
  EXPECT_EQ(connected_params(d), size_t(F) * size_t(G * 64) + size_t(G * 64));  // in * out + out
  // The grouped layer of the same width connects each feature to its system's 64 units only.
  ASSERT_FALSE(g.mask.empty());
  EXPECT_EQ(g.out, d.out);
  EXPECT_EQ(connected_params(g), size_t(F) * 64 + size_t(G * 64));
  // Every later layer is the same, and the flat buffers have the same size (a grouped layer stores
  // its absent weights as zeros).
  ASSERT_EQ(dense.autoencoder.layers.size(), grouped.autoencoder.layers.size());
  for (size_t l = 1; l < dense.autoencoder.layers.size(); ++l) {
    EXPECT_EQ(dense.autoencoder.layers[l].in, grouped.autoencoder.layers[l].in) << "layer " << l;
    EXPECT_EQ(dense.autoencoder.layers[l].out, grouped.autoencoder.layers[l].out) << "layer " << l;
    EXPECT_TRUE(dense.autoencoder.layers[l].mask.empty()) << "layer " << l;
  }
  EXPECT_EQ(dense.autoencoder.param_count, grouped.autoencoder.param_count);
  // Initialised: no dense first-layer weight is zero; in the grouped layer exactly the absent ones are.
  const size_t n = size_t(d.in) * size_t(d.out);
  const float* wd = dense.autoencoder_params.data() + d.weight_offset;
  const float* wg = grouped.autoencoder_params.data() + g.weight_offset;
  EXPECT_EQ(std::count(wd, wd + n, 0.0f), 0);
  EXPECT_EQ(size_t(std::count(wg, wg + n, 0.0f)), n - size_t(F) * 64);
}

// The dense model's autoencoder: the fp64 reference gradient against central finite differences,
// and the CPU kernel against the reference. The gradient reaches the weights that a grouped layer
// lacks (the kernel zeroes those there).
TEST(FirstLayer, DenseModelGradientsMatchFiniteDifferences) {
  const Schema schema = default_schema();
  const Model dense = assemble_model(small_encoder("dense"), schema);
  const Model grouped = assemble_model(small_encoder("grouped"), schema);
  const kernels::MlpLayout& layout = dense.autoencoder;
  const size_t rows = 7, F = size_t(dense.features());
  const std::vector<float> params32 = rt::random_params(layout, 21);
  const std::vector<float> x32 = rt::random_values(rows * F, 22, -1.0f, 1.0f);
  const std::vector<float> target32 = rt::random_values(rows * F, 23);
  std::vector<double> params = rt::to_double(params32);
  const std::vector<double> x = rt::to_double(x32), target = rt::to_double(target32);
  const kernels::reference::LossSpec64 loss{kernels::LossKind::mse, 1.0, target.data(), nullptr, 0};

  std::vector<double> grads(layout.param_count), scratch(layout.param_count);
  kernels::reference::mlp_forward_backward(layout, params.data(), x.data(), rows, loss, -1, nullptr, grads.data());
  // The loss and the ReLU on/off pattern at given parameters.
  auto objective = [&](std::vector<uint8_t>& pattern) {
    const double value = kernels::reference::mlp_forward_backward(layout, params.data(), x.data(), rows, loss, -1,
                                                                   nullptr, scratch.data());
    const auto acts = kernels::reference::mlp_forward(layout, params.data(), x.data(), rows);
    pattern.clear();
    for (size_t l = 0; l < layout.layers.size(); ++l)
      if (layout.layers[l].act == kernels::Activation::relu)
        for (double a : acts[l + 1]) pattern.push_back(a > 0.0);
    return value;
  };
  std::vector<uint8_t> base, plus, minus;
  objective(base);
  const double h = 1e-5;
  double diff = 0, scale = 0;
  for (size_t k = 0; k < params.size(); ++k) {
    const double saved = params[k];
    params[k] = saved + h;
    const double up = objective(plus);
    params[k] = saved - h;
    const double down = objective(minus);
    params[k] = saved;
    ASSERT_EQ(plus, base) << "parameter " << k << " crosses a ReLU kink; pick another seed";
    ASSERT_EQ(minus, base) << "parameter " << k << " crosses a ReLU kink; pick another seed";
    diff = std::max(diff, std::abs((up - down) / (2 * h) - grads[k]));
    scale = std::max(scale, std::abs(grads[k]));
  }
  ASSERT_GT(scale, 0.0);
  EXPECT_LT(diff / scale, 1e-6) << "max |fd - grad| = " << diff << ", max |grad| = " << scale;

  // The CPU kernel on the same parameters, within fp32 rounding of the reference.
  std::vector<float> fast(layout.param_count);
  kernels::LossSpec loss32{kernels::LossKind::mse, 1.0f, target32.data()};
  kernels::cpu::mlp_forward_backward(layout, params32.data(), x32.data(), rows, loss32, nullptr, fast.data());
  double fast_diff = 0;
  for (size_t k = 0; k < fast.size(); ++k) fast_diff = std::max(fast_diff, std::abs(fast[k] - grads[k]));
  EXPECT_LT(fast_diff / scale, 1e-4);

  // The first layer's gradient where the grouped layer has no connection: non-zero in the dense
  // model, zero in the grouped one.
  const kernels::LayerShape& mask_source = grouped.autoencoder.layers[0];
  std::vector<float> grouped_grads(layout.param_count);
  kernels::cpu::mlp_forward_backward(grouped.autoencoder, params32.data(), x32.data(), rows, loss32, nullptr,
                                     grouped_grads.data());
  double dense_off_block = 0, grouped_off_block = 0;
  for (size_t k = 0; k < mask_source.mask.size(); ++k) {
    if (mask_source.mask[k]) continue;
    dense_off_block = std::max(dense_off_block, std::abs(double(fast[mask_source.weight_offset + k])));
    grouped_off_block = std::max(grouped_off_block, std::abs(double(grouped_grads[mask_source.weight_offset + k])));
  }
  EXPECT_GT(dense_off_block, 1e-3 * scale);
  EXPECT_EQ(grouped_off_block, 0.0);
}

// Epsilon-LRP without biases conserves the seed: through the dense first layer too, relevance of
// the inputs sums to the explained output (here a latent unit of the encoder).
TEST(FirstLayer, LrpConservesTheSeedThroughADenseFirstLayer) {
  const Model m = assemble_model(small_encoder("dense"), default_schema());
  const kernels::MlpLayout enc = encoder_of(m);
  ASSERT_TRUE(enc.layers[0].mask.empty());
  std::vector<float> params = rt::random_params(m.autoencoder, 31);
  for (const auto& l : enc.layers) std::fill_n(params.begin() + l.bias_offset, l.out, 0.0f);
  const size_t rows = 200, F = size_t(m.features()), d = size_t(m.latent_dims());
  const std::vector<float> x = rt::random_values(rows * F, 32);
  const kernels::LrpComposite eps(enc.layers.size(), kernels::epsilon_rule(1e-9f));
  // Explain each row's latent unit of largest |z|, so that a relative error is meaningful.
  std::vector<float> z(rows * d), rel(rows * F);
  kernels::cpu::mlp_forward(enc, params.data(), x.data(), rows, z.data());
  std::vector<int32_t> unit(rows);
  for (size_t r = 0; r < rows; ++r) {
    const float* zr = z.data() + r * d;
    unit[r] = int32_t(std::max_element(zr, zr + d, [](float a, float b) { return std::abs(a) < std::abs(b); }) - zr);
  }
  kernels::cpu::lrp(enc, params.data(), eps, x.data(), rows, unit.data(), rel.data());
  const std::vector<double> pd = rt::to_double(params), xd = rt::to_double(x);
  std::vector<double> ref(rows * F);
  kernels::reference::lrp(enc, pd.data(), eps, xd.data(), rows, unit.data(), ref.data());
  size_t explained = 0;
  for (size_t r = 0; r < rows; ++r) {
    const double y = z[r * d + size_t(unit[r])];
    if (std::abs(y) < 1e-3) continue;  // a seed near 0: relative error meaningless
    ++explained;
    const double sum = std::accumulate(rel.begin() + r * F, rel.begin() + (r + 1) * F, 0.0);
    const double sum_ref = std::accumulate(ref.begin() + r * F, ref.begin() + (r + 1) * F, 0.0);
    EXPECT_LT(std::abs(sum - y) / std::abs(y), 1e-4) << "row " << r;
    EXPECT_LT(std::abs(sum_ref - y) / std::abs(y), 1e-6) << "row " << r;
  }
  EXPECT_GT(explained, rows * 9 / 10);
}

TEST(ModelOptions, KeysParseRoundTripAndRejectOtherValues) {
  const TrainConfig defaults = parse_train_config("", "t.yaml");
  EXPECT_EQ(defaults.encoder.first_layer, "grouped");
  EXPECT_EQ(defaults.level_order, "component_score");
  const TrainConfig c = parse_train_config("encoder: {first_layer: dense}\nlevels: {order: feature_mean}\n", "t.yaml");
  EXPECT_EQ(c.encoder.first_layer, "dense");
  EXPECT_EQ(c.level_order, "feature_mean");
  const TrainConfig back = parse_train_config(to_yaml(c), "resolved.yaml");
  EXPECT_EQ(back.encoder.first_layer, "dense");
  EXPECT_EQ(back.level_order, "feature_mean");
  for (const auto& [yaml, key, choices] :
       {std::tuple{"encoder: {first_layer: sparse}\n", "encoder.first_layer", "grouped, dense"},
        std::tuple{"levels: {order: median}\n", "levels.order", "component_score, feature_mean"}}) {
    try {
      parse_train_config(yaml, "t.yaml");
      ADD_FAILURE() << yaml << " was accepted";
    } catch (const InputError& e) {
      EXPECT_EQ(e.field(), key);
      EXPECT_NE(e.expected().find(choices), std::string::npos) << e.what();
    }
  }
  // Set in code (as command-line overrides are), an unknown value is refused by the validation too.
  TrainConfig bad;
  bad.encoder.first_layer = "sparse";
  EXPECT_THROW(validate_train_config(bad), InputError);
  bad = TrainConfig{};
  bad.level_order = "median";
  EXPECT_THROW(validate_train_config(bad), InputError);
}

// A checkpoint written before encoder.first_layer existed (its stored config lacks the key) loads
// with the grouped layer it was trained with.
TEST(FirstLayer, CheckpointWithoutTheKeyLoadsGrouped) {
  const std::string path = std::string(RESILINET_SOURCE_DIR) + "/tests/data/bad/base/checkpoint.h5";
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_NE(bytes.find("group_width"), std::string::npos) << "the stored config is not plain text in the file";
  ASSERT_EQ(bytes.find("first_layer"), std::string::npos) << "the checkpoint already names the key";
  const Checkpoint ck = read_checkpoint(path);
  EXPECT_EQ(ck.config.encoder.first_layer, "grouped");
  EXPECT_FALSE(ck.model.autoencoder.layers[0].mask.empty());
}

// ---- levels.order ----

// Three robustness features and one redundancy feature (direction -1): the component rule weighs
// the lone redundancy feature as much as the three others together, the feature mean a quarter.
// Mean cells per cluster (sums / counts):
//   A (2 cells): (1, 1, 1, 1)         component (1 + -1) / 2 = 0       features (3 - 1) / 4 = 0.5
//   B (4 cells): (0.2, 0.2, 0.2, 0)   component (0.2 + 0) / 2 = 0.1    features 0.6 / 4 = 0.15
//   C (5 cells): (0.5, 0.5, 0.5, 0.6) component (0.5 - 0.6) / 2 = -0.05 features 0.9 / 4 = 0.225
//   D: empty, lowest under either rule.
TEST(LevelOrder, TheTwoRulesOrderAHandBuiltCaseEachItsOwnWay) {
  Schema schema;
  schema.features = {{"r0", "facility", "robustness", 1, "1"},
                     {"r1", "infrastructure", "robustness", 1, "1"},
                     {"r2", "society", "robustness", 1, "1"},
                     {"d0", "society", "redundancy", -1, "1"}};
  const std::vector<std::vector<double>> mean = {{1, 1, 1, 1}, {0.2, 0.2, 0.2, 0}, {0.5, 0.5, 0.5, 0.6}, {0, 0, 0, 0}};
  const std::vector<int64_t> counts = {2, 4, 5, 0};
  std::vector<double> sums;
  for (size_t k = 0; k < mean.size(); ++k)
    for (double v : mean[k]) sums.push_back(v * double(counts[k]));

  const std::vector<double> component = cluster_scores(schema, sums, counts, "component_score");
  const std::vector<double> features = cluster_scores(schema, sums, counts, "feature_mean");
  const std::vector<double> want_component = {0.0, 0.1, -0.05}, want_features = {0.5, 0.15, 0.225};
  for (size_t k = 0; k < 3; ++k) {
    EXPECT_NEAR(component[k], want_component[k], 1e-12) << "cluster " << k;
    EXPECT_NEAR(features[k], want_features[k], 1e-12) << "cluster " << k;
  }
  EXPECT_LT(component[3], -1e299);
  EXPECT_LT(features[3], -1e299);
  EXPECT_EQ(levels_by_score(component), (std::vector<int32_t>{3, 4, 2, 1}));
  EXPECT_EQ(levels_by_score(features), (std::vector<int32_t>{4, 2, 3, 1}));
  EXPECT_THROW(cluster_scores(schema, sums, counts, "median"), std::invalid_argument);
}

// ---- A short run of both options together ----

// A short training with first_layer: dense and levels.order: feature_mean finishes; the checkpoint
// holds both; `rate` rates every cell; the evaluation's level scores are the feature-mean scores of
// the rated levels, recounted here from rate's output; `explain` runs on the checkpoint. The levels
// of a run this short are not checked for quality.
TEST(ModelOptions, DenseFeatureMeanRunTrainsRatesAndExplains) {
  const auto dir = rt::scratch_dir();
  auto r = rt::run_resilinet("synth --quiet --out " + (dir / "data").string() + " --cells 3000 --regions 1 --seed 4");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string data = (dir / "data" / "*.h5").string();
  TrainConfig c = load_train_config(std::string(RESILINET_SOURCE_DIR) + "/configs/default.yaml");
  c.data = data;
  c.run_dir = (dir / "run").string();
  c.threads = 2;
  c.encoder.first_layer = "dense";
  c.level_order = "feature_mean";
  c.pretrain.epochs = 2;
  c.pretrain.min_steps = 0;
  c.classifier.epochs = 2;
  c.classifier.min_steps = 0;
  const TrainResult result = train_model(c, true);

  const Checkpoint ck = read_checkpoint(result.checkpoint_path);
  EXPECT_EQ(ck.config.encoder.first_layer, "dense");
  EXPECT_EQ(ck.config.level_order, "feature_mean");
  EXPECT_TRUE(ck.model.autoencoder.layers[0].mask.empty());

  r = rt::run_resilinet("rate --quiet --checkpoint " + result.checkpoint_path + " --data '" + data + "' --out " +
                        (dir / "rate").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string ratings = (dir / "rate" / "ratings.h5").string();
  const auto level = rt::read_h5_rows<int32_t>(ratings, "level", H5T_NATIVE_INT32);
  const auto ids = rt::read_h5_rows<int64_t>(ratings, "cell_id", H5T_NATIVE_INT64);
  ASSERT_EQ(level.size(), size_t(3000));
  std::unordered_map<int64_t, int32_t> level_of;
  for (size_t i = 0; i < ids.size(); ++i) {
    ASSERT_TRUE(level[i] >= 1 && level[i] <= 5) << "cell " << ids[i] << " level " << level[i];
    level_of[ids[i]] = level[i];
  }
  const Model& m = ck.model;
  const size_t F = size_t(m.features());
  std::vector<double> sums(5 * F, 0.0);
  std::vector<int64_t> counts(5, 0);
  for_each_scaled_batch(ShardSet::open(data), 65536, &m.scaler, 8192, [&](const Batch& b, const float* x) {
    for (size_t i = 0; i < b.rows; ++i) {
      const int k = level_of.at(b.cell_id[i]) - 1;
      ++counts[k];
      for (size_t f = 0; f < F; ++f) sums[k * F + f] += x[i * F + f];
    }
  });
  const std::vector<double> want = cluster_scores(m.schema, sums, counts, "feature_mean");
  const nlohmann::json& got = result.metrics["evaluation"]["rated_level_scores"];
  ASSERT_EQ(got.size(), size_t(5));
  ASSERT_GE(std::count_if(counts.begin(), counts.end(), [](int64_t n) { return n > 0; }), 2);
  for (size_t k = 0; k < 5; ++k) {
    if (counts[k] == 0) continue;  // an empty level's score is a placeholder
    EXPECT_NEAR(got[k].get<double>(), want[k], 1e-6) << "level " << k + 1;
  }

  r = rt::run_resilinet("explain --quiet --no-sensitivity --checkpoint " + result.checkpoint_path + " --data '" +
                        data + "' --out " + (dir / "explain").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream in(dir / "explain" / "explain_summary.json");
  const nlohmann::json summary = nlohmann::json::parse(in);
  EXPECT_EQ(summary["cells"].get<size_t>(), size_t(3000));

  // The report's level scores follow the run's rule too.
  r = rt::run_resilinet("report --quiet --checkpoint " + result.checkpoint_path + " --data '" + data + "' --out " +
                        (dir / "report").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json report = nlohmann::json::parse(rt::read_text(dir / "report" / "report.json"));
  const nlohmann::json& profile = report["all_regions"]["feature_profile"]["levels"];
  for (size_t k = 0; k < 5; ++k)
    if (counts[k] > 0) EXPECT_NEAR(profile[k]["score"].get<double>(), want[k], 1e-6) << "level " << k + 1;
}
