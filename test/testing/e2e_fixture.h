#ifndef CELLAR_TEST_TESTING_E2E_FIXTURE_H_
#define CELLAR_TEST_TESTING_E2E_FIXTURE_H_

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "test/platform/loop_test_support.h"
#include "test/testing/csi_client.h"
#include "test/testing/driver_process.h"

namespace cellar::testing {

// Why this process cannot run the end-to-end tests on real loop devices
// and mounts ("" when it can): they need root and /dev/loop-control.
std::string WhyNoRootWithLoopDevices();

// A new directory /tmp/<prefix>-XXXXXX; "" and a test failure when it
// cannot be made.
std::string MakeScratchDir(const std::string& prefix);

// Writes the driver's log to stderr: all of it, or its last `tail_bytes`.
void DumpDriverLog(const DriverProcess& driver, size_t tail_bytes = 0);

// The end-to-end tests' fixture: the real driver over a scratch directory.
// SetUp skips the test when SkipReason() says why, then makes root_
// (/tmp/<prefix>-XXXXXX) and kubelet_ (root_/kubelet); the test's own SetUp
// starts the driver with StartDriver. TearDown, whatever the test did,
// prints the driver's log if the test failed, kills the driver, calls
// RemoveLeftovers() and then removes every mount, loop device and file
// under root_. `Base` is ::testing::Test or a TestWithParam<>.
template <typename Base>
class BasicE2eFixture : public Base {
 protected:
  // For a test's own SetUp and constructor: Fixture::SetUp().
  using Fixture = BasicE2eFixture;

  explicit BasicE2eFixture(std::string prefix) : prefix_(std::move(prefix)) {}

  void SetUp() override {
    const std::string why = SkipReason();
    if (!why.empty()) GTEST_SKIP() << why;
    root_ = MakeScratchDir(prefix_);
    ASSERT_FALSE(root_.empty());
    kubelet_ = root_ + "/kubelet";
    ASSERT_EQ(mkdir(kubelet_.c_str(), 0750), 0) << strerror(errno);
  }

  void TearDown() override {
    if (root_.empty()) return;
    if (driver_ != nullptr && ::testing::Test::HasFailure()) {
      DumpDriverLog(*driver_, log_tail_bytes_);
    }
    StopDriver();
    RemoveLeftovers();
    CleanUpScratchDir(root_);
  }

  // "" to run the test; the default needs root and loop devices.
  virtual std::string SkipReason() { return WhyNoRootWithLoopDevices(); }
  // What a test leaves outside root_ (LVs, mappings), removed once the
  // driver is dead and before root_ is.
  virtual void RemoveLeftovers() {}

  // Kills the driver if one runs, then starts `binary` over root_/data and
  // root_/csi.sock with --kubelet-dir=kubelet_ and `args`, and makes
  // client_ for it (here, not lazily: tests share it between threads).
  void StartDriver(const std::vector<std::string>& args,
                   absl::Duration timeout = absl::Seconds(90),
                   const std::string& binary = DriverBinaryPath()) {
    StopDriver();
    std::vector<std::string> all = {"--kubelet-dir=" + kubelet_};
    all.insert(all.end(), args.begin(), args.end());
    auto driver = DriverProcess::Start(root_ + "/data", root_ + "/csi.sock",
                                       all, timeout, binary);
    ASSERT_TRUE(driver.ok()) << driver.status();
    driver_ = *std::move(driver);
    client_ = std::make_unique<CsiClient>(driver_->channel());
  }

  // Kills the driver (SIGKILL) if one runs.
  void StopDriver() {
    client_.reset();
    driver_.reset();
  }

  std::string root_;     // the scratch directory, no trailing slash
  std::string kubelet_;  // the driver's --kubelet-dir
  std::unique_ptr<DriverProcess> driver_;
  std::unique_ptr<CsiClient> client_;
  size_t log_tail_bytes_ = 0;  // what a failure prints of the log; 0: all

 private:
  const std::string prefix_;
};

using E2eFixture = BasicE2eFixture<::testing::Test>;

}  // namespace cellar::testing

#endif  // CELLAR_TEST_TESTING_E2E_FIXTURE_H_
