// Node service on the fakes: every RPC's validation and error paths, and
// what it does to the (fake) mount table, devices and files.
#include "src/node/node_service.h"

#include <sys/mount.h>

#include "gtest/gtest.h"
#include "src/backend/loop/loop_backend.h"
#include "src/common/ids.h"
#include "src/common/units.h"
#include "test/fakes/fake_crypt_devices.h"
#include "test/fakes/fake_filesystem.h"
#include "test/fakes/fake_fs_tools.h"
#include "test/fakes/fake_loop_device.h"
#include "test/fakes/fake_mounter.h"

namespace cellar {
namespace {

constexpr char kNode[] = "node-1";
constexpr char kDir[] = "/data/loop";
constexpr char kKubelet[] = "/var/lib/kubelet";
constexpr char kStaging[] =
    "/var/lib/kubelet/plugins/kubernetes.io/csi/cellar/vol/globalmount";
constexpr char kTarget[] =
    "/var/lib/kubelet/pods/uid/volumes/kubernetes.io~csi/pvc/mount";
// Key material as an admin makes it: 32 random bytes, base64.
constexpr char kKey[] = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=";
constexpr char kWrongKey[] = "AAAAEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=";
using Mode = csi::v1::VolumeCapability::AccessMode;

csi::v1::VolumeCapability MountCap(Mode::Mode mode = Mode::SINGLE_NODE_WRITER) {
  csi::v1::VolumeCapability cap;
  cap.mutable_mount();
  cap.mutable_access_mode()->set_mode(mode);
  return cap;
}

csi::v1::VolumeCapability BlockCap() {
  csi::v1::VolumeCapability cap;
  cap.mutable_block();
  cap.mutable_access_mode()->set_mode(Mode::SINGLE_NODE_WRITER);
  return cap;
}

class NodeServiceTest : public ::testing::Test {
 protected:
  NodeServiceTest()
      : backend_({kDir, 0}, &fs_, &loops_),
        service_(Config(), {&fs_, &mounter_, &fs_tools_, &loops_, &crypt_},
                 {{"default", &backend_}}, &locks_) {
    EXPECT_TRUE(fs_.MakeDirs(kDir, 0700).ok());
    EXPECT_TRUE(fs_.MakeDirs(kKubelet, 0700).ok());
    // The device nodes the fake loop devices hand out, in /dev as the
    // kernel has them (binds of a node are recognised by its filesystem).
    for (int i = 0; i < 16; ++i) {
      fs_.AddDevice("/dev/loop" + std::to_string(i), (7u << 8) | i);
    }
  }

  static NodeConfig Config() {
    NodeConfig config;
    config.node_id = kNode;
    config.kubelet_dir = kKubelet;
    config.max_volumes_per_node = 7;
    return config;
  }

  // A volume as CreateVolume leaves it.
  std::string MakeVolume(const std::string& name, bool block = false,
                         const std::string& fs_type = "ext4") {
    VolumeRecord record;
    record.set_volume_id(MakeId(IdKind::kVolume, kNode, "default", name));
    record.set_name(name);
    record.set_capacity_bytes(64 * kMiB);
    record.set_block(block);
    if (!block) record.set_fs_type(fs_type);
    record.set_allocation("thin");
    EXPECT_TRUE(backend_.Create(record).ok());
    loops_.AddImage(backend_.ImagePath(record.volume_id()), 64 * kMiB);
    return record.volume_id();
  }

  grpc::Status Stage(const std::string& id,
                     const csi::v1::VolumeCapability& cap = MountCap(),
                     const std::string& staging = kStaging) {
    csi::v1::NodeStageVolumeRequest request;
    request.set_volume_id(id);
    request.set_staging_target_path(staging);
    *request.mutable_volume_capability() = cap;
    csi::v1::NodeStageVolumeResponse response;
    return service_.NodeStageVolume(nullptr, &request, &response);
  }

  grpc::Status Publish(const std::string& id, bool readonly = false,
                       const csi::v1::VolumeCapability& cap = MountCap(),
                       const std::string& target = kTarget) {
    csi::v1::NodePublishVolumeRequest request;
    request.set_volume_id(id);
    request.set_staging_target_path(kStaging);
    request.set_target_path(target);
    request.set_readonly(readonly);
    *request.mutable_volume_capability() = cap;
    csi::v1::NodePublishVolumeResponse response;
    return service_.NodePublishVolume(nullptr, &request, &response);
  }

  grpc::Status Unpublish(const std::string& id,
                         const std::string& target = kTarget) {
    csi::v1::NodeUnpublishVolumeRequest request;
    request.set_volume_id(id);
    request.set_target_path(target);
    csi::v1::NodeUnpublishVolumeResponse response;
    return service_.NodeUnpublishVolume(nullptr, &request, &response);
  }

  grpc::Status Unstage(const std::string& id) {
    csi::v1::NodeUnstageVolumeRequest request;
    request.set_volume_id(id);
    request.set_staging_target_path(kStaging);
    csi::v1::NodeUnstageVolumeResponse response;
    return service_.NodeUnstageVolume(nullptr, &request, &response);
  }

  std::vector<MountEntry> At(const std::string& path) {
    return MountsAt(*mounter_.ListMounts(), path);
  }

  FakeFileSystem fs_;
  FakeLoopDevices loops_;
  FakeMounter mounter_;
  FakeFsTools fs_tools_;
  FakeCryptDevices crypt_;
  LoopBackend backend_;
  VolumeLocks locks_;
  NodeService service_;
};

TEST_F(NodeServiceTest, StageFormatsOnceAndMountsWithSafeFlags) {
  const std::string id = MakeVolume("a");
  ASSERT_TRUE(Stage(id).ok());
  auto staged = At(kStaging);
  ASSERT_EQ(staged.size(), 1u);
  EXPECT_EQ(staged[0].fs_type, "ext4");
  EXPECT_EQ(staged[0].source, *backend_.FindDevice(id));
  EXPECT_TRUE(staged[0].HasMountOption("nosuid"));
  EXPECT_TRUE(staged[0].HasMountOption("nodev"));
  EXPECT_EQ(fs_tools_.mkfs_count(), 1);
  // Idempotent: no second mount, no second mkfs, no second attach.
  ASSERT_TRUE(Stage(id).ok());
  EXPECT_EQ(At(kStaging).size(), 1u);
  EXPECT_EQ(fs_tools_.mkfs_count(), 1);
  EXPECT_EQ(loops_.attach_count(), 1);
  // Staged differently (read-only): ALREADY_EXISTS.
  EXPECT_EQ(Stage(id, MountCap(Mode::SINGLE_NODE_READER_ONLY)).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
}

TEST_F(NodeServiceTest, StageNeverReformatsADeviceHoldingData) {
  const std::string id = MakeVolume("a");
  const std::string device = *backend_.Attach(id);
  fs_tools_.SetSignature(device, "xfs");
  EXPECT_EQ(Stage(id).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(fs_tools_.mkfs_count(), 0);
  EXPECT_TRUE(At(kStaging).empty());
  // An existing ext4 filesystem is mounted as it is.
  fs_tools_.SetSignature(device, "ext4");
  ASSERT_TRUE(Stage(id).ok());
  EXPECT_EQ(fs_tools_.mkfs_count(), 0);
}

TEST_F(NodeServiceTest, StageValidation) {
  const std::string id = MakeVolume("a");
  csi::v1::NodeStageVolumeRequest request;
  csi::v1::NodeStageVolumeResponse response;
  EXPECT_EQ(service_.NodeStageVolume(nullptr, &request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  request.set_volume_id(id);
  EXPECT_EQ(service_.NodeStageVolume(nullptr, &request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  request.set_staging_target_path(kStaging);
  EXPECT_EQ(service_.NodeStageVolume(nullptr, &request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // Paths outside the kubelet directory or not normalised.
  for (const char* bad : {"/etc", "/var/lib/kubelet/../../etc", "relative",
                          "/var/lib/kubelet//x"}) {
    EXPECT_EQ(Stage(id, MountCap(), bad).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT)
        << bad;
  }
  fs_.AddSymlink("/var/lib/kubelet/plugins/kubernetes.io/csi/link", "/etc");
  EXPECT_EQ(
      Stage(id, MountCap(), "/var/lib/kubelet/plugins/kubernetes.io/csi/link/x")
          .error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
  // Unknown volumes.
  EXPECT_EQ(Stage("garbage").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(
      Stage(MakeId(IdKind::kVolume, kNode, "default", "ghost")).error_code(),
      grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(
      Stage(MakeId(IdKind::kVolume, "node-2", "default", "a")).error_code(),
      grpc::StatusCode::NOT_FOUND);
  // Wrong access type for the volume.
  EXPECT_EQ(Stage(id, BlockCap()).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  auto bad_flag = MountCap();
  bad_flag.mutable_mount()->add_mount_flags("rw,suid");
  EXPECT_EQ(Stage(id, bad_flag).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // Nothing was attached, formatted or mounted by refused requests.
  EXPECT_EQ(loops_.attach_count(), 0);
  EXPECT_EQ(fs_tools_.mkfs_count(), 0);
  EXPECT_TRUE(mounter_.ListMounts()->empty());
}

TEST_F(NodeServiceTest, PublishBindsAndEnforcesReadOnly) {
  const std::string id = MakeVolume("a");
  EXPECT_EQ(Publish(id).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  ASSERT_TRUE(Stage(id).ok());
  ASSERT_TRUE(Publish(id).ok());
  auto published = At(kTarget);
  ASSERT_EQ(published.size(), 1u);
  EXPECT_TRUE(published[0].HasMountOption("rw"));
  EXPECT_TRUE(published[0].HasMountOption("nosuid"));
  EXPECT_TRUE(published[0].HasMountOption("nodev"));
  EXPECT_EQ(fs_.Stat(kTarget)->type, FileType::kDirectory);
  ASSERT_TRUE(Publish(id).ok());  // idempotent
  EXPECT_EQ(At(kTarget).size(), 1u);
  EXPECT_EQ(Publish(id, /*readonly=*/true).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);

  const std::string ro_target =
      "/var/lib/kubelet/pods/uid2/volumes/kubernetes.io~csi/pvc/mount";
  ASSERT_TRUE(Publish(id, true, MountCap(), ro_target).ok());
  auto ro = At(ro_target);
  ASSERT_EQ(ro.size(), 1u);
  EXPECT_TRUE(ro[0].HasMountOption("ro"));
  // One bind that is read-only, nosuid and nodev from its first moment
  // (no read-write bind is ever there, even if the driver dies).
  auto requests = mounter_.requests();
  ASSERT_GE(requests.size(), 1u);
  const unsigned long flags = requests.back().flags;
  EXPECT_TRUE(flags & MS_BIND);
  EXPECT_FALSE(flags & MS_REMOUNT);
  EXPECT_TRUE(flags & MS_RDONLY);
  EXPECT_TRUE(flags & MS_NOSUID);
  EXPECT_TRUE(flags & MS_NODEV);
}

TEST_F(NodeServiceTest, BlockStageAndPublish) {
  const std::string id = MakeVolume("b", /*block=*/true);
  ASSERT_TRUE(Stage(id, BlockCap()).ok());
  const std::string device = *backend_.FindDevice(id);
  const std::string stage_file =
      std::string(kStaging) + "/" + NodeService::kBlockStageFile;
  auto staged = At(stage_file);
  ASSERT_EQ(staged.size(), 1u);
  EXPECT_EQ(staged[0].root, device.substr(4));
  ASSERT_TRUE(Stage(id, BlockCap()).ok());
  EXPECT_EQ(At(stage_file).size(), 1u);
  EXPECT_EQ(fs_tools_.mkfs_count(), 0);

  ASSERT_TRUE(Publish(id, false, BlockCap()).ok());
  EXPECT_EQ(fs_.Stat(kTarget)->type, FileType::kRegular);
  ASSERT_EQ(At(kTarget).size(), 1u);
  ASSERT_TRUE(Publish(id, false, BlockCap()).ok());
  EXPECT_EQ(At(kTarget).size(), 1u);
  // Still published: unstage must refuse to detach.
  EXPECT_EQ(Unstage(id).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(backend_.FindDevice(id).ok());
  // A read-only publish gets a read-only loop view of the device.
  const std::string ro_target =
      "/var/lib/kubelet/pods/u2/volumes/kubernetes.io~csi/b/dev";
  ASSERT_TRUE(Publish(id, true, BlockCap(), ro_target).ok());
  ASSERT_TRUE(Publish(id, true, BlockCap(), ro_target).ok());
  auto views = *loops_.List();
  ASSERT_EQ(views.size(), 2u);
  EXPECT_TRUE(views[1].read_only);
  EXPECT_EQ(views[1].backing_file, device);
  EXPECT_EQ(At(ro_target).back().root, views[1].device.substr(4));
  ASSERT_TRUE(Unpublish(id, ro_target).ok());
  EXPECT_EQ(loops_.List()->size(), 1u) << "view not released";

  ASSERT_TRUE(Unpublish(id).ok());
  ASSERT_TRUE(Unstage(id).ok());
  EXPECT_FALSE(backend_.FindDevice(id).ok());
  EXPECT_TRUE(mounter_.ListMounts()->empty());
  EXPECT_EQ(fs_.Stat(stage_file).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(NodeServiceTest, UnpublishAndUnstageAreIdempotent) {
  const std::string id = MakeVolume("a");
  ASSERT_TRUE(Stage(id).ok());
  ASSERT_TRUE(Publish(id).ok());
  ASSERT_TRUE(Unpublish(id).ok());
  EXPECT_EQ(fs_.Stat(kTarget).status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(Unpublish(id).ok());
  ASSERT_TRUE(Unstage(id).ok());
  EXPECT_FALSE(backend_.FindDevice(id).ok());
  ASSERT_TRUE(Unstage(id).ok());
  EXPECT_TRUE(mounter_.ListMounts()->empty());
  // Missing fields.
  EXPECT_EQ(Unpublish("").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Unpublish(id, "").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Unpublish(id, "/etc").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Unstage("").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(NodeServiceTest, BusyVolumeIsAborted) {
  const std::string id = MakeVolume("a");
  ASSERT_TRUE(locks_.TryLock(id));
  EXPECT_EQ(Stage(id).error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(Publish(id).error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(Unpublish(id).error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(Unstage(id).error_code(), grpc::StatusCode::ABORTED);
  locks_.Unlock(id);
  EXPECT_TRUE(Stage(id).ok());
}

TEST_F(NodeServiceTest, VolumeMountGroupSetsGroupAndSetgid) {
  const std::string id = MakeVolume("a");
  auto cap = MountCap();
  cap.mutable_mount()->set_volume_mount_group("2000");
  ASSERT_TRUE(Stage(id, cap).ok());
  auto info = fs_.Stat(kStaging);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->gid, 2000u);
  EXPECT_EQ(info->mode, 02770u);
  cap.mutable_mount()->set_volume_mount_group("staff");
  EXPECT_EQ(Stage(MakeVolume("b"), cap).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(NodeServiceTest,
       TheRecordedVolumeRootModeIsAppliedAndADamagedOneRefused) {
  for (const auto& [name, mode] :
       std::vector<std::pair<std::string, std::string>>{{"good", "0750"},
                                                        {"bad", "zz"}}) {
    VolumeRecord record;
    record.set_volume_id(MakeId(IdKind::kVolume, kNode, "default", name));
    record.set_name(name);
    record.set_capacity_bytes(64 * kMiB);
    record.set_fs_type("ext4");
    record.set_allocation("thin");
    (*record.mutable_parameters())["volumeRootMode"] = mode;
    ASSERT_TRUE(backend_.Create(record).ok());
    loops_.AddImage(backend_.ImagePath(record.volume_id()), 64 * kMiB);
    auto cap = MountCap();
    cap.mutable_mount()->set_volume_mount_group("2000");
    grpc::Status staged = Stage(record.volume_id(), cap);
    if (name == "good") {
      ASSERT_TRUE(staged.ok()) << staged.error_message();
      auto info = fs_.Stat(kStaging);
      ASSERT_TRUE(info.ok());
      EXPECT_EQ(info->mode, 0750u);
      ASSERT_TRUE(Unstage(record.volume_id()).ok());
    } else {
      // Validated at creation: only a record damaged since holds this. An
      // error, never an exception out of the parse.
      EXPECT_EQ(staged.error_code(), grpc::StatusCode::INTERNAL);
      EXPECT_NE(staged.error_message().find("volumeRootMode"),
                std::string::npos);
    }
  }
}

TEST_F(NodeServiceTest, PublishEnforcesTheRecordedPolicy) {
  VolumeRecord record;
  record.set_volume_id(MakeId(IdKind::kVolume, kNode, "default", "bound"));
  record.set_name("bound");
  record.set_capacity_bytes(64 * kMiB);
  record.set_fs_type("ext4");
  record.set_allocation("thin");
  record.set_bound_namespace("team-a");
  ASSERT_TRUE(backend_.Create(record).ok());
  loops_.AddImage(backend_.ImagePath(record.volume_id()), 64 * kMiB);
  const std::string id = record.volume_id();
  ASSERT_TRUE(Stage(id).ok());
  const size_t mounts_before = mounter_.ListMounts()->size();

  csi::v1::NodePublishVolumeRequest request;
  request.set_volume_id(id);
  request.set_staging_target_path(kStaging);
  request.set_target_path(kTarget);
  *request.mutable_volume_capability() = MountCap();
  csi::v1::NodePublishVolumeResponse response;
  // No pod identity on a bound volume.
  EXPECT_EQ(
      service_.NodePublishVolume(nullptr, &request, &response).error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  // Another namespace, even with forged extra keys.
  auto& context = *request.mutable_volume_context();
  context["csi.storage.k8s.io/pod.namespace"] = "team-b";
  context["csi.storage.k8s.io/pod.name"] = "thief";
  context["csi.storage.k8s.io/pvc/namespace"] = "team-a";
  context["namespace"] = "team-a";
  EXPECT_EQ(
      service_.NodePublishVolume(nullptr, &request, &response).error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  // Nothing was created or mounted by the refusals.
  EXPECT_EQ(mounter_.ListMounts()->size(), mounts_before);
  EXPECT_EQ(fs_.Stat(kTarget).status().code(), absl::StatusCode::kNotFound);
  // The right namespace is admitted.
  context["csi.storage.k8s.io/pod.namespace"] = "team-a";
  EXPECT_TRUE(service_.NodePublishVolume(nullptr, &request, &response).ok());
}

class EncryptedNodeTest : public NodeServiceTest {
 protected:
  std::string MakeEncrypted(const std::string& name, bool block = false) {
    VolumeRecord record;
    record.set_volume_id(MakeId(IdKind::kVolume, kNode, "default", name));
    record.set_name(name);
    record.set_capacity_bytes(64 * kMiB);
    record.set_block(block);
    if (!block) record.set_fs_type("ext4");
    record.set_allocation("thin");
    record.set_encrypted(true);
    EXPECT_TRUE(backend_.Create(record).ok());
    loops_.AddImage(backend_.ImagePath(record.volume_id()), 64 * kMiB);
    fs_.AddDevice("/dev/mapper/" + NodeService::MappingName(record.volume_id()),
                  253 << 8);
    return record.volume_id();
  }

  grpc::Status StageWithKey(const std::string& id, const std::string& key,
                            const csi::v1::VolumeCapability& cap = MountCap()) {
    csi::v1::NodeStageVolumeRequest request;
    request.set_volume_id(id);
    request.set_staging_target_path(kStaging);
    *request.mutable_volume_capability() = cap;
    if (!key.empty())
      (*request.mutable_secrets())["encryptionPassphrase"] = key;
    csi::v1::NodeStageVolumeResponse response;
    return service_.NodeStageVolume(nullptr, &request, &response);
  }
};

TEST_F(EncryptedNodeTest, StageFormatsOpensAndMountsTheMapping) {
  const std::string id = MakeEncrypted("enc");
  ASSERT_TRUE(StageWithKey(id, kKey).ok());
  EXPECT_EQ(crypt_.format_count(), 1);
  const std::string mapping = "/dev/mapper/" + NodeService::MappingName(id);
  auto staged = At(kStaging);
  ASSERT_EQ(staged.size(), 1u);
  EXPECT_EQ(staged[0].source, mapping);
  // The filesystem went onto the mapping, never onto the raw device.
  EXPECT_EQ(fs_tools_.mkfs_count(), 1);
  EXPECT_EQ(*fs_tools_.Probe(mapping), "ext4");
  EXPECT_EQ(*fs_tools_.Probe(*crypt_.Backing(NodeService::MappingName(id))),
            "");
  ASSERT_TRUE(StageWithKey(id, kKey).ok());  // idempotent
  EXPECT_EQ(crypt_.format_count(), 1);
  ASSERT_TRUE(Publish(id).ok());
  ASSERT_TRUE(Unpublish(id).ok());
  ASSERT_TRUE(Unstage(id).ok());
  EXPECT_EQ(crypt_.Backing(NodeService::MappingName(id)).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_FALSE(backend_.FindDevice(id).ok());
  // Stage again: opened, not reformatted.
  ASSERT_TRUE(StageWithKey(id, kKey).ok());
  EXPECT_EQ(crypt_.format_count(), 1);
}

TEST_F(EncryptedNodeTest, MissingSecretTouchesNothing) {
  const std::string id = MakeEncrypted("enc");
  grpc::Status status = StageWithKey(id, "");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("encryptionPassphrase"),
            std::string::npos);
  EXPECT_EQ(loops_.attach_count(), 0);
  EXPECT_EQ(crypt_.format_count(), 0);
}

TEST_F(EncryptedNodeTest, WrongKeyIsRefusedAndFormatsNothing) {
  const std::string id = MakeEncrypted("enc");
  ASSERT_TRUE(StageWithKey(id, kKey).ok());
  ASSERT_TRUE(Unstage(id).ok());
  grpc::Status status = StageWithKey(id, kWrongKey);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(status.error_message().find("wrong\""), std::string::npos);
  EXPECT_EQ(crypt_.format_count(), 1);
  EXPECT_TRUE(At(kStaging).empty());
  ASSERT_TRUE(StageWithKey(id, kKey).ok());
}

TEST_F(EncryptedNodeTest, NeverFormatsADeviceHoldingData) {
  const std::string id = MakeEncrypted("enc");
  const std::string raw = *backend_.Attach(id);
  fs_tools_.SetSignature(raw, "ext4");
  EXPECT_EQ(StageWithKey(id, kKey).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(crypt_.format_count(), 0);
  // A header left by a format that died before its keyslot: redone.
  fs_tools_.SetSignature(raw, "crypto_LUKS");
  crypt_.AddHeaderWithoutKeyslot(raw);
  ASSERT_TRUE(StageWithKey(id, kKey).ok());
  EXPECT_EQ(crypt_.format_count(), 1);
}

TEST_F(EncryptedNodeTest, UnstageRefusesWhileTheMappingIsBusy) {
  const std::string id = MakeEncrypted("enc");
  ASSERT_TRUE(StageWithKey(id, kKey).ok());
  crypt_.SetBusy(NodeService::MappingName(id), true);
  EXPECT_EQ(Unstage(id).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  crypt_.SetBusy(NodeService::MappingName(id), false);
  EXPECT_TRUE(Unstage(id).ok());
}

TEST_F(NodeServiceTest, Stats) {
  const std::string id = MakeVolume("a");
  ASSERT_TRUE(Stage(id).ok());
  ASSERT_TRUE(Publish(id).ok());
  csi::v1::NodeGetVolumeStatsRequest request;
  csi::v1::NodeGetVolumeStatsResponse response;
  EXPECT_EQ(
      service_.NodeGetVolumeStats(nullptr, &request, &response).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
  request.set_volume_id(id);
  EXPECT_EQ(
      service_.NodeGetVolumeStats(nullptr, &request, &response).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
  request.set_volume_path(kTarget);
  ASSERT_TRUE(service_.NodeGetVolumeStats(nullptr, &request, &response).ok());
  ASSERT_EQ(response.usage_size(), 2);
  EXPECT_EQ(response.usage(0).unit(), csi::v1::VolumeUsage::BYTES);
  EXPECT_GT(response.usage(0).total(), 0);
  EXPECT_EQ(response.usage(1).unit(), csi::v1::VolumeUsage::INODES);
  EXPECT_FALSE(response.volume_condition().abnormal());
  request.set_volume_path(
      "/var/lib/kubelet/pods/none/volumes/kubernetes.io~csi/pv/mount");
  EXPECT_EQ(
      service_.NodeGetVolumeStats(nullptr, &request, &response).error_code(),
      grpc::StatusCode::NOT_FOUND);
  request.set_volume_path(kTarget);
  request.set_volume_id(MakeId(IdKind::kVolume, kNode, "default", "ghost"));
  EXPECT_EQ(
      service_.NodeGetVolumeStats(nullptr, &request, &response).error_code(),
      grpc::StatusCode::NOT_FOUND);
}

TEST_F(NodeServiceTest, ExpandGrowsImageDeviceAndFilesystem) {
  const std::string id = MakeVolume("a");
  ASSERT_TRUE(Stage(id).ok());
  ASSERT_TRUE(Publish(id).ok());
  csi::v1::NodeExpandVolumeRequest request;
  request.set_volume_id(id);
  request.set_volume_path(kTarget);
  request.mutable_capacity_range()->set_required_bytes(128 * kMiB);
  csi::v1::NodeExpandVolumeResponse response;
  ASSERT_TRUE(service_.NodeExpandVolume(nullptr, &request, &response).ok());
  EXPECT_EQ(response.capacity_bytes(), static_cast<int64_t>(128 * kMiB));
  EXPECT_EQ(fs_.Stat(backend_.ImagePath(id))->size, 128 * kMiB);
  // The filesystem on the volume's own device was grown, where it is
  // mounted.
  ASSERT_EQ(fs_tools_.grow_calls().size(), 1u);
  EXPECT_EQ(fs_tools_.grow_calls()[0].device, *backend_.FindDevice(id));
  EXPECT_EQ(fs_tools_.grow_calls()[0].mount_path, kTarget);
  EXPECT_EQ(fs_tools_.grow_calls()[0].fs_type, "ext4");
  request.set_volume_path(
      "/var/lib/kubelet/pods/none/volumes/kubernetes.io~csi/pv/mount");
  EXPECT_EQ(
      service_.NodeExpandVolume(nullptr, &request, &response).error_code(),
      grpc::StatusCode::NOT_FOUND);
  request.clear_volume_path();
  EXPECT_EQ(
      service_.NodeExpandVolume(nullptr, &request, &response).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
  request.set_volume_path(kTarget);
  request.set_volume_id(MakeId(IdKind::kVolume, kNode, "default", "ghost"));
  EXPECT_EQ(
      service_.NodeExpandVolume(nullptr, &request, &response).error_code(),
      grpc::StatusCode::NOT_FOUND);
}

TEST_F(NodeServiceTest, InfoAndCapabilities) {
  csi::v1::NodeGetInfoRequest request;
  csi::v1::NodeGetInfoResponse info;
  ASSERT_TRUE(service_.NodeGetInfo(nullptr, &request, &info).ok());
  EXPECT_EQ(info.node_id(), kNode);
  EXPECT_EQ(info.max_volumes_per_node(), 7);
  EXPECT_EQ(info.accessible_topology().segments().at(kTopologyKey), kNode);
  csi::v1::NodeGetCapabilitiesRequest caps_request;
  csi::v1::NodeGetCapabilitiesResponse caps;
  ASSERT_TRUE(service_.NodeGetCapabilities(nullptr, &caps_request, &caps).ok());
  EXPECT_GE(caps.capabilities_size(), 5);
}

}  // namespace
}  // namespace cellar

namespace cellar {
namespace {

// ---------------------------------------------------------------- Attacks
// Each test tries to make a node call act on something that is not the
// volume's, and checks the call refused and nothing else changed.

TEST_F(NodeServiceTest, PublishRefusesAStagingPathThatShowsSomethingElse) {
  const std::string id = MakeVolume("victim-of-swap");
  // No stage; a tmpfs sits at the staging path instead (another driver's,
  // or one a hostile request hopes we bind into a pod).
  MountRequest tmpfs;
  tmpfs.source = "tmpfs";
  tmpfs.target = kStaging;
  tmpfs.fs_type = "tmpfs";
  ASSERT_TRUE(mounter_.Mount(tmpfs).ok());
  ASSERT_TRUE(backend_.Attach(id).ok());  // attached, not staged here
  EXPECT_EQ(Publish(id).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(At(kTarget).empty());

  // Another volume staged at the path this volume's publish names.
  ASSERT_TRUE(mounter_.Unmount(kStaging, false).ok());
  ASSERT_TRUE(backend_.Detach(id).ok());
  const std::string other = MakeVolume("other");
  ASSERT_TRUE(Stage(other).ok());
  ASSERT_TRUE(
      Stage(id, MountCap(),
            "/var/lib/kubelet/plugins/kubernetes.io/csi/cellar/own/globalmount")
          .ok());
  EXPECT_EQ(Publish(id).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(At(kTarget).empty());
}

TEST_F(NodeServiceTest, BlockPublishRefusesWhenNotStagedAtThatPath) {
  const std::string id = MakeVolume("blk", /*block=*/true);
  ASSERT_TRUE(Stage(id, BlockCap(),
                    "/var/lib/kubelet/plugins/kubernetes.io/csi/cellar/"
                    "elsewhere/globalmount")
                  .ok());
  EXPECT_EQ(Publish(id, false, BlockCap()).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(At(kTarget).empty());
}

TEST_F(NodeServiceTest, UnpublishLeavesAnotherVolumesMountAlone) {
  const std::string mine = MakeVolume("mine");
  const std::string theirs = MakeVolume("theirs");
  const std::string their_staging =
      "/var/lib/kubelet/plugins/kubernetes.io/csi/cellar/theirs/globalmount";
  ASSERT_TRUE(Stage(theirs, MountCap(), their_staging).ok());
  csi::v1::NodePublishVolumeRequest request;
  request.set_volume_id(theirs);
  request.set_staging_target_path(their_staging);
  request.set_target_path(kTarget);
  *request.mutable_volume_capability() = MountCap();
  csi::v1::NodePublishVolumeResponse response;
  ASSERT_TRUE(service_.NodePublishVolume(nullptr, &request, &response).ok());
  ASSERT_TRUE(Stage(mine).ok());
  // Unpublishing "mine" at the target that holds "theirs".
  EXPECT_EQ(Unpublish(mine).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(At(kTarget).size(), 1u);
  EXPECT_TRUE(fs_.Stat(kTarget).ok());
  // An unknown volume id at the same target: the same.
  EXPECT_EQ(Unpublish(MakeId(IdKind::kVolume, kNode, "default", "ghost"))
                .error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(At(kTarget).size(), 1u);
  // And unstaging "mine" at their staging path is refused too.
  csi::v1::NodeUnstageVolumeRequest unstage;
  unstage.set_volume_id(mine);
  unstage.set_staging_target_path(their_staging);
  csi::v1::NodeUnstageVolumeResponse unstaged;
  EXPECT_EQ(
      service_.NodeUnstageVolume(nullptr, &unstage, &unstaged).error_code(),
      grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(At(their_staging).size(), 1u);
}

TEST_F(NodeServiceTest, UnpublishRemovesOnlyEmptyLeftovers) {
  const std::string id = MakeVolume("leftovers");
  // A target directory holding a file that is not the driver's.
  ASSERT_TRUE(fs_.MakeDirs(kTarget, 0750).ok());
  fs_.AddFile(std::string(kTarget) + "/kubelet-owned", "x");
  EXPECT_TRUE(Unpublish(id).ok());
  EXPECT_TRUE(fs_.Stat(std::string(kTarget) + "/kubelet-owned").ok());
  // A non-empty file as a block target: kept.
  const std::string file_target =
      "/var/lib/kubelet/plugins/kubernetes.io/csi/volumeDevices/publish/x/uid";
  fs_.AddFile(file_target, "pod data");
  EXPECT_TRUE(Unpublish(id, file_target).ok());
  EXPECT_EQ(*fs_.ReadFile(file_target), "pod data");
  // An empty file and an empty directory are the driver's: removed.
  const std::string empty_file =
      "/var/lib/kubelet/plugins/kubernetes.io/csi/volumeDevices/publish/y/uid";
  fs_.AddFile(empty_file);
  EXPECT_TRUE(Unpublish(id, empty_file).ok());
  EXPECT_TRUE(absl::IsNotFound(fs_.Stat(empty_file).status()));
}

TEST_F(NodeServiceTest, UnstageNeverLooksInsideAFilesystemVolume) {
  const std::string id = MakeVolume("tenant-names");
  ASSERT_TRUE(Stage(id).ok());
  // The tenant creates, on its filesystem, the name the driver uses for
  // block volumes (here as a non-empty directory, which would block a
  // removal, and as a file, which a careless unstage would delete).
  const std::string name =
      std::string(kStaging) + "/" + NodeService::kBlockStageFile;
  ASSERT_TRUE(fs_.MakeDirs(name, 0755).ok());
  fs_.AddFile(name + "/precious", "tenant data");
  EXPECT_TRUE(Unstage(id).ok());
  EXPECT_TRUE(At(kStaging).empty());
  EXPECT_EQ(*fs_.ReadFile(name + "/precious"), "tenant data");
  EXPECT_FALSE(backend_.FindDevice(id).ok());
}

TEST_F(NodeServiceTest, UnstageRefusesAForeignMountAndChangesNothing) {
  const std::string id = MakeVolume("foreign");
  ASSERT_TRUE(backend_.Attach(id).ok());
  MountRequest tmpfs;
  tmpfs.source = "tmpfs";
  tmpfs.target = kStaging;
  tmpfs.fs_type = "tmpfs";
  ASSERT_TRUE(mounter_.Mount(tmpfs).ok());
  EXPECT_EQ(Unstage(id).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(At(kStaging).size(), 1u);
  EXPECT_TRUE(backend_.FindDevice(id).ok());
}

TEST_F(NodeServiceTest, UnstageWhilePublishedChangesNothing) {
  const std::string id = MakeVolume("busy");
  ASSERT_TRUE(Stage(id).ok());
  ASSERT_TRUE(Publish(id).ok());
  EXPECT_EQ(Unstage(id).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(At(kStaging).size(), 1u);
  EXPECT_EQ(At(kTarget).size(), 1u);
}

TEST_F(NodeServiceTest, PathsOutsideKubeletsLayoutAreRefused) {
  const std::string id = MakeVolume("layout");
  // Staging only under plugins/; targets under pods/ or plugins/.
  for (const char* staging :
       {"/var/lib/kubelet/pods/uid/volumes/kubernetes.io~csi/x/mount",
        "/var/lib/kubelet/pki/x", "/var/lib/kubelet/plugins_registry/x",
        "/var/lib/kubelet/plugins", "/var/lib/kubelet/pod-resources/x"}) {
    EXPECT_EQ(Stage(id, MountCap(), staging).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT)
        << staging;
  }
  ASSERT_TRUE(Stage(id).ok());
  for (const char* target :
       {"/var/lib/kubelet/pki/evil", "/var/lib/kubelet/plugins_registry/x",
        "/var/lib/kubelet/pods", "/var/lib/kubelet/podsx/y",
        "/var/lib/kubelet/kubeconfig"}) {
    EXPECT_EQ(Publish(id, false, MountCap(), target).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT)
        << target;
    EXPECT_EQ(Unpublish(id, target).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT)
        << target;
  }
  EXPECT_TRUE(Publish(id, false, MountCap(),
                      "/var/lib/kubelet/plugins/kubernetes.io/csi/"
                      "volumeDevices/publish/pv/uid")
                  .ok());
}

TEST_F(NodeServiceTest, MountsAreConfinedAndAMountThatLandsElsewhereIsUndone) {
  const std::string id = MakeVolume("swap");
  ASSERT_TRUE(Stage(id).ok());
  for (const MountRequest& request : mounter_.requests()) {
    EXPECT_EQ(request.confine_to, kKubelet);
  }
  // As if a component of the target became a symlink to elsewhere between
  // the check and the mount.
  mounter_.RedirectNextMount(
      "/var/lib/kubelet/pods/other/volumes/kubernetes.io~csi/v/mount");
  EXPECT_EQ(Publish(id).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(
      At("/var/lib/kubelet/pods/other/volumes/kubernetes.io~csi/v/mount")
          .empty());
  EXPECT_TRUE(At(kTarget).empty());
  for (const MountRequest& request : mounter_.requests()) {
    if (request.target == kTarget) EXPECT_EQ(request.confine_to, kKubelet);
  }
}

TEST_F(NodeServiceTest, AFailedStageDetachesWhatItAttached) {
  const std::string id = MakeVolume("fails");
  fs_tools_.FailNextMakeFs(absl::InternalError("mkfs died"));
  EXPECT_FALSE(Stage(id).ok());
  EXPECT_FALSE(backend_.FindDevice(id).ok());
  EXPECT_TRUE(loops_.List()->empty());
  mounter_.FailNextMount(absl::InternalError("mount failed"));
  EXPECT_FALSE(Stage(id).ok());
  EXPECT_TRUE(loops_.List()->empty());
  EXPECT_TRUE(At(kStaging).empty());
  // A stage that fails on an already attached volume leaves it attached.
  ASSERT_TRUE(backend_.Attach(id).ok());
  mounter_.FailNextMount(absl::InternalError("mount failed"));
  EXPECT_FALSE(Stage(id).ok());
  EXPECT_TRUE(backend_.FindDevice(id).ok());
}

TEST_F(EncryptedNodeTest, AnOpenMappingDoesNotExcuseAWrongKey) {
  const std::string id = MakeEncrypted("open-already");
  ASSERT_TRUE(StageWithKey(id, kKey).ok());
  const auto before = At(kStaging);
  ASSERT_EQ(before.size(), 1u);
  EXPECT_EQ(StageWithKey(id, kWrongKey).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // The mapping, the mount and the device are as they were.
  EXPECT_TRUE(crypt_.Backing(NodeService::MappingName(id)).ok());
  ASSERT_EQ(At(kStaging).size(), 1u);
  EXPECT_EQ(At(kStaging)[0].mount_id, before[0].mount_id);
  EXPECT_TRUE(backend_.FindDevice(id).ok());
  EXPECT_TRUE(StageWithKey(id, kKey).ok());
}

TEST_F(EncryptedNodeTest, ShortKeyMaterialIsRefusedBeforeAnythingHappens) {
  const std::string id = MakeEncrypted("short");
  const grpc::Status status =
      StageWithKey(id, "correct horse battery staple");  // 28 bytes
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("encryptionPassphrase"),
            std::string::npos);
  EXPECT_EQ(crypt_.format_count(), 0);
  EXPECT_FALSE(backend_.FindDevice(id).ok());
}

TEST_F(EncryptedNodeTest, TheRequestsSecretsAreWipedAfterTheCall) {
  const std::string id = MakeEncrypted("wipe");
  csi::v1::NodeStageVolumeRequest request;
  request.set_volume_id(id);
  request.set_staging_target_path(kStaging);
  *request.mutable_volume_capability() = MountCap();
  (*request.mutable_secrets())["encryptionPassphrase"] = kKey;
  csi::v1::NodeStageVolumeResponse response;
  ASSERT_TRUE(service_.NodeStageVolume(nullptr, &request, &response).ok());
  EXPECT_TRUE(request.secrets().empty());
}

TEST_F(NodeServiceTest, NothingIsMountedOverSomething) {
  const std::string id = MakeVolume("over");
  // kubelet's staging directory already holds files: not a place to mount.
  ASSERT_TRUE(fs_.MakeDirs(kStaging, 0750).ok());
  fs_.AddFile(std::string(kStaging) + "/someone-elses", "x");
  EXPECT_EQ(Stage(id).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(At(kStaging).empty());
  EXPECT_FALSE(backend_.FindDevice(id).ok());
  ASSERT_TRUE(fs_.Remove(std::string(kStaging) + "/someone-elses").ok());
  ASSERT_TRUE(Stage(id).ok());
  // A target directory with files in it.
  ASSERT_TRUE(fs_.MakeDirs(kTarget, 0750).ok());
  fs_.AddFile(std::string(kTarget) + "/pod-data", "x");
  EXPECT_EQ(Publish(id).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(At(kTarget).empty());
  // A block target that is a non-empty file (kubelet's vol_data.json, say).
  const std::string block = MakeVolume("over-block", /*block=*/true);
  const std::string block_staging =
      "/var/lib/kubelet/plugins/kubernetes.io/csi/volumeDevices/staging/ob";
  csi::v1::NodeStageVolumeRequest stage;
  stage.set_volume_id(block);
  stage.set_staging_target_path(block_staging);
  *stage.mutable_volume_capability() = BlockCap();
  csi::v1::NodeStageVolumeResponse staged;
  ASSERT_TRUE(service_.NodeStageVolume(nullptr, &stage, &staged).ok());
  const std::string json =
      "/var/lib/kubelet/pods/uid/volumes/kubernetes.io~csi/pv/vol_data.json";
  fs_.AddFile(json, "{}");
  csi::v1::NodePublishVolumeRequest publish;
  publish.set_volume_id(block);
  publish.set_staging_target_path(block_staging);
  publish.set_target_path(json);
  *publish.mutable_volume_capability() = BlockCap();
  csi::v1::NodePublishVolumeResponse published;
  EXPECT_EQ(
      service_.NodePublishVolume(nullptr, &publish, &published).error_code(),
      grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(At(json).empty());
}

}  // namespace
}  // namespace cellar
