// Undoing a failed train's changes to its run folder (trainer/stages/train_run.cpp uses it).
#pragma once
#include "trainer/outputs/room.hpp"
#include <unistd.h>

#include <cstdint>
#include <exception>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "trainer/outputs/run_lock.hpp"

namespace resilinet {

// What a train changes in its run folder, undone if it fails before it has written a checkpoint:
// such a run leaves the folder as it found it (the files it made go, the ones it replaced or
// appended to come back, a folder it made goes with its lock). From its first checkpoint on, the
// folder holds a run to resume, and config.yaml and metrics.jsonl stay with it.
class RunFolderChanges {
 public:
  // Made before the run folder: notes the folders that making it creates.
  explicit RunFolderChanges(std::string dir) : dir_(std::move(dir)), exceptions_(std::uncaught_exceptions()) {
    namespace fs = std::filesystem;
    fs::path p = fs::path(dir_).lexically_normal();
    if (!p.has_filename()) p = p.parent_path();
    for (std::error_code ec; !p.empty() && fs::symlink_status(p, ec).type() == fs::file_type::not_found;
         p = p.parent_path())
      new_dirs_.push_back(p);
  }
  RunFolderChanges(const RunFolderChanges&) = delete;
  RunFolderChanges& operator=(const RunFolderChanges&) = delete;
  // Undoes the changes if a failure unwinds the run before a checkpoint was written.
  ~RunFolderChanges() {
    if (std::uncaught_exceptions() > exceptions_ && !kept_) undo();
    else keep();
  }

  void locked(RunLock& lock) { lock_ = &lock; }
  // Before NAME is written anew: a file there is set aside, to come back if the run fails.
  void replace(const std::string& name) {
    File f{name, "", std::nullopt, exists(name)};
    if (f.existed) {
      f.aside = path(name) + ".previous.tmp-" + std::to_string(::getpid());
      std::error_code ec;
      std::filesystem::rename(path(name), f.aside, ec);
      if (ec) f.aside.clear();  // then it is left alone
    }
    files_.push_back(std::move(f));
  }
  // Before NAME is appended to: its size, to cut it back to if the run fails.
  void append(const std::string& name) {
    File f{name, "", std::nullopt, exists(name)};
    std::error_code ec;
    const std::uintmax_t size = std::filesystem::file_size(path(name), ec);
    if (f.existed && !ec) f.size = size;
    files_.push_back(std::move(f));
  }
  // The run has a checkpoint of its own, or ended well: what it wrote stays.
  void keep() {
    kept_ = true;
    for (File& f : files_)
      if (!f.aside.empty()) std::filesystem::remove(std::exchange(f.aside, ""), ignored_);
  }

 private:
  struct File {
    std::string name, aside;              // aside: the file replaced, under a temporary name
    std::optional<std::uintmax_t> size;  // of a file appended to
    bool existed = false;
  };
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  bool exists(const std::string& name) const {
    std::error_code ec;
    return std::filesystem::symlink_status(path(name), ec).type() != std::filesystem::file_type::not_found;
  }
  void undo() {
    for (auto f = files_.rbegin(); f != files_.rend(); ++f) {
      if (!f->aside.empty()) std::filesystem::rename(f->aside, path(f->name), ignored_);
      else if (f->size) std::filesystem::resize_file(path(f->name), *f->size, ignored_);
      else if (!f->existed) std::filesystem::remove(path(f->name), ignored_);
    }
    if (new_dirs_.empty()) return;
    if (lock_) lock_->remove();
    for (const auto& d : new_dirs_) ::rmdir(d.c_str());  // only if empty: nothing but this run's
  }

  std::string dir_;
  int exceptions_;
  std::vector<std::filesystem::path> new_dirs_;  // deepest first
  std::vector<File> files_;
  RunLock* lock_ = nullptr;
  bool kept_ = false;
  std::error_code ignored_;  // undoing is best effort: the failure being reported comes first
};

}  // namespace resilinet
