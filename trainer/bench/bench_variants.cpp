#include "trainer/bench/bench_variants.hpp"

#include <filesystem>
#include <fstream>
#include <thread>

#include <fmt/format.h>

#include "datasets/h5.hpp"
#include "datasets/input_error.hpp"
#include "datasets/output_files.hpp"
#include "datasets/shard_set.hpp"
#include "trainer/bench/bench_jobs.hpp"
#include "trainer/bench/child_process.hpp"
#include "trainer/bench/variant_file.hpp"
#include "trainer/outputs/atomic_file.hpp"
#include "trainer/outputs/run_lock.hpp"
#include "trainer/stages/cluster_metrics.hpp"

namespace resilinet {

const std::vector<ResultColumn>& variant_columns() {
  static const std::vector<ResultColumn> columns = {
      {"reconstruction_mse", "Recon. MSE", "lower"},
      {"silhouette", "Silhouette", "higher"},
      {"calinski_harabasz", "Calinski-Harabasz", "higher"},
      {"davies_bouldin", "Davies-Bouldin", "lower"},
      {"seed_stability_ari", "Seed ARI", "higher"},
      {"classifier_macro_f1", "Held-out macro-F1", "higher"},
      {"ari_planted", "ARI vs planted", "higher"},
      {"spearman_external", "Spearman vs external", "higher"},
      {"kappa_external", "Kappa vs external", "higher"},
      {"train_seconds", "Train s", "lower"},
      {"cells_per_second", "Cells/s", "higher"},
      {"peak_rss_mb", "Peak RSS MB", "lower"},
  };
  return columns;
}

nlohmann::json mean_pairwise_ari(const std::vector<std::vector<int32_t>>& labelings) {
  std::vector<double> values;
  for (size_t a = 0; a < labelings.size(); ++a)
    for (size_t b = a + 1; b < labelings.size(); ++b) values.push_back(adjusted_rand_index(labelings[a], labelings[b]));
  nlohmann::json summary = summarize(values);  // n counts the pairs
  if (!summary.is_null()) summary["seeds"] = labelings.size();
  return summary;
}

std::vector<int32_t> read_level_column(const std::string& path) {
  try {
    const h5::File file = h5::open_file_read_only(path);
    const h5::Dataset level = h5::open_row_dataset(file, "level");
    const std::vector<hsize_t> dims = h5::dataset_dims(level);
    if (dims.size() != 1) throw std::runtime_error("/level is not one column");
    std::vector<int32_t> out(dims[0]);
    if (!out.empty()) h5::read_rows(level, H5T_NATIVE_INT32, 0, dims[0], out.data());
    return out;
  } catch (const h5::Error& e) {
    throw std::runtime_error(path + ": cannot read /level: " + e.what());
  }
}

namespace {

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  return nlohmann::json::parse(in);
}

// The per-run numbers of the table from the run's metrics.json and its record.
nlohmann::json run_numbers(const nlohmann::json& evaluation, const nlohmann::json& record, uint64_t cells) {
  nlohmann::json run;
  for (const ResultColumn& c : variant_columns())
    if (evaluation.contains(c.key) && evaluation[c.key].is_number()) run[c.key] = evaluation[c.key];
  const double seconds = record["steps"][0]["seconds"].get<double>();
  run["train_seconds"] = seconds;
  run["cells_per_second"] = seconds > 0 ? double(cells) / seconds : 0.0;
  run["peak_rss_mb"] = double(record["steps"][0]["peak_rss_kb"].get<int64_t>()) / 1024.0;
  return run;
}

}  // namespace

nlohmann::json run_variants_bench(const VariantsBenchOptions& o) {
  if (o.variant_files.empty()) throw InputError("resilinet bench", "--variants", "one or more variant files");
  const TrainConfig base = bench_base_config(o.config, o.data);
  const uint64_t cells = ShardSet::open(base.data).total_rows();  // bad data is refused before any run
  const int threads = threads_per_run(o.threads, o.jobs);
  const std::vector<uint64_t> bench_seeds = consecutive_seeds(base.seed, o.seeds);

  std::vector<Variant> variants;
  for (const std::string& file : o.variant_files) {
    variants.push_back(load_variant(file, base));
    for (size_t i = 0; i + 1 < variants.size(); ++i)
      if (variants[i].name == variants.back().name)
        throw InputError(file, "name", "a name no other variant has (it names the run folders)",
                         "'" + variants.back().name + "', as " + variants[i].file);
  }
  make_output_dir(o.out, "--out");
  RunLock lock(o.out, "--out");
  std::vector<BenchJob> jobs;
  struct RunRef {
    size_t variant;
    uint64_t seed;
    std::string dir, levels;
  };
  std::vector<RunRef> refs;
  for (size_t v = 0; v < variants.size(); ++v) {
    const Variant& variant = variants[v];
    const std::string folder = o.out + "/runs/" + variant.name;
    make_output_dir(folder, "--out");
    for (uint64_t seed : variant.seeds.empty() ? bench_seeds : variant.seeds) {
      TrainConfig config = variant.config;
      config.data = base.data;
      config.run_dir = folder + "/seed" + std::to_string(seed);
      config.seed = seed;
      config.threads = threads;
      const std::string label = variant.name + " seed " + std::to_string(seed);
      RunRef ref{v, seed, config.run_dir, ""};
      BenchJob job;
      if (variant.baseline.empty()) {
        job = train_and_rate_job(label, config, base.data, "rating", "network");
        ref.levels = config.run_dir + "/rating/ratings.h5";
      } else {
        job = baseline_job(label, config, variant.baseline);
        ref.levels = config.run_dir + "/levels.h5";
      }
      jobs.push_back(std::move(job));
      refs.push_back(std::move(ref));
    }
  }
  if (!o.quiet)
    std::fprintf(stderr, "resilinet bench: %zu variant(s), %zu run(s) on %llu cells, %d at a time, %d thread(s) each\n",
                 variants.size(), jobs.size(), static_cast<unsigned long long>(cells), std::max(1, o.jobs), threads);
  const std::vector<nlohmann::json> records = run_bench_jobs(jobs, o.jobs, o.quiet, "runs");

  nlohmann::json out;
  out["format"] = "resilinet-variants";
  out["format_version"] = 1;
  out["data"] = base.data;
  out["cells"] = cells;
  out["seeds"] = bench_seeds;
  out["threads_per_run"] = threads;
  out["variants"] = nlohmann::json::array();
  std::vector<ResultRow> rows;
  for (size_t v = 0; v < variants.size(); ++v) {
    nlohmann::json runs = nlohmann::json::array();
    std::vector<std::vector<int32_t>> levels;
    for (size_t r = 0; r < refs.size(); ++r) {
      if (refs[r].variant != v) continue;
      nlohmann::json run = run_numbers(read_json(refs[r].dir + "/metrics.json")["evaluation"], records[r], cells);
      run["seed"] = refs[r].seed;
      run["run_dir"] = refs[r].dir;
      runs.push_back(std::move(run));
      levels.push_back(read_level_column(refs[r].levels));
    }
    nlohmann::json summary;
    for (const ResultColumn& c : variant_columns()) {
      if (c.key == "seed_stability_ari") {
        summary[c.key] = mean_pairwise_ari(levels);
        continue;
      }
      std::vector<double> values;
      for (const auto& run : runs)
        if (run.contains(c.key)) values.push_back(run[c.key].get<double>());
      summary[c.key] = summarize(values);
    }
    const Variant& variant = variants[v];
    rows.push_back({variant.name, summary});
    out["variants"].push_back({{"name", variant.name},
                               {"file", variant.file},
                               {"kind", variant.baseline.empty() ? "network" : "baseline"},
                               {"baseline", variant.baseline},
                               {"description", variant.description},
                               {"summary", summary},
                               {"runs", runs}});
  }
  const std::vector<ResultColumn> columns = present_columns(variant_columns(), rows);
  out["metrics"] = nlohmann::json::array();
  for (const ResultColumn& c : columns) out["metrics"].push_back({{"key", c.key}, {"label", c.label}, {"better", c.better}});

  std::string md = fmt::format(
      "# Variants\n\nData `{}`: {} cells. Seeds {}; {} thread(s) per run. Mean ± standard deviation over the seeds; "
      "Seed ARI is the mean adjusted Rand index of the levels of every pair of seeds. The best value of each column "
      "is in bold. Time, throughput and RSS are of `train` (or `baseline`) alone.\n\n",
      base.data, cells, nlohmann::json(bench_seeds).dump(), threads);
  md += markdown_table("Variant", columns, rows);
  md += "\n";
  for (const Variant& variant : variants)
    md += "- **" + variant.name + "**" + (variant.description.empty() ? "" : ": " + variant.description) + " (`" +
          variant.file + "`)\n";
  write_text_atomically(o.out + "/variants.md", md);
  write_text_atomically(o.out + "/variants.csv", csv_table("variant", columns, rows));
  write_text_atomically(o.out + "/variants.json", out.dump(2) + "\n");
  if (!o.quiet) std::fprintf(stderr, "resilinet bench: wrote %s/variants.md, .csv and .json\n", o.out.c_str());
  return out;
}

}  // namespace resilinet
