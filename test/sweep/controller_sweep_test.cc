// The fault sweep of the Controller and GroupController services: for each
// device class kind and each RPC of the lifecycle below, every side effect
// the RPC makes fails once (FaultPlan kFailAt N) and, separately, the
// driver "dies" after it (kCrashAfter N, then new services over the same
// fakes, as a restarted driver finds the system). The RPC is retried as a
// sidecar would; the lifecycle is finished; then the world must be clean
// and every answer the same as an undisturbed run's. A side effect added to
// an RPC is covered without anyone listing it: the sweep counts them.
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "src/backend/loop/loop_backend.h"
#include "src/backend/lvm/lvm_backend.h"
#include "src/common/units.h"
#include "src/controller/controller_service.h"
#include "src/controller/group_controller_service.h"
#include "test/fakes/fake_block_copier.h"
#include "test/fakes/fake_command_runner.h"
#include "test/fakes/fake_filesystem.h"
#include "test/fakes/fake_loop_device.h"
#include "test/fakes/fake_lvm.h"
#include "test/fakes/fault_injection.h"

namespace cellar {
namespace {

constexpr char kNode[] = "node-1";
constexpr char kDir[] = "/data/loop";
constexpr int kRetries = 5;

enum class Kind { kLoop, kThin, kThick };
const char* KindName(Kind kind) {
  return kind == Kind::kLoop   ? "loop"
         : kind == Kind::kThin ? "lvm-thin"
                               : "lvm";
}

// What outlives a driver process: files, LVs (and the fault plan).
struct World {
  explicit World(Kind kind) : kind(kind) {
    EXPECT_TRUE(fs.MakeDirs(kDir, 0700).ok());
    FsStats stats;
    stats.total_bytes = 100 * kGiB;
    stats.free_bytes = stats.available_bytes = 50 * kGiB;
    fs.SetFsStats(stats);
    lvm.AddVg("vg0", 20 * kGiB);
    lvm.AddThinPool("vg0", "pool0", 4 * kGiB);
    runner.SetHandler("lvm", lvm.Handler());
    runner.SetHandler("blkdiscard", lvm.BlkdiscardHandler());
  }

  // Everything a finished lifecycle must leave behind: nothing.
  std::string Leftovers() {
    if (kind == Kind::kLoop) {
      absl::StatusOr<std::vector<std::string>> names = fs.ListDir(kDir);
      return names.ok() ? absl::StrJoin(*names, ",") : "unreadable";
    }
    std::vector<std::string> lvs = lvm.LvNames("vg0");
    lvs.erase(std::remove(lvs.begin(), lvs.end(), "pool0"), lvs.end());
    return absl::StrJoin(lvs, ",");
  }

  const Kind kind;
  FakeFileSystem fs;
  FakeLoopDevices loops;
  FakeCommandRunner runner;
  FakeBlockCopier copier;
  testing::FakeLvm lvm;
  FaultPlan plan;
  FaultyFileSystem faulty_fs{&fs, &plan};
  FaultyLoopDevices faulty_loops{&loops, &plan};
  FaultyCommandRunner faulty_runner{&runner, &plan};
  FaultyBlockCopier faulty_copier{&copier, &plan};
};

// What a driver process holds; built again after a "crash".
struct Driver {
  explicit Driver(World* world) {
    if (world->kind == Kind::kLoop) {
      backend = std::make_unique<LoopBackend>(LoopBackendConfig{kDir, kGiB, 0},
                                              &world->faulty_fs,
                                              &world->faulty_loops);
    } else {
      LvmBackendConfig config;
      config.vg = "vg0";
      if (world->kind == Kind::kThin) {
        config.thin_pool = "pool0";
        config.overprovision = 2.0;
      }
      config.reserve_bytes = 0;
      config.copy_retry_after = absl::ZeroDuration();  // retried at once
      auto lvm = std::make_unique<LvmBackend>(config, &world->faulty_runner,
                                              &world->faulty_fs,
                                              &world->faulty_copier);
      // As main does at start: copies a stopped driver left carry on.
      (void)lvm->ResumeCopies();
      thick = world->kind == Kind::kThick ? lvm.get() : nullptr;
      backend = std::move(lvm);
    }
    ControllerConfig config;
    config.node_id = kNode;
    config.default_volume_bytes = kGiB;
    config.default_class = "c";
    controller = std::make_unique<ControllerService>(
        config, std::map<std::string, Backend*>{{"c", backend.get()}}, &locks);
    group = std::make_unique<GroupControllerService>(kNode, controller.get());
  }
  std::unique_ptr<Backend> backend;
  LvmBackend* thick = nullptr;  // thick LVM: copies run in the background
  VolumeLocks locks;
  std::unique_ptr<ControllerService> controller;
  std::unique_ptr<GroupControllerService> group;
};

// Ids the steps hand on to later ones.
struct Ids {
  std::string volume, snapshot, restored, clone, group;
  std::vector<std::string> members;  // of the group
};

// Thick snapshots copy in the background: waits until no copy into the
// step's snapshots runs, so the next step (and the count of side effects)
// does not race them.
void Settle(Driver& d, const Ids& ids) {
  if (d.thick == nullptr) return;
  std::vector<std::string> snapshots = ids.members;
  snapshots.push_back(ids.snapshot);
  for (const std::string& id : snapshots) {
    if (!id.empty()) d.thick->WaitForCopy(id, absl::Seconds(30));
  }
}

// One RPC of the lifecycle: it calls the service and returns its status and
// its answer with what may differ between runs (times) cleared.
struct Step {
  std::string name;
  std::function<grpc::Status(Driver&, Ids&, std::string* answer)> call;
};

csi::v1::VolumeCapability Cap() {
  csi::v1::VolumeCapability cap;
  cap.mutable_mount()->set_fs_type("ext4");
  cap.mutable_access_mode()->set_mode(
      csi::v1::VolumeCapability::AccessMode::SINGLE_NODE_WRITER);
  return cap;
}

csi::v1::CreateVolumeRequest CreateRequest(const std::string& name) {
  csi::v1::CreateVolumeRequest request;
  request.set_name(name);
  *request.add_volume_capabilities() = Cap();
  request.mutable_capacity_range()->set_required_bytes(96 * kMiB);
  return request;
}

grpc::Status CreateVolume(Driver& d,
                          const csi::v1::CreateVolumeRequest& request,
                          std::string* id, std::string* answer) {
  csi::v1::CreateVolumeResponse response;
  grpc::Status status =
      d.controller->CreateVolume(nullptr, &request, &response);
  if (status.ok()) *id = response.volume().volume_id();
  *answer = response.ShortDebugString();
  return status;
}

grpc::Status DeleteVolume(Driver& d, const std::string& id,
                          std::string* answer) {
  csi::v1::DeleteVolumeRequest request;
  request.set_volume_id(id);
  csi::v1::DeleteVolumeResponse response;
  *answer = "";
  return d.controller->DeleteVolume(nullptr, &request, &response);
}

std::vector<Step> Lifecycle() {
  std::vector<Step> steps;
  steps.push_back(
      {"CreateVolume", [](Driver& d, Ids& ids, std::string* answer) {
         csi::v1::CreateVolumeRequest request = CreateRequest("vol");
         request.mutable_capacity_range()->set_required_bytes(64 * kMiB);
         return CreateVolume(d, request, &ids.volume, answer);
       }});
  steps.push_back(
      {"ControllerExpandVolume", [](Driver& d, Ids& ids, std::string* answer) {
         csi::v1::ControllerExpandVolumeRequest request;
         request.set_volume_id(ids.volume);
         request.mutable_capacity_range()->set_required_bytes(96 * kMiB);
         *request.mutable_volume_capability() = Cap();
         csi::v1::ControllerExpandVolumeResponse response;
         grpc::Status status =
             d.controller->ControllerExpandVolume(nullptr, &request, &response);
         *answer = response.ShortDebugString();
         return status;
       }});
  steps.push_back(
      {"CreateSnapshot", [](Driver& d, Ids& ids, std::string* answer) {
         csi::v1::CreateSnapshotRequest request;
         request.set_name("snap");
         request.set_source_volume_id(ids.volume);
         csi::v1::CreateSnapshotResponse response;
         grpc::Status status =
             d.controller->CreateSnapshot(nullptr, &request, &response);
         if (status.ok()) ids.snapshot = response.snapshot().snapshot_id();
         response.mutable_snapshot()->clear_creation_time();
         // Thick: ready once its background copy is done, which
         // a retry may find already.
         response.mutable_snapshot()->clear_ready_to_use();
         *answer = response.ShortDebugString();
         return status;
       }});
  steps.push_back({"CreateVolume(from snapshot)",
                   [](Driver& d, Ids& ids, std::string* answer) {
                     csi::v1::CreateVolumeRequest request =
                         CreateRequest("restored");
                     request.mutable_volume_content_source()
                         ->mutable_snapshot()
                         ->set_snapshot_id(ids.snapshot);
                     return CreateVolume(d, request, &ids.restored, answer);
                   }});
  steps.push_back(
      {"CreateVolume(clone)", [](Driver& d, Ids& ids, std::string* answer) {
         csi::v1::CreateVolumeRequest request = CreateRequest("clone");
         request.mutable_volume_content_source()
             ->mutable_volume()
             ->set_volume_id(ids.volume);
         return CreateVolume(d, request, &ids.clone, answer);
       }});
  steps.push_back(
      {"CreateVolumeGroupSnapshot",
       [](Driver& d, Ids& ids, std::string* answer) {
         csi::v1::CreateVolumeGroupSnapshotRequest request;
         request.set_name("group");
         request.add_source_volume_ids(ids.volume);
         request.add_source_volume_ids(ids.clone);
         csi::v1::CreateVolumeGroupSnapshotResponse response;
         grpc::Status status =
             d.group->CreateVolumeGroupSnapshot(nullptr, &request, &response);
         if (status.ok()) {
           ids.group = response.group_snapshot().group_snapshot_id();
           ids.members.clear();
           for (const auto& member : response.group_snapshot().snapshots()) {
             ids.members.push_back(member.snapshot_id());
           }
         }
         response.mutable_group_snapshot()->clear_creation_time();
         response.mutable_group_snapshot()->clear_ready_to_use();
         for (auto& member :
              *response.mutable_group_snapshot()->mutable_snapshots()) {
           member.clear_creation_time();
           member.clear_ready_to_use();
         }
         *answer = response.ShortDebugString();
         return status;
       }});
  steps.push_back({"DeleteVolumeGroupSnapshot",
                   [](Driver& d, Ids& ids, std::string* answer) {
                     csi::v1::DeleteVolumeGroupSnapshotRequest request;
                     request.set_group_snapshot_id(ids.group);
                     // As csi-snapshotter sends it: with the members' ids.
                     for (const std::string& id : ids.members)
                       request.add_snapshot_ids(id);
                     csi::v1::DeleteVolumeGroupSnapshotResponse response;
                     *answer = "";
                     return d.group->DeleteVolumeGroupSnapshot(
                         nullptr, &request, &response);
                   }});
  steps.push_back(
      {"DeleteSnapshot", [](Driver& d, Ids& ids, std::string* answer) {
         csi::v1::DeleteSnapshotRequest request;
         request.set_snapshot_id(ids.snapshot);
         csi::v1::DeleteSnapshotResponse response;
         *answer = "";
         return d.controller->DeleteSnapshot(nullptr, &request, &response);
       }});
  steps.push_back(
      {"DeleteVolume(restored)", [](Driver& d, Ids& ids, std::string* answer) {
         return DeleteVolume(d, ids.restored, answer);
       }});
  steps.push_back(
      {"DeleteVolume(clone)", [](Driver& d, Ids& ids, std::string* answer) {
         return DeleteVolume(d, ids.clone, answer);
       }});
  steps.push_back(
      {"DeleteVolume", [](Driver& d, Ids& ids, std::string* answer) {
         return DeleteVolume(d, ids.volume, answer);
       }});
  return steps;
}

bool IsUnavailable(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE;
}

class ControllerSweepTest : public ::testing::TestWithParam<Kind> {};

TEST_P(ControllerSweepTest, EveryFailureAndCrashConverges) {
  const std::vector<Step> steps = Lifecycle();
  // The undisturbed run: each step's answer and how many side effects it made.
  std::vector<std::string> answers(steps.size());
  std::vector<int> effects(steps.size());
  {
    World world(GetParam());
    Driver driver(&world);
    Ids ids;
    for (size_t i = 0; i < steps.size(); ++i) {
      world.plan.Arm(FaultPlan::Mode::kNone, 0);
      grpc::Status status = steps[i].call(driver, ids, &answers[i]);
      ASSERT_TRUE(status.ok())
          << steps[i].name << ": " << status.error_message();
      Settle(driver, ids);
      effects[i] = world.plan.count();
    }
    ASSERT_EQ(world.Leftovers(), "");
  }

  int runs = 0;
  for (size_t i = 0; i < steps.size(); ++i) {
    for (FaultPlan::Mode mode :
         {FaultPlan::Mode::kFailAt, FaultPlan::Mode::kCrashAfter}) {
      const char* how =
          mode == FaultPlan::Mode::kFailAt ? "fail at" : "crash after";
      for (int n = 1; n <= effects[i]; ++n) {
        SCOPED_TRACE(absl::StrCat(KindName(GetParam()), ": ", steps[i].name,
                                  ", ", how, " side effect ", n));
        ++runs;
        World world(GetParam());
        auto driver = std::make_unique<Driver>(&world);
        Ids ids;
        std::string answer;
        for (size_t j = 0; j < i; ++j) {
          ASSERT_TRUE(steps[j].call(*driver, ids, &answer).ok())
              << steps[j].name;
          Settle(*driver, ids);
        }
        world.plan.Arm(mode, n);
        const std::vector<std::string> before_effects = world.plan.effects();
        grpc::Status first = steps[i].call(*driver, ids, &answer);
        Settle(*driver, ids);  // a fault may hit the background copy
        const std::string what =
            n <= static_cast<int>(world.plan.effects().size())
                ? world.plan.effects()[n - 1]
                : "?";
        if (mode == FaultPlan::Mode::kCrashAfter) {
          // The restart: the dead driver gone, a new one over the same
          // world, whose start-up repairs run for real.
          driver.reset();
          world.plan.Disarm();
          driver = std::make_unique<Driver>(&world);
        } else if (first.ok()) {
          // The injected failure was absorbed: fine only if the call's
          // effect is complete, which the answer and the rest tell.
          EXPECT_EQ(answer, answers[i]) << "absorbed failure of " << what;
        }
        world.plan.Disarm();
        if (!first.ok()) {
          EXPECT_NE(first.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
              << "a retryable failure (" << what
              << ") reads as bad input: " << first.error_message();
        }
        grpc::Status retried = first;
        for (int attempt = 0;
             attempt < kRetries && !(mode == FaultPlan::Mode::kFailAt &&
                                     retried.ok() && attempt == 0);
             ++attempt) {
          retried = steps[i].call(*driver, ids, &answer);
          Settle(*driver, ids);
          if (retried.ok()) break;
          EXPECT_NE(retried.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
              << retried.error_message();
        }
        ASSERT_TRUE(retried.ok())
            << "after " << what << ": " << retried.error_message();
        EXPECT_EQ(answer, answers[i])
            << "the retried answer differs (after " << what << ")";
        for (size_t j = i + 1; j < steps.size(); ++j) {
          grpc::Status status = steps[j].call(*driver, ids, &answer);
          // A snapshot whose background copy was disturbed finishes on
          // the next look at it (thick): its users see UNAVAILABLE until.
          for (int wait = 0; wait < kRetries && IsUnavailable(status); ++wait) {
            Settle(*driver, ids);
            status = steps[j].call(*driver, ids, &answer);
          }
          Settle(*driver, ids);
          ASSERT_TRUE(status.ok()) << steps[j].name << " after " << what << ": "
                                   << status.error_message();
          EXPECT_EQ(answer, answers[j]) << steps[j].name << " after " << what;
        }
        EXPECT_EQ(world.Leftovers(), "") << "left behind after " << what;
        (void)before_effects;
      }
    }
  }
  std::cout << KindName(GetParam()) << ": " << runs << " runs;";
  for (size_t i = 0; i < steps.size(); ++i) {
    std::cout << " " << steps[i].name << " " << effects[i];
  }
  std::cout << " side effects\n";
}

INSTANTIATE_TEST_SUITE_P(Kinds, ControllerSweepTest,
                         ::testing::Values(Kind::kLoop, Kind::kThin,
                                           Kind::kThick),
                         [](const ::testing::TestParamInfo<Kind>& info) {
                           return info.param == Kind::kLoop
                                      ? std::string("Loop")
                                  : info.param == Kind::kThin
                                      ? std::string("Thin")
                                      : std::string("Thick");
                         });

}  // namespace
}  // namespace cellar
