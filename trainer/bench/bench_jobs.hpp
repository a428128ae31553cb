// The runs of a benchmark as jobs of child processes (trainer/bench/child_process.hpp), some at a
// time, each remembered by a record file once it has finished: a bench that is killed and started
// again skips the jobs whose record matches and runs the rest from the beginning.
#pragma once
#include "trainer/bench/room.hpp"
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "trainer/model/config.hpp"

namespace resilinet {

struct BenchJob {
  std::string label;                            // progress and messages: "default seed 1"
  std::vector<std::vector<std::string>> steps;  // argv of each child, run in order
  std::string log;                              // the children's stdout and stderr
  std::string record;                           // JSON written when every step has succeeded
  std::string key;                              // what makes a record current: the job's resolved inputs
};

// A job that trains `config` into config.run_dir, then rates rate_data with the result into
// RUN_DIR/rating_folder (HDF5). The resolved config is written beside the run folder as RUN_DIR.yaml,
// with RUN_DIR.log and RUN_DIR.done.json; `kind` and the config make the job's key.
BenchJob train_and_rate_job(const std::string& label, const TrainConfig& config, const std::string& rate_data,
                            const std::string& rating_folder, const std::string& kind);
// A job that rates config.data with `resilinet baseline --method method` into config.run_dir.
BenchJob baseline_job(const std::string& label, const TrainConfig& config, const std::string& method);
// Threads of each run: `threads`, or with 0 the cores divided between `jobs` runs at a time.
int threads_per_run(int threads, int jobs);
// A bench's base config: the file `config` ("" = the built-in defaults), its data replaced by
// `data` where that is given.
TrainConfig bench_base_config(const std::string& config, const std::string& data);
// The seeds of `count` runs: first, first + 1, ...
std::vector<uint64_t> consecutive_seeds(uint64_t first, int count);

// The record of a finished job: {"key", "steps": [{"seconds", "peak_rss_kb"}, ...]}.
// Runs every job without a current record, `parallel` at a time, in order of the list, and returns
// all records in that order. A child that fails stops new jobs from starting; once the running
// ones end, an exit code 2 (bad input) is an InputError naming the job's log and its last line,
// anything else a std::runtime_error.
std::vector<nlohmann::json> run_bench_jobs(const std::vector<BenchJob>& jobs, int parallel, bool quiet,
                                           const std::string& what);

}  // namespace resilinet
