#ifndef CELLAR_SRC_CONTROLLER_GROUP_CONTROLLER_SERVICE_H_
#define CELLAR_SRC_CONTROLLER_GROUP_CONTROLLER_SERVICE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "csi.grpc.pb.h"
#include "src/controller/controller_service.h"

namespace cellar {

// The CSI GroupController service: snapshots of several volumes of this
// node taken with all their mounted filesystems frozen together. The
// members are ordinary snapshots carrying the group's id; the group is
// rediscovered from them. Thread-safe.
class GroupControllerService final : public csi::v1::GroupController::Service {
 public:
  // `controller` (not owned) does the work and must outlive this service.
  GroupControllerService(std::string node_id, ControllerService* controller);
  GroupControllerService(const GroupControllerService&) = delete;
  GroupControllerService& operator=(const GroupControllerService&) = delete;

  grpc::Status GroupControllerGetCapabilities(
      grpc::ServerContext* context,
      const csi::v1::GroupControllerGetCapabilitiesRequest* request,
      csi::v1::GroupControllerGetCapabilitiesResponse* response) override;
  grpc::Status CreateVolumeGroupSnapshot(
      grpc::ServerContext* context,
      const csi::v1::CreateVolumeGroupSnapshotRequest* request,
      csi::v1::CreateVolumeGroupSnapshotResponse* response) override;
  grpc::Status DeleteVolumeGroupSnapshot(
      grpc::ServerContext* context,
      const csi::v1::DeleteVolumeGroupSnapshotRequest* request,
      csi::v1::DeleteVolumeGroupSnapshotResponse* response) override;
  grpc::Status GetVolumeGroupSnapshot(
      grpc::ServerContext* context,
      const csi::v1::GetVolumeGroupSnapshotRequest* request,
      csi::v1::GetVolumeGroupSnapshotResponse* response) override;

 private:
  // The Do* halves return absl::Status; the RPC methods only convert it.
  absl::Status DoCreate(
      const csi::v1::CreateVolumeGroupSnapshotRequest& request,
      csi::v1::CreateVolumeGroupSnapshotResponse* response);
  absl::Status DoDelete(
      const csi::v1::DeleteVolumeGroupSnapshotRequest& request);
  absl::Status DoGet(const csi::v1::GetVolumeGroupSnapshotRequest& request,
                     csi::v1::GetVolumeGroupSnapshotResponse* response);
  // The sorted source volume ids of a well-formed request; INVALID_ARGUMENT
  // naming what is wrong otherwise.
  static absl::StatusOr<std::vector<std::string>> ValidateCreate(
      const csi::v1::CreateVolumeGroupSnapshotRequest& request);
  // The idempotency check against a group that exists under the name: true
  // when `response` is the answer (the same group again), false when
  // `existing` is half of this group and SnapshotGroup must complete it;
  // ALREADY_EXISTS for a group of other volumes, FAILED_PRECONDITION for
  // one that lost its instant.
  absl::StatusOr<bool> AnswerFromExisting(
      const csi::v1::CreateVolumeGroupSnapshotRequest& request,
      const std::string& group_id, const std::vector<SnapshotRecord>& existing,
      const std::vector<std::string>& volume_ids,
      csi::v1::CreateVolumeGroupSnapshotResponse* response);

  const std::string node_id_;
  ControllerService* const controller_;
};

}  // namespace cellar

#endif  // CELLAR_SRC_CONTROLLER_GROUP_CONTROLLER_SERVICE_H_
