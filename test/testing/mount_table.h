#ifndef CELLAR_TEST_TESTING_MOUNT_TABLE_H_
#define CELLAR_TEST_TESTING_MOUNT_TABLE_H_

#include <string>
#include <vector>

#include "src/platform/mountinfo.h"

namespace cellar::testing {

// This process's mount table (/proc/self/mountinfo), parsed by the
// driver's own ParseMountInfo, so a path with a space or a tab reads as the
// path it is. A table that cannot be read or parsed is a test failure and
// reads as empty.
std::vector<MountEntry> MountTable();

// The mount points strictly below `dir` (no trailing slash), oldest first.
std::vector<std::string> MountPointsUnder(const std::string& dir);

// Unmounts every mount point strictly below `dir`, newest first, each
// lazily (MNT_DETACH) when a plain unmount fails. Never follows a symlink.
void UnmountEverythingUnder(const std::string& dir);

}  // namespace cellar::testing

#endif  // CELLAR_TEST_TESTING_MOUNT_TABLE_H_
