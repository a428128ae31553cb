// Terminal progress and JSON-lines metrics.
#include "trainer/outputs/progress.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "datasets/input_error.hpp"
#include "datasets/output_files.hpp"

namespace resilinet {

Progress::Progress(const std::string& metrics_path, bool quiet) : quiet_(quiet) {
  tty_ = isatty(fileno(stderr)) != 0;
  if (metrics_path.empty()) return;
  metrics_path_ = metrics_path;
  metrics_ = std::fopen(metrics_path.c_str(), "a");
  if (!metrics_) throw InputError(metrics_path, "", "a writable metrics file", std::strerror(errno));
}

Progress::~Progress() {
  if (metrics_) std::fclose(metrics_);
}

void Progress::begin(const std::string& stage, uint64_t total_steps) {
  stage_ = stage;
  total_ = total_steps;
  start_ = last_ = Clock::now();
  last_quarter_ = 0;
}

void Progress::update(uint64_t step, const std::string& detail, uint64_t samples_done) {
  update(step, [&] { return detail; }, samples_done);
}

void Progress::update(uint64_t step, const std::function<std::string()>& detail, uint64_t samples_done) {
  if (quiet_) return;
  auto now = Clock::now();
  double elapsed = std::chrono::duration<double>(now - start_).count();
  // Off a terminal (batch logs) a line per quarter reached, and none for a stage shorter than
  // kQuietSeconds: its end line is enough.
  const int quarter = total_ ? int(4 * std::min(step, total_) / total_) : 0;
  const bool due = tty_ ? std::chrono::duration<double>(now - last_).count() > 0.25
                        : quarter > last_quarter_ && quarter < 4 && elapsed >= kQuietSeconds;
  if (!due) return;
  last_ = now;
  last_quarter_ = quarter;
  double rate = elapsed > 0 ? samples_done / elapsed : 0;
  double eta = (total_ && step > 0) ? elapsed * double(total_ - std::min(step, total_)) / step : 0;
  std::string line = fmt::format("[{}] step {}/{} {} {:.0f} samples/s ETA {:.0f}s", stage_, step,
                                 total_, detail(), rate, eta);
  if (tty_) std::fprintf(stderr, "\r%-100s", line.c_str());
  else std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

void Progress::end(const std::string& summary) {
  if (quiet_) return;
  double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  if (tty_) std::fprintf(stderr, "\r%-100s\r", "");
  std::fprintf(stderr, "[%s] done in %.1fs: %s\n", stage_.c_str(), elapsed, summary.c_str());
  std::fflush(stderr);
}

void Progress::record(nlohmann::json record) {
  if (!metrics_) return;
  if (!record.contains("stage")) record["stage"] = stage_;
  std::string line = record.dump() + "\n";
  if (std::fwrite(line.data(), 1, line.size(), metrics_) != line.size() || std::fflush(metrics_) != 0)
    throw WriteError(metrics_path_, std::strerror(errno));
}

void Progress::message(const std::string& line) {
  if (quiet_) return;
  std::fprintf(stderr, "%s\n", line.c_str());
}

}  // namespace resilinet
