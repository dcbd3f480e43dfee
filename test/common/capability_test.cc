// Volume capabilities, mount flags and capacity ranges: the exact status
// and the exact parsed result for each case, since every Controller and
// Node RPC that takes a capability answers with what these return.
#include "src/common/capability.h"

#include <sys/mount.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "src/common/units.h"

namespace cellar {
namespace {

using Mode = csi::v1::VolumeCapability::AccessMode;
using Capabilities =
    google::protobuf::RepeatedPtrField<csi::v1::VolumeCapability>;

csi::v1::VolumeCapability Mount(Mode::Mode mode, const std::string& fs = "",
                                std::vector<std::string> flags = {},
                                const std::string& group = "") {
  csi::v1::VolumeCapability cap;
  cap.mutable_access_mode()->set_mode(mode);
  auto* mount = cap.mutable_mount();
  mount->set_fs_type(fs);
  for (const std::string& flag : flags) mount->add_mount_flags(flag);
  mount->set_volume_mount_group(group);
  return cap;
}

csi::v1::VolumeCapability Block(Mode::Mode mode) {
  csi::v1::VolumeCapability cap;
  cap.mutable_access_mode()->set_mode(mode);
  cap.mutable_block();
  return cap;
}

TEST(CapabilityTest, SupportedFsTypes) {
  EXPECT_TRUE(IsSupportedFsType("ext4"));
  EXPECT_TRUE(IsSupportedFsType("xfs"));
  EXPECT_TRUE(IsSupportedFsType(kDefaultFsType));
  EXPECT_EQ(std::string(kDefaultFsType), "ext4");
  for (const char* other : {"", "EXT4", "ext3", "ext2", "btrfs", "vfat", "ntfs",
                            "xfs ", " xfs", "ext4,ro", "tmpfs", "nfs"}) {
    EXPECT_FALSE(IsSupportedFsType(other)) << other;
  }
}

TEST(CapabilityTest, EverySingleNodeModeOfBlockAndMountIsAccepted) {
  for (Mode::Mode mode :
       {Mode::SINGLE_NODE_WRITER, Mode::SINGLE_NODE_READER_ONLY,
        Mode::SINGLE_NODE_SINGLE_WRITER, Mode::SINGLE_NODE_MULTI_WRITER}) {
    absl::StatusOr<AccessRequest> block = ValidateCapability(Block(mode));
    ASSERT_TRUE(block.ok()) << Mode::Mode_Name(mode) << block.status();
    EXPECT_TRUE(block->block);
    EXPECT_EQ(block->fs_type, "");
    EXPECT_TRUE(block->mount_flags.empty());
    EXPECT_EQ(block->mount_options.flags, 0u);
    EXPECT_TRUE(block->mount_options.data.empty());
    EXPECT_FALSE(block->mount_group_gid.has_value());

    absl::StatusOr<AccessRequest> mount = ValidateCapability(Mount(mode));
    ASSERT_TRUE(mount.ok()) << Mode::Mode_Name(mode) << mount.status();
    EXPECT_FALSE(mount->block);
    EXPECT_EQ(mount->fs_type, "");  // none named: the caller's default
    EXPECT_TRUE(mount->mount_flags.empty());
    EXPECT_EQ(mount->mount_options.flags, 0u);
    EXPECT_TRUE(mount->mount_options.data.empty());
  }
}

TEST(CapabilityTest, RefusalsSayWhy) {
  struct Case {
    const char* what;
    csi::v1::VolumeCapability cap;
    std::string message;
  };
  csi::v1::VolumeCapability no_mode;
  no_mode.mutable_mount();
  csi::v1::VolumeCapability no_type;
  no_type.mutable_access_mode()->set_mode(Mode::SINGLE_NODE_WRITER);
  const Case cases[] = {
      {"no access mode", no_mode, "volume capability has no access mode"},
      {"no access type", no_type,
       "volume capability has no access type (block or mount)"},
      {"UNKNOWN", Mount(Mode::UNKNOWN), "unknown access mode 0"},
      {"mode 99", Mount(static_cast<Mode::Mode>(99)), "unknown access mode 99"},
      {"MULTI_NODE_READER_ONLY mount", Mount(Mode::MULTI_NODE_READER_ONLY),
       "access mode MULTI_NODE_READER_ONLY is not supported: cellar volumes "
       "are local to one node"},
      {"MULTI_NODE_SINGLE_WRITER block", Block(Mode::MULTI_NODE_SINGLE_WRITER),
       "access mode MULTI_NODE_SINGLE_WRITER is not supported: cellar volumes "
       "are local to one node"},
      {"MULTI_NODE_MULTI_WRITER block", Block(Mode::MULTI_NODE_MULTI_WRITER),
       "access mode MULTI_NODE_MULTI_WRITER is not supported: cellar volumes "
       "are local to one node"},
      {"ntfs", Mount(Mode::SINGLE_NODE_WRITER, "ntfs"),
       "unsupported fs_type \"ntfs\" (want ext4 or xfs)"},
      {"escaped fs", Mount(Mode::SINGLE_NODE_WRITER, "ext4\n"),
       "unsupported fs_type \"ext4\\n\" (want ext4 or xfs)"},
      {"bad flag", Mount(Mode::SINGLE_NODE_WRITER, "ext4", {"errors=panic"}),
       "mount flag \"errors=panic\" is not supported"},
      {"group name", Mount(Mode::SINGLE_NODE_WRITER, "", {}, "staff"),
       "volume_mount_group \"staff\" is not a numeric group id"},
      {"negative group", Mount(Mode::SINGLE_NODE_WRITER, "", {}, "-1"),
       "volume_mount_group \"-1\" is not a numeric group id"},
      {"signed group", Mount(Mode::SINGLE_NODE_WRITER, "", {}, "+5"),
       "volume_mount_group \"+5\" is not a numeric group id"},
      {"spaced group", Mount(Mode::SINGLE_NODE_WRITER, "", {}, " 5"),
       "volume_mount_group \" 5\" is not a numeric group id"},
      {"group past 2^32", Mount(Mode::SINGLE_NODE_WRITER, "", {}, "4294967296"),
       "volume_mount_group \"4294967296\" is not a numeric group id"},
      {"11 digits", Mount(Mode::SINGLE_NODE_WRITER, "", {}, "00000000001"),
       "volume_mount_group \"00000000001\" is not a numeric group id"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<AccessRequest> access = ValidateCapability(c.cap);
    EXPECT_EQ(access.status().code(), absl::StatusCode::kInvalidArgument)
        << c.what;
    EXPECT_EQ(access.status().message(), c.message) << c.what;
  }
}

TEST(CapabilityTest, MountFieldsAreParsed) {
  absl::StatusOr<AccessRequest> access = ValidateCapability(Mount(
      Mode::SINGLE_NODE_MULTI_WRITER, "xfs",
      {"noatime", "nodev", "discard", "context=\"system_u:object_r:t:s0\""},
      "1000"));
  ASSERT_TRUE(access.ok()) << access.status();
  EXPECT_FALSE(access->block);
  EXPECT_EQ(access->fs_type, "xfs");
  EXPECT_EQ(access->mount_flags,
            (std::vector<std::string>{"noatime", "nodev", "discard",
                                      "context=\"system_u:object_r:t:s0\""}));
  EXPECT_EQ(access->mount_options.flags,
            static_cast<unsigned long>(MS_NOATIME | MS_NODEV));
  EXPECT_EQ(access->mount_options.data,
            (std::vector<std::string>{"discard",
                                      "context=\"system_u:object_r:t:s0\""}));
  EXPECT_EQ(access->mount_group_gid, 1000u);

  const struct {
    const char* text;
    uint32_t gid;
  } kGroups[] = {{"0", 0}, {"4294967295", 4294967295u}, {"0000000001", 1}};
  for (const auto& group : kGroups) {
    access = ValidateCapability(
        Mount(Mode::SINGLE_NODE_WRITER, "ext4", {}, group.text));
    ASSERT_TRUE(access.ok()) << group.text << ": " << access.status();
    EXPECT_EQ(access->mount_group_gid, group.gid);
  }

  // A block capability carries no mount fields, whatever else is set.
  csi::v1::VolumeCapability block = Block(Mode::SINGLE_NODE_WRITER);
  access = ValidateCapability(block);
  ASSERT_TRUE(access.ok());
  EXPECT_TRUE(access->block);
  EXPECT_EQ(access->fs_type, "");
}

TEST(CapabilityTest, ReadOnlyModes) {
  EXPECT_TRUE(IsReadOnlyMode(Mount(Mode::SINGLE_NODE_READER_ONLY)));
  EXPECT_TRUE(IsReadOnlyMode(Block(Mode::MULTI_NODE_READER_ONLY)));
  for (Mode::Mode mode :
       {Mode::UNKNOWN, Mode::SINGLE_NODE_WRITER,
        Mode::SINGLE_NODE_SINGLE_WRITER, Mode::SINGLE_NODE_MULTI_WRITER,
        Mode::MULTI_NODE_SINGLE_WRITER, Mode::MULTI_NODE_MULTI_WRITER}) {
    EXPECT_FALSE(IsReadOnlyMode(Mount(mode))) << Mode::Mode_Name(mode);
  }
  EXPECT_FALSE(IsReadOnlyMode(csi::v1::VolumeCapability()));
}

TEST(CapabilityTest, EachMountFlagsBit) {
  struct Case {
    const char* flag;
    unsigned long bits;
  } cases[] = {
      {"ro", MS_RDONLY},         {"rw", 0},
      {"noatime", MS_NOATIME},   {"nodiratime", MS_NODIRATIME},
      {"relatime", MS_RELATIME}, {"strictatime", MS_STRICTATIME},
      {"lazytime", MS_LAZYTIME}, {"sync", MS_SYNCHRONOUS},
      {"dirsync", MS_DIRSYNC},   {"nosuid", MS_NOSUID},
      {"nodev", MS_NODEV},       {"noexec", MS_NOEXEC},
      {"defaults", 0},
  };
  for (const Case& c : cases) {
    absl::StatusOr<MountOptions> options = ParseMountFlags({c.flag});
    ASSERT_TRUE(options.ok()) << c.flag << ": " << options.status();
    EXPECT_EQ(options->flags, c.bits) << c.flag;
    EXPECT_TRUE(options->data.empty()) << c.flag;
  }
  absl::StatusOr<MountOptions> all =
      ParseMountFlags({"ro", "nosuid", "nodev", "noexec", "noatime"});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->flags,
            static_cast<unsigned long>(MS_RDONLY | MS_NOSUID | MS_NODEV |
                                       MS_NOEXEC | MS_NOATIME));
  absl::StatusOr<MountOptions> none = ParseMountFlags({});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->flags, 0u);
  EXPECT_TRUE(none->data.empty());
}

TEST(CapabilityTest, FilesystemOptionsPassInOrder) {
  const std::vector<std::string> options = {
      "discard",         "nodiscard",      "nobarrier",    "barrier",
      "user_xattr",      "nouser_xattr",   "acl",          "noacl",
      "data=ordered",    "data=writeback", "data=journal", "errors=remount-ro",
      "errors=continue", "inode64",        "noquota",      "usrquota",
      "grpquota",        "prjquota",       "uquota",       "gquota",
      "pquota",          "largeio",        "nolargeio"};
  for (const std::string& option : options) {
    absl::StatusOr<MountOptions> one = ParseMountFlags({option});
    ASSERT_TRUE(one.ok()) << option << ": " << one.status();
    EXPECT_EQ(one->flags, 0u) << option;
    EXPECT_EQ(one->data, std::vector<std::string>{option});
  }
  absl::StatusOr<MountOptions> mixed =
      ParseMountFlags({"acl", "ro", "data=journal", "noexec", "discard"});
  ASSERT_TRUE(mixed.ok());
  EXPECT_EQ(mixed->flags, static_cast<unsigned long>(MS_RDONLY | MS_NOEXEC));
  EXPECT_EQ(mixed->data,
            (std::vector<std::string>{"acl", "data=journal", "discard"}));
}

TEST(CapabilityTest, SelinuxContextOptions) {
  for (const std::string& good :
       {std::string("context=system_u:object_r:container_file_t:s0"),
        std::string("fscontext=system_u:object_r:t:s0"),
        std::string("defcontext=system_u:object_r:t:s0"),
        std::string("rootcontext=system_u:object_r:t:s0"),
        // An MLS range's commas only inside quotes.
        std::string("context=\"system_u:object_r:t:s0:c1,c2\""),
        std::string("context=a.b-c_d")}) {
    absl::StatusOr<MountOptions> options = ParseMountFlags({good});
    ASSERT_TRUE(options.ok()) << good << ": " << options.status();
    EXPECT_EQ(options->flags, 0u);
    EXPECT_EQ(options->data, std::vector<std::string>{good});
  }
  struct Case {
    std::string flag;
    std::string message;
  } bad[] = {
      {"context=",
       "mount flag \"context=\" is not a valid SELinux context "
       "option"},
      {"context=\"\"",
       "mount flag \"context=\\\"\\\"\" is not a valid SELinux context "
       "option"},
      // Unquoted, a comma would start a second option.
      {"context=system_u:object_r:t:s0:c1,c2",
       "mount flag \"context=system_u:object_r:t:s0:c1,c2\" is not a valid "
       "SELinux context option"},
      {"context=\"a,b",
       "mount flag \"context=\\\"a,b\" is not a valid "
       "SELinux context option"},
      {"context=a b",
       "mount flag \"context=a b\" is not a valid SELinux "
       "context option"},
      {"context=a\"b\"",
       "mount flag \"context=a\\\"b\\\"\" is not a valid "
       "SELinux context option"},
      {"context=\"a\",ro",
       "mount flag \"context=\\\"a\\\",ro\" is not a "
       "valid SELinux context option"},
      {"context=a/b",
       "mount flag \"context=a/b\" is not a valid SELinux "
       "context option"},
      {"context=a\nb",
       "mount flag \"context=a\\nb\" is not a valid SELinux "
       "context option"},
  };
  for (const Case& c : bad) {
    absl::StatusOr<MountOptions> options = ParseMountFlags({c.flag});
    EXPECT_EQ(options.status().code(), absl::StatusCode::kInvalidArgument)
        << c.flag;
    EXPECT_EQ(options.status().message(), c.message) << c.flag;
  }
}

TEST(CapabilityTest, UnknownAndSmuggledFlagsAreRefused) {
  for (const std::string& flag :
       {std::string("errors=panic"), std::string("suid"), std::string("dev"),
        std::string("exec"), std::string("RO"), std::string(" ro"),
        std::string("ro "), std::string("ro,nosuid"), std::string("nosuid,dev"),
        std::string("remount"), std::string("bind"), std::string("rbind"),
        std::string("loop"), std::string("data=ordered,errors=panic"),
        std::string("defaults,exec"), std::string("ro\nexec"),
        std::string("uid=0"), std::string("xcontext=a"),
        std::string("Context=a")}) {
    absl::StatusOr<MountOptions> options = ParseMountFlags({"nodev", flag});
    EXPECT_EQ(options.status().code(), absl::StatusCode::kInvalidArgument)
        << flag;
    EXPECT_NE(options.status().message().find("is not"), std::string::npos)
        << flag << ": " << options.status().message();
  }
  EXPECT_EQ(ParseMountFlags({"ro,nosuid"}).status().message(),
            "mount flag \"ro,nosuid\" is not supported");
  for (const std::string& flag : {std::string(""), std::string(257, 'a')}) {
    absl::StatusOr<MountOptions> options = ParseMountFlags({flag});
    EXPECT_EQ(options.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(options.status().message(), "empty or overlong mount flag");
  }
  // 256 characters is not overlong, just unknown.
  EXPECT_EQ(ParseMountFlags({std::string(256, 'a')}).status().message(),
            "mount flag \"" + std::string(256, 'a') + "\" is not supported");
}

TEST(CapabilityTest, ValidateCapabilitiesMergesAgreeingEntries) {
  Capabilities caps;
  absl::StatusOr<AccessRequest> access = ValidateCapabilities(caps);
  EXPECT_EQ(access.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(access.status().message(), "volume capabilities are missing");

  // The first entry's mount fields, the one fs type any entry names.
  *caps.Add() = Mount(Mode::SINGLE_NODE_WRITER, "", {"noatime"}, "42");
  *caps.Add() = Mount(Mode::SINGLE_NODE_READER_ONLY, "xfs");
  *caps.Add() = Mount(Mode::SINGLE_NODE_MULTI_WRITER, "");
  access = ValidateCapabilities(caps);
  ASSERT_TRUE(access.ok()) << access.status();
  EXPECT_FALSE(access->block);
  EXPECT_EQ(access->fs_type, "xfs");
  EXPECT_EQ(access->mount_flags, std::vector<std::string>{"noatime"});
  EXPECT_EQ(access->mount_options.flags,
            static_cast<unsigned long>(MS_NOATIME));
  EXPECT_EQ(access->mount_group_gid, 42u);

  Capabilities blocks;
  *blocks.Add() = Block(Mode::SINGLE_NODE_WRITER);
  *blocks.Add() = Block(Mode::SINGLE_NODE_READER_ONLY);
  access = ValidateCapabilities(blocks);
  ASSERT_TRUE(access.ok()) << access.status();
  EXPECT_TRUE(access->block);
  EXPECT_EQ(access->fs_type, "");

  Capabilities same_fs;
  *same_fs.Add() = Mount(Mode::SINGLE_NODE_WRITER, "ext4");
  *same_fs.Add() = Mount(Mode::SINGLE_NODE_WRITER, "ext4");
  access = ValidateCapabilities(same_fs);
  ASSERT_TRUE(access.ok()) << access.status();
  EXPECT_EQ(access->fs_type, "ext4");
}

TEST(CapabilityTest, ValidateCapabilitiesRefusesDisagreementAndBadEntries) {
  struct Case {
    const char* what;
    std::vector<csi::v1::VolumeCapability> caps;
    std::string message;
  } cases[] = {
      {"mount then block",
       {Mount(Mode::SINGLE_NODE_WRITER), Block(Mode::SINGLE_NODE_WRITER)},
       "volume capabilities mix block and mount access"},
      {"block then mount",
       {Block(Mode::SINGLE_NODE_WRITER), Mount(Mode::SINGLE_NODE_WRITER)},
       "volume capabilities mix block and mount access"},
      {"ext4 and xfs",
       {Mount(Mode::SINGLE_NODE_WRITER, "ext4"),
        Mount(Mode::SINGLE_NODE_WRITER, ""),
        Mount(Mode::SINGLE_NODE_WRITER, "xfs")},
       "volume capabilities name different fs types"},
      {"a bad second entry",
       {Mount(Mode::SINGLE_NODE_WRITER), Mount(Mode::MULTI_NODE_MULTI_WRITER)},
       "access mode MULTI_NODE_MULTI_WRITER is not supported: cellar volumes "
       "are local to one node"},
      {"a bad flag in a later entry",
       {Mount(Mode::SINGLE_NODE_WRITER),
        Mount(Mode::SINGLE_NODE_WRITER, "", {"exec"})},
       "mount flag \"exec\" is not supported"},
  };
  for (const Case& c : cases) {
    Capabilities caps;
    for (const auto& cap : c.caps) *caps.Add() = cap;
    absl::StatusOr<AccessRequest> access = ValidateCapabilities(caps);
    EXPECT_EQ(access.status().code(), absl::StatusCode::kInvalidArgument)
        << c.what;
    EXPECT_EQ(access.status().message(), c.message) << c.what;
  }
}

TEST(CapabilityTest, SizeForRange) {
  constexpr uint64_t kDefault = 10 * kMiB;
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  struct Case {
    const char* what;
    bool has_range;
    int64_t required;
    int64_t limit;
    uint64_t default_bytes;
    absl::StatusCode code;
    uint64_t size;  // when OK
  } cases[] = {
      {"no range: the default", false, 0, 0, kDefault, absl::StatusCode::kOk,
       kDefault},
      {"empty range: the default", true, 0, 0, kDefault, absl::StatusCode::kOk,
       kDefault},
      {"the default rounded up", false, 0, 0, kDefault + 1,
       absl::StatusCode::kOk, 11 * kMiB},
      {"a zero default: one MiB", false, 0, 0, 0, absl::StatusCode::kOk, kMiB},
      {"required exact", true, 4 * kMiB, 0, kDefault, absl::StatusCode::kOk,
       4 * kMiB},
      {"required rounded up", true, 4 * kMiB + 1, 0, kDefault,
       absl::StatusCode::kOk, 5 * kMiB},
      {"one byte required", true, 1, 0, kDefault, absl::StatusCode::kOk, kMiB},
      {"required above the default", true, 20 * kMiB, 0, kDefault,
       absl::StatusCode::kOk, 20 * kMiB},
      {"required equals limit", true, 4 * kMiB, 4 * kMiB, kDefault,
       absl::StatusCode::kOk, 4 * kMiB},
      {"rounded up within the limit", true, 4 * kMiB + 1, 6 * kMiB, kDefault,
       absl::StatusCode::kOk, 5 * kMiB},
      {"limit below the default caps it", true, 0, 5 * kMiB + 7, kDefault,
       absl::StatusCode::kOk, 5 * kMiB},
      {"limit above the default", true, 0, 100 * kMiB, kDefault,
       absl::StatusCode::kOk, kDefault},
      {"required below the default wins", true, 2 * kMiB, 100 * kMiB, kDefault,
       absl::StatusCode::kOk, 2 * kMiB},
      {"rounded up past the limit", true, 3 * kMiB + 1, 4 * kMiB - 1, kDefault,
       absl::StatusCode::kOutOfRange, 0},
      {"negative required", true, -1, 0, kDefault,
       absl::StatusCode::kInvalidArgument, 0},
      {"negative limit", true, 0, -1, kDefault,
       absl::StatusCode::kInvalidArgument, 0},
      {"required over limit", true, 10 * kMiB, 5 * kMiB, kDefault,
       absl::StatusCode::kOutOfRange, 0},
      {"no MiB step between", true, kMiB + 1, kMiB + 2, kDefault,
       absl::StatusCode::kOutOfRange, 0},
      {"limit under one MiB", true, 0, kMiB - 1, kDefault,
       absl::StatusCode::kOutOfRange, 0},
      {"required under a sub-MiB limit", true, 10, 100, kDefault,
       absl::StatusCode::kOutOfRange, 0},
      {"the largest int64", true, kMax, 0, kDefault,
       absl::StatusCode::kOutOfRange, 0},
      {"the largest MiB multiple", true,
       static_cast<int64_t>(static_cast<uint64_t>(kMax) / kMiB * kMiB), 0,
       kDefault, absl::StatusCode::kOk,
       static_cast<uint64_t>(kMax) / kMiB * kMiB},
      {"a huge default", false, 0, 0, std::numeric_limits<uint64_t>::max(),
       absl::StatusCode::kOutOfRange, 0},
      {"a default past int64", false, 0, 0, uint64_t{1} << 63,
       absl::StatusCode::kOutOfRange, 0},
      {"a huge default under a limit", true, 0, 8 * kMiB,
       std::numeric_limits<uint64_t>::max(), absl::StatusCode::kOk, 8 * kMiB},
  };
  for (const Case& c : cases) {
    csi::v1::CapacityRange range;
    range.set_required_bytes(c.required);
    range.set_limit_bytes(c.limit);
    absl::StatusOr<uint64_t> size =
        SizeForRange(c.has_range ? &range : nullptr, c.default_bytes);
    EXPECT_EQ(size.status().code(), c.code) << c.what << ": " << size.status();
    if (c.code == absl::StatusCode::kOk && size.ok()) {
      EXPECT_EQ(*size, c.size) << c.what;
      EXPECT_EQ(*size % kMiB, 0u) << c.what;
    }
  }
  csi::v1::CapacityRange range;
  range.set_required_bytes(10 * kMiB);
  range.set_limit_bytes(5 * kMiB);
  EXPECT_EQ(SizeForRange(&range, kDefault).status().message(),
            "required_bytes 10485760 exceeds limit_bytes 5242880");
  range.set_required_bytes(kMiB + 1);
  range.set_limit_bytes(kMiB + 2);
  EXPECT_EQ(SizeForRange(&range, kDefault).status().message(),
            "no size in 1 MiB steps fits between required_bytes 1048577 and "
            "limit_bytes 1048578");
  range.set_required_bytes(-5);
  EXPECT_EQ(SizeForRange(&range, kDefault).status().message(),
            "capacity range has a negative value");
}

}  // namespace
}  // namespace cellar
