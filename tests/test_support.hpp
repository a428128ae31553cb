// Helpers shared by tests: run the resilinet binary and capture its exit code and output, and make
// a fresh scratch directory per test. Paths come from compile definitions set in tests/CMakeLists.txt.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace resilinet::testing {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// RESILINET_TEST_SMALL (set by scripts/sanitize-check.sh; any value but "" or "0"): reduced sizes,
// for runs under sanitizers, which are several times slower. Tests of statistical quality at full
// size skip; others shrink their data where their checks still hold.
inline bool small_tests() {
  const char* v = std::getenv("RESILINET_TEST_SMALL");
  return v && *v && std::string(v) != "0";
}

// Runs a shell command and captures its output (stdout and stderr) and exit code.
inline CommandResult run_command(const std::string& command) {
  std::string cmd = command + " 2>&1";
  CommandResult r;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return r;
  std::array<char, 4096> buf{};
  while (size_t n = fread(buf.data(), 1, buf.size(), pipe)) r.output.append(buf.data(), n);
  int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// Runs `resilinet <args>` through the shell (args are passed as written) and captures output.
inline CommandResult run_resilinet(const std::string& args) {
  return run_command(std::string(RESILINET_BIN) + " " + args);
}

// This test process's folder under the system's temporary directory; every scratch folder is in it.
inline std::filesystem::path test_process_root() {
  return std::filesystem::temp_directory_path() / ("resilinet-test-" + std::to_string(::getpid()));
}

// Removes the process's folder after the last test when every test passed (a failure's files stay
// for a look): a suite run leaves hundreds of MB of data and runs there, and each run is a new pid.
class RemoveTestFilesOnSuccess : public ::testing::Environment {
 public:
  void TearDown() override {
    if (!::testing::UnitTest::GetInstance()->Passed()) return;
    std::error_code ignored;
    std::filesystem::remove_all(test_process_root(), ignored);
  }
};
inline ::testing::Environment* const kRemoveTestFilesOnSuccess =
    ::testing::AddGlobalTestEnvironment(new RemoveTestFilesOnSuccess);

// A scratch directory named after the running test, emptied at creation.
inline std::filesystem::path scratch_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string(info->test_suite_name()) + "." + info->name();
  for (auto& c : name) if (c == '/') c = '_';
  auto dir = test_process_root() / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace resilinet::testing
