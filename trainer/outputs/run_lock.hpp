// One train at a time per run folder: an exclusive lock on RUN_DIR/.lock (flock), held for the
// life of the object. The kernel drops it when the process ends, however it ends, so a crashed
// run leaves no stale lock; the file itself stays and holds the holder's process id.
#pragma once
#include "trainer/outputs/room.hpp"
#include <string>

namespace resilinet {

class RunLock {
 public:
  // Takes the lock or throws InputError naming the lock file, `field` and the process holding it
  // (exit code 2); nothing in the folder is touched in that case.
  RunLock(const std::string& dir, const std::string& field);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

  static std::string path(const std::string& dir) { return dir + "/.lock"; }

 private:
  int fd_ = -1;
};

}  // namespace resilinet
