#ifndef CELLAR_SRC_CONTROLLER_PARAMETERS_H_
#define CELLAR_SRC_CONTROLLER_PARAMETERS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/map.h"
#include "src/common/volume_options.h"

namespace cellar {

// StorageClass parameters of CreateVolume and GetCapacity, validated.
struct VolumeParameters {
  std::string fs_type;  // empty: not given
  Allocation allocation = Allocation::kThin;
  std::string device_class;  // empty: the default class
  bool encrypted = false;
  // From csi.storage.k8s.io/pvc/namespace (the provisioner's extra create
  // metadata): the namespace the volume is bound to.
  std::string pvc_namespace;
  std::vector<std::string> allowed_namespaces;
  std::vector<std::string> allowed_service_accounts;  // "ns/sa"
};

// Parses and checks every key; an unknown key (outside the
// csi.storage.k8s.io/ prefix, which the sidecars own) or a bad value is
// INVALID_ARGUMENT naming it.
absl::StatusOr<VolumeParameters> ParseVolumeParameters(
    const google::protobuf::Map<std::string, std::string>& parameters);

// Parameters of requests that take none of their own (snapshots, group
// snapshots): only the sidecars' csi.storage.k8s.io/ keys are accepted.
// INVALID_ARGUMENT naming the first other key and `what` it was for.
absl::Status CheckSidecarOnlyParameters(
    const google::protobuf::Map<std::string, std::string>& parameters,
    absl::string_view what);

// The longest CSI name (of a volume, snapshot or group) accepted: names are
// opaque to the plugin but end up in records and logs.
constexpr size_t kMaxNameLength = 256;

// Kubernetes namespace / service account name rules (RFC 1123 label).
bool IsValidKubernetesName(const std::string& name);

}  // namespace cellar

#endif  // CELLAR_SRC_CONTROLLER_PARAMETERS_H_
