// libFuzzer target over everything that parses untrusted input before it
// reaches a path or a command line: ids, paths, mount flags, StorageClass
// parameters, capacity ranges, capabilities, whole CSI requests and
// mountinfo text. It checks invariants, not just the absence of crashes:
// whatever an accepting parser lets through must be safe to use.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "csi.pb.h"
#include "src/common/capability.h"
#include "src/common/ids.h"
#include "src/controller/parameters.h"
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
        Check(*bytes <= static_cast<uint64_t>(create.capacity_range().limit_bytes()));
      }
      Check(*bytes >= static_cast<uint64_t>(
                          std::max<int64_t>(0, create.capacity_range().required_bytes())));
    }
  }
  csi::v1::NodePublishVolumeRequest publish;
  if (publish.ParseFromString(text)) {
    (void)ValidateCapability(publish.volume_capability());
    (void)CheckConfinedPath(publish.target_path(), root, "target_path");
    (void)ParseId(publish.volume_id());
  }
  return 0;
}
