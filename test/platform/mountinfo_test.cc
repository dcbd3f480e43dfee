#include "src/platform/mountinfo.h"

#include "gtest/gtest.h"
#include "src/platform/mounter.h"

namespace cellar {
namespace {

constexpr char kMountInfo[] =
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro\n"
    "23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc "
    "rw\n"
    "140 22 7:3 / "
    "/var/lib/kubelet/plugins/kubernetes.io/csi/cellar.csi.io/abc/globalmount "
    "rw,nosuid,nodev,relatime shared:80 - ext4 /dev/loop3 rw\n"
    "141 22 7:3 / "
    "/var/lib/kubelet/pods/uid/volumes/kubernetes.io~csi/"
    "pvc\\040with\\040space/mount "
    "ro,nosuid,nodev,relatime shared:80 master:3 - ext4 /dev/loop3 rw\n"
    "142 22 0:5 /loop3 /var/lib/kubelet/block/tab\\011name ro,relatime - "
    "devtmpfs udev rw,size=100k\n"
    "143 22 0:40 / /mnt/back\\134slash rw,relatime - tmpfs tmp\\040fs rw\n";

TEST(MountInfoTest, ParsesFieldsAndOptionalTags) {
  auto entries = ParseMountInfo(kMountInfo);
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 6u);
  const MountEntry& root = (*entries)[0];
  EXPECT_EQ(root.mount_id, 22);
  EXPECT_EQ(root.parent_id, 1);
  EXPECT_EQ(root.major, 8u);
  EXPECT_EQ(root.minor, 1u);
  EXPECT_EQ(root.root, "/");
  EXPECT_EQ(root.mount_point, "/");
  EXPECT_EQ(root.fs_type, "ext4");
  EXPECT_EQ(root.source, "/dev/sda1");
  EXPECT_EQ(root.super_options, "rw,errors=remount-ro");
  EXPECT_EQ(root.optional_fields, std::vector<std::string>{"shared:1"});
  const MountEntry& pod = (*entries)[3];
  EXPECT_EQ(pod.optional_fields,
            (std::vector<std::string>{"shared:80", "master:3"}));
  EXPECT_TRUE(pod.HasMountOption("ro"));
  EXPECT_TRUE(pod.HasMountOption("nosuid"));
  EXPECT_FALSE(pod.HasMountOption("rw"));
  EXPECT_FALSE(pod.HasMountOption("no"));
}

TEST(MountInfoTest, DecodesOctalEscapes) {
  auto entries = ParseMountInfo(kMountInfo);
  ASSERT_TRUE(entries.ok());
  EXPECT_EQ((*entries)[3].mount_point,
            "/var/lib/kubelet/pods/uid/volumes/kubernetes.io~csi/pvc with "
            "space/mount");
  EXPECT_EQ((*entries)[4].mount_point, "/var/lib/kubelet/block/tab\tname");
  EXPECT_EQ((*entries)[4].root, "/loop3");
  EXPECT_TRUE((*entries)[4].optional_fields.empty());
  EXPECT_EQ((*entries)[5].mount_point, "/mnt/back\\slash");
  EXPECT_EQ((*entries)[5].source, "tmp fs");
}

TEST(MountInfoTest, UnescapeTable) {
  struct Case {
    const char* in;
    const char* out;
  } cases[] = {
      {"plain", "plain"},
      {"a\\040b", "a b"},
      {"\\012", "\n"},
      {"\\134", "\\"},
      {"trail\\04", "trail\\04"},
      {"\\999", "\\999"},
      {"\\", "\\"},
      {"", ""},
  };
  for (const Case& c : cases)
    EXPECT_EQ(UnescapeMountField(c.in), c.out) << c.in;
}

TEST(MountInfoTest, RejectsMalformedLines) {
  const char* bad[] = {
      "22 1 8:1 / / rw - ext4\n",                       // too few fields
      "x 1 8:1 / / rw shared:1 - ext4 /dev/sda1 rw\n",  // bad id
      "22 1 81 / / rw shared:1 - ext4 /dev/sda1 rw\n",  // bad dev
      "22 1 8:1 / / rw shared:1 a b c d\n",             // no separator
      "22 1 8:1 / / rw a b c d e -\n",                  // nothing after -
  };
  for (const char* text : bad) {
    EXPECT_EQ(ParseMountInfo(text).status().code(),
              absl::StatusCode::kInvalidArgument)
        << text;
  }
}

TEST(MountInfoTest, EmptyTextIsEmptyTable) {
  auto entries = ParseMountInfo("");
  ASSERT_TRUE(entries.ok());
  EXPECT_TRUE(entries->empty());
}

TEST(MountInfoTest, MountsAtFindsStackedMounts) {
  auto entries = ParseMountInfo(
      std::string(kMountInfo) +
      "150 141 7:3 / /var/lib/kubelet/pods/uid/volumes/kubernetes.io~csi/"
      "pvc\\040with\\040space/mount rw - ext4 /dev/loop3 rw\n");
  ASSERT_TRUE(entries.ok());
  auto at = MountsAt(*entries,
                     "/var/lib/kubelet/pods/uid/volumes/kubernetes.io~csi/"
                     "pvc with space/mount");
  ASSERT_EQ(at.size(), 2u);
  EXPECT_EQ(at.back().mount_id, 150);
  EXPECT_TRUE(MountsAt(*entries, "/nowhere").empty());
}

}  // namespace
}  // namespace cellar
