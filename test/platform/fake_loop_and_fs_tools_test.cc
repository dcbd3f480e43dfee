// The loop and fs-tool fakes stand in for the real ones in service tests:
// they must answer the way the real ones do where services rely on it.
#include "gtest/gtest.h"
#include "test/fakes/fake_fs_tools.h"
#include "test/fakes/fake_loop_device.h"

namespace cellar {
namespace {

TEST(FakeLoopDevicesTest, AttachesLowestFreeAndTracksImages) {
  FakeLoopDevices loops(/*max_devices=*/3);
  EXPECT_EQ(loops.Attach("/img/missing").status().code(),
            absl::StatusCode::kNotFound);
  loops.AddImage("/img/a", 100);
  loops.AddImage("/img/b", 200);
  loops.AddImage("/img/c", 300);
  EXPECT_EQ(*loops.Attach("/img/a"), "/dev/loop0");
  EXPECT_EQ(*loops.Attach("/img/b"), "/dev/loop1");
  ASSERT_TRUE(loops.Detach("/dev/loop0").ok());
  EXPECT_EQ(loops.Detach("/dev/loop0").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*loops.Attach("/img/c"), "/dev/loop0");  // lowest free again

  std::vector<LoopInfo> attached = *loops.List();
  ASSERT_EQ(attached.size(), 2u);
  EXPECT_EQ(attached[0].device, "/dev/loop0");
  EXPECT_EQ(attached[0].backing_file, "/img/c");
  EXPECT_EQ(attached[0].size_bytes, 300u);
  EXPECT_TRUE(attached[0].direct_io);
  EXPECT_FALSE(attached[0].autoclear);

  loops.SetImageSize("/img/b", 250);
  EXPECT_EQ(loops.List()->at(1).size_bytes, 200u);  // not before a refresh
  ASSERT_TRUE(loops.RefreshCapacity("/dev/loop1").ok());
  EXPECT_EQ(loops.List()->at(1).size_bytes, 250u);
  EXPECT_EQ(loops.RefreshCapacity("/dev/loop7").code(),
            absl::StatusCode::kNotFound);

  loops.RemoveImage("/img/b");
  EXPECT_EQ(loops.List()->at(1).backing_file, "/img/b (deleted)");

  ASSERT_TRUE(loops.Attach("/img/a").ok());
  EXPECT_EQ(loops.Attach("/img/a").status().code(),
            absl::StatusCode::kResourceExhausted);

  loops.FailNextAttach(absl::InternalError("boom"));
  loops.FailNextDetach(absl::FailedPreconditionError("busy"));
  EXPECT_EQ(loops.Detach("/dev/loop2").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(loops.Attach("/img/a").status().code(),
            absl::StatusCode::kInternal);
  ASSERT_TRUE(loops.Detach("/dev/loop2").ok());
  EXPECT_EQ(*loops.Attach("/img/a"), "/dev/loop2");
  EXPECT_EQ(loops.attach_count(), 8);
}

TEST(FakeFsToolsTest, RemembersSignaturesAndCalls) {
  FakeFsTools tools;
  EXPECT_EQ(*tools.Probe("/dev/loop0"), "");
  tools.SetSignature("/dev/loop1", "crypto_LUKS");
  EXPECT_EQ(*tools.Probe("/dev/loop1"), "crypto_LUKS");

  EXPECT_EQ(tools.MakeFs("/dev/loop0", "btrfs").code(),
            absl::StatusCode::kInvalidArgument);
  tools.FailNextMakeFs(absl::InternalError("mkfs.ext4: exit status 1"));
  EXPECT_EQ(tools.MakeFs("/dev/loop0", "ext4").code(),
            absl::StatusCode::kInternal);
  EXPECT_EQ(*tools.Probe("/dev/loop0"), "");
  ASSERT_TRUE(tools.MakeFs("/dev/loop0", "ext4").ok());
  EXPECT_EQ(*tools.Probe("/dev/loop0"), "ext4");
  EXPECT_EQ(tools.mkfs_count(), 1);

  tools.FailNextProbe(absl::InternalError("ambiguous signatures"));
  EXPECT_FALSE(tools.Probe("/dev/loop0").ok());
  EXPECT_EQ(*tools.Probe("/dev/loop0"), "ext4");

  ASSERT_TRUE(tools.GrowFs("/dev/loop0", "/mnt/a", "xfs").ok());
  tools.FailNextGrowFs(absl::InternalError("xfs_growfs: exit status 1"));
  EXPECT_FALSE(tools.GrowFs("/dev/loop0", "/mnt/a", "xfs").ok());
  ASSERT_EQ(tools.grow_calls().size(), 2u);
  EXPECT_EQ(tools.grow_calls()[0].mount_path, "/mnt/a");

  EXPECT_EQ(tools.DeviceSize("/dev/loop0").status().code(),
            absl::StatusCode::kNotFound);
  tools.SetDeviceSize("/dev/loop0", 1 << 30);
  EXPECT_EQ(*tools.DeviceSize("/dev/loop0"), uint64_t{1} << 30);
}

}  // namespace
}  // namespace cellar
