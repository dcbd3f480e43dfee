#include "src/platform/confined_path.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace cellar {

ScopedFd::~ScopedFd() {
  if (fd_ >= 0) close(fd_);
}

absl::StatusOr<ScopedFd> OpenConfined(const std::string& root,
                                      const std::string& path) {
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
      return absl::InvalidArgumentError(absl::StrCat(
          path, " goes through a symlink (", name, "); refusing"));
    }
    current = std::move(next);
  }
  return current;
}

std::string FdPath(const ScopedFd& fd) {
  return absl::StrCat("/proc/self/fd/", fd.get());
}

}  // namespace cellar
