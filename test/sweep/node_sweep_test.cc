// The fault sweep of the Node service over a loop volume (filesystem and
// block, plain and encrypted): stage, publish (read-write and read-only),
// expand, unpublish and unstage, with every side effect failing once and
// the driver crashing after each (new services over the same fakes), each
// RPC retried as kubelet would; then the volume is deleted and nothing may
// be left: no mount, loop device, mapping, image or target, and the volume
// was formatted exactly once.
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "src/backend/loop/loop_backend.h"
#include "src/backend/lvm/lvm_backend.h"
#include "src/common/ids.h"
#include "src/common/units.h"
#include "src/controller/controller_service.h"
#include "src/node/node_service.h"
#include "test/fakes/fake_block_copier.h"
#include "test/fakes/fake_command_runner.h"
#include "test/fakes/fake_crypt_devices.h"
#include "test/fakes/fake_filesystem.h"
#include "test/fakes/fake_fs_tools.h"
#include "test/fakes/fake_loop_device.h"
#include "test/fakes/fake_lvm.h"
#include "test/fakes/fake_mounter.h"
#include "test/fakes/fault_injection.h"

namespace cellar {
namespace {

constexpr char kNode[] = "node-1";
constexpr char kDir[] = "/data/loop";
constexpr char kKubelet[] = "/var/lib/kubelet";
constexpr char kFreezeJournal[] = "/data/frozen";
constexpr char kStaging[] =
    "/var/lib/kubelet/plugins/kubernetes.io/csi/cellar/vol/globalmount";
constexpr char kTarget[] =
    "/var/lib/kubelet/pods/uid-1/volumes/kubernetes.io~csi/pvc/mount";
constexpr char kReadOnlyTarget[] =
    "/var/lib/kubelet/pods/uid-2/volumes/kubernetes.io~csi/pvc/mount";
constexpr char kKey[] = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=";
constexpr int kRetries = 5;

// The fake loop devices know images only when told: this keeps them in
// step with the fake filesystem the backend writes images to.
class SyncedLoopDevices final : public LoopDevices {
 public:
  SyncedLoopDevices(FakeLoopDevices* loops, FakeFileSystem* fs)
      : loops_(loops), fs_(fs) {}
  absl::StatusOr<std::string> Attach(const std::string& image) override {
    Sync(image);
    return loops_->Attach(image);
  }
  absl::StatusOr<std::string> AttachReadOnly(const std::string& path) override {
    Sync(path);
    return loops_->AttachReadOnly(path);
  }
  absl::Status Detach(const std::string& device) override {
    return loops_->Detach(device);
  }
  absl::StatusOr<std::vector<LoopInfo>> List() override {
    absl::StatusOr<std::vector<LoopInfo>> list = loops_->List();
    if (!list.ok()) return list;
    for (const LoopInfo& info : *list) {
      if (!fs_->Stat(info.backing_file).ok())
        loops_->RemoveImage(info.backing_file);
    }
    return loops_->List();
  }
  absl::Status RefreshCapacity(const std::string& device) override {
    absl::StatusOr<std::vector<LoopInfo>> list = loops_->List();
    if (list.ok()) {
      for (const LoopInfo& info : *list) {
        if (info.device == device) Sync(info.backing_file);
      }
    }
    return loops_->RefreshCapacity(device);
  }

 private:
  void Sync(const std::string& path) {
    absl::StatusOr<FileInfo> info = fs_->Stat(path);
    if (info.ok() && info->type == FileType::kRegular) {
      loops_->SetImageSize(path, info->size);
    } else if (info.ok() && info->type == FileType::kBlockDevice) {
      loops_->SetImageSize(path,
                           128 * kMiB);  // a mapping, for a read-only view
    }
  }
  FakeLoopDevices* const loops_;
  FakeFileSystem* const fs_;
};

// The fake crypt devices hand out /dev/mapper paths the fake filesystem
// does not have: an opened mapping gets its device node there, as
// libdevmapper makes it.
class SyncedCryptDevices final : public CryptDevices {
 public:
  SyncedCryptDevices(FakeCryptDevices* crypt, FakeFileSystem* fs)
      : crypt_(crypt), fs_(fs) {}
  absl::StatusOr<LuksState> Inspect(const std::string& device) override {
    return crypt_->Inspect(device);
  }
  absl::Status Format(const std::string& device,
                      const SecretBytes& passphrase) override {
    return crypt_->Format(device, passphrase);
  }
  absl::StatusOr<std::string> Open(const std::string& device,
                                   const std::string& name,
                                   const SecretBytes& passphrase) override {
    absl::StatusOr<std::string> path = crypt_->Open(device, name, passphrase);
    if (path.ok() && !fs_->Stat(*path).ok()) fs_->AddDevice(*path, 253u << 8);
    return path;
  }
  absl::StatusOr<std::string> Backing(const std::string& name) override {
    return crypt_->Backing(name);
  }
  absl::Status Close(const std::string& name) override {
    absl::Status closed = crypt_->Close(name);
    if (closed.ok()) (void)fs_->Remove("/dev/mapper/" + name);
    return closed;
  }
  absl::Status Resize(const std::string& name) override {
    return crypt_->Resize(name);
  }

 private:
  FakeCryptDevices* const crypt_;
  FakeFileSystem* const fs_;
};

// The fake lvm knows LVs, the fake filesystem device nodes: after each lvm
// command every active LV of vg0 has /dev/vg0/LV -> /dev/dm-N, as udev or
// libdevmapper make them, and a removed or deactivated one has none.
class SyncedLvmRunner final : public CommandRunner {
 public:
  SyncedLvmRunner(CommandRunner* base, testing::FakeLvm* lvm,
                  FakeFileSystem* fs)
      : base_(base), lvm_(lvm), fs_(fs) {}
  absl::StatusOr<CommandResult> Run(const Command& command) override {
    absl::StatusOr<CommandResult> result = base_->Run(command);
    Sync();
    return result;
  }

 private:
  void Sync() {
    (void)fs_->MakeDirs("/dev/vg0", 0755);
    std::set<std::string> active;
    for (const std::string& lv : lvm_->LvNames("vg0")) {
      if (lvm_->GetLv("vg0", lv).active) active.insert(lv);
    }
    for (const std::string& lv : active) {
      if (minors_.count(lv) == 0) minors_[lv] = next_minor_++;
      const std::string node = "/dev/dm-" + std::to_string(minors_[lv]);
      if (!fs_->Stat(node).ok())
        fs_->AddDevice(node, (253u << 8) | minors_[lv]);
      if (!fs_->Stat("/dev/vg0/" + lv).ok())
        fs_->AddSymlink("/dev/vg0/" + lv, node);
    }
    for (const auto& [lv, minor] : minors_) {
      if (active.count(lv) == 0) (void)fs_->Remove("/dev/vg0/" + lv);
    }
  }
  CommandRunner* const base_;
  testing::FakeLvm* const lvm_;
  FakeFileSystem* const fs_;
  std::map<std::string, int> minors_;
  int next_minor_ = 1;
};

enum class Kind { kLoop, kThin, kThick };

struct Variant {
  const char* name;
  bool block;
  bool encrypted;
  Kind kind = Kind::kLoop;
};

struct World {
  World() {
    EXPECT_TRUE(fs.MakeDirs(kDir, 0700).ok());
    EXPECT_TRUE(fs.MakeDirs(kKubelet, 0700).ok());
    FsStats stats;
    stats.total_bytes = 100 * kGiB;
    stats.free_bytes = stats.available_bytes = 50 * kGiB;
    fs.SetFsStats(stats);
    for (int i = 0; i < 16; ++i) {
      fs.AddDevice("/dev/loop" + std::to_string(i), (7u << 8) | i);
    }
    lvm.AddVg("vg0", 20 * kGiB);
    lvm.AddThinPool("vg0", "pool0", 4 * kGiB);
    fake_runner.SetHandler("lvm", lvm.Handler());
    fake_runner.SetHandler("blkdiscard", lvm.BlkdiscardHandler());
  }
  FakeFileSystem fs;
  FakeLoopDevices fake_loops;
  SyncedLoopDevices loops{&fake_loops, &fs};
  FakeMounter mounter;
  FakeFsTools fs_tools;
  FakeCryptDevices fake_crypt;
  SyncedCryptDevices crypt{&fake_crypt, &fs};
  testing::FakeLvm lvm;
  FakeCommandRunner fake_runner;
  SyncedLvmRunner runner{&fake_runner, &lvm, &fs};
  FakeBlockCopier copier;
  FaultPlan plan;
  FaultyCommandRunner faulty_runner{&runner, &plan};
  FaultyBlockCopier faulty_copier{&copier, &plan};
  FaultyFileSystem faulty_fs{&fs, &plan};
  FaultyLoopDevices faulty_loops{&loops, &plan};
  FaultyMounter faulty_mounter{&mounter, &plan};
  FaultyFsTools faulty_fs_tools{&fs_tools, &plan};
  FaultyCryptDevices faulty_crypt{&crypt, &plan};
};

std::unique_ptr<Backend> MakeBackend(World* w, Kind kind) {
  if (kind == Kind::kLoop) {
    return std::make_unique<LoopBackend>(LoopBackendConfig{kDir, 0, 0},
                                         &w->faulty_fs, &w->faulty_loops);
  }
  LvmBackendConfig config;
  config.vg = "vg0";
  if (kind == Kind::kThin) {
    config.thin_pool = "pool0";
    config.overprovision = 2.0;
  }
  config.copy_retry_after = absl::ZeroDuration();  // retried at once
  auto lvm = std::make_unique<LvmBackend>(config, &w->faulty_runner,
                                          &w->faulty_fs, &w->faulty_copier);
  // As main does at start.
  (void)lvm->ActivateAll();
  (void)lvm->ResumeCopies();
  return lvm;
}

struct Driver {
  Driver(World* w, Kind kind)
      : backend(MakeBackend(w, kind)),
        freezer(FreezerDeps{&w->faulty_mounter, &w->faulty_fs_tools,
                            &w->faulty_fs, kFreezeJournal}),
        controller(Config(), {{"c", backend.get()}}, &locks, &freezer),
        node(NodeConfig{kNode, kKubelet, 0},
             NodeDeps{&w->faulty_fs, &w->faulty_mounter, &w->faulty_fs_tools,
                      &w->faulty_loops, &w->faulty_crypt, nullptr},
             {{"c", backend.get()}}, &locks) {
    (void)freezer.ThawLeftovers();  // as main does at start
  }
  static ControllerConfig Config() {
    ControllerConfig config;
    config.node_id = kNode;
    config.default_class = "c";
    return config;
  }
  std::unique_ptr<Backend> backend;
  VolumeLocks locks;
  Freezer freezer;
  std::string snapshot_id;  // as the sidecar keeps it across restarts
  ControllerService controller;
  NodeService node;
};

csi::v1::VolumeCapability Cap(bool block, bool read_only = false) {
  csi::v1::VolumeCapability cap;
  if (block) {
    cap.mutable_block();
  } else {
    cap.mutable_mount()->set_fs_type("ext4");
  }
  cap.mutable_access_mode()->set_mode(
      csi::v1::VolumeCapability::AccessMode::SINGLE_NODE_MULTI_WRITER);
  (void)read_only;
  return cap;
}

struct Step {
  std::string name;
  std::function<grpc::Status(Driver&, const Variant&, std::string& id)> call;
};

std::vector<Step> Lifecycle() {
  std::vector<Step> steps;
  steps.push_back(
      {"CreateVolume", [](Driver& d, const Variant& v, std::string& id) {
         csi::v1::CreateVolumeRequest request;
         request.set_name("vol");
         *request.add_volume_capabilities() = Cap(v.block);
         request.mutable_capacity_range()->set_required_bytes(64 * kMiB);
         if (v.encrypted) (*request.mutable_parameters())["encrypted"] = "true";
         csi::v1::CreateVolumeResponse response;
         grpc::Status status =
             d.controller.CreateVolume(nullptr, &request, &response);
         id = response.volume().volume_id();
         return status;
       }});
  steps.push_back(
      {"NodeStageVolume", [](Driver& d, const Variant& v, std::string& id) {
         csi::v1::NodeStageVolumeRequest request;
         request.set_volume_id(id);
         request.set_staging_target_path(kStaging);
         *request.mutable_volume_capability() = Cap(v.block);
         if (v.encrypted)
           (*request.mutable_secrets())["encryptionPassphrase"] = kKey;
         csi::v1::NodeStageVolumeResponse response;
         return d.node.NodeStageVolume(nullptr, &request, &response);
       }});
  for (const bool ro : {false, true}) {
    steps.push_back({ro ? "NodePublishVolume(read-only)" : "NodePublishVolume",
                     [ro](Driver& d, const Variant& v, std::string& id) {
                       csi::v1::NodePublishVolumeRequest request;
                       request.set_volume_id(id);
                       request.set_staging_target_path(kStaging);
                       request.set_target_path(ro ? kReadOnlyTarget : kTarget);
                       request.set_readonly(ro);
                       *request.mutable_volume_capability() = Cap(v.block);
                       csi::v1::NodePublishVolumeResponse response;
                       return d.node.NodePublishVolume(nullptr, &request,
                                                       &response);
                     }});
  }
  // A snapshot of the published volume freezes its filesystem (loop, and
  // LVM under dm-crypt) for the instant: nothing may stay frozen.
  steps.push_back(
      {"CreateSnapshot", [](Driver& d, const Variant&, std::string& id) {
         csi::v1::CreateSnapshotRequest request;
         request.set_name("snap");
         request.set_source_volume_id(id);
         csi::v1::CreateSnapshotResponse response;
         grpc::Status status =
             d.controller.CreateSnapshot(nullptr, &request, &response);
         d.snapshot_id = response.snapshot().snapshot_id();
         // A thick snapshot copies in the background: the next step does not
         // race it (nor count its side effects).
         auto* thick = dynamic_cast<LvmBackend*>(d.backend.get());
         if (status.ok() && thick != nullptr)
           thick->WaitForCopy(d.snapshot_id, absl::Seconds(30));
         return status;
       }});
  steps.push_back({"ControllerExpandVolume",
                   [](Driver& d, const Variant& v, std::string& id) {
                     csi::v1::ControllerExpandVolumeRequest request;
                     request.set_volume_id(id);
                     request.mutable_capacity_range()->set_required_bytes(128 *
                                                                          kMiB);
                     *request.mutable_volume_capability() = Cap(v.block);
                     csi::v1::ControllerExpandVolumeResponse response;
                     return d.controller.ControllerExpandVolume(
                         nullptr, &request, &response);
                   }});
  steps.push_back(
      {"NodeExpandVolume", [](Driver& d, const Variant& v, std::string& id) {
         csi::v1::NodeExpandVolumeRequest request;
         request.set_volume_id(id);
         request.set_volume_path(kTarget);
         request.set_staging_target_path(kStaging);
         request.mutable_capacity_range()->set_required_bytes(128 * kMiB);
         *request.mutable_volume_capability() = Cap(v.block);
         csi::v1::NodeExpandVolumeResponse response;
         return d.node.NodeExpandVolume(nullptr, &request, &response);
       }});
  for (const bool ro : {true, false}) {
    steps.push_back(
        {ro ? "NodeUnpublishVolume(read-only)" : "NodeUnpublishVolume",
         [ro](Driver& d, const Variant&, std::string& id) {
           csi::v1::NodeUnpublishVolumeRequest request;
           request.set_volume_id(id);
           request.set_target_path(ro ? kReadOnlyTarget : kTarget);
           csi::v1::NodeUnpublishVolumeResponse response;
           return d.node.NodeUnpublishVolume(nullptr, &request, &response);
         }});
  }
  steps.push_back(
      {"NodeUnstageVolume", [](Driver& d, const Variant&, std::string& id) {
         csi::v1::NodeUnstageVolumeRequest request;
         request.set_volume_id(id);
         request.set_staging_target_path(kStaging);
         csi::v1::NodeUnstageVolumeResponse response;
         return d.node.NodeUnstageVolume(nullptr, &request, &response);
       }});
  steps.push_back(
      {"DeleteSnapshot", [](Driver& d, const Variant&, std::string&) {
         csi::v1::DeleteSnapshotRequest request;
         request.set_snapshot_id(d.snapshot_id);
         csi::v1::DeleteSnapshotResponse response;
         return d.controller.DeleteSnapshot(nullptr, &request, &response);
       }});
  steps.push_back(
      {"DeleteVolume", [](Driver& d, const Variant&, std::string& id) {
         csi::v1::DeleteVolumeRequest request;
         request.set_volume_id(id);
         csi::v1::DeleteVolumeResponse response;
         return d.controller.DeleteVolume(nullptr, &request, &response);
       }});
  return steps;
}

// What must be gone once the lifecycle is over.
std::string Leftovers(World& w) {
  std::vector<std::string> left;
  for (const MountEntry& entry : *w.mounter.ListMounts()) {
    left.push_back("mount " + entry.mount_point);
  }
  for (const LoopInfo& info : *w.fake_loops.List())
    left.push_back("loop " + info.device);
  if (w.crypt
          .Backing(CryptMappingName(MakeId(IdKind::kVolume, kNode, "c", "vol")))
          .ok()) {
    left.push_back("mapping");
  }
  for (const std::string& name : *w.fs.ListDir(kDir))
    left.push_back("file " + name);
  for (const std::string& lv : w.lvm.LvNames("vg0")) {
    if (lv != "pool0") left.push_back("lv " + lv);
  }
  for (const std::string& path : w.fs_tools.frozen())
    left.push_back("frozen " + path);
  if (absl::StatusOr<std::vector<std::string>> entries =
          w.fs.ListDir(kFreezeJournal);
      entries.ok()) {
    for (const std::string& name : *entries)
      left.push_back("freeze entry " + name);
  }
  for (const char* target : {kTarget, kReadOnlyTarget}) {
    if (w.fs.Stat(target).ok()) left.push_back(absl::StrCat("target ", target));
  }
  return absl::StrJoin(left, ", ");
}

class NodeSweepTest : public ::testing::TestWithParam<Variant> {};

TEST_P(NodeSweepTest, EveryFailureAndCrashConverges) {
  const Variant v = GetParam();
  const std::vector<Step> steps = Lifecycle();
  std::vector<int> effects(steps.size());
  {
    World world;
    Driver driver(&world, v.kind);
    std::string id;
    for (size_t i = 0; i < steps.size(); ++i) {
      world.plan.Arm(FaultPlan::Mode::kNone, 0);
      grpc::Status status = steps[i].call(driver, v, id);
      ASSERT_TRUE(status.ok())
          << steps[i].name << ": " << status.error_message();
      effects[i] = world.plan.count();
    }
    ASSERT_EQ(Leftovers(world), "");
  }
  int runs = 0;
  for (size_t i = 0; i < steps.size(); ++i) {
    for (FaultPlan::Mode mode :
         {FaultPlan::Mode::kFailAt, FaultPlan::Mode::kCrashAfter}) {
      const char* how =
          mode == FaultPlan::Mode::kFailAt ? "fail at" : "crash after";
      for (int n = 1; n <= effects[i]; ++n) {
        SCOPED_TRACE(absl::StrCat(v.name, ": ", steps[i].name, ", ", how,
                                  " side effect ", n));
        ++runs;
        World world;
        auto driver = std::make_unique<Driver>(&world, v.kind);
        std::string id;
        for (size_t j = 0; j < i; ++j) {
          ASSERT_TRUE(steps[j].call(*driver, v, id).ok()) << steps[j].name;
        }
        world.plan.Arm(mode, n);
        grpc::Status status = steps[i].call(*driver, v, id);
        const std::vector<std::string> seen = world.plan.effects();
        const std::string what =
            n <= static_cast<int>(seen.size()) ? seen[n - 1] : "?";
        if (mode == FaultPlan::Mode::kCrashAfter) {
          // The restart: the dead driver gone, a new one over the same
          // world, whose start-up repairs (thaw, activate, resume) run.
          const std::string snapshot_id = driver->snapshot_id;
          driver.reset();
          world.plan.Disarm();
          driver = std::make_unique<Driver>(&world, v.kind);
          driver->snapshot_id = snapshot_id;
        }
        world.plan.Disarm();
        for (int attempt = 0; attempt < kRetries && !status.ok(); ++attempt) {
          EXPECT_NE(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
              << "after " << what << ": " << status.error_message();
          status = steps[i].call(*driver, v, id);
        }
        ASSERT_TRUE(status.ok())
            << "after " << what << ": " << status.error_message();
        for (size_t j = i + 1; j < steps.size(); ++j) {
          grpc::Status later = steps[j].call(*driver, v, id);
          ASSERT_TRUE(later.ok()) << steps[j].name << " after " << what << ": "
                                  << later.error_message();
        }
        EXPECT_EQ(Leftovers(world), "") << "after " << what;
        // Formatted once: a retry never formats a second time.
        EXPECT_LE(world.fs_tools.mkfs_count(), v.block ? 0 : 1)
            << "after " << what;
        EXPECT_LE(world.fake_crypt.format_count(), v.encrypted ? 1 : 0)
            << "after " << what;
      }
    }
  }
  std::cout << v.name << ": " << runs << " runs;";
  for (size_t i = 0; i < steps.size(); ++i)
    std::cout << " " << steps[i].name << " " << effects[i];
  std::cout << " side effects\n";
}

INSTANTIATE_TEST_SUITE_P(
    Variants, NodeSweepTest,
    ::testing::Values(Variant{"Ext4", false, false},
                      Variant{"Block", true, false},
                      Variant{"EncryptedExt4", false, true},
                      Variant{"EncryptedBlock", true, true},
                      Variant{"ThinExt4", false, false, Kind::kThin},
                      Variant{"ThinEncryptedBlock", true, true, Kind::kThin},
                      Variant{"ThickExt4", false, false, Kind::kThick},
                      Variant{"ThickEncryptedExt4", false, true, Kind::kThick}),
    [](const ::testing::TestParamInfo<Variant>& info) {
      return std::string(info.param.name);
    });

}  // namespace
}  // namespace cellar
