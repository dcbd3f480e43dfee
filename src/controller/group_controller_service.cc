#include "src/controller/group_controller_service.h"

#include <algorithm>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "src/common/ids.h"
#include "src/common/secret.h"
#include "src/common/status.h"
#include "src/common/status_macros.h"
#include "src/controller/parameters.h"

namespace cellar {
namespace {

void FillGroup(const std::string& group_id, std::vector<SnapshotRecord> members,
               csi::v1::VolumeGroupSnapshot* group) {
  group->set_group_snapshot_id(group_id);
  // Members by source volume, however they were found: a retried call
  // answers exactly as the first one did.
  std::sort(members.begin(), members.end(),
            [](const SnapshotRecord& a, const SnapshotRecord& b) {
              return a.source_volume_id() < b.source_volume_id();
            });
  // Ready when every member is.
  bool ready = true;
  int64_t seconds = 0;
  for (const SnapshotRecord& member : members) {
    ready = ready && !member.pending_copy();
    ControllerService::FillSnapshot(member, group->add_snapshots());
    seconds = std::max(seconds, member.creation_unix());
  }
  group->mutable_creation_time()->set_seconds(seconds);
  group->set_ready_to_use(ready);
}

}  // namespace

GroupControllerService::GroupControllerService(std::string node_id,
                                               ControllerService* controller)
    : node_id_(std::move(node_id)), controller_(controller) {}

grpc::Status GroupControllerService::GroupControllerGetCapabilities(
    grpc::ServerContext*, const csi::v1::GroupControllerGetCapabilitiesRequest*,
    csi::v1::GroupControllerGetCapabilitiesResponse* response) {
  response->add_capabilities()->mutable_rpc()->set_type(
      csi::v1::GroupControllerServiceCapability::RPC::
          CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT);
  return grpc::Status::OK;
}

grpc::Status GroupControllerService::CreateVolumeGroupSnapshot(
    grpc::ServerContext*,
    const csi::v1::CreateVolumeGroupSnapshotRequest* request,
    csi::v1::CreateVolumeGroupSnapshotResponse* response) {
  return WipeSecretsAndAnswer(request, DoCreate(*request, response));
}

grpc::Status GroupControllerService::DeleteVolumeGroupSnapshot(
    grpc::ServerContext*,
    const csi::v1::DeleteVolumeGroupSnapshotRequest* request,
    csi::v1::DeleteVolumeGroupSnapshotResponse*) {
  return WipeSecretsAndAnswer(request, DoDelete(*request));
}

grpc::Status GroupControllerService::GetVolumeGroupSnapshot(
    grpc::ServerContext*, const csi::v1::GetVolumeGroupSnapshotRequest* request,
    csi::v1::GetVolumeGroupSnapshotResponse* response) {
  return WipeSecretsAndAnswer(request, DoGet(*request, response));
}

absl::StatusOr<std::vector<std::string>> GroupControllerService::ValidateCreate(
    const csi::v1::CreateVolumeGroupSnapshotRequest& request) {
  ABSL_RETURN_IF_ERROR(RequireField(request.name(), "name"));
  if (request.name().size() > kMaxNameLength) {
    return absl::InvalidArgumentError("name is too long");
  }
  if (request.source_volume_ids().empty()) {
    return absl::InvalidArgumentError("source_volume_ids is missing");
  }
  ABSL_RETURN_IF_ERROR(
      CheckSidecarOnlyParameters(request.parameters(), "group snapshot"));
  std::vector<std::string> volume_ids(request.source_volume_ids().begin(),
                                      request.source_volume_ids().end());
  std::sort(volume_ids.begin(), volume_ids.end());
  if (std::adjacent_find(volume_ids.begin(), volume_ids.end()) !=
      volume_ids.end()) {
    return absl::InvalidArgumentError("source_volume_ids repeats a volume");
  }
  return volume_ids;
}

absl::StatusOr<bool> GroupControllerService::AnswerFromExisting(
    const csi::v1::CreateVolumeGroupSnapshotRequest& request,
    const std::string& group_id, const std::vector<SnapshotRecord>& existing,
    const std::vector<std::string>& volume_ids,
    csi::v1::CreateVolumeGroupSnapshotResponse* response) {
  ABSL_RETURN_IF_ERROR(
      controller_->CheckGroupNamespace(existing, request.parameters()));
  std::vector<std::string> sources;
  for (const auto& member : existing) {
    sources.push_back(member.source_volume_id());
  }
  std::sort(sources.begin(), sources.end());
  // As for a single snapshot: a member that lost its instant is never
  // taken again (the group would mix two instants).
  for (const auto& member : existing) {
    if (member.copy_failed()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "member ", member.snapshot_id(), " of group snapshot \"",
          absl::CEscape(request.name()),
          "\" lost its point in time before its copy finished: delete the "
          "group snapshot and take a new one"));
    }
  }
  if (IsCompleteGroup(existing, volume_ids)) {
    FillGroup(group_id, existing, response->mutable_group_snapshot());
    return true;
  }
  // A group of other volumes is another group. (SnapshotGroup tells,
  // under the members' locks, half of this group from a complete one.)
  if (!std::includes(volume_ids.begin(), volume_ids.end(), sources.begin(),
                     sources.end())) {
    return absl::AlreadyExistsError(
        absl::StrCat("a group snapshot named \"", absl::CEscape(request.name()),
                     "\" exists for other volumes"));
  }
  return false;  // half of this group: SnapshotGroup completes it
}

absl::Status GroupControllerService::DoCreate(
    const csi::v1::CreateVolumeGroupSnapshotRequest& request,
    csi::v1::CreateVolumeGroupSnapshotResponse* response) {
  ABSL_ASSIGN_OR_RETURN(std::vector<std::string> volume_ids,
                        ValidateCreate(request));
  const std::string group_id =
      MakeId(IdKind::kGroup, node_id_, "group", request.name());
  absl::StatusOr<std::vector<SnapshotRecord>> existing =
      controller_->GetGroup(group_id);
  if (existing.ok()) {
    ABSL_ASSIGN_OR_RETURN(
        bool answered,
        AnswerFromExisting(request, group_id, *existing, volume_ids, response));
    if (answered) return absl::OkStatus();
  }
  std::vector<SnapshotRecord> members;
  ABSL_RETURN_IF_ERROR(controller_->SnapshotGroup(
      group_id, volume_ids, request.parameters(), &members));
  FillGroup(group_id, members, response->mutable_group_snapshot());
  return absl::OkStatus();
}

absl::Status GroupControllerService::DoDelete(
    const csi::v1::DeleteVolumeGroupSnapshotRequest& request) {
  ABSL_RETURN_IF_ERROR(
      RequireField(request.group_snapshot_id(), "group_snapshot_id"));
  // Not a group id at all: nothing of this driver to delete.
  absl::StatusOr<ParsedId> id = ParseId(request.group_snapshot_id());
  if (!id.ok() || id->kind != IdKind::kGroup) return absl::OkStatus();
  std::vector<std::string> ids(request.snapshot_ids().begin(),
                               request.snapshot_ids().end());
  return controller_->DeleteGroup(request.group_snapshot_id(), ids);
}

namespace {

// The CSI "snapshot list mismatch" of GetVolumeGroupSnapshot: INVALID_ARGUMENT
// unless `ids` names exactly the group's members, in any order. An empty
// list is not checked: cellar finds the members by the group id alone.
absl::Status CheckSnapshotIds(
    const std::string& group_id, const std::vector<SnapshotRecord>& members,
    const google::protobuf::RepeatedPtrField<std::string>& ids) {
  if (ids.empty()) return absl::OkStatus();
  std::set<std::string> named(ids.begin(), ids.end());
  std::set<std::string> held;
  for (const SnapshotRecord& member : members)
    held.insert(member.snapshot_id());
  if (named == held && named.size() == static_cast<size_t>(ids.size())) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("snapshot_ids do not name exactly the ", held.size(),
                   " snapshots of group ", group_id));
}

}  // namespace

absl::Status GroupControllerService::DoGet(
    const csi::v1::GetVolumeGroupSnapshotRequest& request,
    csi::v1::GetVolumeGroupSnapshotResponse* response) {
  ABSL_RETURN_IF_ERROR(
      RequireField(request.group_snapshot_id(), "group_snapshot_id"));
  absl::StatusOr<ParsedId> id = ParseId(request.group_snapshot_id());
  if (!id.ok() || id->kind != IdKind::kGroup) {
    return absl::NotFoundError("no such group snapshot");
  }
  ABSL_ASSIGN_OR_RETURN(std::vector<SnapshotRecord> members,
                        controller_->GetGroup(request.group_snapshot_id()));
  ABSL_RETURN_IF_ERROR(CheckSnapshotIds(request.group_snapshot_id(), members,
                                        request.snapshot_ids()));
  FillGroup(request.group_snapshot_id(), std::move(members),
            response->mutable_group_snapshot());
  return absl::OkStatus();
}

}  // namespace cellar
