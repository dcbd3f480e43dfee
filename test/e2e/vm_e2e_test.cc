// LVM (thick and thin) and dm-crypt end to end: the real binary over its
// socket, on a kernel with device-mapper. Runs inside the qemu guest of
// test/vm (which sets CELLAR_VM_VG and friends); skips anywhere else.
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "src/common/units.h"
#include "test/platform/loop_test_support.h"
#include "test/testing/csi_client.h"
#include "test/testing/driver_process.h"

namespace cellar {
namespace {

using testing::Context;
using testing::DriverProcess;

std::string Env(const char* name) {
  const char* value = getenv(name);
  return value == nullptr ? "" : value;
}

std::string Shell(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  pclose(pipe);
  return out;
}

// Reads `size` bytes of a device or file into memory.
std::string ReadRaw(const std::string& path, size_t size) {
  std::string data(size, '\0');
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  size_t done = 0;
  while (done < size) {
    const ssize_t got = pread(fd, data.data() + done, size - done, done);
    if (got <= 0) break;
    done += static_cast<size_t>(got);
  }
  close(fd);
  data.resize(done);
  return data;
}

class VmE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vg_ = Env("CELLAR_VM_VG");
    pool_ = Env("CELLAR_VM_THINPOOL");  // "VG/POOL" or "POOL"
    if (pool_.find('/') != std::string::npos) pool_ = pool_.substr(pool_.find('/') + 1);
    vg2_ = Env("CELLAR_VM_VG2");
    if (vg_.empty() || geteuid() != 0) {
      GTEST_SKIP() << "runs inside the qemu guest of test/vm only";
    }
    std::string pattern = "/tmp/cellar-vm-XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    kubelet_ = root_ + "/kubelet";
    ASSERT_EQ(mkdir(kubelet_.c_str(), 0750), 0);
    classes_ = absl::StrCat("thin=lvm-thin:", vg_, "/", pool_, ",thick=lvm:", vg_,
                            "?reserve=0,loop=loop:", root_, "/images");
    if (!vg2_.empty()) absl::StrAppend(&classes_, ",other=lvm:", vg2_, "?reserve=0");
    StartDriver();
  }

  void TearDown() override {
    if (root_.empty()) return;
    if (driver_ != nullptr && HasFailure()) std::cerr << driver_->ReadLog();
    client_.reset();
    driver_.reset();
    // Close any mapping and remove any LV the test left (after a failure).
    Shell("for m in /dev/mapper/cellar-*; do [ -e \"$m\" ] && umount -l \"$m\" "
          "2>/dev/null; done; grep -o ' /tmp/cellar-vm[^ ]*' /proc/self/mountinfo"
          " | sort -r | xargs -r -n1 umount -l 2>/dev/null; for m in "
          "/dev/mapper/cellar-*; do [ -e \"$m\" ] && dmsetup remove "
          "\"$(basename $m)\"; done; lvm lvremove -y -S 'lv_tags=cellar.volume' "
          ">/dev/null 2>&1");
    CleanUpScratchDir(root_);
  }

  void StartDriver() {
    auto driver = DriverProcess::Start(
        root_ + "/data", root_ + "/csi.sock",
        {"--kubelet-dir=" + kubelet_, "--node-id=vm-node",
         "--device-classes=" + classes_, "--reserve-bytes=0",
         "--log-level=debug"},
        absl::Seconds(60));
    ASSERT_TRUE(driver.ok()) << driver.status();
    driver_ = *std::move(driver);
    client_ = std::make_unique<testing::CsiClient>(driver_->channel());
  }

  std::string Staging(const std::string& name) {
    const std::string path = kubelet_ + "/plugins/" + name + "/globalmount";
    Shell("mkdir -p '" + path + "'");
    return path;
  }
  std::string Target(const std::string& name) {
    return kubelet_ + "/pods/p-" + name + "/volumes/" + name + "/mount";
  }

  // A full lifecycle; `check` runs while the volume is published.
  void Lifecycle(const std::string& name, const std::string& device_class,
                 const std::string& fs_type, bool block, bool encrypted,
                 const std::function<void(const std::string& id,
                                          const std::string& target)>& check) {
    const auto cap = testing::Capability(block ? "" : fs_type, block);
    std::map<std::string, std::string> params = {{"deviceClass", device_class}};
    if (encrypted) params["encrypted"] = "true";
    std::string id;
    ASSERT_TRUE(client_->CreateWithParameters(name, cap, 400 * kMiB, params, &id).ok());
    const std::map<std::string, std::string> secrets =
        encrypted ? std::map<std::string, std::string>{{"encryptionPassphrase",
                                                         "vm-test-key"}}
                  : std::map<std::string, std::string>{};
    const std::string staging = Staging(name);
    grpc::Status staged = client_->StageWithSecrets(id, staging, cap, secrets);
    ASSERT_TRUE(staged.ok()) << staged.error_message();
    ASSERT_TRUE(client_->Publish(id, staging, Target(name), cap, false).ok());
    if (check) check(id, Target(name));
    ASSERT_TRUE(client_->Unpublish(id, Target(name)).ok());
    ASSERT_TRUE(client_->Unstage(id, staging).ok());
    ASSERT_TRUE(client_->Delete(id).ok());
  }

  int LeftoverMappings() {
    return std::stoi("0" + Shell("ls /dev/mapper | grep -c '^cellar-' || true"));
  }
  int CellarLvs() {
    return std::stoi("0" + Shell("lvm lvs --noheadings -S 'lv_tags=cellar.volume' "
                                 "-o lv_name 2>/dev/null | grep -c . || true"));
  }

  std::string vg_, pool_, vg2_, root_, kubelet_, classes_;
  std::unique_ptr<DriverProcess> driver_;
  std::unique_ptr<testing::CsiClient> client_;
};

TEST_F(VmE2eTest, LvmLifecycles) {
  for (const std::string cls : {"thin", "thick"}) {
    for (const std::string kind : {"ext4", "xfs", "block"}) {
      const std::string name = cls + "-" + kind;
      Lifecycle(name, cls, kind, kind == "block", false,
                [&](const std::string& id, const std::string& target) {
                  if (kind == "block") {
                    const int fd = open(target.c_str(), O_WRONLY);
                    ASSERT_GE(fd, 0) << strerror(errno);
                    ASSERT_EQ(pwrite(fd, "cellar", 6, 0), 6);
                    close(fd);
                  } else {
                    std::ofstream(target + "/f") << name;
                    std::ifstream in(target + "/f");
                    std::string back;
                    in >> back;
                    EXPECT_EQ(back, name);
                  }
                  EXPECT_NE(id.find("_" + cls + "_"), std::string::npos);
                });
    }
  }
  EXPECT_EQ(CellarLvs(), 0);
}

TEST_F(VmE2eTest, OnlineExpansionOfLvmVolumes) {
  for (const std::string cls : {"thin", "thick"}) {
    for (const std::string kind : {"ext4", "xfs"}) {
      Lifecycle("grow-" + cls + kind, cls, kind, false, false,
                [&](const std::string& id, const std::string& target) {
                  ASSERT_TRUE(client_->Expand(id, target, 800 * kMiB, true).ok());
                  csi::v1::NodeGetVolumeStatsRequest request;
                  request.set_volume_id(id);
                  request.set_volume_path(target);
                  csi::v1::NodeGetVolumeStatsResponse stats;
                  ASSERT_TRUE(driver_->node()
                                  .NodeGetVolumeStats(Context().get(), request, &stats)
                                  .ok());
                  EXPECT_GT(stats.usage(0).total(),
                            static_cast<int64_t>(700 * kMiB))
                      << cls << " " << kind;
                });
    }
  }
}

TEST_F(VmE2eTest, FullVolumeGroupIsResourceExhausted) {
  std::string id;
  const grpc::Status status = client_->CreateWithParameters(
      "too-big", testing::Capability("ext4", false), 1ll << 40,
      {{"deviceClass", "thick"}}, &id);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << status.error_message();
  EXPECT_EQ(CellarLvs(), 0);
}

TEST_F(VmE2eTest, RestartDuringCreateAndStage) {
  const auto cap = testing::Capability("ext4", false);
  for (int delay_ms : {0, 5, 20, 80}) {
    const std::string name = absl::StrCat("crash-", delay_ms);
    std::string id;
    auto crash_during = [&](const std::function<grpc::Status()>& call) {
      std::thread racer([&] { (void)call(); });
      absl::SleepFor(absl::Milliseconds(delay_ms));
      kill(driver_->pid(), SIGKILL);
      racer.join();
      client_.reset();
      driver_.reset();
      StartDriver();
      const grpc::Status status = call();
      ASSERT_TRUE(status.ok()) << status.error_message();
    };
    crash_during([&] {
      return client_->CreateWithParameters(name, cap, 200 * kMiB,
                                           {{"deviceClass", "thin"}}, &id);
    });
    const std::string staging = Staging(name);
    crash_during([&] { return client_->Stage(id, staging, cap); });
    ASSERT_TRUE(client_->Unstage(id, staging).ok());
    ASSERT_TRUE(client_->Delete(id).ok());
  }
  EXPECT_EQ(CellarLvs(), 0);
}

TEST_F(VmE2eTest, TwoDeviceClassesAtOnce) {
  if (vg2_.empty()) GTEST_SKIP() << "no second VG";
  std::string a, b;
  const auto cap = testing::Capability("ext4", false);
  ASSERT_TRUE(client_->CreateWithParameters("two-a", cap, 100 * kMiB,
                                            {{"deviceClass", "thick"}}, &a).ok());
  ASSERT_TRUE(client_->CreateWithParameters("two-b", cap, 100 * kMiB,
                                            {{"deviceClass", "other"}}, &b).ok());
  EXPECT_NE(Shell("lvm lvs --noheadings -o vg_name -S 'lv_tags=cellar.volume' " + vg2_)
                .find(vg2_),
            std::string::npos);
  csi::v1::GetCapacityRequest request;
  (*request.mutable_parameters())["deviceClass"] = "other";
  csi::v1::GetCapacityResponse capacity;
  ASSERT_TRUE(driver_->controller().GetCapacity(Context().get(), request, &capacity).ok());
  EXPECT_GT(capacity.available_capacity(), 0);
  ASSERT_TRUE(client_->Delete(a).ok());
  ASSERT_TRUE(client_->Delete(b).ok());
}

// Encryption: the pattern written through the mount must not be on the
// raw device, and the LUKS2 header must be.
TEST_F(VmE2eTest, EncryptedLifecyclesHideTheData) {
  const std::string pattern = "CELLAR-PLAINTEXT-PATTERN-0123456789";
  for (const std::string cls : {"loop", "thin", "thick"}) {
    for (const std::string kind : {"ext4", "block"}) {
      const std::string name = "enc-" + cls + "-" + kind;
      Lifecycle(name, cls, kind, kind == "block", true,
                [&](const std::string& id, const std::string& target) {
                  if (kind == "block") {
                    const int fd = open(target.c_str(), O_WRONLY);
                    ASSERT_GE(fd, 0);
                    for (int i = 0; i < 64; ++i) {
                      ASSERT_EQ(pwrite(fd, pattern.data(), pattern.size(),
                                       (1 << 20) + i * 4096),
                                static_cast<ssize_t>(pattern.size()));
                    }
                    fsync(fd);
                    close(fd);
                  } else {
                    std::ofstream out(target + "/secret.txt");
                    for (int i = 0; i < 1000; ++i) out << pattern << "\n";
                    out.close();
                    sync();
                  }
                  // The raw device under the mapping.
                  const std::string mapping = Shell(
                      "ls /dev/mapper | grep '^cellar-' | head -1");
                  ASSERT_FALSE(mapping.empty());
                  std::string raw = Shell(
                      "cryptsetup status " + mapping.substr(0, mapping.size() - 1) +
                      " | awk '/device:/ {print $2}'");
                  raw = raw.substr(0, raw.find('\n'));
                  ASSERT_FALSE(raw.empty());
                  const std::string data = ReadRaw(raw, 300 << 20);
                  EXPECT_EQ(data.find(pattern), std::string::npos)
                      << "plaintext on the raw device of " << id;
                  EXPECT_EQ(data.substr(0, 6), std::string("LUKS\xba\xbe", 6));
                });
    }
  }
  EXPECT_EQ(LeftoverMappings(), 0);
}

TEST_F(VmE2eTest, WrongKeyFailsAndTheRightKeyStillWorks) {
  const auto cap = testing::Capability("ext4", false);
  std::string id;
  ASSERT_TRUE(client_->CreateWithParameters(
      "enc-key", cap, 200 * kMiB, {{"deviceClass", "thin"}, {"encrypted", "true"}},
      &id).ok());
  const std::string staging = Staging("enc-key");
  ASSERT_TRUE(client_->StageWithSecrets(id, staging, cap,
                                        {{"encryptionPassphrase", "right"}}).ok());
  ASSERT_TRUE(client_->Publish(id, staging, Target("enc-key"), cap, false).ok());
  std::ofstream(Target("enc-key") + "/keep") << "intact";
  ASSERT_TRUE(client_->Unpublish(id, Target("enc-key")).ok());
  ASSERT_TRUE(client_->Unstage(id, staging).ok());
  EXPECT_EQ(client_->StageWithSecrets(id, staging, cap,
                                      {{"encryptionPassphrase", "wrong"}})
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(client_->Stage(id, staging, cap).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(client_->StageWithSecrets(id, staging, cap,
                                        {{"encryptionPassphrase", "right"}}).ok());
  ASSERT_TRUE(client_->Publish(id, staging, Target("enc-key"), cap, false).ok());
  {
    std::ifstream in(Target("enc-key") + "/keep");
    std::string text;
    in >> text;
    EXPECT_EQ(text, "intact");
  }
  // Online expansion of an encrypted volume grows mapping and filesystem.
  ASSERT_TRUE(client_->Expand(id, Target("enc-key"), 400 * kMiB, true).ok());
  csi::v1::NodeGetVolumeStatsRequest request;
  request.set_volume_id(id);
  request.set_volume_path(Target("enc-key"));
  csi::v1::NodeGetVolumeStatsResponse stats;
  ASSERT_TRUE(driver_->node().NodeGetVolumeStats(Context().get(), request, &stats).ok());
  EXPECT_GT(stats.usage(0).total(), static_cast<int64_t>(300 * kMiB));
  ASSERT_TRUE(client_->Unpublish(id, Target("enc-key")).ok());
  ASSERT_TRUE(client_->Unstage(id, staging).ok());
  ASSERT_TRUE(client_->Delete(id).ok());
  EXPECT_EQ(LeftoverMappings(), 0);
  // The key never reached the log.
  EXPECT_EQ(driver_->ReadLog().find("right\""), std::string::npos);
  EXPECT_EQ(driver_->ReadLog().find("vm-test-key"), std::string::npos);
}

}  // namespace
}  // namespace cellar
