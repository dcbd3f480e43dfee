#include "src/platform/real_mounter.h"

#include <stdlib.h>
#include <sys/mount.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "gtest/gtest.h"

namespace cellar {
namespace {

// Needs root (mount(2)); runs outside Bazel's sandbox.
class RealMounterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    std::string pattern = "/tmp/cellar-mount-XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    target_ = dir_ + "/with space";
    ASSERT_EQ(mkdir(target_.c_str(), 0755), 0);
  }
  void TearDown() override {
    if (dir_.empty()) return;
    // Clean up even when an assertion failed half-way.
    while (umount2(target_.c_str(), MNT_DETACH) == 0) {
    }
    rmdir(target_.c_str());
    rmdir(dir_.c_str());
  }
  std::string dir_, target_;
  RealMounter mounter_;
};

TEST_F(RealMounterTest, MountListRemountUnmount) {
  MountRequest request;
  request.source = "cellar-test";
  request.target = target_;
  request.fs_type = "tmpfs";
  request.flags = MS_NOSUID | MS_NODEV;
  request.data = "size=1m";
  ASSERT_TRUE(mounter_.Mount(request).ok());

  auto table = mounter_.ListMounts();
  ASSERT_TRUE(table.ok()) << table.status();
  auto at = MountsAt(*table, target_);
  ASSERT_EQ(at.size(), 1u);
  EXPECT_EQ(at[0].fs_type, "tmpfs");
  EXPECT_EQ(at[0].source, "cellar-test");
  EXPECT_TRUE(at[0].HasMountOption("nosuid"));
  EXPECT_TRUE(at[0].HasMountOption("rw"));

  // A read-only bind remount, as a read-only publish does.
  MountRequest bind;
  bind.source = target_;
  bind.target = target_;
  bind.flags = MS_BIND;
  ASSERT_TRUE(mounter_.Mount(bind).ok());
  MountRequest remount;
  remount.target = target_;
  remount.flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV;
  ASSERT_TRUE(mounter_.Mount(remount).ok());
  at = MountsAt(*mounter_.ListMounts(), target_);
  ASSERT_EQ(at.size(), 2u);
  EXPECT_TRUE(at.back().HasMountOption("ro"));
  const std::string file = target_ + "/x";
  EXPECT_EQ(creat(file.c_str(), 0644), -1);
  EXPECT_EQ(errno, EROFS);

  EXPECT_TRUE(mounter_.Unmount(target_, false).ok());
  EXPECT_TRUE(mounter_.Unmount(target_, false).ok());
  EXPECT_EQ(mounter_.Unmount(target_, false).code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(MountsAt(*mounter_.ListMounts(), target_).empty());
}

TEST_F(RealMounterTest, ErrorsMapToCodes) {
  MountRequest request;
  request.source = "none";
  request.target = dir_ + "/missing";
  request.fs_type = "tmpfs";
  EXPECT_EQ(mounter_.Mount(request).code(), absl::StatusCode::kNotFound);
  request.target = target_;
  request.fs_type = "no-such-fs";
  EXPECT_EQ(mounter_.Mount(request).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(mounter_.Unmount(dir_ + "/missing", false).code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace cellar
