// Runs the `resilinet` binary as a child process, as a benchmark runs each training: its own
// memory (peak RSS measured by the kernel), its own log, and no survivor when the bench dies.
#pragma once
#include "trainer/bench/room.hpp"
#include <string>
#include <vector>

namespace resilinet {

struct ChildRun {
  int exit_code = -1;     // the child's exit status; 128 + N when killed by signal N
  double seconds = 0;     // wall-clock time
  long peak_rss_kb = 0;   // the child's largest resident set (getrusage's ru_maxrss)
};

// This program's own executable (/proc/self/exe), so children run the same build.
std::string self_executable();

// Runs argv[0] with argv, stdout and stderr appended to log_path, and waits for it. The child is
// killed if the thread that started it ends (the bench was killed), so a killed bench leaves no
// training running. Thread-safe: each call waits for its own child.
ChildRun run_child(const std::vector<std::string>& argv, const std::string& log_path);

// The last line of a log (within its last max_bytes), for a failed child's message.
std::string log_tail(const std::string& log_path, size_t max_bytes = 600);

}  // namespace resilinet
