#include "src/backend/device_classes.h"

#include "gtest/gtest.h"

namespace cellar {
namespace {

TEST(DeviceClassesTest, ParsesAllKindsInOrder) {
  auto classes = ParseDeviceClasses(
      "fast=lvm-thin:vg0/pool0?overprovision=4,bulk=lvm:vg1?reserve=1048576,"
      "scratch=loop:/var/lib/cellar/loop");
  ASSERT_TRUE(classes.ok()) << classes.status();
  ASSERT_EQ(classes->size(), 3u);
  EXPECT_EQ((*classes)[0].name, "fast");
  EXPECT_EQ((*classes)[0].kind, DeviceClassKind::kLvmThin);
  EXPECT_EQ((*classes)[0].vg, "vg0");
  EXPECT_EQ((*classes)[0].pool, "pool0");
  EXPECT_DOUBLE_EQ((*classes)[0].overprovision, 4.0);
  EXPECT_EQ((*classes)[1].kind, DeviceClassKind::kLvm);
  EXPECT_EQ((*classes)[1].vg, "vg1");
  EXPECT_EQ((*classes)[1].reserve_bytes, 1048576u);
  EXPECT_TRUE((*classes)[1].reserve_set);
  EXPECT_EQ((*classes)[2].kind, DeviceClassKind::kLoop);
  EXPECT_EQ((*classes)[2].directory, "/var/lib/cellar/loop");
  EXPECT_FALSE((*classes)[2].reserve_set);
}

TEST(DeviceClassesTest, RejectsBadEntries) {
  for (const char* bad : {
           "",
           "Fast=lvm:vg0",
           "fast=lvm:vg0,fast=lvm:vg1",
           "fast=zfs:tank",
           "fast=lvm:",
           "fast=lvm:-vg",
           "fast=lvm:vg 0",
           "fast=lvm-thin:vg0",
           "fast=lvm-thin:vg0/",
           "fast=loop:relative",
           "fast=loop:/a/../b",
           "fast=lvm:vg0?overprovision=2",
           "fast=lvm-thin:vg0/p?overprovision=0.5",
           "fast=lvm-thin:vg0/p?reserve=1",
           "fast=lvm:vg0?reserve=lots",
           "fast=lvm:vg0?bogus=1",
           "fast=lvm:vg0?snapshot-cow=0",
           "fast=lvm:vg0?snapshot-cow=101",
           "fast=lvm:vg0?snapshot-cow=ten",
           "fast=lvm:vg0?copy-bandwidth=-1",
           "fast=lvm:vg0?copy-bandwidth=fast",
           "fast=lvm:vg0?copy-bandwidth=1048575",
           "fast=lvm-thin:vg0/p?snapshot-cow=10",
           "fast=loop:/var/lib/x?copy-bandwidth=1",
           "fast=lvm:vg0?autoextend=80",
           "fast=loop:/x?create-limit=90",
           "fast=lvm-thin:vg0/p?autoextend=0",
           "fast=lvm-thin:vg0/p?autoextend=100",
           "fast=lvm-thin:vg0/p?autoextend=eighty",
           "fast=lvm-thin:vg0/p?autoextend=80&autoextend-step=0",
           "fast=lvm-thin:vg0/p?autoextend=80&autoextend-step=1001",
           "fast=lvm-thin:vg0/p?autoextend=80&autoextend-max=0",
           "fast=lvm-thin:vg0/p?autoextend=80&autoextend-max=10G",
           "fast=lvm-thin:vg0/p?autoextend-max=1073741824",
           "fast=lvm-thin:vg0/p?autoextend-step=50",
           "fast=lvm-thin:vg0/p?create-limit=101",
           // Creates would stop before the pool is ever grown.
           "fast=lvm-thin:vg0/p?autoextend=90&create-limit=90",
           // Two classes over the same storage.
           "a=lvm:vg0,b=lvm:vg0?reserve=0",
           "a=lvm-thin:vg0/p,b=lvm-thin:vg0/p?overprovision=2",
           "a=loop:/var/lib/x,b=loop:/var/lib/x",
           "a-very-long-device-class-name=lvm:vg0",
       }) {
    auto classes = ParseDeviceClasses(bad);
    EXPECT_EQ(classes.status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(DeviceClassesTest, ThickCopyOptions) {
  auto classes = ParseDeviceClasses(
      "bulk=lvm:vg1?snapshot-cow=25&copy-bandwidth=52428800,"
      "plain=lvm:vg2,free=lvm:vg3?copy-bandwidth=0");
  ASSERT_TRUE(classes.ok()) << classes.status();
  EXPECT_EQ((*classes)[0].cow_percent, 25);
  EXPECT_TRUE((*classes)[0].cow_percent_set);
  EXPECT_EQ((*classes)[0].copy_bytes_per_second, 52428800u);
  EXPECT_TRUE((*classes)[0].copy_bandwidth_set);
  EXPECT_FALSE((*classes)[1].cow_percent_set);
  EXPECT_FALSE((*classes)[1].copy_bandwidth_set);
  EXPECT_TRUE((*classes)[2].copy_bandwidth_set);
  EXPECT_EQ((*classes)[2].copy_bytes_per_second, 0u);
  // Thick and thin over one VG, or two pools of it, are apart.
  EXPECT_TRUE(
      ParseDeviceClasses(
          "a=lvm:vg0,b=lvm-thin:vg0/p,c=lvm-thin:vg0/q,d=loop:/x,e=loop:/y")
          .ok());
}

TEST(DeviceClassesTest, ThinPoolGuardOptions) {
  auto classes = ParseDeviceClasses(
      "fast=lvm-thin:vg0/p?autoextend=70&autoextend-step=50&"
      "autoextend-max=10737418240&create-limit=95,"
      "plain=lvm-thin:vg0/q,limited=lvm-thin:vg0/r?create-limit=90");
  ASSERT_TRUE(classes.ok()) << classes.status();
  EXPECT_EQ((*classes)[0].autoextend_percent, 70);
  EXPECT_EQ((*classes)[0].autoextend_step_percent, 50);
  EXPECT_EQ((*classes)[0].autoextend_max_bytes, 10737418240u);
  EXPECT_EQ((*classes)[0].create_limit_percent, 95);
  EXPECT_EQ((*classes)[1].autoextend_percent, 0);
  EXPECT_EQ((*classes)[1].autoextend_step_percent, 20);
  EXPECT_EQ((*classes)[1].create_limit_percent, 0);
  EXPECT_EQ((*classes)[2].create_limit_percent, 90);
}

TEST(DeviceClassesTest, LvmNames) {
  EXPECT_TRUE(IsValidLvmName("vg0"));
  EXPECT_TRUE(IsValidLvmName("my_vg.1+x"));
  EXPECT_FALSE(IsValidLvmName("-vg"));
  EXPECT_FALSE(IsValidLvmName(".."));
  EXPECT_FALSE(IsValidLvmName("vg/0"));
  EXPECT_FALSE(IsValidLvmName(""));
}

}  // namespace
}  // namespace cellar
