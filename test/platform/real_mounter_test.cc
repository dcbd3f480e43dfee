#include "src/platform/real_mounter.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

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

// A bind that names its attributes has them from its first moment: it is
// read-only (and nosuid, nodev, noexec) as soon as it shows in the table,
// and never a read-write bind first. Also below a confining root.
TEST_F(RealMounterTest, ABindWithAttributesHasThemAtOnce) {
  MountRequest tmpfs;
  tmpfs.source = "cellar-test";
  tmpfs.target = target_;
  tmpfs.fs_type = "tmpfs";
  tmpfs.data = "size=1m";
  ASSERT_TRUE(mounter_.Mount(tmpfs).ok());
  const std::string inner = target_ + "/inner";
  ASSERT_EQ(mkdir(inner.c_str(), 0755), 0);
  for (const bool confined : {false, true}) {
    MountRequest bind;
    bind.source = target_;
    bind.target = inner;
    bind.flags = MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
    if (confined) bind.confine_to = dir_;
    ASSERT_TRUE(mounter_.Mount(bind).ok()) << confined;
    std::vector<MountEntry> at = MountsAt(*mounter_.ListMounts(), inner);
    ASSERT_EQ(at.size(), 1u);
    EXPECT_TRUE(at[0].HasMountOption("ro"));
    EXPECT_TRUE(at[0].HasMountOption("nosuid"));
    EXPECT_TRUE(at[0].HasMountOption("nodev"));
    EXPECT_TRUE(at[0].HasMountOption("noexec"));
    EXPECT_EQ(creat((inner + "/x").c_str(), 0644), -1);
    EXPECT_EQ(errno, EROFS);
    // The source stays writable: the attributes are the bind's own.
    const int fd = creat((target_ + "/y").c_str(), 0644);
    EXPECT_GE(fd, 0);
    if (fd >= 0) close(fd);
    ASSERT_TRUE(mounter_.Unmount(inner, false).ok());
  }
  // A read-write bind with nosuid/nodev only.
  MountRequest rw;
  rw.source = target_;
  rw.target = inner;
  rw.flags = MS_BIND | MS_NOSUID | MS_NODEV;
  ASSERT_TRUE(mounter_.Mount(rw).ok());
  std::vector<MountEntry> at = MountsAt(*mounter_.ListMounts(), inner);
  ASSERT_EQ(at.size(), 1u);
  EXPECT_TRUE(at[0].HasMountOption("rw"));
  EXPECT_TRUE(at[0].HasMountOption("nosuid"));
  ASSERT_TRUE(mounter_.Unmount(inner, false).ok());
  rmdir(inner.c_str());
  ASSERT_TRUE(mounter_.Unmount(target_, false).ok());
}

TEST_F(RealMounterTest, ErrorsMapToCodes) {
  MountRequest request;
  request.source = "none";
  request.target = dir_ + "/missing";
  request.fs_type = "tmpfs";
  EXPECT_EQ(mounter_.Mount(request).code(), absl::StatusCode::kNotFound);
  request.target = target_;
  request.fs_type = "no-such-fs";
  EXPECT_EQ(mounter_.Mount(request).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(mounter_.Unmount(dir_ + "/missing", false).code(),
            absl::StatusCode::kNotFound);
}

TEST_F(RealMounterTest, ConfinedMountsFollowNoSymlinkAndLandOnTheWalkedObject) {
  // A source directory and a target inside `dir_`, and a place outside that
  // a swapped-in symlink points to.
  const std::string source = dir_ + "/source";
  const std::string outside = dir_ + "-outside";
  ASSERT_EQ(mkdir(source.c_str(), 0755), 0);
  ASSERT_EQ(mkdir(outside.c_str(), 0755), 0);
  const int marker =
      open((source + "/marker").c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(marker, 0);
  close(marker);
  MountRequest bind;
  bind.source = source;
  bind.target = target_;
  bind.flags = MS_BIND;
  bind.confine_to = dir_;
  ASSERT_TRUE(mounter_.Mount(bind).ok());
  auto table = mounter_.ListMounts();
  ASSERT_TRUE(table.ok());
  // Landed at the real path (not at /proc/self/fd/N) and shows the source.
  ASSERT_EQ(MountsAt(*table, target_).size(), 1u);
  EXPECT_EQ(access((target_ + "/marker").c_str(), F_OK), 0);
  ASSERT_EQ(umount2(target_.c_str(), 0), 0);

  // The target's parent swapped for a symlink leading outside: refused,
  // nothing mounted anywhere.
  const std::string swapped = dir_ + "/swapped";
  ASSERT_EQ(symlink(outside.c_str(), swapped.c_str()), 0);
  bind.target = swapped + "/x";
  ASSERT_EQ(mkdir((outside + "/x").c_str(), 0755), 0);
  absl::Status refused = mounter_.Mount(bind);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument) << refused;
  // The final component a symlink: refused too.
  bind.target = swapped;
  EXPECT_EQ(mounter_.Mount(bind).code(), absl::StatusCode::kInvalidArgument);
  // A source through a symlink: refused.
  bind.source = swapped + "/x";
  bind.target = target_;
  EXPECT_EQ(mounter_.Mount(bind).code(), absl::StatusCode::kInvalidArgument);
  // A target outside the confinement: refused.
  bind.source = source;
  bind.target = outside + "/x";
  EXPECT_EQ(mounter_.Mount(bind).code(), absl::StatusCode::kInvalidArgument);
  table = mounter_.ListMounts();
  ASSERT_TRUE(table.ok());
  EXPECT_TRUE(MountsAt(*table, outside + "/x").empty());
  EXPECT_TRUE(MountsAt(*table, target_).empty());
  unlink(swapped.c_str());
  unlink((source + "/marker").c_str());
  rmdir((outside + "/x").c_str());
  rmdir(outside.c_str());
  rmdir(source.c_str());
}

TEST_F(RealMounterTest, ConfinedUnmountActsOnTheWalkedMountOnly) {
  // A mount outside the confinement, reachable through a symlink inside.
  const std::string outside = dir_ + "-elsewhere";
  ASSERT_EQ(mkdir(outside.c_str(), 0755), 0);
  ASSERT_EQ(mount("victim", outside.c_str(), "tmpfs", 0, "size=1m"), 0);
  const std::string link = dir_ + "/link";
  ASSERT_EQ(symlink(outside.c_str(), link.c_str()), 0);
  // The link itself is no mount (NOT_FOUND); through it, refused.
  EXPECT_EQ(mounter_.UnmountConfined(dir_, link).code(),
            absl::StatusCode::kNotFound);
  ASSERT_EQ(mkdir((outside + "/inner").c_str(), 0755), 0);
  ASSERT_EQ(mount("inner", (outside + "/inner").c_str(), "tmpfs", 0, "size=1m"),
            0);
  EXPECT_EQ(mounter_.UnmountConfined(dir_, link + "/inner").code(),
            absl::StatusCode::kInvalidArgument);
  auto inner = mounter_.ListMounts();
  ASSERT_TRUE(inner.ok());
  EXPECT_EQ(MountsAt(*inner, outside + "/inner").size(), 1u);
  umount2((outside + "/inner").c_str(), MNT_DETACH);
  rmdir((outside + "/inner").c_str());
  auto table = mounter_.ListMounts();
  ASSERT_TRUE(table.ok());
  EXPECT_EQ(MountsAt(*table, outside).size(), 1u) << "the victim was unmounted";
  // Nothing mounted at the target: NOT_FOUND; a mount there goes.
  EXPECT_EQ(mounter_.UnmountConfined(dir_, target_).code(),
            absl::StatusCode::kNotFound);
  ASSERT_EQ(mount("mine", target_.c_str(), "tmpfs", 0, "size=1m"), 0);
  // Busy (a file held open in it): refused, and still mounted.
  const int busy = open((target_ + "/held").c_str(), O_CREAT | O_RDWR, 0600);
  ASSERT_GE(busy, 0);
  EXPECT_EQ(mounter_.UnmountConfined(dir_, target_).code(),
            absl::StatusCode::kFailedPrecondition);
  close(busy);
  EXPECT_TRUE(mounter_.UnmountConfined(dir_, target_).ok());
  table = mounter_.ListMounts();
  ASSERT_TRUE(table.ok());
  EXPECT_TRUE(MountsAt(*table, target_).empty());
  unlink(link.c_str());
  umount2(outside.c_str(), MNT_DETACH);
  rmdir(outside.c_str());
}

}  // namespace
}  // namespace cellar
