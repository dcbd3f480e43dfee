// Real loop devices: needs root and /dev/loop-control; runs outside Bazel's
// sandbox. Every device, mount and file is cleaned up by the fixture.
#include "src/platform/real_loop_device.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "test/platform/loop_test_support.h"

namespace cellar {
namespace {

using RealLoopDevicesTest = LoopDeviceTest;

// Whether the filesystem holding `path` takes O_DIRECT (tmpfs before 6.6
// does not), i.e. whether the loop driver can use direct I/O on it.
bool FileTakesDirectIo(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
  if (fd < 0) return false;
  close(fd);
  return true;
}

TEST_F(RealLoopDevicesTest, AttachListGrowDetach) {
  const std::string image = MakeImage("a.img", 64 * kMiB);
  absl::StatusOr<std::string> device = loops_.Attach(image);
  ASSERT_TRUE(device.ok()) << device.status();
  EXPECT_TRUE(absl::StartsWith(*device, "/dev/loop")) << *device;

  std::optional<LoopInfo> info = FindByDevice(*device);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->backing_file, image);
  EXPECT_EQ(info->size_bytes, 64 * kMiB);
  EXPECT_FALSE(info->autoclear);
  if (FileTakesDirectIo(image)) {
    EXPECT_TRUE(info->direct_io);
  } else {
    std::cerr << "note: " << dir_ << " refuses O_DIRECT; loop is buffered\n";
  }
  EXPECT_EQ(BlockDeviceSize(*device), 64 * kMiB);

  // The device works either way: a block written through it is in the image.
  {
    char block[4096];
    memset(block, 'c', sizeof(block));
    const int fd = open(device->c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(fd, 0) << strerror(errno);
    EXPECT_EQ(pwrite(fd, block, sizeof(block), 8192), 4096);
    EXPECT_EQ(fsync(fd), 0);
    close(fd);
    char back[4096] = {};
    const int image_fd = open(image.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(image_fd, 0);
    EXPECT_EQ(pread(image_fd, back, sizeof(back), 8192), 4096);
    close(image_fd);
    EXPECT_EQ(memcmp(block, back, sizeof(block)), 0);
  }

  // Growing the file shows only after RefreshCapacity.
  ASSERT_EQ(truncate(image.c_str(), 128 * kMiB), 0);
  EXPECT_EQ(FindByDevice(*device)->size_bytes, 64 * kMiB);
  ASSERT_TRUE(loops_.RefreshCapacity(*device).ok());
  EXPECT_EQ(FindByDevice(*device)->size_bytes, 128 * kMiB);
  EXPECT_EQ(BlockDeviceSize(*device), 128 * kMiB);

  ASSERT_TRUE(loops_.Detach(*device).ok());
  EXPECT_FALSE(FindByImage(image).has_value());
  EXPECT_EQ(loops_.Detach(*device).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(loops_.RefreshCapacity(*device).code(),
            absl::StatusCode::kNotFound);
}

TEST_F(RealLoopDevicesTest, AttachErrors) {
  EXPECT_EQ(loops_.Attach(dir_ + "/missing.img").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(loops_.Attach(dir_).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(RealLoopDevicesTest, RejectsOtherDevices) {
  EXPECT_EQ(loops_.Detach("/dev/null").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(loops_.RefreshCapacity("/dev/null").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(loops_.Detach(dir_ + "/loop99").code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(loops_.RefreshCapacity(dir_ + "/loop99").code(),
            absl::StatusCode::kNotFound);
}

TEST_F(RealLoopDevicesTest, ConcurrentAttachesGetDistinctDevices) {
  constexpr int kThreads = 2;
  constexpr int kPerThread = 2;
  std::vector<std::string> images;
  for (int i = 0; i < kThreads * kPerThread; ++i) {
    images.push_back(MakeImage(absl::StrCat("c", i, ".img"), 16 * kMiB));
  }
  std::vector<absl::StatusOr<std::string>> devices(images.size());
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      while (!go.load()) {
      }
      for (int i = 0; i < kPerThread; ++i) {
        const int k = t * kPerThread + i;
        devices[k] = loops_.Attach(images[k]);
      }
    });
  }
  go = true;
  for (std::thread& thread : threads) thread.join();

  std::set<std::string> distinct;
  for (size_t k = 0; k < images.size(); ++k) {
    ASSERT_TRUE(devices[k].ok()) << devices[k].status();
    distinct.insert(*devices[k]);
    std::optional<LoopInfo> info = FindByDevice(*devices[k]);
    ASSERT_TRUE(info.has_value());
    EXPECT_EQ(info->backing_file, images[k]);
  }
  EXPECT_EQ(distinct.size(), images.size());
  for (const auto& device : devices) EXPECT_TRUE(loops_.Detach(*device).ok());
}

TEST_F(RealLoopDevicesTest, DetachRefusesDeviceInUse) {
  const std::string image = MakeImage("busy.img", 16 * kMiB);
  absl::StatusOr<std::string> device = loops_.Attach(image);
  ASSERT_TRUE(device.ok()) << device.status();

  // An exclusive holder, as a mounted filesystem is.
  int fd = open(device->c_str(), O_RDONLY | O_EXCL | O_CLOEXEC);
  ASSERT_GE(fd, 0) << strerror(errno);
  EXPECT_EQ(loops_.Detach(*device).code(),
            absl::StatusCode::kFailedPrecondition);
  close(fd);

  // A plain opener: the kernel would defer the detach with autoclear; the
  // device must stay attached with autoclear off instead.
  fd = open(device->c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0) << strerror(errno);
  EXPECT_EQ(loops_.Detach(*device).code(),
            absl::StatusCode::kFailedPrecondition);
  close(fd);
  std::optional<LoopInfo> info = FindByDevice(*device);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->backing_file, image);
  EXPECT_FALSE(info->autoclear);

  EXPECT_TRUE(loops_.Detach(*device).ok());
  EXPECT_FALSE(FindByImage(image).has_value());
}

TEST_F(RealLoopDevicesTest, DeletedImageIsReportedAsTheKernelSaysIt) {
  const std::string image = MakeImage("gone.img", 16 * kMiB);
  absl::StatusOr<std::string> device = loops_.Attach(image);
  ASSERT_TRUE(device.ok()) << device.status();
  ASSERT_EQ(unlink(image.c_str()), 0);
  std::optional<LoopInfo> info = FindByDevice(*device);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->backing_file, image + " (deleted)");
  EXPECT_TRUE(loops_.Detach(*device).ok());
}

// A read-only view of an attached device: the kernel refuses writes to
// it, while the device under it stays writable.
TEST_F(LoopDeviceTest, ReadOnlyViewRefusesWrites) {
  const std::string image = MakeImage("view.img", 16 * kMiB);
  absl::StatusOr<std::string> device = loops_.Attach(image);
  ASSERT_TRUE(device.ok()) << device.status();
  absl::StatusOr<std::string> view = loops_.AttachReadOnly(*device);
  ASSERT_TRUE(view.ok()) << view.status();
  std::optional<LoopInfo> info = FindByDevice(*view);
  ASSERT_TRUE(info.has_value());
  EXPECT_TRUE(info->read_only);
  EXPECT_EQ(info->backing_file, *device);
  EXPECT_FALSE(FindByDevice(*device)->read_only);
  // Depending on the kernel the open or the write fails; nothing gets in.
  const int fd = open(view->c_str(), O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    EXPECT_LT(write(fd, "x", 1), 0);
    EXPECT_TRUE(errno == EPERM || errno == EROFS) << strerror(errno);
    close(fd);
  }
  const int rw = open(device->c_str(), O_WRONLY | O_CLOEXEC);
  EXPECT_GE(rw, 0);
  if (rw >= 0) close(rw);
  // A regular file can be viewed read-only too; other types cannot.
  EXPECT_EQ(loops_.AttachReadOnly(dir_).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(loops_.Detach(*view).ok());
  EXPECT_TRUE(loops_.Detach(*device).ok());
}

// List() against a made-up sysfs: needs neither root nor loop devices.
TEST(RealLoopDevicesSysfsTest, ListReadsSysfs) {
  std::string root = "/tmp/cellar-sysfs-XXXXXX";
  ASSERT_NE(mkdtemp(root.data()), nullptr);
  auto write = [&](const std::string& rel, const std::string& text) {
    const std::filesystem::path path = root + "/" + rel;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << text;
  };
  write("block/loop10/loop/backing_file", "/images/b.img\n");
  write("block/loop10/size", "4096\n");
  write("block/loop10/loop/dio", "0\n");
  write("block/loop10/loop/autoclear", "1\n");
  write("block/loop10/ro", "1\n");
  write("block/loop2/loop/backing_file", "/images/a b.img (deleted)\n");
  write("block/loop2/size", "2048\n");
  write("block/loop2/loop/dio", "1\n");
  write("block/loop2/loop/autoclear", "0\n");
  write("block/loop2/ro", "0\n");
  write("block/loop3/size", "0\n");  // not attached: no loop/ directory
  write("block/vda/size", "100\n");
  write("block/loop4p1/size", "100\n");

  RealLoopDevices loops(root, "/devroot");
  absl::StatusOr<std::vector<LoopInfo>> attached = loops.List();
  std::error_code ignored;
  std::filesystem::remove_all(root, ignored);
  ASSERT_TRUE(attached.ok()) << attached.status();
  ASSERT_EQ(attached->size(), 2u);
  EXPECT_EQ((*attached)[0].device, "/devroot/loop2");
  EXPECT_EQ((*attached)[0].backing_file, "/images/a b.img (deleted)");
  EXPECT_EQ((*attached)[0].size_bytes, kMiB);
  EXPECT_TRUE((*attached)[0].direct_io);
  EXPECT_FALSE((*attached)[0].autoclear);
  EXPECT_FALSE((*attached)[0].read_only);
  EXPECT_EQ((*attached)[1].device, "/devroot/loop10");
  EXPECT_EQ((*attached)[1].backing_file, "/images/b.img");
  EXPECT_EQ((*attached)[1].size_bytes, 2 * kMiB);
  EXPECT_FALSE((*attached)[1].direct_io);
  EXPECT_TRUE((*attached)[1].read_only);
  EXPECT_TRUE((*attached)[1].autoclear);
}

}  // namespace
}  // namespace cellar
