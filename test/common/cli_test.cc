#include "src/common/cli.h"

#include "absl/flags/flag.h"
#include "gtest/gtest.h"

ABSL_FLAG(std::string, cli_test_flag, "dflt", "a flag for the help test");

namespace cellar {
namespace {

TEST(CliTest, DashedNamesBecomeUnderscored) {
  const std::vector<std::string> in = {
      "prog",         "--data-dir=/a-b/c-d", "--log-level", "debug",
      "-node-id=x-y", "positional-arg",      "--",          "--not-a-flag"};
  const std::vector<std::string> want = {
      "prog",         "--data_dir=/a-b/c-d", "--log_level", "debug",
      "-node_id=x-y", "positional-arg",      "--",          "--not-a-flag"};
  EXPECT_EQ(NormalizeFlagArgs(in), want);
}

TEST(CliTest, UnderscoresAndShortArgsUntouched) {
  const std::vector<std::string> in = {"prog", "--data_dir=/x", "-h", "-", ""};
  EXPECT_EQ(NormalizeFlagArgs(in), in);
}

TEST(CliTest, HelpListsDashedFlagsFromTheDefiningFile) {
  const std::string help = FlagHelp("usage line", "test/common/cli_test.cc");
  EXPECT_NE(help.find("usage line"), std::string::npos);
  EXPECT_NE(help.find("--cli-test-flag (a flag for the help test); default: "
                      "\"dflt\""),
            std::string::npos)
      << help;
  EXPECT_EQ(help.find("cli_test_flag"), std::string::npos);
}

}  // namespace
}  // namespace cellar
