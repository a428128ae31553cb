// CLI11's parse errors as resilinet's one-line bad input: trainer/commands/cli_errors.hpp.
#include "trainer/commands/cli_errors.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace resilinet {
namespace {

// An argument of hundreds of digits is shown by its ends and length: "999…999 (300 digits)".

std::string in_quotes(const std::string& value) { return "'" + value + "'"; }

// CLI11 reads whole numbers with strtoull/strtoll: "-1" wraps to 2^64-1 in an unsigned option, a

// number past 64 bits saturates to the largest one, and a leading 0 reads as octal. So every

// whole-number option of every command is checked here first, as decimal digits within 64 bits

// (passed on without leading zeros); each command checks the range that has a meaning for it.

CLI::Validator whole_number(bool is_unsigned) {
  return CLI::Validator(
      [is_unsigned](std::string& value) -> std::string {
        const std::string range = is_unsigned ? "a whole number from 0 to 2^64-1" : "a whole number from -2^63 to 2^63-1";
        std::string_view digits = value;
        const bool negative = !digits.empty() && digits[0] == '-';
        if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) digits.remove_prefix(1);
        if (digits.empty() || digits.find_first_not_of("0123456789") != std::string_view::npos)
          return std::string("expected a whole number") + (is_unsigned ? " >= 0" : "") + ", found " + in_quotes(value);
        digits.remove_prefix(std::min(digits.find_first_not_of('0'), digits.size() - 1));
        if (negative && is_unsigned && digits != "0") return "expected a whole number >= 0, found " + value;
        const std::string normal = (negative && digits != "0" ? "-" : "") + std::string(digits);
        const char *first = normal.data(), *last = first + normal.size();
        uint64_t u = 0;
        int64_t i = 0;
        const bool fits = is_unsigned ? std::from_chars(first, last, u).ec == std::errc()
                                      : std::from_chars(first, last, i).ec == std::errc();
        if (!fits) return "expected " + range + ", found " + value;
        value = normal;
        return "";
      },
      "");
}

template <class E> const E* as(const CLI::ParseError& e) { return dynamic_cast<const E*>(&e); }

// The command being parsed ("resilinet train"), or "resilinet" before one is named.

std::string command_path(CLI::App& app) {
  const std::vector<CLI::App*> parsed = app.get_subcommands();
  return parsed.empty() ? "resilinet" : "resilinet " + parsed.back()->get_name();
}

// The arguments left over, in the order given (CLI11's ExtrasError lists a subcommand's in

// reverse); `otherwise` when there are none.

std::string unparsed(CLI::App& app, const std::string& otherwise) {
  const std::vector<CLI::App*> parsed = app.get_subcommands();
  std::string args;
  for (const std::string& a : (parsed.empty() ? &app : parsed.back())->remaining()) args += (args.empty() ? "" : " ") + a;
  return args.empty() ? otherwise : args;
}

std::string command_names(CLI::App& app) {
  std::string names;
  for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; }))
    names += (names.empty() ? "" : ", ") + sub->get_name();
  return names;
}

// What a value of `option` must look like, for a value CLI11 could not convert. Options of type

// INT are int or int64_t, and only an int can fail once whole_number has passed the value.

std::string expected_value(CLI::App& app, const std::string& option) {
  std::string type;
  for (CLI::App* sub : app.get_subcommands())
    if (const CLI::Option* o = sub->get_option_no_throw(option)) type = o->get_type_name();
  type = type.substr(0, type.find(':'));
  if (type == "INT")
    return "a whole number from " + std::to_string(std::numeric_limits<int>::min()) + " to " +
           std::to_string(std::numeric_limits<int>::max());
  if (type == "UINT") return "a whole number from 0 to 2^64-1";
  if (type == "FLOAT") return "a number";
  return type.empty() ? "a valid value" : "a value of type " + type;
}

// A CLI11 parse error as the one line of every bad input, "command line: FIELD: expected X, found

// Y". CLI11 words its errors its own way (without "expected", with a second line); the shapes

// its parser and the validators in use produce are rewritten here, anything else is kept whole.

}  // namespace

std::string shorten_numbers(std::string_view text) {
  constexpr size_t kMostDigits = 20;
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t end = i;
    while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
    if (end == i) {
      out += text[i++];
    } else if (end - i > kMostDigits) {
      out += std::string(text.substr(i, 3)) + "\u2026" + std::string(text.substr(end - 3, 3)) + " (" +
             std::to_string(end - i) + " digits)";
    } else {
      out += text.substr(i, end - i);
    }
    i = std::max(i, end);
  }
  return out;
}

void check_whole_numbers(CLI::App& app) {
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    for (CLI::Option* option : sub->get_options()) {
      const std::string type = option->get_type_name();
      const std::string base = type.substr(0, type.find(':'));  // validators add ":DESCRIPTION"
      if (base == "INT" || base == "UINT") option->transform(whole_number(base == "UINT"));
    }
  }
}

InputError parse_error(CLI::App& app, const CLI::ParseError& e) {
  const std::string where = "command line", what = e.what();
  const size_t colon = what.find(": ");
  const std::string head = what.substr(0, colon), tail = colon == std::string::npos ? "" : what.substr(colon + 2);
  if (as<CLI::ConversionError>(e) && head == "Could not convert") {
    const size_t eq = tail.find(" = ");
    if (eq != std::string::npos) {
      const std::string option = tail.substr(0, eq);
      return InputError(where, option, expected_value(app, option), in_quotes(tail.substr(eq + 3)));
    }
  }
  if (as<CLI::ValidationError>(e) && colon != std::string::npos) {
    const size_t found = tail.rfind(", found ");
    if (tail.rfind("expected ", 0) == 0 && found != std::string::npos)  // whole_number's
      return InputError(where, head, tail.substr(9, found - 9), tail.substr(found + 8));
    const size_t in = tail.rfind(" not in {");
    if (in != std::string::npos && tail.back() == '}') {  // CLI::IsMember
      std::string members = tail.substr(in + 9, tail.size() - in - 10);
      for (size_t c = members.find(','); c != std::string::npos; c = members.find(',', c + 2)) members.replace(c, 1, ", ");
      return InputError(where, head, "one of " + members, in_quotes(tail.substr(0, in)));
    }
  }
  if (as<CLI::ExtrasError>(e) && colon != std::string::npos) {
    const std::string path = command_path(app);
    const std::string expected = path == "resilinet" ? "a command (" + command_names(app) + ")" : "an option of " + path;
    return InputError(where, "", expected, in_quotes(unparsed(app, tail)));
  }
  if (as<CLI::ExcludesError>(e)) {
    const size_t excludes = what.find(" excludes ");
    if (excludes != std::string::npos)
      return InputError(where, what.substr(0, excludes),
                                   "either " + what.substr(0, excludes) + " or " + what.substr(excludes + 10), "both");
  }
  if (as<CLI::ArgumentMismatch>(e) && what.rfind("-", 0) == 0 && tail.ends_with(" missing"))
    return InputError(where, head, "a value after the option", "none");
  if (as<CLI::RequiredError>(e)) {
    const size_t is = what.rfind(" is required");
    if (what.rfind("-", 0) == 0 && is != std::string::npos)
      return InputError(where, what.substr(0, is), "a value (the option is required)", "none");
    if (what.rfind("A subcommand", 0) == 0) {
      const std::string given = unparsed(app, "");
      return InputError(where, "", "a command (" + command_names(app) + ")",
                                   given.empty() ? "none" : in_quotes(given));
    }
  }
  return InputError(where, "", "arguments as --help describes them", what);
}

}  // namespace resilinet
