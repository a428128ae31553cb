// GPU throughput of the three hot paths of the default model, called straight through the
// kernels::cuda API: (i) one autoencoder training step (fused forward + backward with the masked mse,
// then Adam) on a batch of 65,536 rows, (ii) the rating pass over 10^6 rows as `rate` runs it in the
// completed clustering space, (iii) LRP with the default composite over 10^6 rows of the classifier
// head. Times with CUDA events (warm-up, then the median of repeats) and prints one JSON line per
// workload, plus one for the device and its peak numbers; bench/peer_torch_gpu.py prints the same
// shape for PyTorch. Each workload is also checked once against the CPU kernels on the first rows.
// A plain timing program, not a test; scripts/gpu-check.sh runs it beside the peer.
//
//   gpu_bench [--train-rows 65536] [--rate-rows 1000000] [--lrp-rows 1000000] [--repeats 20]
//             [--warmup 3] [--check-rows 4096] [--seed 0]
#include <cstdio>

#if RESILINET_HAVE_CUDA

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "datasets/synth.hpp"
#include "kernels/cuda/cuda_ops.hpp"
#include "kernels/lrp.hpp"
#include "kernels/ops.hpp"
#include "trainer/model/config.hpp"
#include "trainer/model/model.hpp"

namespace {

using namespace resilinet;
namespace kc = resilinet::kernels::cuda;
namespace cpu = resilinet::kernels::cpu;
using kernels::MlpLayout;
using nlohmann::json;

// The robust scaler's output range with the default clip of 0.2: the zbox bounds and the clamp of
// scale_rows.
constexpr float kScaledLow = -0.2f;
constexpr float kScaledHigh = 1.2f;
constexpr double kMissingShare = 0.1;  // share of feature values that are NaN in the raw rows

struct Args {
  size_t train_rows = 65536, rate_rows = 1'000'000, lrp_rows = 1'000'000, check_rows = 4096;
  int repeats = 20, warmup = 3;
  uint64_t seed = 0;
};

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "--help" || k == "-h") {
      std::printf("gpu_bench [--train-rows N] [--rate-rows N] [--lrp-rows N] [--repeats N] [--warmup N]"
                  " [--check-rows N] [--seed N]\n");
      std::exit(0);
    }
    if (i + 1 >= argc) throw std::invalid_argument(k + " needs a value");
    const std::string v = argv[++i];
    if (k == "--train-rows") a.train_rows = std::stoul(v);
    else if (k == "--rate-rows") a.rate_rows = std::stoul(v);
    else if (k == "--lrp-rows") a.lrp_rows = std::stoul(v);
    else if (k == "--check-rows") a.check_rows = std::stoul(v);
    else if (k == "--repeats") a.repeats = std::stoi(v);
    else if (k == "--warmup") a.warmup = std::stoi(v);
    else if (k == "--seed") a.seed = std::stoull(v);
    else throw std::invalid_argument("unknown option " + k);
  }
  if (a.train_rows == 0 || a.rate_rows == 0 || a.lrp_rows == 0 || a.repeats < 1 || a.warmup < 0)
    throw std::invalid_argument("rows and --repeats must be positive, --warmup >= 0");
  return a;
}

// ---- Device memory and timing ----

template <class T>
kc::DeviceArray<T> to_device(const std::vector<T>& host) {
  kc::DeviceArray<T> d(host.size());
  kc::check(cudaMemcpy(d.data(), host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice), "upload");
  return d;
}

template <class T>
std::vector<T> to_host(const T* device, size_t n) {
  std::vector<T> host(n);
  kc::check(cudaMemcpy(host.data(), device, n * sizeof(T), cudaMemcpyDeviceToHost), "download");
  return host;
}

struct Timing {
  double median_ms = 0, min_ms = 0;
  int repeats = 0;
};

// warmup untimed calls, then each of `repeats` calls timed alone between two events on the stream.
template <class F>
Timing time_on_stream(cudaStream_t stream, int warmup, int repeats, F&& run) {
  for (int i = 0; i < warmup; ++i) run();
  kc::check(cudaStreamSynchronize(stream), "warm-up");
  cudaEvent_t start, stop;
  kc::check(cudaEventCreate(&start), "cudaEventCreate");
  kc::check(cudaEventCreate(&stop), "cudaEventCreate");
  std::vector<double> ms;
  for (int r = 0; r < repeats; ++r) {
    kc::check(cudaEventRecord(start, stream), "cudaEventRecord");
    run();
    kc::check(cudaEventRecord(stop, stream), "cudaEventRecord");
    kc::check(cudaEventSynchronize(stop), "timed run");
    float t = 0;
    kc::check(cudaEventElapsedTime(&t, start, stop), "cudaEventElapsedTime");
    ms.push_back(t);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  kc::check(cudaGetLastError(), "timed kernels");
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms.front(), repeats};
}

// ---- Work counts ----

// Multiply-adds per row of layers [first, last) of a layout, every weight counted (a grouped layer
// counts as dense: its masked-out weights are zero, and a dense kernel computes them).
double dense_macs(const MlpLayout& layout, size_t first = 0, size_t count = SIZE_MAX) {
  double macs = 0;
  size_t l = 0;
  for (const auto& layer : layout.layers) {
    if (l >= first && l - first < count) macs += double(layer.in) * layer.out;
    ++l;
  }
  return macs;
}

json workload_line(const std::string& name, size_t rows, const Timing& t, double flops_per_row,
                   double bytes_per_row, const std::string& flop_rule) {
  const double s = t.median_ms * 1e-3;
  return {{"bench", "gpu"},
          {"impl", "resilinet_cuda"},
          {"workload", name},
          {"rows", rows},
          {"repeats", t.repeats},
          {"ms", t.median_ms},
          {"ms_min", t.min_ms},
          {"rows_per_s", double(rows) / s},
          {"gflops", flops_per_row * double(rows) / s * 1e-9},
          {"gbps", bytes_per_row * double(rows) / s * 1e-9},
          {"flops_per_row", flops_per_row},
          {"bytes_per_row", bytes_per_row},
          {"flop_rule", flop_rule}};
}

// Largest |a - b| and largest |b| (the CPU side), for the one-off checks against the CPU kernels:
// ok when every value is finite and the largest difference is within rel_tolerance of the largest
// CPU value.
json compare(const std::vector<float>& gpu, const std::vector<float>& ref, double rel_tolerance) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < gpu.size(); ++i) {
    diff = std::max(diff, double(std::fabs(gpu[i] - ref[i])));
    scale = std::max(scale, double(std::fabs(ref[i])));
  }
  const bool finite = std::all_of(gpu.begin(), gpu.end(), [](float v) { return std::isfinite(v); });
  return {{"max_abs_diff", diff}, {"max_abs_cpu", scale}, {"rel_tolerance", rel_tolerance},
          {"ok", finite && diff <= rel_tolerance * scale}};
}

// ---- The device and its peaks ----

int attribute(cudaDeviceAttr what, int device) {
  int v = 0;
  if (cudaDeviceGetAttribute(&v, what, device) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return v;
}

// FP32 lanes per SM by compute capability (CUDA programming guide, arithmetic throughput table).
int fp32_lanes_per_sm(int major, int minor) {
  if (major == 8 && minor == 0) return 64;  // A100
  if (major >= 8) return 128;               // 8.6, 8.9, 9.0 (H100/H200), 10.x, 12.x
  if (major == 7) return 64;
  return 128;
}

json device_line() {
  int device = 0;
  kc::check(cudaGetDevice(&device), "cudaGetDevice");
  cudaDeviceProp prop{};
  kc::check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
  const int sms = attribute(cudaDevAttrMultiProcessorCount, device);
  const int clock_khz = attribute(cudaDevAttrClockRate, device);
  const int mem_clock_khz = attribute(cudaDevAttrMemoryClockRate, device);
  const int bus_bits = attribute(cudaDevAttrGlobalMemoryBusWidth, device);
  const int major = attribute(cudaDevAttrComputeCapabilityMajor, device);
  const int minor = attribute(cudaDevAttrComputeCapabilityMinor, device);
  const int lanes = fp32_lanes_per_sm(major, minor);
  int runtime = 0, driver = 0;
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);
  // Peak FP32: one fused multiply-add (2 flops) per lane per clock. Memory: double data rate.
  const double fp32_peak = double(sms) * lanes * 2.0 * clock_khz * 1e3 * 1e-9;
  const double mem_peak = double(mem_clock_khz) * 1e3 * (bus_bits / 8.0) * 2.0 * 1e-9;
  return {{"bench", "gpu"},
          {"impl", "resilinet_cuda"},
          {"workload", "device"},
          {"name", prop.name},
          {"compute_capability", std::to_string(major) + "." + std::to_string(minor)},
          {"sms", sms},
          {"clock_mhz", clock_khz / 1000.0},
          {"fp32_lanes_per_sm", lanes},
          {"fp32_peak_gflops", fp32_peak},
          {"mem_clock_mhz", mem_clock_khz / 1000.0},
          {"bus_bits", bus_bits},
          {"mem_peak_gbps", mem_peak},
          {"memory_gib", double(prop.totalGlobalMem) / double(1ull << 30)},
          {"cuda_runtime", runtime},
          {"cuda_driver", driver}};
}

// ---- Rows ----

// Raw rows uniform in [0, 1) with kMissingShare of the values NaN (missing).
std::vector<float> raw_rows(size_t rows, int features, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> x(rows * size_t(features));
  for (auto& v : x) v = u(rng) < kMissingShare ? NAN : u(rng);
  return x;
}

// What scale_rows computes, on the host (median 0.5, offset 0, scale 1).
std::vector<float> scale_on_host(const std::vector<float>& raw) {
  std::vector<float> out(raw.size());
  for (size_t i = 0; i < raw.size(); ++i)
    out[i] = std::clamp(std::isnan(raw[i]) ? 0.5f : raw[i], kScaledLow, kScaledHigh);
  return out;
}

// ---- (i) Autoencoder training step ----

json bench_train_step(const Model& model, const Args& a, cudaStream_t stream) {
  const MlpLayout& ae = model.autoencoder;
  const int F = model.features();
  const size_t rows = a.train_rows, P = ae.param_count;
  const std::vector<float> raw = raw_rows(rows, F, a.seed + 1);
  std::vector<uint8_t> observed(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) observed[i] = std::isnan(raw[i]) ? 0 : 1;
  const std::vector<float> x = scale_on_host(raw);  // input and target: missing values imputed

  kc::DeviceMlp net(ae);
  kc::Workspace ws;
  auto d_x = to_device(x);
  auto d_observed = to_device(observed);
  auto d_params = to_device(model.autoencoder_params);
  auto d_m = to_device(std::vector<float>(P, 0.0f));
  auto d_v = to_device(std::vector<float>(P, 0.0f));
  kc::DeviceArray<float> d_grads(P);
  kc::DeviceArray<double> d_loss(1);
  kernels::LossSpec loss;
  loss.kind = kernels::LossKind::mse;
  loss.target = d_x.data();
  loss.observed = d_observed.data();
  const cpu::AdamConfig adam{};  // lr 1e-3, as pretrain.optimizer

  // Check: the gradients of the first check_rows rows against the CPU kernel, at the initial
  // parameters (before any step).
  json check;
  const size_t n = std::min(a.check_rows, rows);
  if (n) {
    kc::mlp_forward_backward(net, d_params.data(), d_x.data(), n, loss, nullptr, d_grads.data(),
                             d_loss.data(), ws, stream);
    kc::check(cudaStreamSynchronize(stream), "check step");
    std::vector<float> gpu_grads = to_host(d_grads.data(), P), cpu_grads(P);
    kernels::LossSpec host_loss = loss;
    host_loss.target = x.data();
    host_loss.observed = observed.data();
    const double cpu_loss = cpu::mlp_forward_backward(ae, model.autoencoder_params.data(), x.data(), n,
                                                      host_loss, nullptr, cpu_grads.data());
    const double gpu_loss = to_host(d_loss.data(), 1)[0];
    check = compare(gpu_grads, cpu_grads, 1e-3);
    check["rows"] = n;
    check["what"] = "gradients";
    check["loss_gpu"] = gpu_loss;
    check["loss_cpu"] = cpu_loss;
  }

  int64_t step = 0;
  const Timing t = time_on_stream(stream, a.warmup, a.repeats, [&] {
    kc::mlp_forward_backward(net, d_params.data(), d_x.data(), rows, loss, nullptr, d_grads.data(),
                             d_loss.data(), ws, stream);
    kc::adam_step(d_params.data(), d_grads.data(), d_m.data(), d_v.data(), P, adam, ++step, stream);
  });
  // Forward 2 flops per weight, backward twice that. Bytes: x read as input and as target, the
  // observed mask, then per step the parameters, gradients and Adam moments (7 x P floats, spread
  // over the batch).
  const double flops = 3.0 * 2.0 * dense_macs(ae);
  const double bytes = 2.0 * F * sizeof(float) + F * sizeof(uint8_t) +
                       (2.0 + 7.0) * double(P) * sizeof(float) / double(rows);
  json j = workload_line("train_step", rows, t, flops, bytes,
                         "3 x 2 x in x out per layer per row (forward + backward), grouped layer as dense");
  j["params"] = P;
  j["layers"] = ae.layers.size();
  if (!check.is_null()) j["check"] = check;
  return j;
}

// ---- (ii) Rating pass in the completed space ----

json bench_rating(const Model& model, const Args& a, cudaStream_t stream) {
  const int F = model.features(), d = model.latent_dims(), K = model.clusters;
  const size_t rows = a.rate_rows;
  const MlpLayout decoder_layout = model.decoder();
  kc::DeviceMlp encoder(model.autoencoder), decoder(decoder_layout), head(model.classifier);
  const std::vector<float> raw = raw_rows(rows, F, a.seed + 2);
  std::vector<float> centroids(size_t(K) * F);
  std::mt19937_64 rng(a.seed + 3);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (auto& c : centroids) c = u(rng);

  auto d_raw = to_device(raw);
  auto d_median = to_device(std::vector<float>(F, 0.5f));
  auto d_offset = to_device(std::vector<float>(F, 0.0f));
  auto d_inv_scale = to_device(std::vector<float>(F, 1.0f));
  auto d_ae = to_device(model.autoencoder_params);
  auto d_head = to_device(model.classifier_params);
  auto d_centroids = to_device(centroids);
  kc::DeviceArray<float> d_scaled(rows * F), d_z(rows * d), d_recon(rows * F), d_q(rows * K),
      d_logits(rows * K);

  // The kernel sequence of rate_scaled (trainer/model/model.cpp) in the completed space: scale, encoder to
  // z, decoder to the reconstruction, soft assignment, classifier head. Two host-side steps of
  // rate_scaled have no kernels::cuda op and are not timed: replacing the missing values of the
  // scaled row by the reconstruction (times cluster_scale) before q, and the arg-max levels.
  auto rate = [&] {
    kc::scale_rows(d_raw.data(), rows, F, d_median.data(), d_offset.data(), d_inv_scale.data(),
                   kScaledLow, kScaledHigh, d_scaled.data(), stream);
    kc::mlp_forward(encoder, d_ae.data(), d_scaled.data(), rows, d_z.data(), stream, model.latent_layer);
    kc::mlp_forward(decoder, d_ae.data(), d_z.data(), rows, d_recon.data(), stream);
    kc::soft_assign(d_recon.data(), rows, F, d_centroids.data(), K, float(model.alpha), d_q.data(), stream);
    kc::mlp_forward(head, d_head.data(), d_scaled.data(), rows, d_logits.data(), stream);
  };

  json check;
  const size_t n = std::min(a.check_rows, rows);
  if (n) {
    rate();
    kc::check(cudaStreamSynchronize(stream), "check rating");
    const std::vector<float> first_raw(raw.begin(), raw.begin() + n * F);
    const std::vector<float> scaled = scale_on_host(first_raw);
    std::vector<float> z(n * d), recon(n * F), q(n * K), logits(n * K);
    cpu::mlp_forward(model.autoencoder, model.autoencoder_params.data(), scaled.data(), n, z.data(),
                     model.latent_layer);
    cpu::mlp_forward(decoder_layout, model.autoencoder_params.data(), z.data(), n, recon.data());
    cpu::soft_assign(recon.data(), n, F, centroids.data(), K, float(model.alpha), q.data());
    cpu::mlp_forward(model.classifier, model.classifier_params.data(), scaled.data(), n, logits.data());
    check = {{"rows", n},
             {"scaled", compare(to_host(d_scaled.data(), n * F), scaled, 1e-6)},
             {"z", compare(to_host(d_z.data(), n * d), z, 1e-4)},
             {"reconstruction", compare(to_host(d_recon.data(), n * F), recon, 1e-4)},
             {"q", compare(to_host(d_q.data(), n * K), q, 1e-4)},
             {"logits", compare(to_host(d_logits.data(), n * K), logits, 1e-4)}};
    bool ok = true;
    for (const char* k : {"scaled", "z", "reconstruction", "q", "logits"}) ok = ok && check[k]["ok"].get<bool>();
    check["ok"] = ok;
  }

  const Timing t = time_on_stream(stream, a.warmup, a.repeats, rate);
  const size_t enc_layers = size_t(model.latent_layer) + 1;
  const double flops = 2.0 * (dense_macs(model.autoencoder, 0, enc_layers) + dense_macs(decoder_layout) +
                              dense_macs(model.classifier)) +
                       3.0 * K * F;  // soft assignment: difference, square, add per centroid dimension
  // Each op reads its input and writes its output through device memory.
  const double bytes = sizeof(float) * (2.0 * F       // scale: raw in, scaled out
                                        + F + d       // encoder
                                        + d + F       // decoder
                                        + F + K       // soft assignment
                                        + F + K);     // head
  json j = workload_line("rating", rows, t, flops, bytes,
                         "2 x in x out per layer per row (encoder to z, decoder, head) + 3 x K x F (q)");
  j["omitted"] = "completion of missing values from the reconstruction and the arg-max levels (no kernels::cuda op)";
  if (!check.is_null()) j["check"] = check;
  return j;
}

// ---- (iii) LRP with the default composite ----

json bench_lrp(const Model& model, const Args& a, cudaStream_t stream) {
  const int F = model.features();
  const size_t rows = a.lrp_rows;
  const MlpLayout& layout = model.classifier;
  const kernels::LrpComposite composite = kernels::default_lrp_composite(
      layout, std::vector<float>(F, kScaledLow), std::vector<float>(F, kScaledHigh));
  kc::DeviceMlp head(layout);
  kc::Workspace ws;
  const std::vector<float> x = scale_on_host(raw_rows(rows, F, a.seed + 4));
  auto d_x = to_device(x);
  auto d_params = to_device(model.classifier_params);
  kc::DeviceArray<float> d_relevance(rows * F);
  auto run = [&] {
    kc::lrp(head, d_params.data(), composite, d_x.data(), rows, nullptr, d_relevance.data(), nullptr, ws,
            stream);
  };

  json check;
  const size_t n = std::min(a.check_rows, rows);
  if (n) {
    run();
    kc::check(cudaStreamSynchronize(stream), "check lrp");
    std::vector<float> relevance(n * F);
    cpu::lrp(layout, model.classifier_params.data(), composite, x.data(), n, nullptr, relevance.data());
    check = compare(to_host(d_relevance.data(), n * F), relevance, 1e-3);
    check["rows"] = n;
    check["what"] = "relevance";
  }

  const Timing t = time_on_stream(stream, a.warmup, a.repeats, run);
  // Nominal count: the forward pass, then per layer and per term of its rule (kernels/lrp.hpp hooks)
  // one modified forward product and one transposed product.
  double flops = 2.0 * dense_macs(layout);
  for (size_t l = 0; l < layout.layers.size(); ++l) {
    const double terms = double(kernels::lrp_rule_terms(composite[l]).terms.size());
    flops += 2.0 * 2.0 * terms * double(layout.layers[l].in) * layout.layers[l].out;
  }
  const double bytes = 2.0 * F * sizeof(float);  // rows in, relevance out
  json j = workload_line("lrp", rows, t, flops, bytes,
                         "2 x in x out per layer (forward) + 4 x in x out x terms of the rule per layer");
  j["composite"] = "zbox [-0.2, 1.2] / gamma 0.25 / epsilon 1e-6";
  if (!check.is_null()) j["check"] = check;
  return j;
}

void print(const json& j) {
  std::printf("%s\n", j.dump().c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args a = parse_args(argc, argv);
    std::string why;
    if (!kc::device_available(&why)) {
      print({{"bench", "gpu"}, {"impl", "resilinet_cuda"}, {"workload", "device"}, {"error", "no CUDA device: " + why}});
      return 3;
    }
    const Model model = assemble_model(TrainConfig{}, default_schema());  // the default networks
    print(device_line());
    cudaStream_t stream;
    kc::check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
    using Bench = json (*)(const Model&, const Args&, cudaStream_t);
    const std::pair<const char*, Bench> benches[] = {
        {"train_step", bench_train_step}, {"rating", bench_rating}, {"lrp", bench_lrp}};
    int failures = 0;
    for (const auto& [name, bench] : benches) {
      try {  // a workload that fails is reported and the others still run
        const json j = bench(model, a, stream);
        if (j.contains("check") && !j["check"]["ok"].get<bool>()) ++failures;
        print(j);
      } catch (const std::exception& e) {
        ++failures;
        print({{"bench", "gpu"}, {"impl", "resilinet_cuda"}, {"workload", name}, {"error", e.what()}});
        cudaGetLastError();  // clear a sticky launch error's report so the next workload reports its own
      }
    }
    cudaStreamDestroy(stream);
    return failures ? 4 : 0;
  } catch (const std::exception& e) {
    std::printf("{\"bench\":\"gpu\",\"impl\":\"resilinet_cuda\",\"error\":%s}\n", nlohmann::json(e.what()).dump().c_str());
    std::fprintf(stderr, "gpu_bench: %s\n", e.what());
    return 1;
  }
}

#else  // !RESILINET_HAVE_CUDA

int main() {
  std::printf("gpu_bench: built without CUDA (configure with -DRESILINET_CUDA=ON)\n");
  return 0;
}

#endif
