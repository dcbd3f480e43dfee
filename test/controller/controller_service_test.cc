// Controller service on the fakes: validation, error codes, idempotency,
// pagination, capacity and expansion, without root.
#include "src/controller/controller_service.h"

#include <set>

#include "gtest/gtest.h"
#include "src/backend/loop/loop_backend.h"
#include "src/backend/lvm/lvm_backend.h"
#include "src/common/units.h"
#include "src/controller/group_controller_service.h"
#include "test/fakes/fake_block_copier.h"
#include "test/fakes/fake_clock.h"
#include "test/fakes/fake_command_runner.h"
#include "test/fakes/fake_filesystem.h"
#include "test/fakes/fake_loop_device.h"
#include "test/fakes/fake_lvm.h"

namespace cellar {
namespace {

constexpr char kNode[] = "node-1";
constexpr char kDir[] = "/data/loop";
using Mode = csi::v1::VolumeCapability::AccessMode;

csi::v1::VolumeCapability MountCap(Mode::Mode mode = Mode::SINGLE_NODE_WRITER,
                                   const std::string& fs = "") {
  csi::v1::VolumeCapability cap;
  cap.mutable_mount()->set_fs_type(fs);
  cap.mutable_access_mode()->set_mode(mode);
  return cap;
}

csi::v1::VolumeCapability BlockCap() {
  csi::v1::VolumeCapability cap;
  cap.mutable_block();
  cap.mutable_access_mode()->set_mode(Mode::SINGLE_NODE_WRITER);
  return cap;
}

ControllerConfig ConfigFor(bool local, const std::string& default_class) {
  ControllerConfig config;
  config.node_id = kNode;
  config.local_storage = local;
  config.default_volume_bytes = kGiB;
  config.default_class = default_class;
  return config;
}

class ControllerServiceTest : public ::testing::Test {
 protected:
  ControllerServiceTest()
      : backend_({kDir, 1 * kGiB}, &fs_, &loops_),
        service_(Config(true), {{"default", &backend_}}, &locks_,
                 /*freezer=*/nullptr, &clock_) {
    EXPECT_TRUE(fs_.MakeDirs(kDir, 0700).ok());
    FsStats stats;
    stats.total_bytes = 100 * kGiB;
    stats.free_bytes = stats.available_bytes = 50 * kGiB;
    fs_.SetFsStats(stats);
  }

  static ControllerConfig Config(bool local) {
    return ConfigFor(local, "default");
  }

  csi::v1::CreateVolumeRequest CreateRequest(const std::string& name,
                                             int64_t required = 0) {
    csi::v1::CreateVolumeRequest request;
    request.set_name(name);
    *request.add_volume_capabilities() = MountCap();
    if (required > 0) {
      request.mutable_capacity_range()->set_required_bytes(required);
    }
    return request;
  }

  grpc::Status Create(const csi::v1::CreateVolumeRequest& request,
                      csi::v1::CreateVolumeResponse* response = nullptr) {
    csi::v1::CreateVolumeResponse local;
    return service_.CreateVolume(nullptr, &request,
                                 response ? response : &local);
  }

  std::string CreateOk(const std::string& name, int64_t required = 0) {
    csi::v1::CreateVolumeResponse response;
    grpc::Status status = Create(CreateRequest(name, required), &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.volume().volume_id();
  }

  FakeFileSystem fs_;
  FakeLoopDevices loops_;
  LoopBackend backend_;
  VolumeLocks locks_;
  // 2026-01-02 03:04:05.678901234 UTC
  FakeClock clock_{absl::FromUnixNanos(1767323045678901234)};
  ControllerService service_;
};

TEST_F(ControllerServiceTest, CreateReturnsTopologyAndRoundedSize) {
  csi::v1::CreateVolumeResponse response;
  ASSERT_TRUE(Create(CreateRequest("pvc-1", 10 * kMiB + 1), &response).ok());
  const auto& volume = response.volume();
  EXPECT_EQ(volume.capacity_bytes(), static_cast<int64_t>(11 * kMiB));
  ASSERT_EQ(volume.accessible_topology_size(), 1);
  EXPECT_EQ(volume.accessible_topology(0).segments().at(kTopologyKey), kNode);
  auto id = ParseId(volume.volume_id());
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->node_tag, kNode);
  EXPECT_EQ(id->device_class, "default");
  // Durable record and image.
  auto record = fs_.ReadFile(backend_.RecordPath(volume.volume_id()));
  ASSERT_TRUE(record.ok());
  EXPECT_NE(record->find("\"name\":\"pvc-1\""), std::string::npos) << *record;
  EXPECT_EQ(fs_.Stat(backend_.ImagePath(volume.volume_id()))->size, 11 * kMiB);
}

TEST_F(ControllerServiceTest, CreateDefaultSizeAndLimitOnly) {
  csi::v1::CreateVolumeResponse response;
  ASSERT_TRUE(Create(CreateRequest("a"), &response).ok());
  EXPECT_EQ(response.volume().capacity_bytes(), static_cast<int64_t>(kGiB));
  auto request = CreateRequest("b");
  request.mutable_capacity_range()->set_limit_bytes(5 * kMiB + 7);
  ASSERT_TRUE(Create(request, &response).ok());
  EXPECT_EQ(response.volume().capacity_bytes(), static_cast<int64_t>(5 * kMiB));
}

TEST_F(ControllerServiceTest, CreateValidation) {
  struct Case {
    const char* what;
    std::function<void(csi::v1::CreateVolumeRequest*)> mutate;
    grpc::StatusCode code;
  } cases[] = {
      {"no name", [](auto* r) { r->clear_name(); },
       grpc::StatusCode::INVALID_ARGUMENT},
      {"long name", [](auto* r) { r->set_name(std::string(300, 'n')); },
       grpc::StatusCode::INVALID_ARGUMENT},
      {"no caps", [](auto* r) { r->clear_volume_capabilities(); },
       grpc::StatusCode::INVALID_ARGUMENT},
      {"multi node",
       [](auto* r) {
         *r->mutable_volume_capabilities(0) =
             MountCap(Mode::MULTI_NODE_MULTI_WRITER);
       },
       grpc::StatusCode::INVALID_ARGUMENT},
      {"unknown mode",
       [](auto* r) {
         r->mutable_volume_capabilities(0)->mutable_access_mode()->set_mode(
             static_cast<Mode::Mode>(99));
       },
       grpc::StatusCode::INVALID_ARGUMENT},
      {"no access type",
       [](auto* r) { r->mutable_volume_capabilities(0)->clear_mount(); },
       grpc::StatusCode::INVALID_ARGUMENT},
      {"bad fs",
       [](auto* r) {
         *r->mutable_volume_capabilities(0) =
             MountCap(Mode::SINGLE_NODE_WRITER, "ntfs");
       },
       grpc::StatusCode::INVALID_ARGUMENT},
      {"unknown param",
       [](auto* r) { (*r->mutable_parameters())["foo"] = "1"; },
       grpc::StatusCode::INVALID_ARGUMENT},
      {"negative",
       [](auto* r) { r->mutable_capacity_range()->set_required_bytes(-1); },
       grpc::StatusCode::INVALID_ARGUMENT},
      {"required > limit",
       [](auto* r) {
         r->mutable_capacity_range()->set_required_bytes(10 * kMiB);
         r->mutable_capacity_range()->set_limit_bytes(5 * kMiB);
       },
       grpc::StatusCode::OUT_OF_RANGE},
      {"no MiB fits",
       [](auto* r) {
         r->mutable_capacity_range()->set_required_bytes(kMiB + 1);
         r->mutable_capacity_range()->set_limit_bytes(kMiB + 2);
       },
       grpc::StatusCode::OUT_OF_RANGE},
      {"too big for the disk",
       [](auto* r) {
         r->mutable_capacity_range()->set_required_bytes(60 * kGiB);
       },
       grpc::StatusCode::RESOURCE_EXHAUSTED},
      {"within reserve",
       [](auto* r) {
         r->mutable_capacity_range()->set_required_bytes(50 * kGiB - kMiB);
       },
       grpc::StatusCode::RESOURCE_EXHAUSTED},
      {"other node only",
       [](auto* r) {
         auto* t = r->mutable_accessibility_requirements()->add_requisite();
         (*t->mutable_segments())[kTopologyKey] = "node-2";
       },
       grpc::StatusCode::RESOURCE_EXHAUSTED},
      {"unknown class",
       [](auto* r) { (*r->mutable_parameters())["deviceClass"] = "fast"; },
       grpc::StatusCode::INVALID_ARGUMENT},
      {"fsType contradiction",
       [](auto* r) {
         (*r->mutable_parameters())["fsType"] = "xfs";
         *r->mutable_volume_capabilities(0) =
             MountCap(Mode::SINGLE_NODE_WRITER, "ext4");
       },
       grpc::StatusCode::INVALID_ARGUMENT},
      {"missing source snapshot",
       [](auto* r) {
         r->mutable_volume_content_source()
             ->mutable_snapshot()
             ->set_snapshot_id("s");
       },
       grpc::StatusCode::NOT_FOUND},
      {"missing source volume",
       [](auto* r) {
         r->mutable_volume_content_source()->mutable_volume()->set_volume_id(
             MakeId(IdKind::kVolume, kNode, "default", "ghost"));
       },
       grpc::StatusCode::NOT_FOUND},
  };
  for (const Case& c : cases) {
    auto request = CreateRequest("pvc-x");
    c.mutate(&request);
    grpc::Status status = Create(request);
    EXPECT_EQ(status.error_code(), c.code)
        << c.what << ": " << status.error_message();
  }
  // Nothing was created by any refused request.
  EXPECT_TRUE(fs_.ListDir(kDir)->empty());
}

TEST_F(ControllerServiceTest, RequisiteIncludingThisNodeIsFine) {
  auto request = CreateRequest("topo");
  auto* other = request.mutable_accessibility_requirements()->add_requisite();
  (*other->mutable_segments())[kTopologyKey] = "node-2";
  auto* mine = request.mutable_accessibility_requirements()->add_requisite();
  (*mine->mutable_segments())[kTopologyKey] = kNode;
  EXPECT_TRUE(Create(request).ok());
}

TEST_F(ControllerServiceTest, CreateIsIdempotentByName) {
  const std::string id = CreateOk("pvc-1", 100 * kMiB);
  EXPECT_EQ(CreateOk("pvc-1", 100 * kMiB), id);
  // Any size the existing volume satisfies is the same volume.
  EXPECT_EQ(CreateOk("pvc-1", 50 * kMiB), id);
  EXPECT_EQ(Create(CreateRequest("pvc-1", 200 * kMiB)).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  auto other_params = CreateRequest("pvc-1", 100 * kMiB);
  (*other_params.mutable_parameters())["allocation"] = "thick";
  EXPECT_EQ(Create(other_params).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  auto block = CreateRequest("pvc-1", 100 * kMiB);
  *block.mutable_volume_capabilities(0) = BlockCap();
  EXPECT_EQ(Create(block).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_NE(CreateOk("pvc-2", 100 * kMiB), id);
}

TEST_F(ControllerServiceTest, CreateCompletesAfterACrashBetweenRecordAndImage) {
  const std::string id = CreateOk("pvc-1", 8 * kMiB);
  // As if the driver died after writing the record, before the image.
  ASSERT_TRUE(fs_.Remove(backend_.ImagePath(id)).ok());
  EXPECT_EQ(CreateOk("pvc-1", 8 * kMiB), id);
  EXPECT_EQ(fs_.Stat(backend_.ImagePath(id))->size, 8 * kMiB);
}

TEST_F(ControllerServiceTest, BusyVolumeIsAborted) {
  const std::string id = MakeId(IdKind::kVolume, kNode, "default", "pvc-busy");
  ASSERT_TRUE(locks_.TryLock(id));
  EXPECT_EQ(Create(CreateRequest("pvc-busy")).error_code(),
            grpc::StatusCode::ABORTED);
  locks_.Unlock(id);
  EXPECT_TRUE(Create(CreateRequest("pvc-busy")).ok());
  ASSERT_TRUE(locks_.TryLock(id));
  csi::v1::DeleteVolumeRequest del;
  del.set_volume_id(id);
  csi::v1::DeleteVolumeResponse del_response;
  EXPECT_EQ(service_.DeleteVolume(nullptr, &del, &del_response).error_code(),
            grpc::StatusCode::ABORTED);
  locks_.Unlock(id);
}

TEST_F(ControllerServiceTest, ThickAllocationUsesSpace) {
  auto request = CreateRequest("thick", 10 * kGiB);
  (*request.mutable_parameters())["allocation"] = "thick";
  ASSERT_TRUE(Create(request).ok());
  EXPECT_EQ(fs_.StatFs(kDir)->available_bytes, 40 * kGiB);
}

TEST_F(ControllerServiceTest, DeleteSemantics) {
  csi::v1::DeleteVolumeRequest request;
  csi::v1::DeleteVolumeResponse response;
  EXPECT_EQ(service_.DeleteVolume(nullptr, &request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  for (const char* garbage :
       {"reallyfakevolumeid", "../../etc/passwd", "v_node-1_default_zz"}) {
    request.set_volume_id(garbage);
    EXPECT_TRUE(service_.DeleteVolume(nullptr, &request, &response).ok())
        << garbage;
  }
  // A well-formed id of a volume that does not exist: fine.
  request.set_volume_id(MakeId(IdKind::kVolume, kNode, "default", "ghost"));
  EXPECT_TRUE(service_.DeleteVolume(nullptr, &request, &response).ok());
  // Another node's volume: not ours to delete.
  request.set_volume_id(MakeId(IdKind::kVolume, "node-2", "default", "x"));
  EXPECT_EQ(service_.DeleteVolume(nullptr, &request, &response).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  const std::string id = CreateOk("pvc-del", 4 * kMiB);
  loops_.AddImage(backend_.ImagePath(id), 4 * kMiB);
  ASSERT_TRUE(backend_.Attach(id).ok());
  request.set_volume_id(id);
  EXPECT_EQ(service_.DeleteVolume(nullptr, &request, &response).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  ASSERT_TRUE(backend_.Detach(id).ok());
  EXPECT_TRUE(service_.DeleteVolume(nullptr, &request, &response).ok());
  EXPECT_TRUE(fs_.ListDir(kDir)->empty());
  EXPECT_TRUE(service_.DeleteVolume(nullptr, &request, &response).ok());
}

TEST_F(ControllerServiceTest, ValidateVolumeCapabilities) {
  const std::string id = CreateOk("pvc-v");
  csi::v1::ValidateVolumeCapabilitiesRequest request;
  csi::v1::ValidateVolumeCapabilitiesResponse response;
  EXPECT_EQ(service_.ValidateVolumeCapabilities(nullptr, &request, &response)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  request.set_volume_id(id);
  EXPECT_EQ(service_.ValidateVolumeCapabilities(nullptr, &request, &response)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  *request.add_volume_capabilities() = MountCap();
  ASSERT_TRUE(
      service_.ValidateVolumeCapabilities(nullptr, &request, &response).ok());
  EXPECT_TRUE(response.has_confirmed());
  response.Clear();
  *request.mutable_volume_capabilities(0) = BlockCap();
  ASSERT_TRUE(
      service_.ValidateVolumeCapabilities(nullptr, &request, &response).ok());
  EXPECT_FALSE(response.has_confirmed());
  EXPECT_NE(response.message().find("filesystem"), std::string::npos);
  response.Clear();
  *request.mutable_volume_capabilities(0) =
      MountCap(Mode::MULTI_NODE_READER_ONLY);
  ASSERT_TRUE(
      service_.ValidateVolumeCapabilities(nullptr, &request, &response).ok());
  EXPECT_FALSE(response.has_confirmed());
  request.set_volume_id(MakeId(IdKind::kVolume, kNode, "default", "ghost"));
  EXPECT_EQ(service_.ValidateVolumeCapabilities(nullptr, &request, &response)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
  request.set_volume_id("nonsense");
  EXPECT_EQ(service_.ValidateVolumeCapabilities(nullptr, &request, &response)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ControllerServiceTest, ListVolumesPaginates) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i)
    ids.push_back(CreateOk("pvc-" + std::to_string(i)));
  std::sort(ids.begin(), ids.end());
  csi::v1::ListVolumesRequest request;
  request.set_max_entries(2);
  csi::v1::ListVolumesResponse page;
  ASSERT_TRUE(service_.ListVolumes(nullptr, &request, &page).ok());
  ASSERT_EQ(page.entries_size(), 2);
  EXPECT_EQ(page.entries(0).volume().volume_id(), ids[0]);
  EXPECT_EQ(page.next_token(), ids[1]);
  // Delete the last volume of the page: the token still works.
  csi::v1::DeleteVolumeRequest del;
  del.set_volume_id(ids[1]);
  csi::v1::DeleteVolumeResponse del_response;
  ASSERT_TRUE(service_.DeleteVolume(nullptr, &del, &del_response).ok());
  request.set_starting_token(page.next_token());
  request.set_max_entries(0);
  csi::v1::ListVolumesResponse rest;
  ASSERT_TRUE(service_.ListVolumes(nullptr, &request, &rest).ok());
  ASSERT_EQ(rest.entries_size(), 3);
  EXPECT_EQ(rest.entries(0).volume().volume_id(), ids[2]);
  EXPECT_TRUE(rest.next_token().empty());

  request.set_starting_token("not-a-token");
  EXPECT_EQ(service_.ListVolumes(nullptr, &request, &rest).error_code(),
            grpc::StatusCode::ABORTED);
  request.clear_starting_token();
  request.set_max_entries(-1);
  EXPECT_EQ(service_.ListVolumes(nullptr, &request, &rest).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ControllerServiceTest, ListAndGetShowPublishedNode) {
  const std::string id = CreateOk("pvc-p", 4 * kMiB);
  loops_.AddImage(backend_.ImagePath(id), 4 * kMiB);
  ASSERT_TRUE(backend_.Attach(id).ok());
  csi::v1::ListVolumesRequest request;
  csi::v1::ListVolumesResponse response;
  ASSERT_TRUE(service_.ListVolumes(nullptr, &request, &response).ok());
  ASSERT_EQ(response.entries_size(), 1);
  ASSERT_EQ(response.entries(0).status().published_node_ids_size(), 1);
  EXPECT_EQ(response.entries(0).status().published_node_ids(0), kNode);

  csi::v1::ControllerGetVolumeRequest get;
  get.set_volume_id(id);
  csi::v1::ControllerGetVolumeResponse got;
  ASSERT_TRUE(service_.ControllerGetVolume(nullptr, &get, &got).ok());
  EXPECT_EQ(got.volume().capacity_bytes(), static_cast<int64_t>(4 * kMiB));
  EXPECT_EQ(got.status().published_node_ids_size(), 1);
  EXPECT_FALSE(got.status().volume_condition().abnormal());
  get.set_volume_id(MakeId(IdKind::kVolume, kNode, "default", "ghost"));
  EXPECT_EQ(service_.ControllerGetVolume(nullptr, &get, &got).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ControllerServiceTest, GetCapacity) {
  csi::v1::GetCapacityRequest request;
  csi::v1::GetCapacityResponse response;
  ASSERT_TRUE(service_.GetCapacity(nullptr, &request, &response).ok());
  EXPECT_EQ(response.available_capacity(), static_cast<int64_t>(49 * kGiB));
  (*request.mutable_accessible_topology()->mutable_segments())[kTopologyKey] =
      "node-2";
  ASSERT_TRUE(service_.GetCapacity(nullptr, &request, &response).ok());
  EXPECT_EQ(response.available_capacity(), 0);
  request.clear_accessible_topology();
  (*request.mutable_parameters())["bogus"] = "1";
  EXPECT_EQ(service_.GetCapacity(nullptr, &request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ControllerServiceTest, ExpandGrowsImageAndAsksTheNodeForFilesystems) {
  const std::string id = CreateOk("pvc-e", 8 * kMiB);
  csi::v1::ControllerExpandVolumeRequest request;
  csi::v1::ControllerExpandVolumeResponse response;
  EXPECT_EQ(service_.ControllerExpandVolume(nullptr, &request, &response)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  request.set_volume_id(id);
  EXPECT_EQ(service_.ControllerExpandVolume(nullptr, &request, &response)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  request.mutable_capacity_range()->set_required_bytes(20 * kMiB);
  ASSERT_TRUE(
      service_.ControllerExpandVolume(nullptr, &request, &response).ok());
  EXPECT_EQ(response.capacity_bytes(), static_cast<int64_t>(20 * kMiB));
  EXPECT_TRUE(response.node_expansion_required());
  EXPECT_EQ(fs_.Stat(backend_.ImagePath(id))->size, 20 * kMiB);
  // Smaller than now: nothing shrinks.
  request.mutable_capacity_range()->set_required_bytes(10 * kMiB);
  ASSERT_TRUE(
      service_.ControllerExpandVolume(nullptr, &request, &response).ok());
  EXPECT_EQ(response.capacity_bytes(), static_cast<int64_t>(20 * kMiB));
  request.set_volume_id(MakeId(IdKind::kVolume, kNode, "default", "ghost"));
  EXPECT_EQ(service_.ControllerExpandVolume(nullptr, &request, &response)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ControllerServiceTest, ExpandBlockNeedsNoNodeStep) {
  auto create = CreateRequest("pvc-b", 8 * kMiB);
  *create.mutable_volume_capabilities(0) = BlockCap();
  csi::v1::CreateVolumeResponse created;
  ASSERT_TRUE(Create(create, &created).ok());
  csi::v1::ControllerExpandVolumeRequest request;
  request.set_volume_id(created.volume().volume_id());
  request.mutable_capacity_range()->set_required_bytes(16 * kMiB);
  csi::v1::ControllerExpandVolumeResponse response;
  ASSERT_TRUE(
      service_.ControllerExpandVolume(nullptr, &request, &response).ok());
  EXPECT_FALSE(response.node_expansion_required());
}

TEST_F(ControllerServiceTest, ControllerModeTouchesNothing) {
  ControllerService remote(Config(false), {}, &locks_);
  csi::v1::ControllerExpandVolumeRequest request;
  request.set_volume_id(MakeId(IdKind::kVolume, kNode, "default", "x"));
  request.mutable_capacity_range()->set_required_bytes(20 * kMiB);
  csi::v1::ControllerExpandVolumeResponse response;
  ASSERT_TRUE(remote.ControllerExpandVolume(nullptr, &request, &response).ok());
  EXPECT_TRUE(response.node_expansion_required());
  EXPECT_EQ(response.capacity_bytes(), static_cast<int64_t>(20 * kMiB));
  csi::v1::ControllerGetCapabilitiesRequest caps_request;
  csi::v1::ControllerGetCapabilitiesResponse caps;
  ASSERT_TRUE(
      remote.ControllerGetCapabilities(nullptr, &caps_request, &caps).ok());
  for (const auto& cap : caps.capabilities()) {
    EXPECT_NE(cap.rpc().type(),
              csi::v1::ControllerServiceCapability::RPC::CREATE_DELETE_VOLUME);
  }
}

TEST_F(ControllerServiceTest, CapabilitiesOfALocalController) {
  csi::v1::ControllerGetCapabilitiesRequest request;
  csi::v1::ControllerGetCapabilitiesResponse response;
  ASSERT_TRUE(
      service_.ControllerGetCapabilities(nullptr, &request, &response).ok());
  std::set<int> types;
  for (const auto& cap : response.capabilities())
    types.insert(cap.rpc().type());
  using Rpc = csi::v1::ControllerServiceCapability::RPC;
  for (auto t : {Rpc::CREATE_DELETE_VOLUME, Rpc::LIST_VOLUMES,
                 Rpc::GET_CAPACITY, Rpc::EXPAND_VOLUME, Rpc::GET_VOLUME,
                 Rpc::VOLUME_CONDITION, Rpc::LIST_VOLUMES_PUBLISHED_NODES}) {
    EXPECT_TRUE(types.count(t)) << t;
  }
  EXPECT_FALSE(types.count(Rpc::PUBLISH_UNPUBLISH_VOLUME));
  EXPECT_TRUE(types.count(Rpc::CREATE_DELETE_SNAPSHOT));
  EXPECT_TRUE(types.count(Rpc::LIST_SNAPSHOTS));
  EXPECT_TRUE(types.count(Rpc::CLONE_VOLUME));
  // Served, but csi-sanity v5.4.0 rejects drivers that advertise it.
  EXPECT_FALSE(types.count(Rpc::GET_SNAPSHOT));
}

// ---------------------------------------------------------------- Snapshots

class SnapshotTest : public ControllerServiceTest {
 protected:
  grpc::Status Snapshot(const std::string& name, const std::string& source,
                        csi::v1::CreateSnapshotResponse* response = nullptr) {
    csi::v1::CreateSnapshotRequest request;
    request.set_name(name);
    request.set_source_volume_id(source);
    csi::v1::CreateSnapshotResponse local;
    return service_.CreateSnapshot(nullptr, &request,
                                   response ? response : &local);
  }
};

TEST_F(SnapshotTest, RecordedTimesComeFromTheClock) {
  const std::string volume = CreateOk("pvc-t", 8 * kMiB);
  absl::StatusOr<VolumeRecord> record = backend_.Get(volume);
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->created_unix(), 1767323045);

  clock_.Advance(absl::Seconds(10));
  csi::v1::CreateSnapshotResponse first;
  ASSERT_TRUE(Snapshot("snap-t", volume, &first).ok());
  EXPECT_EQ(first.snapshot().creation_time().seconds(), 1767323055);
  EXPECT_EQ(first.snapshot().creation_time().nanos(), 678901234);
  // A retry answers with the instant the snapshot was taken, not now.
  clock_.Advance(absl::Hours(1));
  csi::v1::CreateSnapshotResponse again;
  ASSERT_TRUE(Snapshot("snap-t", volume, &again).ok());
  EXPECT_EQ(again.snapshot().creation_time().seconds(), 1767323055);
  EXPECT_EQ(again.snapshot().creation_time().nanos(), 678901234);
}

TEST_F(SnapshotTest, CreateIsIdempotentAndValidated) {
  const std::string volume = CreateOk("pvc-s", 8 * kMiB);
  csi::v1::CreateSnapshotResponse first, second;
  ASSERT_TRUE(Snapshot("snap-1", volume, &first).ok());
  EXPECT_TRUE(first.snapshot().ready_to_use());
  EXPECT_EQ(first.snapshot().source_volume_id(), volume);
  EXPECT_EQ(first.snapshot().size_bytes(), static_cast<int64_t>(8 * kMiB));
  EXPECT_GT(first.snapshot().creation_time().seconds(), 0);
  auto id = ParseId(first.snapshot().snapshot_id());
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->kind, IdKind::kSnapshot);
  ASSERT_TRUE(Snapshot("snap-1", volume, &second).ok());
  EXPECT_EQ(second.snapshot().snapshot_id(), first.snapshot().snapshot_id());
  const std::string other = CreateOk("pvc-other", 8 * kMiB);
  EXPECT_EQ(Snapshot("snap-1", other).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Snapshot("", volume).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Snapshot("x", "").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Snapshot("x", MakeId(IdKind::kVolume, kNode, "default", "ghost"))
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Snapshot("x", "garbage").error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(SnapshotTest, ListGetDeleteAndPaginate) {
  const std::string a = CreateOk("pvc-a", 4 * kMiB);
  const std::string b = CreateOk("pvc-b", 4 * kMiB);
  std::vector<std::string> ids;
  for (const auto& [name, source] :
       std::vector<std::pair<std::string, std::string>>{
           {"s1", a}, {"s2", a}, {"s3", b}}) {
    csi::v1::CreateSnapshotResponse response;
    ASSERT_TRUE(Snapshot(name, source, &response).ok());
    ids.push_back(response.snapshot().snapshot_id());
  }
  std::sort(ids.begin(), ids.end());
  csi::v1::ListSnapshotsRequest list;
  csi::v1::ListSnapshotsResponse page;
  list.set_max_entries(2);
  ASSERT_TRUE(service_.ListSnapshots(nullptr, &list, &page).ok());
  ASSERT_EQ(page.entries_size(), 2);
  EXPECT_EQ(page.next_token(), ids[1]);
  list.set_starting_token(page.next_token());
  csi::v1::ListSnapshotsResponse rest;
  ASSERT_TRUE(service_.ListSnapshots(nullptr, &list, &rest).ok());
  ASSERT_EQ(rest.entries_size(), 1);
  EXPECT_EQ(rest.entries(0).snapshot().snapshot_id(), ids[2]);
  list.set_starting_token("bogus");
  EXPECT_EQ(service_.ListSnapshots(nullptr, &list, &rest).error_code(),
            grpc::StatusCode::ABORTED);
  csi::v1::ListSnapshotsRequest by_source;
  by_source.set_source_volume_id(a);
  csi::v1::ListSnapshotsResponse of_a;
  ASSERT_TRUE(service_.ListSnapshots(nullptr, &by_source, &of_a).ok());
  EXPECT_EQ(of_a.entries_size(), 2);
  csi::v1::ListSnapshotsRequest by_id;
  by_id.set_snapshot_id(ids[0]);
  csi::v1::ListSnapshotsResponse one;
  ASSERT_TRUE(service_.ListSnapshots(nullptr, &by_id, &one).ok());
  EXPECT_EQ(one.entries_size(), 1);
  for (const std::string& unknown :
       {std::string("nonexistent"),
        MakeId(IdKind::kSnapshot, kNode, "default", "never-taken")}) {
    by_id.set_snapshot_id(unknown);
    csi::v1::ListSnapshotsResponse none;
    ASSERT_TRUE(service_.ListSnapshots(nullptr, &by_id, &none).ok());
    EXPECT_EQ(none.entries_size(), 0) << unknown;
    EXPECT_TRUE(none.next_token().empty());
  }
  csi::v1::GetSnapshotRequest get;
  get.set_snapshot_id(ids[0]);
  csi::v1::GetSnapshotResponse got;
  ASSERT_TRUE(service_.GetSnapshot(nullptr, &get, &got).ok());
  EXPECT_EQ(got.snapshot().snapshot_id(), ids[0]);
  csi::v1::DeleteSnapshotRequest del;
  csi::v1::DeleteSnapshotResponse deleted;
  EXPECT_EQ(service_.DeleteSnapshot(nullptr, &del, &deleted).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  del.set_snapshot_id("reallyfakesnapshotid");
  EXPECT_TRUE(service_.DeleteSnapshot(nullptr, &del, &deleted).ok());
  del.set_snapshot_id(ids[0]);
  ASSERT_TRUE(service_.DeleteSnapshot(nullptr, &del, &deleted).ok());
  ASSERT_TRUE(service_.DeleteSnapshot(nullptr, &del, &deleted).ok());
  EXPECT_EQ(service_.GetSnapshot(nullptr, &get, &got).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(SnapshotTest, RestoreAndCloneTakeSizeAndKind) {
  const std::string volume = CreateOk("pvc-src", 8 * kMiB);
  csi::v1::CreateSnapshotResponse snap;
  ASSERT_TRUE(Snapshot("snap", volume, &snap).ok());
  auto restore = CreateRequest("restored", 16 * kMiB);
  restore.mutable_volume_content_source()->mutable_snapshot()->set_snapshot_id(
      snap.snapshot().snapshot_id());
  csi::v1::CreateVolumeResponse restored;
  ASSERT_TRUE(Create(restore, &restored).ok());
  EXPECT_EQ(restored.volume().capacity_bytes(),
            static_cast<int64_t>(16 * kMiB));
  EXPECT_EQ(restored.volume().content_source().snapshot().snapshot_id(),
            snap.snapshot().snapshot_id());
  auto record = backend_.Get(restored.volume().volume_id());
  ASSERT_TRUE(record.ok());
  EXPECT_TRUE(record->grow_filesystem_on_stage());
  EXPECT_EQ(record->encryption_key_id(), volume);
  EXPECT_EQ(fs_.Stat(backend_.ImagePath(record->volume_id()))->size, 16 * kMiB);
  ASSERT_TRUE(Create(restore, &restored).ok());  // idempotent
  // Smaller than the source: refused.
  auto small = CreateRequest("small", 4 * kMiB);
  *small.mutable_volume_content_source() = restore.volume_content_source();
  EXPECT_EQ(Create(small).error_code(), grpc::StatusCode::OUT_OF_RANGE);
  // Block from a filesystem snapshot: refused.
  auto block = CreateRequest("blk", 8 * kMiB);
  *block.mutable_volume_capabilities(0) = BlockCap();
  *block.mutable_volume_content_source() = restore.volume_content_source();
  EXPECT_EQ(Create(block).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // A clone of the live volume, default size: the source's.
  auto clone = CreateRequest("clone");
  clone.clear_capacity_range();
  clone.mutable_volume_content_source()->mutable_volume()->set_volume_id(
      volume);
  csi::v1::CreateVolumeResponse cloned;
  ASSERT_TRUE(Create(clone, &cloned).ok());
  EXPECT_EQ(cloned.volume().capacity_bytes(), static_cast<int64_t>(8 * kMiB));
  EXPECT_EQ(cloned.volume().content_source().volume().volume_id(), volume);
}

TEST_F(SnapshotTest, AClonesInstantWaitsForItsSourcesOtherCalls) {
  const std::string volume = CreateOk("pvc-src", 8 * kMiB);
  auto clone = CreateRequest("clone", 8 * kMiB);
  clone.mutable_volume_content_source()->mutable_volume()->set_volume_id(
      volume);
  {
    // An unstage, expansion or delete of the source is running.
    VolumeLockGuard busy(&locks_, volume);
    ASSERT_TRUE(busy.ok());
    EXPECT_EQ(Create(clone).error_code(), grpc::StatusCode::ABORTED);
  }
  // The retry makes the copy (the refused call had copied nothing).
  csi::v1::CreateVolumeResponse cloned;
  ASSERT_TRUE(Create(clone, &cloned).ok());
  EXPECT_EQ(fs_.Stat(backend_.ImagePath(cloned.volume().volume_id()))->size,
            8 * kMiB);
  // Nor does the clone keep the source locked once done.
  VolumeLockGuard after(&locks_, volume);
  EXPECT_TRUE(after.ok());
}

}  // namespace
}  // namespace cellar

namespace cellar {
namespace {

// ---------------------------------------------------------------- Owners
// Data copied from a volume keeps the volume's access policy.

class CopyOwnerTest : public SnapshotTest {
 protected:
  std::string Owned(const std::string& name, const std::string& ns,
                    const std::string& allowed = "") {
    auto request = CreateRequest(name, 4 * kMiB);
    (*request.mutable_parameters())["csi.storage.k8s.io/pvc/namespace"] = ns;
    if (!allowed.empty()) {
      (*request.mutable_parameters())["allowedNamespaces"] = allowed;
    }
    csi::v1::CreateVolumeResponse response;
    EXPECT_TRUE(Create(request, &response).ok());
    return response.volume().volume_id();
  }
  grpc::Status CopyOf(const std::string& name, const std::string& source,
                      bool snapshot,
                      const std::map<std::string, std::string>& params,
                      std::string* id = nullptr) {
    auto request = CreateRequest(name, 4 * kMiB);
    for (const auto& [k, v] : params) (*request.mutable_parameters())[k] = v;
    if (snapshot) {
      request.mutable_volume_content_source()
          ->mutable_snapshot()
          ->set_snapshot_id(source);
    } else {
      request.mutable_volume_content_source()->mutable_volume()->set_volume_id(
          source);
    }
    csi::v1::CreateVolumeResponse response;
    grpc::Status status = Create(request, &response);
    if (id != nullptr) *id = response.volume().volume_id();
    return status;
  }
  size_t VolumeCount() { return backend_.List()->size(); }
};

TEST_F(CopyOwnerTest, SnapshotsRecordTheirVolumesPolicy) {
  const std::string volume = Owned("src", "team-a", "team-c");
  csi::v1::CreateSnapshotResponse snap;
  ASSERT_TRUE(Snapshot("s", volume, &snap).ok());
  absl::StatusOr<SnapshotRecord> record =
      backend_.GetSnapshot(snap.snapshot().snapshot_id());
  ASSERT_TRUE(record.ok());
  EXPECT_EQ(record->bound_namespace(), "team-a");
  ASSERT_EQ(record->allowed_namespaces_size(), 1);
  EXPECT_EQ(record->allowed_namespaces(0), "team-c");
}

TEST_F(CopyOwnerTest, ACopyForANamespaceTheSourceRefusesIsDenied) {
  const std::string volume = Owned("src", "team-a");
  csi::v1::CreateSnapshotResponse snap;
  ASSERT_TRUE(Snapshot("s", volume, &snap).ok());
  const std::string snapshot = snap.snapshot().snapshot_id();
  const size_t before = VolumeCount();
  for (bool from_snapshot : {true, false}) {
    const std::string& source = from_snapshot ? snapshot : volume;
    const grpc::Status other =
        CopyOf("thief", source, from_snapshot,
               {{"csi.storage.k8s.io/pvc/namespace", "team-b"}});
    EXPECT_EQ(other.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_NE(other.error_message().find("team-b"), std::string::npos);
    // Widening through the copy's own parameters.
    EXPECT_EQ(CopyOf("wide", source, from_snapshot,
                     {{"csi.storage.k8s.io/pvc/namespace", "team-a"},
                      {"allowedNamespaces", "team-b"}})
                  .error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(CopyOf("wide-sa", source, from_snapshot,
                     {{"allowedServiceAccounts", "team-b/default"}})
                  .error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  EXPECT_EQ(VolumeCount(), before);
}

TEST_F(CopyOwnerTest, ACopyWithNoNamespaceInheritsAndAnAdmittedOneNarrows) {
  const std::string volume = Owned("src", "team-a", "team-c");
  csi::v1::CreateSnapshotResponse snap;
  ASSERT_TRUE(Snapshot("s", volume, &snap).ok());
  for (bool from_snapshot : {true, false}) {
    const std::string source =
        from_snapshot ? snap.snapshot().snapshot_id() : volume;
    std::string inherited, admitted;
    ASSERT_TRUE(CopyOf(from_snapshot ? "r1" : "c1", source, from_snapshot, {},
                       &inherited)
                    .ok());
    ASSERT_TRUE(CopyOf(from_snapshot ? "r2" : "c2", source, from_snapshot,
                       {{"csi.storage.k8s.io/pvc/namespace", "team-c"}},
                       &admitted)
                    .ok());
    absl::StatusOr<VolumeRecord> record = backend_.Get(inherited);
    ASSERT_TRUE(record.ok());
    EXPECT_EQ(record->bound_namespace(), "team-a");
    ASSERT_EQ(record->allowed_namespaces_size(), 1);
    EXPECT_EQ(record->allowed_namespaces(0), "team-c");
    // The admitted request's own, narrower policy.
    record = backend_.Get(admitted);
    ASSERT_TRUE(record.ok());
    EXPECT_EQ(record->bound_namespace(), "team-c");
    EXPECT_EQ(record->allowed_namespaces_size(), 0);
  }
}

TEST_F(CopyOwnerTest, AnUnrestrictedSourceTakesTheRequestsPolicy) {
  const std::string volume = CreateOk("open", 4 * kMiB);
  std::string copy;
  ASSERT_TRUE(CopyOf("c", volume, false,
                     {{"csi.storage.k8s.io/pvc/namespace", "team-b"}}, &copy)
                  .ok());
  EXPECT_EQ(backend_.Get(copy)->bound_namespace(), "team-b");
}

TEST_F(CopyOwnerTest, ASnapshotForANamespaceTheVolumeRefusesIsDenied) {
  const std::string volume = Owned("src", "team-a");
  csi::v1::CreateSnapshotRequest request;
  request.set_name("stolen");
  request.set_source_volume_id(volume);
  (*request
        .mutable_parameters())["csi.storage.k8s.io/volumesnapshot/namespace"] =
      "team-b";
  csi::v1::CreateSnapshotResponse response;
  EXPECT_EQ(service_.CreateSnapshot(nullptr, &request, &response).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(backend_.ListSnapshots()->empty());
  (*request
        .mutable_parameters())["csi.storage.k8s.io/volumesnapshot/namespace"] =
      "team-a";
  EXPECT_TRUE(service_.CreateSnapshot(nullptr, &request, &response).ok());
}

TEST_F(CopyOwnerTest, BothSnapshotNamespaceKeysAreChecked) {
  const std::string volume = Owned("src", "team-a");
  csi::v1::CreateSnapshotRequest request;
  request.set_name("both");
  request.set_source_volume_id(volume);
  (*request
        .mutable_parameters())["csi.storage.k8s.io/volumesnapshot/namespace"] =
      "team-a";
  (*request.mutable_parameters())
      ["csi.storage.k8s.io/volumegroupsnapshot/namespace"] = "team-b";
  csi::v1::CreateSnapshotResponse response;
  EXPECT_EQ(service_.CreateSnapshot(nullptr, &request, &response).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(CopyOwnerTest, ARetriedSnapshotIsCheckedAsANewOne) {
  const std::string volume = Owned("src", "team-a");
  csi::v1::CreateSnapshotRequest request;
  request.set_name("nightly");
  request.set_source_volume_id(volume);
  csi::v1::CreateSnapshotResponse response;
  ASSERT_TRUE(service_.CreateSnapshot(nullptr, &request, &response).ok());
  // The same name again, now asked for from team-b.
  (*request
        .mutable_parameters())["csi.storage.k8s.io/volumesnapshot/namespace"] =
      "team-b";
  EXPECT_EQ(service_.CreateSnapshot(nullptr, &request, &response).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(CopyOwnerTest, APlainSnapshotCannotTakeAGroupMembersId) {
  const std::string victim = Owned("victim", "team-a");
  const std::string attacker = Owned("attacker", "team-b");
  const std::string group = MakeId(IdKind::kGroup, kNode, "group", "nightly");
  csi::v1::CreateSnapshotRequest request;
  request.set_name(group + "/" + victim);
  request.set_source_volume_id(attacker);
  csi::v1::CreateSnapshotResponse response;
  EXPECT_EQ(service_.CreateSnapshot(nullptr, &request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(backend_.ListSnapshots()->empty());
}

TEST_F(CopyOwnerTest, AFailedGroupSnapshotTakesBackItsMembers) {
  const std::string a = Owned("a", "team-a");
  const std::string b = Owned("b", "team-a");
  // b's image is gone: its member cannot be copied after a's was.
  loops_.AddImage(backend_.ImagePath(a), 4 * kMiB);
  ASSERT_TRUE(fs_.Remove(backend_.ImagePath(b)).ok());
  google::protobuf::Map<std::string, std::string> params;
  std::vector<SnapshotRecord> members;
  EXPECT_FALSE(service_.SnapshotGroup("g_y", {a, b}, params, &members).ok());
  EXPECT_TRUE(members.empty());
  EXPECT_TRUE(backend_.ListSnapshots()->empty());
}

// A finished group keeps its instant: it cannot be widened by a later
// request under its name, nor a member deleted alone and retaken, and half
// a group (a driver died while taking it) is taken again whole.
TEST_F(CopyOwnerTest, AGroupIsOneInstantAndGoesWhole) {
  const std::string a = Owned("a", "team-a");
  const std::string b = Owned("b", "team-a");
  GroupControllerService groups(kNode, &service_);
  auto create = [&groups](
                    const std::vector<std::string>& volumes,
                    csi::v1::CreateVolumeGroupSnapshotResponse* response) {
    csi::v1::CreateVolumeGroupSnapshotRequest request;
    request.set_name("nightly");
    for (const std::string& id : volumes) request.add_source_volume_ids(id);
    return groups.CreateVolumeGroupSnapshot(nullptr, &request, response);
  };
  csi::v1::CreateVolumeGroupSnapshotResponse one;
  ASSERT_TRUE(create({a}, &one).ok());
  csi::v1::CreateVolumeGroupSnapshotResponse wider;
  EXPECT_EQ(create({a, b}, &wider).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(backend_.ListSnapshots()->size(), 1u);

  // A member alone: refused, the group stays whole.
  const std::string member = one.group_snapshot().snapshots(0).snapshot_id();
  csi::v1::DeleteSnapshotRequest alone;
  alone.set_snapshot_id(member);
  csi::v1::DeleteSnapshotResponse deleted;
  EXPECT_EQ(service_.DeleteSnapshot(nullptr, &alone, &deleted).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(backend_.GetSnapshot(member).ok());
  csi::v1::CreateVolumeGroupSnapshotResponse again;
  ASSERT_TRUE(create({a}, &again).ok());
  EXPECT_EQ(again.group_snapshot().snapshots(0).creation_time().seconds(),
            one.group_snapshot().snapshots(0).creation_time().seconds());

  // Half of a two-member group (the driver died after its first member):
  // the retry takes both again, under one instant.
  std::vector<SnapshotRecord> members;
  google::protobuf::Map<std::string, std::string> params;
  ASSERT_TRUE(service_.SnapshotGroup("g_half", {a, b}, params, &members).ok());
  ASSERT_EQ(members.size(), 2u);
  ASSERT_TRUE(backend_.DeleteSnapshot(members[1].snapshot_id()).ok());
  const std::string kept = members[0].snapshot_id();
  std::vector<SnapshotRecord> retaken;
  ASSERT_TRUE(service_.SnapshotGroup("g_half", {a, b}, params, &retaken).ok());
  ASSERT_EQ(retaken.size(), 2u);
  EXPECT_EQ(retaken[0].creation_unix(), retaken[1].creation_unix());
  EXPECT_EQ(retaken[0].creation_nanos(), retaken[1].creation_nanos());
  // and a group of other volumes under its name is another group
  std::vector<SnapshotRecord> other;
  EXPECT_EQ(service_.SnapshotGroup("g_half", {a}, params, &other).code(),
            absl::StatusCode::kAlreadyExists);
  (void)kept;
}

// A group's delete waits for the group's own creation, and never takes
// the data of a snapshot whose create is in flight (data written, record
// not yet) even when the request names its id.
TEST_F(CopyOwnerTest, AGroupDeleteNeverRacesACreate) {
  const std::string a = Owned("a", "team-a");
  std::vector<SnapshotRecord> members;
  google::protobuf::Map<std::string, std::string> params;
  ASSERT_TRUE(service_.SnapshotGroup("g_z", {a}, params, &members).ok());
  {
    VolumeLockGuard creating(&locks_, "g_z");
    EXPECT_EQ(service_.DeleteGroup("g_z", {}).code(),
              absl::StatusCode::kAborted);
  }
  const std::string in_flight =
      MakeId(IdKind::kSnapshot, kNode, "default", "x");
  {
    VolumeLockGuard creating(&locks_, in_flight);
    EXPECT_EQ(service_.DeleteGroup("g_z", {members[0].snapshot_id(), in_flight})
                  .code(),
              absl::StatusCode::kAborted);
  }
  EXPECT_EQ(backend_.ListSnapshots()->size(), 1u);
  EXPECT_TRUE(service_.DeleteGroup("g_z", {members[0].snapshot_id()}).ok());
  EXPECT_TRUE(backend_.ListSnapshots()->empty());
}

TEST_F(CopyOwnerTest, GroupSnapshotMembersKeepTheirOwners) {
  const std::string a = Owned("a", "team-a");
  const std::string b = Owned("b", "team-b");
  google::protobuf::Map<std::string, std::string> params;
  params["csi.storage.k8s.io/volumegroupsnapshot/namespace"] = "team-a";
  std::vector<SnapshotRecord> members;
  EXPECT_EQ(service_.SnapshotGroup("g_x", {a, b}, params, &members).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(backend_.ListSnapshots()->empty());
  params.clear();
  ASSERT_TRUE(service_.SnapshotGroup("g_x", {a, b}, params, &members).ok());
  ASSERT_EQ(members.size(), 2u);
  const std::vector<SnapshotRecord> stored = *backend_.ListSnapshots();
  ASSERT_EQ(stored.size(), 2u);
  for (const SnapshotRecord& member : stored) {
    EXPECT_EQ(member.bound_namespace(),
              member.source_volume_id() == a ? "team-a" : "team-b");
  }
}

// A thick LVM class copies its snapshots in the background: ready_to_use
// is false until the copy is done, in CreateSnapshot, GetSnapshot (via
// ListSnapshots by id) and the group's members alike; a restore from it
// waits for the copy.
class ThickSnapshotTest : public ::testing::Test {
 protected:
  ThickSnapshotTest()
      : thick_({"vg0", "", 0, 1.0, {}}, &runner_, &fs_, &copier_),
        service_(ConfigFor(true, "bulk"), {{"bulk", &thick_}}, &locks_) {
    lvm_.AddVg("vg0", 10 * kGiB);
    runner_.SetHandler("lvm", lvm_.Handler());
    runner_.SetHandler("blkdiscard", lvm_.BlkdiscardHandler());
  }
  bool Ready(const std::string& snapshot_id) {
    csi::v1::ListSnapshotsRequest request;
    request.set_snapshot_id(snapshot_id);
    csi::v1::ListSnapshotsResponse response;
    EXPECT_TRUE(service_.ListSnapshots(nullptr, &request, &response).ok());
    EXPECT_EQ(response.entries_size(), 1);
    return response.entries_size() == 1 &&
           response.entries(0).snapshot().ready_to_use();
  }

  testing::FakeLvm lvm_;
  FakeCommandRunner runner_;
  FakeFileSystem fs_;
  FakeBlockCopier copier_;
  LvmBackend thick_;
  VolumeLocks locks_;
  ControllerService service_;
};

TEST_F(ThickSnapshotTest, ReadyToUseOnlyOnceCopied) {
  csi::v1::CreateVolumeRequest create;
  create.set_name("pvc-t");
  *create.add_volume_capabilities() = MountCap();
  create.mutable_capacity_range()->set_required_bytes(64 * kMiB);
  csi::v1::CreateVolumeResponse volume;
  ASSERT_TRUE(service_.CreateVolume(nullptr, &create, &volume).ok());

  copier_.Hold();
  csi::v1::CreateSnapshotRequest request;
  request.set_name("snap-t");
  request.set_source_volume_id(volume.volume().volume_id());
  csi::v1::CreateSnapshotResponse first;
  grpc::Status status = service_.CreateSnapshot(nullptr, &request, &first);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(first.snapshot().ready_to_use());
  EXPECT_EQ(first.snapshot().size_bytes(), static_cast<int64_t>(64 * kMiB));
  const std::string id = first.snapshot().snapshot_id();
  EXPECT_FALSE(Ready(id));
  csi::v1::CreateSnapshotResponse again;
  ASSERT_TRUE(service_.CreateSnapshot(nullptr, &request, &again).ok());
  EXPECT_FALSE(again.snapshot().ready_to_use());
  EXPECT_EQ(again.snapshot().snapshot_id(), id);

  copier_.Release();
  ASSERT_TRUE(thick_.WaitForCopy(id, absl::Seconds(30)));
  EXPECT_TRUE(Ready(id));
  ASSERT_TRUE(service_.CreateSnapshot(nullptr, &request, &again).ok());
  EXPECT_TRUE(again.snapshot().ready_to_use());

  // A snapshot whose COW area overflowed can never be ready, and is never
  // taken again under its id (its caller recorded the first instant): a
  // retried CreateSnapshot says so and changes nothing; it can be deleted,
  // and a new name takes a new one.
  request.set_name("snap-lost");
  copier_.Hold();
  csi::v1::CreateSnapshotResponse lost;
  ASSERT_TRUE(service_.CreateSnapshot(nullptr, &request, &lost).ok());
  const std::string lost_id = lost.snapshot().snapshot_id();
  lvm_.Invalidate("vg0", "ct-" + LvmBackend::LvName(lost_id));
  copier_.Release();
  ASSERT_TRUE(thick_.WaitForCopy(lost_id, absl::Seconds(30)));
  EXPECT_FALSE(Ready(lost_id));
  const std::vector<std::string> lvs_before = lvm_.LvNames("vg0");
  const size_t calls_before = runner_.calls().size();
  csi::v1::CreateSnapshotResponse retried;
  status = service_.CreateSnapshot(nullptr, &request, &retried);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(status.error_message().find("lost its point in time"),
            std::string::npos);
  EXPECT_EQ(lvm_.LvNames("vg0"), lvs_before);
  for (size_t i = calls_before; i < runner_.calls().size(); ++i) {
    const std::string verb =
        runner_.calls()[i].argv.size() > 1 ? runner_.calls()[i].argv[1] : "";
    EXPECT_TRUE(verb == "lvs" || verb == "vgs") << verb;
  }
  EXPECT_FALSE(Ready(lost_id));
  csi::v1::DeleteSnapshotRequest drop;
  drop.set_snapshot_id(lost_id);
  csi::v1::DeleteSnapshotResponse dropped;
  ASSERT_TRUE(service_.DeleteSnapshot(nullptr, &drop, &dropped).ok());
  request.set_name("snap-lost-2");
  csi::v1::CreateSnapshotResponse fresh;
  ASSERT_TRUE(service_.CreateSnapshot(nullptr, &request, &fresh).ok());
  ASSERT_TRUE(
      thick_.WaitForCopy(fresh.snapshot().snapshot_id(), absl::Seconds(30)));
  EXPECT_TRUE(Ready(fresh.snapshot().snapshot_id()));
  request.set_name("snap-t");

  // Restored: a thick volume of its own, larger if asked.
  csi::v1::CreateVolumeRequest restore = create;
  restore.set_name("pvc-r");
  restore.mutable_capacity_range()->set_required_bytes(128 * kMiB);
  restore.mutable_volume_content_source()->mutable_snapshot()->set_snapshot_id(
      id);
  csi::v1::CreateVolumeResponse restored;
  status = service_.CreateVolume(nullptr, &restore, &restored);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(restored.volume().capacity_bytes(),
            static_cast<int64_t>(128 * kMiB));
  EXPECT_EQ(restored.volume().content_source().snapshot().snapshot_id(), id);
}

// A group whose member lost its instant is not completed or retaken
// member by member (that would mix two instants): retrying it says so and
// changes nothing.
TEST_F(ThickSnapshotTest, AGroupWithALostMemberIsNeverRetaken) {
  std::vector<std::string> ids;
  for (const char* name : {"pvc-a", "pvc-b"}) {
    csi::v1::CreateVolumeRequest create;
    create.set_name(name);
    *create.add_volume_capabilities() = MountCap();
    create.mutable_capacity_range()->set_required_bytes(64 * kMiB);
    csi::v1::CreateVolumeResponse created;
    ASSERT_TRUE(service_.CreateVolume(nullptr, &create, &created).ok());
    ids.push_back(created.volume().volume_id());
  }
  GroupControllerService groups(kNode, &service_);
  csi::v1::CreateVolumeGroupSnapshotRequest request;
  request.set_name("nightly");
  for (const std::string& id : ids) request.add_source_volume_ids(id);
  copier_.Hold();
  csi::v1::CreateVolumeGroupSnapshotResponse first;
  grpc::Status status =
      groups.CreateVolumeGroupSnapshot(nullptr, &request, &first);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(first.group_snapshot().snapshots_size(), 2);
  const std::string lost = first.group_snapshot().snapshots(0).snapshot_id();
  lvm_.Invalidate("vg0", "ct-" + LvmBackend::LvName(lost));
  copier_.Release();
  for (const auto& member : first.group_snapshot().snapshots()) {
    ASSERT_TRUE(thick_.WaitForCopy(member.snapshot_id(), absl::Seconds(30)));
  }
  EXPECT_FALSE(Ready(lost));
  const std::vector<std::string> lvs_before = lvm_.LvNames("vg0");
  csi::v1::CreateVolumeGroupSnapshotResponse again;
  status = groups.CreateVolumeGroupSnapshot(nullptr, &request, &again);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(status.error_message().find("lost its point in time"),
            std::string::npos);
  EXPECT_EQ(lvm_.LvNames("vg0"), lvs_before);
  EXPECT_FALSE(Ready(lost));
}

// A thin class whose pool fills: ControllerGetVolume reports the volume
// condition from the pool's health, and GetCapacity drops to 0 at the
// class's create-limit while CreateVolume is RESOURCE_EXHAUSTED.
class ThinPoolConditionTest : public ::testing::Test {
 protected:
  static LvmBackendConfig ThinConfig() {
    LvmBackendConfig config;
    config.vg = "vg0";
    config.thin_pool = "pool0";
    config.overprovision = 2.0;
    config.guard.create_limit_percent = 90;
    return config;
  }
  ThinPoolConditionTest()
      : thin_(ThinConfig(), &runner_, &fs_, &copier_),
        service_(ConfigFor(true, "fast"), {{"fast", &thin_}}, &locks_) {
    lvm_.AddVg("vg0", 10 * kGiB);
    lvm_.AddThinPool("vg0", "pool0", 2 * kGiB);
    runner_.SetHandler("lvm", lvm_.Handler());
  }
  int64_t Capacity() {
    csi::v1::GetCapacityRequest request;
    csi::v1::GetCapacityResponse response;
    EXPECT_TRUE(service_.GetCapacity(nullptr, &request, &response).ok());
    return response.available_capacity();
  }

  testing::FakeLvm lvm_;
  FakeCommandRunner runner_;
  FakeFileSystem fs_;
  FakeBlockCopier copier_;
  LvmBackend thin_;
  VolumeLocks locks_;
  ControllerService service_;
};

TEST_F(ThinPoolConditionTest, AFullPoolShowsInTheConditionAndTheCapacity) {
  csi::v1::CreateVolumeRequest create;
  create.set_name("pvc-t");
  *create.add_volume_capabilities() = MountCap();
  create.mutable_capacity_range()->set_required_bytes(64 * kMiB);
  csi::v1::CreateVolumeResponse volume;
  ASSERT_TRUE(service_.CreateVolume(nullptr, &create, &volume).ok());
  csi::v1::ControllerGetVolumeRequest get;
  get.set_volume_id(volume.volume().volume_id());
  csi::v1::ControllerGetVolumeResponse got;
  ASSERT_TRUE(service_.ControllerGetVolume(nullptr, &get, &got).ok());
  EXPECT_FALSE(got.status().volume_condition().abnormal());
  EXPECT_EQ(Capacity(), static_cast<int64_t>(2 * kGiB));

  lvm_.SetPoolUse("vg0", "pool0", 100, 20);
  lvm_.SetPoolHealth("vg0", "pool0", 'D');
  ASSERT_TRUE(service_.ControllerGetVolume(nullptr, &get, &got).ok());
  EXPECT_TRUE(got.status().volume_condition().abnormal());
  EXPECT_NE(got.status().volume_condition().message().find("out of data space"),
            std::string::npos)
      << got.status().volume_condition().message();
  EXPECT_EQ(Capacity(), 0);
  create.set_name("pvc-u");
  csi::v1::CreateVolumeResponse refused;
  EXPECT_EQ(service_.CreateVolume(nullptr, &create, &refused).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
}

}  // namespace
}  // namespace cellar
