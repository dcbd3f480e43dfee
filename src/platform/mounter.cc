#include "src/platform/mounter.h"

namespace cellar {

std::vector<MountEntry> MountsAt(const std::vector<MountEntry>& table,
                                 const std::string& path) {
  std::vector<MountEntry> out;
  for (const MountEntry& entry : table) {
    if (entry.mount_point == path) out.push_back(entry);
  }
  return out;
}

}  // namespace cellar
