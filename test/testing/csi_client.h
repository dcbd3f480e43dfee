#ifndef CELLAR_TEST_TESTING_CSI_CLIENT_H_
#define CELLAR_TEST_TESTING_CSI_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <map>
#include <string>

#include "csi.grpc.pb.h"

namespace cellar::testing {

// A volume capability: block, or mount with `fs_type` ("" for default).
csi::v1::VolumeCapability Capability(
    const std::string& fs_type, bool block,
    csi::v1::VolumeCapability::AccessMode::Mode mode =
        csi::v1::VolumeCapability::AccessMode::SINGLE_NODE_WRITER);

// The lifecycle calls the tests and benchmarks make, one line each, over
// the project's own stubs. Each call gets a fresh deadline.
class CsiClient final {
 public:
  explicit CsiClient(std::shared_ptr<grpc::Channel> channel);

  grpc::Status Create(const std::string& name,
                      const csi::v1::VolumeCapability& capability,
                      int64_t bytes, std::string* volume_id);
  grpc::Status Stage(const std::string& volume_id, const std::string& staging,
                     const csi::v1::VolumeCapability& capability);
  // Stage with node-stage secrets (encrypted volumes).
  grpc::Status StageWithSecrets(
      const std::string& volume_id, const std::string& staging,
      const csi::v1::VolumeCapability& capability,
      const std::map<std::string, std::string>& secrets);
  // Create with StorageClass parameters.
  grpc::Status CreateWithParameters(
      const std::string& name, const csi::v1::VolumeCapability& capability,
      int64_t bytes, const std::map<std::string, std::string>& parameters,
      std::string* volume_id);
  grpc::Status Expand(const std::string& volume_id, const std::string& path,
                      int64_t bytes, bool node_step);
  grpc::Status Publish(const std::string& volume_id, const std::string& staging,
                       const std::string& target,
                       const csi::v1::VolumeCapability& capability,
                       bool read_only);
  grpc::Status Unpublish(const std::string& volume_id,
                         const std::string& target);
  grpc::Status Unstage(const std::string& volume_id,
                       const std::string& staging);
  grpc::Status Delete(const std::string& volume_id);

 private:
  std::unique_ptr<csi::v1::Controller::Stub> controller_;
  std::unique_ptr<csi::v1::Node::Stub> node_;
};

}  // namespace cellar::testing

#endif  // CELLAR_TEST_TESTING_CSI_CLIENT_H_
