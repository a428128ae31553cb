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

// The code point of the valid sequence of n bytes at s[i].
char32_t code_point(std::string_view s, size_t i, size_t n) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  char32_t cp = n == 1 ? c : c & (0xFF >> (n + 1));
  for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  return cp;
}

// U+FDD0..U+FDEF and the last two code points of every plane: reserved for a program's own use,
// never text (yaml-cpp's writer replaces them).
bool noncharacter(char32_t cp) { return (cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFE) == 0xFFFE; }

}  // namespace

std::string name_problem(std::string_view text, size_t max_bytes, bool free_text) {
  if (text.size() > max_bytes) return fmt::format("{} bytes", text.size());
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const bool layout = c == '\t' || c == '\n' || c == '\r';
    if ((c < 0x20 || c == 0x7F) && !(free_text && layout)) return fmt::format("a control character (0x{:02X}) at byte {}", c, i);
    size_t n = utf8_sequence(text, i);
    if (n == 0) return fmt::format("invalid UTF-8 at byte {}", i);
    if (const char32_t cp = code_point(text, i, n); noncharacter(cp))
      return fmt::format("a noncharacter (U+{:04X}) at byte {}", static_cast<unsigned>(cp), i);
    i += n;
  }
  return "";
}

void check_name(const std::string& file, const std::string& field, std::string_view text,
                size_t max_bytes) {
  std::string problem = name_problem(text, max_bytes);
  if (!problem.empty())
    throw InputError(
        file, field,
        fmt::format("UTF-8 text of at most {} bytes without control characters or noncharacters",
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

namespace resilinet {
namespace {

// Code points a reader cannot see or that change the glyph before them: C1 controls, format
// characters (soft hyphen, zero-width and bidirectional marks, tags), line and paragraph
// separators, combining marks and variation selectors.
bool invisible(char32_t cp) {
  struct Range {
    char32_t first, last;
  };
  static constexpr Range kRanges[] = {
      {0x0080, 0x009F}, {0x00AD, 0x00AD}, {0x0300, 0x036F}, {0x0600, 0x0605}, {0x061C, 0x061C},
      {0x06DD, 0x06DD}, {0x070F, 0x070F}, {0x0890, 0x0891}, {0x08E2, 0x08E2}, {0x180E, 0x180E},
      {0x1AB0, 0x1AFF}, {0x1DC0, 0x1DFF}, {0x200B, 0x200F}, {0x2028, 0x202E}, {0x2060, 0x206F},
      {0x20D0, 0x20FF}, {0xFE00, 0xFE0F}, {0xFE20, 0xFE2F}, {0xFEFF, 0xFEFF}, {0xFFF9, 0xFFFB},
      {0x110BD, 0x110BD}, {0x110CD, 0x110CD}, {0x13430, 0x1343F}, {0x1BCA0, 0x1BCA3},
      {0x1D173, 0x1D17A}, {0xE0000, 0xE007F}, {0xE0100, 0xE01EF}};
  for (const Range& r : kRanges)
    if (cp >= r.first && cp <= r.last) return true;
  return false;
}

}  // namespace

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const size_t n = utf8_sequence(text, i);
    if (c < 0x20 || c == 0x7F || n == 0) {
      out += fmt::format("\\x{:02X}", c);
      ++i;
      continue;
    }
    const char32_t cp = code_point(text, i, n);
    if (invisible(cp))
      out += fmt::format("\\u{{{:04X}}}", static_cast<unsigned>(cp));
    else
      out.append(text.substr(i, n));
    i += n;
  }
  return out;
}

}  // namespace resilinet
