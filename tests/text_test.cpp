// Tests of the name checks (datasets/text.hpp) on the UTF-8 forms RFC 3629 allows and refuses,
// noncharacters, control characters, and the length bound.
#include <string>

#include <gtest/gtest.h>

#include "datasets/input_error.hpp"
#include "datasets/text.hpp"

using namespace resilinet;

TEST(NameProblem, AcceptsUtf8OfEveryLength) {
  EXPECT_EQ(name_problem(""), "");
  EXPECT_EQ(name_problem("harris county"), "");
  EXPECT_EQ(name_problem("Qu\xC3\xA9" "bec"), "");                 // 2 bytes: e acute
  EXPECT_EQ(name_problem("\xE2\x82\xAC per capita"), "");          // 3 bytes: euro sign
  EXPECT_EQ(name_problem("\xF0\x9F\x8F\xA5 hospitals"), "");       // 4 bytes: U+1F3E5
  EXPECT_EQ(name_problem("\xF4\x8F\xBF\xBD"), "");                 // U+10FFFD, the last character
  EXPECT_EQ(name_problem("\xEF\xB7\x8F \xEF\xB7\xB0 \xEF\xBF\xBD"), "");  // U+FDCF, U+FDF0, U+FFFD
  EXPECT_EQ(name_problem(std::string(kMaxNameBytes, 'a')), "");
}

TEST(NameProblem, RefusesInvalidUtf8ControlCharactersAndLength) {
  EXPECT_EQ(name_problem("Qu\xE9" "bec"), "invalid UTF-8 at byte 2");     // Latin-1
  EXPECT_EQ(name_problem("ab\xC3"), "invalid UTF-8 at byte 2");           // cut short
  EXPECT_EQ(name_problem("\xC0\xAF"), "invalid UTF-8 at byte 0");         // overlong '/'
  EXPECT_EQ(name_problem("\xE0\x80\xAF"), "invalid UTF-8 at byte 0");     // overlong, 3 bytes
  EXPECT_EQ(name_problem("\xED\xA0\x80"), "invalid UTF-8 at byte 0");     // surrogate U+D800
  EXPECT_EQ(name_problem("\xF4\x90\x80\x80"), "invalid UTF-8 at byte 0"); // above U+10FFFF
  EXPECT_EQ(name_problem("x\x80"), "invalid UTF-8 at byte 1");            // lone continuation
  // Noncharacters: U+FDD0..U+FDEF and the last two code points of each plane.
  EXPECT_EQ(name_problem("a\xEF\xB7\x90"), "a noncharacter (U+FDD0) at byte 1");
  EXPECT_EQ(name_problem("\xEF\xB7\xAF"), "a noncharacter (U+FDEF) at byte 0");
  EXPECT_EQ(name_problem("\xEF\xBF\xBE"), "a noncharacter (U+FFFE) at byte 0");
  EXPECT_EQ(name_problem("\xF0\x9F\xBF\xBF"), "a noncharacter (U+1FFFF) at byte 0");
  EXPECT_EQ(name_problem("\xF4\x8F\xBF\xBF"), "a noncharacter (U+10FFFF) at byte 0");
  EXPECT_EQ(name_problem(std::string("a\0b", 3)), "a control character (0x00) at byte 1");
  EXPECT_EQ(name_problem("a\nb"), "a control character (0x0A) at byte 1");
  EXPECT_EQ(name_problem("a\x7F"), "a control character (0x7F) at byte 1");
  EXPECT_EQ(name_problem(std::string(kMaxNameBytes + 1, 'a')), "1025 bytes");
  // Free text keeps its line breaks and tabs, nothing else.
  EXPECT_EQ(name_problem("line one\n\tline two\r\n", kMaxTextBytes, true), "");
  EXPECT_EQ(name_problem("bell\a", kMaxTextBytes, true), "a control character (0x07) at byte 4");
}

TEST(CheckName, ThrowsInputErrorNamingFileAndField) {
  try {
    check_name("shard.h5", "region_names[2]", "Qu\xE9" "bec");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()),
              "shard.h5: region_names[2]: expected UTF-8 text of at most 1024 bytes without "
              "control characters or noncharacters, found invalid UTF-8 at byte 2");
  }
}

TEST(PrintableName, KeepsVisibleUtf8) {
  EXPECT_EQ(printable(""), "");
  EXPECT_EQ(printable("harris county: expected 'years'"), "harris county: expected 'years'");
  EXPECT_EQ(printable("ann\xC3\xA9" "es"), "ann\xC3\xA9" "es");                  // precomposed e acute
  EXPECT_EQ(printable("\xE2\x80\xA6 \xF0\x9F\x8F\xA5"), "\xE2\x80\xA6 \xF0\x9F\x8F\xA5");  // ellipsis, U+1F3E5
}

TEST(PrintableName, EscapesControlBytesAndInvalidUtf8) {
  EXPECT_EQ(printable("se\x1B[2Jed"), "se\\x1B[2Jed");
  EXPECT_EQ(printable("dev\r\nice\t\a\x7F"), "dev\\x0D\\x0Aice\\x09\\x07\\x7F");
  EXPECT_EQ(printable(std::string("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(printable("P\xD6V"), "P\\xD6V");                  // Latin-1
  EXPECT_EQ(printable("ab\xC3"), "ab\\xC3");                  // cut short
  EXPECT_EQ(printable("\xED\xA0\x80"), "\\xED\\xA0\\x80");    // surrogate U+D800
}

TEST(PrintableName, EscapesInvisibleAndCombiningCodePoints) {
  EXPECT_EQ(printable("years\xE2\x80\x8B"), "years\\u{200B}");             // zero-width space
  EXPECT_EQ(printable("anne\xCC\x81" "es"), "anne\\u{0301}es");            // decomposed e acute
  EXPECT_EQ(printable("\xC2\x85\xC2\xAD"), "\\u{0085}\\u{00AD}");          // NEL, soft hyphen
  EXPECT_EQ(printable("\xE2\x80\xAE" "abc"), "\\u{202E}abc");              // right-to-left override
  EXPECT_EQ(printable("\xE2\x80\xA8\xE2\x81\xA0\xEF\xBB\xBF"), "\\u{2028}\\u{2060}\\u{FEFF}");
  EXPECT_EQ(printable("\xF3\xA0\x80\x81"), "\\u{E0001}");                  // language tag
  // Values that print alike print differently.
  EXPECT_NE(printable("ann\xC3\xA9" "es"), printable("anne\xCC\x81" "es"));
}
