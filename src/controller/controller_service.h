#ifndef CELLAR_SRC_CONTROLLER_CONTROLLER_SERVICE_H_
#define CELLAR_SRC_CONTROLLER_CONTROLLER_SERVICE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "csi.grpc.pb.h"
#include "src/backend/backend.h"
#include "src/backend/router.h"
#include "src/backend/volume_access.h"
#include "src/common/capability.h"
#include "src/common/ids.h"
#include "src/common/volume_locks.h"
#include "src/controller/freezer.h"
#include "src/controller/parameters.h"
#include "src/platform/clock.h"
#include "src/platform/filesystem.h"
#include "src/platform/fs_tools.h"
#include "src/platform/mounter.h"

namespace cellar {

struct ControllerConfig {
  std::string node_id;
  // False in --mode=controller: no storage is reachable, so requests are
  // validated and answered from the volume id, and expansion is left to
  // the node.
  bool local_storage = true;
  uint64_t default_volume_bytes = 1ull << 30;
  // The device class used when a request names none.
  std::string default_class;
};

// What the controller needs to freeze a mounted filesystem for the instant
// of a snapshot (none owned; all null in --mode=controller).

// The CSI Controller service for the device classes of this node.
// Thread-safe: per-volume work is serialised by `locks`, shared with the
// Node service.
// The digest a group snapshot's members record of the group's source
// volumes (SnapshotRecord.group_sources_digest).
std::string GroupSourcesDigest(std::vector<std::string> volume_ids);
// Whether `members` are the whole group snapshot of exactly `volume_ids`
// (not half of one a driver left when it died, not another set).
bool IsCompleteGroup(const std::vector<SnapshotRecord>& members,
                     const std::vector<std::string>& volume_ids);

class ControllerService final : public csi::v1::Controller::Service {
 public:
  // `backends` maps device class names to backends (not owned); `locks`,
  // `freezer` and `clock` are not owned. All must outlive the service.
  // Without a freezer nothing is frozen (--mode=controller); without a
  // clock, records carry the system's time.
  ControllerService(ControllerConfig config,
                    std::map<std::string, Backend*> backends,
                    VolumeLocks* locks, Freezer* freezer = nullptr,
                    Clock* clock = nullptr);
  ControllerService(const ControllerService&) = delete;
  ControllerService& operator=(const ControllerService&) = delete;

  grpc::Status CreateVolume(grpc::ServerContext* context,
                            const csi::v1::CreateVolumeRequest* request,
                            csi::v1::CreateVolumeResponse* response) override;
  grpc::Status DeleteVolume(grpc::ServerContext* context,
                            const csi::v1::DeleteVolumeRequest* request,
                            csi::v1::DeleteVolumeResponse* response) override;
  grpc::Status ValidateVolumeCapabilities(
      grpc::ServerContext* context,
      const csi::v1::ValidateVolumeCapabilitiesRequest* request,
      csi::v1::ValidateVolumeCapabilitiesResponse* response) override;
  grpc::Status ListVolumes(grpc::ServerContext* context,
                           const csi::v1::ListVolumesRequest* request,
                           csi::v1::ListVolumesResponse* response) override;
  grpc::Status GetCapacity(grpc::ServerContext* context,
                           const csi::v1::GetCapacityRequest* request,
                           csi::v1::GetCapacityResponse* response) override;
  grpc::Status ControllerGetCapabilities(
      grpc::ServerContext* context,
      const csi::v1::ControllerGetCapabilitiesRequest* request,
      csi::v1::ControllerGetCapabilitiesResponse* response) override;
  grpc::Status ControllerExpandVolume(
      grpc::ServerContext* context,
      const csi::v1::ControllerExpandVolumeRequest* request,
      csi::v1::ControllerExpandVolumeResponse* response) override;
  grpc::Status ControllerGetVolume(
      grpc::ServerContext* context,
      const csi::v1::ControllerGetVolumeRequest* request,
      csi::v1::ControllerGetVolumeResponse* response) override;
  grpc::Status CreateSnapshot(
      grpc::ServerContext* context,
      const csi::v1::CreateSnapshotRequest* request,
      csi::v1::CreateSnapshotResponse* response) override;
  grpc::Status DeleteSnapshot(
      grpc::ServerContext* context,
      const csi::v1::DeleteSnapshotRequest* request,
      csi::v1::DeleteSnapshotResponse* response) override;
  grpc::Status ListSnapshots(grpc::ServerContext* context,
                             const csi::v1::ListSnapshotsRequest* request,
                             csi::v1::ListSnapshotsResponse* response) override;
  grpc::Status GetSnapshot(grpc::ServerContext* context,
                           const csi::v1::GetSnapshotRequest* request,
                           csi::v1::GetSnapshotResponse* response) override;

  // Takes snapshots of `volume_ids` (all on this node) with every mounted
  // filesystem among them frozen together, as one group. Used by the
  // GroupController service. Idempotent by `group_id`. Each member keeps
  // its volume's access policy; PERMISSION_DENIED (nothing taken) when the
  // group's namespace in `parameters` is not admitted by every member.
  absl::Status SnapshotGroup(
      const std::string& group_id, const std::vector<std::string>& volume_ids,
      const google::protobuf::Map<std::string, std::string>& parameters,
      std::vector<SnapshotRecord>* snapshots);
  // Deletes the snapshots of a group. `snapshot_ids` empty: every member.
  // Otherwise it must name every member still there, and may name members
  // an interrupted delete removed already (deleted again, idempotently);
  // INVALID_ARGUMENT (the CSI "snapshot list mismatch") when it leaves a
  // member out or names a snapshot outside the group. ABORTED while the
  // group is being taken.
  absl::Status DeleteGroup(const std::string& group_id,
                           const std::vector<std::string>& snapshot_ids);
  // PERMISSION_DENIED when the group's namespace in `parameters` is not
  // admitted by every member's policy (for a group that exists already).
  absl::Status CheckGroupNamespace(
      const std::vector<SnapshotRecord>& members,
      const google::protobuf::Map<std::string, std::string>& parameters);
  // The snapshots of a group; NOT_FOUND when there are none.
  absl::StatusOr<std::vector<SnapshotRecord>> GetGroup(
      const std::string& group_id);
  // Fills a CSI Snapshot from a record.
  static void FillSnapshot(const SnapshotRecord& record,
                           csi::v1::Snapshot* snapshot);

 private:
  absl::Status DoCreateVolume(const csi::v1::CreateVolumeRequest& request,
                              csi::v1::CreateVolumeResponse* response);
  absl::Status DoDeleteVolume(const csi::v1::DeleteVolumeRequest& request);
  absl::Status DoValidate(
      const csi::v1::ValidateVolumeCapabilitiesRequest& request,
      csi::v1::ValidateVolumeCapabilitiesResponse* response);
  absl::Status DoListVolumes(const csi::v1::ListVolumesRequest& request,
                             csi::v1::ListVolumesResponse* response);
  absl::Status DoGetCapacity(const csi::v1::GetCapacityRequest& request,
                             csi::v1::GetCapacityResponse* response);
  absl::Status DoExpand(const csi::v1::ControllerExpandVolumeRequest& request,
                        csi::v1::ControllerExpandVolumeResponse* response);
  absl::Status DoGetVolume(const csi::v1::ControllerGetVolumeRequest& request,
                           csi::v1::ControllerGetVolumeResponse* response);

  absl::Status DoCreateSnapshot(const csi::v1::CreateSnapshotRequest& request,
                                csi::v1::CreateSnapshotResponse* response);
  absl::Status DoDeleteSnapshot(const csi::v1::DeleteSnapshotRequest& request);
  absl::Status DoGetSnapshot(const csi::v1::GetSnapshotRequest& request,
                             csi::v1::GetSnapshotResponse* response);
  absl::Status DoListSnapshots(const csi::v1::ListSnapshotsRequest& request,
                               csi::v1::ListSnapshotsResponse* response);
  // DoCreateSnapshot's parts, in the order it calls them.
  // INVALID_ARGUMENT naming what is wrong with the request.
  static absl::Status ValidateCreateSnapshot(
      const csi::v1::CreateSnapshotRequest& request);
  // OK when `existing` answers `request`; ALREADY_EXISTS for another
  // volume's, PERMISSION_DENIED for a namespace its volume does not admit,
  // FAILED_PRECONDITION for one that lost its instant.
  absl::Status CheckExistingSnapshot(
      const csi::v1::CreateSnapshotRequest& request,
      const SnapshotRecord& existing);
  // Takes a new snapshot of the locked source, frozen when mounted here.
  absl::StatusOr<SnapshotRecord> TakeSnapshot(
      const csi::v1::CreateSnapshotRequest& request,
      const std::string& snapshot_id);

  // SnapshotGroup's parts, in the order it calls them.
  // The group's lock and each member volume's (routed, locked, read).
  struct LockedGroup {
    std::unique_ptr<VolumeLockGuard> lock;
    std::vector<HeldVolume> members;  // in the order of volume_ids
  };
  // Locks the group id and every member (ABORTED when one is busy,
  // NOT_FOUND for an unknown volume, PERMISSION_DENIED for a namespace a
  // member does not admit).
  absl::StatusOr<LockedGroup> LockGroup(
      const std::string& group_id, const std::vector<std::string>& volume_ids,
      const google::protobuf::Map<std::string, std::string>& parameters);
  // What an earlier call left under the group id: true (with `snapshots`)
  // for the complete group of these volumes; false once half of it is
  // taken back or when there is none; ALREADY_EXISTS for another set.
  absl::StatusOr<bool> FinishEarlierGroup(
      const std::string& group_id, const std::vector<std::string>& volume_ids,
      const std::string& digest, std::vector<SnapshotRecord>* snapshots);
  // Takes every member's snapshot (inside the freeze), noting in `made`
  // those this call created.
  absl::Status TakeGroupMembers(
      const std::string& group_id, const LockedGroup& group,
      const std::string& digest, std::vector<SnapshotRecord>* snapshots,
      std::vector<std::pair<std::string, Backend*>>* made);

  // DoCreateVolume's parts, in the order it calls them.
  // What a valid request asks for: access, parameters, class, backend, size
  // and the volume's id (derived from the name).
  struct CreatePlan {
    AccessRequest access;
    VolumeParameters params;
    std::string device_class;
    Backend* backend = nullptr;
    uint64_t size = 0;
    std::string volume_id;
  };
  // Validates the request (INVALID_ARGUMENT naming the field, OUT_OF_RANGE
  // for the size, RESOURCE_EXHAUSTED for a topology that excludes this
  // node) and resolves its class.
  absl::StatusOr<CreatePlan> PlanCreateVolume(
      const csi::v1::CreateVolumeRequest& request);
  // OK when `existing` answers `request` (the same name, a size in range,
  // the same kind and parameters); ALREADY_EXISTS otherwise.
  static absl::Status CheckCompatible(
      const csi::v1::CreateVolumeRequest& request, const AccessRequest& access,
      const VolumeRecord& existing);
  // The record of a new volume, from `from_source` when `source_id` is not
  // empty (INVALID_ARGUMENT for an encrypted copy of an unencrypted one).
  absl::StatusOr<VolumeRecord> NewVolumeRecord(
      const csi::v1::CreateVolumeRequest& request, const CreatePlan& plan,
      const std::string& source_id, const VolumeRecord& from_source);
  // Creates the volume, or copies it from `source_id` with the source
  // locked and frozen for its instant; completes a half-done create.
  absl::StatusOr<VolumeRecord> CreateOrCopy(Backend* backend,
                                            const VolumeRecord& record,
                                            const std::string& source_id);

  // Fills `record` for a volume created from a content source, checking
  // that the source exists on this node, in the same class, of a
  // compatible kind, and no larger than asked.
  absl::Status PrepareFromSource(const csi::v1::VolumeContentSource& source,
                                 const std::string& device_class,
                                 const csi::v1::CapacityRange* range,
                                 bool block, std::string* source_id,
                                 VolumeRecord* record);
  // The backend of a snapshot id on this node.
  absl::StatusOr<Backend*> BackendForSnapshot(const std::string& snapshot_id);

  // The backend of a volume id on this node. NOT_FOUND when the id is not
  // well formed, names another node, or an unknown class.
  absl::StatusOr<Backend*> BackendForVolume(const std::string& volume_id);
  // The backend for a class name ("" for the default).
  absl::StatusOr<Backend*> BackendForClass(const std::string& name,
                                           std::string* resolved);
  // Fills a CSI Volume from a record.
  void FillVolume(const VolumeRecord& record, csi::v1::Volume* volume) const;
  // True when this node satisfies the topology requirement's requisite.
  bool TopologyAllows(const csi::v1::TopologyRequirement& requirement) const;

  const ControllerConfig config_;
  const std::map<std::string, Backend*> backends_;
  VolumeLocks* const locks_;
  Freezer no_freezer_;  // the null object, when given none
  Freezer* const freezer_;
  RealClock real_clock_;  // when given none
  Clock* const clock_;
  const BackendRouter router_;
  const VolumeAccess access_;  // over router_ and locks_
  const std::string node_tag_;
};

}  // namespace cellar

#endif  // CELLAR_SRC_CONTROLLER_CONTROLLER_SERVICE_H_
