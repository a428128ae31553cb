// What the libFuzzer harnesses share: a scratch folder per process (under $TMPDIR or /tmp, removed
// at exit), writing the fuzzed bytes to a file there, and the rule every harness checks: bad input
// may only fail as resilinet::InputError (the CLI's exit 2). Any other exception would reach main()
// as "internal error" (exit 1), which counts as a defect, so it is printed and the process aborts
// (libFuzzer then keeps the input as a crash). RESILINET_FUZZ_VERBOSE=1 prints every InputError.
#pragma once
#include <cxxabi.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>
#include <typeinfo>

#include "datasets/input_error.hpp"

namespace resilinet::fuzz {

// The process's scratch folder, created on first use and removed when the process exits normally
// (scripts/fuzz.sh also points TMPDIR at a folder it removes, for runs that end in a crash).
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/resilinet-fuzz-XXXXXX";
    if (!::mkdtemp(pattern.data())) {
      std::perror("resilinet fuzz: mkdtemp");
      std::abort();
    }
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch_dir(), ec);
    });
    return std::filesystem::path(pattern);
  }();
  return dir;
}

// Writes data to scratch_dir()/name (replacing it) and returns the path. Each write gets a
// modification time of its own (a counter), so that readers that remember files they have checked
// by path, size and modification time (datasets/untrusted_file.hpp) see every input as a new file:
// two inputs of one size written within one tick of the file system clock would otherwise look
// the same, and a result would depend on the input before it.
inline std::string write_scratch_file(const std::string& name, const uint8_t* data, size_t size) {
  const std::string path = (scratch_dir() / name).string();
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || (size > 0 && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
    std::perror(("resilinet fuzz: writing " + path).c_str());
    std::abort();
  }
  static long long writes = 0;
  ++writes;
  const timespec times[2] = {{writes / 1000000000, writes % 1000000000},
                             {writes / 1000000000, writes % 1000000000}};
  if (::utimensat(AT_FDCWD, path.c_str(), times, 0) != 0) {
    std::perror(("resilinet fuzz: setting the time of " + path).c_str());
    std::abort();
  }
  return path;
}

inline std::string type_name_of(const std::type_info& type) {
  int status = 0;
  char* name = abi::__cxa_demangle(type.name(), nullptr, nullptr, &status);
  std::string result = status == 0 && name ? name : type.name();
  std::free(name);
  return result;
}

[[noreturn]] inline void defect(const std::string& what) {
  std::fprintf(stderr, "\n==resilinet fuzz== DEFECT: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

// Runs body; returns true when it finished, false when it threw InputError (bad input, fine).
// Anything else that escapes is a defect: printed, then abort().
template <class Body>
bool expect_input_error_only(Body&& body) {
  try {
    body();
    return true;
  } catch (const InputError& e) {
    // RESILINET_FUZZ_VERBOSE=1: show why an input was refused (to check that seeds are accepted).
    static const bool verbose = std::getenv("RESILINET_FUZZ_VERBOSE") != nullptr;
    if (verbose) std::fprintf(stderr, "InputError: %s\n", e.what());
    return false;
  } catch (const std::exception& e) {
    defect("exception other than InputError escaped (the CLI would exit 1, internal error): " +
           type_name_of(typeid(e)) + ": " + e.what());
  } catch (...) {
    const std::type_info* type = abi::__cxa_current_exception_type();
    defect("a non-std exception escaped (the CLI would exit 1, internal error): " +
           (type ? type_name_of(*type) : std::string("unknown type")));
  }
}

}  // namespace resilinet::fuzz
