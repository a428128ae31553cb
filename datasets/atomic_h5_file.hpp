// An HDF5 output file that appears under its final name only when complete: created under a
// temporary name in the same folder; commit() flushes, closes and renames; destruction without
// commit removes the temporary file. Datasets opened on it must be closed before commit().
#pragma once
#include <unistd.h>

#include <filesystem>
#include <string>

#include "datasets/h5.hpp"

namespace resilinet {

class AtomicH5File {
 public:
  explicit AtomicH5File(std::string path)
      : path_(std::move(path)), temp_(path_ + ".tmp-" + std::to_string(::getpid())),
        file_(h5::create_file(temp_)) {}
  ~AtomicH5File() {
    if (committed_) return;
    file_.reset();
    std::error_code ignored;
    std::filesystem::remove(temp_, ignored);
  }
  AtomicH5File(const AtomicH5File&) = delete;
  AtomicH5File& operator=(const AtomicH5File&) = delete;

  hid_t id() const { return file_.get(); }
  operator hid_t() const { return file_.get(); }
  const std::string& path() const { return path_; }

  void commit() {
    RESILINET_H5(H5Fflush(file_, H5F_SCOPE_GLOBAL));
    file_.close("H5Fclose");
    std::filesystem::rename(temp_, path_);
    committed_ = true;
  }

 private:
  std::string path_, temp_;
  h5::File file_;
  bool committed_ = false;
};

}  // namespace resilinet
