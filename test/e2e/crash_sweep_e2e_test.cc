// The fault and crash sweep over real processes. The driver is the build
// with fault-injecting wrappers over the real platform
// (//test/e2e:cellar-csi-faulty): for each RPC of the lifecycle below and
// each N from 1 until the RPC makes fewer than N side effects, a driver
// started with --fault=fail-at:N fails its Nth side effect, and one started
// with --fault=crash-after:N makes it and then dies of SIGKILL at that
// instant. The RPC is then retried as kubelet or a sidecar would (the same
// request, a few times, against the restarted driver after a crash), and
// the world must be the one an undisturbed run has at the same step: the
// same mounts with the same options, loop devices, files, LVs and
// mappings, the data still there, no filesystem left frozen, and the same
// answer. Before the next N the step is undone by its inverse RPC. At the
// end nothing is left. Needs root; on the host it sweeps the loop class,
// inside the qemu guest (CELLAR_VM_VG set) LVM thin with LUKS and thick.
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
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

constexpr char kNodeId[] = "sweep-node";
constexpr char kKey[] = "sweep-key-sweep-key-sweep-key-0123456789";
constexpr char kData[] = "written before the sweep";
constexpr int kAttempts = 6;
constexpr int64_t kGrowStep = 16 * kMiB;

std::string Env(const char* name) {
  const char* value = getenv(name);
  return value == nullptr ? "" : value;
}

// CELLAR_SWEEP_MODES: "fail-at,crash-after" (the default), or one of them
// (the guest, where each run costs seconds of emulated LVM, sweeps
// crashes: failures are swept by the unit tier and on the host).
std::vector<std::string> Modes() {
  const std::string modes = Env("CELLAR_SWEEP_MODES");
  if (modes.empty()) return {"fail-at", "crash-after"};
  return absl::StrSplit(modes, ',');
}

struct Variant {
  std::string name;
  std::string classes;  // --device-classes; "" for the embedded loop default
  // xfs on the host: growing a mounted ext4 needs CAP_SYS_RESOURCE, which a
  // container's root may lack; the guest has it.
  std::string fs_type;  // "" for a block volume
  bool block = false;
  bool encrypted = false;
  bool lvm = false;
  int64_t size = 64 * kMiB;  // xfs needs 300 MiB at least
};

// The lifecycle's state the steps share, as a sidecar and kubelet keep it.
struct Ids {
  std::string volume, snapshot, restored, clone, group;
  int64_t size = 0;  // what the volume is (being) expanded to
};

class CrashSweepTest
    : public testing::BasicE2eFixture<::testing::TestWithParam<Variant>> {
 protected:
  CrashSweepTest() : Fixture("cellar-sweep") {}

  std::string SkipReason() override {
    std::string why = Fixture::SkipReason();
    const bool in_guest = !Env("CELLAR_VM_VG").empty();
    if (why.empty() && GetParam().lvm != in_guest) {
      why = GetParam().lvm ? "LVM runs inside the qemu guest of test/vm only"
                           : "the loop variants run on the host";
    }
    return why;
  }

  void SetUp() override {
    Fixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    classes_ = GetParam().classes;
    for (const auto& [from, to] :
         std::vector<std::pair<std::string, std::string>>{
             {"$VG", Env("CELLAR_VM_VG")},
             {"$POOL", Env("CELLAR_VM_THINPOOL")}}) {  // VG/POOL
      for (size_t at; (at = classes_.find(from)) != std::string::npos;) {
        classes_.replace(at, from.size(), to);
      }
    }
    ASSERT_EQ(system(("mkdir -p '" + Staging() + "'").c_str()), 0);
    Start("");
  }

  // What a failed LVM run left: its mounts, mappings and LVs.
  void RemoveLeftovers() override {
    if (!GetParam().lvm) return;
    testing::UnmountEverythingUnder(root_);
    Shell(
        "for m in /dev/mapper/cellar-*; do "
        "[ -e \"$m\" ] && dmsetup remove \"$(basename $m)\"; done; "
        "for lv in $(lvm lvs --noheadings -o lv_name " +
        Env("CELLAR_VM_VG") + "); do [ \"$lv\" = pool0 ] || lvm lvremove -y " +
        Env("CELLAR_VM_VG") + "/$lv; done >/dev/null 2>&1");
  }

  // (Re)starts the driver, killing the running one with SIGKILL first;
  // `fault` is "" or the --fault value.
  void Start(const std::string& fault) {
    std::vector<std::string> args = {"--node-id=" + std::string(kNodeId),
                                     "--reserve-bytes=0", "--log-level=debug"};
    if (!classes_.empty()) args.push_back("--device-classes=" + classes_);
    if (!fault.empty()) args.push_back("--fault=" + fault);
    StartDriver(args, absl::Seconds(90), testing::FaultyDriverBinaryPath());
    if (driver_ == nullptr) return;
    armed_ = !fault.empty();
    group_ = csi::v1::GroupController::NewStub(driver_->channel());
  }

  std::string Staging() const {
    return kubelet_ + "/plugins/kubernetes.io/csi/cellar/sweep/globalmount";
  }
  std::string Target() const {
    return kubelet_ + "/pods/pod-1/volumes/kubernetes.io~csi/sweep/mount";
  }
  csi::v1::VolumeCapability Cap() const {
    return testing::Capability(GetParam().fs_type, GetParam().block);
  }

  // ---------------------------------------------------------------- RPCs
  // Each returns its status and sets `answer` to what a caller keeps of a
  // success (times and readiness left out: they differ between runs).

  grpc::Status CreateVolume(const std::string& name,
                            const csi::v1::VolumeContentSource* source,
                            int64_t bytes, std::string* id,
                            std::string* answer) {
    csi::v1::CreateVolumeRequest request;
    request.set_name(name);
    *request.add_volume_capabilities() = Cap();
    request.mutable_capacity_range()->set_required_bytes(bytes);
    if (GetParam().encrypted)
      (*request.mutable_parameters())["encrypted"] = "true";
    if (source != nullptr) *request.mutable_volume_content_source() = *source;
    csi::v1::CreateVolumeResponse response;
    grpc::Status status =
        driver_->controller().CreateVolume(Context().get(), request, &response);
    if (status.ok()) {
      *id = response.volume().volume_id();
      // What it gave beyond the ask: the sizes asked differ between runs
      // (a clone's source grew by the sweep's expansions).
      *answer =
          absl::StrCat(*id, " +", response.volume().capacity_bytes() - bytes);
    }
    return status;
  }
  grpc::Status DeleteVolume(const std::string& id) {
    csi::v1::DeleteVolumeRequest request;
    request.set_volume_id(id);
    csi::v1::DeleteVolumeResponse response;
    return driver_->controller().DeleteVolume(Context().get(), request,
                                              &response);
  }
  grpc::Status Stage(const std::string& id) {
    csi::v1::NodeStageVolumeRequest request;
    request.set_volume_id(id);
    request.set_staging_target_path(Staging());
    *request.mutable_volume_capability() = Cap();
    if (GetParam().encrypted)
      (*request.mutable_secrets())["encryptionPassphrase"] = kKey;
    csi::v1::NodeStageVolumeResponse response;
    return driver_->node().NodeStageVolume(Context().get(), request, &response);
  }
  grpc::Status Unstage(const std::string& id) {
    csi::v1::NodeUnstageVolumeRequest request;
    request.set_volume_id(id);
    request.set_staging_target_path(Staging());
    csi::v1::NodeUnstageVolumeResponse response;
    return driver_->node().NodeUnstageVolume(Context().get(), request,
                                             &response);
  }
  grpc::Status Publish(const std::string& id) {
    csi::v1::NodePublishVolumeRequest request;
    request.set_volume_id(id);
    request.set_staging_target_path(Staging());
    request.set_target_path(Target());
    *request.mutable_volume_capability() = Cap();
    csi::v1::NodePublishVolumeResponse response;
    return driver_->node().NodePublishVolume(Context().get(), request,
                                             &response);
  }
  grpc::Status Unpublish(const std::string& id) {
    csi::v1::NodeUnpublishVolumeRequest request;
    request.set_volume_id(id);
    request.set_target_path(Target());
    csi::v1::NodeUnpublishVolumeResponse response;
    return driver_->node().NodeUnpublishVolume(Context().get(), request,
                                               &response);
  }
  grpc::Status CreateSnapshot(const std::string& volume, std::string* id,
                              std::string* answer) {
    csi::v1::CreateSnapshotRequest request;
    request.set_name("sweep-snap");
    request.set_source_volume_id(volume);
    csi::v1::CreateSnapshotResponse response;
    grpc::Status status = driver_->controller().CreateSnapshot(
        Context().get(), request, &response);
    if (status.ok()) {
      *id = response.snapshot().snapshot_id();
      *answer = absl::StrCat(*id, " ", response.snapshot().size_bytes(), " ",
                             response.snapshot().source_volume_id());
    }
    return status;
  }
  grpc::Status DeleteSnapshot(const std::string& id) {
    csi::v1::DeleteSnapshotRequest request;
    request.set_snapshot_id(id);
    csi::v1::DeleteSnapshotResponse response;
    return driver_->controller().DeleteSnapshot(Context().get(), request,
                                                &response);
  }
  grpc::Status ControllerExpand(const std::string& id, int64_t bytes,
                                std::string* answer) {
    csi::v1::ControllerExpandVolumeRequest request;
    request.set_volume_id(id);
    request.mutable_capacity_range()->set_required_bytes(bytes);
    *request.mutable_volume_capability() = Cap();
    csi::v1::ControllerExpandVolumeResponse response;
    grpc::Status status = driver_->controller().ControllerExpandVolume(
        Context().get(), request, &response);
    if (status.ok()) {
      *answer = absl::StrCat(response.capacity_bytes() - bytes, " ",
                             response.node_expansion_required());
    }
    return status;
  }
  grpc::Status NodeExpand(const std::string& id, int64_t bytes) {
    csi::v1::NodeExpandVolumeRequest request;
    request.set_volume_id(id);
    request.set_volume_path(Target());
    request.set_staging_target_path(Staging());
    request.mutable_capacity_range()->set_required_bytes(bytes);
    *request.mutable_volume_capability() = Cap();
    csi::v1::NodeExpandVolumeResponse response;
    return driver_->node().NodeExpandVolume(Context().get(), request,
                                            &response);
  }
  grpc::Status CreateGroup(const std::vector<std::string>& volumes,
                           std::string* id, std::string* answer) {
    csi::v1::CreateVolumeGroupSnapshotRequest request;
    request.set_name("sweep-group");
    for (const std::string& volume : volumes)
      request.add_source_volume_ids(volume);
    csi::v1::CreateVolumeGroupSnapshotResponse response;
    grpc::Status status =
        group_->CreateVolumeGroupSnapshot(Context().get(), request, &response);
    if (status.ok()) {
      *id = response.group_snapshot().group_snapshot_id();
      std::vector<std::string> members;
      for (const auto& member : response.group_snapshot().snapshots()) {
        members.push_back(member.snapshot_id());
      }
      std::sort(members.begin(), members.end());
      *answer = absl::StrCat(*id, " ", absl::StrJoin(members, ","));
    }
    return status;
  }
  grpc::Status DeleteGroup(const std::string& id) {
    csi::v1::DeleteVolumeGroupSnapshotRequest request;
    request.set_group_snapshot_id(id);
    csi::v1::DeleteVolumeGroupSnapshotResponse response;
    return group_->DeleteVolumeGroupSnapshot(Context().get(), request,
                                             &response);
  }

  // Thick snapshots copy in the background: waits until every snapshot is
  // ready and the copies' temporary COW snapshots are gone, so the world
  // is the same whenever it is looked at. Returns early, false, when the
  // driver died meanwhile (a fault armed in it hit the background copy).
  bool AwaitQuiet() {
    const absl::Time deadline = absl::Now() + absl::Minutes(5);
    while (absl::Now() < deadline) {
      if (driver_->Exited()) return false;
      csi::v1::ListSnapshotsRequest request;
      csi::v1::ListSnapshotsResponse response;
      grpc::Status status = driver_->controller().ListSnapshots(
          Context().get(), request, &response);
      bool quiet = status.ok();
      for (const auto& entry : response.entries()) {
        quiet = quiet && entry.snapshot().ready_to_use();
      }
      if (quiet && GetParam().lvm) {
        quiet = Shell(
                    "lvm lvs --noheadings -o lv_name 2>/dev/null | grep -c ' "
                    "ct-'") == "0\n";
      }
      if (quiet) return true;
      absl::SleepFor(absl::Milliseconds(500));
    }
    ADD_FAILURE() << "snapshots not ready after 5 minutes";
    return true;
  }

  // ------------------------------------------------------------ the world

  // What an undisturbed run and a disturbed one must agree on at a step.
  std::string World() {
    std::vector<std::string> parts;
    // Mounts under the scratch directory, with their options (a publish
    // that lost its flags after a crash shows here), and for each writable
    // filesystem whether a write still goes through (one left frozen hangs:
    // `timeout` says so).
    for (const MountEntry& mount : testing::MountTable()) {
      const std::string& path = mount.mount_point;
      if (path.rfind(root_ + "/", 0) != 0) continue;
      const std::string point = path.substr(root_.size());
      const std::string& options = mount.mount_options;
      parts.push_back(
          absl::StrCat("mount ", point, " ", options, " ", mount.fs_type));
      struct stat st;
      if (options.rfind("rw", 0) == 0 && stat(path.c_str(), &st) == 0 &&
          S_ISDIR(st.st_mode)) {
        // In the background: a write to a frozen filesystem sleeps
        // uninterruptibly until a thaw, which the probe then does itself,
        // so the test goes on to fail instead of hanging.
        const std::string m = "'" + path + "'";
        const std::string probe =
            Shell("(echo x > " + m + "/.probe && rm " + m +
                  "/.probe) & p=$!; "
                  "for i in $(seq 200); do kill -0 $p 2>/dev/null || break; "
                  "sleep 0.05; done; "
                  "if kill -0 $p 2>/dev/null; then fsfreeze -u " +
                  m +
                  "; wait; echo blocked; "
                  "else echo writable; fi");
        parts.push_back(absl::StrCat("  ", probe));
        std::ifstream data(path + "/data.txt");
        std::string content;
        std::getline(data, content);
        if (!content.empty()) parts.push_back("  data " + content);
      }
    }
    // Loop devices backed by files of the scratch directory.
    parts.push_back(Shell(
        "for f in /sys/block/loop*/loop/backing_file; do [ -e \"$f\" ] && "
        "grep -h '^" +
        root_ + "/' \"$f\" | sed 's|^" + root_ + "|loop |'; done | sort"));
    // The driver's files (records, images, the freeze journal).
    parts.push_back(Shell("cd '" + root_ +
                          "/data' && find . -mindepth 1 ! -name csi.sock "
                          "! -path ./frozen | sort"));
    if (GetParam().lvm) {
      // Every LV but the thin pool: volumes, snapshots, COW temporaries.
      // (Names only: a tag holds the record, with its creation time.)
      parts.push_back(Shell("lvm lvs --noheadings -o lv_name " +
                            Env("CELLAR_VM_VG") +
                            " 2>/dev/null | grep -v '^ *pool0 *$' | sort"));
      parts.push_back(Shell("ls /dev/mapper | grep '^cellar-' | sort"));
    }
    return absl::StrJoin(parts, "\n");
  }

  // ------------------------------------------------------------ the sweep

  struct Step {
    std::string name;
    // Runs before each attempt's driver is started with its fault (the
    // world the step starts from, for example a bigger LV to grow into).
    std::function<void()> prepare;
    std::function<grpc::Status(std::string* answer)> call;
    // Puts the world back as it was before the step (not for the last N).
    std::function<grpc::Status()> undo;
  };

  // The log of the faulted driver says whether its fault was injected.
  static bool Injected(const std::string& log) {
    return log.find("cellar-fault: ") != std::string::npos;
  }
  static std::string InjectedAt(const std::string& log) {
    const size_t at = log.find("cellar-fault: ");
    if (at == std::string::npos) return "";
    return log.substr(at + 14, log.find('\n', at) - at - 14);
  }

  // Runs `step` for every fault (or, with `sweep` false, once undisturbed)
  // and checks the world after each against `expected` (recorded by the
  // undisturbed run when empty).
  void RunStep(const Step& step, bool sweep, std::string* expected_world,
               std::string* expected_answer, std::vector<std::string>* points) {
    auto finish = [&](grpc::Status status, std::string answer,
                      const std::string& how) {
      for (int attempt = 0; !status.ok() && attempt < kAttempts; ++attempt) {
        EXPECT_NE(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
            << how << ": " << status.error_message();
        EXPECT_NE(status.error_code(), grpc::StatusCode::NOT_FOUND)
            << how << ": " << status.error_message();
        absl::SleepFor(absl::Milliseconds(300));
        status = step.call(&answer);
      }
      ASSERT_TRUE(status.ok()) << how << ": " << status.error_message();
      ASSERT_TRUE(AwaitQuiet()) << how << ": the driver died after answering";
      const std::string world = World();
      if (expected_world->empty()) {
        *expected_world = world;
        *expected_answer = answer;
        return;
      }
      EXPECT_EQ(world, *expected_world) << how;
      EXPECT_EQ(answer, *expected_answer) << how;
    };
    if (!sweep) {
      if (step.prepare) step.prepare();
      std::string answer;
      grpc::Status status = step.call(&answer);
      ASSERT_TRUE(status.ok()) << step.name << ": " << status.error_message();
      finish(status, answer, step.name);
      return;
    }
    for (const std::string& mode : Modes()) {
      for (int n = 1;; ++n) {
        if (step.prepare) {
          // On a driver without a fault: the prepare is not the step.
          if (armed_) ASSERT_NO_FATAL_FAILURE(Start(""));
          ASSERT_NO_FATAL_FAILURE(step.prepare());
          ASSERT_TRUE(AwaitQuiet())
              << step.name << ": the driver died preparing";
        }
        ASSERT_NO_FATAL_FAILURE(Start(absl::StrCat(mode, ":", n)));
        std::string answer;
        grpc::Status status = step.call(&answer);
        // The fault may hit a background copy the call started: what the
        // log says counts once the copies are done, or the driver is dead.
        if (status.ok()) (void)AwaitQuiet();
        const std::string log = driver_->ReadLog();
        const bool last = !Injected(log);
        const std::string how =
            last ? absl::StrCat(step.name, " undisturbed")
                 : absl::StrCat(step.name, ", ", InjectedAt(log));
        if (!last && mode == Modes().front())
          points->push_back(InjectedAt(log));
        if (!last && mode == "crash-after") {
          // Dead of its SIGKILL: what kubelet finds is a restarted driver.
          ASSERT_NO_FATAL_FAILURE(Start(""));
        }
        // A failure the driver swallowed and still answered OK: asked
        // again, it must give the undisturbed answer.
        if (!last && status.ok()) status = step.call(&answer);
        ASSERT_NO_FATAL_FAILURE(finish(status, answer, how));
        if (last && mode == Modes().back()) break;  // the step stays done
        // Its fault still armed, the undisturbed driver would fail the undo.
        if (last) ASSERT_NO_FATAL_FAILURE(Start(""));
        grpc::Status undone = step.undo();
        ASSERT_TRUE(undone.ok())
            << "undoing " << how << ": " << undone.error_message();
        // Copies the undo started (a group taken again) end before the
        // next driver is armed: their effects are not the step's.
        ASSERT_TRUE(AwaitQuiet()) << "undoing " << how << ": the driver died";
        if (last) break;
      }
    }
  }

  std::vector<Step> Lifecycle(Ids* ids) {
    std::vector<Step> steps;
    auto never = [] { return grpc::Status::OK; };
    steps.push_back({"CreateVolume", nullptr,
                     [=](std::string* answer) {
                       return CreateVolume("sweep-vol", nullptr,
                                           GetParam().size, &ids->volume,
                                           answer);
                     },
                     [=] { return DeleteVolume(ids->volume); }});
    steps.push_back({"NodeStageVolume", nullptr,
                     [=](std::string* answer) {
                       *answer = "staged";
                       return Stage(ids->volume);
                     },
                     // Back to a blank volume: a stage of a formatted one
                     // would skip the format and LUKS steps.
                     [=] {
                       grpc::Status status = Unstage(ids->volume);
                       if (status.ok()) status = DeleteVolume(ids->volume);
                       std::string ignored;
                       if (status.ok()) {
                         status =
                             CreateVolume("sweep-vol", nullptr, GetParam().size,
                                          &ids->volume, &ignored);
                       }
                       return status;
                     }});
    steps.push_back({"NodePublishVolume", nullptr,
                     [=](std::string* answer) {
                       *answer = "published";
                       grpc::Status status = Publish(ids->volume);
                       // The data the rest of the sweep must keep.
                       if (status.ok() && !GetParam().block) {
                         std::ofstream(Target() + "/data.txt") << kData << "\n";
                         sync();
                       }
                       return status;
                     },
                     [=] { return Unpublish(ids->volume); }});
    steps.push_back({"CreateSnapshot", nullptr,
                     [=](std::string* answer) {
                       return CreateSnapshot(ids->volume, &ids->snapshot,
                                             answer);
                     },
                     [=] { return DeleteSnapshot(ids->snapshot); }});
    // Growth cannot be undone: each attempt (prepare) grows by one more
    // step, and the answer compared is what the call gave beyond the ask.
    steps.push_back({"ControllerExpandVolume", [=] { ids->size += kGrowStep; },
                     [=](std::string* answer) {
                       return ControllerExpand(ids->volume, ids->size, answer);
                     },
                     never});
    steps.push_back(
        {"NodeExpandVolume",
         [=] {
           std::string ignored;
           size_before_ = PublishedSize();
           ids->size += kGrowStep;
           ASSERT_TRUE(ControllerExpand(ids->volume, ids->size, &ignored).ok());
         },
         [=](std::string* answer) {
           grpc::Status status = NodeExpand(ids->volume, ids->size);
           *answer = status.ok() && Grown() ? "grown" : "not grown";
           return status;
         },
         never});
    steps.push_back(
        {"CreateVolume(from snapshot)", nullptr,
         [=](std::string* answer) {
           csi::v1::VolumeContentSource source;
           source.mutable_snapshot()->set_snapshot_id(ids->snapshot);
           return CreateVolume("sweep-restored", &source, GetParam().size,
                               &ids->restored, answer);
         },
         [=] { return DeleteVolume(ids->restored); }});
    steps.push_back({"CreateVolume(clone)", nullptr,
                     [=](std::string* answer) {
                       csi::v1::VolumeContentSource source;
                       source.mutable_volume()->set_volume_id(ids->volume);
                       return CreateVolume("sweep-clone", &source, ids->size,
                                           &ids->clone, answer);
                     },
                     [=] { return DeleteVolume(ids->clone); }});
    steps.push_back(
        {"CreateVolumeGroupSnapshot", nullptr,
         [=](std::string* answer) {
           return CreateGroup({ids->volume, ids->clone}, &ids->group, answer);
         },
         [=] { return DeleteGroup(ids->group); }});
    steps.push_back(
        {"DeleteVolumeGroupSnapshot", nullptr,
         [=](std::string* answer) {
           *answer = "deleted";
           return DeleteGroup(ids->group);
         },
         [=] {
           std::string ignored;
           return CreateGroup({ids->volume, ids->clone}, &ids->group, &ignored);
         }});
    steps.push_back({"NodeUnpublishVolume", nullptr,
                     [=](std::string* answer) {
                       *answer = "unpublished";
                       return Unpublish(ids->volume);
                     },
                     [=] { return Publish(ids->volume); }});
    steps.push_back({"NodeUnstageVolume", nullptr,
                     [=](std::string* answer) {
                       *answer = "unstaged";
                       return Unstage(ids->volume);
                     },
                     [=] { return Stage(ids->volume); }});
    steps.push_back({"DeleteVolume(clone)", nullptr,
                     [=](std::string* answer) {
                       *answer = "deleted";
                       return DeleteVolume(ids->clone);
                     },
                     [=] {
                       std::string ignored;
                       csi::v1::VolumeContentSource source;
                       source.mutable_volume()->set_volume_id(ids->volume);
                       return CreateVolume("sweep-clone", &source, ids->size,
                                           &ids->clone, &ignored);
                     }});
    steps.push_back(
        {"DeleteVolume(from snapshot)", nullptr,
         [=](std::string* answer) {
           *answer = "deleted";
           return DeleteVolume(ids->restored);
         },
         [=] {
           std::string ignored;
           csi::v1::VolumeContentSource source;
           source.mutable_snapshot()->set_snapshot_id(ids->snapshot);
           return CreateVolume("sweep-restored", &source, GetParam().size,
                               &ids->restored, &ignored);
         }});
    steps.push_back({"DeleteSnapshot", nullptr,
                     [=](std::string* answer) {
                       *answer = "deleted";
                       return DeleteSnapshot(ids->snapshot);
                     },
                     [=] {
                       std::string ignored;
                       return CreateSnapshot(ids->volume, &ids->snapshot,
                                             &ignored);
                     }});
    steps.push_back({"DeleteVolume", nullptr,
                     [=](std::string* answer) {
                       *answer = "deleted";
                       return DeleteVolume(ids->volume);
                     },
                     [=] {
                       std::string ignored;
                       return CreateVolume("sweep-vol", nullptr,
                                           GetParam().size, &ids->volume,
                                           &ignored);
                     }});
    return steps;
  }

  // The published volume's size: its block device's, or its filesystem's.
  double PublishedSize() {
    if (GetParam().block) return static_cast<double>(BlockDeviceSize(Target()));
    struct statvfs st;
    if (statvfs(Target().c_str(), &st) != 0) return 0;
    return static_cast<double>(st.f_blocks) * st.f_frsize;
  }
  // Whether it grew by the step NodeExpandVolume's prepare asked for.
  bool Grown() { return PublishedSize() >= size_before_ + 0.75 * kGrowStep; }

  std::string classes_;
  std::unique_ptr<csi::v1::GroupController::Stub> group_;
  Ids ids_;
  double size_before_ = 0;  // PublishedSize before a node expansion
  bool armed_ = false;      // the running driver was started with a fault
};

TEST_P(CrashSweepTest, EveryFailureAndCrashConverges) {
  // First undisturbed, recording the world after each step; then again
  // with every fault, compared against it.
  const std::string initial = World();
  std::vector<std::string> worlds, answers;
  {
    ids_ = Ids{};
    ids_.size = GetParam().size;
    std::vector<Step> steps = Lifecycle(&ids_);
    worlds.resize(steps.size());
    answers.resize(steps.size());
    for (size_t i = 0; i < steps.size(); ++i) {
      SCOPED_TRACE(steps[i].name);
      ASSERT_NO_FATAL_FAILURE(
          RunStep(steps[i], false, &worlds[i], &answers[i], nullptr));
    }
  }
  // Nothing left but the freeze journal's empty directory.
  ASSERT_EQ(World(), initial) << "after the undisturbed lifecycle";
  ids_ = Ids{};
  ids_.size = GetParam().size;
  std::vector<Step> steps = Lifecycle(&ids_);
  std::vector<std::vector<std::string>> points(steps.size());
  int runs = 0;
  for (size_t i = 0; i < steps.size(); ++i) {
    SCOPED_TRACE(steps[i].name);
    // Growth compares what it gave beyond the ask, not the sizes.
    ASSERT_NO_FATAL_FAILURE(
        RunStep(steps[i], true, &worlds[i], &answers[i], &points[i]));
    runs += static_cast<int>(Modes().size() * (points[i].size() + 1));
  }
  EXPECT_EQ(World(), initial) << "after the sweep";
  // Every RPC of the lifecycle makes side effects: none swept means the
  // faults were never armed, not that there was nothing to sweep.
  for (size_t i = 0; i < steps.size(); ++i) {
    EXPECT_FALSE(points[i].empty())
        << steps[i].name << ": no side effect was swept";
  }
  std::cout << GetParam().name << ": " << runs << " runs of the real binary;";
  int total = 0;
  for (size_t i = 0; i < steps.size(); ++i) {
    total += static_cast<int>(points[i].size());
    std::cout << "\n  " << steps[i].name << ": " << points[i].size()
              << " side effects (" << absl::StrJoin(points[i], "; ") << ")";
  }
  std::cout << "\n  " << total << " side effects, each swept by "
            << absl::StrJoin(Modes(), " and ") << "\n";
}

INSTANTIATE_TEST_SUITE_P(
    Variants, CrashSweepTest,
    ::testing::Values(Variant{"LoopXfs", "", "xfs", false, false, false,
                              320 * kMiB},
                      Variant{"LoopBlock", "", "", true},
                      Variant{"ThinEncryptedExt4", "default=lvm-thin:$POOL",
                              "ext4", false, true, true},
                      Variant{"ThickExt4", "default=lvm:$VG?reserve=0", "ext4",
                              false, false, true}),
    [](const ::testing::TestParamInfo<Variant>& info) {
      return info.param.name;
    });

}  // namespace
}  // namespace cellar
