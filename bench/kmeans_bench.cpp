// k-means throughput: times cpu::kmeans (k-means++ seeding, Lloyd, restarts) and one assignment
// pass on a float32 matrix read from a .npy file (or generated blobs), warm-up then the median of
// repeats, and prints one JSON line. A plain timing program, not a test; the comparison with
// scikit-learn on the same file is made by bench/run_kmeans_peer.sh.
//
//   kmeans_bench --data X.npy [--clusters 5] [--restarts 4] [--max-iterations 100]
//                [--tolerance 1e-6] [--seed 0] [--repeats 5]
//   kmeans_bench --rows 1000000 --dims 8 ...   (Gaussian blobs generated here instead of a file)
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/ops.hpp"

namespace {

using namespace resilinet::kernels;

struct Args {
  std::string data;
  size_t rows = 1000000;
  int dims = 8;
  int repeats = 5;
  cpu::KMeansOptions options;
};

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(k + " needs a value");
      return argv[++i];
    };
    if (k == "--data") a.data = value();
    else if (k == "--rows") a.rows = std::stoull(value());
    else if (k == "--dims") a.dims = std::stoi(value());
    else if (k == "--repeats") a.repeats = std::stoi(value());
    else if (k == "--clusters") a.options.clusters = std::stoi(value());
    else if (k == "--restarts") a.options.restarts = std::stoi(value());
    else if (k == "--max-iterations") a.options.max_iterations = std::stoi(value());
    else if (k == "--tolerance") a.options.tolerance = std::stod(value());
    else if (k == "--seed") a.options.seed = std::stoull(value());
    else throw std::invalid_argument("unknown argument " + k);
  }
  return a;
}

// Reads a C-order little-endian float32 2-D .npy file (format versions 1 to 3).
std::vector<float> read_npy(const std::string& path, size_t& rows, int& dims) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  char magic[8];
  in.read(magic, 8);
  if (!in || std::memcmp(magic, "\x93NUMPY", 6) != 0) throw std::runtime_error(path + ": not .npy");
  size_t header_bytes = 0;
  if (magic[6] == 1) {
    unsigned char b[2];
    in.read(reinterpret_cast<char*>(b), 2);
    header_bytes = b[0] | (size_t(b[1]) << 8);
  } else {
    unsigned char b[4];
    in.read(reinterpret_cast<char*>(b), 4);
    header_bytes = b[0] | (size_t(b[1]) << 8) | (size_t(b[2]) << 16) | (size_t(b[3]) << 24);
  }
  std::string header(header_bytes, '\0');
  in.read(header.data(), std::streamsize(header_bytes));
  if (header.find("'descr': '<f4'") == std::string::npos ||
      header.find("'fortran_order': False") == std::string::npos)
    throw std::runtime_error(path + ": expected C-order float32, header " + header);
  const size_t open = header.find("'shape': (");
  if (open == std::string::npos) throw std::runtime_error(path + ": no shape in header");
  size_t pos = open + 10;
  rows = std::stoull(header.substr(pos), &pos, 10);
  pos = header.find(',', open + 10) + 1;
  dims = std::stoi(header.substr(pos));
  std::vector<float> x(rows * size_t(dims));
  in.read(reinterpret_cast<char*>(x.data()), std::streamsize(x.size() * sizeof(float)));
  if (!in) throw std::runtime_error(path + ": file shorter than its shape");
  return x;
}

std::vector<float> make_blobs(size_t rows, int dims, int centers, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> place(-5.0, 5.0);
  std::normal_distribution<double> noise(0.0, 1.5);
  std::vector<double> c(size_t(centers) * dims);
  for (auto& v : c) v = place(rng);
  std::vector<float> x(rows * dims);
  for (size_t i = 0; i < rows; ++i)
    for (int k = 0; k < dims; ++k) x[i * dims + k] = float(c[(i % centers) * dims + k] + noise(rng));
  return x;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

}  // namespace

int main(int argc, char** argv) try {
  Args a = parse_args(argc, argv);
  std::vector<float> x = a.data.empty() ? make_blobs(a.rows, a.dims, a.options.clusters, 0)
                                        : read_npy(a.data, a.rows, a.dims);
  const int clusters = a.options.clusters;

  // One assignment pass (the per-iteration cost), then the whole k-means; the first call of each
  // is a warm-up (page faults, thread start) and is not counted.
  std::vector<int32_t> labels(a.rows);
  std::vector<double> sums(size_t(clusters) * a.dims);
  std::vector<int64_t> counts(clusters);
  std::vector<float> centroids(x.begin(), x.begin() + size_t(clusters) * a.dims);
  std::vector<double> assign_seconds;
  for (int r = 0; r <= a.repeats; ++r) {
    std::fill(sums.begin(), sums.end(), 0.0);
    std::fill(counts.begin(), counts.end(), 0);
    const auto start = std::chrono::steady_clock::now();
    cpu::kmeans_assign(x.data(), a.rows, a.dims, centroids.data(), clusters, labels.data(),
                       sums.data(), counts.data());
    if (r > 0) assign_seconds.push_back(seconds_since(start));
  }

  std::vector<double> kmeans_seconds;
  cpu::KMeansResult result;
  for (int r = 0; r <= a.repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    result = cpu::kmeans(x.data(), a.rows, a.dims, a.options);
    const double s = seconds_since(start);
    if (r > 0) kmeans_seconds.push_back(s);
    std::fprintf(stderr, "kmeans_bench: %s %.4f s inertia %.6e iterations %d\n",
                 r ? "run" : "warm-up", s, result.inertia, result.iterations);
  }
  std::printf(
      "{\"impl\": \"resilinet\", \"rows\": %zu, \"dims\": %d, \"clusters\": %d, \"restarts\": %d, "
      "\"threads\": %d, \"repeats\": %d, \"median_s\": %.6f, \"min_s\": %.6f, \"inertia\": %.10e, "
      "\"iterations\": %d, \"assign_pass_median_s\": %.6f, \"centroids\": [",
      a.rows, a.dims, clusters, a.options.restarts, omp_get_max_threads(), a.repeats,
      median(kmeans_seconds), *std::min_element(kmeans_seconds.begin(), kmeans_seconds.end()),
      result.inertia, result.iterations, median(assign_seconds));
  for (size_t v = 0; v < result.centroids.size(); ++v)
    std::printf("%s%.9g", v ? ", " : "", result.centroids[v]);
  std::printf("]}\n");
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "kmeans_bench: %s\n", e.what());
  return 1;
}
