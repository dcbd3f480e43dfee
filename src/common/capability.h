#ifndef CELLAR_SRC_COMMON_CAPABILITY_H_
#define CELLAR_SRC_COMMON_CAPABILITY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "csi.pb.h"
#include "src/common/units.h"

namespace cellar {

// The filesystems cellar makes and mounts.
bool IsSupportedFsType(const std::string& fs_type);
constexpr char kDefaultFsType[] = "ext4";

// Mount flags from a capability, split into mount(2) bits and the
// filesystem option string. Only known options are accepted; each flag is
// one option (no commas, no spaces, no control characters), so a flag can
// never smuggle a second option in.
struct MountOptions {
  unsigned long flags = 0;
  std::vector<std::string> data;  // joined with ',' for mount(2)
};

// What a set of volume capabilities asks for, once validated.
struct AccessRequest {
  bool block = false;
  std::string fs_type;  // empty when none was named (or block)
  std::vector<std::string> mount_flags;
  MountOptions mount_options;  // mount_flags, parsed
  // volume_mount_group (a pod's fsGroup) as a gid; none when not given.
  std::optional<uint32_t> mount_group_gid;
};

// Validates one capability: an access type (block or mount) and a
// supported access mode (SINGLE_NODE_*; cellar volumes live on one node, so
// MULTI_NODE_* is refused). Mount flags are checked with ParseMountFlags.
// INVALID_ARGUMENT naming the problem.
absl::StatusOr<AccessRequest> ValidateCapability(
    const csi::v1::VolumeCapability& capability);

// Validates a non-empty list and checks the entries agree on block/mount
// and fs type.
absl::StatusOr<AccessRequest> ValidateCapabilities(
    const google::protobuf::RepeatedPtrField<csi::v1::VolumeCapability>&
        capabilities);

// True for access modes that allow only reading.
bool IsReadOnlyMode(const csi::v1::VolumeCapability& capability);

absl::StatusOr<MountOptions> ParseMountFlags(
    const std::vector<std::string>& flags);

// The size to provision for `range` (may be null): required rounded up to
// 1 MiB, or `default_bytes` (rounded) when nothing is required, capped by
// the limit. INVALID_ARGUMENT for negative values; OUT_OF_RANGE when
// limit < required or no 1 MiB multiple fits.
absl::StatusOr<uint64_t> SizeForRange(const csi::v1::CapacityRange* range,
                                      uint64_t default_bytes);

}  // namespace cellar

#endif  // CELLAR_SRC_COMMON_CAPABILITY_H_
