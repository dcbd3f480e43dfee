// The fakes are used by every service test: they must behave like the
// real things in the ways the services rely on.
#include <sys/mount.h>

#include "gtest/gtest.h"
#include "test/fakes/fake_command_runner.h"
#include "test/fakes/fake_filesystem.h"
#include "test/fakes/fake_mounter.h"

namespace cellar {
namespace {

TEST(FakeMounterTest, StacksBindsAndRemounts) {
  FakeMounter mounter;
  ASSERT_TRUE(mounter.Mount({"/dev/loop1", "/stage", "ext4", 0, ""}).ok());
  ASSERT_TRUE(mounter.Mount({"/stage", "/target", "", MS_BIND, ""}).ok());
  ASSERT_TRUE(mounter
                  .Mount({"", "/target", "",
                          MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID, ""})
                  .ok());
  auto table = *mounter.ListMounts();
  auto target = MountsAt(table, "/target");
  ASSERT_EQ(target.size(), 1u);
  EXPECT_EQ(target[0].fs_type, "ext4");
  EXPECT_EQ(target[0].source, "/dev/loop1");
  EXPECT_TRUE(target[0].HasMountOption("ro"));
  EXPECT_TRUE(target[0].HasMountOption("nosuid"));
  EXPECT_TRUE(mounter.Unmount("/target", false).ok());
  EXPECT_EQ(mounter.Unmount("/target", false).code(),
            absl::StatusCode::kNotFound);
  mounter.FailNextMount(absl::PermissionDeniedError("no"));
  EXPECT_FALSE(mounter.Mount({"a", "/b", "ext4", 0, ""}).ok());
  EXPECT_TRUE(mounter.Mount({"a", "/b", "ext4", 0, ""}).ok());
  EXPECT_EQ(mounter.requests().size(), 5u);
}

TEST(FakeFileSystemTest, BehavesLikeATree) {
  FakeFileSystem fs;
  EXPECT_EQ(fs.CreateFile("/a/b", 0600).code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(fs.MakeDirs("/a/x/y", 0755).ok());
  ASSERT_TRUE(fs.CreateFile("/a/b", 0600).ok());
  EXPECT_EQ(fs.Remove("/a").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(*fs.ListDir("/a"), (std::vector<std::string>{"b", "x"}));
  ASSERT_TRUE(fs.WriteFileAtomic("/a/m", "data", 0600).ok());
  EXPECT_EQ(*fs.ReadFile("/a/m"), "data");
  EXPECT_EQ(fs.MakeDirs("/a/m", 0755).code(),
            absl::StatusCode::kFailedPrecondition);
  fs.AddSymlink("/a/l", "/etc");
  EXPECT_EQ(fs.Stat("/a/l")->type, FileType::kSymlink);
  ASSERT_TRUE(fs.SetOwnerGroupMode("/a", "/a/x", 1234, 02770).ok());
  EXPECT_EQ(fs.Stat("/a/x")->gid, 1234u);
  // Confined: no symlink below the root, nothing outside it.
  EXPECT_EQ(fs.SetOwnerGroupMode("/a", "/a/l/x", 1, 0700).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(fs.SetOwnerGroupMode("/a", "/b", 1, 0700).code(),
            absl::StatusCode::kInvalidArgument);
  // RemoveEmpty: only empty files and directories.
  fs.AddFile("/a/full", "data");
  EXPECT_EQ(fs.RemoveEmpty("/a", "/a/full").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(fs.RemoveEmpty("/a", "/a/x").code(),
            absl::StatusCode::kFailedPrecondition);  // holds y
  EXPECT_TRUE(fs.RemoveEmpty("/a", "/a/b").ok());
  EXPECT_TRUE(fs.RemoveEmpty("/a", "/a/x/y").ok());
  EXPECT_TRUE(fs.RemoveEmpty("/a", "/a/gone").ok());
  EXPECT_TRUE(fs.Stat("/a/full").ok());
  EXPECT_FALSE(fs.Stat("/a/b").ok());
  EXPECT_TRUE(fs.Remove("/nope").ok());
}

TEST(FakeCommandRunnerTest, AnswersAndRecords) {
  FakeCommandRunner runner;
  runner.SetResult("mkfs.ext4", 0, "done");
  Command mkfs;
  mkfs.argv = {"mkfs.ext4", "/dev/loop0"};
  auto ok = runner.Run(mkfs);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->stdout_data, "done");
  Command lvs;
  lvs.argv = {"lvm", "lvs"};
  EXPECT_EQ(runner.Run(lvs).status().code(), absl::StatusCode::kNotFound);
  ASSERT_EQ(runner.calls().size(), 2u);
  EXPECT_EQ(runner.calls()[0].argv[1], "/dev/loop0");
}

}  // namespace
}  // namespace cellar
