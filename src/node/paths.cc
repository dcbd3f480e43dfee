#include "src/node/paths.h"

#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace cellar {

absl::Status CheckConfinedPath(absl::string_view path, absl::string_view root,
                               absl::string_view what) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " \"", absl::CEscape(path.substr(0, 256)), "\" ", why));
  };
  if (path.empty()) return bad("is empty");
  if (path.size() > 4096) return bad("is too long");
  if (path[0] != '/') return bad("is not absolute");
  for (unsigned char c : path) {
    if (c < 0x20 || c == 0x7f) return bad("contains control characters");
  }
  if (path.size() > 1 && path.back() == '/') return bad("has a trailing slash");
  std::vector<absl::string_view> parts = absl::StrSplit(path.substr(1), '/');
  for (absl::string_view part : parts) {
    if (part.empty()) return bad("has an empty component");
    if (part == "." || part == "..") return bad("is not normalised");
  }
  if (!absl::StartsWith(path, root) || path.size() <= root.size() + 1 ||
      path[root.size()] != '/') {
    return bad(absl::StrCat("is not inside ", root));
  }
  return absl::OkStatus();
}

absl::Status CheckKubeletPath(absl::string_view path,
                              absl::string_view kubelet_dir, NodePathKind kind,
                              absl::string_view what) {
  if (absl::Status s = CheckConfinedPath(path, kubelet_dir, what); !s.ok()) {
    return s;
  }
  const std::vector<absl::string_view> parts =
      absl::StrSplit(path.substr(kubelet_dir.size() + 1), '/');
  // plugins/kubernetes.io/csi/...: kubelet's CSI plugin directory (staging
  // paths, and block volumes' publish files), at least one level down.
  const bool csi_plugins = parts.size() >= 4 && parts[0] == "plugins" &&
                           parts[1] == "kubernetes.io" && parts[2] == "csi";
  // pods/<uid>/volumes/kubernetes.io~csi/<pv>/<leaf>: a pod's CSI volume
  // (kubelet's leaf is "mount"), never a pod's other volumes or its own
  // directories.
  const bool pod_volume = parts.size() == 6 && parts[0] == "pods" &&
                          parts[2] == "volumes" &&
                          parts[3] == "kubernetes.io~csi";
  if (csi_plugins || (kind == NodePathKind::kTarget && pod_volume)) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      what, " \"", absl::CEscape(path.substr(0, 256)),
      "\" is not where kubelet puts a CSI volume (",
      kind == NodePathKind::kStaging
          ? absl::StrCat(kubelet_dir, "/plugins/kubernetes.io/csi/...")
          : absl::StrCat(kubelet_dir,
                         "/pods/<uid>/volumes/kubernetes.io~csi/<pv>/<leaf> "
                         "or ",
                         kubelet_dir, "/plugins/kubernetes.io/csi/..."),
      "); refusing to touch it"));
}

absl::Status CheckNodePath(FileSystem* fs, const std::string& path,
                           const std::string& root, NodePathKind kind,
                           absl::string_view what) {
  if (absl::Status s = CheckKubeletPath(path, root, kind, what); !s.ok()) {
    return s;
  }
  // The root itself is trusted (configured); everything below is checked.
  std::string prefix = root;
  for (absl::string_view part :
       absl::StrSplit(absl::string_view(path).substr(root.size() + 1), '/')) {
    absl::StrAppend(&prefix, "/", part);
    absl::StatusOr<FileInfo> info = fs->Stat(prefix);
    if (!info.ok()) {
      if (absl::IsNotFound(info.status())) return absl::OkStatus();
      return info.status();
    }
    if (info->type == FileType::kSymlink) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " \"", absl::CEscape(path.substr(0, 256)),
                       "\" goes through the symlink ", prefix, "; refusing"));
    }
  }
  return absl::OkStatus();
}

}  // namespace cellar
