// libFuzzer target over everything that parses untrusted input before it
// reaches a path or a command line: ids, paths, mount flags, StorageClass
// parameters, capacity ranges, capabilities, whole CSI requests, mountinfo
// text, and the records read back from storage with the access policies they
// carry to copies. It checks invariants, not just the absence of crashes:
// whatever an accepting parser lets through must be safe to use.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "csi.pb.h"
#include "google/protobuf/util/json_util.h"
#include "src/common/capability.h"
#include "src/common/ids.h"
#include "src/controller/parameters.h"
#include "src/node/access_policy.h"
#include "src/node/paths.h"
#include "src/platform/mountinfo.h"

namespace {

void Check(bool condition) {
  if (!condition) abort();
}

bool SafeIdChars(const std::string& id) {
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cellar;
  const std::string text(reinterpret_cast<const char*>(data), size);

  // Ids: anything accepted is short, of safe characters, without "..", and
  // formats back to itself.
  absl::StatusOr<ParsedId> id = ParseId(text);
  if (id.ok()) {
    Check(text.size() <= kMaxIdLength);
    Check(SafeIdChars(text));
    Check(text.find('/') == std::string::npos);
    Check(FormatId(*id) == text);
  }

  // Paths: anything accepted is inside the root, absolute, normalised.
  const std::string root = "/var/lib/kubelet";
  if (CheckConfinedPath(text, root, "p").ok()) {
    Check(text.rfind(root + "/", 0) == 0);
    Check(text.find("/../") == std::string::npos);
    Check(text.find("/./") == std::string::npos);
    Check(text.find("//") == std::string::npos);
    Check(text.find('\0') == std::string::npos);
    Check(text.back() != '/');
  }

  // Kubelet's layout: anything accepted is confined and under plugins/ (and,
  // for targets, pods/), never the kubelet dir's own files.
  for (NodePathKind kind : {NodePathKind::kStaging, NodePathKind::kTarget}) {
    if (CheckKubeletPath(text, root, kind, "p").ok()) {
      Check(CheckConfinedPath(text, root, "p").ok());
      const bool plugins =
          text.rfind(root + "/plugins/kubernetes.io/csi/", 0) == 0;
      const bool pods =
          text.rfind(root + "/pods/", 0) == 0 &&
          text.find("/volumes/kubernetes.io~csi/") != std::string::npos;
      Check(plugins || (kind == NodePathKind::kTarget && pods));
    }
  }

  // Records as storage hands them back (binary in LV tags, JSON beside loop
  // images): a copy's policy never admits a namespace its source refuses.
  {
    const size_t half = text.size() / 2;
    SnapshotRecord source;
    VolumeRecord asked;
    const bool binary = source.ParseFromString(text.substr(0, half)) &&
                        asked.ParseFromString(text.substr(half));
    google::protobuf::util::JsonParseOptions json;
    json.ignore_unknown_fields = true;
    SnapshotRecord json_source;
    const bool from_json =
        google::protobuf::util::JsonStringToMessage(text, &json_source, json)
            .ok();
    for (const SnapshotRecord* record :
         {binary ? &source : nullptr, from_json ? &json_source : nullptr}) {
      if (record == nullptr) continue;
      const AccessPolicy from = PolicyOf(*record);
      absl::StatusOr<AccessPolicy> copy =
          PolicyForCopy(from, PolicyOf(asked), "fuzz");
      if (!copy.ok() || !from.restricted()) continue;
      Check(copy->restricted());
      std::vector<std::string> names = copy->allowed_namespaces;
      if (!copy->bound_namespace.empty()) {
        names.push_back(copy->bound_namespace);
      }
      if (!copy->allowed_service_accounts.empty()) {
        names.clear();  // then only the accounts' namespaces are admitted
        for (const std::string& account : copy->allowed_service_accounts) {
          names.push_back(account.substr(0, account.find('/')));
        }
      }
      for (const std::string& ns : names) {
        if (copy->AdmitsNamespace(ns)) Check(from.AdmitsNamespace(ns));
      }
    }
  }

  // Mount flags: nothing accepted can carry a second option.
  absl::StatusOr<MountOptions> flags = ParseMountFlags({text});
  if (flags.ok()) {
    for (const std::string& option : flags->data) {
      const bool selinux = option.find("context=") != std::string::npos;
      Check(selinux || option.find(',') == std::string::npos);
      Check(option.find('\0') == std::string::npos);
      Check(option.find('\n') == std::string::npos);
    }
  }

  {
    absl::StatusOr<std::vector<MountEntry>> mounts = ParseMountInfo(text);
    (void)mounts;
  }

  // Whole requests decoded from the bytes, through the validators.
  csi::v1::CreateVolumeRequest create;
  if (create.ParseFromString(text)) {
    (void)ValidateCapabilities(create.volume_capabilities());
    absl::StatusOr<VolumeParameters> params =
        ParseVolumeParameters(create.parameters());
    if (params.ok()) {
      Check(params->device_class.empty() ||
            IsValidDeviceClass(params->device_class));
      Check(params->fs_type.empty() || IsSupportedFsType(params->fs_type));
    }
    absl::StatusOr<uint64_t> bytes = SizeForRange(
        create.has_capacity_range() ? &create.capacity_range() : nullptr,
        1 << 30);
    if (bytes.ok()) {
      Check(*bytes % kMiB == 0);
      Check(*bytes > 0);
      Check(*bytes <= static_cast<uint64_t>(INT64_MAX));
      if (create.capacity_range().limit_bytes() > 0) {
        Check(*bytes <=
              static_cast<uint64_t>(create.capacity_range().limit_bytes()));
      }
      Check(*bytes >= static_cast<uint64_t>(std::max<int64_t>(
                          0, create.capacity_range().required_bytes())));
    }
  }
  csi::v1::NodePublishVolumeRequest publish;
  if (publish.ParseFromString(text)) {
    (void)ValidateCapability(publish.volume_capability());
    (void)CheckKubeletPath(publish.target_path(), root, NodePathKind::kTarget,
                           "target_path");
    (void)ParseId(publish.volume_id());
  }
  return 0;
}
