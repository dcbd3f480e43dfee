// RealFsTools on real loop devices and the real mkfs tools: needs root and
// /dev/loop-control; runs outside Bazel's sandbox. Every device, mount and
// file is cleaned up by the fixture.
#include "src/platform/real_fs_tools.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "src/platform/real_command_runner.h"
#include "test/platform/loop_test_support.h"

namespace cellar {
namespace {

// Whether `cap` is in this process's effective set (CapEff in
// /proc/self/status). Containers often drop CAP_SYS_RESOURCE.
bool HasCapability(int cap) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StartsWith(line, "CapEff:")) {
      const uint64_t mask = std::stoull(line.substr(7), nullptr, 16);
      return (mask >> cap) & 1;
    }
  }
  return false;
}

// Recent xfsprogs refuse filesystems under 300 MiB; sparse, so free.
constexpr uint64_t kImageSize = 512 * kMiB;

class RealFsToolsTest : public LoopDeviceTest {
 protected:
  // A blank image of kImageSize attached to a loop device.
  std::string AttachBlank(const std::string& name) {
    image_ = MakeImage(name, kImageSize);
    absl::StatusOr<std::string> device = loops_.Attach(image_);
    EXPECT_TRUE(device.ok()) << device.status();
    return device.ok() ? *device : "";
  }

  // Makes `fs_type`, mounts it, grows image, device and filesystem, and
  // checks the mounted filesystem grew.
  void GrowMounted(const std::string& fs_type) {
    const std::string device = AttachBlank(fs_type + ".img");
    ASSERT_FALSE(device.empty());
    ASSERT_TRUE(tools_.MakeFs(device, fs_type).ok());
    const std::string mnt = dir_ + "/mnt-" + fs_type;
    ASSERT_EQ(mkdir(mnt.c_str(), 0755), 0);
    ASSERT_EQ(mount(device.c_str(), mnt.c_str(), fs_type.c_str(), 0, nullptr),
              0)
        << strerror(errno);
    struct statvfs before;
    ASSERT_EQ(statvfs(mnt.c_str(), &before), 0);

    ASSERT_EQ(truncate(image_.c_str(), 2 * kImageSize), 0);
    ASSERT_TRUE(loops_.RefreshCapacity(device).ok());
    absl::StatusOr<uint64_t> size = tools_.DeviceSize(device);
    ASSERT_TRUE(size.ok()) << size.status();
    EXPECT_EQ(*size, 2 * kImageSize);
    absl::Status grown = tools_.GrowFs(device, mnt, fs_type);
    if (fs_type == "ext4" && !HasCapability(CAP_SYS_RESOURCE)) {
      // The kernel refuses online ext4 resizes without it; the failure must
      // still come back as the tool's message.
      EXPECT_EQ(grown.code(), absl::StatusCode::kInternal);
      EXPECT_TRUE(absl::StrContains(grown.message(), "resize2fs")) << grown;
      GTEST_SKIP() << "online ext4 resize needs CAP_SYS_RESOURCE, which this "
                      "process lacks: "
                   << grown;
    }
    ASSERT_TRUE(grown.ok()) << grown;

    struct statvfs after;
    ASSERT_EQ(statvfs(mnt.c_str(), &after), 0);
    const uint64_t total_before = uint64_t{before.f_blocks} * before.f_frsize;
    const uint64_t total_after = uint64_t{after.f_blocks} * after.f_frsize;
    EXPECT_GT(total_after, total_before + kImageSize * 3 / 4)
        << fs_type << ": " << total_before << " -> " << total_after;
    EXPECT_EQ(umount2(mnt.c_str(), 0), 0) << strerror(errno);
    EXPECT_TRUE(loops_.Detach(device).ok());
  }

  std::string image_;
  RealCommandRunner runner_;
  RealFsTools tools_{&runner_};
};

TEST_F(RealFsToolsTest, ProbeBlankThenExt4) {
  const std::string device = AttachBlank("ext4.img");
  ASSERT_FALSE(device.empty());
  absl::StatusOr<std::string> type = tools_.Probe(device);
  ASSERT_TRUE(type.ok()) << type.status();
  EXPECT_EQ(*type, "");
  absl::StatusOr<uint64_t> size = tools_.DeviceSize(device);
  ASSERT_TRUE(size.ok()) << size.status();
  EXPECT_EQ(*size, kImageSize);

  absl::Status made = tools_.MakeFs(device, "ext4");
  ASSERT_TRUE(made.ok()) << made;
  type = tools_.Probe(device);
  ASSERT_TRUE(type.ok()) << type.status();
  EXPECT_EQ(*type, "ext4");
}

TEST_F(RealFsToolsTest, MakeXfsOnceOnly) {
  const std::string device = AttachBlank("xfs.img");
  ASSERT_FALSE(device.empty());
  EXPECT_EQ(*tools_.Probe(device), "");
  absl::Status made = tools_.MakeFs(device, "xfs");
  ASSERT_TRUE(made.ok()) << made;
  absl::StatusOr<std::string> type = tools_.Probe(device);
  ASSERT_TRUE(type.ok()) << type.status();
  EXPECT_EQ(*type, "xfs");
  // mkfs.xfs without -f will not overwrite a filesystem.
  made = tools_.MakeFs(device, "xfs");
  EXPECT_EQ(made.code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(absl::StrContains(made.message(), "mkfs.xfs")) << made;
}

TEST_F(RealFsToolsTest, OtherTypesAreInvalid) {
  const std::string device = AttachBlank("btrfs.img");
  ASSERT_FALSE(device.empty());
  EXPECT_EQ(tools_.MakeFs(device, "btrfs").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(tools_.GrowFs(device, dir_, "btrfs").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*tools_.Probe(device), "");  // untouched
}

TEST_F(RealFsToolsTest, GrowsMountedExt4) { GrowMounted("ext4"); }

// Offline growth (restores and clones larger than their source): needs no
// capability, so it runs on every machine.
TEST_F(RealFsToolsTest, GrowsExt4OfflineWithoutPrivilege) {
  const std::string device = AttachBlank("offline.img");
  ASSERT_FALSE(device.empty());
  ASSERT_TRUE(tools_.MakeFs(device, "ext4").ok());
  ASSERT_EQ(truncate(image_.c_str(), 2 * kImageSize), 0);
  ASSERT_TRUE(loops_.RefreshCapacity(device).ok());
  absl::Status grown = tools_.GrowFsOffline(device, "ext4");
  ASSERT_TRUE(grown.ok()) << grown;
  // Mounted afterwards, the filesystem has the device's new size.
  const std::string mnt = dir_ + "/mnt-offline";
  ASSERT_EQ(mkdir(mnt.c_str(), 0755), 0);
  ASSERT_EQ(mount(device.c_str(), mnt.c_str(), "ext4", 0, nullptr), 0)
      << strerror(errno);
  struct statvfs after;
  ASSERT_EQ(statvfs(mnt.c_str(), &after), 0);
  const uint64_t total = uint64_t{after.f_blocks} * after.f_frsize;
  EXPECT_GT(total, kImageSize * 7 / 4) << total;
  EXPECT_EQ(umount2(mnt.c_str(), 0), 0) << strerror(errno);
  // A second call on a grown filesystem is a no-op, not an error.
  EXPECT_TRUE(tools_.GrowFsOffline(device, "ext4").ok());
  EXPECT_TRUE(loops_.Detach(device).ok());
}

TEST_F(RealFsToolsTest, GrowsMountedXfs) { GrowMounted("xfs"); }

TEST_F(RealFsToolsTest, MissingDevices) {
  const std::string missing = dir_ + "/no-such-device";
  EXPECT_EQ(tools_.Probe(missing).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(tools_.DeviceSize(missing).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(tools_.MakeFs(missing, "ext4").code(), absl::StatusCode::kNotFound);
  // A regular file has no block device size.
  const std::string file = MakeImage("plain", kMiB);
  EXPECT_EQ(tools_.DeviceSize(file).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// An ext4 image with an xfs superblock copied into its (unused) first
// sector: libblkid sees both, and that must not read as anything usable.
TEST_F(RealFsToolsTest, AmbiguousSignaturesAreAnError) {
  const std::string xfs = MakeImage("x.img", kImageSize);
  const std::string ext4 = MakeImage("e.img", kImageSize);
  ASSERT_TRUE(tools_.MakeFs(xfs, "xfs").ok());
  ASSERT_TRUE(tools_.MakeFs(ext4, "ext4").ok());
  EXPECT_EQ(*tools_.Probe(xfs), "xfs");
  EXPECT_EQ(*tools_.Probe(ext4), "ext4");
  char sector[512];
  const int in = open(xfs.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(in, 0);
  ASSERT_EQ(pread(in, sector, sizeof(sector), 0), 512);
  close(in);
  const int out = open(ext4.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(out, 0);
  ASSERT_EQ(pwrite(out, sector, sizeof(sector), 0), 512);
  close(out);
  absl::StatusOr<std::string> type = tools_.Probe(ext4);
  EXPECT_EQ(type.status().code(), absl::StatusCode::kInternal)
      << (type.ok() ? *type : "");
  EXPECT_TRUE(absl::StrContains(type.status().message(), "ambiguous"))
      << type.status();
}

}  // namespace
}  // namespace cellar
