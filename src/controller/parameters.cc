#include "src/controller/parameters.h"

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "src/common/capability.h"
#include "src/common/ids.h"

namespace cellar {
namespace {

constexpr char kSidecarPrefix[] = "csi.storage.k8s.io/";

absl::Status BadValue(const std::string& key, const std::string& value,
                      absl::string_view want) {
  return absl::InvalidArgumentError(
      absl::StrCat("parameter ", key, "=\"", absl::CEscape(value.substr(0, 64)),
                   "\" is invalid: ", want));
}

absl::StatusOr<std::vector<std::string>> SplitList(const std::string& key,
                                                   const std::string& value,
                                                   bool service_accounts) {
  std::vector<std::string> out;
  for (absl::string_view raw : absl::StrSplit(value, ',')) {
    const std::string item(absl::StripAsciiWhitespace(raw));
    if (item.empty()) continue;
    if (service_accounts) {
      std::pair<std::string, std::string> parts =
          absl::StrSplit(item, absl::MaxSplits('/', 1));
      if (!IsValidKubernetesName(parts.first) ||
          !IsValidKubernetesName(parts.second)) {
        return BadValue(key, value, "want comma-separated namespace/name");
      }
    } else if (!IsValidKubernetesName(item)) {
      return BadValue(key, value, "want comma-separated namespace names");
    }
    out.push_back(item);
  }
  return out;
}

}  // namespace

absl::Status CheckSidecarOnlyParameters(
    const google::protobuf::Map<std::string, std::string>& parameters,
    absl::string_view what) {
  for (const auto& [key, value] : parameters) {
    if (!absl::StartsWith(key, kSidecarPrefix)) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown ", what, " parameter \"",
                       absl::CEscape(key.substr(0, 128)), "\""));
    }
  }
  return absl::OkStatus();
}

bool IsValidKubernetesName(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.';
    if (!ok) return false;
  }
  return name.front() != '-' && name.back() != '-' && name.front() != '.' &&
         name.back() != '.';
}

absl::StatusOr<VolumeParameters> ParseVolumeParameters(
    const google::protobuf::Map<std::string, std::string>& parameters) {
  VolumeParameters out;
  for (const auto& [key, value] : parameters) {
    if (key == "fsType") {
      if (!IsSupportedFsType(value)) {
        return BadValue(key, value, "want ext4 or xfs");
      }
      out.fs_type = value;
    } else if (key == "allocation") {
      const std::optional<Allocation> allocation = ParseAllocation(value);
      if (!allocation.has_value()) {
        return BadValue(key, value, "want thin or thick");
      }
      out.allocation = *allocation;
    } else if (key == "deviceClass") {
      if (!IsValidDeviceClass(value)) {
        return BadValue(key, value, "want 1-24 characters of [a-z0-9-]");
      }
      out.device_class = value;
    } else if (key == "encrypted") {
      if (value != "true" && value != "false") {
        return BadValue(key, value, "want true or false");
      }
      out.encrypted = value == "true";
    } else if (key == "volumeRootMode") {
      // Octal mode of the volume's root when a pod's fsGroup is applied;
      // kept in the record's parameters and applied by the node.
      if (!ParseRootMode(value).has_value()) {
        return BadValue(key, value, "want an octal mode like 2770");
      }
    } else if (key == "allowedNamespaces") {
      auto list = SplitList(key, value, false);
      if (!list.ok()) return list.status();
      out.allowed_namespaces = *std::move(list);
    } else if (key == "allowedServiceAccounts") {
      auto list = SplitList(key, value, true);
      if (!list.ok()) return list.status();
      out.allowed_service_accounts = *std::move(list);
    } else if (absl::StartsWith(key, kSidecarPrefix)) {
      if (key == "csi.storage.k8s.io/pvc/namespace") {
        if (!IsValidKubernetesName(value)) {
          return BadValue(key, value, "not a namespace name");
        }
        out.pvc_namespace = value;
      }
      // Other sidecar keys (pvc/name, pv/name, secret references) are
      // information only.
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown parameter \"", absl::CEscape(key.substr(0, 128)), "\""));
    }
  }
  return out;
}

}  // namespace cellar
