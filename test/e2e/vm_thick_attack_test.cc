// Attacks on snapshots, restores and clones of THICK LVM volumes, from a
// hostile tenant's and a hostile operator's side: the real binary over its
// socket, inside the qemu guest of test/vm (skips anywhere else). Each test
// names the promise it attacks (README "Snapshots, restores and clones",
// "Who may mount a volume"; docs/operations.md's threat table; the CSI
// spec). Tagged manual: a review aid, not part of CI.
//
//   test/vm/run_in_vm.sh --timeout 1500 --mem 2048
//     --env CELLAR_CSI_BINARY=$(readlink -f bazel-bin/src/cellar-csi) --
//     $(readlink -f bazel-bin/test/e2e/vm_thick_attack_test) --gtest_filter=...
// (one command line).
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
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
using testing::Shell;
using Params = std::map<std::string, std::string>;

constexpr char kNs[] = "csi.storage.k8s.io/pvc/namespace";
constexpr char kSnapNs[] = "csi.storage.k8s.io/volumesnapshot/namespace";
constexpr char kGroupNs[] = "csi.storage.k8s.io/volumegroupsnapshot/namespace";
constexpr char kSecret[] = "CELLAR-TENANT-A-SECRET-PATTERN-#";  // 32 bytes
constexpr absl::Duration kLong = absl::Seconds(900);

std::string Env(const char* name) {
  const char* value = getenv(name);
  return value == nullptr ? "" : value;
}

std::string Str(const grpc::Status& s) {
  return absl::StrCat("code ", s.error_code(), ": ", s.error_message());
}

std::string Trim(const std::string& text) {
  const size_t begin = text.find_first_not_of(" \t\n");
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(" \t\n") - begin + 1);
}

uint64_t Number(const std::string& text) {
  return std::strtoull(Trim(text).c_str(), nullptr, 10);
}

std::string Unique(const std::string& id) {
  return id.substr(id.rfind('_') + 1);
}
std::string VolLv(const std::string& id) { return "cv-" + Unique(id); }
std::string SnapLv(const std::string& id) { return "cs-" + Unique(id); }

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

// 4 KiB block `n` of pattern `seed`: recognisable text, different per block.
void PatternBlock(const std::string& seed, uint64_t n, char* out) {
  const std::string head = absl::StrCat("<", seed, " block ", n, ">");
  for (size_t i = 0; i < 4096; i += head.size()) {
    memcpy(out + i, head.data(), std::min(head.size(), 4096 - i));
  }
}

// Writes pattern `seed` over [0, bytes) of `path` (O_DIRECT, fsync).
bool WritePattern(const std::string& path, uint64_t bytes,
                  const std::string& seed) {
  constexpr size_t kChunk = 1 << 20;
  void* buffer = nullptr;
  if (posix_memalign(&buffer, 4096, kChunk) != 0) return false;
  const int fd = open(path.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
  bool ok = fd >= 0;
  for (uint64_t at = 0; ok && at < bytes; at += kChunk) {
    for (size_t b = 0; b < kChunk; b += 4096) {
      PatternBlock(seed, (at + b) / 4096, static_cast<char*>(buffer) + b);
    }
    ok = pwrite(fd, buffer, kChunk, static_cast<off_t>(at)) ==
         static_cast<ssize_t>(kChunk);
  }
  if (fd >= 0) {
    ok = ok && fsync(fd) == 0;
    close(fd);
  }
  free(buffer);
  return ok;
}

// "" when [0, bytes) of `path` holds pattern `seed`, else where it differs.
std::string CheckPattern(const std::string& path, uint64_t bytes,
                         const std::string& seed) {
  constexpr size_t kChunk = 1 << 20;
  void* buffer = nullptr;
  if (posix_memalign(&buffer, 4096, kChunk) != 0) return "no memory";
  const int fd = open(path.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
  if (fd < 0) {
    free(buffer);
    return "cannot open " + path + ": " + strerror(errno);
  }
  std::string error;
  char expected[4096];
  uint64_t bad = 0, first_bad = 0;
  std::string first_seen;
  for (uint64_t at = 0; at < bytes; at += kChunk) {
    const ssize_t got = pread(fd, buffer, kChunk, static_cast<off_t>(at));
    if (got != static_cast<ssize_t>(kChunk)) {
      error = absl::StrCat("short read at ", at);
      break;
    }
    for (size_t b = 0; b < kChunk; b += 4096) {
      PatternBlock(seed, (at + b) / 4096, expected);
      if (memcmp(expected, static_cast<char*>(buffer) + b, 4096) != 0) {
        if (bad++ == 0) {
          first_bad = at + b;
          first_seen = std::string(static_cast<char*>(buffer) + b, 48);
        }
      }
    }
  }
  close(fd);
  free(buffer);
  if (!error.empty()) return error;
  if (bad == 0) return "";
  for (char& c : first_seen) {
    if (!isprint(static_cast<unsigned char>(c))) c = '.';
  }
  return absl::StrCat(bad, " of ", bytes / 4096, " blocks differ from pattern ",
                      seed, "; first at byte ", first_bad, ": \"", first_seen,
                      "\"");
}

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

// Offset of the first kSecret in [0, length) of `path` (O_DIRECT), or -1.
int64_t FindSecret(const std::string& path, uint64_t length, uint64_t* read) {
  constexpr size_t kChunk = 1 << 20;
  const std::string needle(kSecret, sizeof(kSecret) - 1);
  *read = 0;
  void* buffer = nullptr;
  if (posix_memalign(&buffer, 4096, kChunk) != 0) return -1;
  const int fd = open(path.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
  int64_t found = -1;
  std::string tail;
  while (fd >= 0 && found < 0 && *read < length) {
    const ssize_t got = pread(fd, buffer, kChunk, static_cast<off_t>(*read));
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

class ThickAttackTest : public testing::E2eFixture {
 protected:
  ThickAttackTest() : Fixture("cellar-vm") { log_tail_bytes_ = 20000; }

  std::string SkipReason() override {
    if (vg_.empty() || vg2_.empty() || geteuid() != 0) {
      return "runs inside the qemu guest of test/vm only";
    }
    return "";
  }

  void SetUp() override {
    vg_ = Env("CELLAR_VM_VG");
    pool_ = Env("CELLAR_VM_THINPOOL");
    if (pool_.find('/') != std::string::npos)
      pool_ = pool_.substr(pool_.find('/') + 1);
    vg2_ = Env("CELLAR_VM_VG2");
    Fixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    // zslow copies at 1 MiB/s (the minimum): 32 MiB take 32 s, long enough
    // to attack a copy in flight. Its name sorts after "thick".
    classes_ = absl::StrCat("thin=lvm-thin:", vg_, "/", pool_,
                            ",thick=lvm:", vg_, "?reserve=0,zslow=lvm:", vg2_,
                            "?reserve=0&copy-bandwidth=1048576");
    lvm_system_dir_ = Env("LVM_SYSTEM_DIR");
    StartDriver();
  }

  void TearDown() override {
    if (!root_.empty() && driver_ != nullptr && HasFailure()) {
      std::cerr << "---- lvs at failure:\n" << Lvs();
    }
    Fixture::TearDown();  // then the driver log's tail
  }

  void RemoveLeftovers() override {
    if (!lvm_system_dir_.empty())
      setenv("LVM_SYSTEM_DIR", lvm_system_dir_.c_str(), 1);
    testing::UnmountEverythingUnder(root_);
    Shell(
        "lvm lvremove -y -S 'lv_tags=cellar.cow' >/dev/null 2>&1; "
        "lvm lvremove -y -S 'lv_tags=cellar.snapshot' >/dev/null 2>&1; "
        "lvm lvremove -y -S 'lv_tags=cellar.volume' >/dev/null 2>&1; "
        "lvm lvremove -y " +
        vg2_ + "/filler " + vg_ + "/filler >/dev/null 2>&1");
  }

  void StartDriver() {
    Fixture::StartDriver({"--node-id=vm-node", "--device-classes=" + classes_,
                          "--reserve-bytes=0", "--log-level=debug"},
                         absl::Seconds(90));
  }

  void KillDriver() {
    kill(driver_->pid(), SIGKILL);
    client_.reset();
    driver_.reset();
  }

  // The driver again, with an lvm.conf that keeps removed LVs' bytes.
  void RestartWithoutDiscards() {
    client_.reset();
    driver_.reset();
    const std::string dir = root_ + "/lvm-no-discards";
    Shell("mkdir -p " + dir +
          " && sed 's/issue_discards = 1/issue_discards = 0/' " +
          lvm_system_dir_ + "/lvm.conf > " + dir + "/lvm.conf");
    ASSERT_NE(ReadText(dir + "/lvm.conf").find("issue_discards = 0"),
              std::string::npos);
    setenv("LVM_SYSTEM_DIR", dir.c_str(), 1);
    ASSERT_NO_FATAL_FAILURE(StartDriver());
  }

  std::string Lvs() {
    return Shell(
        "lvm lvs -a --units b -o vg_name,lv_name,lv_attr,lv_size,lv_tags "
        "2>&1 | cut -c1-200");
  }
  // LVs of `vg` whose name starts with `prefix`.
  int CountLvs(const std::string& vg, const std::string& prefix) {
    const std::string out = Shell("lvm lvs --noheadings -o lv_name " + vg +
                                  " 2>/dev/null || echo FAILED");
    EXPECT_EQ(out.find("FAILED"), std::string::npos) << out;
    std::istringstream lines(out);
    std::string name;
    int n = 0;
    while (lines >> name) n += name.rfind(prefix, 0) == 0;
    return n;
  }
  bool LvExists(const std::string& vg, const std::string& lv) {
    return Trim(Shell("lvm lvs --noheadings -o lv_name " + vg + "/" + lv +
                      " 2>/dev/null")) == lv;
  }
  std::string Dev(const std::string& vg, const std::string& lv) {
    return "/dev/" + vg + "/" + lv;
  }
  uint64_t VgFree(const std::string& vg) {
    return Number(
        Shell("lvm vgs --noheadings --units b --nosuffix -o vg_free " + vg));
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
  void Up(const std::string& id, const std::string& name,
          const csi::v1::VolumeCapability& cap) {
    grpc::Status status = client_->Stage(id, Staging(name), cap);
    ASSERT_TRUE(status.ok()) << name << " stage: " << Str(status);
    status = client_->Publish(id, Staging(name), Target(name), cap, false);
    ASSERT_TRUE(status.ok()) << name << " publish: " << Str(status);
  }
  void Unmount(const std::string& id, const std::string& name) {
    grpc::Status status = client_->Unpublish(id, Target(name));
    ASSERT_TRUE(status.ok()) << name << " unpublish: " << Str(status);
    status = client_->Unstage(id, Staging(name));
    ASSERT_TRUE(status.ok()) << name << " unstage: " << Str(status);
  }

  grpc::Status Create(const std::string& name, int64_t bytes,
                      const Params& params, std::string* id,
                      bool block = true) {
    return client_->CreateWithParameters(
        name, testing::Capability(block ? "" : "ext4", block), bytes, params,
        id);
  }

  static grpc::Status CreateFromWith(csi::v1::Controller::Stub& stub,
                                     const std::string& name, int64_t bytes,
                                     const Params& params,
                                     const std::string& snapshot_id,
                                     const std::string& volume_id,
                                     std::string* id, bool block = true) {
    csi::v1::CreateVolumeRequest request;
    request.set_name(name);
    *request.add_volume_capabilities() =
        testing::Capability(block ? "" : "ext4", block);
    request.mutable_capacity_range()->set_required_bytes(bytes);
    for (const auto& [key, value] : params)
      (*request.mutable_parameters())[key] = value;
    if (!snapshot_id.empty()) {
      request.mutable_volume_content_source()
          ->mutable_snapshot()
          ->set_snapshot_id(snapshot_id);
    } else {
      request.mutable_volume_content_source()->mutable_volume()->set_volume_id(
          volume_id);
    }
    csi::v1::CreateVolumeResponse response;
    grpc::Status status =
        stub.CreateVolume(Context(kLong).get(), request, &response);
    if (status.ok() && id != nullptr) *id = response.volume().volume_id();
    return status;
  }
  grpc::Status CreateFrom(const std::string& name, int64_t bytes,
                          const Params& params, const std::string& snapshot_id,
                          const std::string& volume_id, std::string* id,
                          bool block = true) {
    return CreateFromWith(driver_->controller(), name, bytes, params,
                          snapshot_id, volume_id, id, block);
  }

  grpc::Status Snapshot(const std::string& name, const std::string& source,
                        csi::v1::Snapshot* snapshot = nullptr,
                        const Params& params = {}) {
    csi::v1::CreateSnapshotRequest request;
    request.set_name(name);
    request.set_source_volume_id(source);
    for (const auto& [key, value] : params)
      (*request.mutable_parameters())[key] = value;
    csi::v1::CreateSnapshotResponse response;
    grpc::Status status = driver_->controller().CreateSnapshot(
        Context(kLong).get(), request, &response);
    if (snapshot != nullptr) *snapshot = response.snapshot();
    return status;
  }
  grpc::Status DeleteSnapshot(const std::string& id) {
    csi::v1::DeleteSnapshotRequest request;
    request.set_snapshot_id(id);
    csi::v1::DeleteSnapshotResponse response;
    return driver_->controller().DeleteSnapshot(Context(kLong).get(), request,
                                                &response);
  }
  grpc::Status GetSnapshot(const std::string& id, csi::v1::Snapshot* snapshot) {
    csi::v1::GetSnapshotRequest request;
    request.set_snapshot_id(id);
    csi::v1::GetSnapshotResponse response;
    grpc::Status status =
        driver_->controller().GetSnapshot(Context().get(), request, &response);
    *snapshot = response.snapshot();
    return status;
  }
  grpc::Status DeleteVolume(const std::string& id) {
    csi::v1::DeleteVolumeRequest request;
    request.set_volume_id(id);
    csi::v1::DeleteVolumeResponse response;
    return driver_->controller().DeleteVolume(Context(kLong).get(), request,
                                              &response);
  }
  int64_t Capacity(const std::string& device_class) {
    csi::v1::GetCapacityRequest request;
    (*request.mutable_parameters())["deviceClass"] = device_class;
    csi::v1::GetCapacityResponse response;
    grpc::Status status =
        driver_->controller().GetCapacity(Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << Str(status);
    return response.available_capacity();
  }

  // "" once the snapshot is ready (ListSnapshots by id), else why not.
  std::string WaitUntilReady(const std::string& id,
                             absl::Duration limit = absl::Seconds(300)) {
    const absl::Time deadline = absl::Now() + limit;
    std::string last = "never listed";
    while (absl::Now() < deadline) {
      csi::v1::ListSnapshotsRequest request;
      request.set_snapshot_id(id);
      csi::v1::ListSnapshotsResponse response;
      const grpc::Status status = driver_->controller().ListSnapshots(
          Context().get(), request, &response);
      if (!status.ok()) {
        last = Str(status);
      } else if (response.entries_size() != 1) {
        last = absl::StrCat(response.entries_size(), " entries");
      } else if (response.entries(0).snapshot().ready_to_use()) {
        // Ready is answered a moment before the COW snapshot is removed
        // (benign): give it a few seconds to go.
        const std::string temp = "ct-cs-" + Unique(id);
        for (int i = 0; i < 20 && (LvExists(vg_, temp) || LvExists(vg2_, temp));
             ++i) {
          absl::SleepFor(absl::Milliseconds(500));
        }
        return "";
      } else {
        last = "not ready";
      }
      absl::SleepFor(absl::Milliseconds(500));
    }
    return absl::StrCat("snapshot ", id, " not ready after ",
                        absl::FormatDuration(limit), ": ", last);
  }

  std::set<std::string> PesOf(const std::string& vg, const std::string& lv) {
    std::set<std::string> pes;
    std::istringstream ranges(Shell("lvm lvs --noheadings -o seg_pe_ranges " +
                                    vg + "/" + lv + " 2>/dev/null"));
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

  std::string vg_, pool_, vg2_, classes_, lvm_system_dir_;
};

// ------------------------------------------------------------ 1. policy
// README: "A copy asked for a namespace the source does not admit, or with
// allow lists wider than the source's, is PERMISSION_DENIED and nothing is
// created". Tried on a ready snapshot, on one still copying, and on a clone
// (which would otherwise take a COW snapshot of team-a's volume).
TEST_F(ThickAttackTest, RestoreAndCloneIntoRefusedNamespaceCreateNothing) {
  const Params a = {{"deviceClass", "zslow"}, {kNs, "team-a"}};
  std::string src;
  ASSERT_TRUE(Create("pol-src", 32 * kMiB, a, &src).ok());
  ASSERT_TRUE(WritePattern(Dev(vg2_, VolLv(src)), 32 * kMiB, "team-a"));
  csi::v1::Snapshot snap;
  // A snapshot for team-b: refused, nothing made.
  grpc::Status status =
      Snapshot("pol-snap-b", src, &snap, {{kSnapNs, "team-b"}});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << Str(status);
  EXPECT_EQ(CountLvs(vg2_, "cs-"), 0) << Lvs();
  EXPECT_EQ(CountLvs(vg2_, "ct-"), 0) << Lvs();
  status = Snapshot("pol-snap", src, &snap, {{kSnapNs, "team-a"}});
  ASSERT_TRUE(status.ok()) << Str(status);
  EXPECT_FALSE(snap.ready_to_use());
  // The retry from team-b of the existing name: refused too.
  csi::v1::Snapshot again;
  status = Snapshot("pol-snap", src, &again, {{kSnapNs, "team-b"}});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << Str(status);

  struct Try {
    std::string what;
    Params params;
  };
  const std::vector<Try> refused = {
      {"pvc namespace team-b", {{kNs, "team-b"}}},
      {"team-a widened by allowedNamespaces",
       {{kNs, "team-a"}, {"allowedNamespaces", "team-b"}}},
      {"no namespace but allowedNamespaces", {{"allowedNamespaces", "team-b"}}},
      {"allowedServiceAccounts of team-b",
       {{kNs, "team-a"}, {"allowedServiceAccounts", "team-b/default"}}},
  };
  for (const bool ready : {false, true}) {
    if (ready) ASSERT_EQ(WaitUntilReady(snap.snapshot_id()), "");
    for (const Try& t : refused) {
      for (const bool clone : {false, true}) {
        SCOPED_TRACE(
            absl::StrCat(t.what, clone ? " clone" : " restore",
                         ready ? " (snapshot ready)" : " (snapshot copying)"));
        const int cv_before = CountLvs(vg2_, "cv-");
        std::string id;
        const absl::Time start = absl::Now();
        status = CreateFrom(absl::StrCat("pol-copy-", clone, ready), 32 * kMiB,
                            t.params, clone ? "" : snap.snapshot_id(),
                            clone ? src : "", &id);
        EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
            << Str(status) << " after " << absl::Now() - start;
        EXPECT_EQ(CountLvs(vg2_, "cv-"), cv_before) << Lvs();
        EXPECT_EQ(CountLvs(vg2_, "ct-cv-"), 0) << Lvs();
      }
    }
  }
  // With no namespace: inherits team-a's policy.
  std::string copy;
  status =
      CreateFrom("pol-inherit", 32 * kMiB, {}, snap.snapshot_id(), "", &copy);
  ASSERT_TRUE(status.ok()) << Str(status);
  EXPECT_EQ(CheckPattern(Dev(vg2_, VolLv(copy)), 32 * kMiB, "team-a"), "");
  const auto cap = testing::Capability("", true);
  ASSERT_TRUE(client_->Stage(copy, Staging("pol-inherit"), cap).ok());
  for (const std::string ns : {"team-b", "team-a"}) {
    csi::v1::NodePublishVolumeRequest request;
    request.set_volume_id(copy);
    request.set_staging_target_path(Staging("pol-inherit"));
    request.set_target_path(Target("pol-inherit"));
    *request.mutable_volume_capability() = cap;
    auto& context = *request.mutable_volume_context();
    context["csi.storage.k8s.io/pod.namespace"] = ns;
    context["csi.storage.k8s.io/pod.name"] = "app-0";
    context["csi.storage.k8s.io/pod.uid"] = "0b1c2d3e-" + ns;
    context["csi.storage.k8s.io/serviceAccount.name"] = "default";
    csi::v1::NodePublishVolumeResponse response;
    status =
        driver_->node().NodePublishVolume(Context().get(), request, &response);
    EXPECT_EQ(status.error_code(), ns == "team-b"
                                       ? grpc::StatusCode::PERMISSION_DENIED
                                       : grpc::StatusCode::OK)
        << ns << ": " << Str(status);
  }
  ASSERT_NO_FATAL_FAILURE(Unmount(copy, "pol-inherit"));
  EXPECT_TRUE(DeleteVolume(copy).ok());
  EXPECT_TRUE(DeleteSnapshot(snap.snapshot_id()).ok());
  EXPECT_TRUE(DeleteVolume(src).ok());
  EXPECT_EQ(CountLvs(vg2_, ""), 0) << Lvs();
}

// ------------------------------------------------------------ 2. storms
// CSI CreateSnapshot: the same name and source is idempotent (same id and
// creation_time), the same name with another source is ALREADY_EXISTS.
// Hammered from 4 threads while the copy runs, with Get/List in between.
TEST_F(ThickAttackTest, RetryStormDuringCopyIsConsistent) {
  const Params slow = {{"deviceClass", "zslow"}};
  std::string src, other;
  ASSERT_TRUE(Create("storm-src", 32 * kMiB, slow, &src).ok());
  ASSERT_TRUE(Create("storm-other", 32 * kMiB, slow, &other).ok());
  ASSERT_TRUE(WritePattern(Dev(vg2_, VolLv(src)), 32 * kMiB, "storm"));
  csi::v1::Snapshot first;
  grpc::Status status = Snapshot("storm-snap", src, &first);
  ASSERT_TRUE(status.ok()) << Str(status);
  ASSERT_FALSE(first.ready_to_use());
  std::mutex mu;
  std::vector<std::string> problems;
  int ok_answers = 0, aborted = 0;
  auto problem = [&](const std::string& p) {
    std::lock_guard<std::mutex> lock(mu);
    problems.push_back(p);
  };
  auto same = [&](const csi::v1::Snapshot& s, const std::string& how) {
    if (s.snapshot_id() != first.snapshot_id() ||
        s.creation_time().seconds() != first.creation_time().seconds() ||
        s.creation_time().nanos() != first.creation_time().nanos() ||
        s.source_volume_id() != src || s.size_bytes() != first.size_bytes()) {
      problem(absl::StrCat(how,
                           " answered another snapshot: ", s.ShortDebugString(),
                           " vs ", first.ShortDebugString()));
    }
  };
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto stub = csi::v1::Controller::NewStub(driver_->channel());
      for (int i = 0; i < 6 && !stop; ++i) {
        csi::v1::CreateSnapshotRequest request;
        request.set_name("storm-snap");
        request.set_source_volume_id(src);
        csi::v1::CreateSnapshotResponse response;
        grpc::Status s =
            stub->CreateSnapshot(Context(kLong).get(), request, &response);
        if (s.ok()) {
          std::lock_guard<std::mutex> lock(mu);
          ++ok_answers;
        } else if (s.error_code() == grpc::StatusCode::ABORTED) {
          std::lock_guard<std::mutex> lock(mu);
          ++aborted;
        } else {
          problem("retry: " + Str(s));
        }
        if (s.ok()) same(response.snapshot(), "CreateSnapshot retry");
        // Same name, other source: ALREADY_EXISTS, never a second snapshot.
        request.set_source_volume_id(other);
        s = stub->CreateSnapshot(Context(kLong).get(), request, &response);
        if (s.error_code() != grpc::StatusCode::ALREADY_EXISTS &&
            s.error_code() != grpc::StatusCode::ABORTED) {
          problem("same name, other source: " + Str(s));
        }
        if (t % 2 == 0) {
          csi::v1::GetSnapshotRequest get;
          get.set_snapshot_id(first.snapshot_id());
          csi::v1::GetSnapshotResponse got;
          s = stub->GetSnapshot(Context().get(), get, &got);
          if (!s.ok())
            problem("GetSnapshot: " + Str(s));
          else
            same(got.snapshot(), "GetSnapshot");
        } else {
          csi::v1::ListSnapshotsRequest list;
          list.set_source_volume_id(src);
          csi::v1::ListSnapshotsResponse listed;
          s = stub->ListSnapshots(Context().get(), list, &listed);
          if (!s.ok())
            problem("ListSnapshots: " + Str(s));
          else if (listed.entries_size() != 1) {
            problem(absl::StrCat("ListSnapshots by source: ",
                                 listed.entries_size(), " entries"));
          } else {
            same(listed.entries(0).snapshot(), "ListSnapshots");
          }
        }
      }
    });
  }
  // Meanwhile: exactly one snapshot LV and one COW snapshot.
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(CountLvs(vg2_, "cs-"), 1) << Lvs();
    const int cows = CountLvs(vg2_, "ct-");
    EXPECT_LE(cows, 1) << Lvs();
    absl::SleepFor(absl::Milliseconds(500));
  }
  for (std::thread& t : threads) t.join();
  for (const std::string& p : problems) ADD_FAILURE() << p;
  std::cerr << "storm: " << ok_answers << " OK, " << aborted << " ABORTED\n";
  EXPECT_GT(ok_answers, 0);
  // The other volume got no snapshot of that name.
  {
    csi::v1::ListSnapshotsRequest list;
    list.set_source_volume_id(other);
    csi::v1::ListSnapshotsResponse listed;
    ASSERT_TRUE(driver_->controller()
                    .ListSnapshots(Context().get(), list, &listed)
                    .ok());
    EXPECT_EQ(listed.entries_size(), 0);
  }
  ASSERT_EQ(WaitUntilReady(first.snapshot_id()), "");
  csi::v1::Snapshot after;
  ASSERT_TRUE(Snapshot("storm-snap", src, &after).ok());
  EXPECT_TRUE(after.ready_to_use());
  same(after, "CreateSnapshot after ready");
  for (const std::string& p : problems) ADD_FAILURE() << p;
  EXPECT_EQ(CountLvs(vg2_, "ct-"), 0) << Lvs();
  EXPECT_EQ(
      CheckPattern(Dev(vg2_, SnapLv(first.snapshot_id())), 32 * kMiB, "storm"),
      "");
  EXPECT_TRUE(DeleteSnapshot(first.snapshot_id()).ok());
  EXPECT_TRUE(DeleteVolume(src).ok());
  EXPECT_TRUE(DeleteVolume(other).ok());
}

// CSI: "If a snapshot corresponding to the specified snapshot name already
// exists and is [not] compatible with the specified source_volume_id ...
// MUST return 6 ALREADY_EXISTS". The snapshot id hashes the source's class
// with the name, so the same name from a volume in another class is looked
// up under another id, and the driver may make a second snapshot of the
// same name.
TEST_F(ThickAttackTest, SameSnapshotNameFromAnotherClassIsAlreadyExists) {
  std::string thick, slow, thin;
  ASSERT_TRUE(
      Create("cls-thick", 32 * kMiB, {{"deviceClass", "thick"}}, &thick).ok());
  ASSERT_TRUE(
      Create("cls-slow", 32 * kMiB, {{"deviceClass", "zslow"}}, &slow).ok());
  ASSERT_TRUE(
      Create("cls-thin", 32 * kMiB, {{"deviceClass", "thin"}}, &thin).ok());
  csi::v1::Snapshot first, second, third;
  grpc::Status status = Snapshot("one-name", thick, &first);
  ASSERT_TRUE(status.ok()) << Str(status);
  status = Snapshot("one-name", slow, &second);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS)
      << "same snapshot name, source in another thick class: " << Str(status)
      << " -> " << second.ShortDebugString();
  status = Snapshot("one-name", thin, &third);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS)
      << "same snapshot name, source in a thin class: " << Str(status) << " -> "
      << third.ShortDebugString();
  // Volumes likewise: one name, two classes.
  std::string twin;
  status = Create("cls-thick", 32 * kMiB, {{"deviceClass", "zslow"}}, &twin);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS)
      << "same volume name in another class: " << Str(status) << " -> " << twin;
  csi::v1::ListSnapshotsRequest list;
  csi::v1::ListSnapshotsResponse listed;
  ASSERT_TRUE(
      driver_->controller().ListSnapshots(Context().get(), list, &listed).ok());
  std::cerr << "ListSnapshots: " << listed.ShortDebugString() << "\n" << Lvs();
  EXPECT_EQ(WaitUntilReady(first.snapshot_id()), "");
  for (const auto& s : {first, second, third}) {
    if (!s.snapshot_id().empty()) {
      WaitUntilReady(s.snapshot_id());
      EXPECT_TRUE(DeleteSnapshot(s.snapshot_id()).ok());
    }
  }
  for (const std::string& v : {thick, slow, thin, twin}) {
    if (!v.empty()) {
      EXPECT_TRUE(DeleteVolume(v).ok());
    }
  }
}

// ------------------------------------------------------------ 3. deletes
// README: "DeleteSnapshot during a copy stops it and removes both LVs";
// "It is never taken again under the same id, which would pass a later
// instant off as the recorded one" -- a snapshot made again under the name
// after a delete is a fresh instant with none of the old one left.
TEST_F(ThickAttackTest, DeleteMidCopyThenSameNameIsAFreshInstant) {
  const Params slow = {{"deviceClass", "zslow"}};
  std::string src;
  ASSERT_TRUE(Create("dm-src", 32 * kMiB, slow, &src).ok());
  const std::string dev = Dev(vg2_, VolLv(src));
  ASSERT_TRUE(WritePattern(dev, 32 * kMiB, "old"));
  csi::v1::Snapshot old_snap;
  ASSERT_TRUE(Snapshot("dm-snap", src, &old_snap).ok());
  absl::SleepFor(absl::Seconds(4));
  EXPECT_EQ(CountLvs(vg2_, "ct-cs-"), 1) << Lvs();
  ASSERT_TRUE(WritePattern(dev, 32 * kMiB, "new"));
  const absl::Time start = absl::Now();
  grpc::Status status = DeleteSnapshot(old_snap.snapshot_id());
  ASSERT_TRUE(status.ok()) << Str(status);
  std::cerr << "DeleteSnapshot mid-copy took " << absl::Now() - start << "\n";
  EXPECT_EQ(CountLvs(vg2_, "cs-"), 0) << Lvs();
  EXPECT_EQ(CountLvs(vg2_, "ct-"), 0) << Lvs();
  // At once the same name again.
  csi::v1::Snapshot fresh;
  status = Snapshot("dm-snap", src, &fresh);
  ASSERT_TRUE(status.ok()) << Str(status);
  EXPECT_EQ(fresh.snapshot_id(), old_snap.snapshot_id());
  EXPECT_FALSE(fresh.ready_to_use());
  EXPECT_TRUE(
      fresh.creation_time().seconds() > old_snap.creation_time().seconds() ||
      (fresh.creation_time().seconds() == old_snap.creation_time().seconds() &&
       fresh.creation_time().nanos() > old_snap.creation_time().nanos()))
      << "a re-created snapshot kept the deleted one's creation_time";
  EXPECT_EQ(CountLvs(vg2_, "ct-cs-"), 1) << Lvs();
  // A Get right after (a stale copy job, a tombstone) must not confuse it.
  csi::v1::Snapshot got;
  EXPECT_TRUE(GetSnapshot(fresh.snapshot_id(), &got).ok());
  ASSERT_EQ(WaitUntilReady(fresh.snapshot_id()), "");
  EXPECT_EQ(CountLvs(vg2_, "ct-"), 0) << Lvs();
  EXPECT_EQ(CountLvs(vg2_, "cs-"), 1) << Lvs();
  EXPECT_EQ(
      CheckPattern(Dev(vg2_, SnapLv(fresh.snapshot_id())), 32 * kMiB, "new"),
      "");
  EXPECT_TRUE(DeleteSnapshot(fresh.snapshot_id()).ok());
  EXPECT_TRUE(DeleteVolume(src).ok());
  EXPECT_EQ(CountLvs(vg2_, ""), 0) << Lvs();
}

// README: "deleting or growing the source waits (up to 60 s, then
// UNAVAILABLE) for the copies from it". A 72 MiB copy at 1 MiB/s outlasts
// one wait: the first delete must be UNAVAILABLE (never OK with the copy cut
// short), and the snapshot, once ready, holds every byte of its instant.
TEST_F(ThickAttackTest, DeleteSourceMidCopyNeverReadiesAHalfCopy) {
  const Params slow = {{"deviceClass", "zslow"}};
  const uint64_t size = 72 * kMiB;
  std::string src;
  ASSERT_TRUE(Create("ds-src", size, slow, &src).ok());
  const std::string dev = Dev(vg2_, VolLv(src));
  ASSERT_TRUE(WritePattern(dev, size, "instant"));
  csi::v1::Snapshot snap;
  ASSERT_TRUE(Snapshot("ds-snap", src, &snap).ok());
  ASSERT_TRUE(WritePattern(dev, 8 * kMiB, "later"));  // COW'd
  std::vector<std::string> answers;
  bool deleted = false;
  for (int i = 0; i < 6 && !deleted; ++i) {
    const absl::Time start = absl::Now();
    grpc::Status status = DeleteVolume(src);
    csi::v1::Snapshot now;
    const grpc::Status get = GetSnapshot(snap.snapshot_id(), &now);
    answers.push_back(absl::StrCat(
        Str(status), " after ", absl::FormatDuration(absl::Now() - start),
        "; snapshot ready=", now.ready_to_use(), " (", Str(get), ")"));
    if (status.ok()) {
      deleted = true;
      EXPECT_TRUE(now.ready_to_use())
          << "the source was deleted while its snapshot still copies from it";
    } else {
      EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
          << Str(status);
    }
  }
  for (const std::string& a : answers)
    std::cerr << "DeleteVolume(source): " << a << "\n";
  EXPECT_TRUE(deleted);
  EXPECT_GE(answers.size(), 2u)
      << "the first delete should have had to wait past 60 s";
  ASSERT_EQ(WaitUntilReady(snap.snapshot_id()), "");
  EXPECT_FALSE(LvExists(vg2_, VolLv(src)));
  EXPECT_EQ(CountLvs(vg2_, "ct-"), 0) << Lvs();
  EXPECT_EQ(
      CheckPattern(Dev(vg2_, SnapLv(snap.snapshot_id())), size, "instant"), "");
  // The snapshot outlives its source and restores.
  std::string restored;
  grpc::Status status =
      CreateFrom("ds-rest", size, {}, snap.snapshot_id(), "", &restored);
  ASSERT_TRUE(status.ok()) << Str(status);
  EXPECT_EQ(CheckPattern(Dev(vg2_, VolLv(restored)), size, "instant"), "");
  EXPECT_TRUE(DeleteVolume(restored).ok());
  EXPECT_TRUE(DeleteSnapshot(snap.snapshot_id()).ok());
  EXPECT_EQ(CountLvs(vg2_, ""), 0) << Lvs();
}

// ------------------------------------------------------------ 4. not ready
// A restore of a snapshot still copying: README "waits up to 60 s for it,
// then is UNAVAILABLE"; it must never hand out (or leave) a partial copy.
// Then DeleteSnapshot while a restore reads the snapshot: the restore is
// whole, or fails and leaves nothing.
TEST_F(ThickAttackTest, RestoreOfUnreadySnapshotNeverHandsOutAPartialCopy) {
  const Params slow = {{"deviceClass", "zslow"}};
  const uint64_t size = 80 * kMiB;  // 80 s of copy
  std::string src;
  ASSERT_TRUE(Create("nr-src", size, slow, &src).ok());
  ASSERT_TRUE(WritePattern(Dev(vg2_, VolLv(src)), size, "nr"));
  csi::v1::Snapshot snap;
  ASSERT_TRUE(Snapshot("nr-snap", src, &snap).ok());
  std::string restored;
  absl::Time start = absl::Now();
  grpc::Status status =
      CreateFrom("nr-rest", size, {}, snap.snapshot_id(), "", &restored);
  std::cerr << "restore of a copying snapshot: " << Str(status) << " after "
            << absl::Now() - start << "\n";
  if (status.ok()) {
    // Only acceptable if the snapshot really finished meanwhile.
    csi::v1::Snapshot now;
    ASSERT_TRUE(GetSnapshot(snap.snapshot_id(), &now).ok());
    EXPECT_TRUE(now.ready_to_use());
    EXPECT_EQ(CheckPattern(Dev(vg2_, VolLv(restored)), size, "nr"), "")
        << "a restore of an unready snapshot handed out a partial copy";
  } else {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
        << Str(status);
    EXPECT_EQ(CountLvs(vg2_, "cv-"), 1) << "a refused restore left its LV\n"
                                        << Lvs();
  }
  ASSERT_EQ(WaitUntilReady(snap.snapshot_id()), "");
  if (restored.empty()) {
    // Restore (80 s) while the snapshot is deleted under it.
    std::string id;
    grpc::Status restore_status;
    std::thread restore([&] {
      auto stub = csi::v1::Controller::NewStub(driver_->channel());
      restore_status = CreateFromWith(*stub, "nr-rest", size, {},
                                      snap.snapshot_id(), "", &id);
    });
    absl::SleepFor(absl::Seconds(8));
    start = absl::Now();
    status = DeleteSnapshot(snap.snapshot_id());
    std::cerr << "DeleteSnapshot during a restore from it: " << Str(status)
              << " after " << absl::Now() - start << "\n";
    restore.join();
    std::cerr << "the restore: " << Str(restore_status) << "\n" << Lvs();
    if (restore_status.ok()) {
      EXPECT_EQ(CheckPattern(Dev(vg2_, VolLv(id)), size, "nr"), "");
      EXPECT_TRUE(DeleteVolume(id).ok());
    } else {
      EXPECT_EQ(CountLvs(vg2_, "cv-"), 1) << "a failed restore left its LV\n"
                                          << Lvs();
    }
    if (!status.ok()) EXPECT_TRUE(DeleteSnapshot(snap.snapshot_id()).ok());
  } else {
    EXPECT_TRUE(DeleteVolume(restored).ok());
    EXPECT_TRUE(DeleteSnapshot(snap.snapshot_id()).ok());
  }
  EXPECT_TRUE(DeleteVolume(src).ok());
  EXPECT_EQ(CountLvs(vg2_, ""), 0) << Lvs();
}

// A clone of a volume being written: one instant. A writer sweeps the
// device block by block, each sweep stamping its generation; a clone taken
// mid-sweep must show generation g+1 on a prefix and g on the rest (never
// a block older than a later one, never two sweeps apart, never garbage).
TEST_F(ThickAttackTest, CloneOfAVolumeBeingWrittenIsOneInstant) {
  const Params thick = {{"deviceClass", "thick"}};
  const uint64_t size = 32 * kMiB, blocks = size / 4096;
  std::string src;
  ASSERT_TRUE(Create("cw-src", size, thick, &src).ok());
  const std::string dev = Dev(vg_, VolLv(src));
  std::atomic<bool> stop{false};
  std::atomic<int> sweeps{0};
  std::thread writer([&] {
    void* buffer = nullptr;
    if (posix_memalign(&buffer, 4096, 4096) != 0) return;
    const int fd = open(dev.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
    for (int gen = 1; fd >= 0 && !stop; ++gen) {
      for (uint64_t b = 0; b < blocks && !stop; ++b) {
        memset(buffer, 0, 4096);
        snprintf(static_cast<char*>(buffer), 64, "GEN %08d BLOCK %08llu", gen,
                 static_cast<unsigned long long>(b));
        if (pwrite(fd, buffer, 4096, static_cast<off_t>(b * 4096)) != 4096)
          break;
      }
      sweeps = gen;
    }
    if (fd >= 0) close(fd);
    free(buffer);
  });
  while (sweeps < 1) absl::SleepFor(absl::Milliseconds(100));
  std::string clone;
  grpc::Status status = CreateFrom("cw-clone", size, {}, "", src, &clone);
  stop = true;
  writer.join();
  ASSERT_TRUE(status.ok()) << Str(status);
  const int cv = CountLvs(vg_, "ct-");
  EXPECT_EQ(cv, 0) << Lvs();
  const int fd = open(Dev(vg_, VolLv(clone)).c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  int prev = 1 << 30, lo = 1 << 30, hi = 0;
  uint64_t bad = 0, non_monotone = 0;
  char block[4096];
  for (uint64_t b = 0; b < blocks; ++b) {
    ASSERT_EQ(pread(fd, block, 4096, static_cast<off_t>(b * 4096)), 4096);
    int gen = 0;
    unsigned long long at = 0;
    if (sscanf(block, "GEN %d BLOCK %llu", &gen, &at) != 2 || at != b) {
      ++bad;
      continue;
    }
    if (gen > prev) ++non_monotone;
    prev = gen;
    lo = std::min(lo, gen);
    hi = std::max(hi, gen);
  }
  close(fd);
  EXPECT_EQ(bad, 0u) << "blocks of the clone that no sweep wrote";
  EXPECT_EQ(non_monotone, 0u) << "the clone is not one instant of the volume";
  EXPECT_LE(hi - lo, 1) << "generations " << lo << ".." << hi;
  std::cerr << "clone: generations " << lo << ".." << hi << " after " << sweeps
            << " sweeps\n";
  EXPECT_TRUE(DeleteVolume(clone).ok());
  EXPECT_TRUE(DeleteVolume(src).ok());
  EXPECT_EQ(CountLvs(vg_, "cv-"), 0) << Lvs();
}

// ------------------------------------------------------------ 5. data
// Every byte round-trips (block: the whole device; ext4: files), and no
// snapshot, restore or clone LV shows a deleted tenant's bytes that are
// still on the extents it lands on (issue_discards = 0). ext4 copies skip
// free ranges: those must read as zeroes, not as the old occupant's data.
TEST_F(ThickAttackTest, EveryByteRoundTripsAndNoDeletedTenantDataLeaks) {
  ASSERT_NO_FATAL_FAILURE(RestartWithoutDiscards());
  const Params thick = {{"deviceClass", "thick"}};
  const uint64_t size = 48 * kMiB;
  // The sources first, so they do not land on the victim's extents.
  std::string blk, fs;
  ASSERT_TRUE(Create("leak-blk", size, thick, &blk).ok());
  ASSERT_TRUE(WritePattern(Dev(vg_, VolLv(blk)), size, "mine"));
  const auto fs_cap = testing::Capability("ext4", false);
  ASSERT_TRUE(Create("leak-fs", size, thick, &fs, /*block=*/false).ok());
  ASSERT_NO_FATAL_FAILURE(Up(fs, "leak-fs", fs_cap));
  ASSERT_TRUE(WriteText(Target("leak-fs") + "/data.txt", "ext4 original"));
  ASSERT_EQ(Shell("head -c 3M /dev/urandom > '" + Target("leak-fs") +
                  "/random.bin' && sync && echo ok"),
            "ok\n");
  const std::string sum =
      Shell("sha256sum < '" + Target("leak-fs") + "/random.bin'");
  ASSERT_NO_FATAL_FAILURE(Unmount(fs, "leak-fs"));

  // The victim: another tenant's volume, full of its secret, deleted.
  std::string victim;
  const uint64_t victim_size = 480 * kMiB;
  ASSERT_TRUE(Create("leak-victim", victim_size, thick, &victim).ok());
  const std::set<std::string> victim_pes = PesOf(vg_, VolLv(victim));
  ASSERT_FALSE(victim_pes.empty());
  ASSERT_TRUE(FillWithSecret(Dev(vg_, VolLv(victim)), victim_size));
  ASSERT_TRUE(DeleteVolume(victim).ok());

  // Snapshots (the COW snapshot and the snapshot LV land on the hole).
  csi::v1::Snapshot sblk, sfs;
  ASSERT_TRUE(Snapshot("leak-sblk", blk, &sblk).ok());
  ASSERT_TRUE(Snapshot("leak-sfs", fs, &sfs).ok());
  ASSERT_EQ(WaitUntilReady(sblk.snapshot_id()), "");
  ASSERT_EQ(WaitUntilReady(sfs.snapshot_id()), "");
  ASSERT_TRUE(WritePattern(Dev(vg_, VolLv(blk)), size, "overwritten"));

  struct Copy {
    std::string what, lv;
    uint64_t bytes;
  };
  std::vector<Copy> copies = {
      {"block snapshot", SnapLv(sblk.snapshot_id()), size},
      {"ext4 snapshot", SnapLv(sfs.snapshot_id()), size}};
  auto make = [&](const std::string& name, uint64_t bytes,
                  const std::string& snap, const std::string& vol, bool block) {
    std::string id;
    grpc::Status status = CreateFrom(name, bytes, {}, snap, vol, &id, block);
    EXPECT_TRUE(status.ok()) << name << ": " << Str(status);
    if (status.ok()) copies.push_back({name, VolLv(id), bytes});
    return id;
  };
  const std::string rblk =
      make("leak-rblk", size, sblk.snapshot_id(), "", true);
  const std::string rblk_big =
      make("leak-rblk-big", 2 * size, sblk.snapshot_id(), "", true);
  const std::string rfs = make("leak-rfs", size, sfs.snapshot_id(), "", false);
  const std::string rfs_big =
      make("leak-rfs-big", 2 * size, sfs.snapshot_id(), "", false);
  const std::string cfs = make("leak-cfs", size, "", fs, false);
  const std::string cblk = make("leak-cblk", size, "", blk, true);

  // Byte for byte: the block restores hold the snapshot's pattern.
  EXPECT_EQ(CheckPattern(Dev(vg_, SnapLv(sblk.snapshot_id())), size, "mine"),
            "");
  if (!rblk.empty()) {
    EXPECT_EQ(CheckPattern(Dev(vg_, VolLv(rblk)), size, "mine"), "");
  }
  if (!rblk_big.empty()) {
    EXPECT_EQ(CheckPattern(Dev(vg_, VolLv(rblk_big)), size, "mine"), "");
  }
  if (!cblk.empty()) {
    EXPECT_EQ(CheckPattern(Dev(vg_, VolLv(cblk)), size, "overwritten"), "");
  }
  // No secret anywhere, and the attack hit the victim's extents.
  size_t overlap = 0;
  for (const Copy& c : copies) {
    std::set<std::string> pes = PesOf(vg_, c.lv);
    size_t shared = 0;
    for (const std::string& pe : pes) shared += victim_pes.count(pe);
    overlap += shared;
    uint64_t read = 0;
    const int64_t at = FindSecret(Dev(vg_, c.lv), c.bytes, &read);
    EXPECT_EQ(at, -1) << c.what << " (" << c.lv << ", " << shared << " of "
                      << pes.size()
                      << " extents were the victim's) shows the deleted "
                      << "volume's secret at byte " << at;
    EXPECT_EQ(read, c.bytes) << c.what;
    std::cerr << c.what << ": " << shared << "/" << pes.size()
              << " extents on the victim's\n";
  }
  EXPECT_GT(overlap, 0u)
      << "no copy landed on the victim's extents: attack not exercised";
  // The ext4 copies: the files (after the raw scan: staging may write).
  for (const std::string& id : {rfs, rfs_big, cfs}) {
    if (id.empty()) continue;
    const std::string name = "m-" + Unique(id).substr(0, 8);
    const grpc::Status staged = client_->Stage(id, Staging(name), fs_cap);
    if (!staged.ok()) {
      ADD_FAILURE() << "stage of ext4 copy " << id << ": " << Str(staged);
      continue;
    }
    ASSERT_TRUE(
        client_->Publish(id, Staging(name), Target(name), fs_cap, false).ok());
    EXPECT_EQ(ReadText(Target(name) + "/data.txt"), "ext4 original");
    EXPECT_EQ(Shell("sha256sum < '" + Target(name) + "/random.bin'"), sum);
    ASSERT_NO_FATAL_FAILURE(Unmount(id, name));
  }
  for (const std::string& id :
       {rblk, rblk_big, rfs, rfs_big, cfs, cblk, blk, fs}) {
    if (!id.empty()) {
      EXPECT_TRUE(DeleteVolume(id).ok()) << id;
    }
  }
  EXPECT_TRUE(DeleteSnapshot(sblk.snapshot_id()).ok());
  EXPECT_TRUE(DeleteSnapshot(sfs.snapshot_id()).ok());
  EXPECT_EQ(CountLvs(vg_, "c"), 0) << Lvs();
}

// ------------------------------------------------------------ 6. groups
class GroupAttack : public ThickAttackTest {
 protected:
  grpc::Status Group(const std::string& name,
                     const std::vector<std::string>& ids,
                     csi::v1::VolumeGroupSnapshot* group,
                     const Params& params = {}) {
    auto stub = csi::v1::GroupController::NewStub(driver_->channel());
    csi::v1::CreateVolumeGroupSnapshotRequest request;
    request.set_name(name);
    for (const std::string& id : ids) request.add_source_volume_ids(id);
    for (const auto& [key, value] : params)
      (*request.mutable_parameters())[key] = value;
    csi::v1::CreateVolumeGroupSnapshotResponse response;
    grpc::Status status = stub->CreateVolumeGroupSnapshot(Context(kLong).get(),
                                                          request, &response);
    if (group != nullptr) *group = response.group_snapshot();
    return status;
  }
  grpc::Status DeleteGroup(const std::string& id) {
    auto stub = csi::v1::GroupController::NewStub(driver_->channel());
    csi::v1::DeleteVolumeGroupSnapshotRequest request;
    request.set_group_snapshot_id(id);
    csi::v1::DeleteVolumeGroupSnapshotResponse response;
    return stub->DeleteVolumeGroupSnapshot(Context(kLong).get(), request,
                                           &response);
  }
  int AllSnapshotLvs() { return CountLvs(vg_, "cs-") + CountLvs(vg2_, "cs-"); }
  int AllCows() { return CountLvs(vg_, "ct-") + CountLvs(vg2_, "ct-"); }
};

TEST_F(GroupAttack, GroupSnapshotsWithThickMembers) {
  std::string thick, slow, thin, slow2;
  ASSERT_TRUE(Create("g-thick", 32 * kMiB,
                     {{"deviceClass", "thick"}, {kNs, "team-a"}}, &thick)
                  .ok());
  ASSERT_TRUE(Create("g-slow", 32 * kMiB,
                     {{"deviceClass", "zslow"}, {kNs, "team-a"}}, &slow)
                  .ok());
  ASSERT_TRUE(Create("g-thin", 32 * kMiB,
                     {{"deviceClass", "thin"}, {kNs, "team-b"}}, &thin)
                  .ok());
  ASSERT_TRUE(WritePattern(Dev(vg_, VolLv(thick)), 32 * kMiB, "g-thick"));
  ASSERT_TRUE(WritePattern(Dev(vg2_, VolLv(slow)), 32 * kMiB, "g-slow"));
  csi::v1::VolumeGroupSnapshot group;
  // Duplicates, another node's volume, a missing volume: refused, nothing made.
  grpc::Status status = Group("g-dup", {thick, slow, thick}, &group);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << Str(status);
  std::string foreign = thick;
  foreign.replace(2, std::string("vm-node").size(), "vm-nodf");
  status = Group("g-foreign", {thick, foreign}, &group);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << Str(status);
  std::string missing = slow;
  missing.back() = missing.back() == '0' ? '1' : '0';
  status = Group("g-missing", {thick, missing}, &group);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << Str(status);
  // A member from a namespace the group's namespace does not admit.
  status = Group("g-ns", {thick, thin}, &group, {{kGroupNs, "team-a"}});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << Str(status);
  EXPECT_EQ(AllSnapshotLvs(), 0) << Lvs();
  EXPECT_EQ(AllCows(), 0) << Lvs();

  // A group of thick (fast), zslow (slow) and thin members; ready when all are.
  status = Group("g-all", {thick, slow, thin}, &group);
  ASSERT_TRUE(status.ok()) << Str(status);
  EXPECT_EQ(group.snapshots_size(), 3);
  EXPECT_FALSE(group.ready_to_use());
  std::set<int64_t> nanos;
  for (const auto& m : group.snapshots()) {
    EXPECT_EQ(m.group_snapshot_id(), group.group_snapshot_id());
    nanos.insert(m.creation_time().nanos());
  }
  // Retry: the same group, same members.
  csi::v1::VolumeGroupSnapshot again;
  status = Group("g-all", {thin, slow, thick}, &again);
  ASSERT_TRUE(status.ok()) << Str(status);
  EXPECT_EQ(again.group_snapshot_id(), group.group_snapshot_id());
  EXPECT_EQ(again.creation_time().seconds(), group.creation_time().seconds());
  EXPECT_EQ(AllSnapshotLvs(), 3)
      << Lvs();  // thin and thick in vg_, zslow in vg2_
  // A member snapshot used alone: restores (team-a's policy kept).
  std::string thick_member;
  for (const auto& m : group.snapshots()) {
    if (m.source_volume_id() == thick) thick_member = m.snapshot_id();
  }
  ASSERT_FALSE(thick_member.empty());
  ASSERT_EQ(WaitUntilReady(thick_member), "");
  std::string r;
  status = CreateFrom("g-rest-b", 32 * kMiB, {{kNs, "team-b"}}, thick_member,
                      "", &r);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << Str(status);
  // Deleted while the slow member copies: every member and COW goes.
  status = DeleteGroup(group.group_snapshot_id());
  EXPECT_TRUE(status.ok()) << Str(status);
  EXPECT_EQ(AllSnapshotLvs(), 0) << Lvs();
  EXPECT_EQ(AllCows(), 0) << Lvs();
  EXPECT_EQ(CountLvs(vg_, "cs-"), 0) << Lvs();

  // A group whose second member does not fit: the first is taken back.
  const uint64_t free2 = VgFree(vg2_);
  ASSERT_EQ(Shell(absl::StrCat("lvm lvcreate -q -an -Zn --wipesignatures n -L ",
                               free2 - 48 * kMiB, "b -n filler ", vg2_,
                               " >/dev/null && echo ok")),
            "ok\n");
  status = Group("g-nofit", {thick, slow}, &group);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << Str(status);
  EXPECT_EQ(AllSnapshotLvs(), 0) << "half a group left\n" << Lvs();
  EXPECT_EQ(AllCows(), 0) << Lvs();
  Shell("lvm lvremove -y " + vg2_ + "/filler >/dev/null 2>&1");
  for (const std::string& id : {thick, slow, thin})
    EXPECT_TRUE(DeleteVolume(id).ok());
}

// CSI: a group snapshot name already taken for other source volumes is
// ALREADY_EXISTS; a member carrying group_snapshot_id "MUST NOT be deleted
// as a stand alone snapshot". Here: a ready group of one volume asked
// again with two, and a group whose member was deleted alone and then
// asked again. Either way the driver must not hand back a group whose
// members come from different instants.
TEST_F(GroupAttack, GroupCannotBeWidenedOrRefilledAtALaterInstant) {
  std::string a, b;
  ASSERT_TRUE(Create("gw-a", 32 * kMiB, {{"deviceClass", "thick"}}, &a).ok());
  ASSERT_TRUE(Create("gw-b", 32 * kMiB, {{"deviceClass", "thick"}}, &b).ok());
  ASSERT_TRUE(WritePattern(Dev(vg_, VolLv(a)), 32 * kMiB, "a-t0"));
  ASSERT_TRUE(WritePattern(Dev(vg_, VolLv(b)), 32 * kMiB, "b-t0"));
  csi::v1::VolumeGroupSnapshot one, wider;
  ASSERT_TRUE(Group("gw-one", {a}, &one).ok());
  for (const auto& m : one.snapshots())
    ASSERT_EQ(WaitUntilReady(m.snapshot_id()), "");
  absl::SleepFor(absl::Seconds(2));
  ASSERT_TRUE(WritePattern(Dev(vg_, VolLv(a)), 32 * kMiB, "a-t1"));
  grpc::Status status = Group("gw-one", {a, b}, &wider);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS)
      << "a group of one volume, asked again with two: " << Str(status)
      << " -> " << wider.ShortDebugString();
  if (status.ok()) {
    for (const auto& m : wider.snapshots()) WaitUntilReady(m.snapshot_id());
  }
  if (!one.group_snapshot_id().empty())
    EXPECT_TRUE(DeleteGroup(one.group_snapshot_id()).ok());

  csi::v1::VolumeGroupSnapshot both, again;
  ASSERT_TRUE(Group("gw-both", {a, b}, &both).ok());
  for (const auto& m : both.snapshots())
    ASSERT_EQ(WaitUntilReady(m.snapshot_id()), "");
  std::string member_a;
  for (const auto& m : both.snapshots()) {
    if (m.source_volume_id() == a) member_a = m.snapshot_id();
  }
  status = DeleteSnapshot(member_a);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << "a group member (group_snapshot_id set) deleted alone: "
      << Str(status);
  ASSERT_TRUE(WritePattern(Dev(vg_, VolLv(a)), 32 * kMiB, "a-t2"));
  status = Group("gw-both", {a, b}, &again);
  if (status.ok()) {
    std::set<int64_t> seconds;
    std::string a_now;
    for (const auto& m : again.snapshots()) {
      seconds.insert(m.creation_time().seconds());
      if (m.source_volume_id() == a) a_now = m.snapshot_id();
      WaitUntilReady(m.snapshot_id());
    }
    EXPECT_EQ(seconds.size(), 1u)
        << "the group retry mixes instants: " << again.ShortDebugString();
    if (!a_now.empty()) {
      EXPECT_EQ(CheckPattern(Dev(vg_, SnapLv(a_now)), 32 * kMiB, "a-t1"), "")
          << "the group member of a now holds a later instant";
    }
  }
  std::cerr << "group retry after a member was deleted: " << Str(status)
            << "\n";
  EXPECT_TRUE(DeleteGroup(both.group_snapshot_id()).ok());
  EXPECT_TRUE(DeleteVolume(a).ok());
  EXPECT_TRUE(DeleteVolume(b).ok());
  EXPECT_EQ(AllSnapshotLvs(), 0) << Lvs();
}

// ------------------------------------------------------------ 7. capacity
// Many snapshots at once in a VG that holds only some of them: each call is
// OK (and becomes ready) or RESOURCE_EXHAUSTED with nothing of it left;
// GetCapacity never promises what the copies hold.
TEST_F(ThickAttackTest, ConcurrentSnapshotsFillingTheVgStayConsistent) {
  const Params slow = {{"deviceClass", "zslow"}};
  const uint64_t size = 24 * kMiB;
  std::vector<std::string> vols(5);
  for (size_t i = 0; i < vols.size(); ++i) {
    ASSERT_TRUE(Create(absl::StrCat("cap-", i), size, slow, &vols[i]).ok());
    ASSERT_TRUE(
        WritePattern(Dev(vg2_, VolLv(vols[i])), size, absl::StrCat("cap", i)));
  }
  // Room for about two snapshots with their COW areas (2 x 49 MiB).
  const uint64_t free2 = VgFree(vg2_);
  ASSERT_EQ(Shell(absl::StrCat("lvm lvcreate -q -an -Zn --wipesignatures n -L ",
                               free2 - 110 * kMiB, "b -n filler ", vg2_,
                               " >/dev/null && echo ok")),
            "ok\n");
  const int64_t capacity_before = Capacity("zslow");
  std::vector<grpc::Status> statuses(vols.size());
  std::vector<csi::v1::Snapshot> snaps(vols.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < vols.size(); ++i) {
    threads.emplace_back([&, i] {
      auto stub = csi::v1::Controller::NewStub(driver_->channel());
      csi::v1::CreateSnapshotRequest request;
      request.set_name(absl::StrCat("cap-snap-", i));
      request.set_source_volume_id(vols[i]);
      csi::v1::CreateSnapshotResponse response;
      statuses[i] =
          stub->CreateSnapshot(Context(kLong).get(), request, &response);
      snaps[i] = response.snapshot();
    });
  }
  for (std::thread& t : threads) t.join();
  const std::string listing = Lvs();
  const int64_t capacity_during = Capacity("zslow");
  std::cerr << "capacity before " << capacity_before << ", during "
            << capacity_during << ", VG free " << VgFree(vg2_) << "\n"
            << listing;
  EXPECT_LE(capacity_during, static_cast<int64_t>(VgFree(vg2_)));
  int made = 0;
  for (size_t i = 0; i < vols.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("snapshot ", i, ": ", Str(statuses[i])));
    const std::string lv =
        "cs-" + Unique(snaps[i].snapshot_id().empty() ? std::string("x")
                                                      : snaps[i].snapshot_id());
    if (statuses[i].ok()) {
      ++made;
      EXPECT_TRUE(LvExists(vg2_, lv)) << listing;
      EXPECT_EQ(WaitUntilReady(snaps[i].snapshot_id()), "");
      EXPECT_EQ(CheckPattern(Dev(vg2_, lv), size, absl::StrCat("cap", i)), "");
    } else {
      EXPECT_EQ(statuses[i].error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
      // Its id: ListSnapshots must not know it.
      csi::v1::ListSnapshotsRequest list;
      list.set_source_volume_id(vols[i]);
      csi::v1::ListSnapshotsResponse listed;
      ASSERT_TRUE(driver_->controller()
                      .ListSnapshots(Context().get(), list, &listed)
                      .ok());
      EXPECT_EQ(listed.entries_size(), 0) << listed.ShortDebugString();
    }
  }
  EXPECT_GE(made, 1);
  EXPECT_EQ(CountLvs(vg2_, "cs-"), made) << Lvs();
  EXPECT_EQ(CountLvs(vg2_, "ct-"), 0) << Lvs();
  // A restore that does not fit: RESOURCE_EXHAUSTED, nothing made.
  for (size_t i = 0; i < vols.size(); ++i) {
    if (!statuses[i].ok()) continue;
    const uint64_t left = VgFree(vg2_);
    std::string id;
    grpc::Status status = CreateFrom("cap-rest", left + 4 * kMiB, {},
                                     snaps[i].snapshot_id(), "", &id);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
        << Str(status);
    EXPECT_EQ(CountLvs(vg2_, "cv-"), static_cast<int>(vols.size())) << Lvs();
    EXPECT_TRUE(DeleteSnapshot(snaps[i].snapshot_id()).ok());
  }
  Shell("lvm lvremove -y " + vg2_ + "/filler >/dev/null 2>&1");
  for (const std::string& v : vols) EXPECT_TRUE(DeleteVolume(v).ok());
  EXPECT_EQ(CountLvs(vg2_, ""), 0) << Lvs();
}

// ------------------------------------------------------------ 8. kill -9
// kill -9 in the middle of a restore and of a clone (both copied within
// CreateVolume). README: "a restarted driver resumes the copies it finds";
// nothing half-copied is ever usable; and when the provisioner's retry can
// no longer succeed (the source is gone by then), the half-filled LV and
// its COW snapshot must not stay behind for ever.
TEST_F(ThickAttackTest, KillNineDuringRestoreAndCloneLeavesNothingBehind) {
  const Params slow = {{"deviceClass", "zslow"}};
  const uint64_t size = 40 * kMiB;
  std::string src;
  ASSERT_TRUE(Create("kr-src", size, slow, &src).ok());
  ASSERT_TRUE(WritePattern(Dev(vg2_, VolLv(src)), size, "kr"));
  csi::v1::Snapshot snap;
  ASSERT_TRUE(Snapshot("kr-snap", src, &snap).ok());
  ASSERT_EQ(WaitUntilReady(snap.snapshot_id()), "");
  std::string restored, cloned;
  grpc::Status restore_status, clone_status;
  auto channel = driver_->channel();
  std::thread restore([&] {
    auto stub = csi::v1::Controller::NewStub(channel);
    restore_status = CreateFromWith(*stub, "kr-rest", size, {},
                                    snap.snapshot_id(), "", &restored);
  });
  std::thread clone([&] {
    auto stub = csi::v1::Controller::NewStub(channel);
    clone_status =
        CreateFromWith(*stub, "kr-clone", size, {}, "", src, &cloned);
  });
  absl::SleepFor(absl::Seconds(15));
  kill(driver_->pid(), SIGKILL);
  restore.join();
  clone.join();
  client_.reset();
  driver_.reset();
  std::cerr << "restore: " << Str(restore_status)
            << "; clone: " << Str(clone_status) << "\nafter kill -9:\n"
            << Lvs();
  ASSERT_NO_FATAL_FAILURE(StartDriver());
  absl::SleepFor(absl::Seconds(3));
  const std::string after_restart = Lvs();
  std::cerr << "after restart:\n" << after_restart;
  // The half-copied volumes are not usable.
  csi::v1::ListVolumesRequest list;
  csi::v1::ListVolumesResponse listed;
  ASSERT_TRUE(
      driver_->controller().ListVolumes(Context().get(), list, &listed).ok());
  std::cerr << "ListVolumes: " << listed.ShortDebugString() << "\n";
  for (const auto& e : listed.entries()) {
    const std::string& id = e.volume().volume_id();
    if (id == src) continue;
    const grpc::Status staged =
        client_->Stage(id, Staging("kr-" + Unique(id).substr(0, 6)),
                       testing::Capability("", true));
    EXPECT_FALSE(staged.ok()) << "a half-copied volume " << id << " was staged";
  }
  // The provisioner's retries would now fail for good: the snapshot and
  // the source are deleted (as the user may do while the PVC is pending).
  grpc::Status status = DeleteSnapshot(snap.snapshot_id());
  EXPECT_TRUE(status.ok()) << Str(status);
  status = DeleteVolume(src);
  for (int i = 0; i < 3 && status.error_code() == grpc::StatusCode::UNAVAILABLE;
       ++i) {
    status = DeleteVolume(src);
  }
  EXPECT_TRUE(status.ok()) << Str(status);
  std::string id;
  status = CreateFrom("kr-rest", size, {}, snap.snapshot_id(), "", &id);
  std::cerr << "restore retried after the snapshot is gone: " << Str(status)
            << "\n";
  status = CreateFrom("kr-clone", size, {}, "", src, &id);
  std::cerr << "clone retried after the source is gone: " << Str(status)
            << "\n";
  absl::SleepFor(absl::Seconds(2));
  const std::string left = Lvs();
  EXPECT_EQ(CountLvs(vg2_, "cv-"), 0)
      << "half-copied LVs no call will ever finish or remove:\n"
      << left;
  EXPECT_EQ(CountLvs(vg2_, "ct-"), 0) << "COW snapshots left:\n" << left;
  // A driver restart does not collect them either.
  client_.reset();
  driver_.reset();
  ASSERT_NO_FATAL_FAILURE(StartDriver());
  absl::SleepFor(absl::Seconds(3));
  EXPECT_EQ(CountLvs(vg2_, "cv-"), 0) << "still there after a restart:\n"
                                      << Lvs();
  EXPECT_GE(Capacity("zslow"),
            static_cast<int64_t>(VgFree(vg2_)) - static_cast<int64_t>(kMiB));
}

// Kill -9 in the middle of a restore, then the provisioner's retry: the
// volume is finished (no second LV) and holds every byte.
TEST_F(ThickAttackTest, KillNineDuringRestoreThenRetryFinishesIt) {
  const Params slow = {{"deviceClass", "zslow"}};
  const uint64_t size = 32 * kMiB;
  std::string src;
  ASSERT_TRUE(Create("kf-src", size, slow, &src).ok());
  ASSERT_TRUE(WritePattern(Dev(vg2_, VolLv(src)), size, "kf"));
  csi::v1::Snapshot snap;
  ASSERT_TRUE(Snapshot("kf-snap", src, &snap).ok());
  ASSERT_EQ(WaitUntilReady(snap.snapshot_id()), "");
  ASSERT_TRUE(WritePattern(Dev(vg2_, VolLv(src)), size, "kf-later"));
  std::string restored;
  grpc::Status restore_status;
  auto channel = driver_->channel();
  std::thread restore([&] {
    auto stub = csi::v1::Controller::NewStub(channel);
    restore_status = CreateFromWith(*stub, "kf-rest", size, {},
                                    snap.snapshot_id(), "", &restored);
  });
  absl::SleepFor(absl::Seconds(12));
  kill(driver_->pid(), SIGKILL);
  restore.join();
  client_.reset();
  driver_.reset();
  ASSERT_NO_FATAL_FAILURE(StartDriver());
  grpc::Status status =
      CreateFrom("kf-rest", size, {}, snap.snapshot_id(), "", &restored);
  ASSERT_TRUE(status.ok()) << Str(status);
  EXPECT_EQ(CountLvs(vg2_, "cv-"), 2) << Lvs();
  EXPECT_EQ(CheckPattern(Dev(vg2_, VolLv(restored)), size, "kf"), "");
  EXPECT_TRUE(DeleteVolume(restored).ok());
  EXPECT_TRUE(DeleteSnapshot(snap.snapshot_id()).ok());
  EXPECT_TRUE(DeleteVolume(src).ok());
  EXPECT_EQ(CountLvs(vg2_, ""), 0) << Lvs();
}

// ------------------------------------------------------------ 9. ids
// Ids and names crafted to reach LVs they do not name: another node's tag,
// a volume's unique part as a snapshot's, another class's, a snapshot id
// as a volume source and back; names that look like LV prefixes or tags.
TEST_F(ThickAttackTest, CraftedIdsReachNothing) {
  std::string vol;
  ASSERT_TRUE(Create("id-vol", 32 * kMiB,
                     {{"deviceClass", "thick"}, {kNs, "team-a"}}, &vol)
                  .ok());
  ASSERT_TRUE(WritePattern(Dev(vg_, VolLv(vol)), 32 * kMiB, "id"));
  csi::v1::Snapshot snap;
  ASSERT_TRUE(Snapshot("id-snap", vol, &snap).ok());
  const std::string u = Unique(vol), su = Unique(snap.snapshot_id());
  ASSERT_EQ(WaitUntilReady(snap.snapshot_id()), "");
  const std::string lv_names =
      "lvm lvs --noheadings -o lv_name " + vg_ + " | awk '{print $1}' | sort";
  const std::string before = Shell(lv_names);
  struct Try {
    std::string what;
    std::function<grpc::Status()> call;
    grpc::StatusCode want;
  };
  std::string out;
  const std::vector<Try> tries = {
      {"snapshot of another node's id for the same LV",
       [&] { return Snapshot("id-x1", "v_vm-nodf_thick_" + u); },
       grpc::StatusCode::NOT_FOUND},
      {"snapshot of a volume id with the snapshot's unique part",
       [&] { return Snapshot("id-x2", "v_vm-node_thick_" + su); },
       grpc::StatusCode::NOT_FOUND},
      {"snapshot naming a snapshot id as its source",
       [&] { return Snapshot("id-x3", snap.snapshot_id()); },
       grpc::StatusCode::NOT_FOUND},
      {"snapshot of the volume id with the class swapped",
       [&] { return Snapshot("id-x4", "v_vm-node_zslow_" + u); },
       grpc::StatusCode::NOT_FOUND},
      {"restore from a snapshot id made of the volume's unique part",
       [&] {
         return CreateFrom("id-r1", 32 * kMiB, {}, "s_vm-node_thick_" + u, "",
                           &out);
       },
       grpc::StatusCode::NOT_FOUND},
      {"restore from the snapshot id with the class swapped",
       [&] {
         return CreateFrom("id-r2", 32 * kMiB, {{"deviceClass", "zslow"}},
                           "s_vm-node_zslow_" + su, "", &out);
       },
       grpc::StatusCode::NOT_FOUND},
      {"clone naming the snapshot id as a volume",
       [&] {
         return CreateFrom("id-r3", 32 * kMiB, {}, "", snap.snapshot_id(),
                           &out);
       },
       grpc::StatusCode::NOT_FOUND},
      {"clone of another node's id for the same LV",
       [&] {
         return CreateFrom("id-r4", 32 * kMiB, {}, "", "v_vm-nodf_thick_" + u,
                           &out);
       },
       grpc::StatusCode::NOT_FOUND},
      {"delete snapshot with the volume's unique part",
       [&] { return DeleteSnapshot("s_vm-node_thick_" + u); },
       grpc::StatusCode::OK},
      {"delete volume with the snapshot's unique part",
       [&] { return DeleteVolume("v_vm-node_thick_" + su); },
       grpc::StatusCode::OK},
      {"delete snapshot, class swapped",
       [&] { return DeleteSnapshot("s_vm-node_zslow_" + su); },
       grpc::StatusCode::OK},
      {"delete snapshot via the group id form",
       [&] { return DeleteSnapshot("g_vm-node_thick_" + su); },
       grpc::StatusCode::OK},
  };
  for (const Try& t : tries) {
    const grpc::Status status = t.call();
    EXPECT_EQ(status.error_code(), t.want) << t.what << ": " << Str(status);
  }
  EXPECT_EQ(Shell(lv_names), before) << Lvs();
  // Names that look like LV names, prefixes and tags, and control bytes.
  const std::vector<std::string> names = {
      "ct-cs-" + su,           "cs-" + su,        "cellar.cow",
      "x --addtag cellar.cow", "@cellar.copying", std::string("nl\nname"),
      std::string(200, 'n'),   "id-snap\t"};
  for (const std::string& name : names) {
    csi::v1::Snapshot s;
    const grpc::Status status = Snapshot(name, vol, &s);
    SCOPED_TRACE(absl::CEscape(name));
    if (status.ok()) {
      EXPECT_NE(s.snapshot_id(), snap.snapshot_id());
      EXPECT_NE(s.snapshot_id().find("_thick_"), std::string::npos);
      EXPECT_EQ(WaitUntilReady(s.snapshot_id()), "");
      EXPECT_TRUE(DeleteSnapshot(s.snapshot_id()).ok());
    } else {
      EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
          << Str(status);
    }
  }
  ASSERT_EQ(WaitUntilReady(snap.snapshot_id()), "");
  EXPECT_EQ(CheckPattern(Dev(vg_, SnapLv(snap.snapshot_id())), 32 * kMiB, "id"),
            "");
  const std::string tags =
      Shell("lvm lvs --noheadings -o lv_name,lv_tags " + vg_);
  std::cerr << tags;
  EXPECT_TRUE(DeleteSnapshot(snap.snapshot_id()).ok());
  EXPECT_TRUE(DeleteVolume(vol).ok());
  EXPECT_EQ(CountLvs(vg_, "c"), 0) << Lvs();
}

}  // namespace
}  // namespace cellar
