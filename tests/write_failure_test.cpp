// Write failures and impossible output paths, for every command that writes. Past `ulimit -f`
// (as on a full disk) a command ends with exit 1 and the one line "cannot write PATH: reason",
// with no crash at exit and nothing under the final name; an output folder that cannot be made
// is bad input (exit 2) naming it.
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test_support.hpp"

namespace rt = resilinet::testing;
namespace fs = std::filesystem;

namespace {

// A small synthetic set and a quickly trained checkpoint, made once per process.
struct Made {
  fs::path dir;
  std::string data, checkpoint;
};

const Made& made() {
  static const Made m = [] {
    Made m;
    m.dir = rt::test_process_root() / "write-failure";
    fs::remove_all(m.dir);
    fs::create_directories(m.dir);
    auto r = rt::run_resilinet("synth --quiet --cells 600 --out " + (m.dir / "data").string());
    EXPECT_EQ(r.exit_code, 0) << r.output;
    m.data = "'" + (m.dir / "data" / "*.h5").string() + "'";
    rt::write_text(m.dir / "quick.yaml",
                   "pretrain: {epochs: 2, min_steps: 0}\n"
                   "idec: {max_epochs: 1}\n"
                   "classifier: {epochs: 1, min_steps: 0}\n"
                   "run: {threads: 1}\n");
    r = rt::run_resilinet("train --quiet --config " + (m.dir / "quick.yaml").string() + " --data " +
                          m.data + " --run-dir " + (m.dir / "run").string());
    EXPECT_EQ(r.exit_code, 0) << r.output;
    m.checkpoint = (m.dir / "run" / "checkpoint.h5").string();
    return m;
  }();
  return m;
}

// Files left in `dir` (recursively), relative names.
std::vector<std::string> files_in(const fs::path& dir) {
  std::vector<std::string> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out.push_back(fs::relative(e.path(), dir).string());
  return out;
}

struct Case {
  const char* name;
  std::string args;          // after the binary; OUT stands for the output folder
  std::string failed_file;   // the final name the error must give, relative to OUT
  std::vector<std::string> never_written;  // final names that must not exist afterwards
};

std::string with_out(std::string args, const fs::path& out) {
  for (size_t at; (at = args.find("OUT")) != std::string::npos;) args.replace(at, 3, out.string());
  return args;
}

}  // namespace

TEST(WriteFailure, EveryCommandStopsWithOneLineAndLeavesNoTornOutput) {
  const Made& m = made();
  const std::string ck = " --checkpoint " + m.checkpoint + " --data " + m.data;
  const std::vector<Case> cases = {
      {"synth", "synth --quiet --cells 3000 --out OUT", "part-00000.h5", {"part-00000.h5"}},
      {"train", "train --quiet --config " + (m.dir / "quick.yaml").string() + " --data " + m.data +
                    " --run-dir OUT",
       "checkpoint.h5", {"checkpoint.h5", "metrics.json"}},
      {"rate", "rate --quiet" + ck + " --out OUT", "ratings.h5",
       {"ratings.h5", "ratings.csv", "ratings.geojson"}},
      {"explain", "explain --quiet" + ck + " --out OUT", "relevance.h5",
       {"relevance.h5", "relevance.csv", "explain_summary.json"}},
      {"report", "report --quiet" + ck + " --out OUT", "report.json", {"report.json", "report.html"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const fs::path out = m.dir / (std::string("full_") + c.name);
    // 8 KiB a file: every command gets going, and its largest output cannot be written.
    auto r = rt::run_command("ulimit -f 8 && " + std::string(RESILINET_BIN) + " " + with_out(c.args, out));
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_EQ(r.output, "resilinet: error: cannot write " + (out / c.failed_file).string() +
                            ": File too large\n");
    for (const std::string& f : files_in(out)) {
      EXPECT_EQ(f.find(".tmp-"), std::string::npos) << f;
      for (const std::string& never : c.never_written) EXPECT_NE(f, never);
    }
  }
}

TEST(WriteFailure, AnOutputFolderThatCannotBeMadeIsBadInput) {
  const Made& m = made();
  rt::write_text(m.dir / "a_file", "not a folder\n");
  const std::string blocked = (m.dir / "a_file" / "out").string();
  const std::string ck = " --checkpoint " + m.checkpoint + " --data " + m.data;
  for (const std::string& args :
       {"synth --quiet --cells 300 --out " + blocked, "rate --quiet" + ck + " --out " + blocked,
        "explain --quiet" + ck + " --out " + blocked, "report --quiet" + ck + " --out " + blocked,
        "train --quiet --data " + m.data + " --run-dir " + blocked}) {
    SCOPED_TRACE(args);
    auto r = rt::run_resilinet(args);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find(blocked + ": "), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("expected a folder that can be created"), std::string::npos) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  }
}
