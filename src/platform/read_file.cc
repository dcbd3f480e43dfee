#include "src/platform/read_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "absl/status/status.h"

namespace cellar {

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, path);
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t got = read(fd, buf, sizeof(buf));
    if (got < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      close(fd);
      return absl::ErrnoToStatus(err, path);
    }
    if (got == 0) break;
    out.append(buf, static_cast<size_t>(got));
  }
  close(fd);
  return out;
}

}  // namespace cellar
