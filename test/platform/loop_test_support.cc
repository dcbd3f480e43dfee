#include "test/platform/loop_test_support.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "test/testing/mount_table.h"

namespace cellar {
namespace {

std::string ReadLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// LOOP_CLR_FD on every loop device sysfs shows backed under `prefix`,
// without going through RealLoopDevices.
void ClearLoopsDirectly(const std::string& prefix) {
  DIR* dir = opendir("/sys/block");
  if (dir == nullptr) return;
  while (struct dirent* entry = readdir(dir)) {
    const std::string name = entry->d_name;
    if (!absl::StartsWith(name, "loop")) continue;
    const std::string backing =
        ReadLine(absl::StrCat("/sys/block/", name, "/loop/backing_file"));
    if (!absl::StartsWith(backing, prefix)) continue;
    const std::string device = absl::StrCat("/dev/", name);
    const int fd = open(device.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    if (ioctl(fd, LOOP_CLR_FD, 0) != 0) {
      ADD_FAILURE() << "cannot detach " << device << ": " << strerror(errno);
    }
    close(fd);
  }
  closedir(dir);
}

}  // namespace

void CleanUpScratchDir(const std::string& dir) {
  const std::string prefix = dir + "/";
  testing::UnmountEverythingUnder(dir);
  RealLoopDevices loops;
  absl::StatusOr<std::vector<LoopInfo>> attached = loops.List();
  if (attached.ok()) {
    for (const LoopInfo& info : *attached) {
      if (absl::StartsWith(info.backing_file, prefix)) {
        absl::Status detached = loops.Detach(info.device);
        if (!detached.ok()) {
          ADD_FAILURE() << "cleanup: " << detached;
        }
      }
    }
  }
  ClearLoopsDirectly(prefix);
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}

void LoopDeviceTest::SetUp() {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  if (access("/dev/loop-control", F_OK) != 0) {
    GTEST_SKIP() << "no /dev/loop-control";
  }
  std::string pattern = "/tmp/cellar-loop-XXXXXX";
  ASSERT_NE(mkdtemp(pattern.data()), nullptr);
  // The kernel reports backing files by their real path.
  char* real = realpath(pattern.c_str(), nullptr);
  ASSERT_NE(real, nullptr);
  dir_ = real;
  free(real);
}

void LoopDeviceTest::TearDown() {
  if (!dir_.empty()) CleanUpScratchDir(dir_);
}

std::string LoopDeviceTest::MakeImage(const std::string& name, uint64_t size) {
  const std::string path = absl::StrCat(dir_, "/", name);
  const int fd =
      open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  EXPECT_GE(fd, 0) << path << ": " << strerror(errno);
  if (fd >= 0) {
    EXPECT_EQ(ftruncate(fd, static_cast<off_t>(size)), 0) << strerror(errno);
    close(fd);
  }
  return path;
}

std::optional<LoopInfo> LoopDeviceTest::FindByImage(const std::string& image) {
  absl::StatusOr<std::vector<LoopInfo>> attached = loops_.List();
  EXPECT_TRUE(attached.ok()) << attached.status();
  if (!attached.ok()) return std::nullopt;
  for (const LoopInfo& info : *attached) {
    if (info.backing_file == image) return info;
  }
  return std::nullopt;
}

std::optional<LoopInfo> LoopDeviceTest::FindByDevice(
    const std::string& device) {
  absl::StatusOr<std::vector<LoopInfo>> attached = loops_.List();
  EXPECT_TRUE(attached.ok()) << attached.status();
  if (!attached.ok()) return std::nullopt;
  for (const LoopInfo& info : *attached) {
    if (info.device == device) return info;
  }
  return std::nullopt;
}

uint64_t BlockDeviceSize(const std::string& device) {
  const int fd = open(device.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  uint64_t size = 0;
  if (ioctl(fd, BLKGETSIZE64, &size) != 0) size = 0;
  close(fd);
  return size;
}

}  // namespace cellar
