// Names and labels read from users' files (feature, system, unit and region names) end up in
// JSON, CSV, GeoJSON and HDF5 outputs. They must be valid UTF-8 (the JSON writer refuses anything
// else) without noncharacters (U+FFFE and the like), free of control characters (a NUL cuts an
// HDF5 string short, a newline breaks a CSV row) and bounded. Every reader checks them here, so
// no output can be broken by one.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace resilinet {

constexpr size_t kMaxNameBytes = 1024;
constexpr size_t kMaxTextBytes = 65536;

// What is wrong with `text` as a name ("" when nothing is), e.g. "invalid UTF-8 at byte 3".
// Free text (descriptions) may also hold tabs and line breaks.
std::string name_problem(std::string_view text, size_t max_bytes = kMaxNameBytes,
                         bool free_text = false);

// Throws InputError(file, field, ...) when name_problem(text) is not empty.
void check_name(const std::string& file, const std::string& field, std::string_view text,
                size_t max_bytes = kMaxNameBytes);
// The same for free text: UTF-8 of at most kMaxTextBytes; tabs and line breaks allowed.
void check_free_text(const std::string& file, const std::string& field, std::string_view text);

}  // namespace resilinet

namespace resilinet {

// `text` as a terminal shows it unchanged, on one line: control bytes and bytes that are not UTF-8
// become \xNN, invisible and combining code points \u{XXXX}. A message that echoes a file's value
// then shows what differs between two values that would print alike (a zero-width space, a
// decomposed accent) and cannot move the cursor or recolour the terminal.
std::string printable(std::string_view text);

}  // namespace resilinet
