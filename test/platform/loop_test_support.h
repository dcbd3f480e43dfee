#ifndef CELLAR_TEST_PLATFORM_LOOP_TEST_SUPPORT_H_
#define CELLAR_TEST_PLATFORM_LOOP_TEST_SUPPORT_H_

#include <cstdint>
#include <optional>
#include <string>

#include "gtest/gtest.h"
#include "src/common/units.h"
#include "src/platform/loop_device.h"
#include "src/platform/real_loop_device.h"

namespace cellar {

// For tests on real loop devices: skips unless root with a loop driver,
// gives each test a scratch directory under /tmp, and in TearDown removes
// everything under it (mounts, loop devices backed by its files, the files)
// even when an assertion stopped the test half-way.
class LoopDeviceTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // A sparse file of `size` bytes in the scratch directory.
  std::string MakeImage(const std::string& name, uint64_t size);
  // The attached device whose backing file is `image`, if any.
  std::optional<LoopInfo> FindByImage(const std::string& image);
  // The attached device `device`, if any.
  std::optional<LoopInfo> FindByDevice(const std::string& device);

  std::string dir_;  // the scratch directory, no trailing slash
  RealLoopDevices loops_;
};

// Unmounts everything mounted under `dir`, detaches every loop device whose
// backing file is under it, and deletes it. Uses the loop ioctls directly
// when RealLoopDevices fails, so that a bug there leaks nothing.
void CleanUpScratchDir(const std::string& dir);

// BLKGETSIZE64 of `device`, 0 on error.
uint64_t BlockDeviceSize(const std::string& device);

}  // namespace cellar

#endif  // CELLAR_TEST_PLATFORM_LOOP_TEST_SUPPORT_H_
