#ifndef CELLAR_SRC_PLATFORM_MOUNTER_H_
#define CELLAR_SRC_PLATFORM_MOUNTER_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "src/platform/mountinfo.h"

namespace cellar {

// What one mount(2) call should do. `flags` are MS_* bits; `data` is the
// filesystem-specific option string (never user text that was not validated).
//
// A bind (MS_BIND without MS_REMOUNT) that also names MS_RDONLY, MS_NOSUID,
// MS_NODEV, MS_NOEXEC or atime flags has them from its first moment: no
// one ever sees the bind without them, also when the process dies half-way
// (the new mount API: the bind is made detached, given its attributes, then
// attached). Where the kernel lacks that API (before 5.12) it is a bind and
// then a remount with those flags.
struct MountRequest {
  std::string source;
  std::string target;
  std::string fs_type;  // empty for bind mounts and remounts
  unsigned long flags = 0;
  std::string data;
  // When set (an absolute, trusted directory): `target`, and `source` when
  // it lies inside too, must be below it, and are opened one component at a
  // time from it without following any symlink; the mount is then made on
  // the opened objects (/proc/self/fd/N). A path component swapped for a
  // symlink after the caller checked the path fails the call instead of
  // redirecting the mount.
  std::string confine_to;
};

// mount(2), umount2(2) and the mount table, as seen by this process.
class Mounter {
 public:
  virtual ~Mounter() = default;

  // Performs one mount(2). Errors: NOT_FOUND when source or target does not
  // exist, PERMISSION_DENIED without privilege, INVALID_ARGUMENT for a bad
  // filesystem or options, or a symlink met below `confine_to`, INTERNAL
  // otherwise. Thread-safe.
  virtual absl::Status Mount(const MountRequest& request) = 0;

  // Unmounts `target` (umount2 with UMOUNT_NOFOLLOW, plus MNT_DETACH when
  // `lazy`). Errors: NOT_FOUND when nothing is mounted there or the path does
  // not exist, FAILED_PRECONDITION when busy, INTERNAL otherwise. Thread-safe.
  virtual absl::Status Unmount(const std::string& target, bool lazy) = 0;

  // Unmounts the topmost mount at `target`: its parent is reached from the
  // trusted directory `root` without following any symlink, and the last
  // name is looked up in exactly that directory without following one
  // either, so a path swapped meanwhile cannot redirect it. Errors:
  // NOT_FOUND when nothing is mounted exactly there or the path does not
  // exist, FAILED_PRECONDITION while the mount is busy, INVALID_ARGUMENT
  // for a symlink on the way, INTERNAL otherwise. Thread-safe.
  virtual absl::Status UnmountConfined(const std::string& root,
                                       const std::string& target) = 0;

  // The current mount table (/proc/self/mountinfo), parsed. Thread-safe.
  virtual absl::StatusOr<std::vector<MountEntry>> ListMounts() = 0;
};

// The mounts whose mount point is exactly `path`, in table order (the last
// one is on top).
std::vector<MountEntry> MountsAt(const std::vector<MountEntry>& table,
                                 const std::string& path);

}  // namespace cellar

#endif  // CELLAR_SRC_PLATFORM_MOUNTER_H_
