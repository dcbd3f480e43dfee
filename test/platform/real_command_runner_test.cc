#include "src/platform/real_command_runner.h"

#include <signal.h>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace cellar {
namespace {

TEST(RealCommandRunnerTest, CapturesOutputAndExitCode) {
  RealCommandRunner runner;
  Command command;
  command.argv = {"sh", "-c", "echo out; echo err >&2; exit 3"};
  auto result = runner.Run(command);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 3);
  EXPECT_FALSE(result->Succeeded());
  EXPECT_EQ(result->stdout_data, "out\n");
  EXPECT_EQ(result->stderr_data, "err\n");
  EXPECT_NE(DescribeFailure(command, *result).find("exit status 3: err"),
            std::string::npos)
      << DescribeFailure(command, *result);
}

TEST(RealCommandRunnerTest, NoShellInterpretation) {
  RealCommandRunner runner;
  Command command;
  command.argv = {"echo", "$(id)", "; rm -rf /", "`x`"};
  auto result = runner.Run(command);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->stdout_data, "$(id) ; rm -rf / `x`\n");
}

TEST(RealCommandRunnerTest, EnvironmentIsCLocaleOnly) {
  setenv("CELLAR_LEAK_CHECK", "leaked", 1);
  RealCommandRunner runner;
  Command command;
  command.argv = {"env"};
  auto result = runner.Run(command);
  ASSERT_TRUE(result.ok());
  EXPECT_NE(result->stdout_data.find("LC_ALL=C\n"), std::string::npos);
  EXPECT_EQ(result->stdout_data.find("leaked"), std::string::npos);
}

TEST(RealCommandRunnerTest, StdinIsEmpty) {
  // Nothing is ever written to a program's stdin (secrets go through
  // libcryptsetup, not a tool): it reads end of file at once, never our
  // own stdin.
  RealCommandRunner runner;
  Command command;
  command.argv = {"cat"};
  command.timeout = absl::Seconds(10);
  auto result = runner.Run(command);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->Succeeded());
  EXPECT_FALSE(result->timed_out);
  EXPECT_EQ(result->stdout_data, "");
}

TEST(RealCommandRunnerTest, TimeoutKillsTheWholeGroup) {
  RealCommandRunner runner;
  Command command;
  // The child shell starts a grandchild; both must die.
  command.argv = {"sh", "-c", "sleep 30 & sleep 30; echo never"};
  command.timeout = absl::Milliseconds(300);
  const absl::Time start = absl::Now();
  auto result = runner.Run(command);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->timed_out);
  EXPECT_EQ(result->term_signal, SIGKILL);
  EXPECT_FALSE(result->Succeeded());
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));
  EXPECT_NE(DescribeFailure(command, *result).find("timed out"),
            std::string::npos);
}

TEST(RealCommandRunnerTest, LargeOutputIsBoundedAndDrained) {
  RealCommandRunner runner;
  Command command;
  command.argv = {"head", "-c", "5000000", "/dev/zero"};
  command.max_output_bytes = 4096;
  auto result = runner.Run(command);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->Succeeded());
  EXPECT_EQ(result->stdout_data.size(), 4096u);
  EXPECT_TRUE(result->output_truncated);
}

TEST(RealCommandRunnerTest, SignalIsReported) {
  RealCommandRunner runner;
  Command command;
  command.argv = {"sh", "-c", "kill -TERM $$"};
  auto result = runner.Run(command);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->term_signal, SIGTERM);
  EXPECT_FALSE(result->Succeeded());
}

TEST(RealCommandRunnerTest, MissingProgramIsNotFound) {
  RealCommandRunner runner;
  Command command;
  command.argv = {"cellar-no-such-program"};
  EXPECT_EQ(runner.Run(command).status().code(), absl::StatusCode::kNotFound);
  command.argv = {"/nonexistent/bin/x"};
  EXPECT_EQ(runner.Run(command).status().code(), absl::StatusCode::kNotFound);
  command.argv = {};
  EXPECT_EQ(runner.Run(command).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cellar
