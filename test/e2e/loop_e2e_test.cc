// The loop backend end to end: the real binary, real loop devices, real
// filesystems and mounts, driven over the socket. Needs root. Every test
// cleans up every mount, loop device and file it made, even on failure.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "src/common/units.h"
#include "test/platform/loop_test_support.h"
#include "test/testing/csi_client.h"
#include "test/testing/driver_process.h"
#include "test/testing/e2e_fixture.h"
#include "test/testing/mount_table.h"

namespace cellar {
namespace {

using testing::Context;
using Mode = csi::v1::VolumeCapability::AccessMode;

constexpr char kNodeId[] = "e2e-node";

csi::v1::VolumeCapability Cap(const std::string& fs_type, bool block,
                              Mode::Mode mode = Mode::SINGLE_NODE_WRITER) {
  return testing::Capability(fs_type, block, mode);
}

bool HasCapSysResource() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("CapEff:", 0) == 0) {
      const unsigned long long caps = std::stoull(line.substr(7), nullptr, 16);
      return caps & (1ull << 24);
    }
  }
  return false;
}

class LoopE2eTest : public testing::E2eFixture {
 protected:
  LoopE2eTest() : Fixture("cellar-e2e") {}

  void SetUp() override {
    Fixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    StartDriver();
  }

  void StartDriver() {
    Fixture::StartDriver({"--node-id=" + std::string(kNodeId),
                          "--reserve-bytes=0", "--log-level=debug"});
  }

  void RestartDriverAfterKill() {
    kill(driver_->pid(), SIGKILL);
    driver_.reset();
    StartDriver();
  }

  std::string Staging(const std::string& name) {
    return kubelet_ + "/plugins/kubernetes.io/csi/cellar/" + name +
           "/globalmount";
  }
  std::string Target(const std::string& name, int n = 0) {
    return absl::StrCat(kubelet_, "/pods/pod-", n,
                        "/volumes/kubernetes.io~csi/", name, "/mount");
  }

  grpc::Status Create(const std::string& name,
                      const csi::v1::VolumeCapability& cap, int64_t bytes,
                      std::string* id) {
    return client().Create(name, cap, bytes, id);
  }
  grpc::Status Stage(const std::string& id, const std::string& staging,
                     const csi::v1::VolumeCapability& cap) {
    return client().Stage(id, staging, cap);
  }
  grpc::Status Publish(const std::string& id, const std::string& staging,
                       const std::string& target,
                       const csi::v1::VolumeCapability& cap, bool ro) {
    return client().Publish(id, staging, target, cap, ro);
  }
  grpc::Status Unpublish(const std::string& id, const std::string& target) {
    return client().Unpublish(id, target);
  }
  grpc::Status Unstage(const std::string& id, const std::string& staging) {
    return client().Unstage(id, staging);
  }
  grpc::Status Delete(const std::string& id) { return client().Delete(id); }

  testing::CsiClient& client() { return *client_; }

  // Loop devices whose image lives under this test's directory.
  int LoopDevicesInUse() {
    RealLoopDevices loops;
    auto list = loops.List();
    if (!list.ok()) return -1;
    int n = 0;
    for (const auto& info : *list) {
      if (info.backing_file.rfind(root_ + "/", 0) == 0) ++n;
    }
    return n;
  }

  void ExpectNothingLeft() {
    EXPECT_EQ(LoopDevicesInUse(), 0);
    EXPECT_TRUE(testing::MountPointsUnder(root_).empty());
    DIR* dir = opendir((root_ + "/data/loop").c_str());
    ASSERT_NE(dir, nullptr);
    int files = 0;
    while (dirent* entry = readdir(dir)) {
      if (entry->d_name[0] != '.') ++files;
    }
    closedir(dir);
    EXPECT_EQ(files, 0) << "images or records left behind";
  }

  void FullLifecycle(const std::string& name, const std::string& fs_type,
                     bool block);
};

void LoopE2eTest::FullLifecycle(const std::string& name,
                                const std::string& fs_type, bool block) {
  const auto cap = Cap(fs_type, block);
  std::string id;
  ASSERT_TRUE(Create(name, cap, 512 * kMiB, &id).ok());
  const std::string staging = Staging(name);
  const std::string target = Target(name, 0);
  const std::string ro_target = Target(name, 1);
  ASSERT_EQ(system(("mkdir -p '" + staging + "'").c_str()), 0);
  ASSERT_TRUE(Stage(id, staging, cap).ok());
  ASSERT_TRUE(Stage(id, staging, cap).ok());  // idempotent
  ASSERT_TRUE(Publish(id, staging, target, cap, false).ok());
  ASSERT_TRUE(Publish(id, staging, target, cap, false).ok());  // idempotent
  ASSERT_TRUE(Publish(id, staging, ro_target, cap, true).ok());
  EXPECT_EQ(LoopDevicesInUse(), 1);

  const std::string payload = "cellar e2e " + name;
  if (block) {
    int fd = open(target.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0) << strerror(errno);
    ASSERT_EQ(pwrite(fd, payload.data(), payload.size(), 4096),
              static_cast<ssize_t>(payload.size()));
    ASSERT_EQ(fsync(fd), 0);
    close(fd);
    // The read-only target refuses writes (at open or at write).
    fd = open(ro_target.c_str(), O_WRONLY);
    if (fd >= 0) {
      EXPECT_LT(pwrite(fd, "evil", 4, 4096), 0);
      close(fd);
    }
    fd = open(ro_target.c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    std::string back(payload.size(), '\0');
    ASSERT_EQ(pread(fd, back.data(), back.size(), 4096),
              static_cast<ssize_t>(back.size()));
    close(fd);
    EXPECT_EQ(back, payload);
  } else {
    { std::ofstream(target + "/hello.txt") << payload; }
    std::ifstream in(ro_target + "/hello.txt");
    std::string back;
    std::getline(in, back);
    EXPECT_EQ(back, payload);
    const int fd =
        open((ro_target + "/nope").c_str(), O_CREAT | O_WRONLY, 0644);
    EXPECT_LT(fd, 0);
    EXPECT_EQ(errno, EROFS);
    if (fd >= 0) close(fd);
  }

  csi::v1::NodeGetVolumeStatsRequest stats_request;
  stats_request.set_volume_id(id);
  stats_request.set_volume_path(target);
  csi::v1::NodeGetVolumeStatsResponse stats;
  ASSERT_TRUE(driver_->node()
                  .NodeGetVolumeStats(Context().get(), stats_request, &stats)
                  .ok());
  ASSERT_GE(stats.usage_size(), 1);
  EXPECT_GT(stats.usage(0).total(), 400 * static_cast<int64_t>(kMiB));
  if (block) {
    EXPECT_EQ(stats.usage(0).total(), static_cast<int64_t>(512 * kMiB));
  } else {
    EXPECT_EQ(stats.usage_size(), 2);
    EXPECT_GT(stats.usage(0).used(), 0);
  }
  EXPECT_FALSE(stats.volume_condition().abnormal());

  // Delete while in use is refused.
  EXPECT_EQ(Delete(id).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  ASSERT_TRUE(Unpublish(id, ro_target).ok());
  ASSERT_TRUE(Unpublish(id, target).ok());
  ASSERT_TRUE(Unpublish(id, target).ok());
  EXPECT_NE(access(target.c_str(), F_OK), 0) << "target not removed";

  // Stage again after unstage: the data survived (never reformatted).
  ASSERT_TRUE(Unstage(id, staging).ok());
  EXPECT_EQ(LoopDevicesInUse(), 0);
  ASSERT_TRUE(Stage(id, staging, cap).ok());
  ASSERT_TRUE(Publish(id, staging, target, cap, false).ok());
  if (block) {
    const int fd = open(target.c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    std::string back(payload.size(), '\0');
    ASSERT_EQ(pread(fd, back.data(), back.size(), 4096),
              static_cast<ssize_t>(back.size()));
    close(fd);
    EXPECT_EQ(back, payload);
  } else {
    std::ifstream in(target + "/hello.txt");
    std::string back;
    std::getline(in, back);
    EXPECT_EQ(back, payload);
  }
  ASSERT_TRUE(Unpublish(id, target).ok());
  ASSERT_TRUE(Unstage(id, staging).ok());
  ASSERT_TRUE(Unstage(id, staging).ok());
  ASSERT_TRUE(Delete(id).ok());
  ASSERT_TRUE(Delete(id).ok());
}

// The first line of `log` that has all of `parts`; empty when none does.
std::string LogLineWith(const std::string& log,
                        const std::vector<std::string>& parts) {
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    bool all = true;
    for (const std::string& part : parts) {
      all = all && line.find(part) != std::string::npos;
    }
    if (all) return line;
  }
  return "";
}

TEST_F(LoopE2eTest, Ext4Lifecycle) {
  FullLifecycle("pvc-ext4", "ext4", false);
  ExpectNothingLeft();
  // Each RPC's log line names the programs it ran: a loop volume is made
  // without one; the first stage formats it with mkfs.ext4, once.
  const std::string log = driver_->ReadLog();
  const std::string create =
      LogLineWith(log, {"method=/csi.v1.Controller/CreateVolume", "code=OK"});
  EXPECT_NE(create.find("commands=- "), std::string::npos) << log;
  const std::string stage =
      LogLineWith(log, {"method=/csi.v1.Node/NodeStageVolume", "code=OK"});
  EXPECT_NE(stage.find("commands="), std::string::npos) << log;
  EXPECT_NE(stage.find("mkfs.ext4:1"), std::string::npos) << stage;
}

TEST_F(LoopE2eTest, XfsLifecycle) {
  FullLifecycle("pvc-xfs", "xfs", false);
  ExpectNothingLeft();
}

TEST_F(LoopE2eTest, BlockLifecycle) {
  FullLifecycle("pvc-block", "", true);
  ExpectNothingLeft();
}

TEST_F(LoopE2eTest, OnlineExpansion) {
  std::vector<std::string> kinds = {"xfs", "block"};
  if (HasCapSysResource()) {
    kinds.push_back("ext4");
  } else {
    std::cerr << "note: no CAP_SYS_RESOURCE here, so online ext4 growth "
                 "(EXT4_IOC_RESIZE_FS) is not exercised\n";
  }
  for (const std::string& kind : kinds) {
    const bool block = kind == "block";
    const auto cap = Cap(block ? "" : kind, block);
    const std::string name = "pvc-grow-" + kind;
    std::string id;
    ASSERT_TRUE(Create(name, cap, 400 * kMiB, &id).ok());
    ASSERT_EQ(system(("mkdir -p '" + Staging(name) + "'").c_str()), 0);
    ASSERT_TRUE(Stage(id, Staging(name), cap).ok());
    ASSERT_TRUE(Publish(id, Staging(name), Target(name), cap, false).ok());

    csi::v1::ControllerExpandVolumeRequest expand;
    expand.set_volume_id(id);
    expand.mutable_capacity_range()->set_required_bytes(800 * kMiB);
    csi::v1::ControllerExpandVolumeResponse expanded;
    ASSERT_TRUE(driver_->controller()
                    .ControllerExpandVolume(Context().get(), expand, &expanded)
                    .ok());
    EXPECT_EQ(expanded.capacity_bytes(), static_cast<int64_t>(800 * kMiB));
    EXPECT_EQ(expanded.node_expansion_required(), !block);
    if (!block) {
      csi::v1::NodeExpandVolumeRequest node_expand;
      node_expand.set_volume_id(id);
      node_expand.set_volume_path(Target(name));
      node_expand.mutable_capacity_range()->set_required_bytes(800 * kMiB);
      csi::v1::NodeExpandVolumeResponse node_expanded;
      grpc::Status status = driver_->node().NodeExpandVolume(
          Context().get(), node_expand, &node_expanded);
      ASSERT_TRUE(status.ok()) << kind << ": " << status.error_message();
      EXPECT_EQ(node_expanded.capacity_bytes(),
                static_cast<int64_t>(800 * kMiB));
    }
    csi::v1::NodeGetVolumeStatsRequest stats_request;
    stats_request.set_volume_id(id);
    stats_request.set_volume_path(Target(name));
    csi::v1::NodeGetVolumeStatsResponse stats;
    ASSERT_TRUE(driver_->node()
                    .NodeGetVolumeStats(Context().get(), stats_request, &stats)
                    .ok());
    EXPECT_GT(stats.usage(0).total(), static_cast<int64_t>(700 * kMiB)) << kind;
    ASSERT_TRUE(Unpublish(id, Target(name)).ok());
    ASSERT_TRUE(Unstage(id, Staging(name)).ok());
    ASSERT_TRUE(Delete(id).ok());
  }
  ExpectNothingLeft();
}

// Kill the driver with SIGKILL at several moments of create, stage and
// publish; after a restart, retrying the same call must finish the job and
// nothing may leak.
TEST_F(LoopE2eTest, KillNineAndRetryLeavesNothingBehind) {
  const auto cap = Cap("ext4", false);
  for (int delay_ms : {0, 1, 2, 3, 5, 8, 13, 40}) {
    const std::string name = absl::StrCat("pvc-kill-", delay_ms);
    const std::string staging = Staging(name);
    const std::string target = Target(name);
    ASSERT_EQ(system(("mkdir -p '" + staging + "'").c_str()), 0);
    std::string id;
    // Each step: start the call, kill the driver part-way, restart, retry.
    auto crash_during = [&](const std::function<grpc::Status()>& call) {
      std::thread racer([&] { (void)call(); });
      absl::SleepFor(absl::Milliseconds(delay_ms));
      kill(driver_->pid(), SIGKILL);
      racer.join();
      RestartDriverAfterKill();
      // Retried as kubelet would: the same request, a few times. (A tool the
      // killed driver started, such as mkfs, may still hold the device for
      // a moment.) Every failure on the way must be a retryable one.
      grpc::Status status = call();
      for (int attempt = 1; attempt < 5 && !status.ok(); ++attempt) {
        EXPECT_NE(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
            << status.error_message();
        absl::SleepFor(absl::Milliseconds(300));
        status = call();
      }
      ASSERT_TRUE(status.ok()) << status.error_message();
    };
    crash_during([&] { return Create(name, cap, 64 * kMiB, &id); });
    ASSERT_FALSE(id.empty());
    crash_during([&] { return Stage(id, staging, cap); });
    crash_during([&] { return Publish(id, staging, target, cap, false); });
    EXPECT_EQ(LoopDevicesInUse(), 1) << delay_ms;
    EXPECT_EQ(testing::MountPointsUnder(root_).size(), 2u) << delay_ms;

    // Only one volume exists for the name.
    csi::v1::ListVolumesRequest list_request;
    csi::v1::ListVolumesResponse list;
    ASSERT_TRUE(driver_->controller()
                    .ListVolumes(Context().get(), list_request, &list)
                    .ok());
    EXPECT_EQ(list.entries_size(), 1);

    ASSERT_TRUE(Unpublish(id, target).ok());
    ASSERT_TRUE(Unstage(id, staging).ok());
    ASSERT_TRUE(Delete(id).ok());
    ExpectNothingLeft();
  }
}

TEST_F(LoopE2eTest, ThirtyTwoVolumesInParallel) {
  constexpr int kVolumes = 32;
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  const auto cap = Cap("ext4", false);
  for (int i = 0; i < kVolumes; ++i) {
    ASSERT_EQ(
        system(("mkdir -p '" + Staging(absl::StrCat("par-", i)) + "'").c_str()),
        0);
  }
  for (int i = 0; i < kVolumes; ++i) {
    workers.emplace_back([&, i] {
      const std::string name = absl::StrCat("par-", i);
      std::string id;
      auto check = [&](grpc::Status status, const char* step) {
        if (!status.ok()) {
          ++failures;
          std::cerr << name << " " << step << ": " << status.error_message()
                    << "\n";
        }
        return status.ok();
      };
      if (!check(Create(name, cap, 32 * kMiB, &id), "create")) return;
      if (!check(Stage(id, Staging(name), cap), "stage")) return;
      if (!check(Publish(id, Staging(name), Target(name), cap, false),
                 "publish")) {
        return;
      }
      { std::ofstream(Target(name) + "/f") << name; }
      if (!check(Unpublish(id, Target(name)), "unpublish")) return;
      if (!check(Unstage(id, Staging(name)), "unstage")) return;
      check(Delete(id), "delete");
    });
  }
  for (auto& worker : workers) worker.join();
  EXPECT_EQ(failures.load(), 0);
  ExpectNothingLeft();
}

TEST_F(LoopE2eTest, StatsReportALostMountAsAbnormal) {
  const auto cap = Cap("ext4", false);
  std::string id;
  ASSERT_TRUE(Create("pvc-lost", cap, 64 * kMiB, &id).ok());
  ASSERT_EQ(system(("mkdir -p '" + Staging("pvc-lost") + "'").c_str()), 0);
  ASSERT_TRUE(Stage(id, Staging("pvc-lost"), cap).ok());
  ASSERT_TRUE(
      Publish(id, Staging("pvc-lost"), Target("pvc-lost"), cap, false).ok());
  // Someone unmounts the target behind the driver's back.
  ASSERT_EQ(umount2(Target("pvc-lost").c_str(), 0), 0);
  csi::v1::NodeGetVolumeStatsRequest request;
  request.set_volume_id(id);
  request.set_volume_path(Target("pvc-lost"));
  csi::v1::NodeGetVolumeStatsResponse stats;
  ASSERT_TRUE(driver_->node()
                  .NodeGetVolumeStats(Context().get(), request, &stats)
                  .ok());
  EXPECT_TRUE(stats.volume_condition().abnormal());
  EXPECT_NE(stats.volume_condition().message().find("no longer mounted"),
            std::string::npos);
  ASSERT_TRUE(Unpublish(id, Target("pvc-lost")).ok());
  ASSERT_TRUE(Unstage(id, Staging("pvc-lost")).ok());
  ASSERT_TRUE(Delete(id).ok());
  ExpectNothingLeft();
}

// SIGTERM while calls are in flight: the server stops taking new calls,
// lets the accepted ones finish, and exits 0; nothing is half done.
TEST_F(LoopE2eTest, SigtermLetsInFlightCallsFinish) {
  constexpr int kCalls = 12;
  const auto cap = Cap("xfs", false);
  std::vector<grpc::StatusCode> codes(kCalls);
  std::vector<std::string> ids(kCalls);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCalls; ++i) {
    ASSERT_EQ(
        system(("mkdir -p '" + Staging(absl::StrCat("g", i)) + "'").c_str()),
        0);
  }
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([&, i] {
      grpc::Status status =
          Create(absl::StrCat("g", i), cap, 1ll << 30, &ids[i]);
      if (status.ok())
        status = Stage(ids[i], Staging(absl::StrCat("g", i)), cap);
      codes[i] = status.error_code();
    });
  }
  absl::SleepFor(absl::Milliseconds(30));
  auto exit_status = driver_->Stop(SIGTERM);
  for (auto& t : threads) t.join();
  ASSERT_TRUE(exit_status.ok());
  EXPECT_TRUE(WIFEXITED(*exit_status) && WEXITSTATUS(*exit_status) == 0);
  int finished = 0;
  for (int i = 0; i < kCalls; ++i) {
    // Accepted calls complete; calls after the signal are turned away
    // (UNAVAILABLE, or CANCELLED for one that reached the server as it
    // stopped and never started: the restart below proves no half-done
    // state either way).
    EXPECT_TRUE(codes[i] == grpc::StatusCode::OK ||
                codes[i] == grpc::StatusCode::UNAVAILABLE ||
                codes[i] == grpc::StatusCode::CANCELLED)
        << i << ": " << codes[i];
    finished += codes[i] == grpc::StatusCode::OK;
  }
  std::cerr << finished << " of " << kCalls << " create+stage finished\n";
  // Calls accepted before the signal must have been let finish.
  EXPECT_GT(finished, 0);
  // Restart: every volume is in a consistent state and can be torn down.
  driver_.reset();
  StartDriver();
  for (int i = 0; i < kCalls; ++i) {
    if (ids[i].empty()) continue;
    ASSERT_TRUE(Stage(ids[i], Staging(absl::StrCat("g", i)), cap).ok());
    ASSERT_TRUE(Unstage(ids[i], Staging(absl::StrCat("g", i))).ok());
    ASSERT_TRUE(Delete(ids[i]).ok());
  }
  ExpectNothingLeft();
}

TEST_F(LoopE2eTest, ProbeIsReadyAndInfoHasTopology) {
  csi::v1::ProbeResponse probe;
  ASSERT_TRUE(driver_->identity().Probe(Context().get(), {}, &probe).ok());
  EXPECT_TRUE(probe.ready().value());
  csi::v1::NodeGetInfoResponse info;
  ASSERT_TRUE(driver_->node().NodeGetInfo(Context().get(), {}, &info).ok());
  EXPECT_EQ(info.node_id(), kNodeId);
  EXPECT_EQ(
      info.accessible_topology().segments().at("topology.cellar.csi.io/node"),
      kNodeId);
}

}  // namespace
}  // namespace cellar
