#ifndef CELLAR_SRC_NODE_ACCESS_POLICY_H_
#define CELLAR_SRC_NODE_ACCESS_POLICY_H_

#include <string>

#include "absl/status/status.h"
#include "google/protobuf/map.h"
#include "src/backend/backend.h"

namespace cellar {

// Who asks to publish a volume, from the volume context that kubelet fills
// when the CSIDriver object says podInfoOnMount: true.
struct PodIdentity {
  std::string namespace_name;  // csi.storage.k8s.io/pod.namespace
  std::string name;            // csi.storage.k8s.io/pod.name
  std::string uid;             // csi.storage.k8s.io/pod.uid
  std::string service_account; // csi.storage.k8s.io/serviceAccount.name

  bool present() const { return !namespace_name.empty(); }
  // "ns/name (uid U, sa S)" for logs and messages.
  std::string ToString() const;
};

// Reads the four podInfoOnMount keys and nothing else: other keys of the
// context (which whoever writes a PV controls) never count.
PodIdentity PodIdentityFromContext(
    const google::protobuf::Map<std::string, std::string>& volume_context);

// Decides whether `pod` may publish the volume of `record`. The policy comes
// only from the record the node wrote at creation:
//  - a volume with no binding and no lists admits every caller;
//  - with allowedServiceAccounts set, exactly the pods running as one of
//    those "namespace/name" service accounts are admitted;
//  - otherwise pods in the bound namespace or in allowedNamespaces are.
// A restricted volume published with no pod identity is refused.
// PERMISSION_DENIED naming the pod and the rule; OK when admitted.
absl::Status CheckPublishAllowed(const VolumeRecord& record,
                                 const PodIdentity& pod);

// The pod uid in a kubelet target path (".../pods/<uid>/volumes/..."), or
// "" when the path has none. For logging unpublishes, which carry no pod
// identity.
std::string PodUidFromTargetPath(const std::string& path);

}  // namespace cellar

#endif  // CELLAR_SRC_NODE_ACCESS_POLICY_H_
