#include "src/node/paths.h"

#include <vector>

#include "gtest/gtest.h"
#include "test/fakes/fake_filesystem.h"

namespace cellar {
namespace {

constexpr char kRoot[] = "/var/lib/kubelet";

TEST(PathsTest, AcceptsNormalisedPathsInside) {
  for (const char* path :
       {"/var/lib/kubelet/pods/uid/volumes/kubernetes.io~csi/pvc/mount",
        "/var/lib/kubelet/plugins/kubernetes.io/csi/cellar.csi.io/abc/"
        "globalmount",
        "/var/lib/kubelet/x"}) {
    EXPECT_TRUE(CheckConfinedPath(path, kRoot, "p").ok()) << path;
  }
}

TEST(PathsTest, RejectsEverythingElse) {
  const std::string cases[] = {
      "",
      "relative/path",
      "/var/lib/kubelet",
      "/var/lib/kubelet/",
      "/var/lib/kubeletx/a",
      "/etc/passwd",
      "/var/lib/kubelet/../../../etc",
      "/var/lib/kubelet/a/../../etc",
      "/var/lib/kubelet/./a",
      "/var/lib/kubelet//a",
      "/var/lib/kubelet/a/",
      std::string("/var/lib/kubelet/a\0b", 20),
      "/var/lib/kubelet/a\nb",
      "/var/lib/kubelet/" + std::string(5000, 'a'),
  };
  for (const std::string& path : cases) {
    absl::Status status = CheckConfinedPath(path, kRoot, "target_path");
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << path;
    EXPECT_NE(status.message().find("target_path"), std::string::npos);
  }
}

TEST(PathsTest, SymlinkComponentsAreRefused) {
  FakeFileSystem fs;
  const std::string csi = "/var/lib/kubelet/pods/u/volumes/kubernetes.io~csi";
  ASSERT_TRUE(fs.MakeDirs(csi, 0755).ok());
  fs.AddSymlink("/var/lib/kubelet/pods/evil", "/etc");
  fs.AddSymlink(csi + "/evil", "/etc");
  EXPECT_EQ(CheckNodePath(&fs,
                          "/var/lib/kubelet/pods/evil/volumes/"
                          "kubernetes.io~csi/p/mount",
                          kRoot, NodePathKind::kTarget, "p")
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      CheckNodePath(&fs, csi + "/evil/mount", kRoot, NodePathKind::kTarget, "p")
          .code(),
      absl::StatusCode::kInvalidArgument);
  // Not yet existing components are fine.
  EXPECT_TRUE(
      CheckNodePath(&fs, csi + "/new/mount", kRoot, NodePathKind::kTarget, "p")
          .ok());
}

TEST(PathsTest, KubeletLayout) {
  struct Case {
    const char* path;
    NodePathKind kind;
    bool ok;
  };
  for (const Case& c : std::vector<Case>{
           // kubelet's own shapes
           {"/var/lib/kubelet/plugins/kubernetes.io/csi/d/h/globalmount",
            NodePathKind::kStaging, true},
           {"/var/lib/kubelet/plugins/kubernetes.io/csi/pv/p/globalmount",
            NodePathKind::kStaging, true},
           {"/var/lib/kubelet/plugins/kubernetes.io/csi/volumeDevices/"
            "staging/pv",
            NodePathKind::kStaging, true},
           {"/var/lib/kubelet/pods/u/volumes/kubernetes.io~csi/pv/mount",
            NodePathKind::kTarget, true},
           {"/var/lib/kubelet/plugins/kubernetes.io/csi/volumeDevices/"
            "publish/pv/u",
            NodePathKind::kTarget, true},
           // a target is never a staging path
           {"/var/lib/kubelet/pods/u/volumes/kubernetes.io~csi/pv/mount",
            NodePathKind::kStaging, false},
           // a pod's other volumes and directories
           {"/var/lib/kubelet/pods/u/volumes/kubernetes.io~empty-dir/c/db",
            NodePathKind::kTarget, false},
           {"/var/lib/kubelet/pods/u/volumes/kubernetes.io~csi/pv",
            NodePathKind::kTarget, false},
           {"/var/lib/kubelet/pods/u/volumes/kubernetes.io~csi/pv/mount/x",
            NodePathKind::kTarget, false},
           {"/var/lib/kubelet/pods/u/volumes", NodePathKind::kTarget, false},
           {"/var/lib/kubelet/pods/u/volume-subpaths/c/0",
            NodePathKind::kTarget, false},
           // other drivers' and kubelet's own directories
           {"/var/lib/kubelet/plugins/other.csi.vendor.io",
            NodePathKind::kTarget, false},
           {"/var/lib/kubelet/plugins/cellar.csi.io/x", NodePathKind::kStaging,
            false},
           {"/var/lib/kubelet/plugins/kubernetes.io/csi",
            NodePathKind::kStaging, false},
           {"/var/lib/kubelet/plugins", NodePathKind::kStaging, false},
           {"/var/lib/kubelet/pods", NodePathKind::kTarget, false},
           {"/var/lib/kubelet/plugins_registry/x", NodePathKind::kStaging,
            false},
           {"/var/lib/kubelet/pki/kubelet.key", NodePathKind::kTarget, false},
           {"/var/lib/kubelet/pod-resources/kubelet.sock",
            NodePathKind::kTarget, false},
           {"/var/lib/kubelet/podsx/a", NodePathKind::kTarget, false},
           {"/var/lib/kubelet/x", NodePathKind::kTarget, false},
       }) {
    absl::Status status = CheckKubeletPath(c.path, kRoot, c.kind, "p");
    EXPECT_EQ(status.ok(), c.ok) << c.path << ": " << status;
    if (!c.ok) EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace cellar
