// RealBlockCopier on real loop devices: needs root and /dev/loop-control;
// runs outside Bazel's sandbox. The fixture removes every device and file.
#include "src/platform/real_block_copier.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "test/platform/loop_test_support.h"

namespace cellar {
namespace {

constexpr uint64_t kSize = 16 * kMiB;

class RealBlockCopierTest : public LoopDeviceTest {
 protected:
  // An image of `size` bytes, every byte `fill` (0 for the source: then
  // byte i is i % 251, so that any misplaced range shows), attached.
  std::string Attach(const std::string& name, uint64_t size, int fill,
                     std::string* image) {
    *image = MakeImage(name, size);
    std::string bytes(size, static_cast<char>(fill));
    if (fill == 0) {
      for (uint64_t i = 0; i < size; ++i) bytes[i] = static_cast<char>(i % 251);
    }
    std::ofstream(*image, std::ios::binary | std::ios::trunc) << bytes;
    absl::StatusOr<std::string> device = loops_.Attach(*image);
    EXPECT_TRUE(device.ok()) << device.status();
    return device.ok() ? *device : "";
  }

  static std::string Read(const std::string& image) {
    std::ifstream in(image, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  void SetUp() override {
    LoopDeviceTest::SetUp();
    if (IsSkipped()) return;
    from_ = Attach("from.img", kSize, 0, &from_image_);
    to_ = Attach("to.img", kSize, 0xAA, &to_image_);
    ASSERT_FALSE(from_.empty());
    ASSERT_FALSE(to_.empty());
  }

  RealBlockCopier copier_;
  std::string from_, to_, from_image_, to_image_;
};

TEST_F(RealBlockCopierTest, CopiesTheRangesAskedWidenedToPages) {
  absl::StatusOr<uint64_t> copied = copier_.Copy(
      from_, to_, {{0, 4096}, {kMiB + 100, 5000}, {10 * kMiB, 3 * kMiB}}, {});
  ASSERT_TRUE(copied.ok()) << copied.status();
  // [1 MiB + 100, 1 MiB + 5100) widens to [1 MiB, 1 MiB + 8192).
  EXPECT_EQ(*copied, 4096 + 8192 + 3 * kMiB);
  const std::string source = Read(from_image_);
  const std::string target = Read(to_image_);
  ASSERT_EQ(target.size(), kSize);
  auto copied_at = [&](uint64_t at) { return target[at] == source[at]; };
  auto untouched_at = [&](uint64_t at) {
    return target[at] == static_cast<char>(0xAA);
  };
  EXPECT_EQ(target.substr(0, 4096), source.substr(0, 4096));
  EXPECT_TRUE(untouched_at(4096));
  EXPECT_TRUE(untouched_at(kMiB - 1));
  EXPECT_EQ(target.substr(kMiB, 8192), source.substr(kMiB, 8192));
  EXPECT_TRUE(untouched_at(kMiB + 8192));
  EXPECT_TRUE(untouched_at(10 * kMiB - 1));
  EXPECT_EQ(target.substr(10 * kMiB, 3 * kMiB),
            source.substr(10 * kMiB, 3 * kMiB));
  EXPECT_TRUE(untouched_at(13 * kMiB));
  EXPECT_TRUE(copied_at(13 * kMiB - 1));
  // Nothing asked, nothing copied.
  EXPECT_EQ(copier_.Copy(from_, to_, {}, {}).value_or(1), 0u);
}

TEST_F(RealBlockCopierTest, ClipsToTheSmallerDevice) {
  std::string small_image;
  const std::string small = Attach("small.img", 8 * kMiB, 0xAA, &small_image);
  ASSERT_FALSE(small.empty());
  absl::StatusOr<uint64_t> copied =
      copier_.Copy(from_, small, {{0, kSize}}, {});
  ASSERT_TRUE(copied.ok()) << copied.status();
  EXPECT_EQ(*copied, 8 * kMiB);
  EXPECT_EQ(Read(small_image), Read(from_image_).substr(0, 8 * kMiB));
}

TEST_F(RealBlockCopierTest, ATargetSomeoneHoldsIsNeverWritten) {
  const int held = open(to_.c_str(), O_RDONLY | O_EXCL | O_CLOEXEC);
  ASSERT_GE(held, 0);
  absl::StatusOr<uint64_t> copied = copier_.Copy(from_, to_, {{0, kSize}}, {});
  close(held);
  EXPECT_EQ(copied.status().code(), absl::StatusCode::kFailedPrecondition)
      << copied.status();
  EXPECT_EQ(Read(to_image_), std::string(kSize, static_cast<char>(0xAA)));
}

TEST_F(RealBlockCopierTest, AMissingDeviceIsNotFound) {
  EXPECT_EQ(
      copier_.Copy(dir_ + "/nothing", to_, {{0, 4096}}, {}).status().code(),
      absl::StatusCode::kNotFound);
  EXPECT_EQ(
      copier_.Copy(from_, dir_ + "/nothing", {{0, 4096}}, {}).status().code(),
      absl::StatusCode::kNotFound);
}

// A cancel is seen within the bandwidth's sleeps, not only between chunks:
// at 1 MiB/s a 16 MiB copy would take 16 s.
TEST_F(RealBlockCopierTest, CancelStopsABoundedCopy) {
  std::atomic<bool> cancel{false};
  CopyOptions options;
  options.bytes_per_second = kMiB;
  options.cancel = &cancel;
  std::thread canceller([&] {
    absl::SleepFor(absl::Milliseconds(300));
    cancel = true;
  });
  absl::StatusOr<uint64_t> copied =
      copier_.Copy(from_, to_, {{0, kSize}}, options);
  canceller.join();
  EXPECT_EQ(copied.status().code(), absl::StatusCode::kCancelled);
  // The end of the target was never reached.
  const std::string target = Read(to_image_);
  EXPECT_EQ(target.substr(kSize - kMiB),
            std::string(kMiB, static_cast<char>(0xAA)));
}

TEST_F(RealBlockCopierTest, AProgressErrorStopsTheCopy) {
  CopyOptions options;
  options.progress_every_bytes = 2 * kMiB;
  int reports = 0;
  options.progress = [&](uint64_t copied) -> absl::Status {
    ++reports;
    EXPECT_GE(copied, 2 * kMiB);
    return absl::DataLossError("the point in time is gone");
  };
  absl::StatusOr<uint64_t> copied =
      copier_.Copy(from_, to_, {{0, kSize}}, options);
  EXPECT_EQ(copied.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(reports, 1);
  EXPECT_EQ(Read(to_image_).substr(kSize - kMiB),
            std::string(kMiB, static_cast<char>(0xAA)));
}

}  // namespace
}  // namespace cellar
