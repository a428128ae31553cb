// Output folders and write failures: datasets/output_files.hpp.
#include "datasets/output_files.hpp"

#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <system_error>

#include "datasets/input_error.hpp"

namespace resilinet {

void make_output_dir(const std::string& dir, const std::string& field) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (!fs::is_directory(dir))
    throw InputError(dir, field, "a folder that can be created",
                     ec ? ec.message() : "a file of that name");
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    throw InputError(dir, field, "a writable folder", std::error_code(errno, std::generic_category()).message());
}

std::string final_output_name(const std::string& path) {
  const size_t tmp = path.rfind(".tmp-");
  if (tmp == std::string::npos || tmp + 5 == path.size()) return path;
  for (size_t i = tmp + 5; i < path.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(path[i]))) return path;
  return path.substr(0, tmp);
}

}  // namespace resilinet
