// Name checks declared in datasets/text.hpp.
#include "datasets/text.hpp"

#include <fmt/format.h>

#include "datasets/input_error.hpp"

namespace resilinet {
namespace {

// Length of the UTF-8 sequence starting at s[i], or 0 when it is not a valid one (overlong forms,
// surrogates and code points above U+10FFFF are invalid: RFC 3629).
size_t utf8_sequence(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) n = 2;
  else if (c == 0xE0) n = 3, lo = 0xA0;
  else if (c >= 0xE1 && c <= 0xEC) n = 3;
  else if (c == 0xED) n = 3, hi = 0x9F;
  else if (c >= 0xEE && c <= 0xEF) n = 3;
  else if (c == 0xF0) n = 4, lo = 0x90;
  else if (c >= 0xF1 && c <= 0xF3) n = 4;
  else if (c == 0xF4) n = 4, hi = 0x8F;
  else return 0;
  if (i + n > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k)
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  return n;
}

}  // namespace

std::string name_problem(std::string_view text, size_t max_bytes, bool free_text) {
  if (text.size() > max_bytes) return fmt::format("{} bytes", text.size());
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const bool layout = c == '\t' || c == '\n' || c == '\r';
    if ((c < 0x20 || c == 0x7F) && !(free_text && layout)) return fmt::format("a control character (0x{:02X}) at byte {}", c, i);
    size_t n = utf8_sequence(text, i);
    if (n == 0) return fmt::format("invalid UTF-8 at byte {}", i);
    i += n;
  }
  return "";
}

void check_name(const std::string& file, const std::string& field, std::string_view text,
                size_t max_bytes) {
  std::string problem = name_problem(text, max_bytes);
  if (!problem.empty())
    throw InputError(file, field,
                     fmt::format("UTF-8 text of at most {} bytes without control characters",
                                 max_bytes),
                     problem);
}

void check_free_text(const std::string& file, const std::string& field, std::string_view text) {
  std::string problem = name_problem(text, kMaxTextBytes, true);
  if (!problem.empty())
    throw InputError(file, field, fmt::format("UTF-8 text of at most {} bytes", kMaxTextBytes),
                     problem);
}

}  // namespace resilinet
