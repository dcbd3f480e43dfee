#include "test/testing/csi_client.h"

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace cellar::testing {
namespace {

std::unique_ptr<grpc::ClientContext> NewContext() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(120)));
  return context;
}

}  // namespace

csi::v1::VolumeCapability Capability(
    const std::string& fs_type, bool block,
    csi::v1::VolumeCapability::AccessMode::Mode mode) {
  csi::v1::VolumeCapability capability;
  if (block) {
    capability.mutable_block();
  } else {
    capability.mutable_mount()->set_fs_type(fs_type);
  }
  capability.mutable_access_mode()->set_mode(mode);
  return capability;
}

CsiClient::CsiClient(std::shared_ptr<grpc::Channel> channel)
    : controller_(csi::v1::Controller::NewStub(channel)),
      node_(csi::v1::Node::NewStub(channel)) {}

grpc::Status CsiClient::Create(const std::string& name,
                               const csi::v1::VolumeCapability& capability,
                               int64_t bytes, std::string* volume_id) {
  return CreateWithParameters(name, capability, bytes, {}, volume_id);
}

grpc::Status CsiClient::Stage(const std::string& volume_id,
                              const std::string& staging,
                              const csi::v1::VolumeCapability& capability) {
  return StageWithSecrets(volume_id, staging, capability, {});
}

grpc::Status CsiClient::StageWithSecrets(
    const std::string& volume_id, const std::string& staging,
    const csi::v1::VolumeCapability& capability,
    const std::map<std::string, std::string>& secrets) {
  csi::v1::NodeStageVolumeRequest request;
  request.set_volume_id(volume_id);
  request.set_staging_target_path(staging);
  *request.mutable_volume_capability() = capability;
  for (const auto& [key, value] : secrets)
    (*request.mutable_secrets())[key] = value;
  csi::v1::NodeStageVolumeResponse response;
  return node_->NodeStageVolume(NewContext().get(), request, &response);
}

grpc::Status CsiClient::CreateWithParameters(
    const std::string& name, const csi::v1::VolumeCapability& capability,
    int64_t bytes, const std::map<std::string, std::string>& parameters,
    std::string* volume_id) {
  csi::v1::CreateVolumeRequest request;
  request.set_name(name);
  *request.add_volume_capabilities() = capability;
  request.mutable_capacity_range()->set_required_bytes(bytes);
  for (const auto& [key, value] : parameters) {
    (*request.mutable_parameters())[key] = value;
  }
  csi::v1::CreateVolumeResponse response;
  grpc::Status status =
      controller_->CreateVolume(NewContext().get(), request, &response);
  if (status.ok() && volume_id != nullptr) {
    *volume_id = response.volume().volume_id();
  }
  return status;
}

grpc::Status CsiClient::Expand(const std::string& volume_id,
                               const std::string& path, int64_t bytes,
                               bool node_step) {
  csi::v1::ControllerExpandVolumeRequest request;
  request.set_volume_id(volume_id);
  request.mutable_capacity_range()->set_required_bytes(bytes);
  csi::v1::ControllerExpandVolumeResponse response;
  grpc::Status status = controller_->ControllerExpandVolume(NewContext().get(),
                                                            request, &response);
  if (!status.ok() || !node_step) return status;
  csi::v1::NodeExpandVolumeRequest node_request;
  node_request.set_volume_id(volume_id);
  node_request.set_volume_path(path);
  node_request.mutable_capacity_range()->set_required_bytes(bytes);
  csi::v1::NodeExpandVolumeResponse node_response;
  return node_->NodeExpandVolume(NewContext().get(), node_request,
                                 &node_response);
}

grpc::Status CsiClient::Publish(const std::string& volume_id,
                                const std::string& staging,
                                const std::string& target,
                                const csi::v1::VolumeCapability& capability,
                                bool read_only) {
  csi::v1::NodePublishVolumeRequest request;
  request.set_volume_id(volume_id);
  request.set_staging_target_path(staging);
  request.set_target_path(target);
  request.set_readonly(read_only);
  *request.mutable_volume_capability() = capability;
  csi::v1::NodePublishVolumeResponse response;
  return node_->NodePublishVolume(NewContext().get(), request, &response);
}

grpc::Status CsiClient::Unpublish(const std::string& volume_id,
                                  const std::string& target) {
  csi::v1::NodeUnpublishVolumeRequest request;
  request.set_volume_id(volume_id);
  request.set_target_path(target);
  csi::v1::NodeUnpublishVolumeResponse response;
  return node_->NodeUnpublishVolume(NewContext().get(), request, &response);
}

grpc::Status CsiClient::Unstage(const std::string& volume_id,
                                const std::string& staging) {
  csi::v1::NodeUnstageVolumeRequest request;
  request.set_volume_id(volume_id);
  request.set_staging_target_path(staging);
  csi::v1::NodeUnstageVolumeResponse response;
  return node_->NodeUnstageVolume(NewContext().get(), request, &response);
}

grpc::Status CsiClient::Delete(const std::string& volume_id) {
  csi::v1::DeleteVolumeRequest request;
  request.set_volume_id(volume_id);
  csi::v1::DeleteVolumeResponse response;
  return controller_->DeleteVolume(NewContext().get(), request, &response);
}

}  // namespace cellar::testing
