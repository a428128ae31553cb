#include "trainer/outputs/run_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include "datasets/input_error.hpp"

namespace resilinet {

RunLock::RunLock(const std::string& dir, const std::string& field) : file_(path(dir)) {
  const std::string& file = file_;
  for (;;) {
    fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw InputError(file, field, "a run folder this process can write", std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int error = errno;
      char holder[32] = {};
      const ssize_t n = ::pread(fd_, holder, sizeof(holder) - 1, 0);
      ::close(fd_);
      fd_ = -1;
      if (error != EWOULDBLOCK) throw InputError(file, field, "a run folder that can be locked", std::strerror(error));
      std::string pid = n > 0 ? std::string(holder, size_t(n)) : "unknown";
      while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
      throw InputError(file, field, "a run folder no other train is writing into",
                       "it is locked by process " + pid);
    }
    // A holder that gives a folder back removes the file before it lets go (remove()): a lock on
    // a file no longer under that name guards nothing, so take the one there now.
    struct stat held {}, named {};
    if (::fstat(fd_, &held) != 0 ||
        (::stat(file.c_str(), &named) == 0 && held.st_dev == named.st_dev && held.st_ino == named.st_ino))
      break;
    ::close(fd_);
    fd_ = -1;
  }
  // Who holds it, for the message of the next one that tries.
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) == 0) (void)!::pwrite(fd_, pid.data(), pid.size(), 0);
  // NAME.tmp-DIGITS: what atomic writers (checkpoint, shards, outputs) leave when killed mid-write.
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    const size_t at = name.rfind(".tmp-");
    if (at == std::string::npos || at == 0 || at + 5 == name.size()) continue;
    if (name.find_first_not_of("0123456789", at + 5) != std::string::npos || !entry.is_regular_file(ec)) continue;
    if (std::filesystem::remove(entry.path(), ec)) removed_.push_back(name);
  }
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

void RunLock::remove() {
  if (fd_ < 0) return;
  ::unlink(file_.c_str());  // while still held: no one takes a lock on it in between
  ::close(fd_);
  fd_ = -1;
}

}  // namespace resilinet
