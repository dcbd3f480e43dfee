#include "src/common/volume_options.h"

namespace cellar {

std::optional<Allocation> ParseAllocation(absl::string_view text) {
  if (text == "thin") return Allocation::kThin;
  if (text == "thick") return Allocation::kThick;
  return std::nullopt;
}

absl::string_view AllocationName(Allocation allocation) {
  return allocation == Allocation::kThick ? "thick" : "thin";
}

std::optional<uint32_t> ParseRootMode(absl::string_view text) {
  if (text.size() < 3 || text.size() > 4) return std::nullopt;
  uint32_t mode = 0;
  for (char c : text) {
    if (c < '0' || c > '7') return std::nullopt;
    mode = mode * 8 + static_cast<uint32_t>(c - '0');
  }
  return mode;
}

}  // namespace cellar
