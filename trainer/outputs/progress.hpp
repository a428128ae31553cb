// Progress for long commands: a live line on a terminal (stage, epoch, loss, samples/s, ETA); off a
// terminal (batch logs) a line at 25, 50 and 75% of a stage that runs longer than 2 s, so a few lines
// per stage; an end line per stage either way; and metrics as JSON lines in the run folder for
// programs.
#pragma once
#include "trainer/outputs/room.hpp"
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

namespace resilinet {

class Progress {
 public:
  // metrics_path: JSON-lines file to append to ("" = none). quiet: no terminal output.
  explicit Progress(const std::string& metrics_path = "", bool quiet = false);
  ~Progress();

  void begin(const std::string& stage, uint64_t total_steps);
  // Reports progress within the current stage; throttled to a few updates per second.
  void update(uint64_t step, const std::string& detail, uint64_t samples_done);
  // The same, with the detail made only when a line is due (reading it may wait for a device).
  void update(uint64_t step, const std::function<std::string()>& detail, uint64_t samples_done);
  // Ends the stage with a summary line.
  void end(const std::string& summary);
  // Appends one record (with "stage" added) to the metrics file.
  void record(nlohmann::json record);
  void message(const std::string& line);

 private:
  using Clock = std::chrono::steady_clock;
  std::string metrics_path_;
  std::FILE* metrics_ = nullptr;
  bool quiet_ = false;
  bool tty_ = false;
  std::string stage_;
  uint64_t total_ = 0;
  Clock::time_point start_, last_;
  int last_quarter_ = 0;
  static constexpr double kQuietSeconds = 2.0;
};

}  // namespace resilinet
