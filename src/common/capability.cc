#include "src/common/capability.h"

#include <sys/mount.h>

#include <limits>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"

namespace cellar {

bool IsSupportedFsType(const std::string& fs_type) {
  return fs_type == "ext4" || fs_type == "xfs";
}

absl::StatusOr<AccessRequest> ValidateCapability(
    const csi::v1::VolumeCapability& capability) {
  using Mode = csi::v1::VolumeCapability::AccessMode;
  AccessRequest access;
  if (!capability.has_access_mode()) {
    return absl::InvalidArgumentError("volume capability has no access mode");
  }
  switch (capability.access_mode().mode()) {
    case Mode::SINGLE_NODE_WRITER:
    case Mode::SINGLE_NODE_READER_ONLY:
    case Mode::SINGLE_NODE_SINGLE_WRITER:
    case Mode::SINGLE_NODE_MULTI_WRITER:
      break;
    case Mode::MULTI_NODE_READER_ONLY:
    case Mode::MULTI_NODE_SINGLE_WRITER:
    case Mode::MULTI_NODE_MULTI_WRITER:
      return absl::InvalidArgumentError(absl::StrCat(
          "access mode ", Mode::Mode_Name(capability.access_mode().mode()),
          " is not supported: cellar volumes are local to one node"));
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("unknown access mode ",
                       static_cast<int>(capability.access_mode().mode())));
  }
  if (capability.has_block()) {
    access.block = true;
    return access;
  }
  if (!capability.has_mount()) {
    return absl::InvalidArgumentError(
        "volume capability has no access type (block or mount)");
  }
  const auto& mount = capability.mount();
  if (!mount.fs_type().empty() && !IsSupportedFsType(mount.fs_type())) {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported fs_type \"", absl::CEscape(mount.fs_type()),
                     "\" (want ext4 or xfs)"));
  }
  access.fs_type = mount.fs_type();
  access.mount_flags.assign(mount.mount_flags().begin(),
                            mount.mount_flags().end());
  ABSL_ASSIGN_OR_RETURN(MountOptions parsed,
                        ParseMountFlags(access.mount_flags));
  access.mount_options = std::move(parsed);
  const std::string& group = mount.volume_mount_group();
  if (!group.empty()) {
    uint32_t gid = 0;
    bool digits = group.size() <= 10;
    for (char c : group) digits = digits && c >= '0' && c <= '9';
    if (!digits || !absl::SimpleAtoi(group, &gid)) {
      return absl::InvalidArgumentError(
          absl::StrCat("volume_mount_group \"", absl::CEscape(group),
                       "\" is not a numeric group id"));
    }
    access.mount_group_gid = gid;
  }
  return access;
}

absl::StatusOr<AccessRequest> ValidateCapabilities(
    const google::protobuf::RepeatedPtrField<csi::v1::VolumeCapability>&
        capabilities) {
  if (capabilities.empty()) {
    return absl::InvalidArgumentError("volume capabilities are missing");
  }
  AccessRequest merged;
  for (int i = 0; i < capabilities.size(); ++i) {
    ABSL_ASSIGN_OR_RETURN(AccessRequest access,
                          ValidateCapability(capabilities[i]));
    if (i == 0) {
      merged = access;
      continue;
    }
    if (access.block != merged.block) {
      return absl::InvalidArgumentError(
          "volume capabilities mix block and mount access");
    }
    if (!access.fs_type.empty()) {
      if (!merged.fs_type.empty() && merged.fs_type != access.fs_type) {
        return absl::InvalidArgumentError(
            "volume capabilities name different fs types");
      }
      merged.fs_type = access.fs_type;
    }
  }
  return merged;
}

bool IsReadOnlyMode(const csi::v1::VolumeCapability& capability) {
  const auto mode = capability.access_mode().mode();
  return mode ==
             csi::v1::VolumeCapability::AccessMode::SINGLE_NODE_READER_ONLY ||
         mode == csi::v1::VolumeCapability::AccessMode::MULTI_NODE_READER_ONLY;
}

namespace {

// The MS_* bit of a generic VFS flag ("rw" and "defaults" set none), or
// nullopt when `flag` is not one.
std::optional<unsigned long> MountFlagBit(const std::string& flag) {
  struct FlagBit {
    const char* name;
    unsigned long set;
  };
  static constexpr FlagBit kBits[] = {
      {"ro", MS_RDONLY},         {"rw", 0},
      {"noatime", MS_NOATIME},   {"nodiratime", MS_NODIRATIME},
      {"relatime", MS_RELATIME}, {"strictatime", MS_STRICTATIME},
      {"lazytime", MS_LAZYTIME}, {"sync", MS_SYNCHRONOUS},
      {"dirsync", MS_DIRSYNC},   {"nosuid", MS_NOSUID},
      {"nodev", MS_NODEV},       {"noexec", MS_NOEXEC},
      {"defaults", 0},
  };
  for (const FlagBit& bit : kBits) {
    if (flag == bit.name) return bit.set;
  }
  return std::nullopt;
}

// Filesystem options (ext4/xfs) a workload may reasonably ask for.
bool IsAllowedDataOption(const std::string& flag) {
  static constexpr const char* kDataOptions[] = {
      "discard",
      "nodiscard",
      "nobarrier",
      "barrier",
      "user_xattr",
      "nouser_xattr",
      "acl",
      "noacl",
      "data=ordered",
      "data=writeback",
      "data=journal",
      "errors=remount-ro",
      "errors=continue",
      // errors=panic is not here: a PV's author could make a filesystem
      // error bring the whole node down.
      "inode64",
      "noquota",
      "usrquota",
      "grpquota",
      "prjquota",
      "uquota",
      "gquota",
      "pquota",
      "largeio",
      "nolargeio",
  };
  for (const char* option : kDataOptions) {
    if (flag == option) return true;
  }
  return false;
}

// The SELinux context option `flag` starts with ("context=" and its
// siblings), or nullptr.
const char* SelinuxContextPrefix(const std::string& flag) {
  for (const char* prefix :
       {"context=", "fscontext=", "defcontext=", "rootcontext="}) {
    if (absl::StartsWith(flag, prefix)) return prefix;
  }
  return nullptr;
}

// The value of a context option, as in "system_u:object_r:t:s0:c1,c2". It
// is checked character by character so the quoted commas of an MLS range
// cannot close the option early.
bool IsValidSelinuxContext(std::string value) {
  const bool quoted =
      value.size() >= 2 && value.front() == '"' && value.back() == '"';
  if (quoted) value = value.substr(1, value.size() - 2);
  bool valid = !value.empty();
  for (char c : value) {
    const bool ok_char = absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                         c == '_' || c == ':' || c == '.' || c == '-' ||
                         (c == ',' && quoted);
    valid = valid && ok_char;
  }
  return valid;
}

}  // namespace

absl::StatusOr<MountOptions> ParseMountFlags(
    const std::vector<std::string>& flags) {
  MountOptions out;
  for (const std::string& flag : flags) {
    if (flag.empty() || flag.size() > 256) {
      return absl::InvalidArgumentError("empty or overlong mount flag");
    }
    if (std::optional<unsigned long> bit = MountFlagBit(flag)) {
      out.flags |= *bit;
      continue;
    }
    if (IsAllowedDataOption(flag)) {
      out.data.push_back(flag);
      continue;
    }
    // SELinux contexts pass through when their value is well formed.
    if (const char* prefix = SelinuxContextPrefix(flag); prefix != nullptr) {
      if (!IsValidSelinuxContext(flag.substr(std::string(prefix).size()))) {
        return absl::InvalidArgumentError(
            absl::StrCat("mount flag \"", absl::CEscape(flag),
                         "\" is not a valid SELinux context option"));
      }
      out.data.push_back(flag);
      continue;
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "mount flag \"", absl::CEscape(flag), "\" is not supported"));
  }
  return out;
}

absl::StatusOr<uint64_t> SizeForRange(const csi::v1::CapacityRange* range,
                                      uint64_t default_bytes) {
  int64_t required = 0, limit = 0;
  if (range != nullptr) {
    required = range->required_bytes();
    limit = range->limit_bytes();
  }
  if (required < 0 || limit < 0) {
    return absl::InvalidArgumentError("capacity range has a negative value");
  }
  if (limit > 0 && required > limit) {
    return absl::OutOfRangeError(absl::StrCat("required_bytes ", required,
                                              " exceeds limit_bytes ", limit));
  }
  uint64_t want =
      required > 0 ? static_cast<uint64_t>(required) : default_bytes;
  if (required == 0 && limit > 0 && want > static_cast<uint64_t>(limit)) {
    want = static_cast<uint64_t>(limit);
  }
  if (want > std::numeric_limits<uint64_t>::max() - kMiB) {
    return absl::OutOfRangeError("capacity too large");
  }
  uint64_t size = (want + kMiB - 1) / kMiB * kMiB;
  if (size == 0) size = kMiB;
  if (limit > 0 && size > static_cast<uint64_t>(limit)) {
    // Round down instead, if that still satisfies the request.
    const uint64_t down = static_cast<uint64_t>(limit) / kMiB * kMiB;
    if (down == 0 || down < static_cast<uint64_t>(required)) {
      return absl::OutOfRangeError(
          absl::StrCat("no size in 1 MiB steps fits between required_bytes ",
                       required, " and limit_bytes ", limit));
    }
    size = down;
  }
  if (size > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return absl::OutOfRangeError("capacity too large");
  }
  return size;
}

}  // namespace cellar
