// Smoke test of the binary's exit-code contract: an unknown subcommand is a usage error (exit 2).
#include "test_support.hpp"

TEST(Cli, UnknownSubcommandExitsWithTwo) {
  auto r = resilinet::testing::run_resilinet("no-such-command");
  EXPECT_EQ(r.exit_code, 2) << r.output;
}

TEST(Cli, VersionPrintsVersion) {
  auto r = resilinet::testing::run_resilinet("--version");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find(RESILINET_VERSION), std::string::npos) << r.output;
}
