// The GroupController service over loop classes on the fakes, through its
// RPCs only: validation with exact codes, the shape of a group, idempotency
// by name, NOT_FOUND, and deletes (twice, and with a wrong member list).
#include "src/controller/group_controller_service.h"

#include <algorithm>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "src/backend/loop/loop_backend.h"
#include "src/backend/lvm/lvm_backend.h"
#include "src/common/ids.h"
#include "src/common/units.h"
#include "src/common/volume_locks.h"
#include "src/controller/controller_service.h"
#include "test/fakes/fake_block_copier.h"
#include "test/fakes/fake_command_runner.h"
#include "test/fakes/fake_filesystem.h"
#include "test/fakes/fake_loop_device.h"
#include "test/fakes/fake_lvm.h"

namespace cellar {
namespace {

constexpr char kNode[] = "node-1";
constexpr char kNamespaceKey[] = "csi.storage.k8s.io/pvc/namespace";
constexpr char kGroupNamespaceKey[] =
    "csi.storage.k8s.io/volumegroupsnapshot/namespace";
using Mode = csi::v1::VolumeCapability::AccessMode;

ControllerConfig Config() {
  ControllerConfig config;
  config.node_id = kNode;
  config.local_storage = true;
  config.default_volume_bytes = kGiB;
  config.default_class = "default";
  return config;
}

class GroupControllerServiceTest : public ::testing::Test {
 protected:
  GroupControllerServiceTest()
      : default_({"/data/default", 0, 0}, &fs_, &loops_),
        fast_({"/data/fast", 0, 0}, &fs_, &loops_),
        controller_(Config(), {{"default", &default_}, {"fast", &fast_}},
                    &locks_),
        groups_(kNode, &controller_) {
    EXPECT_TRUE(fs_.MakeDirs("/data/default", 0700).ok());
    EXPECT_TRUE(fs_.MakeDirs("/data/fast", 0700).ok());
  }

  // A 4 MiB volume (8 MiB in "fast") through the Controller service.
  std::string Volume(const std::string& name,
                     const std::string& device_class = "default",
                     const std::string& ns = "") {
    csi::v1::CreateVolumeRequest request;
    request.set_name(name);
    auto* cap = request.add_volume_capabilities();
    cap->mutable_mount();
    cap->mutable_access_mode()->set_mode(Mode::SINGLE_NODE_WRITER);
    request.mutable_capacity_range()->set_required_bytes(
        device_class == "fast" ? 8 * kMiB : 4 * kMiB);
    if (device_class != "default") {
      (*request.mutable_parameters())["deviceClass"] = device_class;
    }
    if (!ns.empty()) (*request.mutable_parameters())[kNamespaceKey] = ns;
    csi::v1::CreateVolumeResponse response;
    const grpc::Status status =
        controller_.CreateVolume(nullptr, &request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.volume().volume_id();
  }

  static csi::v1::CreateVolumeGroupSnapshotRequest CreateRequest(
      const std::string& name, const std::vector<std::string>& volumes) {
    csi::v1::CreateVolumeGroupSnapshotRequest request;
    request.set_name(name);
    for (const std::string& id : volumes) request.add_source_volume_ids(id);
    return request;
  }

  grpc::Status Create(const csi::v1::CreateVolumeGroupSnapshotRequest& request,
                      csi::v1::CreateVolumeGroupSnapshotResponse* response) {
    return groups_.CreateVolumeGroupSnapshot(nullptr, &request, response);
  }
  grpc::Status Create(const std::string& name,
                      const std::vector<std::string>& volumes,
                      csi::v1::CreateVolumeGroupSnapshotResponse* response) {
    return Create(CreateRequest(name, volumes), response);
  }

  grpc::Status Get(const std::string& group_id,
                   csi::v1::GetVolumeGroupSnapshotResponse* response,
                   const std::vector<std::string>& snapshot_ids = {}) {
    csi::v1::GetVolumeGroupSnapshotRequest request;
    request.set_group_snapshot_id(group_id);
    for (const std::string& id : snapshot_ids) request.add_snapshot_ids(id);
    return groups_.GetVolumeGroupSnapshot(nullptr, &request, response);
  }

  grpc::Status Delete(const std::string& group_id,
                      const std::vector<std::string>& snapshot_ids) {
    csi::v1::DeleteVolumeGroupSnapshotRequest request;
    request.set_group_snapshot_id(group_id);
    for (const std::string& id : snapshot_ids) request.add_snapshot_ids(id);
    csi::v1::DeleteVolumeGroupSnapshotResponse response;
    return groups_.DeleteVolumeGroupSnapshot(nullptr, &request, &response);
  }

  static std::vector<std::string> MemberIds(
      const csi::v1::VolumeGroupSnapshot& group) {
    std::vector<std::string> ids;
    for (const auto& member : group.snapshots()) {
      ids.push_back(member.snapshot_id());
    }
    return ids;
  }

  // Every snapshot of both classes, by id.
  std::vector<std::string> AllSnapshots() {
    std::vector<std::string> ids;
    for (LoopBackend* backend : {&default_, &fast_}) {
      const absl::StatusOr<std::vector<SnapshotRecord>> records =
          backend->ListSnapshots();
      EXPECT_TRUE(records.ok()) << records.status();
      if (!records.ok()) continue;
      for (const SnapshotRecord& record : *records) {
        ids.push_back(record.snapshot_id());
      }
    }
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  FakeFileSystem fs_;
  FakeLoopDevices loops_;
  LoopBackend default_;
  LoopBackend fast_;
  VolumeLocks locks_;
  ControllerService controller_;
  GroupControllerService groups_;
};

TEST_F(GroupControllerServiceTest, AdvertisesExactlyGroupSnapshots) {
  csi::v1::GroupControllerGetCapabilitiesRequest request;
  csi::v1::GroupControllerGetCapabilitiesResponse response;
  ASSERT_TRUE(
      groups_.GroupControllerGetCapabilities(nullptr, &request, &response)
          .ok());
  ASSERT_EQ(response.capabilities_size(), 1);
  EXPECT_EQ(response.capabilities(0).rpc().type(),
            csi::v1::GroupControllerServiceCapability::RPC::
                CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT);
}

TEST_F(GroupControllerServiceTest, CreateValidation) {
  const std::string a = Volume("a");
  const std::string ghost = MakeId(IdKind::kVolume, kNode, "default", "ghost");
  struct Case {
    const char* what;
    csi::v1::CreateVolumeGroupSnapshotRequest request;
    grpc::StatusCode code;
  };
  std::vector<Case> cases = {
      {"no name", CreateRequest("", {a}), grpc::StatusCode::INVALID_ARGUMENT},
      {"name too long", CreateRequest(std::string(257, 'n'), {a}),
       grpc::StatusCode::INVALID_ARGUMENT},
      {"no sources", CreateRequest("g", {}),
       grpc::StatusCode::INVALID_ARGUMENT},
      {"a source twice", CreateRequest("g", {a, a}),
       grpc::StatusCode::INVALID_ARGUMENT},
      {"an unknown parameter", CreateRequest("g", {a}),
       grpc::StatusCode::INVALID_ARGUMENT},
      {"a malformed source", CreateRequest("g", {"garbage"}),
       grpc::StatusCode::NOT_FOUND},
      {"a missing source", CreateRequest("g", {ghost}),
       grpc::StatusCode::NOT_FOUND},
      {"one of two sources missing", CreateRequest("g", {a, ghost}),
       grpc::StatusCode::NOT_FOUND},
      {"another node's volume",
       CreateRequest("g", {MakeId(IdKind::kVolume, "node-2", "default", "a")}),
       grpc::StatusCode::NOT_FOUND},
      {"a class this node lacks",
       CreateRequest("g", {MakeId(IdKind::kVolume, kNode, "slow", "a")}),
       grpc::StatusCode::NOT_FOUND},
      {"a snapshot id as a source",
       CreateRequest("g", {MakeId(IdKind::kSnapshot, kNode, "default", "s")}),
       grpc::StatusCode::NOT_FOUND},
  };
  (*cases[4].request.mutable_parameters())["deviceClass"] = "fast";
  for (Case& c : cases) {
    csi::v1::CreateVolumeGroupSnapshotResponse response;
    const grpc::Status status = Create(c.request, &response);
    EXPECT_EQ(status.error_code(), c.code)
        << c.what << ": " << status.error_message();
    EXPECT_FALSE(response.has_group_snapshot()) << c.what;
  }
  // Nothing was taken by any refused request.
  EXPECT_TRUE(AllSnapshots().empty());

  // The longest name and the sidecars' parameters are fine.
  csi::v1::CreateVolumeGroupSnapshotRequest longest =
      CreateRequest(std::string(256, 'n'), {a});
  (*longest
        .mutable_parameters())["csi.storage.k8s.io/volumegroupsnapshot/name"] =
      "vgs";
  csi::v1::CreateVolumeGroupSnapshotResponse response;
  const grpc::Status status = Create(longest, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(AllSnapshots().size(), 1u);
}

TEST_F(GroupControllerServiceTest, AGroupHasOneMemberPerVolumeAtOneInstant) {
  const std::string a = Volume("a");
  const std::string b = Volume("b", "fast");
  const std::string c = Volume("c");
  csi::v1::CreateVolumeGroupSnapshotResponse response;
  const grpc::Status status = Create("nightly", {c, b, a}, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const csi::v1::VolumeGroupSnapshot& group = response.group_snapshot();

  absl::StatusOr<ParsedId> group_id = ParseId(group.group_snapshot_id());
  ASSERT_TRUE(group_id.ok()) << group.group_snapshot_id();
  EXPECT_EQ(group_id->kind, IdKind::kGroup);
  EXPECT_EQ(group_id->node_tag, kNode);
  EXPECT_TRUE(group.ready_to_use());
  EXPECT_GT(group.creation_time().seconds(), 0);

  // Members in the order of their source volumes.
  std::vector<std::string> sources = {a, b, c};
  std::sort(sources.begin(), sources.end());
  ASSERT_EQ(group.snapshots_size(), 3);
  for (int i = 0; i < 3; ++i) {
    const csi::v1::Snapshot& member = group.snapshots(i);
    EXPECT_EQ(member.source_volume_id(), sources[i]);
    EXPECT_EQ(member.group_snapshot_id(), group.group_snapshot_id());
    EXPECT_TRUE(member.ready_to_use());
    EXPECT_EQ(member.creation_time().seconds(),
              group.creation_time().seconds());
    EXPECT_EQ(member.size_bytes(),
              static_cast<int64_t>(sources[i] == b ? 8 * kMiB : 4 * kMiB));
    // A snapshot of this node, in its volume's class.
    absl::StatusOr<ParsedId> id = ParseId(member.snapshot_id());
    ASSERT_TRUE(id.ok()) << member.snapshot_id();
    EXPECT_EQ(id->kind, IdKind::kSnapshot);
    EXPECT_EQ(id->node_tag, kNode);
    EXPECT_EQ(id->device_class, ParseId(sources[i])->device_class);
  }
  // Each member is stored by its volume's backend.
  ASSERT_EQ(default_.ListSnapshots()->size(), 2u);
  ASSERT_EQ(fast_.ListSnapshots()->size(), 1u);
  EXPECT_EQ(fast_.ListSnapshots()->front().source_volume_id(), b);

  // The members are ordinary snapshots to the Controller service.
  csi::v1::GetSnapshotRequest get;
  get.set_snapshot_id(group.snapshots(0).snapshot_id());
  csi::v1::GetSnapshotResponse got;
  ASSERT_TRUE(controller_.GetSnapshot(nullptr, &get, &got).ok());
  EXPECT_EQ(got.snapshot().group_snapshot_id(), group.group_snapshot_id());
}

TEST_F(GroupControllerServiceTest, CreateIsIdempotentByNameAndMembers) {
  const std::string a = Volume("a");
  const std::string b = Volume("b");
  const std::string c = Volume("c");
  csi::v1::CreateVolumeGroupSnapshotResponse first;
  ASSERT_TRUE(Create("nightly", {a, b}, &first).ok());
  const std::vector<std::string> taken = AllSnapshots();
  ASSERT_EQ(taken.size(), 2u);

  // The same name and volumes, in any order: the same group, answered
  // exactly as the first time, nothing new taken.
  for (const std::vector<std::string>& order :
       {std::vector<std::string>{a, b}, std::vector<std::string>{b, a}}) {
    csi::v1::CreateVolumeGroupSnapshotResponse again;
    const grpc::Status status = Create("nightly", order, &again);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(again.group_snapshot().ShortDebugString(),
              first.group_snapshot().ShortDebugString());
  }
  EXPECT_EQ(AllSnapshots(), taken);

  // The same name for other volumes is another group: ALREADY_EXISTS.
  for (const std::vector<std::string>& other :
       {std::vector<std::string>{a}, std::vector<std::string>{a, b, c},
        std::vector<std::string>{c}, std::vector<std::string>{a, c}}) {
    csi::v1::CreateVolumeGroupSnapshotResponse refused;
    const grpc::Status status = Create("nightly", other, &refused);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS)
        << other.size() << ": " << status.error_message();
    EXPECT_FALSE(refused.has_group_snapshot());
  }
  EXPECT_EQ(AllSnapshots(), taken);

  // Another name for the same volumes is a new group of new snapshots.
  csi::v1::CreateVolumeGroupSnapshotResponse weekly;
  ASSERT_TRUE(Create("weekly", {a, b}, &weekly).ok());
  EXPECT_NE(weekly.group_snapshot().group_snapshot_id(),
            first.group_snapshot().group_snapshot_id());
  for (const std::string& id : MemberIds(weekly.group_snapshot())) {
    EXPECT_EQ(std::count(taken.begin(), taken.end(), id), 0) << id;
  }
  EXPECT_EQ(AllSnapshots().size(), 4u);
}

TEST_F(GroupControllerServiceTest, ABusyMemberIsAborted) {
  const std::string a = Volume("a");
  const std::string b = Volume("b");
  {
    VolumeLockGuard busy(&locks_, b);
    ASSERT_TRUE(busy.ok());
    csi::v1::CreateVolumeGroupSnapshotResponse response;
    EXPECT_EQ(Create("nightly", {a, b}, &response).error_code(),
              grpc::StatusCode::ABORTED);
    EXPECT_TRUE(AllSnapshots().empty());
  }
  csi::v1::CreateVolumeGroupSnapshotResponse response;
  ASSERT_TRUE(Create("nightly", {a, b}, &response).ok());
  // and none of the locks stays held
  VolumeLockGuard after_a(&locks_, a);
  VolumeLockGuard after_b(&locks_, b);
  VolumeLockGuard after_group(&locks_,
                              response.group_snapshot().group_snapshot_id());
  EXPECT_TRUE(after_a.ok());
  EXPECT_TRUE(after_b.ok());
  EXPECT_TRUE(after_group.ok());
}

TEST_F(GroupControllerServiceTest, MembersKeepTheirVolumesOwners) {
  const std::string a = Volume("a", "default", "team-a");
  const std::string b = Volume("b", "default", "team-a");
  csi::v1::CreateVolumeGroupSnapshotRequest request =
      CreateRequest("nightly", {a, b});
  (*request.mutable_parameters())[kGroupNamespaceKey] = "team-b";
  csi::v1::CreateVolumeGroupSnapshotResponse response;
  EXPECT_EQ(Create(request, &response).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(AllSnapshots().empty());

  (*request.mutable_parameters())[kGroupNamespaceKey] = "team-a";
  ASSERT_TRUE(Create(request, &response).ok());
  // Asked again for the existing group, from a namespace it does not admit.
  (*request.mutable_parameters())[kGroupNamespaceKey] = "team-b";
  csi::v1::CreateVolumeGroupSnapshotResponse again;
  EXPECT_EQ(Create(request, &again).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_FALSE(again.has_group_snapshot());
  EXPECT_EQ(AllSnapshots().size(), 2u);
}

TEST_F(GroupControllerServiceTest, GetAnswersAsCreateDidOrNotFound) {
  const std::string a = Volume("a");
  const std::string b = Volume("b", "fast");
  csi::v1::CreateVolumeGroupSnapshotResponse created;
  ASSERT_TRUE(Create("nightly", {a, b}, &created).ok());
  const std::string group_id = created.group_snapshot().group_snapshot_id();

  csi::v1::GetVolumeGroupSnapshotResponse got;
  ASSERT_TRUE(Get(group_id, &got).ok());
  EXPECT_EQ(got.group_snapshot().ShortDebugString(),
            created.group_snapshot().ShortDebugString());

  // snapshot_ids, when given, must name exactly the members (any order).
  const std::vector<std::string> members = MemberIds(created.group_snapshot());
  csi::v1::GetVolumeGroupSnapshotResponse listed;
  ASSERT_TRUE(Get(group_id, &listed, {members[1], members[0]}).ok());
  EXPECT_EQ(listed.group_snapshot().ShortDebugString(),
            created.group_snapshot().ShortDebugString());
  for (const std::vector<std::string>& wrong :
       {std::vector<std::string>{members[0]},
        std::vector<std::string>{members[0], members[1], a},
        std::vector<std::string>{members[0], members[0]},
        std::vector<std::string>{members[0], members[0], members[1]}}) {
    csi::v1::GetVolumeGroupSnapshotResponse refused;
    const grpc::Status status = Get(group_id, &refused, wrong);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << wrong.size() << ": " << status.error_message();
    EXPECT_FALSE(refused.has_group_snapshot());
  }

  csi::v1::GetVolumeGroupSnapshotResponse none;
  EXPECT_EQ(Get("", &none).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  for (const std::string& unknown :
       {std::string("garbage"), std::string("../../etc/passwd"), a,
        created.group_snapshot().snapshots(0).snapshot_id(),
        MakeId(IdKind::kGroup, kNode, "group", "never-taken"),
        MakeId(IdKind::kGroup, "node-2", "group", "nightly")}) {
    const grpc::Status status = Get(unknown, &none);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND)
        << unknown << ": " << status.error_message();
    EXPECT_FALSE(none.has_group_snapshot()) << unknown;
  }
}

TEST_F(GroupControllerServiceTest, DeleteTakesTheWholeGroupAndIsIdempotent) {
  const std::string a = Volume("a");
  const std::string b = Volume("b", "fast");
  csi::v1::CreateVolumeGroupSnapshotResponse created;
  ASSERT_TRUE(Create("nightly", {a, b}, &created).ok());
  const std::string group_id = created.group_snapshot().group_snapshot_id();
  const std::vector<std::string> members = MemberIds(created.group_snapshot());

  EXPECT_EQ(Delete("", members).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // Not ids of a group snapshot of this driver: nothing to delete.
  for (const std::string& garbage :
       {std::string("garbage"), std::string("../../etc/passwd"), a,
        members[0]}) {
    EXPECT_TRUE(Delete(garbage, {}).ok()) << garbage;
  }
  EXPECT_TRUE(
      Delete(MakeId(IdKind::kGroup, kNode, "group", "never-taken"), {}).ok());
  EXPECT_EQ(AllSnapshots().size(), 2u);

  // A list that leaves a member out, or names a snapshot of no group: the
  // CSI "snapshot list mismatch".
  EXPECT_EQ(Delete(group_id, {members[0]}).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  csi::v1::CreateSnapshotRequest plain;
  plain.set_name("plain");
  plain.set_source_volume_id(a);
  csi::v1::CreateSnapshotResponse plain_snapshot;
  ASSERT_TRUE(
      controller_.CreateSnapshot(nullptr, &plain, &plain_snapshot).ok());
  const std::string outsider = plain_snapshot.snapshot().snapshot_id();
  EXPECT_EQ(Delete(group_id, {members[0], members[1], outsider}).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(AllSnapshots().size(), 3u);

  // While the group is being taken (its lock held): ABORTED.
  {
    VolumeLockGuard taking(&locks_, group_id);
    ASSERT_TRUE(taking.ok());
    EXPECT_EQ(Delete(group_id, members).error_code(),
              grpc::StatusCode::ABORTED);
  }

  ASSERT_TRUE(Delete(group_id, members).ok());
  EXPECT_EQ(AllSnapshots(), std::vector<std::string>{outsider});
  csi::v1::GetVolumeGroupSnapshotResponse got;
  EXPECT_EQ(Get(group_id, &got).error_code(), grpc::StatusCode::NOT_FOUND);
  // Twice: still fine, the outsider untouched.
  EXPECT_TRUE(Delete(group_id, members).ok());
  EXPECT_EQ(AllSnapshots(), std::vector<std::string>{outsider});

  // The name can be taken again, as a new group of the same volumes.
  csi::v1::CreateVolumeGroupSnapshotResponse retaken;
  ASSERT_TRUE(Create("nightly", {a, b}, &retaken).ok());
  EXPECT_EQ(retaken.group_snapshot().group_snapshot_id(), group_id);
  EXPECT_EQ(retaken.group_snapshot().snapshots_size(), 2);
  EXPECT_EQ(AllSnapshots().size(), 3u);
}

// A delete that stopped half-way (one member gone) is finished by the
// retry with the same list.
TEST_F(GroupControllerServiceTest, ARetriedDeleteFinishesAHalfDeletedGroup) {
  const std::string a = Volume("a");
  const std::string b = Volume("b");
  csi::v1::CreateVolumeGroupSnapshotResponse created;
  ASSERT_TRUE(Create("nightly", {a, b}, &created).ok());
  const std::string group_id = created.group_snapshot().group_snapshot_id();
  const std::vector<std::string> members = MemberIds(created.group_snapshot());
  ASSERT_TRUE(default_.DeleteSnapshot(members[1]).ok());
  ASSERT_TRUE(Delete(group_id, members).ok());
  EXPECT_TRUE(AllSnapshots().empty());
}

// A thick LVM class copies in the background: the group is ready only
// once every member is, in Create's answer and in Get's.
class ThickGroupTest : public ::testing::Test {
 protected:
  ThickGroupTest()
      : thick_({"vg0", "", 0, 1.0, {}}, &runner_, &fs_, &copier_),
        controller_(ThickConfig(), {{"bulk", &thick_}}, &locks_),
        groups_(kNode, &controller_) {
    lvm_.AddVg("vg0", 10 * kGiB);
    runner_.SetHandler("lvm", lvm_.Handler());
    runner_.SetHandler("blkdiscard", lvm_.BlkdiscardHandler());
  }
  static ControllerConfig ThickConfig() {
    ControllerConfig config = Config();
    config.default_class = "bulk";
    return config;
  }

  testing::FakeLvm lvm_;
  FakeCommandRunner runner_;
  FakeFileSystem fs_;
  FakeBlockCopier copier_;
  LvmBackend thick_;
  VolumeLocks locks_;
  ControllerService controller_;
  GroupControllerService groups_;
};

TEST_F(ThickGroupTest, ReadyOnlyWhenEveryMemberIsCopied) {
  std::vector<std::string> volumes;
  for (const char* name : {"pvc-a", "pvc-b"}) {
    csi::v1::CreateVolumeRequest request;
    request.set_name(name);
    auto* cap = request.add_volume_capabilities();
    cap->mutable_mount();
    cap->mutable_access_mode()->set_mode(Mode::SINGLE_NODE_WRITER);
    request.mutable_capacity_range()->set_required_bytes(64 * kMiB);
    csi::v1::CreateVolumeResponse response;
    ASSERT_TRUE(controller_.CreateVolume(nullptr, &request, &response).ok());
    volumes.push_back(response.volume().volume_id());
  }
  csi::v1::CreateVolumeGroupSnapshotRequest request;
  request.set_name("nightly");
  for (const std::string& id : volumes) request.add_source_volume_ids(id);

  copier_.Hold();
  csi::v1::CreateVolumeGroupSnapshotResponse created;
  grpc::Status status =
      groups_.CreateVolumeGroupSnapshot(nullptr, &request, &created);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(created.group_snapshot().snapshots_size(), 2);
  EXPECT_FALSE(created.group_snapshot().ready_to_use());
  for (const auto& member : created.group_snapshot().snapshots()) {
    EXPECT_FALSE(member.ready_to_use()) << member.snapshot_id();
  }
  const std::string group_id = created.group_snapshot().group_snapshot_id();
  csi::v1::GetVolumeGroupSnapshotRequest get;
  get.set_group_snapshot_id(group_id);
  csi::v1::GetVolumeGroupSnapshotResponse got;
  ASSERT_TRUE(groups_.GetVolumeGroupSnapshot(nullptr, &get, &got).ok());
  EXPECT_FALSE(got.group_snapshot().ready_to_use());

  copier_.Release();
  for (const auto& member : created.group_snapshot().snapshots()) {
    ASSERT_TRUE(thick_.WaitForCopy(member.snapshot_id(), absl::Seconds(30)));
  }
  csi::v1::GetVolumeGroupSnapshotResponse copied;
  ASSERT_TRUE(groups_.GetVolumeGroupSnapshot(nullptr, &get, &copied).ok());
  EXPECT_TRUE(copied.group_snapshot().ready_to_use());
  ASSERT_EQ(copied.group_snapshot().snapshots_size(), 2);
  for (const auto& member : copied.group_snapshot().snapshots()) {
    EXPECT_TRUE(member.ready_to_use()) << member.snapshot_id();
  }
  csi::v1::CreateVolumeGroupSnapshotResponse again;
  ASSERT_TRUE(
      groups_.CreateVolumeGroupSnapshot(nullptr, &request, &again).ok());
  EXPECT_TRUE(again.group_snapshot().ready_to_use());
  EXPECT_EQ(again.group_snapshot().group_snapshot_id(), group_id);
}

}  // namespace
}  // namespace cellar
