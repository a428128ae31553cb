// Loader throughput: times whole shuffled epochs of a dataset read in batches and prints rows/s and
// GB/s (file bytes and delivered column bytes). A plain timing program, not a test; the comparison
// with `cat` on the same files is made by bench/run_loader_bench.sh.
//
//   loader_bench --data DIR [--batch 1024] [--slab 65536] [--repeats 5] [--no-shuffle]
//   loader_bench --write DIR --rows N [--shards 4] [--features 12]   (uncompressed test shards)
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "datasets/loader.hpp"
#include "datasets/shard.hpp"
#include "datasets/shard_set.hpp"

namespace {

using namespace resilinet;

struct Args {
  std::string data, write;
  size_t rows = 0, shards = 4, features = 12, batch = 1024, slab = 65536, repeats = 5;
  bool shuffle = true;
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
    else if (k == "--write") a.write = value();
    else if (k == "--rows") a.rows = std::stoull(value());
    else if (k == "--shards") a.shards = std::stoull(value());
    else if (k == "--features") a.features = std::stoull(value());
    else if (k == "--batch") a.batch = std::stoull(value());
    else if (k == "--slab") a.slab = std::stoull(value());
    else if (k == "--repeats") a.repeats = std::stoull(value());
    else if (k == "--no-shuffle") a.shuffle = false;
    else throw std::invalid_argument("unknown argument " + k);
  }
  if (a.data.empty() == a.write.empty()) throw std::invalid_argument("give --data DIR or --write DIR");
  return a;
}

// Shards of plausible values (no compression) for when `resilinet synth` is not at hand.
void write_shards(const Args& a) {
  std::filesystem::create_directories(a.write);
  Schema schema;
  const char* systems[] = {"facility", "infrastructure", "society"};
  const char* components[] = {"robustness", "redundancy", "resourcefulness"};
  for (size_t j = 0; j < a.features; ++j)
    schema.features.push_back({"f" + std::to_string(j), systems[j % 3], components[j % 3], 1, "1"});
  const size_t block = 65536;
  uint64_t state = 12345;
  for (size_t s = 0; s < a.shards; ++s) {
    const size_t rows = a.rows / a.shards + (s < a.rows % a.shards ? 1 : 0);
    ShardWriterOptions opt;
    opt.has_hazard = true;
    opt.has_planted_level = true;
    char name[32];
    std::snprintf(name, sizeof name, "part-%04zu.h5", s);
    ShardWriter writer((std::filesystem::path(a.write) / name).string(), schema, {"region"}, opt);
    for (size_t first = 0; first < rows; first += block) {
      const size_t n = std::min(block, rows - first);
      ShardColumns c;
      c.rows = n;
      for (size_t i = 0; i < n; ++i) {
        for (size_t j = 0; j < a.features; ++j) {
          state = state * 6364136223846793005ull + 1442695040888963407ull;
          c.features.push_back(static_cast<float>(state >> 40) * 0x1p-24f);
        }
        c.cell_id.push_back(static_cast<int64_t>(s * 1000000000ull + first + i));
        c.lonlat.push_back(-95.0 + 1e-6 * static_cast<double>(first + i));
        c.lonlat.push_back(29.0);
        c.region.push_back(0);
        c.hazard.push_back(0.5f);
        c.planted_level.push_back(static_cast<int8_t>(1 + (first + i) % 5));
      }
      writer.append(c);
    }
    writer.commit();
  }
}

// CPU seconds of the whole process (both threads), user plus system.
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

}  // namespace

int main(int argc, char** argv) try {
  const Args a = parse_args(argc, argv);
  if (!a.write.empty()) {
    write_shards(a);
    std::printf("loader_bench: wrote %zu rows in %zu shards to %s\n", a.rows, a.shards, a.write.c_str());
    return 0;
  }
  const ShardSet set = ShardSet::open(a.data);
  uint64_t file_bytes = 0;
  for (const ShardMeta& m : set.shards()) file_bytes += std::filesystem::file_size(m.path);
  const size_t row_bytes = set.schema().size() * sizeof(float) + sizeof(int64_t) + 2 * sizeof(double) +
                           sizeof(uint32_t) + (set.has_hazard() ? sizeof(float) : 0) +
                           (set.has_external_rating() ? 1 : 0) + (set.has_planted_level() ? 1 : 0);
  LoaderOptions o;
  o.batch_rows = a.batch;
  o.slab_rows = a.slab;
  o.shuffle = a.shuffle;
  o.seed = 1;
  std::printf("loader_bench: %zu rows, %zu shards, %zu features, %.1f MB of files, batch %zu, slab %zu, "
              "shuffle %d\n", set.total_rows(), set.shards().size(), set.schema().size(),
              static_cast<double>(file_bytes) / 1e6, a.batch, a.slab, a.shuffle ? 1 : 0);

  // One unmeasured epoch warms up, then each repeat times a fresh loader over one whole epoch:
  // thread start, first slab and every batch included.
  std::vector<double> seconds, cpu;
  double checksum = 0;
  for (size_t rep = 0; rep <= a.repeats; ++rep) {
    o.seed = rep;
    const double cpu_start = cpu_seconds();
    const auto start = std::chrono::steady_clock::now();
    Loader loader(set, o);
    Batch b;
    size_t rows = 0;
    while (loader.next(b)) {
      rows += b.rows;
      // Touch every batch; synth data has missing (NaN) features.
      checksum += static_cast<double>(b.cell_id[b.rows - 1]) + (b.x[0] == b.x[0] ? b.x[0] : 0.0f);
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (rows != set.total_rows()) throw std::runtime_error("epoch delivered " + std::to_string(rows) + " rows");
    if (rep > 0) {
      seconds.push_back(s);
      cpu.push_back(cpu_seconds() - cpu_start);
    }
  }
  auto median_of = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double median = median_of(seconds);
  std::printf("loader_bench: epoch seconds:");
  for (double s : seconds) std::printf(" %.3f", s);
  std::printf("  (checksum %.6g)\nloader_bench: epoch cpu seconds (both threads):", checksum);
  for (double s : cpu) std::printf(" %.3f", s);
  std::printf("\n");
  const double rows = static_cast<double>(set.total_rows());
  std::printf("RESULT rows=%zu seconds=%.4f rows_per_s=%.4g file_gb_per_s=%.3f payload_gb_per_s=%.3f "
              "cpu_seconds=%.4f file_bytes=%llu\n", set.total_rows(), median, rows / median,
              static_cast<double>(file_bytes) / median / 1e9, rows * row_bytes / median / 1e9, median_of(cpu),
              static_cast<unsigned long long>(file_bytes));
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "loader_bench: %s\n", e.what());
  return 1;
}
