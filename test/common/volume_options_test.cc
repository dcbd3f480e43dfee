#include "src/common/volume_options.h"

#include "gtest/gtest.h"

namespace cellar {
namespace {

TEST(VolumeOptionsTest, AllocationNamesRoundTrip) {
  for (Allocation a : {Allocation::kThin, Allocation::kThick}) {
    EXPECT_EQ(ParseAllocation(AllocationName(a)), a);
  }
  EXPECT_EQ(AllocationName(Allocation::kThick), "thick");
  for (const char* bad : {"", "Thick", "thick ", "fat", "thin\n"}) {
    EXPECT_FALSE(ParseAllocation(bad).has_value()) << bad;
  }
}

TEST(VolumeOptionsTest, OnlyThickIsThick) {
  EXPECT_TRUE(IsThick("thick"));
  EXPECT_FALSE(IsThick("thin"));
  EXPECT_FALSE(IsThick(""));
  EXPECT_FALSE(IsThick("THICK"));
}

TEST(VolumeOptionsTest, RootModes) {
  EXPECT_EQ(ParseRootMode("2770"), 02770u);
  EXPECT_EQ(ParseRootMode("755"), 0755u);
  EXPECT_EQ(ParseRootMode("7777"), 07777u);
  EXPECT_EQ(ParseRootMode("0000"), 0u);
  for (const char* bad :
       {"", "77", "12345", "0o755", "778", "-755", " 755", "75 ", "0x1ff"}) {
    EXPECT_FALSE(ParseRootMode(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace cellar
