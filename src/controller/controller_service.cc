#include "src/controller/controller_service.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"
#include "src/backend/router.h"
#include "src/common/capability.h"
#include "src/common/secret.h"
#include "src/common/status.h"
#include "src/common/status_macros.h"
#include "src/controller/freezer.h"
#include "src/controller/parameters.h"
#include "src/node/access_policy.h"

namespace cellar {
namespace {

using csi::v1::ControllerServiceCapability;

constexpr char kSnapshotNamespaceKey[] =
    "csi.storage.k8s.io/volumesnapshot/namespace";
constexpr char kGroupNamespaceKey[] =
    "csi.storage.k8s.io/volumegroupsnapshot/namespace";

bool SameParameters(const VolumeRecord& record,
                    const google::protobuf::Map<std::string, std::string>& p) {
  if (static_cast<size_t>(record.parameters().size()) != p.size()) return false;
  for (const auto& [key, value] : p) {
    auto it = record.parameters().find(key);
    if (it == record.parameters().end() || it->second != value) return false;
  }
  return true;
}

// csi-snapshotter (--extra-create-metadata) names the VolumeSnapshot's
// namespace. A snapshot asked for from a namespace the volume does not admit
// (a hand-made VolumeSnapshotContent naming another tenant's handle) is
// refused before anything is taken.
absl::Status CheckSnapshotNamespace(
    const AccessPolicy& policy, const std::string& volume_id,
    const google::protobuf::Map<std::string, std::string>& parameters) {
  for (const char* key : {kSnapshotNamespaceKey, kGroupNamespaceKey}) {
    auto it = parameters.find(key);
    if (it == parameters.end() || policy.AdmitsNamespace(it->second)) continue;
    return absl::PermissionDeniedError(absl::StrCat(
        "copies keep their owner: volume ", volume_id, " is restricted to ",
        policy.ToString(), " and a snapshot for namespace \"",
        absl::CEscape(it->second.substr(0, 253)),
        "\" is not admitted by it; nothing was taken"));
  }
  return absl::OkStatus();
}

}  // namespace

ControllerService::ControllerService(ControllerConfig config,
                                     std::map<std::string, Backend*> backends,
                                     VolumeLocks* locks, Freezer* freezer,
                                     Clock* clock)
    : config_(std::move(config)),
      backends_(std::move(backends)),
      locks_(locks),
      freezer_(freezer != nullptr ? freezer : &no_freezer_),
      clock_(clock != nullptr ? clock : &real_clock_),
      router_(config_.node_id, backends_),
      access_(&router_, locks_),
      node_tag_(NodeTag(config_.node_id)) {}

absl::StatusOr<Backend*> ControllerService::BackendForClass(
    const std::string& name, std::string* resolved) {
  const std::string& wanted = name.empty() ? config_.default_class : name;
  auto it = backends_.find(wanted);
  if (it == backends_.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown device class \"", wanted, "\""));
  }
  if (resolved != nullptr) *resolved = wanted;
  return it->second;
}

absl::StatusOr<Backend*> ControllerService::BackendForVolume(
    const std::string& volume_id) {
  return router_.Find(volume_id, IdKind::kVolume);
}

bool ControllerService::TopologyAllows(
    const csi::v1::TopologyRequirement& requirement) const {
  if (requirement.requisite().empty()) return true;
  for (const auto& topology : requirement.requisite()) {
    auto it = topology.segments().find(kTopologyKey);
    if (it != topology.segments().end() && it->second == config_.node_id) {
      return true;
    }
  }
  return false;
}

void ControllerService::FillVolume(const VolumeRecord& record,
                                   csi::v1::Volume* volume) const {
  volume->set_volume_id(record.volume_id());
  volume->set_capacity_bytes(record.capacity_bytes());
  (*volume->add_accessible_topology()->mutable_segments())[kTopologyKey] =
      config_.node_id;
  if (!record.source_snapshot_id().empty()) {
    volume->mutable_content_source()->mutable_snapshot()->set_snapshot_id(
        record.source_snapshot_id());
  } else if (!record.source_volume_id().empty()) {
    volume->mutable_content_source()->mutable_volume()->set_volume_id(
        record.source_volume_id());
  }
}

// ---------------------------------------------------------------- Create

grpc::Status ControllerService::CreateVolume(
    grpc::ServerContext*, const csi::v1::CreateVolumeRequest* request,
    csi::v1::CreateVolumeResponse* response) {
  return WipeSecretsAndAnswer(request, DoCreateVolume(*request, response));
}

absl::StatusOr<ControllerService::CreatePlan>
ControllerService::PlanCreateVolume(
    const csi::v1::CreateVolumeRequest& request) {
  ABSL_RETURN_IF_ERROR(RequireField(request.name(), "name"));
  if (request.name().size() > kMaxNameLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("name is ", request.name().size(), " bytes, more than ",
                     kMaxNameLength));
  }
  CreatePlan plan;
  ABSL_ASSIGN_OR_RETURN(plan.access,
                        ValidateCapabilities(request.volume_capabilities()));
  ABSL_ASSIGN_OR_RETURN(plan.params,
                        ParseVolumeParameters(request.parameters()));
  if (!request.mutable_parameters().empty()) {
    return absl::InvalidArgumentError(
        "mutable parameters (volume attributes classes) are not supported");
  }
  const AccessRequest& access = plan.access;
  if (!access.block && !plan.params.fs_type.empty() &&
      !access.fs_type.empty() && plan.params.fs_type != access.fs_type) {
    return absl::InvalidArgumentError(
        absl::StrCat("parameter fsType=", plan.params.fs_type,
                     " contradicts the capability's fs_type ", access.fs_type));
  }
  std::string requested_class = plan.params.device_class;
  if (request.has_volume_content_source() && requested_class.empty()) {
    // A restore or clone lives where its source lives.
    const auto& source = request.volume_content_source();
    absl::StatusOr<ParsedId> source_id =
        ParseId(source.has_snapshot() ? source.snapshot().snapshot_id()
                                      : source.volume().volume_id());
    if (source_id.ok()) requested_class = source_id->device_class;
  }
  ABSL_ASSIGN_OR_RETURN(plan.backend,
                        BackendForClass(requested_class, &plan.device_class));
  ABSL_ASSIGN_OR_RETURN(plan.size, SizeForRange(request.has_capacity_range()
                                                    ? &request.capacity_range()
                                                    : nullptr,
                                                config_.default_volume_bytes));
  if (request.has_accessibility_requirements() &&
      !TopologyAllows(request.accessibility_requirements())) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the requisite topology does not include this node (",
                     config_.node_id, ")"));
  }
  plan.volume_id = MakeId(IdKind::kVolume, config_.node_id, plan.device_class,
                          request.name());
  return plan;
}

absl::Status ControllerService::CheckCompatible(
    const csi::v1::CreateVolumeRequest& request, const AccessRequest& access,
    const VolumeRecord& existing) {
  const int64_t required = request.capacity_range().required_bytes();
  const int64_t limit = request.capacity_range().limit_bytes();
  // The same request as the one recorded is compatible even while the
  // storage is still smaller than asked: a restore whose create stopped
  // before it was grown is completed below.
  const bool compatible = existing.name() == request.name() &&
                          (existing.capacity_bytes() >= required ||
                           existing.required_bytes() == required) &&
                          (limit == 0 || existing.capacity_bytes() <= limit) &&
                          existing.block() == access.block &&
                          (access.block || access.fs_type.empty() ||
                           access.fs_type == existing.fs_type()) &&
                          SameParameters(existing, request.parameters());
  if (compatible) return absl::OkStatus();
  return absl::AlreadyExistsError(absl::StrCat(
      "a volume named \"", absl::CEscape(request.name().substr(0, 128)),
      "\" exists with a different size, type or parameters"));
}

absl::StatusOr<VolumeRecord> ControllerService::NewVolumeRecord(
    const csi::v1::CreateVolumeRequest& request, const CreatePlan& plan,
    const std::string& source_id, const VolumeRecord& from_source) {
  const AccessRequest& access = plan.access;
  const VolumeParameters& params = plan.params;
  VolumeRecord record;
  record.set_volume_id(plan.volume_id);
  record.set_name(request.name());
  record.set_capacity_bytes(static_cast<int64_t>(plan.size));
  record.set_required_bytes(request.capacity_range().required_bytes());
  record.set_limit_bytes(request.capacity_range().limit_bytes());
  record.set_block(access.block);
  if (!access.block) {
    record.set_fs_type(!access.fs_type.empty()   ? access.fs_type
                       : !params.fs_type.empty() ? params.fs_type
                                                 : kDefaultFsType);
  }
  record.set_allocation(std::string(AllocationName(params.allocation)));
  *record.mutable_parameters() = request.parameters();
  AccessPolicy policy;
  policy.bound_namespace = params.pvc_namespace;
  policy.allowed_namespaces = params.allowed_namespaces;
  policy.allowed_service_accounts = params.allowed_service_accounts;
  if (!source_id.empty()) {
    // Copied data keeps its owner: never a policy wider than the source's.
    ABSL_ASSIGN_OR_RETURN(
        policy, PolicyForCopy(PolicyOf(from_source), policy, source_id));
  }
  SetPolicy(policy, &record);
  record.set_encrypted(params.encrypted);
  record.set_created_unix(absl::ToUnixSeconds(clock_->Now()));
  if (source_id.empty()) return record;
  if (params.encrypted && !from_source.encrypted()) {
    return absl::InvalidArgumentError(
        "an encrypted volume cannot be made from an unencrypted source");
  }
  record.set_source_snapshot_id(from_source.source_snapshot_id());
  record.set_source_volume_id(from_source.source_volume_id());
  record.set_encrypted(from_source.encrypted());
  record.set_encryption_key_id(from_source.encryption_key_id());
  if (!record.block()) record.set_fs_type(from_source.fs_type());
  record.set_grow_filesystem_on_stage(!record.block() &&
                                      static_cast<int64_t>(plan.size) >
                                          from_source.capacity_bytes());
  return record;
}

absl::StatusOr<VolumeRecord> ControllerService::CreateOrCopy(
    Backend* backend, const VolumeRecord& record,
    const std::string& source_id) {
  // A clone's retry after a crash may find its source frozen.
  if (!record.source_volume_id().empty()) {
    (void)freezer_->ThawLeftovers();  // logs what it cannot thaw
  }
  // Create also completes a create that crashed half-way.
  if (source_id.empty()) return backend->Create(record);
  // Clones copy a live volume: frozen, if it is mounted here, for as
  // long as the backend says its copy needs.
  std::vector<std::pair<std::string, Backend*>> live;
  if (!record.source_volume_id().empty()) {
    live.emplace_back(record.source_volume_id(), backend);
  }
  // The source volume is locked for the instant too, as CreateSnapshot
  // locks it: no unstage, expansion or delete of it runs while its point
  // in time is taken (busy: ABORTED, and the clone is retried). Not for
  // the copy after it, which may take minutes.
  const FreezeScope freeze = [&](const std::function<absl::Status()>& instant) {
    std::unique_ptr<VolumeLockGuard> source_lock;
    if (!record.source_volume_id().empty()) {
      source_lock =
          std::make_unique<VolumeLockGuard>(locks_, record.source_volume_id());
      if (!source_lock->ok()) return source_lock->status();
    }
    return freezer_->WithFrozen(freezer_->MountedFilesystems(live), instant);
  };
  return backend->CreateFromSource(record, source_id, freeze);
}

absl::Status ControllerService::DoCreateVolume(
    const csi::v1::CreateVolumeRequest& request,
    csi::v1::CreateVolumeResponse* response) {
  ABSL_ASSIGN_OR_RETURN(CreatePlan plan, PlanCreateVolume(request));
  VolumeLockGuard lock(locks_, plan.volume_id);
  ABSL_RETURN_IF_ERROR(lock.status());

  // Idempotency: the id is derived from the name.
  absl::StatusOr<VolumeRecord> existing = plan.backend->Get(plan.volume_id);
  if (existing.ok()) {
    ABSL_RETURN_IF_ERROR(CheckCompatible(request, plan.access, *existing));
  } else if (!absl::IsNotFound(existing.status())) {
    return existing.status();
  }

  // A content source: check it and take size, kind and key from it.
  std::string source_id;
  VolumeRecord from_source;
  if (request.has_volume_content_source()) {
    ABSL_RETURN_IF_ERROR(PrepareFromSource(
        request.volume_content_source(), plan.device_class,
        request.has_capacity_range() ? &request.capacity_range() : nullptr,
        plan.access.block, &source_id, &from_source));
    // No size asked (no range, or an empty one): the source's size.
    if (request.capacity_range().required_bytes() == 0) {
      plan.size = from_source.capacity_bytes();
    }
  }
  VolumeRecord record;
  if (existing.ok()) {
    record = *std::move(existing);
    if (!source_id.empty() &&
        record.source_snapshot_id() + record.source_volume_id() != source_id) {
      return absl::AlreadyExistsError(absl::StrCat(
          "a volume named \"", absl::CEscape(request.name().substr(0, 128)),
          "\" exists with another content source"));
    }
  } else {
    ABSL_ASSIGN_OR_RETURN(
        record, NewVolumeRecord(request, plan, source_id, from_source));
  }
  ABSL_ASSIGN_OR_RETURN(VolumeRecord created,
                        CreateOrCopy(plan.backend, record, source_id));
  FillVolume(created, response->mutable_volume());
  return absl::OkStatus();
}

// ---------------------------------------------------------------- Delete

grpc::Status ControllerService::DeleteVolume(
    grpc::ServerContext*, const csi::v1::DeleteVolumeRequest* request,
    csi::v1::DeleteVolumeResponse*) {
  return WipeSecretsAndAnswer(request, DoDeleteVolume(*request));
}

absl::Status ControllerService::DoDeleteVolume(
    const csi::v1::DeleteVolumeRequest& request) {
  ABSL_RETURN_IF_ERROR(RequireField(request.volume_id(), "volume_id"));
  absl::StatusOr<ParsedId> id = ParseId(request.volume_id());
  if (!id.ok() || id->kind != IdKind::kVolume) {
    // Not an id this driver could have made, so no such volume: deleting
    // it is a success (CSI: DeleteVolume is idempotent).
    return absl::OkStatus();
  }
  if (id->node_tag != node_tag_) {
    return absl::FailedPreconditionError(
        absl::StrCat("volume ", request.volume_id(), " lives on node ",
                     id->node_tag, "; delete it through that node's driver"));
  }
  // An id of this node that does not route (a class this node no longer
  // has) names nothing to delete: success.
  absl::StatusOr<HeldId> held =
      access_.Lock(request.volume_id(), IdKind::kVolume);
  if (absl::IsNotFound(held.status())) return absl::OkStatus();
  ABSL_RETURN_IF_ERROR(held.status());
  return held->backend->Delete(request.volume_id());
}

// ---------------------------------------------------------------- Validate

grpc::Status ControllerService::ValidateVolumeCapabilities(
    grpc::ServerContext*,
    const csi::v1::ValidateVolumeCapabilitiesRequest* request,
    csi::v1::ValidateVolumeCapabilitiesResponse* response) {
  return WipeSecretsAndAnswer(request, DoValidate(*request, response));
}

absl::Status ControllerService::DoValidate(
    const csi::v1::ValidateVolumeCapabilitiesRequest& request,
    csi::v1::ValidateVolumeCapabilitiesResponse* response) {
  ABSL_RETURN_IF_ERROR(RequireField(request.volume_id(), "volume_id"));
  if (request.volume_capabilities().empty()) {
    return absl::InvalidArgumentError("volume capabilities are missing");
  }
  absl::StatusOr<ParsedId> id = ParseId(request.volume_id());
  if (!id.ok() || id->kind != IdKind::kVolume) {
    return absl::NotFoundError(
        absl::StrCat("volume does not exist: ",
                     id.ok() ? "snapshot id" : id.status().message()));
  }
  absl::StatusOr<VolumeRecord> record;
  if (config_.local_storage) {
    ABSL_ASSIGN_OR_RETURN(Backend * backend,
                          BackendForVolume(request.volume_id()));
    record = backend->Get(request.volume_id());
    if (!record.ok()) return record.status();
  }
  // From here on the volume exists: an unsupported request is an answer
  // (confirmed left empty, with the reason), not an error.
  absl::StatusOr<AccessRequest> access =
      ValidateCapabilities(request.volume_capabilities());
  if (!access.ok()) {
    response->set_message(std::string(access.status().message()));
    return absl::OkStatus();
  }
  absl::StatusOr<VolumeParameters> params =
      ParseVolumeParameters(request.parameters());
  if (!params.ok()) {
    response->set_message(std::string(params.status().message()));
    return absl::OkStatus();
  }
  if (record.ok()) {
    if (record->block() != access->block) {
      response->set_message(record->block()
                                ? "volume was created for block access"
                                : "volume was created for filesystem access");
      return absl::OkStatus();
    }
    if (!access->block && !access->fs_type.empty() &&
        access->fs_type != record->fs_type()) {
      response->set_message(
          absl::StrCat("volume has fs type ", record->fs_type()));
      return absl::OkStatus();
    }
  }
  auto* confirmed = response->mutable_confirmed();
  *confirmed->mutable_volume_context() = request.volume_context();
  *confirmed->mutable_volume_capabilities() = request.volume_capabilities();
  *confirmed->mutable_parameters() = request.parameters();
  return absl::OkStatus();
}

// ---------------------------------------------------------------- List

grpc::Status ControllerService::ListVolumes(
    grpc::ServerContext*, const csi::v1::ListVolumesRequest* request,
    csi::v1::ListVolumesResponse* response) {
  return ToGrpcStatus(DoListVolumes(*request, response));
}

absl::Status ControllerService::DoListVolumes(
    const csi::v1::ListVolumesRequest& request,
    csi::v1::ListVolumesResponse* response) {
  if (request.max_entries() < 0) {
    return absl::InvalidArgumentError("max_entries is negative");
  }
  // The token is the id of the last volume of the previous page: stable
  // when volumes are added or removed between pages.
  if (!request.starting_token().empty()) {
    absl::StatusOr<ParsedId> token = ParseId(request.starting_token());
    if (!token.ok() || token->kind != IdKind::kVolume) {
      return absl::AbortedError(
          "starting_token is not a token this driver "
          "issued");
    }
  }
  std::vector<std::pair<VolumeRecord, Backend*>> all;
  for (const auto& [name, backend] : backends_) {
    ABSL_ASSIGN_OR_RETURN(std::vector<VolumeRecord> records, backend->List());
    for (auto& record : records) all.emplace_back(std::move(record), backend);
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return a.first.volume_id() < b.first.volume_id();
  });
  const size_t limit = request.max_entries() > 0
                           ? static_cast<size_t>(request.max_entries())
                           : all.size();
  size_t emitted = 0;
  for (const auto& [record, backend] : all) {
    if (!request.starting_token().empty() &&
        record.volume_id() <= request.starting_token()) {
      continue;
    }
    if (emitted == limit) {
      response->set_next_token(
          response->entries(response->entries_size() - 1).volume().volume_id());
      break;
    }
    auto* entry = response->add_entries();
    FillVolume(record, entry->mutable_volume());
    if (backend->FindDevice(record.volume_id()).ok()) {
      entry->mutable_status()->add_published_node_ids(config_.node_id);
    }
    entry->mutable_status()->mutable_volume_condition()->set_abnormal(false);
    ++emitted;
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------- Capacity

grpc::Status ControllerService::GetCapacity(
    grpc::ServerContext*, const csi::v1::GetCapacityRequest* request,
    csi::v1::GetCapacityResponse* response) {
  return ToGrpcStatus(DoGetCapacity(*request, response));
}

absl::Status ControllerService::DoGetCapacity(
    const csi::v1::GetCapacityRequest& request,
    csi::v1::GetCapacityResponse* response) {
  if (!request.volume_capabilities().empty()) {
    ABSL_RETURN_IF_ERROR(
        ValidateCapabilities(request.volume_capabilities()).status());
  }
  ABSL_ASSIGN_OR_RETURN(VolumeParameters params,
                        ParseVolumeParameters(request.parameters()));
  ABSL_ASSIGN_OR_RETURN(Backend * backend,
                        BackendForClass(params.device_class, nullptr));
  if (request.has_accessible_topology()) {
    auto it = request.accessible_topology().segments().find(kTopologyKey);
    if (it == request.accessible_topology().segments().end() ||
        it->second != config_.node_id) {
      response->set_available_capacity(0);
      return absl::OkStatus();
    }
  }
  ABSL_ASSIGN_OR_RETURN(BackendCapacity capacity, backend->Capacity());
  response->set_available_capacity(
      static_cast<int64_t>(capacity.available_bytes));
  response->mutable_maximum_volume_size()->set_value(
      static_cast<int64_t>(capacity.max_volume_bytes));
  return absl::OkStatus();
}

// ---------------------------------------------------------------- Caps

grpc::Status ControllerService::ControllerGetCapabilities(
    grpc::ServerContext*, const csi::v1::ControllerGetCapabilitiesRequest*,
    csi::v1::ControllerGetCapabilitiesResponse* response) {
  std::vector<ControllerServiceCapability::RPC::Type> types = {
      ControllerServiceCapability::RPC::EXPAND_VOLUME,
      ControllerServiceCapability::RPC::SINGLE_NODE_MULTI_WRITER,
  };
  if (config_.local_storage) {
    for (auto type :
         {ControllerServiceCapability::RPC::CREATE_DELETE_VOLUME,
          ControllerServiceCapability::RPC::LIST_VOLUMES,
          ControllerServiceCapability::RPC::GET_CAPACITY,
          ControllerServiceCapability::RPC::LIST_VOLUMES_PUBLISHED_NODES,
          ControllerServiceCapability::RPC::GET_VOLUME,
          ControllerServiceCapability::RPC::VOLUME_CONDITION,
          ControllerServiceCapability::RPC::CREATE_DELETE_SNAPSHOT,
          ControllerServiceCapability::RPC::LIST_SNAPSHOTS,
          // GET_SNAPSHOT is served but not advertised:
          // csi-sanity v5.4.0 fails drivers that list it.
          ControllerServiceCapability::RPC::CLONE_VOLUME}) {
      types.push_back(type);
    }
  }
  for (auto type : types) {
    response->add_capabilities()->mutable_rpc()->set_type(type);
  }
  return grpc::Status::OK;
}

// ---------------------------------------------------------------- Expand

grpc::Status ControllerService::ControllerExpandVolume(
    grpc::ServerContext*, const csi::v1::ControllerExpandVolumeRequest* request,
    csi::v1::ControllerExpandVolumeResponse* response) {
  return WipeSecretsAndAnswer(request, DoExpand(*request, response));
}

absl::Status ControllerService::DoExpand(
    const csi::v1::ControllerExpandVolumeRequest& request,
    csi::v1::ControllerExpandVolumeResponse* response) {
  ABSL_RETURN_IF_ERROR(RequireField(request.volume_id(), "volume_id"));
  ABSL_RETURN_IF_ERROR(
      RequirePresent(request.has_capacity_range(), "capacity_range"));
  if (request.has_volume_capability()) {
    ABSL_RETURN_IF_ERROR(
        ValidateCapability(request.volume_capability()).status());
  }
  ABSL_ASSIGN_OR_RETURN(uint64_t size,
                        SizeForRange(&request.capacity_range(), 0));
  absl::StatusOr<ParsedId> id = ParseId(request.volume_id());
  if (!id.ok() || id->kind != IdKind::kVolume) {
    return absl::NotFoundError(
        absl::StrCat("volume does not exist: not a cellar volume id"));
  }
  if (!config_.local_storage) {
    // The storage is on the node: NodeExpandVolume grows it and then the
    // filesystem (or the device for block volumes).
    response->set_capacity_bytes(static_cast<int64_t>(size));
    response->set_node_expansion_required(true);
    return absl::OkStatus();
  }
  ABSL_ASSIGN_OR_RETURN(HeldVolume volume,
                        access_.LockVolume(request.volume_id()));
  Backend* const backend = volume.backend;
  const VolumeRecord& record = volume.record;
  ABSL_ASSIGN_OR_RETURN(uint64_t grown,
                        backend->Expand(request.volume_id(), size));
  if (record.block()) {
    // An attached block device only needs to see the new size.
    ABSL_RETURN_IF_ERROR(backend->RefreshDevice(request.volume_id()));
  }
  response->set_capacity_bytes(static_cast<int64_t>(grown));
  response->set_node_expansion_required(!record.block());
  return absl::OkStatus();
}

// ---------------------------------------------------------------- Get

grpc::Status ControllerService::ControllerGetVolume(
    grpc::ServerContext*, const csi::v1::ControllerGetVolumeRequest* request,
    csi::v1::ControllerGetVolumeResponse* response) {
  return ToGrpcStatus(DoGetVolume(*request, response));
}

absl::Status ControllerService::DoGetVolume(
    const csi::v1::ControllerGetVolumeRequest& request,
    csi::v1::ControllerGetVolumeResponse* response) {
  ABSL_RETURN_IF_ERROR(RequireField(request.volume_id(), "volume_id"));
  // Read-only: answers while another operation on the volume is pending.
  ABSL_ASSIGN_OR_RETURN(HeldVolume volume,
                        access_.ReadVolume(request.volume_id()));
  Backend* const backend = volume.backend;
  FillVolume(volume.record, response->mutable_volume());
  auto* status = response->mutable_status();
  if (backend->FindDevice(request.volume_id()).ok()) {
    status->add_published_node_ids(config_.node_id);
  }
  ABSL_ASSIGN_OR_RETURN(std::string trouble,
                        backend->VolumeTrouble(request.volume_id()));
  status->mutable_volume_condition()->set_abnormal(!trouble.empty());
  status->mutable_volume_condition()->set_message(
      trouble.empty() ? "volume storage is present" : trouble);
  return absl::OkStatus();
}

// ---------------------------------------------------------------- Snapshots

absl::StatusOr<Backend*> ControllerService::BackendForSnapshot(
    const std::string& snapshot_id) {
  return router_.Find(snapshot_id, IdKind::kSnapshot);
}

void ControllerService::FillSnapshot(const SnapshotRecord& record,
                                     csi::v1::Snapshot* snapshot) {
  snapshot->set_snapshot_id(record.snapshot_id());
  snapshot->set_source_volume_id(record.source_volume_id());
  snapshot->set_size_bytes(record.size_bytes());
  snapshot->mutable_creation_time()->set_seconds(record.creation_unix());
  snapshot->mutable_creation_time()->set_nanos(record.creation_nanos());
  snapshot->set_ready_to_use(!record.pending_copy());
  snapshot->set_group_snapshot_id(record.group_snapshot_id());
}

absl::Status ControllerService::PrepareFromSource(
    const csi::v1::VolumeContentSource& source, const std::string& device_class,
    const csi::v1::CapacityRange* range, bool block, std::string* source_id,
    VolumeRecord* record) {
  int64_t source_size = 0;
  if (source.has_snapshot()) {
    *source_id = source.snapshot().snapshot_id();
    ABSL_ASSIGN_OR_RETURN(Backend * backend, BackendForSnapshot(*source_id));
    ABSL_ASSIGN_OR_RETURN(SnapshotRecord snapshot,
                          backend->GetSnapshot(*source_id));
    source_size = snapshot.size_bytes();
    record->set_source_snapshot_id(*source_id);
    record->set_block(snapshot.block());
    record->set_fs_type(snapshot.fs_type());
    record->set_encrypted(snapshot.encrypted());
    record->set_encryption_key_id(snapshot.encryption_key_id());
    SetPolicy(PolicyOf(snapshot), record);
  } else if (source.has_volume()) {
    *source_id = source.volume().volume_id();
    ABSL_ASSIGN_OR_RETURN(Backend * backend, BackendForVolume(*source_id));
    ABSL_ASSIGN_OR_RETURN(VolumeRecord volume, backend->Get(*source_id));
    source_size = volume.capacity_bytes();
    record->set_source_volume_id(*source_id);
    record->set_block(volume.block());
    record->set_fs_type(volume.fs_type());
    record->set_encrypted(volume.encrypted());
    record->set_encryption_key_id(volume.encryption_key_id().empty()
                                      ? volume.volume_id()
                                      : volume.encryption_key_id());
    SetPolicy(PolicyOf(volume), record);
  } else {
    return absl::InvalidArgumentError("volume_content_source names no source");
  }
  absl::StatusOr<ParsedId> id = ParseId(*source_id);
  if (id.ok() && id->device_class != device_class) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the source is in device class ", id->device_class,
        "; a restore or clone must be in the same class, not ", device_class));
  }
  if (record->block() != block) {
    return absl::InvalidArgumentError(
        record->block() ? "the source is a block volume"
                        : "the source is a filesystem volume");
  }
  if (range != nullptr && range->limit_bytes() > 0 &&
      range->limit_bytes() < source_size) {
    return absl::OutOfRangeError(absl::StrCat("the source holds ", source_size,
                                              " bytes, more than limit_bytes ",
                                              range->limit_bytes()));
  }
  if (range != nullptr && range->required_bytes() > 0 &&
      range->required_bytes() < source_size) {
    return absl::OutOfRangeError(absl::StrCat(
        "the source holds ", source_size, " bytes, more than the ",
        range->required_bytes(), " bytes asked for; volumes never shrink"));
  }
  record->set_capacity_bytes(source_size);
  return absl::OkStatus();
}

grpc::Status ControllerService::CreateSnapshot(
    grpc::ServerContext*, const csi::v1::CreateSnapshotRequest* request,
    csi::v1::CreateSnapshotResponse* response) {
  return WipeSecretsAndAnswer(request, DoCreateSnapshot(*request, response));
}

absl::Status ControllerService::ValidateCreateSnapshot(
    const csi::v1::CreateSnapshotRequest& request) {
  ABSL_RETURN_IF_ERROR(RequireField(request.name(), "name"));
  if (request.name().size() > kMaxNameLength) {
    return absl::InvalidArgumentError("name is too long");
  }
  ABSL_RETURN_IF_ERROR(
      RequireField(request.source_volume_id(), "source_volume_id"));
  if (request.name().find('/') != std::string::npos) {
    // Group members are named "<group id>/<volume id>": a plain snapshot
    // must never take a future member's id.
    return absl::InvalidArgumentError(
        "snapshot names may not contain '/' (reserved for group members)");
  }
  return CheckSidecarOnlyParameters(request.parameters(), "snapshot");
}

absl::Status ControllerService::CheckExistingSnapshot(
    const csi::v1::CreateSnapshotRequest& request,
    const SnapshotRecord& existing) {
  if (existing.source_volume_id() != request.source_volume_id() ||
      existing.name() != request.name()) {
    return absl::AlreadyExistsError(absl::StrCat(
        "a snapshot named \"", absl::CEscape(request.name().substr(0, 128)),
        "\" exists for another volume"));
  }
  // The same check as a new snapshot's: a retry is no way around it.
  ABSL_RETURN_IF_ERROR(CheckSnapshotNamespace(
      PolicyOf(existing), existing.source_volume_id(), request.parameters()));
  // One whose copy lost its instant can never be ready, and taking it
  // again under the same id would pass a later instant off as the one
  // the caller recorded: the caller is told, and takes a new one.
  if (existing.copy_failed()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "snapshot \"", absl::CEscape(request.name().substr(0, 128)),
        "\" lost its point in time before its copy finished (the COW area "
        "overflowed): delete it and take a new one"));
  }
  return absl::OkStatus();
}

absl::StatusOr<SnapshotRecord> ControllerService::TakeSnapshot(
    const csi::v1::CreateSnapshotRequest& request,
    const std::string& snapshot_id) {
  // The source must not change under the copy.
  ABSL_ASSIGN_OR_RETURN(HeldVolume source,
                        access_.LockVolume(request.source_volume_id()));
  // A snapshot is a copy: it keeps the volume's owner, and one asked for
  // from a namespace the volume does not admit is refused.
  const AccessPolicy owner = PolicyOf(source.record);
  ABSL_RETURN_IF_ERROR(CheckSnapshotNamespace(owner, source.record.volume_id(),
                                              request.parameters()));
  SnapshotRecord record;
  record.set_snapshot_id(snapshot_id);
  record.set_name(request.name());
  record.set_source_volume_id(request.source_volume_id());
  SetPolicy(owner, &record);
  const absl::Time now = clock_->Now();
  const int64_t seconds = absl::ToUnixSeconds(now);
  record.set_creation_unix(seconds);
  record.set_creation_nanos(static_cast<int32_t>(
      absl::ToInt64Nanoseconds(now - absl::FromUnixSeconds(seconds))));
  absl::StatusOr<SnapshotRecord> created;
  ABSL_RETURN_IF_ERROR(freezer_->WithFrozen(
      freezer_->MountedFilesystems(
          {{request.source_volume_id(), source.backend}}),
      [&] {
        created = source.backend->CreateSnapshot(record, nullptr);
        return created.status();
      }));
  return created;
}

absl::Status ControllerService::DoCreateSnapshot(
    const csi::v1::CreateSnapshotRequest& request,
    csi::v1::CreateSnapshotResponse* response) {
  ABSL_RETURN_IF_ERROR(ValidateCreateSnapshot(request));
  ABSL_ASSIGN_OR_RETURN(Backend * backend,
                        BackendForVolume(request.source_volume_id()));
  absl::StatusOr<ParsedId> source = ParseId(request.source_volume_id());
  const std::string snapshot_id = MakeId(IdKind::kSnapshot, config_.node_id,
                                         source->device_class, request.name());
  // The snapshot's id first (a second call for the same name is ABORTED),
  // then, only for a new snapshot, the source volume's (TakeSnapshot): a
  // retry of a snapshot already taken answers while the volume is busy.
  VolumeLockGuard snapshot_lock(locks_, snapshot_id);
  ABSL_RETURN_IF_ERROR(snapshot_lock.status());
  // Before the idempotency check: a driver killed while a filesystem was
  // frozen for this snapshot left it frozen, and the retry may find the
  // snapshot made.
  (void)freezer_->ThawLeftovers();  // logs what it cannot thaw
  absl::StatusOr<SnapshotRecord> existing = backend->GetSnapshot(snapshot_id);
  if (existing.ok()) {
    ABSL_RETURN_IF_ERROR(CheckExistingSnapshot(request, *existing));
    FillSnapshot(*existing, response->mutable_snapshot());
    return absl::OkStatus();
  }
  if (!absl::IsNotFound(existing.status())) return existing.status();
  ABSL_ASSIGN_OR_RETURN(SnapshotRecord created,
                        TakeSnapshot(request, snapshot_id));
  FillSnapshot(created, response->mutable_snapshot());
  return absl::OkStatus();
}

grpc::Status ControllerService::DeleteSnapshot(
    grpc::ServerContext*, const csi::v1::DeleteSnapshotRequest* request,
    csi::v1::DeleteSnapshotResponse*) {
  return WipeSecretsAndAnswer(request, DoDeleteSnapshot(*request));
}

absl::Status ControllerService::DoDeleteSnapshot(
    const csi::v1::DeleteSnapshotRequest& request) {
  ABSL_RETURN_IF_ERROR(RequireField(request.snapshot_id(), "snapshot_id"));
  absl::StatusOr<ParsedId> id = ParseId(request.snapshot_id());
  if (!id.ok() || id->kind != IdKind::kSnapshot) return absl::OkStatus();
  if (id->node_tag != node_tag_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "snapshot ", request.snapshot_id(), " lives on node ", id->node_tag));
  }
  // An id of this node that does not route names nothing to delete.
  absl::StatusOr<HeldId> held =
      access_.Lock(request.snapshot_id(), IdKind::kSnapshot);
  if (absl::IsNotFound(held.status())) return absl::OkStatus();
  ABSL_RETURN_IF_ERROR(held.status());
  Backend* const backend = held->backend;
  // A group's member goes only with its group (it is reported with its
  // group_snapshot_id, which tells the CO it is not deleted alone): a
  // retake of the group would otherwise mix two instants.
  absl::StatusOr<SnapshotRecord> snapshot =
      backend->GetSnapshot(request.snapshot_id());
  if (snapshot.ok() && !snapshot->group_snapshot_id().empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "snapshot ", request.snapshot_id(), " is a member of group snapshot ",
        snapshot->group_snapshot_id(), "; delete the group snapshot instead"));
  }
  return backend->DeleteSnapshot(request.snapshot_id());
}

std::string GroupSourcesDigest(std::vector<std::string> volume_ids) {
  std::sort(volume_ids.begin(), volume_ids.end());
  return Sha256Hex(absl::StrJoin(volume_ids, "\n"));
}

bool IsCompleteGroup(const std::vector<SnapshotRecord>& members,
                     const std::vector<std::string>& volume_ids) {
  std::vector<std::string> sources;
  for (const SnapshotRecord& member : members) {
    sources.push_back(member.source_volume_id());
  }
  std::sort(sources.begin(), sources.end());
  std::vector<std::string> wanted = volume_ids;
  std::sort(wanted.begin(), wanted.end());
  if (sources != wanted) return false;
  const std::string digest = GroupSourcesDigest(volume_ids);
  for (const SnapshotRecord& member : members) {
    // Members of an older driver carry no digest; their set is their own.
    if (!member.group_sources_digest().empty() &&
        member.group_sources_digest() != digest) {
      return false;
    }
  }
  return true;
}

grpc::Status ControllerService::ListSnapshots(
    grpc::ServerContext*, const csi::v1::ListSnapshotsRequest* request,
    csi::v1::ListSnapshotsResponse* response) {
  return WipeSecretsAndAnswer(request, DoListSnapshots(*request, response));
}

absl::Status ControllerService::DoListSnapshots(
    const csi::v1::ListSnapshotsRequest& request,
    csi::v1::ListSnapshotsResponse* response) {
  if (request.max_entries() < 0) {
    return absl::InvalidArgumentError("max_entries is negative");
  }
  if (!request.starting_token().empty()) {
    absl::StatusOr<ParsedId> token = ParseId(request.starting_token());
    if (!token.ok() || token->kind != IdKind::kSnapshot) {
      return absl::AbortedError(
          "starting_token is not a token this driver issued");
    }
  }
  std::vector<SnapshotRecord> all;
  if (!request.snapshot_id().empty()) {
    absl::StatusOr<Backend*> backend =
        BackendForSnapshot(request.snapshot_id());
    if (!backend.ok()) return absl::OkStatus();  // no such snapshot: empty
    absl::StatusOr<SnapshotRecord> one =
        (*backend)->GetSnapshot(request.snapshot_id());
    if (one.ok()) all.push_back(*one);
  } else {
    for (const auto& [name, backend] : backends_) {
      ABSL_ASSIGN_OR_RETURN(std::vector<SnapshotRecord> records,
                            backend->ListSnapshots());
      for (auto& record : records) all.push_back(std::move(record));
    }
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return a.snapshot_id() < b.snapshot_id();
  });
  const size_t limit = request.max_entries() > 0
                           ? static_cast<size_t>(request.max_entries())
                           : all.size();
  size_t emitted = 0;
  for (const SnapshotRecord& record : all) {
    if (!request.source_volume_id().empty() &&
        record.source_volume_id() != request.source_volume_id()) {
      continue;
    }
    if (!request.starting_token().empty() &&
        record.snapshot_id() <= request.starting_token()) {
      continue;
    }
    if (emitted == limit) {
      response->set_next_token(response->entries(response->entries_size() - 1)
                                   .snapshot()
                                   .snapshot_id());
      break;
    }
    FillSnapshot(record, response->add_entries()->mutable_snapshot());
    ++emitted;
  }
  return absl::OkStatus();
}

grpc::Status ControllerService::GetSnapshot(
    grpc::ServerContext*, const csi::v1::GetSnapshotRequest* request,
    csi::v1::GetSnapshotResponse* response) {
  return WipeSecretsAndAnswer(request, DoGetSnapshot(*request, response));
}

absl::Status ControllerService::DoGetSnapshot(
    const csi::v1::GetSnapshotRequest& request,
    csi::v1::GetSnapshotResponse* response) {
  ABSL_RETURN_IF_ERROR(RequireField(request.snapshot_id(), "snapshot_id"));
  // Read-only: answers while another operation on the snapshot is pending.
  ABSL_ASSIGN_OR_RETURN(HeldSnapshot snapshot,
                        access_.ReadSnapshot(request.snapshot_id()));
  FillSnapshot(snapshot.record, response->mutable_snapshot());
  return absl::OkStatus();
}

// ---------------------------------------------------------------- Groups

absl::StatusOr<ControllerService::LockedGroup> ControllerService::LockGroup(
    const std::string& group_id, const std::vector<std::string>& volume_ids,
    const google::protobuf::Map<std::string, std::string>& parameters) {
  LockedGroup group;
  // The group itself too: its delete never runs while it is being taken.
  group.lock = std::make_unique<VolumeLockGuard>(locks_, group_id);
  ABSL_RETURN_IF_ERROR(group.lock->status());
  for (const std::string& volume_id : volume_ids) {
    ABSL_ASSIGN_OR_RETURN(HeldVolume volume, access_.LockVolume(volume_id));
    // Members keep their volume's owner, and a namespace the volume does
    // not admit is refused.
    ABSL_RETURN_IF_ERROR(
        CheckSnapshotNamespace(PolicyOf(volume.record), volume_id, parameters));
    group.members.push_back(std::move(volume));
  }
  return group;
}

absl::StatusOr<bool> ControllerService::FinishEarlierGroup(
    const std::string& group_id, const std::vector<std::string>& volume_ids,
    const std::string& digest, std::vector<SnapshotRecord>* snapshots) {
  absl::StatusOr<std::vector<SnapshotRecord>> earlier = GetGroup(group_id);
  if (absl::IsNotFound(earlier.status())) return false;
  ABSL_RETURN_IF_ERROR(earlier.status());
  if (IsCompleteGroup(*earlier, volume_ids)) {
    *snapshots = *std::move(earlier);
    return true;
  }
  for (const SnapshotRecord& member : *earlier) {
    if (member.group_sources_digest() != digest ||
        member.group_size() != static_cast<int32_t>(volume_ids.size())) {
      return absl::AlreadyExistsError(absl::StrCat(
          "group snapshot ", group_id, " exists for other volumes"));
    }
  }
  for (const SnapshotRecord& member : *earlier) {
    ABSL_ASSIGN_OR_RETURN(Backend * backend,
                          BackendForSnapshot(member.snapshot_id()));
    spdlog::info("group {}: taking back member {} of an unfinished group",
                 group_id, member.snapshot_id());
    ABSL_RETURN_IF_ERROR(backend->DeleteSnapshot(member.snapshot_id()));
  }
  return false;
}

absl::Status ControllerService::TakeGroupMembers(
    const std::string& group_id, const LockedGroup& group,
    const std::string& digest, std::vector<SnapshotRecord>* snapshots,
    std::vector<std::pair<std::string, Backend*>>* made) {
  const int64_t now = absl::ToUnixSeconds(clock_->Now());
  snapshots->clear();
  for (const HeldVolume& volume : group.members) {
    const std::string& volume_id = volume.record.volume_id();
    SnapshotRecord record;
    record.set_snapshot_id(MakeId(IdKind::kSnapshot, config_.node_id,
                                  volume.id.device_class,
                                  absl::StrCat(group_id, "/", volume_id)));
    record.set_name(absl::StrCat(group_id, "/", volume_id));
    record.set_source_volume_id(volume_id);
    record.set_group_snapshot_id(group_id);
    record.set_group_sources_digest(digest);
    record.set_group_size(static_cast<int32_t>(group.members.size()));
    SetPolicy(PolicyOf(volume.record), &record);
    record.set_creation_unix(now);
    Backend* const backend = volume.backend;
    const bool existed = backend->GetSnapshot(record.snapshot_id()).ok();
    ABSL_ASSIGN_OR_RETURN(SnapshotRecord created,
                          backend->CreateSnapshot(record, nullptr));
    if (!existed) made->emplace_back(record.snapshot_id(), backend);
    if (created.source_volume_id() != volume_id ||
        created.group_snapshot_id() != group_id) {
      return absl::AlreadyExistsError(absl::StrCat(
          "snapshot ", record.snapshot_id(),
          " exists and is not this group's member for ", volume_id));
    }
    snapshots->push_back(created);
  }
  return absl::OkStatus();
}

absl::Status ControllerService::SnapshotGroup(
    const std::string& group_id, const std::vector<std::string>& volume_ids,
    const google::protobuf::Map<std::string, std::string>& parameters,
    std::vector<SnapshotRecord>* snapshots) {
  ABSL_ASSIGN_OR_RETURN(LockedGroup group,
                        LockGroup(group_id, volume_ids, parameters));
  // As for a single snapshot: what a killed driver left frozen is thawed
  // before anything else.
  (void)freezer_->ThawLeftovers();  // logs what it cannot thaw
  // Under the members' locks: what an earlier call left. A complete group
  // of these volumes is the answer; half of one (the driver died while
  // taking it; no caller was ever told of it) is taken back and the whole
  // group taken again, so every member has one instant; members of another
  // set of volumes under this name are another group.
  const std::string digest = GroupSourcesDigest(volume_ids);
  ABSL_ASSIGN_OR_RETURN(bool complete, FinishEarlierGroup(group_id, volume_ids,
                                                          digest, snapshots));
  if (complete) return absl::OkStatus();
  std::vector<std::pair<std::string, Backend*>> volumes;
  for (const HeldVolume& volume : group.members) {
    volumes.emplace_back(volume.record.volume_id(), volume.backend);
  }
  // Members this call made, to take back if the group cannot be completed
  // (a retry then starts over rather than finding half a group).
  std::vector<std::pair<std::string, Backend*>> made;
  // All member filesystems frozen together, for one instant.
  absl::Status status =
      freezer_->WithFrozen(freezer_->MountedFilesystems(volumes), [&] {
        return TakeGroupMembers(group_id, group, digest, snapshots, &made);
      });
  if (!status.ok()) {
    for (const auto& [snapshot_id, backend] : made) {
      if (absl::Status s = backend->DeleteSnapshot(snapshot_id); !s.ok()) {
        spdlog::warn("group {}: cannot take back member {}: {}", group_id,
                     snapshot_id, std::string(s.message()));
      }
    }
    snapshots->clear();
  }
  return status;
}

absl::Status ControllerService::CheckGroupNamespace(
    const std::vector<SnapshotRecord>& members,
    const google::protobuf::Map<std::string, std::string>& parameters) {
  for (const SnapshotRecord& member : members) {
    ABSL_RETURN_IF_ERROR(CheckSnapshotNamespace(
        PolicyOf(member), member.source_volume_id(), parameters));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<SnapshotRecord>> ControllerService::GetGroup(
    const std::string& group_id) {
  std::vector<SnapshotRecord> members;
  for (const auto& [name, backend] : backends_) {
    ABSL_ASSIGN_OR_RETURN(std::vector<SnapshotRecord> records,
                          backend->ListSnapshots());
    for (auto& record : records) {
      if (record.group_snapshot_id() == group_id) members.push_back(record);
    }
  }
  if (members.empty()) {
    return absl::NotFoundError(absl::StrCat("no group snapshot ", group_id));
  }
  return members;
}

absl::Status ControllerService::DeleteGroup(
    const std::string& group_id, const std::vector<std::string>& snapshot_ids) {
  // Not while the group is being taken: a member whose data is written
  // but not yet its record would read as a leftover below.
  VolumeLockGuard group_lock(locks_, group_id);
  if (!group_lock.ok()) return group_lock.status();
  absl::StatusOr<std::vector<SnapshotRecord>> members = GetGroup(group_id);
  if (absl::IsNotFound(members.status()))
    members = std::vector<SnapshotRecord>();
  if (!members.ok()) return members.status();
  // A delete that stopped half-way (the driver died, a removal failed) has
  // deleted some members already: the retry, with the same snapshot_ids,
  // finds fewer. Every member found must be listed; a listed id not found
  // may be such a member, and its delete (idempotent) removes what an
  // interrupted delete left of it. A listed id that is another snapshot is
  // a mismatch.
  std::vector<std::string> leftovers;
  for (const std::string& id : snapshot_ids) {
    const bool found = std::any_of(
        members->begin(), members->end(),
        [&id](const SnapshotRecord& m) { return m.snapshot_id() == id; });
    if (found) continue;
    absl::StatusOr<Backend*> backend = BackendForSnapshot(id);
    if (!backend.ok()) continue;  // not this node's: nothing of it here
    absl::StatusOr<SnapshotRecord> other = (*backend)->GetSnapshot(id);
    if (other.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "snapshot_ids name ", id, ", which is not in group ", group_id));
    }
    if (!absl::IsNotFound(other.status())) return other.status();
    leftovers.push_back(id);
  }
  for (const SnapshotRecord& member : *members) {
    if (!snapshot_ids.empty() &&
        std::find(snapshot_ids.begin(), snapshot_ids.end(),
                  member.snapshot_id()) == snapshot_ids.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("snapshot_ids do not name ", member.snapshot_id(),
                       " of group ", group_id));
    }
  }
  for (const std::string& id : leftovers) {
    absl::StatusOr<Backend*> backend = BackendForSnapshot(id);
    if (!backend.ok()) continue;
    // A plain CreateSnapshot of that id in flight (data written, record
    // not yet) holds its lock: never take its data from under it.
    VolumeLockGuard snapshot_lock(locks_, id);
    if (!snapshot_lock.ok()) return snapshot_lock.status();
    ABSL_RETURN_IF_ERROR((*backend)->DeleteSnapshot(id));
  }
  for (const SnapshotRecord& member : *members) {
    absl::StatusOr<Backend*> backend = BackendForSnapshot(member.snapshot_id());
    if (!backend.ok()) continue;
    ABSL_RETURN_IF_ERROR((*backend)->DeleteSnapshot(member.snapshot_id()));
  }
  return absl::OkStatus();
}

}  // namespace cellar
