// Rating throughput: times rate_scaled (encoder to z, Student-t soft assignment, hard cluster level,
// classifier head) of the default model over many rows in batches of 8192, as `resilinet rate`
// calls it (the model prepared once on the CPU backend); warm-up, then the median of repeats, plus
// the same pass timed part by part and the measured FMA peak; prints one JSON line. A plain timing
// program, not a test; bench/run_rating_peer.sh compares it with PyTorch.
//
//   rating_bench [--rows 1000000] [--batch 8192] [--threads 2] [--repeats 5] [--seed 0]
//                [--export DIR]   weights, centroids, rows and this side's outputs as .npy for the peer
//                [--checkpoint C --data GLOB]   a trained model (clusters.space: latent, as the peer
//                                 soft-assigns z) on the rows of its data, repeated up to --rows;
//                                 by default the default model as initialised, on uniform rows
// A trained model's hidden ReLUs are zero more often than an initialised one's, in whole units,
// and the forward pass skips inputs that are zero in a whole block of rows.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "datasets/synth.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "bench/fma_chains.hpp"
#include "kernels/ops.hpp"
#include "datasets/loader.hpp"
#include "datasets/shard_set.hpp"
#include "trainer/model/checkpoint.hpp"
#include "trainer/model/model.hpp"

namespace {

using namespace resilinet;
using Clock = std::chrono::steady_clock;

struct Args {
  size_t rows = 1'000'000;
  size_t batch = 8192;  // what `resilinet rate` hands to rate_scaled
  int threads = 2;
  int repeats = 5;
  uint64_t seed = 0;
  std::string export_dir;
  std::string checkpoint, data;
};

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (i + 1 >= argc) throw std::invalid_argument(k + " needs a value");
    const std::string v = argv[++i];
    if (k == "--rows") a.rows = std::stoul(v);
    else if (k == "--batch") a.batch = std::stoul(v);
    else if (k == "--threads") a.threads = std::stoi(v);
    else if (k == "--repeats") a.repeats = std::stoi(v);
    else if (k == "--seed") a.seed = std::stoull(v);
    else if (k == "--export") a.export_dir = v;
    else if (k == "--checkpoint") a.checkpoint = v;
    else if (k == "--data") a.data = v;
    else throw std::invalid_argument("unknown option " + k);
  }
  if (a.rows == 0 || a.batch == 0 || a.threads < 1 || a.repeats < 1)
    throw std::invalid_argument("rows, batch, threads and repeats must be positive");
  if (a.checkpoint.empty() != a.data.empty()) throw std::invalid_argument("--checkpoint and --data go together");
  return a;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// A C-order little-endian .npy file (format 1.0); descr is "<f4", "<i4" or "|u1".
void write_npy(const std::string& path, const void* data, size_t element_bytes,
               const std::string& descr, const std::vector<size_t>& shape) {
  std::string dims;
  size_t count = 1;
  for (size_t d : shape) {
    dims += std::to_string(d) + ",";
    count *= d;
  }
  if (shape.size() > 1) dims.pop_back();  // (n,) for one dimension, (n,m) otherwise
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + dims + "), }";
  header.append(63 - (10 + header.size()) % 64, ' ');  // the data starts on a 64-byte boundary
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  const uint16_t header_bytes = uint16_t(header.size());
  out.write("\x93NUMPY\x01\x00", 8);
  out.write(reinterpret_cast<const char*>(&header_bytes), 2);
  out << header;
  out.write(static_cast<const char*>(data), std::streamsize(count * element_bytes));
  if (!out) throw std::runtime_error("cannot write " + path);
}

// Raw feature rows, uniform in [0, 1) like min-max scaled data.
std::vector<float> make_rows(size_t rows, int features, uint64_t seed) {
  std::mt19937_64 rng(seed * 2 + 11);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> x(rows * size_t(features));
  for (float& v : x) v = u(rng);
  return x;
}

// The default model (parameters from the seed) with an identity scaler: offset 0, scale 1, median 0.
Model make_model(uint64_t seed) {
  TrainConfig config;
  config.clusters.space = "latent";  // the peer soft-assigns z
  config.seed = seed;
  Model m = assemble_model(config, default_schema());
  const size_t F = size_t(m.features());
  m.scaler.type = "minmax";
  m.scaler.median.assign(F, 0.0);
  m.scaler.offset.assign(F, 0.0);
  m.scaler.scale.assign(F, 1.0);
  m.scaler.min.assign(F, 0.0);
  m.scaler.max.assign(F, 1.0);
  m.scaler.missing.assign(F, 0);
  return m;
}

// A trained model from its checkpoint, checked to soft-assign z as the peer does.
Model trained_model(const std::string& path) {
  Model m = read_checkpoint(path).model;
  if (m.clusters_completed())
    throw std::invalid_argument(path + ": clusters.space is completed; the peer soft-assigns z (train with "
                                "clusters.space: latent)");
  return m;
}

// The raw rows of the data's shards in file order, repeated until there are `rows`.
std::vector<float> data_rows(const std::string& glob, size_t rows, int features) {
  const ShardSet data = ShardSet::open(glob);
  if (data.total_rows() == 0 || data.schema().size() != size_t(features))
    throw std::invalid_argument(glob + ": rows of the model's " + std::to_string(features) + " features");
  std::vector<float> x;
  x.reserve(rows * size_t(features));
  LoaderOptions opt;
  opt.batch_rows = 65536;
  opt.shuffle = false;
  Loader loader(data, opt);
  Batch b;
  while (loader.next(b)) x.insert(x.end(), b.x, b.x + b.rows * b.features);
  const size_t have = x.size();
  while (x.size() < rows * size_t(features)) x.insert(x.end(), x.begin(), x.begin() + ptrdiff_t(std::min(have, rows * size_t(features) - x.size())));
  x.resize(rows * size_t(features));
  return x;
}

// Random centroids at the latent codes of K random rows (plus a little noise), so that every
// cluster wins some rows; the cluster-to-level map is shuffled so that it is not the identity.
void place_centroids(Model& m, const std::vector<float>& scaled, size_t rows, uint64_t seed) {
  const size_t d = size_t(m.latent_dims()), K = size_t(m.clusters);
  const size_t sample = std::min<size_t>(rows, 65536);
  std::vector<float> z(sample * d);
  kernels::cpu::mlp_forward(m.autoencoder, m.autoencoder_params.data(), scaled.data(), sample,
                            z.data(), m.latent_layer);
  std::mt19937_64 rng(seed * 2 + 12);
  std::vector<size_t> pick(sample);
  std::iota(pick.begin(), pick.end(), size_t(0));
  std::shuffle(pick.begin(), pick.end(), rng);
  std::normal_distribution<float> noise(0.0f, 0.05f);
  for (size_t j = 0; j < K; ++j)
    for (size_t k = 0; k < d; ++k) m.centroids[j * d + k] = z[pick[j] * d + k] + noise(rng);
  std::shuffle(m.cluster_level.begin(), m.cluster_level.end(), rng);
}

struct RatedRows {
  std::vector<float> z, q, logits;
  std::vector<int32_t> cluster_level, level;
};

// One pass over all rows in batches, as the rate command makes it; keep (optional) gets every output.
void rate_pass(const ModelOnBackend& on, const float* scaled, size_t rows, size_t batch,
               RatingBuffers& buf, RatedRows* keep) {
  const Model& m = on.model();
  const size_t d = size_t(m.latent_dims()), K = size_t(m.clusters), F = size_t(m.features());
  for (size_t first = 0; first < rows; first += batch) {
    const size_t n = std::min(batch, rows - first);
    rate_scaled(on, nullptr, scaled + first * F, n, buf, true);
    if (!keep) continue;
    std::copy_n(buf.z.begin(), n * d, keep->z.begin() + first * d);
    std::copy_n(buf.q.begin(), n * K, keep->q.begin() + first * K);
    std::copy_n(buf.logits.begin(), n * K, keep->logits.begin() + first * K);
    std::copy_n(buf.cluster_level.begin(), n, keep->cluster_level.begin() + first);
    std::copy_n(buf.level.begin(), n, keep->level.begin() + first);
  }
}

// Seconds per pass spent in each step of rate_scaled (called one by one, same order and buffers),
// and in the scaler transform that `resilinet rate` runs before it.
struct PartSeconds {
  double scaler = 0, encoder = 0, soft_assign = 0, cluster_level = 0, classifier = 0, level = 0;
};

PartSeconds time_parts_pass(const Model& m, const float* raw, size_t rows, size_t batch) {
  const size_t d = size_t(m.latent_dims()), K = size_t(m.clusters), F = size_t(m.features());
  std::vector<float> x(batch * F), z(batch * d), q(batch * K), logits(batch * K);
  std::vector<int32_t> cluster_level(batch), level(batch);
  PartSeconds s;
  for (size_t first = 0; first < rows; first += batch) {
    const size_t n = std::min(batch, rows - first);
    auto t = Clock::now();
    m.scaler.transform(raw + first * F, n, x.data());
    s.scaler += seconds_since(t);
    t = Clock::now();
    kernels::cpu::mlp_forward(m.autoencoder, m.autoencoder_params.data(), x.data(), n, z.data(),
                              m.latent_layer);
    s.encoder += seconds_since(t);
    t = Clock::now();
    kernels::cpu::soft_assign(z.data(), n, int(d), m.centroids.data(), int(K), float(m.alpha),
                              q.data());
    s.soft_assign += seconds_since(t);
    t = Clock::now();
    levels_from_q(m, q.data(), n, cluster_level.data());
    s.cluster_level += seconds_since(t);
    t = Clock::now();
    kernels::cpu::mlp_forward(m.classifier, m.classifier_params.data(), x.data(), n, logits.data());
    s.classifier += seconds_since(t);
    t = Clock::now();
    for (size_t r = 0; r < n; ++r) {
      const float* lr = logits.data() + r * K;
      level[r] = int32_t(std::max_element(lr, lr + K) - lr) + 1;
    }
    s.level += seconds_since(t);
  }
  return s;
}

nlohmann::json layer_files(const std::string& dir, const std::string& prefix,
                           const kernels::MlpLayout& layout, const std::vector<float>& params,
                           int last_layer) {
  nlohmann::json layers = nlohmann::json::array();
  for (int l = 0; l <= last_layer; ++l) {
    const kernels::LayerShape& s = layout.layers[l];
    const std::string w = prefix + "_w" + std::to_string(l) + ".npy";
    const std::string b = prefix + "_b" + std::to_string(l) + ".npy";
    write_npy(dir + "/" + w, params.data() + s.weight_offset, 4, "<f4", {size_t(s.out), size_t(s.in)});
    write_npy(dir + "/" + b, params.data() + s.bias_offset, 4, "<f4", {size_t(s.out)});
    nlohmann::json layer = {{"in", s.in}, {"out", s.out}, {"weight", w}, {"bias", b},
                            {"relu", s.act == kernels::Activation::relu}};
    if (!s.mask.empty()) {
      const std::string mask = prefix + "_mask" + std::to_string(l) + ".npy";
      write_npy(dir + "/" + mask, s.mask.data(), 1, "|u1", {size_t(s.out), size_t(s.in)});
      layer["mask"] = mask;
    }
    layers.push_back(layer);
  }
  return layers;
}

// Everything the peer needs (meta.json names the files) and this side's outputs on every row.
void export_for_peer(const std::string& dir, const Model& m, const std::vector<float>& scaled,
                     const Args& a) {
  const size_t d = size_t(m.latent_dims()), K = size_t(m.clusters), F = size_t(m.features());
  nlohmann::json meta = {
      {"rows", a.rows}, {"batch", a.batch}, {"features", F}, {"latent", d}, {"clusters", K},
      {"alpha", m.alpha}, {"seed", a.seed}, {"x", "x.npy"}, {"centroids", "centroids.npy"},
      {"cluster_to_level", "cluster_to_level.npy"},
      {"encoder", layer_files(dir, "encoder", m.autoencoder, m.autoencoder_params, m.latent_layer)},
      {"classifier", layer_files(dir, "classifier", m.classifier, m.classifier_params,
                                 int(m.classifier.layers.size()) - 1)},
      {"outputs", {{"z", "cpp_z.npy"}, {"q", "cpp_q.npy"}, {"logits", "cpp_logits.npy"},
                   {"cluster_level", "cpp_cluster_level.npy"}, {"level", "cpp_level.npy"}}}};
  write_npy(dir + "/x.npy", scaled.data(), 4, "<f4", {a.rows, F});
  write_npy(dir + "/centroids.npy", m.centroids.data(), 4, "<f4", {K, d});
  write_npy(dir + "/cluster_to_level.npy", m.cluster_level.data(), 4, "<i4", {K});

  RatedRows out;
  out.z.resize(a.rows * d);
  out.q.resize(a.rows * K);
  out.logits.resize(a.rows * K);
  out.cluster_level.resize(a.rows);
  out.level.resize(a.rows);
  RatingBuffers buf;
  const ModelOnBackend on(m, kernels::cpu::host_backend());
  rate_pass(on, scaled.data(), a.rows, a.batch, buf, &out);
  write_npy(dir + "/cpp_z.npy", out.z.data(), 4, "<f4", {a.rows, d});
  write_npy(dir + "/cpp_q.npy", out.q.data(), 4, "<f4", {a.rows, K});
  write_npy(dir + "/cpp_logits.npy", out.logits.data(), 4, "<f4", {a.rows, K});
  write_npy(dir + "/cpp_cluster_level.npy", out.cluster_level.data(), 4, "<i4", {a.rows});
  write_npy(dir + "/cpp_level.npy", out.level.data(), 4, "<i4", {a.rows});
  std::ofstream(dir + "/meta.json") << meta.dump(1) << "\n";
}

// Multiply-adds per row of the pass's products: the encoder to z and the head, counting only the
// connections a grouped layer has (the soft assignment's 2 x K x d are left out). Dense-equivalent:
// the products with inputs that are zero in a whole block of rows, which the pass skips, count
// too, so GFLOP/s from this can pass the FMA peak.
double multiply_adds_per_row(const Model& m) {
  double n = 0;
  auto add = [&](const kernels::MlpLayout& layout, int last) {
    for (int l = 0; l <= last; ++l) {
      const kernels::LayerShape& s = layout.layers[l];
      n += s.mask.empty() ? double(s.in) * s.out : double(std::count(s.mask.begin(), s.mask.end(), 1));
    }
  };
  add(m.autoencoder, m.latent_layer);
  add(m.classifier, int(m.classifier.layers.size()) - 1);
  return n;
}


// The measured fp32 FMA peak of `threads` threads in GFLOP/s (best of 5 runs), and its lanes; 0
// where the CPU has no AVX2.
std::pair<double, int> fma_peak(int threads) {
#if defined(__x86_64__)
  const bool avx512 = __builtin_cpu_supports("avx512f");
  if (!avx512 && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) return {0, 0};
  const int lanes = avx512 ? 16 : 8;
  constexpr int64_t kIterations = int64_t(1) << 22;
  double best = 0;
  for (int run = 0; run < 5; ++run) {
    float sink = 0;
    const auto start = Clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    sink += avx512 ? bench::fma_chains_16(kIterations) : bench::fma_chains_8(kIterations);
    const double s = seconds_since(start);
    if (sink == 12345.0f) std::printf(" ");  // keeps the chains
    best = std::max(best, double(threads) * kIterations * 12 * lanes * 2 / s / 1e9);
  }
  return {best, lanes};
#else
  (void)threads;
  return {0, 0};
#endif
}

}  // namespace

int main(int argc, char** argv) try {
  const Args a = parse_args(argc, argv);
  omp_set_num_threads(a.threads);
  const bool trained = !a.checkpoint.empty();
  Model model = trained ? trained_model(a.checkpoint) : make_model(a.seed);
  const std::vector<float> raw =
      trained ? data_rows(a.data, a.rows, model.features()) : make_rows(a.rows, model.features(), a.seed);
  std::vector<float> scaled(raw.size());
  model.scaler.transform(raw.data(), a.rows, scaled.data());
  if (!trained) place_centroids(model, scaled, a.rows, a.seed);

  if (!a.export_dir.empty()) export_for_peer(a.export_dir, model, scaled, a);

  RatingBuffers buf;
  const ModelOnBackend on(model, kernels::cpu::host_backend());
  std::vector<double> pass_seconds;
  for (int r = 0; r <= a.repeats; ++r) {  // the first pass is a warm-up
    const auto start = Clock::now();
    rate_pass(on, scaled.data(), a.rows, a.batch, buf, nullptr);
    if (r) pass_seconds.push_back(seconds_since(start));
  }
  const double seconds = median(pass_seconds);

  std::vector<PartSeconds> parts;
  for (int r = 0; r <= a.repeats; ++r) {
    PartSeconds p = time_parts_pass(model, raw.data(), a.rows, a.batch);
    if (r) parts.push_back(p);
  }
  auto part_median = [&](double PartSeconds::*field) {
    std::vector<double> v;
    for (const PartSeconds& p : parts) v.push_back(p.*field);
    return median(v);
  };
  const auto [peak_gflop_s, peak_lanes] = fma_peak(a.threads);
  const double gflop_s = 2 * multiply_adds_per_row(model) * double(a.rows) / seconds / 1e9;
  const char* isa = std::getenv("RESILINET_CPU_ISA");
  nlohmann::json j = {
      {"impl", "resilinet"},
      {"model", trained ? a.checkpoint : "default, as initialised"},
      {"threads", omp_get_max_threads()},
      {"isa", isa ? isa : "auto"},
      {"rows", a.rows},
      {"batch", a.batch},
      {"repeats", a.repeats},
      {"median_s", seconds},
      {"pass_s", pass_seconds},
      {"cells_per_s", double(a.rows) / seconds},
      {"best_pass_cells_per_s", double(a.rows) / *std::min_element(pass_seconds.begin(), pass_seconds.end())},
      {"multiply_adds_per_row", multiply_adds_per_row(model)},
      {"gflop_s", gflop_s},
      {"fma_peak_gflop_s", peak_gflop_s},
      {"fma_peak_lanes", peak_lanes},
      {"share_of_fma_peak", peak_gflop_s > 0 ? gflop_s / peak_gflop_s : 0.0},
      {"parts_s", {{"encoder_mlp_forward", part_median(&PartSeconds::encoder)},
                   {"soft_assign", part_median(&PartSeconds::soft_assign)},
                   {"levels_from_q", part_median(&PartSeconds::cluster_level)},
                   {"classifier_mlp_forward", part_median(&PartSeconds::classifier)},
                   {"classifier_argmax", part_median(&PartSeconds::level)},
                   {"scaler_transform_not_timed_above", part_median(&PartSeconds::scaler)}}}};
  std::printf("%s\n", j.dump().c_str());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "rating_bench: %s\n", e.what());
  return 1;
}
