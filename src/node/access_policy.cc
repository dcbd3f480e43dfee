#include "src/node/access_policy.h"

#include <algorithm>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace cellar {
namespace {

std::string Printable(const std::string& text) {
  return absl::CEscape(text.substr(0, 253));
}

std::string Get(const google::protobuf::Map<std::string, std::string>& map,
                const char* key) {
  auto it = map.find(key);
  return it == map.end() ? std::string() : it->second;
}

template <typename Record>
AccessPolicy PolicyOfRecord(const Record& record) {
  AccessPolicy policy;
  policy.bound_namespace = record.bound_namespace();
  policy.allowed_namespaces.assign(record.allowed_namespaces().begin(),
                                   record.allowed_namespaces().end());
  policy.allowed_service_accounts.assign(
      record.allowed_service_accounts().begin(),
      record.allowed_service_accounts().end());
  return policy;
}

template <typename Record>
void SetPolicyOfRecord(const AccessPolicy& policy, Record* record) {
  record->set_bound_namespace(policy.bound_namespace);
  record->clear_allowed_namespaces();
  for (const std::string& ns : policy.allowed_namespaces) {
    record->add_allowed_namespaces(ns);
  }
  record->clear_allowed_service_accounts();
  for (const std::string& sa : policy.allowed_service_accounts) {
    record->add_allowed_service_accounts(sa);
  }
}

bool Contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

}  // namespace

bool AccessPolicy::AdmitsNamespace(const std::string& ns) const {
  if (!restricted()) return true;
  if (ns.empty()) return false;
  if (!allowed_service_accounts.empty()) {
    for (const std::string& account : allowed_service_accounts) {
      if (absl::StartsWith(account, absl::StrCat(ns, "/"))) return true;
    }
    return false;
  }
  return ns == bound_namespace || Contains(allowed_namespaces, ns);
}

std::string AccessPolicy::ToString() const {
  if (!restricted()) return "unrestricted";
  std::string text =
      absl::StrCat("namespace \"", Printable(bound_namespace), "\"");
  if (!allowed_namespaces.empty()) {
    absl::StrAppend(&text, ", allowedNamespaces [",
                    Printable(absl::StrJoin(allowed_namespaces, ",")), "]");
  }
  if (!allowed_service_accounts.empty()) {
    absl::StrAppend(&text, ", allowedServiceAccounts [",
                    Printable(absl::StrJoin(allowed_service_accounts, ",")),
                    "]");
  }
  return text;
}

AccessPolicy PolicyOf(const VolumeRecord& record) {
  return PolicyOfRecord(record);
}
AccessPolicy PolicyOf(const SnapshotRecord& record) {
  return PolicyOfRecord(record);
}
void SetPolicy(const AccessPolicy& policy, VolumeRecord* record) {
  SetPolicyOfRecord(policy, record);
}
void SetPolicy(const AccessPolicy& policy, SnapshotRecord* record) {
  SetPolicyOfRecord(policy, record);
}

absl::StatusOr<AccessPolicy> PolicyForCopy(const AccessPolicy& source,
                                           const AccessPolicy& requested,
                                           const std::string& what) {
  if (!source.restricted()) return requested;
  auto refuse = [&](absl::string_view rule, const std::string& who) {
    return absl::PermissionDeniedError(
        absl::StrCat("copies keep their owner: ", what, " is restricted to ",
                     source.ToString(), " and ", rule, " \"", Printable(who),
                     "\" is not admitted by it; nothing was created"));
  };
  if (!requested.bound_namespace.empty() &&
      !source.AdmitsNamespace(requested.bound_namespace)) {
    return refuse("the claim's namespace", requested.bound_namespace);
  }
  for (const std::string& ns : requested.allowed_namespaces) {
    if (!source.AdmitsNamespace(ns))
      return refuse("allowedNamespaces entry", ns);
  }
  for (const std::string& account : requested.allowed_service_accounts) {
    const bool admitted =
        source.allowed_service_accounts.empty()
            ? source.AdmitsNamespace(account.substr(0, account.find('/')))
            : Contains(source.allowed_service_accounts, account);
    if (!admitted) return refuse("allowedServiceAccounts entry", account);
  }
  // Nothing asked: the source's owner. Something asked, all of it admitted
  // by the source: the narrower request, still bound by the source's
  // service accounts when the source admits by account only.
  if (!requested.restricted()) return source;
  AccessPolicy copy = requested;
  if (copy.allowed_service_accounts.empty()) {
    copy.allowed_service_accounts = source.allowed_service_accounts;
  }
  return copy;
}

std::string PodIdentity::ToString() const {
  if (!present()) return "<no pod identity>";
  return absl::StrCat(Printable(namespace_name), "/", Printable(name), " (uid ",
                      Printable(uid), ", serviceaccount ",
                      Printable(service_account), ")");
}

PodIdentity PodIdentityFromContext(
    const google::protobuf::Map<std::string, std::string>& volume_context) {
  PodIdentity pod;
  pod.namespace_name = Get(volume_context, "csi.storage.k8s.io/pod.namespace");
  pod.name = Get(volume_context, "csi.storage.k8s.io/pod.name");
  pod.uid = Get(volume_context, "csi.storage.k8s.io/pod.uid");
  pod.service_account =
      Get(volume_context, "csi.storage.k8s.io/serviceAccount.name");
  return pod;
}

const std::vector<std::string>& PublishRules() {
  static const auto* const kRules = new std::vector<std::string>{
      "no_pod_identity", "service_account", "namespace"};
  return *kRules;
}

absl::Status CheckPublishAllowed(const VolumeRecord& record,
                                 const PodIdentity& pod,
                                 std::string* refused_by) {
  auto refused = [refused_by](int rule) {
    if (refused_by != nullptr) *refused_by = PublishRules()[rule];
  };
  const bool restricted = !record.bound_namespace().empty() ||
                          !record.allowed_namespaces().empty() ||
                          !record.allowed_service_accounts().empty();
  if (!restricted) return absl::OkStatus();
  if (!pod.present()) {
    refused(0);
    return absl::PermissionDeniedError(absl::StrCat(
        "volume ", record.volume_id(), " is restricted (namespace \"",
        record.bound_namespace(),
        "\") and the request carries no pod identity; is podInfoOnMount "
        "set on the CSIDriver?"));
  }
  if (!record.allowed_service_accounts().empty()) {
    const std::string account =
        absl::StrCat(pod.namespace_name, "/", pod.service_account);
    const auto& allowed = record.allowed_service_accounts();
    if (std::find(allowed.begin(), allowed.end(), account) != allowed.end()) {
      return absl::OkStatus();
    }
    refused(1);
    return absl::PermissionDeniedError(absl::StrCat(
        "pod ", pod.ToString(), " may not use volume ", record.volume_id(),
        ": its service account is not in allowedServiceAccounts [",
        absl::StrJoin(allowed, ","), "]"));
  }
  if (pod.namespace_name == record.bound_namespace()) return absl::OkStatus();
  const auto& namespaces = record.allowed_namespaces();
  if (std::find(namespaces.begin(), namespaces.end(), pod.namespace_name) !=
      namespaces.end()) {
    return absl::OkStatus();
  }
  refused(2);
  return absl::PermissionDeniedError(absl::StrCat(
      "pod ", pod.ToString(), " may not use volume ", record.volume_id(),
      ": the volume is bound to namespace \"", record.bound_namespace(), "\"",
      namespaces.empty() ? "" : " and allowedNamespaces [",
      absl::StrJoin(namespaces, ","), namespaces.empty() ? "" : "]"));
}

std::string PodUidFromTargetPath(const std::string& path) {
  std::vector<absl::string_view> parts = absl::StrSplit(path, '/');
  for (size_t i = 0; i + 2 < parts.size(); ++i) {
    if (parts[i] == "pods" && parts[i + 2] == "volumes") {
      return std::string(parts[i + 1]);
    }
  }
  return "";
}

}  // namespace cellar
