// The one exception type for bad user input (config, file or data). It carries the file, the field,
// what was expected and what was found; the CLI prints it as one line and exits with code 2.
// Internal failures use other exception types and exit with code 1.
#pragma once
#include <stdexcept>
#include <string>

namespace resilinet {

class InputError : public std::runtime_error {
 public:
  InputError(std::string file, std::string field, std::string expected, std::string found = "")
      : std::runtime_error(format(file, field, expected, found)),
        file_(std::move(file)), field_(std::move(field)),
        expected_(std::move(expected)), found_(std::move(found)) {}

  const std::string& file() const { return file_; }
  const std::string& field() const { return field_; }
  const std::string& expected() const { return expected_; }
  const std::string& found() const { return found_; }

 private:
  static std::string format(const std::string& file, const std::string& field,
                            const std::string& expected, const std::string& found) {
    std::string s = file.empty() ? std::string("<input>") : file;
    if (!field.empty()) s += ": " + field;
    s += ": expected " + expected;
    if (!found.empty()) s += ", found " + found;
    return s;
  }
  std::string file_, field_, expected_, found_;
};

}  // namespace resilinet
