#include "src/node/access_policy.h"

#include <algorithm>
#include <vector>

#include "absl/strings/escaping.h"
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

}  // namespace

std::string PodIdentity::ToString() const {
  if (!present()) return "<no pod identity>";
  return absl::StrCat(Printable(namespace_name), "/", Printable(name),
                      " (uid ", Printable(uid), ", serviceaccount ",
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

absl::Status CheckPublishAllowed(const VolumeRecord& record,
                                 const PodIdentity& pod) {
  const bool restricted = !record.bound_namespace().empty() ||
                          !record.allowed_namespaces().empty() ||
                          !record.allowed_service_accounts().empty();
  if (!restricted) return absl::OkStatus();
  if (!pod.present()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "volume ", record.volume_id(),
        " is restricted (namespace \"", record.bound_namespace(),
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
  return absl::PermissionDeniedError(absl::StrCat(
      "pod ", pod.ToString(), " may not use volume ", record.volume_id(),
      ": the volume is bound to namespace \"", record.bound_namespace(),
      "\"", namespaces.empty() ? "" : " and allowedNamespaces [",
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
