// `train` over MPI ranks (mpirun, oversubscribed on CI's 2 cores): every rank reads every batch and
// trains on its share of whole tiles, and the tiles' gradients are summed up the tile tree.
// Checked here: 2 and 3 ranks give the single process's parameters bitwise (so its levels) and its
// first-epoch loss and its evaluation metrics, a world size repeats bitwise, only rank 0 writes the run folder, a rank killed with SIGKILL ends the whole job within
// a bounded time, and `--resume` with the same world size then ends bitwise as an uninterrupted run.
// Skips where this build has no MPI or mpirun is missing.
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "datasets/h5.hpp"
#include "test_support.hpp"
#include "trainer/distributed/communicator.hpp"
#include "trainer/model/checkpoint.hpp"
#include "trainer/model/config.hpp"
#include "trainer/stages/cluster_metrics.hpp"

namespace rt = resilinet::testing;
using namespace resilinet;
namespace fs = std::filesystem;

namespace {

const char* kMpiEnv = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 ";

bool have_mpirun() { return mpi_available() && std::system("command -v mpirun > /dev/null 2>&1") == 0; }

#define REQUIRE_MPI() \
  if (!have_mpirun()) GTEST_SKIP() << "no MPI communicator in this build, or no mpirun"

// `train` with `ranks` MPI ranks (1: no launcher) of one thread each.
// mpirun_options: e.g. "-x RESILINET_MPI_SHARED_MEMORY=0", the message path of a job over machines.
std::string train_command(int ranks, const fs::path& config, const fs::path& run_dir, const std::string& extra = "",
                          const std::string& mpirun_options = "") {
  std::string train = std::string(RESILINET_BIN) + " train --quiet --threads 1 --config " + config.string() +
                      " --run-dir " + run_dir.string() + " " + extra;
  return ranks == 1 ? train
                    : std::string(kMpiEnv) + "mpirun --oversubscribe " + mpirun_options + " -n " + std::to_string(ranks) +
                          " " + train;
}

// A small region and a short training of every stage, written as a config file.
fs::path small_job(const fs::path& dir, int pretrain_epochs, const std::string& space = "completed",
                   const std::string& scaler = "robust") {
  auto r = rt::run_resilinet("synth --out " + (dir / "data").string() + " --cells 12000 --regions 2 --seed 5");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  TrainConfig c = load_train_config(std::string(RESILINET_SOURCE_DIR) + "/configs/default.yaml");
  c.data = (dir / "data" / "*.h5").string();
  c.seed = 3;
  c.pretrain.epochs = pretrain_epochs;
  c.pretrain.min_steps = 0;
  c.classifier.epochs = 2;
  c.classifier.min_steps = 0;
  c.clusters.space = space;
  c.scaler.type = scaler;
  c.idec.max_epochs = 2;
  const fs::path file = dir / "job.yaml";
  rt::write_text(file, to_yaml(c));
  return file;
}

std::vector<int32_t> rated_levels(const fs::path& run_dir, const fs::path& data_dir, const fs::path& out) {
  auto r = rt::run_resilinet("rate --quiet --checkpoint " + (run_dir / "checkpoint.h5").string() +
                             " --data '" + (data_dir / "*.h5").string() + "' --out " + out.string());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  auto f = h5::open_file_read_only((out / "ratings.h5").string());
  auto ds = h5::open_row_dataset(f, "level");
  std::vector<int32_t> level(h5::dataset_dims(ds)[0]);
  h5::read_rows(ds, H5T_NATIVE_INT32, 0, level.size(), level.data());
  return level;
}

// Every number of two JSON documents within `relative` (the rest equal); where they differ, the path.
std::string json_difference(const nlohmann::json& a, const nlohmann::json& b, double relative, const std::string& path = "") {
  if (a.is_number_float() || b.is_number_float()) {
    if (!a.is_number() || !b.is_number()) return path;
    const double x = a.get<double>(), y = b.get<double>();
    return std::abs(x - y) <= relative * std::max(1.0, std::abs(x)) ? "" : path;
  }
  if (a.type() != b.type() || a.size() != b.size()) return path;
  if (a.is_object()) {
    for (const auto& [key, value] : a.items()) {
      if (!b.contains(key)) return path + "/" + key;
      if (auto d = json_difference(value, b[key], relative, path + "/" + key); !d.empty()) return d;
    }
    return "";
  }
  if (a.is_array()) {
    for (size_t i = 0; i < a.size(); ++i)
      if (auto d = json_difference(a[i], b[i], relative, path + "[" + std::to_string(i) + "]"); !d.empty()) return d;
    return "";
  }
  return a == b ? "" : path;
}

// metrics.json's evaluation of a run.
nlohmann::json evaluation(const fs::path& run_dir) {
  std::ifstream in(run_dir / "metrics.json");
  return nlohmann::json::parse(in).at("evaluation");
}

bool same_parameters(const fs::path& a, const fs::path& b) {
  const Checkpoint x = read_checkpoint((a / "checkpoint.h5").string());
  const Checkpoint y = read_checkpoint((b / "checkpoint.h5").string());
  auto same = [](const std::vector<float>& p, const std::vector<float>& q) {
    return p.size() == q.size() && std::memcmp(p.data(), q.data(), p.size() * sizeof(float)) == 0;
  };
  return same(x.model.autoencoder_params, y.model.autoencoder_params) &&
         same(x.model.classifier_params, y.model.classifier_params) && same(x.model.centroids, y.model.centroids);
}

// The loss of the first pretraining epoch, from metrics.jsonl.
double first_pretrain_loss(const fs::path& run_dir) {
  std::ifstream in(run_dir / "metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j.value("stage", "") == "pretrain" && j.value("epoch", 0) == 1) return j["loss"].get<double>();
  }
  return -1;
}

size_t lines_of(const fs::path& file) {
  std::ifstream in(file);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

// Process ids whose environment says they are rank `rank` of an MPI job and whose command line
// holds `marker`.
std::vector<pid_t> ranks_running(const std::string& marker, int rank) {
  std::vector<pid_t> found;
  DIR* proc = opendir("/proc");
  if (!proc) return found;
  const std::string want = "OMPI_COMM_WORLD_RANK=" + std::to_string(rank);
  while (dirent* e = readdir(proc)) {
    const pid_t pid = pid_t(std::atoi(e->d_name));
    if (pid <= 0) continue;
    const std::string base = std::string("/proc/") + e->d_name;
    std::string cmdline = rt::read_text(base + "/cmdline"), environ = rt::read_text(base + "/environ");
    for (char& c : cmdline) c = c ? c : ' ';
    if (cmdline.find(marker) == std::string::npos || cmdline.find("mpirun") != std::string::npos) continue;
    const std::string nul(1, '\0');
    if ((nul + environ).find(nul + want + nul) != std::string::npos) found.push_back(pid);
  }
  closedir(proc);
  return found;
}

}  // namespace

TEST(TrainRanks, TwoAndThreeRanksGiveTheParametersOfOneBitwiseAndRepeatBitwise) {
  REQUIRE_MPI();
  const fs::path dir = rt::scratch_dir();
  const fs::path job = small_job(dir, 3);
  // "three-messages": the sums as messages (sharded steps over all-to-all and all-gather), as
  // across machines, instead of through shared memory.
  const std::string messages = "-x RESILINET_MPI_SHARED_MEMORY=0";
  for (const auto& [ranks, name] : std::vector<std::pair<int, std::string>>{
           {1, "one"}, {2, "two"}, {3, "three"}, {2, "two-again"}, {3, "three-messages"}}) {
    auto r = rt::run_command(train_command(ranks, job, dir / name, "", name == "three-messages" ? messages : ""));
    ASSERT_EQ(r.exit_code, 0) << ranks << " ranks: " << r.output;
  }
  EXPECT_TRUE(same_parameters(dir / "two", dir / "two-again")) << "2 ranks, run twice";
  const auto one = rated_levels(dir / "one", dir / "data", dir / "rate-one");
  for (const char* name : {"two", "three", "three-messages"}) {
    SCOPED_TRACE(name);
    // The ranks train on whole 64-row tiles and sum the tiles' gradients up the tile tree, as one
    // process does: the same parameters, bit for bit (the issue asks 1e-5), and so the same levels.
    EXPECT_TRUE(same_parameters(dir / "one", dir / name));
    const auto levels = rated_levels(dir / name, dir / "data", dir / (std::string("rate-") + name));
    EXPECT_EQ(levels, one);
    EXPECT_GE(adjusted_rand_index(one, levels), 0.99);
    // The first epoch's mean loss: the losses are summed in rank order, so equal up to rounding.
    const double a = first_pretrain_loss(dir / "one"), b = first_pretrain_loss(dir / name);
    ASSERT_GT(a, 0);
    EXPECT_NEAR(b, a, 1e-6 * a);
    // The evaluation's pass is shared as well: the same counts, sample metrics and baseline, the
    // sums (reconstruction MSE, level scores) equal up to the order the ranks add them in.
    EXPECT_EQ(json_difference(evaluation(dir / "one"), evaluation(dir / name), 1e-12), "");
    // Rank 0 alone wrote the folder: one record per event, as the single process wrote.
    EXPECT_EQ(lines_of(dir / name / "metrics.jsonl"), lines_of(dir / "one" / "metrics.jsonl"));
    size_t files = 0;
    for (const auto& entry : fs::directory_iterator(dir / name)) {
      const std::string file = entry.path().filename().string();
      EXPECT_TRUE(file == "config.yaml" || file == "checkpoint.h5" || file == "metrics.json" ||
                  file == "metrics.jsonl" || file == ".lock")
          << file;
      ++files;
    }
    EXPECT_EQ(files, 5u);
  }
}

// IDEC (clusters.space: latent) has reduction points of its own: the centroids' gradient at each
// step, and the frequencies and label changes of each refresh, which the ranks measure a share each.
TEST(TrainRanks, IdecOverRanksGivesTheParametersOfOneBitwise) {
  REQUIRE_MPI();
  const fs::path dir = rt::scratch_dir();
  const fs::path job = small_job(dir, 2, "latent");
  for (const auto& [ranks, name] : std::vector<std::pair<int, std::string>>{{1, "one"}, {2, "two"}, {3, "three"}}) {
    auto r = rt::run_command(train_command(ranks, job, dir / name));
    ASSERT_EQ(r.exit_code, 0) << ranks << " ranks: " << r.output;
  }
  auto clusters = [](const fs::path& run_dir) {
    std::ifstream in(run_dir / "metrics.json");
    return nlohmann::json::parse(in).at("clusters");
  };
  const nlohmann::json one = clusters(dir / "one");
  ASSERT_GE(one.at("idec").at("refreshes").get<int>(), 4) << one.dump();
  for (const char* name : {"two", "three"}) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(same_parameters(dir / "one", dir / name));
    EXPECT_EQ(clusters(dir / name).at("idec"), one.at("idec"));
    EXPECT_EQ(json_difference(evaluation(dir / "one"), evaluation(dir / name), 1e-12), "");
  }
}

// The ranks fit the scaler a share each. Its counts, ranges and quantile sample merge exactly (the
// robust scaler of the test above gives one process's parameters bitwise); z-score scaling also
// needs the sums of values and of squares, added in rank order: one process's within rounding.
TEST(TrainRanks, ZScoreScalerOverRanksIsOneProcessesWithinRounding) {
  REQUIRE_MPI();
  const fs::path dir = rt::scratch_dir();
  const fs::path job = small_job(dir, 1, "completed", "zscore");
  for (const auto& [ranks, name] : std::vector<std::pair<int, std::string>>{{1, "one"}, {3, "three"}}) {
    auto r = rt::run_command(train_command(ranks, job, dir / name));
    ASSERT_EQ(r.exit_code, 0) << ranks << " ranks: " << r.output;
  }
  const Checkpoint one = read_checkpoint((dir / "one" / "checkpoint.h5").string());
  const Checkpoint three = read_checkpoint((dir / "three" / "checkpoint.h5").string());
  const Scaler &a = one.model.scaler, &b = three.model.scaler;
  ASSERT_EQ(a.type, "zscore");
  ASSERT_EQ(b.features(), a.features());
  EXPECT_EQ(b.missing, a.missing);
  for (size_t f = 0; f < a.features(); ++f) {
    EXPECT_EQ(b.median[f], a.median[f]) << f;
    EXPECT_EQ(b.min[f], a.min[f]) << f;
    EXPECT_EQ(b.max[f], a.max[f]) << f;
    EXPECT_NEAR(b.offset[f], a.offset[f], 1e-12 * std::max(1.0, std::abs(a.offset[f]))) << f;
    EXPECT_NEAR(b.scale[f], a.scale[f], 1e-12 * a.scale[f]) << f;
  }
  auto close = [](const std::vector<float>& p, const std::vector<float>& q) {
    if (p.size() != q.size()) return false;
    for (size_t i = 0; i < p.size(); ++i)
      if (std::abs(p[i] - q[i]) > 1e-5f * std::max(1.0f, std::abs(p[i]))) return false;
    return true;
  };
  EXPECT_TRUE(close(one.model.autoencoder_params, three.model.autoencoder_params));
  EXPECT_TRUE(close(one.model.classifier_params, three.model.classifier_params));
}

// 120 cells: each classifier batch has about 96 training rows, two 64-row tiles, so the third of
// three ranks never has a row to train on; it still takes every step (zero gradients), and the job
// ends as one process's.
TEST(TrainRanks, ARankWithNoRowsInAnyBatchStillTakesEveryStep) {
  REQUIRE_MPI();
  const fs::path dir = rt::scratch_dir();
  auto synth = rt::run_resilinet("synth --out " + (dir / "data").string() + " --cells 120 --regions 3 --seed 4");
  ASSERT_EQ(synth.exit_code, 0) << synth.output;
  rt::write_text(dir / "job.yaml", "data: " + (dir / "data" / "*.h5").string() +
                                       "\npretrain: {epochs: 2, min_steps: 0}\nclassifier: {epochs: 2, min_steps: 0}\n");
  for (const auto& [ranks, name] : std::vector<std::pair<int, std::string>>{{1, "one"}, {3, "three"}}) {
    auto r = rt::run_command(train_command(ranks, dir / "job.yaml", dir / name));
    ASSERT_EQ(r.exit_code, 0) << ranks << " ranks: " << r.output;
  }
  EXPECT_TRUE(same_parameters(dir / "one", dir / "three"));
  EXPECT_EQ(json_difference(evaluation(dir / "one"), evaluation(dir / "three"), 1e-12), "");
}

TEST(TrainRanks, AKilledRankEndsTheJobAndResumeEndsAsAnUninterruptedRun) {
  REQUIRE_MPI();
  const fs::path dir = rt::scratch_dir();
  const fs::path job = small_job(dir, 40);  // long enough to be killed inside pretraining
  ASSERT_EQ(rt::run_command(train_command(2, job, dir / "whole")).exit_code, 0);

  // Rank 1 is killed once the first in-stage checkpoint exists; the job must end, with an error.
  const fs::path killed = dir / "killed";
  const std::string command = train_command(2, job, killed);
  const pid_t launcher = fork();
  ASSERT_GE(launcher, 0);
  if (launcher == 0) {
    execl("/bin/sh", "sh", "-c", (command + " > " + (dir / "killed.log").string() + " 2>&1").c_str(), nullptr);
    _exit(127);
  }
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  while (!fs::exists(killed / "checkpoint.h5") && elapsed() < 120) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(fs::exists(killed / "checkpoint.h5")) << rt::read_text(dir / "killed.log");
  std::vector<pid_t> victims;
  while (victims.empty() && elapsed() < 120) victims = ranks_running(killed.string(), 1);
  ASSERT_EQ(victims.size(), 1u) << "rank 1 of the job not found";
  ASSERT_EQ(::kill(victims[0], SIGKILL), 0);
  const auto killed_at = elapsed();
  int status = 0;
  pid_t done = 0;
  while ((done = waitpid(launcher, &status, WNOHANG)) == 0 && elapsed() - killed_at < 60)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (done == 0) {
    ::kill(launcher, SIGKILL);
    waitpid(launcher, &status, 0);
    FAIL() << "the job did not end within 60 s of a rank's death";
  }
  EXPECT_FALSE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << rt::read_text(dir / "killed.log");
  std::printf("the job ended %.1f s after rank 1 was killed\n", elapsed() - killed_at);

  // The checkpoint left behind is whole; resuming with 2 ranks ends where the uninterrupted run did.
  auto r = rt::run_command(train_command(2, job, killed, "--resume"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(same_parameters(dir / "whole", killed));
}

namespace {
// Every row of a ratings.h5 dataset as bytes, keyed by cell id.
std::map<int64_t, std::string> rows_by_cell(const fs::path& ratings, const char* name) {
  auto f = h5::open_file_read_only(ratings.string());
  auto ids = h5::open_row_dataset(f, "cell_id");
  auto ds = h5::open_row_dataset(f, name);
  const auto dims = h5::dataset_dims(ds);
  const size_t rows = dims[0], width = dims.size() > 1 ? dims[1] : 1;
  std::vector<int64_t> id(rows);
  h5::read_rows(ids, H5T_NATIVE_INT64, 0, rows, id.data());
  std::vector<double> values(rows * width);
  h5::read_rows(ds, H5T_NATIVE_DOUBLE, 0, rows, values.data());
  std::map<int64_t, std::string> out;
  for (size_t i = 0; i < rows; ++i)
    out[id[i]] = std::string(reinterpret_cast<const char*>(values.data() + i * width), width * sizeof(double));
  return out;
}
}  // namespace

// rate under mpirun: each rank rates its slabs into its own part folder, rank 0 writes parts.json,
// and the parts together are the single process's ratings, cell for cell and bit for bit.
TEST(TrainRanks, RateOverRanksWritesPartsThatTogetherAreTheSingleRating) {
  REQUIRE_MPI();
  const fs::path dir = rt::scratch_dir();
  const fs::path job = small_job(dir, 1);
  ASSERT_EQ(rt::run_command(train_command(1, job, dir / "run")).exit_code, 0);
  const std::string rate = std::string(RESILINET_BIN) + " rate --quiet --checkpoint " + (dir / "run/checkpoint.h5").string() +
                           " --data '" + (dir / "data/*.h5").string() + "' --format hdf5 --out ";
  ASSERT_EQ(rt::run_command(rate + (dir / "one").string()).exit_code, 0);
  auto r = rt::run_command(std::string(kMpiEnv) + "mpirun --oversubscribe -n 3 " + rate + (dir / "three").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;

  const auto manifest = nlohmann::json::parse(rt::read_text(dir / "three" / "parts.json"));
  EXPECT_EQ(manifest["ranks"], 3);
  EXPECT_EQ(manifest["rows"], 12000);
  ASSERT_EQ(manifest["parts"].size(), 3u);
  for (const char* name : {"level", "cluster_level", "q", "z", "lonlat", "region"}) {
    SCOPED_TRACE(name);
    const auto want = rows_by_cell(dir / "one" / "ratings.h5", name);
    std::map<int64_t, std::string> got;
    int64_t rows = 0;
    for (const auto& part : manifest["parts"]) {
      const auto rows_of_part = rows_by_cell(dir / "three" / part["folder"].get<std::string>() / "ratings.h5", name);
      EXPECT_EQ(int64_t(rows_of_part.size()), part["rows"].get<int64_t>());
      EXPECT_GT(rows_of_part.size(), 0u);  // every rank had cells
      rows += int64_t(rows_of_part.size());
      got.insert(rows_of_part.begin(), rows_of_part.end());
    }
    EXPECT_EQ(rows, 12000);  // no cell twice
    EXPECT_TRUE(got == want);
  }
  // The level counts of the manifest are those of the single rating.
  std::vector<int64_t> counts(5, 0);
  for (const auto& [id, bytes] : rows_by_cell(dir / "one" / "ratings.h5", "level")) {
    double level;
    std::memcpy(&level, bytes.data(), sizeof(level));
    ++counts[size_t(level) - 1];
  }
  EXPECT_EQ(manifest["level_counts"].get<std::vector<int64_t>>(), counts);
}

// explain under mpirun: each rank's relevance.h5 holds its cells' relevance exactly as one process
// computes it, and rank 0's explain_summary.json (sums over the ranks) is the single process's up
// to the order of its double sums.
TEST(TrainRanks, ExplainOverRanksWritesPartsAndTheSummaryOfAll) {
  REQUIRE_MPI();
  const fs::path dir = rt::scratch_dir();
  const fs::path job = small_job(dir, 1);
  ASSERT_EQ(rt::run_command(train_command(1, job, dir / "run")).exit_code, 0);
  const std::string explain = std::string(RESILINET_BIN) + " explain --quiet --checkpoint " +
                              (dir / "run/checkpoint.h5").string() + " --data '" + (dir / "data/*.h5").string() + "' --out ";
  ASSERT_EQ(rt::run_command(explain + (dir / "one").string()).exit_code, 0);
  auto r = rt::run_command(std::string(kMpiEnv) + "mpirun --oversubscribe -n 2 " + explain + (dir / "two").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;

  const auto manifest = nlohmann::json::parse(rt::read_text(dir / "two" / "parts.json"));
  ASSERT_EQ(manifest["parts"].size(), 2u);
  EXPECT_EQ(manifest["rows"], 12000);
  for (const char* name : {"relevance", "gradient_x_input", "level", "seed_level"}) {
    SCOPED_TRACE(name);
    std::map<int64_t, std::string> got;
    for (const auto& part : manifest["parts"]) {
      const auto rows = rows_by_cell(dir / "two" / part["folder"].get<std::string>() / "relevance.h5", name);
      EXPECT_EQ(int64_t(rows.size()), part["rows"].get<int64_t>());
      got.insert(rows.begin(), rows.end());
    }
    EXPECT_TRUE(got == rows_by_cell(dir / "one" / "relevance.h5", name));
  }
  const auto one = nlohmann::json::parse(rt::read_text(dir / "one" / "explain_summary.json"));
  auto two = nlohmann::json::parse(rt::read_text(dir / "two" / "explain_summary.json"));
  EXPECT_EQ(two["cells"], 12000);
  EXPECT_EQ(json_difference(one, two, 1e-12), "");
  EXPECT_NE(json_difference(one["relevance"], two["gradient_x_input"], 1e-12), "");  // the check can fail
}
