#include "test/testing/mount_table.h"

#include <sys/mount.h>

#include <fstream>
#include <sstream>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace cellar::testing {

std::vector<MountEntry> MountTable() {
  std::ifstream in("/proc/self/mountinfo");
  if (!in) {
    ADD_FAILURE() << "cannot open /proc/self/mountinfo";
    return {};
  }
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<std::vector<MountEntry>> table = ParseMountInfo(text.str());
  if (!table.ok()) {
    ADD_FAILURE() << table.status();
    return {};
  }
  return *std::move(table);
}

std::vector<std::string> MountPointsUnder(const std::string& dir) {
  const std::string prefix = dir + "/";
  std::vector<std::string> out;
  for (const MountEntry& entry : MountTable()) {
    if (absl::StartsWith(entry.mount_point, prefix)) {
      out.push_back(entry.mount_point);
    }
  }
  return out;
}

void UnmountEverythingUnder(const std::string& dir) {
  const std::vector<std::string> mounts = MountPointsUnder(dir);
  for (auto it = mounts.rbegin(); it != mounts.rend(); ++it) {
    if (umount2(it->c_str(), UMOUNT_NOFOLLOW) != 0) {
      umount2(it->c_str(), UMOUNT_NOFOLLOW | MNT_DETACH);
    }
  }
}

}  // namespace cellar::testing
