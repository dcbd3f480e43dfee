#ifndef CELLAR_SRC_NODE_ACCESS_POLICY_H_
#define CELLAR_SRC_NODE_ACCESS_POLICY_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/map.h"
#include "src/backend/backend.h"

namespace cellar {

// Who may publish a volume, as recorded with it on the node: the claim's
// namespace (empty: unbound) and the optional extra namespaces and service
// accounts ("ns/sa"). Snapshots carry the policy of their source volume.
struct AccessPolicy {
  std::string bound_namespace;
  std::vector<std::string> allowed_namespaces;
  std::vector<std::string> allowed_service_accounts;

  // False for a policy that admits every caller.
  bool restricted() const {
    return !bound_namespace.empty() || !allowed_namespaces.empty() ||
           !allowed_service_accounts.empty();
  }
  // Does this policy admit (some) pods of namespace `ns`? The bound
  // namespace, an allowed namespace, or the namespace of an allowed service
  // account (its pods are then admitted by service account only).
  bool AdmitsNamespace(const std::string& ns) const;
  // "namespace \"a\", allowedNamespaces [b,c], ..." for messages.
  std::string ToString() const;
};

AccessPolicy PolicyOf(const VolumeRecord& record);
AccessPolicy PolicyOf(const SnapshotRecord& record);
void SetPolicy(const AccessPolicy& policy, VolumeRecord* record);
void SetPolicy(const AccessPolicy& policy, SnapshotRecord* record);

// The one rule for data that is copied (a clone, a restore of a snapshot or
// of a group snapshot member, and the snapshot itself): the copy never
// admits anyone its source would refuse.
//  - an unrestricted source: the copy takes `requested` as a new volume
//    would;
//  - a restricted source: `requested` may name nothing (the copy inherits
//    the source's policy), or only namespaces and service accounts the
//    source admits (the copy takes that narrower policy, keeping the
//    source's service-account rule when the source admits by account).
// Returns the copy's policy; PERMISSION_DENIED naming the rule otherwise
// (`what` names the source in the message).
absl::StatusOr<AccessPolicy> PolicyForCopy(const AccessPolicy& source,
                                           const AccessPolicy& requested,
                                           const std::string& what);

// Who asks to publish a volume, from the volume context that kubelet fills
// when the CSIDriver object says podInfoOnMount: true.
struct PodIdentity {
  std::string namespace_name;   // csi.storage.k8s.io/pod.namespace
  std::string name;             // csi.storage.k8s.io/pod.name
  std::string uid;              // csi.storage.k8s.io/pod.uid
  std::string service_account;  // csi.storage.k8s.io/serviceAccount.name

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
// PERMISSION_DENIED naming the pod and the rule; OK when admitted. On a
// refusal, `refused_by` (when not null) receives the rule's name, one of
// PublishRules().
absl::Status CheckPublishAllowed(const VolumeRecord& record,
                                 const PodIdentity& pod,
                                 std::string* refused_by = nullptr);

// The names of the rules that refuse publishes, for counting refusals:
// "no_pod_identity" (a restricted volume, a request without pod
// information), "service_account" (not in allowedServiceAccounts),
// "namespace" (neither the bound namespace nor in allowedNamespaces).
const std::vector<std::string>& PublishRules();

// The pod uid in a kubelet target path (".../pods/<uid>/volumes/..."), or
// "" when the path has none. For logging unpublishes, which carry no pod
// identity.
std::string PodUidFromTargetPath(const std::string& path);

}  // namespace cellar

#endif  // CELLAR_SRC_NODE_ACCESS_POLICY_H_
