// A text output file that appears under its final name only when complete: writes go to a
// temporary file in the same directory, commit() renames it; destruction without commit removes it.
#pragma once
#include "trainer/outputs/room.hpp"
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "datasets/input_error.hpp"
#include "datasets/output_files.hpp"

namespace resilinet {

class AtomicTextFile {
 public:
  explicit AtomicTextFile(std::string path)
      : path_(std::move(path)), temp_(path_ + ".tmp-" + std::to_string(::getpid())) {
    file_ = std::fopen(temp_.c_str(), "w");
    if (!file_) throw InputError(path_, "", "a writable output path", std::strerror(errno));
  }
  ~AtomicTextFile() {
    if (file_) std::fclose(file_);
    if (!committed_) {
      std::error_code ignored;
      std::filesystem::remove(temp_, ignored);
    }
  }
  AtomicTextFile(const AtomicTextFile&) = delete;
  AtomicTextFile& operator=(const AtomicTextFile&) = delete;

  void write(const std::string& text) { std::fwrite(text.data(), 1, text.size(), file_); }
  std::FILE* handle() { return file_; }

  void commit() {
    errno = 0;
    bool ok = std::fflush(file_) == 0 && !std::ferror(file_);
    const int error = errno;
    ok = (std::fclose(file_) == 0) && ok;
    file_ = nullptr;
    if (!ok) throw WriteError(path_, std::strerror(error ? error : errno));
    std::filesystem::rename(temp_, path_);
    committed_ = true;
  }

 private:
  std::string path_, temp_;
  std::FILE* file_ = nullptr;
  bool committed_ = false;
};

// Writes a whole text file atomically.
inline void write_text_atomically(const std::string& path, const std::string& text) {
  AtomicTextFile f(path);
  f.write(text);
  f.commit();
}

}  // namespace resilinet
