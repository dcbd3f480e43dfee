#include "src/identity/identity_service.h"

#include <utility>

#include "spdlog/spdlog.h"
#include "src/common/logging.h"

namespace cellar {

IdentityService::IdentityService(IdentityConfig config,
                                 std::function<absl::Status()> readiness)
    : config_(std::move(config)), readiness_(std::move(readiness)) {}

grpc::Status IdentityService::GetPluginInfo(
    grpc::ServerContext*, const csi::v1::GetPluginInfoRequest*,
    csi::v1::GetPluginInfoResponse* response) {
  response->set_name(config_.driver_name);
  response->set_vendor_version(config_.vendor_version);
  return grpc::Status::OK;
}

grpc::Status IdentityService::GetPluginCapabilities(
    grpc::ServerContext*, const csi::v1::GetPluginCapabilitiesRequest*,
    csi::v1::GetPluginCapabilitiesResponse* response) {
  for (const auto& capability : config_.capabilities) {
    *response->add_capabilities() = capability;
  }
  return grpc::Status::OK;
}

grpc::Status IdentityService::Probe(grpc::ServerContext*,
                                    const csi::v1::ProbeRequest*,
                                    csi::v1::ProbeResponse* response) {
  // Not ready is an answer, not an error: the caller (livenessprobe,
  // kubelet) retries. The reason goes to the log.
  const absl::Status status = readiness_ ? readiness_() : absl::OkStatus();
  if (!status.ok()) {
    spdlog::warn("probe: not ready: {}", status.message());
  }
  response->mutable_ready()->set_value(status.ok());
  return grpc::Status::OK;
}

csi::v1::PluginCapability ServiceCapability(
    csi::v1::PluginCapability::Service::Type type) {
  csi::v1::PluginCapability capability;
  capability.mutable_service()->set_type(type);
  return capability;
}

csi::v1::PluginCapability ExpansionCapability(
    csi::v1::PluginCapability::VolumeExpansion::Type type) {
  csi::v1::PluginCapability capability;
  capability.mutable_volume_expansion()->set_type(type);
  return capability;
}

}  // namespace cellar
