// One writer at a time per output folder (a train's run folder, a synth's --out): an exclusive lock
// on DIR/.lock (flock), held for the life of the object. The kernel drops it when the process
// ends, however it ends, so a crashed run leaves no stale lock; the file itself stays and holds
// the holder's process id. Whoever takes the lock also removes the temporaries (NAME.tmp-PID) a
// killed writer left in the folder: with the lock held, no live process is writing them.
#pragma once
#include "trainer/outputs/room.hpp"
#include <string>
#include <vector>

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
  // The stale temporaries removed when the lock was taken (file names), for the caller to report.
  const std::vector<std::string>& removed() const { return removed_; }
  // Gives back a folder this holder made and is about to remove: deletes the lock file while it
  // is still held, then releases it. A train that opened the file before takes the lock anew.
  void remove();

 private:
  std::string file_;
  int fd_ = -1;
  std::vector<std::string> removed_;
};

}  // namespace resilinet
