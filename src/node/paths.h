#ifndef CELLAR_SRC_NODE_PATHS_H_
#define CELLAR_SRC_NODE_PATHS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "src/platform/filesystem.h"

namespace cellar {

// Pure check: `path` is absolute, normalised (no "." or ".." component, no
// empty component such as "//", no trailing slash), free of control
// characters, at most 4096 bytes, and strictly inside `root` (itself
// absolute and normalised). INVALID_ARGUMENT naming `what` otherwise.
absl::Status CheckConfinedPath(absl::string_view path, absl::string_view root,
                               absl::string_view what);

// CheckConfinedPath, then walks the existing components below `root` with
// lstat: a symlink anywhere (which could lead outside) is INVALID_ARGUMENT.
// Components that do not exist yet are fine (they will be made as
// directories by the driver, never followed).
absl::Status CheckNodePath(FileSystem* fs, const std::string& path,
                           const std::string& root, absl::string_view what);

}  // namespace cellar

#endif  // CELLAR_SRC_NODE_PATHS_H_
