#include "src/platform/real_mounter.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "src/platform/confined_path.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace cellar {
namespace {

absl::Status MountErrno(int err, const std::string& what) {
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(absl::StrCat(what, ": ", strerror(err)));
    case EPERM:
    case EACCES:
      return absl::PermissionDeniedError(absl::StrCat(what, ": ", strerror(err)));
    case EBUSY:
      return absl::FailedPreconditionError(
          absl::StrCat(what, ": ", strerror(err)));
    case EINVAL:
    case ENODEV:
    case ENOTBLK:
      return absl::InvalidArgumentError(absl::StrCat(what, ": ", strerror(err)));
    default:
      return absl::InternalError(absl::StrCat(what, ": ", strerror(err)));
  }
}

}  // namespace

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
    absl::StatusOr<ScopedFd> opened = OpenConfined(request.confine_to, target);
    if (!opened.ok()) return opened.status();
    target_fd = *std::move(opened);
    target = FdPath(target_fd);
    if ((request.flags & MS_BIND) &&
        absl::StartsWith(source, absl::StrCat(request.confine_to, "/"))) {
      absl::StatusOr<ScopedFd> from = OpenConfined(request.confine_to, source);
      if (!from.ok()) return from.status();
      source_fd = *std::move(from);
      source = FdPath(source_fd);
    }
  }
  if (mount(source.c_str(), target.c_str(), fs_type, request.flags, data) !=
      0) {
    return MountErrno(errno, absl::StrCat("mount ", request.source, " on ",
                                          request.target));
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
  const int fd = open(mountinfo_path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, mountinfo_path_);
  std::string text;
  char buf[65536];
  for (;;) {
    const ssize_t got = read(fd, buf, sizeof(buf));
    if (got < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      close(fd);
      return absl::ErrnoToStatus(err, mountinfo_path_);
    }
    if (got == 0) break;
    text.append(buf, static_cast<size_t>(got));
  }
  close(fd);
  return ParseMountInfo(text);
}

}  // namespace cellar
