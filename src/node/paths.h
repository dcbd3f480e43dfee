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

// Where in kubelet's own layout a path may lie.
enum class NodePathKind {
  // A staging path: under <kubelet-dir>/plugins/kubernetes.io/csi/.
  kStaging,
  // A publish target or a volume path (stats, expand): a pod's CSI volume,
  // <kubelet-dir>/pods/<uid>/volumes/kubernetes.io~csi/<pv>/<leaf>, or
  // under <kubelet-dir>/plugins/kubernetes.io/csi/ (block volumes).
  kTarget,
};

// Pure check: CheckConfinedPath against `kubelet_dir`, and the path has the
// shape kubelet gives CSI volumes of `kind`. The rest of the kubelet
// directory (pki, plugins_registry, pod-resources, other drivers' sockets,
// a pod's other volumes such as emptyDirs, the kubelet's own files) is
// never touched. INVALID_ARGUMENT otherwise.
absl::Status CheckKubeletPath(absl::string_view path,
                              absl::string_view kubelet_dir, NodePathKind kind,
                              absl::string_view what);

// CheckKubeletPath, then walks the existing components below `kubelet_dir`
// with lstat: a symlink anywhere (which could lead outside) is
// INVALID_ARGUMENT. Components that do not exist yet are fine (they will be
// made as directories by the driver, never followed). The mounts the node
// makes at such a path repeat the walk on the object they mount on
// (MountRequest::confine_to), so a symlink swapped in afterwards cannot
// redirect them.
absl::Status CheckNodePath(FileSystem* fs, const std::string& path,
                           const std::string& kubelet_dir, NodePathKind kind,
                           absl::string_view what);

}  // namespace cellar

#endif  // CELLAR_SRC_NODE_PATHS_H_
