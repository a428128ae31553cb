// CLI11's parse errors as resilinet's one-line bad input. CLI11 words its errors its own way
// (without "expected", with a second line "Run with --help") and reads whole numbers with
// strtoull, so "-1" wraps in an unsigned option and 300 digits saturate; these helpers make both
// follow the rules of every other input.
#pragma once
#include "trainer/commands/room.hpp"
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "datasets/input_error.hpp"

namespace resilinet {

// Checks every whole-number option of every subcommand of `app` as decimal digits within 64 bits
// before CLI11 converts it. Call once all subcommands are added.
void check_whole_numbers(CLI::App& app);

// A CLI11 parse error as "command line: FIELD: expected X, found Y".
InputError parse_error(CLI::App& app, const CLI::ParseError& e);

// Digit runs longer than 20 shown by their ends and length: "999…999 (300 digits)".
std::string shorten_numbers(std::string_view text);

}  // namespace resilinet
