// Reading HDF5 files that may be corrupt or hostile.
//
// libhdf5 1.10 is not hardened against bad metadata: a global heap index past its table crashes
// it, and a string claiming 2^32 characters keeps it allocating for minutes. So the first open of
// a file in a process happens in a child process doing the same reads; only when the child
// reads successfully does the caller read the file itself. A child that crashes, fails or runs
// past its time makes the file bad input.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace resilinet {

// Runs `read` (which opens `path` and reads what the caller will) in a child process, once per
// version (size, modification time) of the file in this process. Throws InputError naming path
// when the child dies of a signal or takes longer than RESILINET_FILE_PROBE_SECONDS (default 10).
// When `read` throws in the child, the same error is thrown here, and the file is not read again
// without the child's memory cap.
void probe_untrusted_file(const std::string& path, const std::function<void()>& read);

// Remembers which versions (size, modification time) of files one check has passed, so that it
// runs once per file version. Keep one as a function-local static per check; thread-safe.
class CheckedFiles {
 public:
  // True when `path` in its current version has been marked.
  bool contains(const std::string& path) const;
  void mark(const std::string& path);

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::pair<off_t, int64_t>> checked_;
};

}  // namespace resilinet
