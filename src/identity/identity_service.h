#ifndef CELLAR_SRC_IDENTITY_IDENTITY_SERVICE_H_
#define CELLAR_SRC_IDENTITY_IDENTITY_SERVICE_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "csi.grpc.pb.h"

namespace cellar {

struct IdentityConfig {
  std::string driver_name;
  std::string vendor_version;
  // Plugin capabilities to advertise: only what this process implements.
  std::vector<csi::v1::PluginCapability> capabilities;
};

// The CSI Identity service. Thread-safe: holds only immutable state and a
// readiness check that must itself be thread-safe.
class IdentityService final : public csi::v1::Identity::Service {
 public:
  // `readiness` returns OK when every configured backend can serve, or a
  // status saying what is missing.
  IdentityService(IdentityConfig config,
                  std::function<absl::Status()> readiness);
  IdentityService(const IdentityService&) = delete;
  IdentityService& operator=(const IdentityService&) = delete;

  grpc::Status GetPluginInfo(grpc::ServerContext* context,
                             const csi::v1::GetPluginInfoRequest* request,
                             csi::v1::GetPluginInfoResponse* response) override;
  grpc::Status GetPluginCapabilities(
      grpc::ServerContext* context,
      const csi::v1::GetPluginCapabilitiesRequest* request,
      csi::v1::GetPluginCapabilitiesResponse* response) override;
  grpc::Status Probe(grpc::ServerContext* context,
                     const csi::v1::ProbeRequest* request,
                     csi::v1::ProbeResponse* response) override;

 private:
  const IdentityConfig config_;
  const std::function<absl::Status()> readiness_;
};

// Builders for the capability list.
csi::v1::PluginCapability ServiceCapability(
    csi::v1::PluginCapability::Service::Type type);
csi::v1::PluginCapability ExpansionCapability(
    csi::v1::PluginCapability::VolumeExpansion::Type type);

}  // namespace cellar

#endif  // CELLAR_SRC_IDENTITY_IDENTITY_SERVICE_H_
