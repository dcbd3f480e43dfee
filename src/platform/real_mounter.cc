#include "src/platform/real_mounter.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "src/common/status_macros.h"
#include "src/platform/confined_path.h"
#include "src/platform/errno_status.h"
#include "src/platform/read_file.h"

namespace cellar {
namespace {

// What a failed mount(2)-family call means for the caller: a missing path is
// NOT_FOUND, a busy target FAILED_PRECONDITION, a bad source or type
// INVALID_ARGUMENT; anything else is INTERNAL.
constexpr ErrnoCode kMountErrnoCodes[] = {
    {ENOENT, absl::StatusCode::kNotFound},
    {ENOTDIR, absl::StatusCode::kNotFound},
    {EPERM, absl::StatusCode::kPermissionDenied},
    {EACCES, absl::StatusCode::kPermissionDenied},
    {EBUSY, absl::StatusCode::kFailedPrecondition},
    {EINVAL, absl::StatusCode::kInvalidArgument},
    {ENODEV, absl::StatusCode::kInvalidArgument},
    {ENOTBLK, absl::StatusCode::kInvalidArgument},
};

absl::Status MountErrno(int err, const std::string& what) {
  return ErrnoStatus(err, what, kMountErrnoCodes, absl::StatusCode::kInternal);
}

// The per-mount attribute flags a bind takes.
constexpr unsigned long kBindAttributes =
    MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME |
    MS_RELATIME | MS_STRICTATIME;

struct mount_attr AttributesFor(unsigned long flags) {
  struct mount_attr attr = {};
  if (flags & MS_RDONLY) attr.attr_set |= MOUNT_ATTR_RDONLY;
  if (flags & MS_NOSUID) attr.attr_set |= MOUNT_ATTR_NOSUID;
  if (flags & MS_NODEV) attr.attr_set |= MOUNT_ATTR_NODEV;
  if (flags & MS_NOEXEC) attr.attr_set |= MOUNT_ATTR_NOEXEC;
  if (flags & MS_NODIRATIME) attr.attr_set |= MOUNT_ATTR_NODIRATIME;
  if (flags & (MS_NOATIME | MS_RELATIME | MS_STRICTATIME)) {
    attr.attr_clr |= MOUNT_ATTR__ATIME;
    attr.attr_set |= (flags & MS_NOATIME)       ? MOUNT_ATTR_NOATIME
                     : (flags & MS_STRICTATIME) ? MOUNT_ATTR_STRICTATIME
                                                : MOUNT_ATTR_RELATIME;
  }
  return attr;
}

}  // namespace

absl::Status RealMounter::AtomicBind(const MountRequest& request, int source_fd,
                                     int target_fd) {
  // The walked objects themselves when confined (AT_EMPTY_PATH), else the
  // paths, not following a last symlink.
  ScopedFd tree(source_fd >= 0 ? open_tree(source_fd, "",
                                           OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
                                               AT_EMPTY_PATH)
                               : open_tree(AT_FDCWD, request.source.c_str(),
                                           OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
                                               AT_SYMLINK_NOFOLLOW));
  if (tree.get() < 0) {
    if (errno == ENOSYS) return absl::UnimplementedError("no open_tree");
    return MountErrno(errno, absl::StrCat("bind ", request.source));
  }
  struct mount_attr attr = AttributesFor(request.flags);
  if (mount_setattr(tree.get(), "", AT_EMPTY_PATH, &attr, sizeof(attr)) != 0) {
    if (errno == ENOSYS) return absl::UnimplementedError("no mount_setattr");
    return MountErrno(errno, absl::StrCat("set the attributes of a bind of ",
                                          request.source));
  }
  const int moved =
      target_fd >= 0
          ? move_mount(tree.get(), "", target_fd, "",
                       MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH)
          : move_mount(tree.get(), "", AT_FDCWD, request.target.c_str(),
                       MOVE_MOUNT_F_EMPTY_PATH);
  if (moved != 0) {
    return MountErrno(
        errno, absl::StrCat("mount ", request.source, " on ", request.target));
  }
  return absl::OkStatus();
}

RealMounter::RealMounter(std::string mountinfo_path)
    : mountinfo_path_(std::move(mountinfo_path)) {}

absl::Status RealMounter::Mount(const MountRequest& request) {
  const char* fs_type =
      request.fs_type.empty() ? nullptr : request.fs_type.c_str();
  const char* data = request.data.empty() ? nullptr : request.data.c_str();
  std::string source = request.source;
  std::string target = request.target;
  ScopedFd source_fd, target_fd;
  if (!request.confine_to.empty()) {
    ABSL_ASSIGN_OR_RETURN(ScopedFd opened,
                          OpenConfined(request.confine_to, target));
    target_fd = std::move(opened);
    target = FdPath(target_fd);
    if ((request.flags & MS_BIND) &&
        absl::StartsWith(source, absl::StrCat(request.confine_to, "/"))) {
      ABSL_ASSIGN_OR_RETURN(ScopedFd from,
                            OpenConfined(request.confine_to, source));
      source_fd = std::move(from);
      source = FdPath(source_fd);
    }
  }
  const bool bind_with_attributes = (request.flags & MS_BIND) &&
                                    !(request.flags & MS_REMOUNT) &&
                                    (request.flags & kBindAttributes) != 0;
  if (bind_with_attributes) {
    absl::Status bound = AtomicBind(request, source_fd.get(), target_fd.get());
    if (!absl::IsUnimplemented(bound)) return bound;
    // An older kernel: a bind, then its attributes by a remount.
    if (mount(source.c_str(), target.c_str(), nullptr,
              request.flags & (MS_BIND | MS_REC), nullptr) != 0) {
      return MountErrno(errno, absl::StrCat("mount ", request.source, " on ",
                                            request.target));
    }
    if (mount(nullptr, target.c_str(), nullptr,
              MS_REMOUNT | MS_BIND | (request.flags & kBindAttributes),
              nullptr) != 0) {
      const int err = errno;
      (void)umount2(target.c_str(), MNT_DETACH);
      return MountErrno(err, absl::StrCat("remount ", request.target));
    }
    return absl::OkStatus();
  }
  if (mount(source.c_str(), target.c_str(), fs_type, request.flags, data) !=
      0) {
    return MountErrno(
        errno, absl::StrCat("mount ", request.source, " on ", request.target));
  }
  return absl::OkStatus();
}

absl::Status RealMounter::Unmount(const std::string& target, bool lazy) {
  int flags = UMOUNT_NOFOLLOW;
  if (lazy) flags |= MNT_DETACH;
  if (umount2(target.c_str(), flags) != 0) {
    const int err = errno;
    // EINVAL: not a mount point.
    if (err == EINVAL || err == ENOENT) {
      return absl::NotFoundError(absl::StrCat("nothing mounted at ", target));
    }
    return MountErrno(err, absl::StrCat("unmount ", target));
  }
  return absl::OkStatus();
}

absl::Status RealMounter::UnmountConfined(const std::string& root,
                                          const std::string& target) {
  // The parent is the walked directory; only the last name is looked up,
  // in it, without following a symlink. Holding the parent (not the mount)
  // lets the unmount be a normal one, refused while the mount is busy.
  absl::StatusOr<ConfinedParent> parent = OpenConfinedParent(root, target);
  if (absl::IsNotFound(parent.status())) {
    return absl::NotFoundError(absl::StrCat("nothing mounted at ", target));
  }
  if (!parent.ok()) return parent.status();
  const std::string at = absl::StrCat(FdPath(parent->dir), "/", parent->name);
  if (umount2(at.c_str(), UMOUNT_NOFOLLOW) != 0) {
    const int err = errno;
    if (err == EINVAL || err == ENOENT) {
      return absl::NotFoundError(absl::StrCat("nothing mounted at ", target));
    }
    return MountErrno(err, absl::StrCat("unmount ", target));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<MountEntry>> RealMounter::ListMounts() {
  ABSL_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(mountinfo_path_));
  return ParseMountInfo(text);
}

}  // namespace cellar
