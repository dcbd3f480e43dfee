#ifndef CELLAR_SRC_PLATFORM_CONFINED_PATH_H_
#define CELLAR_SRC_PLATFORM_CONFINED_PATH_H_

#include <sys/types.h>

#include <string>
#include <utility>

#include "absl/status/statusor.h"

namespace cellar {

// A file descriptor closed when it goes out of scope.
class ScopedFd final {
 public:
  explicit ScopedFd(int fd = -1) : fd_(fd) {}
  ScopedFd(ScopedFd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  ScopedFd& operator=(ScopedFd&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  ~ScopedFd();
  int get() const { return fd_; }

 private:
  int fd_;
};

// Opens `path`, which must lie strictly below the trusted directory `root`
// (absolute, normalised), as an O_PATH descriptor, one component at a time
// from `root` without following any symlink. A syscall made on the result
// (through its /proc/self/fd path or an *at call) acts on exactly the object
// the walk reached, however the path is changed meanwhile. NOT_FOUND when a
// component is missing, INVALID_ARGUMENT for a symlink on the way or a path
// outside `root`. Thread-safe.
absl::StatusOr<ScopedFd> OpenConfined(const std::string& root,
                                      const std::string& path);

// As OpenConfined for a directory, making the components that are missing
// (mkdirat with `mode`) on the way. FAILED_PRECONDITION when a component is
// not a directory.
absl::StatusOr<ScopedFd> MakeConfinedDirs(const std::string& root,
                                          const std::string& path, mode_t mode);

// The parent of `path` opened as OpenConfined does (the root itself when it
// is the parent), and the last component's name: a call made as
// "/proc/self/fd/N/<name>" with NOFOLLOW, or an *at call on (fd, name),
// looks the name up in exactly the walked directory.
struct ConfinedParent {
  ScopedFd dir;
  std::string name;
};
absl::StatusOr<ConfinedParent> OpenConfinedParent(const std::string& root,
                                                  const std::string& path);

// "/proc/self/fd/N": the magic link that names the object itself.
std::string FdPath(const ScopedFd& fd);

}  // namespace cellar

#endif  // CELLAR_SRC_PLATFORM_CONFINED_PATH_H_
