#include "trainer/bench/leave_one_region_out.hpp"

#include <filesystem>
#include <thread>

#include <fmt/format.h>

#include "datasets/input_error.hpp"
#include "datasets/output_files.hpp"
#include "datasets/shard_set.hpp"
#include "trainer/bench/bench_jobs.hpp"
#include "trainer/bench/child_process.hpp"
#include "trainer/bench/region_split.hpp"
#include "trainer/outputs/atomic_file.hpp"
#include "trainer/outputs/run_lock.hpp"
#include "trainer/stages/cluster_metrics.hpp"
#include "trainer/stages/training.hpp"

namespace resilinet {

nlohmann::json rating_agreement(const std::vector<int32_t>& a, const std::vector<int32_t>& b, int K) {
  ContingencyTable table(K, K);
  std::vector<double> share_a(K, 0.0), share_b(K, 0.0);
  double level_diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] < 1 || a[i] > K || b[i] < 1 || b[i] > K) continue;  // a cell not rated by both
    table.add(a[i] - 1, b[i] - 1);
    share_a[a[i] - 1] += 1;
    share_b[b[i] - 1] += 1;
    level_diff += a[i] - b[i];
  }
  double n = 0;
  for (double c : share_a) n += c;
  double shift = 0;
  for (int l = 0; l < K; ++l) {
    share_a[l] /= std::max(1.0, n);
    share_b[l] /= std::max(1.0, n);
    shift += std::abs(share_a[l] - share_b[l]) / 2;
  }
  auto finite_or_null = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); };
  return {{"cells", int64_t(n)},
          {"ari", finite_or_null(adjusted_rand_index(table))},
          {"kappa", finite_or_null(quadratic_weighted_kappa(table))},
          {"shares_a", share_a},
          {"shares_b", share_b},
          {"share_shift", shift},
          {"mean_level_shift", n > 0 ? level_diff / n : 0.0}};
}

namespace {

const std::vector<ResultColumn>& loro_columns() {
  static const std::vector<ResultColumn> columns = {
      {"cells", "Cells", ""},
      {"ari", "ARI transfer vs alone", "higher"},
      {"kappa", "Kappa transfer vs alone", "higher"},
      {"share_shift", "Level-share shift", "lower"},
      {"mean_level_shift", "Mean level shift", ""},
      {"shares_transfer", "Shares, transfer (%)", ""},
      {"shares_alone", "Shares, alone (%)", ""},
  };
  return columns;
}

std::string shares_text(const nlohmann::json& shares) {
  std::string out;
  for (const auto& s : shares) {
    if (!out.empty()) out += '/';
    out += fmt::format("{:.0f}", 100 * s.get<double>());
  }
  return out;
}

// Averages the agreement's shares over seeds.
std::vector<double> mean_shares(const std::vector<nlohmann::json>& runs, const char* key, int K) {
  std::vector<double> out(K, 0.0);
  for (const auto& r : runs)
    for (int l = 0; l < K; ++l) out[l] += r[key][l].get<double>() / double(runs.size());
  return out;
}

}  // namespace

nlohmann::json run_leave_one_region_out(const VariantsBenchOptions& o) {
  const TrainConfig base = bench_base_config(o.config, o.data);
  const ShardSet data = ShardSet::open(base.data);
  if (data.region_names().size() < 2)
    throw InputError(base.data, "region_names", "data of 2 or more regions (one is held out at a time)",
                     std::to_string(data.region_names().size()));
  const int threads = threads_per_run(o.threads, o.jobs);
  const int K = base.clusters.k;
  const size_t min_cells = size_t(kMinCellsPerCluster) * size_t(K);
  make_output_dir(o.out, "--out");
  RunLock lock(o.out, "--out");
  const std::vector<RegionShard> regions = split_by_region(base.data, o.out + "/regions", o.quiet);
  std::vector<BenchJob> jobs;
  struct Pair {
    size_t region;
    uint64_t seed;
    std::string transfer_levels, alone_levels;
  };
  std::vector<Pair> pairs;
  auto train_and_rate = [&](const std::string& label, const std::string& train_data, const std::string& run_dir,
                            uint64_t seed, const std::string& rated_shard) {
    TrainConfig config = base;
    config.data = train_data;
    config.run_dir = run_dir;
    config.seed = seed;
    config.threads = threads;
    make_output_dir(std::filesystem::path(run_dir).parent_path().string(), "--out");
    jobs.push_back(train_and_rate_job(label, config, rated_shard, "held-out", "loro"));
    return run_dir + "/held-out/ratings.h5";
  };
  const std::vector<uint64_t> seeds = consecutive_seeds(base.seed, o.seeds);
  for (size_t r = 0; r < regions.size(); ++r) {
    // The folder of every shard but r's: the training data of the transfer model.
    const std::string fold = o.out + "/folds/r" + std::to_string(r);
    std::filesystem::remove_all(fold);
    make_output_dir(fold, "--out");
    for (size_t other = 0; other < regions.size(); ++other)
      if (other != r)
        std::filesystem::create_symlink(std::filesystem::absolute(regions[other].path),
                                        fold + "/r" + std::to_string(other) + ".h5");
    if (regions[r].cells < min_cells) continue;  // too small to train on alone: listed without numbers
    for (uint64_t seed : seeds) {
      const std::string name = regions[r].name + " seed " + std::to_string(seed);
      const std::string runs = o.out + "/runs/r" + std::to_string(r);
      Pair p{r, seed, "", ""};
      p.transfer_levels = train_and_rate("without " + name, fold + "/*.h5", runs + "/without-seed" + std::to_string(seed),
                                         seed, regions[r].path);
      p.alone_levels = train_and_rate("alone " + name, regions[r].path, runs + "/alone-seed" + std::to_string(seed), seed,
                                      regions[r].path);
      pairs.push_back(p);
    }
  }
  if (!o.quiet)
    std::fprintf(stderr, "resilinet bench: leave-one-region-out over %zu regions, %zu run(s), %d at a time, %d thread(s) each\n",
                 regions.size(), jobs.size(), std::max(1, o.jobs), threads);
  run_bench_jobs(jobs, o.jobs, o.quiet, "runs");

  nlohmann::json out;
  out["format"] = "resilinet-loro";
  out["format_version"] = 1;
  out["data"] = base.data;
  out["cells"] = data.total_rows();
  out["seeds"] = seeds;
  out["threads_per_run"] = threads;
  out["regions"] = nlohmann::json::array();
  std::vector<ResultRow> rows;
  for (size_t r = 0; r < regions.size(); ++r) {
    std::vector<nlohmann::json> runs;
    for (const Pair& p : pairs) {
      if (p.region != r) continue;
      nlohmann::json a = rating_agreement(read_level_column(p.transfer_levels), read_level_column(p.alone_levels), K);
      a["seed"] = p.seed;
      runs.push_back(std::move(a));
    }
    nlohmann::json cells{{"cells", regions[r].cells}};
    if (!runs.empty()) {
      for (const char* key : {"ari", "kappa", "share_shift", "mean_level_shift"}) {
        std::vector<double> values;
        for (const auto& run : runs)
          if (run[key].is_number()) values.push_back(run[key].get<double>());
        cells[key] = summarize(values);
      }
      cells["shares_transfer"] = shares_text(mean_shares(runs, "shares_a", K));
      cells["shares_alone"] = shares_text(mean_shares(runs, "shares_b", K));
    }
    rows.push_back({regions[r].name, cells});
    nlohmann::json region = cells;
    region["name"] = regions[r].name;
    region["runs"] = runs;
    if (runs.empty()) region["note"] = fmt::format("fewer than {} cells: not trained alone", min_cells);
    out["regions"].push_back(std::move(region));
  }
  std::string md = fmt::format(
      "# Leave one region out\n\nData `{}`: {} cells in {} regions. For each region, \"transfer\" is a model trained on "
      "every other region rating it, \"alone\" a model trained on the region alone. Mean ± standard deviation over seeds "
      "{}; shares are levels 1..{} in percent. A region with fewer than {} cells is not trained alone.\n\n",
      base.data, data.total_rows(), regions.size(), nlohmann::json(seeds).dump(), K, min_cells);
  md += markdown_table("Region", loro_columns(), rows);
  write_text_atomically(o.out + "/loro.md", md);
  write_text_atomically(o.out + "/loro.csv", csv_table("region", loro_columns(), rows));
  write_text_atomically(o.out + "/loro.json", out.dump(2) + "\n");
  if (!o.quiet) std::fprintf(stderr, "resilinet bench: wrote %s/loro.md, .csv and .json\n", o.out.c_str());
  return out;
}

}  // namespace resilinet
