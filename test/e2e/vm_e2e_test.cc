// LVM (thick and thin) and dm-crypt end to end: the real binary over its
// socket, on a kernel with device-mapper. Runs inside the qemu guest of
// test/vm (which sets CELLAR_VM_VG and friends); skips anywhere else.
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "src/common/units.h"
#include "test/platform/loop_test_support.h"
#include "test/testing/csi_client.h"
#include "test/testing/driver_process.h"
#include "test/testing/e2e_fixture.h"
#include "test/testing/mount_table.h"
#include "test/testing/shell.h"

namespace cellar {
namespace {

using testing::Context;

std::string Env(const char* name) {
  const char* value = getenv(name);
  return value == nullptr ? "" : value;
}

using testing::Shell;

// Lines `command` prints, or -1 (and a test failure) when it fails: a query
// that could not run must never read as "nothing left".
int CountLines(const std::string& command) {
  const std::string out = Shell("out=$(" + command +
                                ") || { echo QUERY-FAILED; exit 0; }; "
                                "printf '%s' \"$out\" | grep -c . || true");
  if (out.find("QUERY-FAILED") != std::string::npos) {
    ADD_FAILURE() << "query failed: " << command;
    return -1;
  }
  return std::stoi("0" + out);
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

class VmE2eTest : public testing::E2eFixture {
 protected:
  VmE2eTest() : Fixture("cellar-vm") {}

  std::string SkipReason() override {
    if (vg_.empty() || geteuid() != 0) {
      return "runs inside the qemu guest of test/vm only";
    }
    return "";
  }

  void SetUp() override {
    vg_ = Env("CELLAR_VM_VG");
    pool_ = Env("CELLAR_VM_THINPOOL");  // "VG/POOL" or "POOL"
    if (pool_.find('/') != std::string::npos)
      pool_ = pool_.substr(pool_.find('/') + 1);
    vg2_ = Env("CELLAR_VM_VG2");
    Fixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    classes_ =
        absl::StrCat("thin=lvm-thin:", vg_, "/", pool_, ",thick=lvm:", vg_,
                     "?reserve=0,loop=loop:", root_, "/images");
    // "other" copies slowly: its copies last long enough to be cut short.
    if (!vg2_.empty()) {
      absl::StrAppend(&classes_, ",other=lvm:", vg2_,
                      "?reserve=0&copy-bandwidth=8388608");
    }
    StartDriver();
  }

  // Close any mapping and remove any LV the test left (after a failure).
  void RemoveLeftovers() override {
    Shell(
        "for m in /dev/mapper/cellar-*; do [ -e \"$m\" ] && umount -l \"$m\" "
        "2>/dev/null; done");
    testing::UnmountEverythingUnder(root_);
    Shell(
        "for m in /dev/mapper/cellar-*; do [ -e \"$m\" ] && dmsetup remove "
        "\"$(basename $m)\"; done; lvm lvremove -y -S 'lv_tags=cellar.volume' "
        ">/dev/null 2>&1");
  }

  void StartDriver() {
    std::vector<std::string> args = {"--node-id=vm-node",
                                     "--device-classes=" + classes_,
                                     "--reserve-bytes=0", "--log-level=debug"};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    Fixture::StartDriver(args, absl::Seconds(60));
  }

  std::string Staging(const std::string& name) {
    const std::string path =
        kubelet_ + "/plugins/kubernetes.io/csi/" + name + "/globalmount";
    Shell("mkdir -p '" + path + "'");
    return path;
  }
  std::string Target(const std::string& name) {
    return kubelet_ + "/pods/p-" + name + "/volumes/kubernetes.io~csi/" + name +
           "/mount";
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
    ASSERT_TRUE(
        client_->CreateWithParameters(name, cap, 400 * kMiB, params, &id).ok());
    const std::map<std::string, std::string> secrets =
        encrypted
            ? std::map<
                  std::string,
                  std::string>{{"encryptionPassphrase",
                                "vm-test-key-vm-test-key-vm-test-key-0123"}}
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
    return CountLines("ls /dev/mapper | grep '^cellar-' || [ -d /dev/mapper ]");
  }
  int CellarLvs() {
    return CountLines(
        "lvm lvs --noheadings -S 'lv_tags=cellar.volume' -o lv_name");
  }

  std::string vg_, pool_, vg2_, classes_;
  std::vector<std::string> extra_args_;  // more driver flags
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
      Lifecycle(
          "grow-" + cls + kind, cls, kind, false, false,
          [&](const std::string& id, const std::string& target) {
            ASSERT_TRUE(client_->Expand(id, target, 800 * kMiB, true).ok());
            csi::v1::NodeGetVolumeStatsRequest request;
            request.set_volume_id(id);
            request.set_volume_path(target);
            csi::v1::NodeGetVolumeStatsResponse stats;
            ASSERT_TRUE(
                driver_->node()
                    .NodeGetVolumeStats(Context().get(), request, &stats)
                    .ok());
            EXPECT_GT(stats.usage(0).total(), static_cast<int64_t>(700 * kMiB))
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
  ASSERT_TRUE(client_
                  ->CreateWithParameters("two-a", cap, 100 * kMiB,
                                         {{"deviceClass", "thick"}}, &a)
                  .ok());
  ASSERT_TRUE(client_
                  ->CreateWithParameters("two-b", cap, 100 * kMiB,
                                         {{"deviceClass", "other"}}, &b)
                  .ok());
  EXPECT_NE(
      Shell("lvm lvs --noheadings -o vg_name -S 'lv_tags=cellar.volume' " +
            vg2_)
          .find(vg2_),
      std::string::npos);
  csi::v1::GetCapacityRequest request;
  (*request.mutable_parameters())["deviceClass"] = "other";
  csi::v1::GetCapacityResponse capacity;
  ASSERT_TRUE(driver_->controller()
                  .GetCapacity(Context().get(), request, &capacity)
                  .ok());
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
                  const std::string mapping =
                      Shell("ls /dev/mapper | grep '^cellar-' | head -1");
                  ASSERT_FALSE(mapping.empty());
                  std::string raw =
                      Shell("cryptsetup status " +
                            mapping.substr(0, mapping.size() - 1) +
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
  ASSERT_TRUE(client_
                  ->CreateWithParameters(
                      "enc-key", cap, 200 * kMiB,
                      {{"deviceClass", "thin"}, {"encrypted", "true"}}, &id)
                  .ok());
  const std::string staging = Staging("enc-key");
  ASSERT_TRUE(
      client_
          ->StageWithSecrets(id, staging, cap,
                             {{"encryptionPassphrase",
                               "right-key-right-key-right-key-0123456"}})
          .ok());
  ASSERT_TRUE(
      client_->Publish(id, staging, Target("enc-key"), cap, false).ok());
  std::ofstream(Target("enc-key") + "/keep") << "intact";
  ASSERT_TRUE(client_->Unpublish(id, Target("enc-key")).ok());
  ASSERT_TRUE(client_->Unstage(id, staging).ok());
  EXPECT_EQ(client_
                ->StageWithSecrets(id, staging, cap,
                                   {{"encryptionPassphrase",
                                     "wrong-key-wrong-key-wrong-key-0123456"}})
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(client_->Stage(id, staging, cap).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(
      client_
          ->StageWithSecrets(id, staging, cap,
                             {{"encryptionPassphrase",
                               "right-key-right-key-right-key-0123456"}})
          .ok());
  ASSERT_TRUE(
      client_->Publish(id, staging, Target("enc-key"), cap, false).ok());
  {
    std::ifstream in(Target("enc-key") + "/keep");
    std::string text;
    in >> text;
    EXPECT_EQ(text, "intact");
  }
  // A driver killed and restarted finds the open mapping of the staged
  // volume and reuses it: staging again opens nothing twice.
  EXPECT_EQ(LeftoverMappings(), 1);
  kill(driver_->pid(), SIGKILL);
  client_.reset();
  driver_.reset();
  StartDriver();
  ASSERT_TRUE(
      client_
          ->StageWithSecrets(id, staging, cap,
                             {{"encryptionPassphrase",
                               "right-key-right-key-right-key-0123456"}})
          .ok());
  ASSERT_TRUE(
      client_->Publish(id, staging, Target("enc-key"), cap, false).ok());
  EXPECT_EQ(LeftoverMappings(), 1);
  // Online expansion of an encrypted volume grows mapping and filesystem.
  ASSERT_TRUE(client_->Expand(id, Target("enc-key"), 400 * kMiB, true).ok());
  csi::v1::NodeGetVolumeStatsRequest request;
  request.set_volume_id(id);
  request.set_volume_path(Target("enc-key"));
  csi::v1::NodeGetVolumeStatsResponse stats;
  ASSERT_TRUE(driver_->node()
                  .NodeGetVolumeStats(Context().get(), request, &stats)
                  .ok());
  EXPECT_GT(stats.usage(0).total(), static_cast<int64_t>(300 * kMiB));
  ASSERT_TRUE(client_->Unpublish(id, Target("enc-key")).ok());
  ASSERT_TRUE(client_->Unstage(id, staging).ok());
  ASSERT_TRUE(client_->Delete(id).ok());
  EXPECT_EQ(LeftoverMappings(), 0);
  // Neither key this test sent reached the log.
  const std::string log = driver_->ReadLog();
  EXPECT_EQ(log.find("right-key-right-key"), std::string::npos);
  EXPECT_EQ(log.find("wrong-key-wrong-key"), std::string::npos);
}

// ---------------------------------------------------------------- Snapshots
// Snapshots, restores and clones on LVM thin and thick (and encrypted on
// thin, thick and loop).

bool GuestHasCapSysResource() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("CapEff:", 0) == 0) {
      return std::stoull(line.substr(7), nullptr, 16) & (1ull << 24);
    }
  }
  return false;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  if (!in) return "<unreadable " + path + ">";
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool WriteText(const std::string& path, const std::string& text) {
  const int fd =
      open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  const bool ok = write(fd, text.data(), text.size()) ==
                      static_cast<ssize_t>(text.size()) &&
                  fsync(fd) == 0;
  close(fd);
  return ok;
}

// A thin pool guarded by the driver (autoextend, its cap, create-limit) in
// the second VG, filled through a published block volume; its metrics
// scraped with curl and compared with lvs and vgs.
class VmThinPoolGuardTest : public VmE2eTest {
 protected:
  void SetUp() override {
    VmE2eTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    if (vg2_.empty()) GTEST_SKIP() << "needs the second VG";
    // Zeroing new blocks (the driver requires it) and failing writes at
    // once when full instead of queueing them for a minute.
    ASSERT_EQ(Shell("lvm lvcreate --yes --type thin-pool --size 64m --zero y "
                    "--name guardpool " +
                    vg2_ +
                    " >/dev/null && lvm lvchange "
                    "--errorwhenfull y " +
                    vg2_ + "/guardpool >/dev/null && echo ok"),
              "ok\n");
  }
  void RemoveLeftovers() override {
    testing::UnmountEverythingUnder(root_);
    Shell("lvm lvremove -y " + vg2_ + "/filler " + vg2_ +
          "/guardpool >/dev/null 2>&1; lvm lvremove -y " + vg2_ +
          "/lvol0_pmspare >/dev/null 2>&1");
    VmE2eTest::RemoveLeftovers();
  }

  void StartGuarded(const std::string& max) {
    client_.reset();
    driver_.reset();
    classes_ = absl::StrCat("guard=lvm-thin:", vg2_,
                            "/guardpool?overprovision=8&autoextend=50&"
                            "autoextend-step=50&autoextend-max=",
                            max, "&create-limit=90");
    extra_args_ = {"--metrics-address=127.0.0.1:0"};
    StartDriver();
  }

  uint64_t PoolBytes() {
    return std::stoull("0" + Shell("lvm lvs --noheadings --units b --nosuffix "
                                   "-o lv_size " +
                                   vg2_ + "/guardpool | tr -d ' \n'"));
  }
  // Waits up to 30 s for the pool to reach `bytes`; returns its size then.
  uint64_t WaitForPool(uint64_t bytes) {
    for (int i = 0; i < 60 && PoolBytes() < bytes; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    return PoolBytes();
  }
  // Writes `mib` MiB of random data at `at_mib` MiB into the block target.
  bool Write(const std::string& target, int at_mib, int mib) {
    return Shell(absl::StrCat(
               "dd if=/dev/urandom of='", target, "' bs=1M seek=", at_mib,
               " count=", mib,
               " oflag=direct conv=notrunc 2>/dev/null && echo ok")) == "ok\n";
  }
  grpc::Status CreateIn(const std::string& name, std::string* id) {
    return client_->CreateWithParameters(name, testing::Capability("", true),
                                         16 * kMiB, {{"deviceClass", "guard"}},
                                         id);
  }
  int64_t Capacity() {
    csi::v1::GetCapacityRequest request;
    (*request.mutable_parameters())["deviceClass"] = "guard";
    csi::v1::GetCapacityResponse response;
    EXPECT_TRUE(driver_->controller()
                    .GetCapacity(Context().get(), request, &response)
                    .ok());
    return response.available_capacity();
  }
  std::string Scrape() {
    const std::string log = driver_->ReadLog();
    const size_t at = log.find("(port ");
    if (at == std::string::npos) return "";
    const std::string port = log.substr(at + 6, log.find(')', at) - at - 6);
    return "\n" + Shell("curl -s http://127.0.0.1:" + port + "/metrics");
  }
  static double Value(const std::string& page, const std::string& series) {
    const size_t at = page.find("\n" + series + " ");
    if (at == std::string::npos) return -1;
    return std::stod(page.substr(at + series.size() + 2));
  }
};

TEST_F(VmThinPoolGuardTest, ThePoolGrowsToItsCapAndAFullVgStopsCreates) {
  constexpr uint64_t kCap = 128 * kMiB;
  StartGuarded(std::to_string(kCap));
  const auto cap = testing::Capability("", true);
  std::string id;
  ASSERT_TRUE(client_
                  ->CreateWithParameters("filled", cap, 512 * kMiB,
                                         {{"deviceClass", "guard"}}, &id)
                  .ok());
  const std::string staging = Staging("filled");
  ASSERT_TRUE(client_->Stage(id, staging, cap).ok());
  const std::string target = Target("filled");
  ASSERT_TRUE(client_->Publish(id, staging, target, cap, false).ok());

  // 40 MiB of 64: past 50%, the pool grows by half, to 96 MiB.
  ASSERT_TRUE(Write(target, 0, 40));
  EXPECT_EQ(WaitForPool(96 * kMiB), 96 * kMiB);
  // 80 MiB of 96: grows again, but only to its cap.
  ASSERT_TRUE(Write(target, 40, 40));
  EXPECT_EQ(WaitForPool(kCap), kCap);
  std::this_thread::sleep_for(std::chrono::seconds(7));  // checks every 5 s
  EXPECT_EQ(PoolBytes(), kCap) << "grew past its cap";
  std::string other;
  ASSERT_TRUE(CreateIn("below-limit", &other).ok());  // 62% < 90%
  ASSERT_TRUE(client_->Delete(other).ok());

  // A cap the VG cannot meet: the driver restarted with a larger cap and
  // the VG filled up by something else. Past create-limit the pool cannot
  // grow, creates are refused, and the volume still reads and writes.
  // (Filled first: a restarted driver checks its pools at once.)
  ASSERT_EQ(Shell("lvm lvcreate --yes --extents 100%FREE --name filler " +
                  vg2_ + " >/dev/null && echo ok"),
            "ok\n");
  StartGuarded(std::to_string(kGiB));
  ASSERT_TRUE(Write(target, 80, 40));  // 120 MiB of 128: 94%
  std::this_thread::sleep_for(std::chrono::seconds(7));
  EXPECT_EQ(PoolBytes(), kCap);
  grpc::Status refused = CreateIn("over-limit", &other);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << refused.error_message();
  EXPECT_NE(refused.error_message().find("create-limit"), std::string::npos)
      << refused.error_message();
  EXPECT_EQ(Capacity(), 0);
  EXPECT_EQ(CountLines("lvm lvs --noheadings -o lv_name " + vg2_ +
                       " | grep -v -e guardpool -e filler -e lvol0_pmspare"),
            1);                      // only the filled volume
  ASSERT_TRUE(Write(target, 0, 8));  // provisioned blocks: still writable
  EXPECT_EQ(ReadRaw(target, 4096).size(), 4096u);

  // The metrics say what lvs and vgs say.
  const std::string page = Scrape();
  ASSERT_FALSE(page.empty()) << driver_->ReadLog();
  const std::string pool = "{pool=\"" + vg2_ + "/guardpool\"}";
  EXPECT_EQ(Value(page, "cellar_thin_pool_size_bytes" + pool),
            static_cast<double>(PoolBytes()));
  const double lvs_data =
      std::stod(Shell("lvm lvs --noheadings -o data_percent " + vg2_ +
                      "/guardpool | tr -d ' \n'"));
  EXPECT_NEAR(Value(page, "cellar_thin_pool_data_used_ratio" + pool),
              lvs_data / 100, 0.0001);
  const double vg_free =
      std::stod(Shell("lvm vgs --noheadings --units b --nosuffix "
                      "-o vg_free " +
                      vg2_ + " | tr -d ' \n'"));
  EXPECT_EQ(Value(page, "cellar_vg_free_bytes{vg=\"" + vg2_ + "\"}"), vg_free);
  EXPECT_EQ(
      Value(page,
            "cellar_device_class_available_bytes{device_class=\"guard\"}"),
      0);
  EXPECT_EQ(Value(page, "cellar_device_class_volumes{device_class=\"guard\"}"),
            1);
  EXPECT_EQ(Value(page, "cellar_vg_missing_pvs{vg=\"" + vg2_ + "\"}"), 0);
  EXPECT_GE(Value(page, "cellar_thin_pool_autoextends_total" + pool), 0);

  // Room in the VG again: the pool grows by itself and creates go on.
  ASSERT_EQ(Shell("lvm lvremove -y " + vg2_ + "/filler >/dev/null && echo ok"),
            "ok\n");
  EXPECT_GT(WaitForPool(kCap + 1), kCap);
  grpc::Status created = CreateIn("after-growth", &other);
  EXPECT_TRUE(created.ok()) << created.error_message();
  if (created.ok()) ASSERT_TRUE(client_->Delete(other).ok());
  EXPECT_GE(Value(Scrape(), "cellar_thin_pool_autoextends_total" + pool), 1);

  ASSERT_TRUE(client_->Unpublish(id, target).ok());
  ASSERT_TRUE(client_->Unstage(id, staging).ok());
  ASSERT_TRUE(client_->Delete(id).ok());
}

TEST_F(VmThinPoolGuardTest, AFullPoolMakesItsVolumeAbnormal) {
  // No autoextend: 64 MiB, filled to the last block.
  client_.reset();
  driver_.reset();
  classes_ = "guard=lvm-thin:" + vg2_ + "/guardpool?overprovision=8";
  extra_args_.clear();
  StartDriver();
  const auto cap = testing::Capability("", true);
  std::string id;
  ASSERT_TRUE(client_
                  ->CreateWithParameters("full", cap, 128 * kMiB,
                                         {{"deviceClass", "guard"}}, &id)
                  .ok());
  const std::string staging = Staging("full");
  ASSERT_TRUE(client_->Stage(id, staging, cap).ok());
  const std::string target = Target("full");
  ASSERT_TRUE(client_->Publish(id, staging, target, cap, false).ok());
  csi::v1::NodeGetVolumeStatsRequest request;
  request.set_volume_id(id);
  request.set_volume_path(target);
  csi::v1::NodeGetVolumeStatsResponse stats;
  ASSERT_TRUE(driver_->node()
                  .NodeGetVolumeStats(Context().get(), request, &stats)
                  .ok());
  EXPECT_FALSE(stats.volume_condition().abnormal())
      << stats.volume_condition().message();

  EXPECT_FALSE(Write(target, 0, 100));  // more than the pool holds: EIO
  ASSERT_TRUE(driver_->node()
                  .NodeGetVolumeStats(Context().get(), request, &stats)
                  .ok());
  EXPECT_TRUE(stats.volume_condition().abnormal());
  EXPECT_NE(stats.volume_condition().message().find("out of data space"),
            std::string::npos)
      << stats.volume_condition().message() << " / lv_attr "
      << Shell("lvm lvs --noheadings -o lv_attr " + vg2_ + "/guardpool");
  csi::v1::ControllerGetVolumeRequest get;
  get.set_volume_id(id);
  csi::v1::ControllerGetVolumeResponse got;
  ASSERT_TRUE(driver_->controller()
                  .ControllerGetVolume(Context().get(), get, &got)
                  .ok());
  EXPECT_TRUE(got.status().volume_condition().abnormal());

  ASSERT_TRUE(client_->Unpublish(id, target).ok());
  ASSERT_TRUE(client_->Unstage(id, staging).ok());
  ASSERT_TRUE(client_->Delete(id).ok());
}

class VmSnapshotTest : public VmE2eTest {
 protected:
  using Secrets = std::map<std::string, std::string>;
  using Params = std::map<std::string, std::string>;

  void TearDown() override {
    VmE2eTest::TearDown();
    // The base removes volume LVs; a failed test may also leave snapshots.
    if (!vg_.empty() && geteuid() == 0) {
      Shell(
          "lvm lvremove -y -S 'lv_tags=cellar.cow' >/dev/null 2>&1; "
          "lvm lvremove -y -S 'lv_tags=cellar.snapshot' >/dev/null 2>&1");
    }
  }

  // Stage (with `secrets`) and publish.
  void Up(const std::string& id, const std::string& name,
          const csi::v1::VolumeCapability& cap, const Secrets& secrets = {}) {
    grpc::Status status =
        client_->StageWithSecrets(id, Staging(name), cap, secrets);
    ASSERT_TRUE(status.ok()) << name << " stage: " << status.error_message();
    status = client_->Publish(id, Staging(name), Target(name), cap, false);
    ASSERT_TRUE(status.ok()) << name << " publish: " << status.error_message();
  }
  void Unmount(const std::string& id, const std::string& name) {
    grpc::Status status = client_->Unpublish(id, Target(name));
    ASSERT_TRUE(status.ok())
        << name << " unpublish: " << status.error_message();
    status = client_->Unstage(id, Staging(name));
    ASSERT_TRUE(status.ok()) << name << " unstage: " << status.error_message();
  }
  void Down(const std::string& id, const std::string& name) {
    ASSERT_NO_FATAL_FAILURE(Unmount(id, name));
    const grpc::Status status = client_->Delete(id);
    ASSERT_TRUE(status.ok()) << name << " delete: " << status.error_message();
  }

  grpc::Status CreateFrom(const std::string& name,
                          const csi::v1::VolumeCapability& cap, int64_t bytes,
                          const Params& params, const std::string& snapshot_id,
                          const std::string& source_volume_id,
                          std::string* id) {
    csi::v1::CreateVolumeRequest request;
    request.set_name(name);
    *request.add_volume_capabilities() = cap;
    request.mutable_capacity_range()->set_required_bytes(bytes);
    for (const auto& [key, value] : params)
      (*request.mutable_parameters())[key] = value;
    if (!snapshot_id.empty()) {
      request.mutable_volume_content_source()
          ->mutable_snapshot()
          ->set_snapshot_id(snapshot_id);
    } else {
      request.mutable_volume_content_source()->mutable_volume()->set_volume_id(
          source_volume_id);
    }
    csi::v1::CreateVolumeResponse response;
    grpc::Status status =
        driver_->controller().CreateVolume(Context().get(), request, &response);
    if (status.ok()) {
      *id = response.volume().volume_id();
      EXPECT_EQ(response.volume().capacity_bytes(), bytes) << name;
    }
    return status;
  }

  grpc::Status Snapshot(const std::string& name, const std::string& source,
                        csi::v1::Snapshot* snapshot = nullptr) {
    csi::v1::CreateSnapshotRequest request;
    request.set_name(name);
    request.set_source_volume_id(source);
    csi::v1::CreateSnapshotResponse response;
    grpc::Status status = driver_->controller().CreateSnapshot(
        Context().get(), request, &response);
    if (snapshot != nullptr) *snapshot = response.snapshot();
    return status;
  }

  grpc::Status DeleteSnapshot(const std::string& id) {
    csi::v1::DeleteSnapshotRequest request;
    request.set_snapshot_id(id);
    csi::v1::DeleteSnapshotResponse response;
    return driver_->controller().DeleteSnapshot(Context().get(), request,
                                                &response);
  }

  int64_t TotalBytes(const std::string& id, const std::string& path) {
    csi::v1::NodeGetVolumeStatsRequest request;
    request.set_volume_id(id);
    request.set_volume_path(path);
    csi::v1::NodeGetVolumeStatsResponse stats;
    const grpc::Status status =
        driver_->node().NodeGetVolumeStats(Context().get(), request, &stats);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return status.ok() && stats.usage_size() > 0 ? stats.usage(0).total() : -1;
  }

  int CellarSnapshotLvs() {
    return CountLines(
        "lvm lvs --noheadings -S 'lv_tags=cellar.snapshot' -o lv_name");
  }
};

// A snapshot and a clone of a mounted (published) thin volume: the driver
// freezes the filesystem around the copy; LVM must still be able to make the
// thin snapshot. With the volume unmounted the same snapshot works.
TEST_F(VmSnapshotTest, ThinSnapshotAndCloneOfAMountedVolume) {
  const auto cap = testing::Capability("ext4", false);
  const Params thin = {{"deviceClass", "thin"}};
  std::string src;
  ASSERT_TRUE(
      client_->CreateWithParameters("tlive", cap, 200 * kMiB, thin, &src).ok());
  ASSERT_NO_FATAL_FAILURE(Up(src, "tlive", cap));
  ASSERT_TRUE(WriteText(Target("tlive") + "/data.txt", "live data"));

  csi::v1::Snapshot snapshot;
  grpc::Status status = Snapshot("tlive-snap", src, &snapshot);
  EXPECT_TRUE(status.ok()) << "snapshot of a mounted thin volume: "
                           << status.error_code() << " "
                           << status.error_message();
  std::string clone;
  status = CreateFrom("tlive-clone", cap, 200 * kMiB, thin, "", src, &clone);
  EXPECT_TRUE(status.ok()) << "clone of a mounted thin volume: "
                           << status.error_code() << " "
                           << status.error_message();
  if (!clone.empty()) {
    ASSERT_NO_FATAL_FAILURE(Up(clone, "tlive-clone", cap));
    EXPECT_EQ(ReadText(Target("tlive-clone") + "/data.txt"), "live data");
    ASSERT_NO_FATAL_FAILURE(Down(clone, "tlive-clone"));
  }
  if (!snapshot.snapshot_id().empty()) {
    std::string restored;
    status = CreateFrom("tlive-rest", cap, 200 * kMiB, thin,
                        snapshot.snapshot_id(), "", &restored);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_NO_FATAL_FAILURE(Up(restored, "tlive-rest", cap));
    EXPECT_EQ(ReadText(Target("tlive-rest") + "/data.txt"), "live data");
    ASSERT_NO_FATAL_FAILURE(Down(restored, "tlive-rest"));
    EXPECT_TRUE(DeleteSnapshot(snapshot.snapshot_id()).ok());
  }
  // Unmounted, the same volume snapshots fine: the failure is the mount's.
  ASSERT_NO_FATAL_FAILURE(Unmount(src, "tlive"));
  status = Snapshot("tcold-snap", src, &snapshot);
  EXPECT_TRUE(status.ok()) << status.error_message();
  if (status.ok()) {
    EXPECT_TRUE(DeleteSnapshot(snapshot.snapshot_id()).ok());
  }
  EXPECT_TRUE(client_->Delete(src).ok());
  EXPECT_EQ(CellarLvs(), 0);
  EXPECT_EQ(CellarSnapshotLvs(), 0);
}

// Write, snapshot, change, restore (the original data), clone (the current
// data), all independent; deleting the origin keeps its snapshot restorable;
// a restore larger than its snapshot grows the filesystem on stage. The
// source is unmounted while it is snapshotted or cloned (the mounted case is
// ThinSnapshotAndCloneOfAMountedVolume).
TEST_F(VmSnapshotTest, ThinSnapshotRestoreAndClone) {
  const auto cap = testing::Capability("ext4", false);
  const Params thin = {{"deviceClass", "thin"}};
  std::string src;
  ASSERT_TRUE(
      client_->CreateWithParameters("tsrc", cap, 400 * kMiB, thin, &src).ok());
  ASSERT_NO_FATAL_FAILURE(Up(src, "tsrc", cap));
  ASSERT_TRUE(WriteText(Target("tsrc") + "/data.txt", "original"));
  ASSERT_NO_FATAL_FAILURE(Unmount(src, "tsrc"));

  csi::v1::Snapshot snapshot;
  grpc::Status status = Snapshot("tsnap", src, &snapshot);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const std::string snap = snapshot.snapshot_id();
  EXPECT_NE(snap.find("_thin_"), std::string::npos) << snap;
  EXPECT_EQ(snapshot.source_volume_id(), src);
  EXPECT_EQ(snapshot.size_bytes(), static_cast<int64_t>(400 * kMiB));
  EXPECT_TRUE(snapshot.ready_to_use());
  csi::v1::Snapshot again;
  ASSERT_TRUE(Snapshot("tsnap", src, &again).ok());
  EXPECT_EQ(again.snapshot_id(), snap);
  EXPECT_EQ(CellarSnapshotLvs(), 1);
  ASSERT_NO_FATAL_FAILURE(Up(src, "tsrc", cap));
  EXPECT_EQ(ReadText(Target("tsrc") + "/data.txt"), "original");
  ASSERT_TRUE(WriteText(Target("tsrc") + "/data.txt", "changed"));

  // Restore: the data of the snapshot.
  std::string restored;
  status = CreateFrom("trestored", cap, 400 * kMiB, thin, snap, "", &restored);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_NE(restored.find("_thin_"), std::string::npos) << restored;
  ASSERT_NO_FATAL_FAILURE(Up(restored, "trestored", cap));
  EXPECT_EQ(ReadText(Target("trestored") + "/data.txt"), "original");
  EXPECT_EQ(ReadText(Target("tsrc") + "/data.txt"), "changed");
  ASSERT_TRUE(WriteText(Target("trestored") + "/data.txt", "restore's own"));
  EXPECT_EQ(ReadText(Target("tsrc") + "/data.txt"), "changed");

  // Clone, with no deviceClass: it lands in the source's class and has the
  // current data.
  ASSERT_NO_FATAL_FAILURE(Unmount(src, "tsrc"));
  std::string clone;
  status = CreateFrom("tclone", cap, 400 * kMiB, {}, "", src, &clone);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_NE(clone.find("_thin_"), std::string::npos) << clone;
  ASSERT_NO_FATAL_FAILURE(Up(clone, "tclone", cap));
  ASSERT_NO_FATAL_FAILURE(Up(src, "tsrc", cap));
  EXPECT_EQ(ReadText(Target("tclone") + "/data.txt"), "changed");
  ASSERT_TRUE(WriteText(Target("tclone") + "/data.txt", "clone's own"));
  EXPECT_EQ(ReadText(Target("tsrc") + "/data.txt"), "changed");
  EXPECT_EQ(ReadText(Target("trestored") + "/data.txt"), "restore's own");

  // An unencrypted source cannot become an encrypted volume.
  std::string refused;
  status = CreateFrom("tenc", cap, 400 * kMiB,
                      {{"deviceClass", "thin"}, {"encrypted", "true"}}, snap,
                      "", &refused);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << status.error_message();
  // Smaller than the snapshot: OUT_OF_RANGE.
  status = CreateFrom("tsmall", cap, 200 * kMiB, thin, snap, "", &refused);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::OUT_OF_RANGE)
      << status.error_message();

  ASSERT_NO_FATAL_FAILURE(Down(restored, "trestored"));
  ASSERT_NO_FATAL_FAILURE(Down(clone, "tclone"));

  // The origin of a snapshot can be deleted; the snapshot still restores.
  ASSERT_NO_FATAL_FAILURE(Down(src, "tsrc"));
  std::string late;
  status = CreateFrom("tlate", cap, 400 * kMiB, thin, snap, "", &late);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_NO_FATAL_FAILURE(Up(late, "tlate", cap));
  EXPECT_EQ(ReadText(Target("tlate") + "/data.txt"), "original");
  ASSERT_NO_FATAL_FAILURE(Down(late, "tlate"));
  EXPECT_TRUE(DeleteSnapshot(snap).ok());
  EXPECT_TRUE(DeleteSnapshot(snap).ok());
  EXPECT_EQ(CellarSnapshotLvs(), 0);

  // Restore larger: the filesystem grows on stage (xfs; ext4 when the
  // guest has CAP_SYS_RESOURCE).
  std::vector<std::string> kinds = {"xfs"};
  if (GuestHasCapSysResource()) kinds.push_back("ext4");
  for (const std::string& kind : kinds) {
    SCOPED_TRACE(kind);
    const auto fs_cap = testing::Capability(kind, false);
    const std::string small_name = "tsmall-" + kind, big_name = "tbig-" + kind;
    std::string small, big;
    ASSERT_TRUE(
        client_
            ->CreateWithParameters(small_name, fs_cap, 400 * kMiB, thin, &small)
            .ok());
    ASSERT_NO_FATAL_FAILURE(Up(small, small_name, fs_cap));
    ASSERT_TRUE(WriteText(Target(small_name) + "/data.txt", "payload " + kind));
    EXPECT_LT(TotalBytes(small, Target(small_name)),
              static_cast<int64_t>(400 * kMiB));
    ASSERT_NO_FATAL_FAILURE(Unmount(small, small_name));
    status = Snapshot("tsnap-" + kind, small, &snapshot);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_TRUE(client_->Delete(small).ok());
    status = CreateFrom(big_name, fs_cap, 800 * kMiB, thin,
                        snapshot.snapshot_id(), "", &big);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_NO_FATAL_FAILURE(Up(big, big_name, fs_cap));
    EXPECT_GT(TotalBytes(big, Target(big_name)),
              static_cast<int64_t>(700 * kMiB));
    EXPECT_EQ(ReadText(Target(big_name) + "/data.txt"), "payload " + kind);
    ASSERT_NO_FATAL_FAILURE(Down(big, big_name));
    EXPECT_TRUE(DeleteSnapshot(snapshot.snapshot_id()).ok());
  }
  EXPECT_EQ(CellarLvs(), 0);
  EXPECT_EQ(CellarSnapshotLvs(), 0);
}

// An encrypted volume's snapshot restores (and clones) into volumes that open
// with the same node-stage secret: their LUKS passphrase derives from the
// source volume's id (encryption_key_id), and they hold the original data.
TEST_F(VmSnapshotTest, EncryptedSnapshotRestoresWithTheSameSecret) {
  const auto cap = testing::Capability("ext4", false);
  const Secrets secrets = {
      {"encryptionPassphrase", "snapshot-test-key-snapshot-test-key-01"}};
  for (const std::string cls : {"thin", "loop"}) {
    SCOPED_TRACE(cls);
    const Params params = {{"deviceClass", cls}, {"encrypted", "true"}};
    const std::string src_name = "esrc-" + cls, restored_name = "erest-" + cls,
                      clone_name = "eclone-" + cls;
    std::string src;
    ASSERT_TRUE(
        client_->CreateWithParameters(src_name, cap, 200 * kMiB, params, &src)
            .ok());
    ASSERT_NO_FATAL_FAILURE(Up(src, src_name, cap, secrets));
    ASSERT_TRUE(WriteText(Target(src_name) + "/secret.txt", "sealed original"));
    csi::v1::Snapshot snapshot;
    grpc::Status status = Snapshot("esnap-" + cls, src, &snapshot);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_TRUE(WriteText(Target(src_name) + "/secret.txt", "sealed changed"));

    std::string restored;
    status = CreateFrom(restored_name, cap, 200 * kMiB, params,
                        snapshot.snapshot_id(), "", &restored);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_NO_FATAL_FAILURE(Up(restored, restored_name, cap, secrets));
    EXPECT_EQ(ReadText(Target(restored_name) + "/secret.txt"),
              "sealed original");
    EXPECT_EQ(ReadText(Target(src_name) + "/secret.txt"), "sealed changed");
    ASSERT_NO_FATAL_FAILURE(Unmount(restored, restored_name));
    // Still a LUKS volume: another key does not open it.
    EXPECT_EQ(
        client_
            ->StageWithSecrets(restored, Staging(restored_name), cap,
                               {{"encryptionPassphrase",
                                 "another-key-another-key-another-key-01"}})
            .error_code(),
        grpc::StatusCode::PERMISSION_DENIED);
    // The refused stage attached the device; unstage lets it go.
    EXPECT_TRUE(client_->Unstage(restored, Staging(restored_name)).ok());
    EXPECT_TRUE(client_->Delete(restored).ok());

    std::string clone;
    status = CreateFrom(clone_name, cap, 200 * kMiB, params, "", src, &clone);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_NO_FATAL_FAILURE(Up(clone, clone_name, cap, secrets));
    EXPECT_EQ(ReadText(Target(clone_name) + "/secret.txt"), "sealed changed");
    ASSERT_NO_FATAL_FAILURE(Down(clone, clone_name));
    ASSERT_NO_FATAL_FAILURE(Down(src, src_name));
    EXPECT_TRUE(DeleteSnapshot(snapshot.snapshot_id()).ok());
  }
  EXPECT_EQ(LeftoverMappings(), 0);
  EXPECT_EQ(CellarLvs(), 0);
  EXPECT_EQ(CellarSnapshotLvs(), 0);
  EXPECT_EQ(driver_->ReadLog().find("snapshot-test-key"), std::string::npos);
}

// Thick LVM: a snapshot answers at once (ready_to_use false) and is copied
// in the background into an LV of its own; it becomes ready by itself.

// Polls ListSnapshots (by id) until the snapshot is ready, at most `limit`.
// The error when it is not.
std::string WaitUntilReady(testing::DriverProcess* driver,
                           const std::string& id,
                           absl::Duration limit = absl::Seconds(120)) {
  const absl::Time deadline = absl::Now() + limit;
  std::string last = "never listed";
  while (absl::Now() < deadline) {
    csi::v1::ListSnapshotsRequest request;
    request.set_snapshot_id(id);
    csi::v1::ListSnapshotsResponse response;
    const grpc::Status status =
        driver->controller().ListSnapshots(Context().get(), request, &response);
    if (!status.ok()) {
      last = status.error_message();
    } else if (response.entries_size() != 1) {
      last = absl::StrCat(response.entries_size(), " entries");
    } else if (response.entries(0).snapshot().ready_to_use()) {
      return "";
    } else {
      last = "not ready";
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
  return absl::StrCat("snapshot ", id, " not ready after ",
                      absl::FormatDuration(limit), ": ", last);
}

// The byte count of the driver's last "copied N of M bytes" log line, or -1.
int64_t LastCopiedBytes(const std::string& log) {
  int64_t last = -1;
  for (size_t at = log.find("copied "); at != std::string::npos;
       at = log.find("copied ", at + 1)) {
    if (isdigit(static_cast<unsigned char>(log[at + 7])) &&
        log.find(" bytes of ", at) != std::string::npos) {
      last = std::atoll(log.c_str() + at + 7);
    }
  }
  return last;
}

int TempCowLvs() {
  return CountLines("lvm lvs --noheadings -S 'lv_tags=cellar.cow' -o lv_name");
}

// Write, snapshot (mounted), change, restore (the old data), clone (the
// new data), delete the source, restore again (the old data): on ext4
// (used blocks copied) and a block volume (every byte copied, as for xfs
// and encrypted volumes; the block volume snapshots and restores only, to
// keep the guest tier short).
TEST_F(VmSnapshotTest, ThickSnapshotRestoreAndClone) {
  const Params thick = {{"deviceClass", "thick"}};
  for (const std::string kind : {"ext4", "block"}) {
    SCOPED_TRACE(kind);
    const bool block = kind == "block";
    const auto cap = testing::Capability(block ? "" : kind, block);
    const int64_t size = 200 * kMiB;
    const std::string src_name = "ksrc-" + kind;
    std::string src;
    ASSERT_TRUE(
        client_->CreateWithParameters(src_name, cap, size, thick, &src).ok());
    ASSERT_NO_FATAL_FAILURE(Up(src, src_name, cap));
    // The data: a file (or the device's first and last blocks).
    const std::string device = Target(src_name);
    auto write = [&](const std::string& target, const std::string& text) {
      if (!block) return WriteText(target + "/data.txt", text);
      std::string padded = text;
      padded.resize(4096, '.');
      const int fd = open(target.c_str(), O_WRONLY | O_CLOEXEC);
      const bool ok = fd >= 0 && pwrite(fd, padded.data(), 4096, 0) == 4096 &&
                      pwrite(fd, padded.data(), 4096, size - 4096) == 4096 &&
                      fsync(fd) == 0;
      if (fd >= 0) close(fd);
      return ok;
    };
    auto read = [&](const std::string& target) {
      if (!block) return ReadText(target + "/data.txt");
      const std::string head = ReadRaw(target, 4096);
      const int fd = open(target.c_str(), O_RDONLY | O_CLOEXEC);
      std::string tail(4096, '\0');
      if (fd < 0 || pread(fd, tail.data(), 4096, size - 4096) != 4096) {
        tail = "<unreadable>";
      }
      if (fd >= 0) close(fd);
      if (head != tail) return std::string("<head and tail differ>");
      return head.substr(0, head.find('.'));
    };
    ASSERT_TRUE(write(device, "thick original " + kind));

    csi::v1::Snapshot snapshot;
    grpc::Status status = Snapshot("ksnap-" + kind, src, &snapshot);
    ASSERT_TRUE(status.ok()) << status.error_message();
    const std::string snap = snapshot.snapshot_id();
    EXPECT_NE(snap.find("_thick_"), std::string::npos) << snap;
    EXPECT_EQ(snapshot.size_bytes(), static_cast<int64_t>(size));
    // Changed at once: the snapshot holds the instant it was asked for.
    ASSERT_TRUE(write(device, "thick changed " + kind));
    ASSERT_EQ(WaitUntilReady(driver_.get(), snap), "");
    EXPECT_EQ(TempCowLvs(), 0);
    // ext4: only what the filesystem uses (dumpe2fs); block: every byte.
    const int64_t copied = LastCopiedBytes(driver_->ReadLog());
    if (block) {
      EXPECT_EQ(copied, size);
    } else {
      EXPECT_GT(copied, 0);
      EXPECT_LT(copied, size / 4);
    }
    csi::v1::Snapshot again;
    ASSERT_TRUE(Snapshot("ksnap-" + kind, src, &again).ok());
    EXPECT_EQ(again.snapshot_id(), snap);
    EXPECT_TRUE(again.ready_to_use());

    std::string restored;
    status = CreateFrom("krest-" + kind, cap, size, thick, snap, "", &restored);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_NO_FATAL_FAILURE(Up(restored, "krest-" + kind, cap));
    EXPECT_EQ(read(Target("krest-" + kind)), "thick original " + kind);
    ASSERT_NO_FATAL_FAILURE(Down(restored, "krest-" + kind));
    if (block) {
      ASSERT_NO_FATAL_FAILURE(Down(src, src_name));
      EXPECT_TRUE(DeleteSnapshot(snap).ok());
      continue;
    }

    // A clone of the mounted source: its data now.
    std::string clone;
    status = CreateFrom("kclone-" + kind, cap, size, {}, "", src, &clone);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_NE(clone.find("_thick_"), std::string::npos) << clone;
    ASSERT_NO_FATAL_FAILURE(Up(clone, "kclone-" + kind, cap));
    EXPECT_EQ(read(Target("kclone-" + kind)), "thick changed " + kind);
    ASSERT_TRUE(write(Target("kclone-" + kind), "clone's own " + kind));
    EXPECT_EQ(read(device), "thick changed " + kind);
    ASSERT_NO_FATAL_FAILURE(Down(clone, "kclone-" + kind));
    EXPECT_EQ(TempCowLvs(), 0);

    // The source goes; its snapshot restores, larger when asked.
    ASSERT_NO_FATAL_FAILURE(Down(src, src_name));
    std::string late;
    const int64_t late_bytes = size + 96 * kMiB;
    status =
        CreateFrom("klate-" + kind, cap, late_bytes, thick, snap, "", &late);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_NO_FATAL_FAILURE(Up(late, "klate-" + kind, cap));
    EXPECT_EQ(read(Target("klate-" + kind)), "thick original " + kind);
    ASSERT_NO_FATAL_FAILURE(Down(late, "klate-" + kind));
    EXPECT_TRUE(DeleteSnapshot(snap).ok());
    EXPECT_TRUE(DeleteSnapshot(snap).ok());
  }
  EXPECT_EQ(CellarLvs(), 0);
  EXPECT_EQ(CellarSnapshotLvs(), 0);
  EXPECT_EQ(TempCowLvs(), 0);
}

// The copy is of the ciphertext: the snapshot of an encrypted thick volume
// restores into a LUKS volume that opens with the same secret only.
TEST_F(VmSnapshotTest, EncryptedThickSnapshotRestoresWithTheSameSecret) {
  const auto cap = testing::Capability("ext4", false);
  const Secrets secrets = {
      {"encryptionPassphrase", "thick-snapshot-key-thick-snapshot-01"}};
  const Params params = {{"deviceClass", "thick"}, {"encrypted", "true"}};
  std::string src;
  ASSERT_TRUE(
      client_->CreateWithParameters("eksrc", cap, 200 * kMiB, params, &src)
          .ok());
  ASSERT_NO_FATAL_FAILURE(Up(src, "eksrc", cap, secrets));
  ASSERT_TRUE(WriteText(Target("eksrc") + "/secret.txt", "sealed original"));
  csi::v1::Snapshot snapshot;
  grpc::Status status = Snapshot("eksnap", src, &snapshot);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_TRUE(WriteText(Target("eksrc") + "/secret.txt", "sealed changed"));
  ASSERT_EQ(WaitUntilReady(driver_.get(), snapshot.snapshot_id()), "");
  // The snapshot LV holds no plaintext.
  const std::string lv_name = Shell(
      "lvm lvs --noheadings -o lv_name -S 'lv_tags=cellar.snapshot' | tr -d ' "
      "\\n'");
  ASSERT_FALSE(lv_name.empty());
  EXPECT_EQ(Shell("lvm lvchange -ay -K " + vg_ + "/" + lv_name +
                  " >/dev/null 2>&1; grep -c 'sealed original' /dev/" + vg_ +
                  "/" + lv_name + " 2>/dev/null || true"),
            "0\n");
  std::string restored;
  status = CreateFrom("ekrest", cap, 200 * kMiB, params, snapshot.snapshot_id(),
                      "", &restored);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(client_
                ->StageWithSecrets(restored, Staging("ekrest"), cap,
                                   {{"encryptionPassphrase",
                                     "another-key-another-key-another-key-01"}})
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(client_->Unstage(restored, Staging("ekrest")).ok());
  ASSERT_NO_FATAL_FAILURE(Up(restored, "ekrest", cap, secrets));
  EXPECT_EQ(ReadText(Target("ekrest") + "/secret.txt"), "sealed original");
  ASSERT_NO_FATAL_FAILURE(Down(restored, "ekrest"));
  ASSERT_NO_FATAL_FAILURE(Down(src, "eksrc"));
  EXPECT_TRUE(DeleteSnapshot(snapshot.snapshot_id()).ok());
  EXPECT_EQ(LeftoverMappings(), 0);
  EXPECT_EQ(CellarLvs(), 0);
  EXPECT_EQ(CellarSnapshotLvs(), 0);
  EXPECT_EQ(driver_->ReadLog().find("thick-snapshot-key"), std::string::npos);
}

// kill -9 while a snapshot copies (the "other" class copies at 8 MiB/s, so
// 40 MiB take 5 s):
// the restarted driver finds the copy in the LV tags and finishes it, and
// the snapshot holds the data of its instant. A snapshot deleted while it
// copies leaves nothing.
TEST_F(VmSnapshotTest, ThickCopySurvivesKillNine) {
  if (vg2_.empty()) GTEST_SKIP() << "no second VG";
  const auto cap = testing::Capability("ext4", false);
  const Params slow = {{"deviceClass", "other"}};
  std::string src;
  ASSERT_TRUE(
      client_->CreateWithParameters("kksrc", cap, 256 * kMiB, slow, &src).ok());
  ASSERT_NO_FATAL_FAILURE(Up(src, "kksrc", cap));
  const std::string file = Target("kksrc") + "/random.bin";
  ASSERT_EQ(
      Shell("head -c 40M /dev/urandom > '" + file + "' && sync && echo ok"),
      "ok\n");
  const std::string sum = Shell("sha256sum < '" + file + "'");
  csi::v1::Snapshot snapshot;
  grpc::Status status = Snapshot("kksnap", src, &snapshot);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(snapshot.ready_to_use());
  // Changed while it copies, within the COW area (10% of the volume).
  ASSERT_EQ(Shell("head -c 8M /dev/urandom | dd of='" + file +
                  "' conv=notrunc,fsync status=none && echo ok"),
            "ok\n");
  EXPECT_NE(Shell("sha256sum < '" + file + "'"), sum);
  absl::SleepFor(absl::Seconds(2));
  EXPECT_EQ(TempCowLvs(), 1);
  kill(driver_->pid(), SIGKILL);
  client_.reset();
  driver_.reset();
  ASSERT_NO_FATAL_FAILURE(StartDriver());
  ASSERT_EQ(WaitUntilReady(driver_.get(), snapshot.snapshot_id()), "");
  EXPECT_EQ(TempCowLvs(), 0);
  EXPECT_NE(driver_->ReadLog().find("is ready"), std::string::npos);

  std::string restored;
  status = CreateFrom("kkrest", cap, 256 * kMiB, slow, snapshot.snapshot_id(),
                      "", &restored);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_NO_FATAL_FAILURE(Up(restored, "kkrest", cap));
  EXPECT_EQ(Shell("sha256sum < '" + Target("kkrest") + "/random.bin'"), sum);
  ASSERT_NO_FATAL_FAILURE(Down(restored, "kkrest"));
  EXPECT_TRUE(DeleteSnapshot(snapshot.snapshot_id()).ok());

  // Deleted while it copies: the copy stops, both LVs go.
  status = Snapshot("kkgone", src, &snapshot);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(snapshot.ready_to_use());
  EXPECT_EQ(TempCowLvs(), 1);
  EXPECT_TRUE(DeleteSnapshot(snapshot.snapshot_id()).ok());
  EXPECT_EQ(TempCowLvs(), 0);
  EXPECT_EQ(CellarSnapshotLvs(), 0);
  ASSERT_NO_FATAL_FAILURE(Down(src, "kksrc"));
  EXPECT_EQ(CellarLvs(), 0);
}

// A snapshot that does not fit the VG (its full size and a COW area) is
// RESOURCE_EXHAUSTED, and nothing was created. An LV of someone else's
// (never written, so it costs the guest no memory) leaves 300 MiB free.
TEST_F(VmSnapshotTest, ThickSnapshotThatDoesNotFitCreatesNothing) {
  if (vg2_.empty()) GTEST_SKIP() << "no second VG";
  const auto cap = testing::Capability("ext4", false);
  const int64_t free_bytes = std::stoll(
      "0" + Shell("lvm vgs --noheadings --units b --nosuffix -o vg_free " +
                  vg2_ + " | tr -d ' \\n'"));
  ASSERT_GT(free_bytes, 1024 * kMiB);
  struct Filler {
    std::string vg;
    ~Filler() { Shell("lvm lvremove -y " + vg + "/filler >/dev/null 2>&1"); }
  } filler{vg2_};
  ASSERT_EQ(Shell(absl::StrCat("lvm lvcreate -q -an -Zn --wipesignatures n -L ",
                               free_bytes - 300 * kMiB, "b -n filler ", vg2_,
                               " >/dev/null && echo ok")),
            "ok\n");
  std::string src;
  ASSERT_TRUE(client_
                  ->CreateWithParameters("fitsrc", cap, 200 * kMiB,
                                         {{"deviceClass", "other"}}, &src)
                  .ok());
  const std::string before =
      Shell("lvm lvs --noheadings -o lv_name,lv_size " + vg2_);
  grpc::Status status = Snapshot("fitsnap", src);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << status.error_message();
  std::string clone;
  status = CreateFrom("fitclone", cap, 200 * kMiB, {}, "", src, &clone);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << status.error_message();
  EXPECT_EQ(Shell("lvm lvs --noheadings -o lv_name,lv_size " + vg2_), before);
  EXPECT_EQ(CellarSnapshotLvs(), 0);
  EXPECT_EQ(TempCowLvs(), 0);
  ASSERT_TRUE(client_->Delete(src).ok());
  EXPECT_EQ(CellarLvs(), 0);
}

// ------------------------------------------------------------ Isolation
// One tenant's data never reaches another, tested from the attacker's side
// on real LVM: recycled extents and pool blocks, copies of a volume, a
// wrong key against a staged encrypted volume, a VG whose disk went away.

constexpr char kSecret[] = "CELLAR-TENANT-A-SECRET-PATTERN-#";  // 32 bytes

// Writes `kSecret` over the first `size` bytes of `path` (O_DIRECT, so it
// reaches the device). False on any error.
bool FillWithSecret(const std::string& path, uint64_t size) {
  constexpr size_t kChunk = 1 << 20;
  void* buffer = nullptr;
  if (posix_memalign(&buffer, 4096, kChunk) != 0) return false;
  for (size_t i = 0; i < kChunk; i += sizeof(kSecret) - 1) {
    memcpy(static_cast<char*>(buffer) + i, kSecret, sizeof(kSecret) - 1);
  }
  const int fd = open(path.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
  bool ok = fd >= 0;
  for (uint64_t done = 0; ok && done < size; done += kChunk) {
    ok = pwrite(fd, buffer, kChunk, static_cast<off_t>(done)) ==
         static_cast<ssize_t>(kChunk);
  }
  if (fd >= 0) {
    ok = ok && fsync(fd) == 0;
    close(fd);
  }
  free(buffer);
  return ok;
}

// Reads `length` bytes of `path` from `offset` (O_DIRECT: what the device
// holds, not a cached page) and returns the offset of the first `kSecret`
// in them, or -1. Sets `*read` to the bytes read.
int64_t FindSecret(const std::string& path, uint64_t offset, uint64_t length,
                   uint64_t* read) {
  constexpr size_t kChunk = 1 << 20;
  const std::string needle(kSecret, sizeof(kSecret) - 1);
  *read = 0;
  void* buffer = nullptr;
  if (posix_memalign(&buffer, 4096, kChunk) != 0) return -1;
  const int fd = open(path.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
  int64_t found = -1;
  std::string tail;  // a needle may straddle two chunks
  while (fd >= 0 && found < 0 && *read < length) {
    const ssize_t got =
        pread(fd, buffer, kChunk, static_cast<off_t>(offset + *read));
    if (got <= 0) break;
    const std::string text =
        tail + std::string(static_cast<char*>(buffer),
                           std::min<uint64_t>(got, length - *read));
    const size_t at = text.find(needle);
    if (at != std::string::npos) found = *read - tail.size() + at;
    *read += std::min<uint64_t>(got, length - *read);
    tail = text.substr(text.size() - std::min(text.size(), needle.size() - 1));
  }
  if (fd >= 0) close(fd);
  free(buffer);
  return found;
}

// Writes 4 KiB of 'x' at the start of every `chunk` bytes of `path`: each
// write provisions a whole thin-pool block and fills only part of it.
bool WriteChunkHeads(const std::string& path, uint64_t size, uint64_t chunk) {
  void* buffer = nullptr;
  if (posix_memalign(&buffer, 4096, 4096) != 0) return false;
  memset(buffer, 'x', 4096);
  const int fd = open(path.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
  bool ok = fd >= 0;
  for (uint64_t at = 0; ok && at < size; at += chunk) {
    ok = pwrite(fd, buffer, 4096, static_cast<off_t>(at)) == 4096;
  }
  if (fd >= 0) {
    ok = ok && fsync(fd) == 0;
    close(fd);
  }
  free(buffer);
  return ok;
}

std::string Trim(const std::string& text) {
  const size_t begin = text.find_first_not_of(" \t\n");
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(" \t\n") - begin + 1);
}

uint64_t Number(const std::string& text) {
  return std::strtoull(Trim(text).c_str(), nullptr, 10);
}

// The LV of a volume id: "cv-" and the id's unique part.
std::string LvOf(const std::string& volume_id) {
  return "cv-" + volume_id.substr(volume_id.rfind('_') + 1);
}

class VmIsolationTest : public VmSnapshotTest {
 protected:
  void TearDown() override {
    const bool in_guest = !vg_.empty() && geteuid() == 0;
    if (in_guest) {
      if (!lvm_system_dir_.empty()) {
        setenv("LVM_SYSTEM_DIR", lvm_system_dir_.c_str(), 1);
      }
      // The second VG's disk back in place before the volumes are removed.
      const std::string pv2 = Env("CELLAR_VM_PV2");
      if (!pv2.empty() && Shell("losetup " + pv2 + " 2>/dev/null").empty()) {
        Shell("losetup " + pv2 + " " + Env("CELLAR_VM_DISK_DIR") + "/pv2.img");
      }
    }
    VmSnapshotTest::TearDown();
    if (!in_guest) return;
    Shell("lvm lvremove -y " + vg_ + "/ctl-victim " + vg_ + "/ctl-attacker " +
          vg_ + "/zpool " + vg_ + "/rawpool >/dev/null 2>&1");
  }

  // Restarts the driver with an lvm.conf that does not discard on lvremove
  // (LVM's default; the guest's discards would punch the old bytes out of
  // the loop device's file and hide a leak) and with `extra_classes`.
  void RestartDriver(const std::string& extra_classes, bool keep_discards) {
    client_.reset();
    driver_.reset();
    if (!keep_discards) {
      lvm_system_dir_ = Env("LVM_SYSTEM_DIR");
      const std::string dir = root_ + "/lvm-no-discards";
      Shell("mkdir -p " + dir +
            " && sed 's/issue_discards = 1/issue_discards = 0/' " +
            lvm_system_dir_ + "/lvm.conf > " + dir + "/lvm.conf");
      ASSERT_NE(ReadText(dir + "/lvm.conf").find("issue_discards = 0"),
                std::string::npos);
      setenv("LVM_SYSTEM_DIR", dir.c_str(), 1);
    }
    if (!extra_classes.empty()) absl::StrAppend(&classes_, ",", extra_classes);
    ASSERT_NO_FATAL_FAILURE(StartDriver());
  }

  // The PV extents of an LV ("/dev/loop0:12-43"), and where on its PV they
  // start and how many bytes they span.
  struct Extents {
    std::string ranges;
    std::string pv;
    uint64_t offset = 0;
    uint64_t length = 0;
  };
  Extents ExtentsOf(const std::string& lv) {
    Extents extents;
    extents.ranges = Trim(Shell("lvm lvs --noheadings -o seg_pe_ranges " + vg_ +
                                "/" + lv + " 2>/dev/null"));
    const size_t colon = extents.ranges.find(':');
    const size_t dash = extents.ranges.find('-', colon);
    if (colon == std::string::npos || dash == std::string::npos ||
        extents.ranges.find(' ') != std::string::npos) {
      return extents;  // one contiguous segment expected
    }
    extents.pv = extents.ranges.substr(0, colon);
    const uint64_t first = Number(extents.ranges.substr(colon + 1, dash));
    const uint64_t last = Number(extents.ranges.substr(dash + 1));
    const uint64_t pe_start = Number(Shell(
        "lvm pvs --noheadings --units b --nosuffix -o pe_start " + extents.pv));
    const uint64_t extent_size = Number(Shell(
        "lvm vgs --noheadings --units b --nosuffix -o vg_extent_size " + vg_));
    extents.offset = pe_start + first * extent_size;
    extents.length = (last - first + 1) * extent_size;
    return extents;
  }

  // Every "PV:PE" an LV occupies, from its segments' seg_pe_ranges.
  std::set<std::string> PesOf(const std::string& lv) {
    std::set<std::string> pes;
    std::istringstream ranges(Shell("lvm lvs --noheadings -o seg_pe_ranges " +
                                    vg_ + "/" + lv + " 2>/dev/null"));
    std::string range;
    while (ranges >> range) {
      const size_t colon = range.find(':');
      const size_t dash = range.find('-', colon);
      if (colon == std::string::npos || dash == std::string::npos) continue;
      const uint64_t last = Number(range.substr(dash + 1));
      for (uint64_t pe = Number(range.substr(colon + 1, dash - colon - 1));
           pe <= last; ++pe) {
        pes.insert(absl::StrCat(range.substr(0, colon), ":", pe));
      }
    }
    return pes;
  }

  // Stages and publishes a block volume; the published device node.
  std::string UpBlock(const std::string& id, const std::string& name) {
    const auto cap = testing::Capability("", true);
    grpc::Status status = client_->Stage(id, Staging(name), cap);
    EXPECT_TRUE(status.ok()) << name << " stage: " << status.error_message();
    status = client_->Publish(id, Staging(name), Target(name), cap, false);
    EXPECT_TRUE(status.ok()) << name << " publish: " << status.error_message();
    return Target(name);
  }

  grpc::Status PublishAs(const std::string& id, const std::string& name,
                         const csi::v1::VolumeCapability& cap,
                         const std::string& pod_namespace) {
    csi::v1::NodePublishVolumeRequest request;
    request.set_volume_id(id);
    request.set_staging_target_path(Staging(name));
    request.set_target_path(Target(name));
    *request.mutable_volume_capability() = cap;
    auto& context = *request.mutable_volume_context();
    context["csi.storage.k8s.io/pod.namespace"] = pod_namespace;
    context["csi.storage.k8s.io/pod.name"] = "app-0";
    context["csi.storage.k8s.io/pod.uid"] = "0b1c2d3e-" + pod_namespace;
    context["csi.storage.k8s.io/serviceAccount.name"] = "default";
    csi::v1::NodePublishVolumeResponse response;
    return driver_->node().NodePublishVolume(Context().get(), request,
                                             &response);
  }

  grpc::Status SnapshotFor(const std::string& name, const std::string& source,
                           const std::string& snapshot_namespace,
                           csi::v1::Snapshot* snapshot) {
    csi::v1::CreateSnapshotRequest request;
    request.set_name(name);
    request.set_source_volume_id(source);
    (*request.mutable_parameters())
        ["csi.storage.k8s.io/volumesnapshot/namespace"] = snapshot_namespace;
    csi::v1::CreateSnapshotResponse response;
    grpc::Status status = driver_->controller().CreateSnapshot(
        Context().get(), request, &response);
    *snapshot = response.snapshot();
    return status;
  }

  std::string lvm_system_dir_;
};

// A tenant fills a thick volume with a secret and deletes it; the next thick
// volume of that size gets the same extents, with the secret still on the
// disk under them, and must read as zeroes through and through.
TEST_F(VmIsolationTest, NewThickVolumeNeverShowsADeletedVolumesData) {
  ASSERT_NO_FATAL_FAILURE(RestartDriver("", /*keep_discards=*/false));
  const uint64_t size = 128 * kMiB;
  const Params thick = {{"deviceClass", "thick"}};
  const auto cap = testing::Capability("", true);
  uint64_t read = 0;

  std::string victim;
  ASSERT_TRUE(
      client_->CreateWithParameters("victim", cap, size, thick, &victim).ok());
  const Extents victim_extents = ExtentsOf(LvOf(victim));
  ASSERT_GT(victim_extents.length, 0u) << victim_extents.ranges;
  ASSERT_TRUE(FillWithSecret(UpBlock(victim, "victim"), size));
  ASSERT_NO_FATAL_FAILURE(Down(victim, "victim"));
  // The secret outlives the LV on the disk: that is the threat.
  ASSERT_GE(FindSecret(victim_extents.pv, victim_extents.offset,
                       victim_extents.length, &read),
            0)
      << "the deleted volume's bytes are not on " << victim_extents.pv;

  std::string attacker;
  ASSERT_TRUE(
      client_->CreateWithParameters("attacker", cap, size, thick, &attacker)
          .ok());
  // LVM handed out the very same extents.
  EXPECT_EQ(ExtentsOf(LvOf(attacker)).ranges, victim_extents.ranges);
  const std::string device = UpBlock(attacker, "attacker");
  EXPECT_EQ(FindSecret(device, 0, size, &read), -1)
      << "a new thick volume shows a deleted volume's data";
  EXPECT_EQ(read, size);
  ASSERT_NO_FATAL_FAILURE(Down(attacker, "attacker"));
  EXPECT_EQ(CellarLvs(), 0);
}

// A thick volume grown while published onto the extents of a deleted
// volume, whose secret is still on the disk under them: its user reads
// zeroes there the moment the expansion returns.
TEST_F(VmIsolationTest, GrownThickVolumeNeverShowsADeletedVolumesData) {
  ASSERT_NO_FATAL_FAILURE(RestartDriver("", /*keep_discards=*/false));
  const uint64_t size = 128 * kMiB;
  const Params thick = {{"deviceClass", "thick"}};
  const auto cap = testing::Capability("", true);
  uint64_t read = 0;

  std::string victim;
  ASSERT_TRUE(
      client_->CreateWithParameters("victim", cap, size, thick, &victim).ok());
  const Extents victim_extents = ExtentsOf(LvOf(victim));
  const std::set<std::string> victim_pes = PesOf(LvOf(victim));
  ASSERT_GT(victim_extents.length, 0u) << victim_extents.ranges;
  ASSERT_TRUE(FillWithSecret(UpBlock(victim, "victim"), size));
  ASSERT_NO_FATAL_FAILURE(Down(victim, "victim"));
  ASSERT_GE(FindSecret(victim_extents.pv, victim_extents.offset,
                       victim_extents.length, &read),
            0)
      << "the deleted volume's bytes are not on " << victim_extents.pv;

  std::string attacker;
  ASSERT_TRUE(
      client_->CreateWithParameters("attacker", cap, size / 2, thick, &attacker)
          .ok());
  const std::string device = UpBlock(attacker, "attacker");
  const grpc::Status status = client_->Expand(attacker, device, size, false);
  ASSERT_TRUE(status.ok()) << status.error_message();
  // It grew onto the very extents the deleted volume had.
  EXPECT_EQ(PesOf(LvOf(attacker)), victim_pes)
      << Shell("lvm lvs -o lv_name,seg_pe_ranges " + vg_);
  EXPECT_EQ(FindSecret(device, 0, size, &read), -1)
      << "a grown thick volume shows a deleted volume's data";
  EXPECT_EQ(read, size);
  ASSERT_NO_FATAL_FAILURE(Down(attacker, "attacker"));
  EXPECT_EQ(Shell("lvm lvs --noheadings -o lv_name " + vg_ + " | grep -c cz-"),
            "0\n");
  EXPECT_EQ(CellarLvs(), 0);
}

// Thin: pool blocks come back to new thin LVs, and a partial write to a
// newly provisioned block keeps the rest of what the block held unless the
// pool zeroes. Control by hand in a pool without zeroing (the attack works),
// then the driver: it refuses that pool, and in a zeroing pool the same
// attack finds nothing. The pools are small so every block is reused.
TEST_F(VmIsolationTest, NewThinVolumeNeverShowsADeletedVolumesData) {
  const std::string lvm = "lvm lvcreate -q -y --type thin-pool -L 64m ";
  ASSERT_TRUE(Shell(lvm + "--zero n -n rawpool " + vg_ +
                    " >/dev/null 2>&1 && " + lvm + "--zero y -n zpool " + vg_ +
                    " >/dev/null 2>&1 && echo ok")
                  .find("ok") != std::string::npos);
  ASSERT_EQ(Trim(Shell("lvm lvs --noheadings -o lv_attr " + vg_ + "/rawpool"))
                .substr(7, 1),
            "-");
  ASSERT_EQ(Trim(Shell("lvm lvs --noheadings -o lv_attr " + vg_ + "/zpool"))
                .substr(7, 1),
            "z");
  const uint64_t chunk =
      Number(Shell("lvm lvs --noheadings --units b --nosuffix -o chunk_size " +
                   vg_ + "/zpool"));
  ASSERT_GT(chunk, 4096u);
  const uint64_t size = 60 * kMiB;
  uint64_t read = 0;

  // Control: without zeroing the attack reads the victim's secret.
  const std::string by_hand =
      "lvm lvcreate -q -y -V 60m --thinpool rawpool -n ";
  ASSERT_EQ(Shell(by_hand + "ctl-victim " + vg_ + " >/dev/null 2>&1; echo $?"),
            "0\n");
  ASSERT_TRUE(FillWithSecret("/dev/" + vg_ + "/ctl-victim", size));
  Shell("lvm lvremove -q -y " + vg_ + "/ctl-victim >/dev/null 2>&1");
  ASSERT_EQ(
      Shell(by_hand + "ctl-attacker " + vg_ + " >/dev/null 2>&1; echo $?"),
      "0\n");
  ASSERT_TRUE(WriteChunkHeads("/dev/" + vg_ + "/ctl-attacker", size, chunk));
  EXPECT_GE(FindSecret("/dev/" + vg_ + "/ctl-attacker", 0, size, &read), 0)
      << "control: a pool without zeroing should show the old blocks";
  Shell("lvm lvremove -q -y " + vg_ + "/ctl-attacker >/dev/null 2>&1");

  ASSERT_NO_FATAL_FAILURE(RestartDriver(
      "raw=lvm-thin:" + vg_ + "/rawpool,zeroing=lvm-thin:" + vg_ + "/zpool",
      /*keep_discards=*/true));
  const auto cap = testing::Capability("", true);
  std::string id;
  grpc::Status status = client_->CreateWithParameters(
      "in-raw", cap, size, {{"deviceClass", "raw"}}, &id);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << status.error_message();
  EXPECT_NE(
      status.error_message().find("lvchange --zero y " + vg_ + "/rawpool"),
      std::string::npos)
      << status.error_message();
  EXPECT_EQ(CellarLvs(), 0);

  const Params zeroing = {{"deviceClass", "zeroing"}};
  std::string victim, attacker;
  ASSERT_TRUE(
      client_->CreateWithParameters("victim", cap, size, zeroing, &victim)
          .ok());
  ASSERT_TRUE(FillWithSecret(UpBlock(victim, "victim"), size));
  ASSERT_NO_FATAL_FAILURE(Down(victim, "victim"));
  ASSERT_TRUE(
      client_->CreateWithParameters("attacker", cap, size, zeroing, &attacker)
          .ok());
  const std::string device = UpBlock(attacker, "attacker");
  ASSERT_TRUE(WriteChunkHeads(device, size, chunk));
  EXPECT_EQ(FindSecret(device, 0, size, &read), -1)
      << "a new thin volume shows a deleted volume's data";
  EXPECT_EQ(read, size);
  ASSERT_NO_FATAL_FAILURE(Down(attacker, "attacker"));
  EXPECT_EQ(CellarLvs(), 0);
}

// A VG whose disk is not attached says nothing about its volumes: deleting
// one is UNAVAILABLE, and once the disk is back the delete goes through and
// nothing is left behind.
TEST_F(VmIsolationTest, DeleteWhileTheVgIsMissingIsUnavailable) {
  if (vg2_.empty()) GTEST_SKIP() << "no second VG";
  const std::string pv2 = Env("CELLAR_VM_PV2");
  const std::string image = Env("CELLAR_VM_DISK_DIR") + "/pv2.img";
  ASSERT_FALSE(pv2.empty());
  std::string id;
  ASSERT_TRUE(
      client_
          ->CreateWithParameters("on-vg2", testing::Capability("", true),
                                 64 * kMiB, {{"deviceClass", "other"}}, &id)
          .ok());
  ASSERT_EQ(Shell("lvm vgchange -q -an " + vg2_ +
                  " >/dev/null 2>&1; losetup -d " + pv2 + "; echo $?"),
            "0\n");
  ASSERT_NE(Shell("lvm vgs " + vg2_ + " 2>&1").find("not found"),
            std::string::npos);
  grpc::Status status = client_->Delete(id);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << status.error_message();
  EXPECT_NE(status.error_message().find(vg2_), std::string::npos)
      << status.error_message();

  ASSERT_EQ(Shell("losetup " + pv2 + " " + image + "; echo $?"), "0\n");
  EXPECT_NE(Shell("lvm lvs --noheadings -o lv_name " + vg2_).find(LvOf(id)),
            std::string::npos)
      << "the volume is still there when its disk comes back";
  status = client_->Delete(id);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(Shell("lvm lvs --noheadings -o lv_name " + vg2_).find(LvOf(id)),
            std::string::npos);
}

// Copies keep their owner: a volume bound to team-a, its snapshot and its
// clone never become team-b's. A create from the source for team-b is
// refused before any LV exists; one with no namespace inherits team-a's
// policy, so team-b's pods cannot publish it and team-a's can.
TEST_F(VmIsolationTest, CopiesOfAThinVolumeKeepTheirOwner) {
  const auto cap = testing::Capability("", true);
  const std::string kNamespaceKey = "csi.storage.k8s.io/pvc/namespace";
  std::string source;
  ASSERT_TRUE(client_
                  ->CreateWithParameters(
                      "owned", cap, 64 * kMiB,
                      {{"deviceClass", "thin"}, {kNamespaceKey, "team-a"}},
                      &source)
                  .ok());
  csi::v1::Snapshot snapshot;
  grpc::Status status = SnapshotFor("owned-b", source, "team-b", &snapshot);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << status.error_message();
  EXPECT_EQ(CellarSnapshotLvs(), 0);
  status = SnapshotFor("owned-a", source, "team-a", &snapshot);
  ASSERT_TRUE(status.ok()) << status.error_message();

  for (const bool from_snapshot : {true, false}) {
    SCOPED_TRACE(from_snapshot ? "restore" : "clone");
    const std::string snap = from_snapshot ? snapshot.snapshot_id() : "";
    const std::string vol = from_snapshot ? "" : source;
    const std::string name = from_snapshot ? "restored" : "cloned";
    std::string copy;
    status = CreateFrom(name + "-b", cap, 64 * kMiB,
                        {{kNamespaceKey, "team-b"}}, snap, vol, &copy);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << status.error_message();
    EXPECT_EQ(CellarLvs(), 1) << Shell("lvm lvs");

    status = CreateFrom(name, cap, 64 * kMiB, {}, snap, vol, &copy);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_TRUE(client_->Stage(copy, Staging(name), cap).ok());
    status = PublishAs(copy, name, cap, "team-b");
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << status.error_message();
    status = PublishAs(copy, name, cap, "team-a");
    EXPECT_TRUE(status.ok()) << status.error_message();
    ASSERT_NO_FATAL_FAILURE(Down(copy, name));
  }
  EXPECT_TRUE(DeleteSnapshot(snapshot.snapshot_id()).ok());
  EXPECT_TRUE(client_->Delete(source).ok());
  EXPECT_EQ(CellarLvs(), 0);
  EXPECT_EQ(CellarSnapshotLvs(), 0);
}

// A staged encrypted volume staged again at the same path with a wrong key:
// PERMISSION_DENIED, and the open mapping and the mount stay as they were.
TEST_F(VmIsolationTest, WrongKeyAgainstAStagedEncryptedVolumeChangesNothing) {
  const auto cap = testing::Capability("ext4", false);
  const Secrets right = {
      {"encryptionPassphrase", "right-key-0123456789abcdef0123456789abcdef"}};
  const Secrets wrong = {
      {"encryptionPassphrase", "wrong-key-0123456789abcdef0123456789abcdef"}};
  std::string id;
  ASSERT_TRUE(client_
                  ->CreateWithParameters(
                      "enc-restage", cap, 128 * kMiB,
                      {{"deviceClass", "thin"}, {"encrypted", "true"}}, &id)
                  .ok());
  ASSERT_NO_FATAL_FAILURE(Up(id, "enc-restage", cap, right));
  ASSERT_TRUE(WriteText(Target("enc-restage") + "/keep.txt", "intact"));
  const std::string staging = Staging("enc-restage");
  auto state = [&] {
    // The mapping (name, device number, users) and the mounts of the
    // staging path, as the kernel shows them.
    std::string out = Shell(
        "dmsetup info -c --noheadings -o name,major,minor,open "
        "2>/dev/null | grep '^cellar-'");
    for (const MountEntry& m : testing::MountTable()) {
      if (m.mount_point != staging && m.root != staging) continue;
      absl::StrAppend(&out, m.mount_id, " ", m.parent_id, " ", m.major, ":",
                      m.minor, " ", m.root, " ", m.mount_point, " ",
                      m.mount_options, " ",
                      absl::StrJoin(m.optional_fields, " "), " - ", m.fs_type,
                      " ", m.source, " ", m.super_options, "\n");
    }
    return out;
  };
  const std::string before = state();
  ASSERT_EQ(LeftoverMappings(), 1) << before;

  const grpc::Status status =
      client_->StageWithSecrets(id, staging, cap, wrong);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << status.error_message();
  EXPECT_EQ(state(), before);
  EXPECT_EQ(ReadText(Target("enc-restage") + "/keep.txt"), "intact");
  // The right key still finds it staged.
  EXPECT_TRUE(client_->StageWithSecrets(id, staging, cap, right).ok());
  EXPECT_EQ(state(), before);
  ASSERT_NO_FATAL_FAILURE(Down(id, "enc-restage"));
  EXPECT_EQ(LeftoverMappings(), 0);
  EXPECT_EQ(driver_->ReadLog().find("key-0123456789abcdef"), std::string::npos);
}

}  // namespace
}  // namespace cellar
