#include "trainer/bench/bench_jobs.hpp"

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "datasets/input_error.hpp"
#include "trainer/bench/child_process.hpp"
#include "trainer/outputs/atomic_file.hpp"

namespace resilinet {
namespace {

// A record that exists, parses and holds the same key; anything else means run again.
std::optional<nlohmann::json> current_record(const BenchJob& job) {
  std::ifstream in(job.record);
  if (!in) return std::nullopt;
  try {
    nlohmann::json record = nlohmann::json::parse(in);
    if (record.is_object() && record.value("key", "") == job.key && record.contains("steps") &&
        record["steps"].is_array() && record["steps"].size() == job.steps.size())
      return record;
  } catch (const nlohmann::json::exception&) {
  }
  return std::nullopt;
}

struct Failure {
  std::string label, log, line;
  int exit_code = 0;
};

// The job's files beside its run folder, and its config written where its children read it.
BenchJob job_for(const std::string& label, const TrainConfig& config, const std::string& kind) {
  const std::string yaml = to_yaml(config), stem = config.run_dir;
  write_text_atomically(stem + ".yaml", yaml);
  BenchJob job;
  job.label = label;
  job.log = stem + ".log";
  job.record = stem + ".done.json";
  job.key = kind + "\n" + yaml;
  return job;
}

}  // namespace

BenchJob train_and_rate_job(const std::string& label, const TrainConfig& config, const std::string& rate_data,
                            const std::string& rating_folder, const std::string& kind) {
  BenchJob job = job_for(label, config, kind + "\n" + rate_data);
  const std::string self = self_executable(), dir = config.run_dir;
  job.steps.push_back({self, "train", "--config", dir + ".yaml", "--overwrite", "--quiet"});
  job.steps.push_back({self, "rate", "--checkpoint", dir + "/checkpoint.h5", "--data", rate_data, "--out",
                       dir + "/" + rating_folder, "--format", "hdf5", "--no-latent", "--quiet"});
  return job;
}

BenchJob baseline_job(const std::string& label, const TrainConfig& config, const std::string& method) {
  BenchJob job = job_for(label, config, "baseline " + method);
  job.steps.push_back({self_executable(), "baseline", "--method", method, "--config", config.run_dir + ".yaml", "--quiet"});
  return job;
}

int threads_per_run(int threads, int jobs) {
  return threads > 0 ? threads : std::max(1, int(std::thread::hardware_concurrency()) / std::max(1, jobs));
}

TrainConfig bench_base_config(const std::string& config, const std::string& data) {
  TrainConfig base = load_train_config(config);
  if (!data.empty()) base.data = data;
  return base;
}

std::vector<uint64_t> consecutive_seeds(uint64_t first, int count) {
  std::vector<uint64_t> seeds;
  for (int s = 0; s < count; ++s) seeds.push_back(first + uint64_t(s));
  return seeds;
}

std::vector<nlohmann::json> run_bench_jobs(const std::vector<BenchJob>& jobs, int parallel, bool quiet,
                                           const std::string& what) {
  std::vector<nlohmann::json> records(jobs.size());
  std::vector<size_t> todo;
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (auto record = current_record(jobs[i])) records[i] = std::move(*record);
    else todo.push_back(i);
  }
  std::mutex mutex;  // guards printing, the failure and the done count
  size_t done = jobs.size() - todo.size();
  if (!quiet && done > 0)
    std::fprintf(stderr, "resilinet bench: %zu of %zu %s already done (records found), skipped\n", done, jobs.size(),
                 what.c_str());
  std::optional<Failure> failure;
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t t; (t = next.fetch_add(1)) < todo.size();) {
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (failure) return;
      }
      const BenchJob& job = jobs[todo[t]];
      if (!quiet) {
        std::lock_guard<std::mutex> lock(mutex);
        std::fprintf(stderr, "resilinet bench: %s started (log %s)\n", job.label.c_str(), job.log.c_str());
      }
      std::filesystem::remove(job.record);
      std::filesystem::remove(job.log);
      nlohmann::json record{{"key", job.key}, {"steps", nlohmann::json::array()}};
      bool ok = true;
      for (const auto& argv : job.steps) {
        const ChildRun run = run_child(argv, job.log);
        if (run.exit_code != 0) {
          std::lock_guard<std::mutex> lock(mutex);
          if (!failure) failure = Failure{job.label, job.log, log_tail(job.log), run.exit_code};
          ok = false;
          break;
        }
        record["steps"].push_back({{"seconds", run.seconds}, {"peak_rss_kb", run.peak_rss_kb}});
      }
      if (!ok) return;
      write_text_atomically(job.record, record.dump(2) + "\n");
      std::lock_guard<std::mutex> lock(mutex);
      records[todo[t]] = std::move(record);
      ++done;
      if (!quiet)
        std::fprintf(stderr, "resilinet bench: [%zu/%zu] %s done in %.1f s\n", done, jobs.size(), job.label.c_str(),
                     records[todo[t]]["steps"][0]["seconds"].get<double>());
    }
  };
  std::vector<std::thread> threads;
  for (int w = 0; w < std::max(1, parallel); ++w) threads.emplace_back(worker);
  for (std::thread& t : threads) t.join();
  if (failure) {
    if (failure->exit_code == 2) throw InputError(failure->log, failure->label, "a run that accepts its input", failure->line);
    throw std::runtime_error(fmt::format("{}: exit code {} ({}): {}", failure->label, failure->exit_code, failure->log,
                                         failure->line));
  }
  return records;
}

}  // namespace resilinet
