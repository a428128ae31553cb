// Output folders and write failures, the same for every command.
//
// A folder that cannot be created or written is bad input (exit 2: the user named it). A write
// that fails later, with the disk full or past `ulimit -f`, is a WriteError: exit 1 and one line
// "cannot write PATH: reason". Outputs are written under temporary names and renamed when
// complete (AtomicH5File, AtomicTextFile), so a failed write leaves nothing under a final name.
#pragma once
#include <stdexcept>
#include <string>

namespace resilinet {

class WriteError : public std::runtime_error {
 public:
  WriteError(const std::string& path, const std::string& reason)
      : std::runtime_error("cannot write " + path + ": " + reason) {}
};

// Creates `dir` and its parents for output; throws InputError naming `field` (e.g. "--out") when
// that is impossible (a file in the way, no permission, a read-only file system).
void make_output_dir(const std::string& dir, const std::string& field);

// The final name of a temporary output (PATH.tmp-PID -> PATH); other names are returned as is.
std::string final_output_name(const std::string& path);

}  // namespace resilinet
