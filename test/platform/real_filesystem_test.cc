#include "src/platform/real_filesystem.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gtest/gtest.h"

namespace cellar {
namespace {

class RealFileSystemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = getenv("TEST_TMPDIR");
    std::string pattern = std::string(tmp ? tmp : "/tmp") + "/fsXXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::string cmd = "rm -rf '" + dir_ + "'";
    ASSERT_EQ(system(cmd.c_str()), 0);
  }
  std::string dir_;
  RealFileSystem fs_;
};

TEST_F(RealFileSystemTest, MakeDirsStatAndRemove) {
  const std::string deep = dir_ + "/a/b/c";
  ASSERT_TRUE(fs_.MakeDirs(deep, 0750).ok());
  ASSERT_TRUE(fs_.MakeDirs(deep, 0750).ok());  // idempotent
  auto info = fs_.Stat(deep);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->type, FileType::kDirectory);
  EXPECT_EQ(fs_.Remove(dir_ + "/a").code(),
            absl::StatusCode::kFailedPrecondition);  // not empty
  EXPECT_TRUE(fs_.Remove(deep).ok());
  EXPECT_TRUE(fs_.Remove(deep).ok());  // missing is fine
  EXPECT_EQ(fs_.Stat(deep).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(fs_.MakeDirs("relative/path", 0755).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(RealFileSystemTest, MakeDirsOverAFileFails) {
  ASSERT_TRUE(fs_.CreateFile(dir_ + "/f", 0600).ok());
  EXPECT_EQ(fs_.MakeDirs(dir_ + "/f", 0755).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(RealFileSystemTest, AtomicWriteReplacesAndLeavesNoTemp) {
  const std::string path = dir_ + "/meta";
  ASSERT_TRUE(fs_.WriteFileAtomic(path, "one", 0600).ok());
  ASSERT_TRUE(fs_.WriteFileAtomic(path, "two", 0600).ok());
  EXPECT_EQ(*fs_.ReadFile(path), "two");
  auto names = fs_.ListDir(dir_);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, std::vector<std::string>{"meta"});
  EXPECT_EQ(fs_.Stat(path)->mode, 0600u);
}

TEST_F(RealFileSystemTest, StatDoesNotFollowSymlinks) {
  ASSERT_EQ(symlink("/etc", (dir_ + "/link").c_str()), 0);
  auto info = fs_.Stat(dir_ + "/link");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->type, FileType::kSymlink);
  // CreateFile refuses to write through a symlink.
  ASSERT_EQ(symlink(dir_.c_str(), (dir_ + "/dirlink").c_str()), 0);
  ASSERT_EQ(symlink((dir_ + "/target").c_str(), (dir_ + "/flink").c_str()), 0);
  EXPECT_FALSE(fs_.CreateFile(dir_ + "/flink", 0600).ok());
  EXPECT_EQ(fs_.Stat(dir_ + "/target").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(RealFileSystemTest, StatFsReportsSpace) {
  auto stats = fs_.StatFs(dir_);
  ASSERT_TRUE(stats.ok());
  EXPECT_GT(stats->total_bytes, 0u);
  EXPECT_LE(stats->available_bytes, stats->free_bytes);
  EXPECT_LE(stats->free_bytes, stats->total_bytes);
}

TEST_F(RealFileSystemTest, SetGroupAndSetgid) {
  ASSERT_TRUE(fs_.MakeDirs(dir_ + "/vol", 0755).ok());
  ASSERT_TRUE(fs_.SetOwnerGroupMode(dir_, dir_ + "/vol", getgid(), 02770).ok());
  auto info = fs_.Stat(dir_ + "/vol");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->mode, 02770u);
  EXPECT_EQ(info->gid, getgid());
}

TEST_F(RealFileSystemTest, ConfinedCallsFollowNoSymlink) {
  // A file outside the confinement, reachable through a symlink inside it.
  const std::string outside = dir_ + "-outside";
  ASSERT_TRUE(fs_.MakeDirs(outside, 0755).ok());
  ASSERT_TRUE(fs_.CreateFile(outside + "/victim", 0600).ok());
  const std::string root = dir_ + "/root";
  ASSERT_TRUE(fs_.MakeDirs(root, 0755).ok());
  ASSERT_EQ(symlink(outside.c_str(), (root + "/link").c_str()), 0);
  EXPECT_EQ(
      fs_.SetOwnerGroupMode(root, root + "/link/victim", 4242, 02777).code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(fs_.SetOwnerGroupMode(root, root + "/link", 4242, 02777).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(fs_.RemoveEmpty(root, root + "/link/victim").code(),
            absl::StatusCode::kInvalidArgument);
  auto victim = fs_.Stat(outside + "/victim");
  ASSERT_TRUE(victim.ok());
  EXPECT_EQ(victim->mode, 0600u);
  EXPECT_NE(victim->gid, 4242u);
  // Nothing is created through the link either.
  EXPECT_EQ(fs_.MakeDirsBelow(root, root + "/link/made", 0755).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(fs_.CreateFileBelow(root, root + "/link/made-file", 0600).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(fs_.CreateFileBelow(root, root + "/link", 0600).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(fs_.Stat(outside + "/made").ok());
  EXPECT_FALSE(fs_.Stat(outside + "/made-file").ok());
  ASSERT_TRUE(fs_.MakeDirsBelow(root, root + "/a/b/c", 0755).ok());
  ASSERT_TRUE(fs_.CreateFileBelow(root, root + "/a/b/c/f", 0600).ok());
  EXPECT_EQ(fs_.Stat(root + "/a/b/c/f")->type, FileType::kRegular);
  for (const char* leftover : {"/a/b/c/f", "/a/b/c", "/a/b", "/a"}) {
    ASSERT_TRUE(fs_.RemoveEmpty(root, root + leftover).ok()) << leftover;
  }
  // RemoveEmpty removes empty files and directories only.
  ASSERT_TRUE(fs_.CreateFile(root + "/empty", 0600).ok());
  ASSERT_TRUE(fs_.WriteFileAtomic(root + "/full", "data", 0600).ok());
  ASSERT_TRUE(fs_.MakeDirs(root + "/dir/sub", 0755).ok());
  EXPECT_TRUE(fs_.RemoveEmpty(root, root + "/empty").ok());
  EXPECT_EQ(fs_.RemoveEmpty(root, root + "/full").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(fs_.RemoveEmpty(root, root + "/dir").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(fs_.RemoveEmpty(root, root + "/dir/sub").ok());
  EXPECT_TRUE(fs_.RemoveEmpty(root, root + "/dir").ok());
  EXPECT_TRUE(fs_.RemoveEmpty(root, root + "/never").ok());
  EXPECT_TRUE(fs_.Stat(root + "/full").ok());
  unlink((root + "/link").c_str());
  unlink((root + "/full").c_str());
  rmdir(root.c_str());
  unlink((outside + "/victim").c_str());
  rmdir(outside.c_str());
}

TEST_F(RealFileSystemTest, MissingThingsAreNotFound) {
  EXPECT_EQ(fs_.ReadFile(dir_ + "/none").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(fs_.ListDir(dir_ + "/none").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(fs_.StatFs(dir_ + "/none").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace cellar
