// LRP throughput: times cpu::lrp with the default composite (z^B on the input layer, gamma 0.25 in
// the middle, epsilon 1e-6 on top) on the F -> 64 -> 32 -> 5 head, and cpu::gradient_x_input;
// warm-up, then the median of repeats; prints one JSON line. A plain timing program, not a test;
// the comparison with PyTorch on the same files is made by bench/run_lrp_peer.sh.
//
//   lrp_bench --dir DIR [--threads 2] [--repeats 7] [--write-relevance PATH]
//       DIR holds meta.json, params.f32 and x.f32 as written by peer_torch_lrp.py make-data
//   lrp_bench [--rows 65536] [--features 12] ...   (a random network and rows generated here)
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/lrp.hpp"

namespace {

using namespace resilinet::kernels;

struct Args {
  std::string dir, write_relevance;
  size_t rows = 65536;
  int features = 12;
  int threads = 2;
  int repeats = 7;
};

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (i + 1 >= argc) throw std::invalid_argument(k + " needs a value");
    const std::string v = argv[++i];
    if (k == "--dir")
      a.dir = v;
    else if (k == "--write-relevance")
      a.write_relevance = v;
    else if (k == "--rows")
      a.rows = std::stoul(v);
    else if (k == "--features")
      a.features = std::stoi(v);
    else if (k == "--threads")
      a.threads = std::stoi(v);
    else if (k == "--repeats")
      a.repeats = std::stoi(v);
    else
      throw std::invalid_argument("unknown option " + k);
  }
  return a;
}

std::vector<float> read_floats(const std::string& path, size_t count) {
  std::ifstream in(path, std::ios::binary);
  std::vector<float> v(count);
  if (!in.read(reinterpret_cast<char*>(v.data()), std::streamsize(count * sizeof(float))))
    throw std::runtime_error("cannot read " + std::to_string(count) + " floats from " + path);
  return v;
}

struct Timing {
  double wall_s = 0, cpu_s = 0;  // medians; cpu = process CPU time, all threads
};

template <class F>
Timing median_timing(int repeats, F&& run) {
  std::vector<double> wall, cpu;
  for (int r = 0; r <= repeats; ++r) {  // the first run is a warm-up
    const auto start = std::chrono::steady_clock::now();
    const std::clock_t cpu_start = std::clock();
    run();
    const double c = double(std::clock() - cpu_start) / CLOCKS_PER_SEC;
    const std::chrono::duration<double> w = std::chrono::steady_clock::now() - start;
    if (r) {
      wall.push_back(w.count());
      cpu.push_back(c);
    }
  }
  std::sort(wall.begin(), wall.end());
  std::sort(cpu.begin(), cpu.end());
  return {wall[wall.size() / 2], cpu[cpu.size() / 2]};
}

}  // namespace

int main(int argc, char** argv) try {
  Args a = parse_args(argc, argv);
  float low = 0.0f, high = 1.0f;
  if (!a.dir.empty()) {
    std::ifstream meta_file(a.dir + "/meta.json");
    if (!meta_file) throw std::runtime_error("cannot open " + a.dir + "/meta.json");
    nlohmann::json meta = nlohmann::json::parse(meta_file);
    a.rows = meta.at("rows").get<size_t>();
    a.features = meta.at("features").get<int>();
    low = meta.at("low").get<float>();
    high = meta.at("high").get<float>();
  }
  const MlpLayout layout = MlpLayout::build(
      a.features,
      {{64, Activation::relu, {}}, {32, Activation::relu, {}}, {5, Activation::linear, {}}});
  std::vector<float> params, x;
  if (!a.dir.empty()) {
    params = read_floats(a.dir + "/params.f32", layout.param_count);
    x = read_floats(a.dir + "/x.f32", a.rows * size_t(a.features));
  } else {
    params.resize(layout.param_count);
    init_params(layout, 1, params.data());
    std::mt19937_64 rng(2);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    x.resize(a.rows * size_t(a.features));
    for (auto& v : x) v = u(rng);
  }
  omp_set_num_threads(a.threads);
  const LrpComposite composite = default_lrp_composite(layout, {low}, {high});
  std::vector<float> relevance(x.size()), gxi(x.size());
  const Timing lrp_t = median_timing(a.repeats, [&] {
    cpu::lrp(layout, params.data(), composite, x.data(), a.rows, nullptr, relevance.data());
  });
  const Timing gxi_t = median_timing(a.repeats, [&] {
    cpu::gradient_x_input(layout, params.data(), x.data(), a.rows, nullptr, gxi.data());
  });
  if (!a.write_relevance.empty()) {
    std::ofstream out(a.write_relevance, std::ios::binary);
    out.write(reinterpret_cast<const char*>(relevance.data()),
              std::streamsize(relevance.size() * sizeof(float)));
  }
  nlohmann::json j = {{"impl", "resilinet"},
                      {"isa", cpu::lrp_instruction_set()},
                      {"rows", a.rows},
                      {"features", a.features},
                      {"threads", a.threads},
                      {"repeats", a.repeats},
                      {"median_s", lrp_t.wall_s},
                      {"cpu_median_s", lrp_t.cpu_s},
                      {"cells_per_s", double(a.rows) / lrp_t.wall_s},
                      {"gradient_x_input_median_s", gxi_t.wall_s},
                      {"gradient_x_input_cells_per_s", double(a.rows) / gxi_t.wall_s}};
  std::printf("%s\n", j.dump().c_str());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "lrp_bench: %s\n", e.what());
  return 1;
}
