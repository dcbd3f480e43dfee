#include "src/controller/controller_service.h"

#include <algorithm>
#include <ctime>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "src/common/capability.h"
#include "src/common/status.h"
#include "src/controller/parameters.h"

namespace cellar {
namespace {

using csi::v1::ControllerServiceCapability;

// CSI names are opaque to the plugin but end up in records and logs.
constexpr size_t kMaxNameLength = 256;

bool SameParameters(const VolumeRecord& record,
                    const google::protobuf::Map<std::string, std::string>& p) {
  if (static_cast<size_t>(record.parameters().size()) != p.size()) return false;
  for (const auto& [key, value] : p) {
    auto it = record.parameters().find(key);
    if (it == record.parameters().end() || it->second != value) return false;
  }
  return true;
}

}  // namespace

ControllerService::ControllerService(ControllerConfig config,
                                     std::map<std::string, Backend*> backends,
                                     VolumeLocks* locks)
    : config_(std::move(config)),
      backends_(std::move(backends)),
      locks_(locks),
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
  absl::StatusOr<ParsedId> id = ParseId(volume_id);
  if (!id.ok() || id->kind != IdKind::kVolume) {
    return absl::NotFoundError(
        absl::StrCat("volume \"", absl::CEscape(volume_id.substr(0, 128)),
                     "\" does not exist (not a cellar volume id)"));
  }
  if (id->node_tag != node_tag_) {
    return absl::NotFoundError(absl::StrCat("volume ", volume_id,
                                            " belongs to node ", id->node_tag,
                                            ", not this node"));
  }
  auto it = backends_.find(id->device_class);
  if (it == backends_.end()) {
    return absl::NotFoundError(absl::StrCat(
        "volume ", volume_id, " is in device class ", id->device_class,
        " which this node does not have"));
  }
  return it->second;
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
  return ToGrpcStatus(DoCreateVolume(*request, response));
}

absl::Status ControllerService::DoCreateVolume(
    const csi::v1::CreateVolumeRequest& request,
    csi::v1::CreateVolumeResponse* response) {
  // Validate.
  if (request.name().empty()) {
    return absl::InvalidArgumentError("name is missing");
  }
  if (request.name().size() > kMaxNameLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        "name is ", request.name().size(), " bytes, more than ",
        kMaxNameLength));
  }
  absl::StatusOr<AccessRequest> access =
      ValidateCapabilities(request.volume_capabilities());
  if (!access.ok()) return access.status();
  absl::StatusOr<VolumeParameters> params =
      ParseVolumeParameters(request.parameters());
  if (!params.ok()) return params.status();
  if (!request.mutable_parameters().empty()) {
    return absl::InvalidArgumentError(
        "mutable parameters (volume attributes classes) are not supported");
  }
  if (request.has_volume_content_source()) {
    return absl::InvalidArgumentError(
        "creating a volume from a snapshot or another volume is not "
        "supported yet");
  }
  if (!access->block && !params->fs_type.empty() && !access->fs_type.empty() &&
      params->fs_type != access->fs_type) {
    return absl::InvalidArgumentError(absl::StrCat(
        "parameter fsType=", params->fs_type,
        " contradicts the capability's fs_type ", access->fs_type));
  }
  std::string device_class;
  absl::StatusOr<Backend*> backend =
      BackendForClass(params->device_class, &device_class);
  if (!backend.ok()) return backend.status();
  absl::StatusOr<uint64_t> size = SizeForRange(
      request.has_capacity_range() ? &request.capacity_range() : nullptr,
      config_.default_volume_bytes);
  if (!size.ok()) return size.status();
  if (request.has_accessibility_requirements() &&
      !TopologyAllows(request.accessibility_requirements())) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the requisite topology does not include this node (",
        config_.node_id, ")"));
  }

  const std::string volume_id =
      MakeId(IdKind::kVolume, config_.node_id, device_class, request.name());
  VolumeLockGuard lock(locks_, volume_id);
  if (!lock.ok()) return lock.status();

  // Idempotency: the id is derived from the name.
  absl::StatusOr<VolumeRecord> existing = (*backend)->Get(volume_id);
  if (existing.ok()) {
    const int64_t required = request.capacity_range().required_bytes();
    const int64_t limit = request.capacity_range().limit_bytes();
    const bool compatible =
        existing->name() == request.name() &&
        existing->capacity_bytes() >= required &&
        (limit == 0 || existing->capacity_bytes() <= limit) &&
        existing->block() == access->block &&
        (access->block || access->fs_type.empty() ||
         access->fs_type == existing->fs_type()) &&
        SameParameters(*existing, request.parameters());
    if (!compatible) {
      return absl::AlreadyExistsError(absl::StrCat(
          "a volume named \"", absl::CEscape(request.name().substr(0, 128)),
          "\" exists with a different size, type or parameters"));
    }
  } else if (!absl::IsNotFound(existing.status())) {
    return existing.status();
  }

  VolumeRecord record;
  if (existing.ok()) {
    record = *existing;
  } else {
    record.set_volume_id(volume_id);
    record.set_name(request.name());
    record.set_capacity_bytes(static_cast<int64_t>(*size));
    record.set_required_bytes(request.capacity_range().required_bytes());
    record.set_limit_bytes(request.capacity_range().limit_bytes());
    record.set_block(access->block);
    if (!access->block) {
      record.set_fs_type(!access->fs_type.empty()   ? access->fs_type
                         : !params->fs_type.empty() ? params->fs_type
                                                    : kDefaultFsType);
    }
    record.set_allocation(params->allocation);
    *record.mutable_parameters() = request.parameters();
    record.set_bound_namespace(params->pvc_namespace);
    for (const auto& ns : params->allowed_namespaces) {
      record.add_allowed_namespaces(ns);
    }
    for (const auto& sa : params->allowed_service_accounts) {
      record.add_allowed_service_accounts(sa);
    }
    record.set_encrypted(params->encrypted);
    record.set_created_unix(static_cast<int64_t>(std::time(nullptr)));
  }
  // Create also completes a create that crashed half-way.
  absl::StatusOr<VolumeRecord> created = (*backend)->Create(record);
  if (!created.ok()) return created.status();
  FillVolume(*created, response->mutable_volume());
  return absl::OkStatus();
}

// ---------------------------------------------------------------- Delete

grpc::Status ControllerService::DeleteVolume(
    grpc::ServerContext*, const csi::v1::DeleteVolumeRequest* request,
    csi::v1::DeleteVolumeResponse*) {
  return ToGrpcStatus(DoDeleteVolume(*request));
}

absl::Status ControllerService::DoDeleteVolume(
    const csi::v1::DeleteVolumeRequest& request) {
  if (request.volume_id().empty()) {
    return absl::InvalidArgumentError("volume_id is missing");
  }
  absl::StatusOr<ParsedId> id = ParseId(request.volume_id());
  if (!id.ok() || id->kind != IdKind::kVolume) {
    // Not an id this driver could have made, so no such volume: deleting
    // it is a success (CSI: DeleteVolume is idempotent).
    return absl::OkStatus();
  }
  if (id->node_tag != node_tag_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "volume ", request.volume_id(), " lives on node ", id->node_tag,
        "; delete it through that node's driver"));
  }
  absl::StatusOr<Backend*> backend = BackendForVolume(request.volume_id());
  if (!backend.ok()) return absl::OkStatus();
  VolumeLockGuard lock(locks_, request.volume_id());
  if (!lock.ok()) return lock.status();
  return (*backend)->Delete(request.volume_id());
}

// ---------------------------------------------------------------- Validate

grpc::Status ControllerService::ValidateVolumeCapabilities(
    grpc::ServerContext*,
    const csi::v1::ValidateVolumeCapabilitiesRequest* request,
    csi::v1::ValidateVolumeCapabilitiesResponse* response) {
  return ToGrpcStatus(DoValidate(*request, response));
}

absl::Status ControllerService::DoValidate(
    const csi::v1::ValidateVolumeCapabilitiesRequest& request,
    csi::v1::ValidateVolumeCapabilitiesResponse* response) {
  if (request.volume_id().empty()) {
    return absl::InvalidArgumentError("volume_id is missing");
  }
  if (request.volume_capabilities().empty()) {
    return absl::InvalidArgumentError("volume capabilities are missing");
  }
  absl::StatusOr<ParsedId> id = ParseId(request.volume_id());
  if (!id.ok() || id->kind != IdKind::kVolume) {
    return absl::NotFoundError(absl::StrCat("volume does not exist: ",
                                            id.ok() ? "snapshot id"
                                                    : id.status().message()));
  }
  absl::StatusOr<VolumeRecord> record;
  if (config_.local_storage) {
    absl::StatusOr<Backend*> backend = BackendForVolume(request.volume_id());
    if (!backend.ok()) return backend.status();
    record = (*backend)->Get(request.volume_id());
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
      response->set_message(absl::StrCat("volume has fs type ",
                                         record->fs_type()));
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
      return absl::AbortedError("starting_token is not a token this driver "
                                "issued");
    }
  }
  std::vector<std::pair<VolumeRecord, Backend*>> all;
  for (const auto& [name, backend] : backends_) {
    absl::StatusOr<std::vector<VolumeRecord>> records = backend->List();
    if (!records.ok()) return records.status();
    for (auto& record : *records) all.emplace_back(std::move(record), backend);
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
    absl::StatusOr<AccessRequest> access =
        ValidateCapabilities(request.volume_capabilities());
    if (!access.ok()) return access.status();
  }
  absl::StatusOr<VolumeParameters> params =
      ParseVolumeParameters(request.parameters());
  if (!params.ok()) return params.status();
  absl::StatusOr<Backend*> backend = BackendForClass(params->device_class, nullptr);
  if (!backend.ok()) return backend.status();
  if (request.has_accessible_topology()) {
    auto it = request.accessible_topology().segments().find(kTopologyKey);
    if (it == request.accessible_topology().segments().end() ||
        it->second != config_.node_id) {
      response->set_available_capacity(0);
      return absl::OkStatus();
    }
  }
  absl::StatusOr<BackendCapacity> capacity = (*backend)->Capacity();
  if (!capacity.ok()) return capacity.status();
  response->set_available_capacity(
      static_cast<int64_t>(capacity->available_bytes));
  response->mutable_maximum_volume_size()->set_value(
      static_cast<int64_t>(capacity->max_volume_bytes));
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
    for (auto type : {ControllerServiceCapability::RPC::CREATE_DELETE_VOLUME,
                      ControllerServiceCapability::RPC::LIST_VOLUMES,
                      ControllerServiceCapability::RPC::GET_CAPACITY,
                      ControllerServiceCapability::RPC::
                          LIST_VOLUMES_PUBLISHED_NODES,
                      ControllerServiceCapability::RPC::GET_VOLUME,
                      ControllerServiceCapability::RPC::VOLUME_CONDITION}) {
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
  return ToGrpcStatus(DoExpand(*request, response));
}

absl::Status ControllerService::DoExpand(
    const csi::v1::ControllerExpandVolumeRequest& request,
    csi::v1::ControllerExpandVolumeResponse* response) {
  if (request.volume_id().empty()) {
    return absl::InvalidArgumentError("volume_id is missing");
  }
  if (!request.has_capacity_range()) {
    return absl::InvalidArgumentError("capacity_range is missing");
  }
  if (request.has_volume_capability()) {
    absl::StatusOr<AccessRequest> access =
        ValidateCapability(request.volume_capability());
    if (!access.ok()) return access.status();
  }
  absl::StatusOr<uint64_t> size = SizeForRange(&request.capacity_range(), 0);
  if (!size.ok()) return size.status();
  absl::StatusOr<ParsedId> id = ParseId(request.volume_id());
  if (!id.ok() || id->kind != IdKind::kVolume) {
    return absl::NotFoundError(
        absl::StrCat("volume does not exist: not a cellar volume id"));
  }
  if (!config_.local_storage) {
    // The storage is on the node: NodeExpandVolume grows it and then the
    // filesystem (or the device for block volumes).
    response->set_capacity_bytes(static_cast<int64_t>(*size));
    response->set_node_expansion_required(true);
    return absl::OkStatus();
  }
  absl::StatusOr<Backend*> backend = BackendForVolume(request.volume_id());
  if (!backend.ok()) return backend.status();
  VolumeLockGuard lock(locks_, request.volume_id());
  if (!lock.ok()) return lock.status();
  absl::StatusOr<VolumeRecord> record = (*backend)->Get(request.volume_id());
  if (!record.ok()) return record.status();
  absl::StatusOr<uint64_t> grown = (*backend)->Expand(request.volume_id(), *size);
  if (!grown.ok()) return grown.status();
  if (record->block()) {
    // An attached block device only needs to see the new size.
    absl::Status refreshed = (*backend)->RefreshDevice(request.volume_id());
    if (!refreshed.ok()) return refreshed;
  }
  response->set_capacity_bytes(static_cast<int64_t>(*grown));
  response->set_node_expansion_required(!record->block());
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
  if (request.volume_id().empty()) {
    return absl::InvalidArgumentError("volume_id is missing");
  }
  absl::StatusOr<Backend*> backend = BackendForVolume(request.volume_id());
  if (!backend.ok()) return backend.status();
  absl::StatusOr<VolumeRecord> record = (*backend)->Get(request.volume_id());
  if (!record.ok()) return record.status();
  FillVolume(*record, response->mutable_volume());
  auto* status = response->mutable_status();
  if ((*backend)->FindDevice(request.volume_id()).ok()) {
    status->add_published_node_ids(config_.node_id);
  }
  status->mutable_volume_condition()->set_abnormal(false);
  status->mutable_volume_condition()->set_message("volume storage is present");
  return absl::OkStatus();
}

}  // namespace cellar
