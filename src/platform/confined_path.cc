#include "src/platform/confined_path.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "src/common/status_macros.h"

namespace cellar {

ScopedFd::~ScopedFd() {
  if (fd_ >= 0) close(fd_);
}

namespace {

// The walk behind OpenConfined and MakeConfinedDirs; `mode` < 0: make
// nothing.
absl::StatusOr<ScopedFd> Walk(const std::string& root, const std::string& path,
                              int mode) {
  if (!absl::StartsWith(path, root) || path.size() <= root.size() + 1 ||
      path[root.size()] != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is not inside ", root));
  }
  ScopedFd current(open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (current.get() < 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("open ", root));
  }
  for (absl::string_view part :
       absl::StrSplit(absl::string_view(path).substr(root.size() + 1), '/')) {
    const std::string name(part);
    if (name.empty() || name == "." || name == "..") {
      return absl::InvalidArgumentError(
          absl::StrCat(path, " is not a normalised path"));
    }
    ScopedFd next(
        openat(current.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (next.get() < 0 && errno == ENOENT && mode >= 0) {
      if (mkdirat(current.get(), name.c_str(), static_cast<mode_t>(mode)) !=
              0 &&
          errno != EEXIST) {
        return absl::ErrnoToStatus(errno, absl::StrCat("mkdir ", path));
      }
      next = ScopedFd(
          openat(current.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    }
    if (next.get() < 0) {
      const int err = errno;
      if (err == ENOENT || err == ENOTDIR) {
        return absl::NotFoundError(absl::StrCat(path, ": ", strerror(err)));
      }
      return absl::ErrnoToStatus(err, absl::StrCat("open ", path));
    }
    struct stat st;
    if (fstat(next.get(), &st) != 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat("stat ", path));
    }
    // O_PATH|O_NOFOLLOW opens a symlink itself rather than failing.
    if (S_ISLNK(st.st_mode)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, " goes through a symlink (", name, "); refusing"));
    }
    if (mode >= 0 && !S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, ": ", name, " exists and is not a directory"));
    }
    current = std::move(next);
  }
  return current;
}

}  // namespace

absl::StatusOr<ScopedFd> OpenConfined(const std::string& root,
                                      const std::string& path) {
  return Walk(root, path, -1);
}

absl::StatusOr<ScopedFd> MakeConfinedDirs(const std::string& root,
                                          const std::string& path,
                                          mode_t mode) {
  return Walk(root, path, static_cast<int>(mode & 07777));
}

absl::StatusOr<ConfinedParent> OpenConfinedParent(const std::string& root,
                                                  const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos || slash + 1 == path.size() ||
      !absl::StartsWith(path, absl::StrCat(root, "/"))) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is not inside ", root));
  }
  ConfinedParent parent;
  parent.name = path.substr(slash + 1);
  const std::string dir = path.substr(0, slash);
  if (dir == root) {
    parent.dir = ScopedFd(open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (parent.dir.get() < 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat("open ", root));
    }
    return parent;
  }
  ABSL_ASSIGN_OR_RETURN(ScopedFd walked, Walk(root, dir, -1));
  parent.dir = std::move(walked);
  return parent;
}

std::string FdPath(const ScopedFd& fd) {
  return absl::StrCat("/proc/self/fd/", fd.get());
}

}  // namespace cellar
