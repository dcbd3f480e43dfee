#include "src/common/command_tally.h"

#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace cellar {
namespace {

TEST(CommandTallyTest, CountsBaseNamesInNameOrderPerThread) {
  ResetCommandTally();
  EXPECT_EQ(CommandTallyText(), "-");
  TallyCommand("/usr/sbin/lvm");
  TallyCommand("mkfs.ext4");
  TallyCommand("lvm");
  EXPECT_EQ(CommandTallyText(), "lvm:2,mkfs.ext4:1");

  // Another thread has a tally of its own and leaves this one alone.
  std::string other;
  std::thread([&other] {
    TallyCommand("/sbin/blkid");
    other = CommandTallyText();
  }).join();
  EXPECT_EQ(other, "blkid:1");
  EXPECT_EQ(CommandTallyText(), "lvm:2,mkfs.ext4:1");

  ResetCommandTally();
  EXPECT_EQ(CommandTallyText(), "-");
}

}  // namespace
}  // namespace cellar
