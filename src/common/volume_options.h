#ifndef CELLAR_SRC_COMMON_VOLUME_OPTIONS_H_
#define CELLAR_SRC_COMMON_VOLUME_OPTIONS_H_

#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"

namespace cellar {

// How a volume's space is reserved: thin allocates on write, thick all at
// creation. Records keep the name ("thin", "thick") for readability.
enum class Allocation { kThin, kThick };

// The allocation a StorageClass value or record field names; none for any
// other text.
std::optional<Allocation> ParseAllocation(absl::string_view text);

// "thin" or "thick".
absl::string_view AllocationName(Allocation allocation);

// A record's allocation. Records are written only with AllocationName, so
// anything but "thick" is thin, the default (and the safe reading of a
// damaged record: no space is reserved that was not asked for).
inline bool IsThick(absl::string_view recorded) {
  return ParseAllocation(recorded) == Allocation::kThick;
}

// The mode of a filesystem volume's root when a pod's fsGroup is applied,
// without volumeRootMode in the StorageClass.
constexpr uint32_t kDefaultRootMode = 02770;

// volumeRootMode: three or four octal digits (for example "2770"); none for
// any other text. Never throws.
std::optional<uint32_t> ParseRootMode(absl::string_view text);

}  // namespace cellar

#endif  // CELLAR_SRC_COMMON_VOLUME_OPTIONS_H_
