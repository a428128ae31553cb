// The child-process probe of datasets/untrusted_file.hpp.
#include "datasets/untrusted_file.hpp"

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

#include "datasets/h5.hpp"
#include "datasets/input_error.hpp"

// The sanitizers' hook for a last word before a report ends the process; libFuzzer sets it to save
// the input as a crash. Weak: absent (null) outside sanitizer builds.
extern "C" void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

namespace resilinet {
namespace {

unsigned probe_seconds() {
  const char* text = std::getenv("RESILINET_FILE_PROBE_SECONDS");
  if (!text || !*text) return 10;
  char* end = nullptr;
  unsigned long v = std::strtoul(text, &end, 10);
  return (*end == '\0' && v >= 1 && v <= 3600) ? unsigned(v) : 10;
}

bool address_sanitizer() {
#if defined(__SANITIZE_ADDRESS__)
  return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  return true;
#endif
#endif
  return false;
}

// Caps the child's heap 2 GiB above what it inherited, so that a file claiming huge sizes makes
// allocations fail instead of filling the machine. Not under AddressSanitizer, whose shadow
// memory counts against the limit.
void limit_child_memory() {
  if (address_sanitizer()) return;
  std::ifstream status("/proc/self/status");
  std::string key;
  unsigned long long kib = 0;
  while (status >> key) {
    if (key == "VmData:") {
      status >> kib;
      break;
    }
  }
  const rlim_t bytes = rlim_t(kib) * 1024 + (rlim_t(2) << 30);
  const rlimit limit{bytes, bytes};
  setrlimit(RLIMIT_DATA, &limit);
}

std::pair<off_t, int64_t> file_version(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {-1, 0};
  return {st.st_size, int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

}  // namespace

bool CheckedFiles::contains(const std::string& path) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = checked_.find(path);
  return it != checked_.end() && it->second == file_version(path);
}

void CheckedFiles::mark(const std::string& path) {
  std::lock_guard<std::mutex> lock(mutex_);
  checked_[path] = file_version(path);
}

void probe_untrusted_file(const std::string& path, const std::function<void()>& read) {
  static CheckedFiles probed;
  if (probed.contains(path)) return;
  const unsigned seconds = probe_seconds();
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return;  // no pipe to spare: read it here, as without the probe
  std::fflush(nullptr);                // nothing buffered is written twice
  const pid_t child = ::fork();
  if (child < 0) {
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    return;
  }
  if (child == 0) {
    ::close(pipe_fds[0]);
    // A crash here is the verdict, not an event for handlers the parent installed (a fuzzer's,
    // a sanitizer's): die of the signal.
    for (int signal : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL, SIGALRM}) std::signal(signal, SIG_DFL);
    // Likewise a sanitizer's report here (libhdf5 reading past a corrupt header) ends the child
    // only, without the parent's death callback (libFuzzer's would file the input as a crash).
    if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(nullptr);
    ::alarm(seconds);
    limit_child_memory();
    // The child's verdict: nothing when the reads succeed, else the error's four parts.
    std::string verdict;
    try {
      read();
    } catch (const InputError& e) {
      verdict = e.file() + '\0' + e.field() + '\0' + e.expected() + '\0' + e.found();
    } catch (const h5::Error& e) {
      verdict = path + '\0' + '\0' + "a readable HDF5 file" + '\0' + e.detail();
    } catch (const std::exception& e) {
      verdict = path + '\0' + '\0' + "a readable HDF5 file" + '\0' + e.what();
    }
    for (size_t done = 0; done < verdict.size();) {
      ssize_t n = ::write(pipe_fds[1], verdict.data() + done, verdict.size() - done);
      if (n <= 0) break;
      done += size_t(n);
    }
    ::_exit(0);  // no exit handlers: they belong to the parent
  }
  ::close(pipe_fds[1]);
  std::string verdict;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(pipe_fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    verdict.append(buffer, size_t(n));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) {
    const int signal = WTERMSIG(status);
    throw InputError(path, "", "a readable HDF5 file",
                     signal == SIGALRM
                         ? fmt::format("a corrupt file: reading its metadata did not finish in {} s", seconds)
                         : fmt::format("a corrupt file: reading its metadata crashed libhdf5 ({})",
                                       strsignal(signal)));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0)  // ended by someone else's handler (a sanitizer's)
    throw InputError(path, "", "a readable HDF5 file",
                     fmt::format("a corrupt file: reading its metadata failed (exit status {})",
                                 WEXITSTATUS(status)));
  if (!verdict.empty()) {
    // The child failed cleanly, within its memory cap: report that error rather than read the
    // file again here without the cap.
    std::string parts[4];
    size_t part = 0;
    for (char c : verdict) {
      if (c == '\0' && part < 3) ++part;
      else parts[part] += c;
    }
    throw InputError(parts[0], parts[1], parts[2], parts[3]);
  }
  probed.mark(path);
}

}  // namespace resilinet
