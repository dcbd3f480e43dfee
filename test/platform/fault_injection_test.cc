// FaultPlan and a wrapper on a fake: which call fails, which is the last
// before a "crash", what the hook is told, and that reads are not counted.
#include "test/fakes/fault_injection.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "test/fakes/fake_filesystem.h"

namespace cellar {
namespace {

struct Seen {
  FaultPlan::Mode mode;
  int n;
  std::string what;
};

class FaultPlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    plan.SetHook([this](FaultPlan::Mode mode, int n, const std::string& what) {
      seen.push_back({mode, n, what});
    });
  }
  FakeFileSystem base;
  FaultPlan plan;
  std::vector<Seen> seen;  // what the hook was told
  FaultyFileSystem fs{&base, &plan};
};

TEST_F(FaultPlanTest, FailsTheNthSideEffectOnceAndTellsTheHook) {
  plan.Arm(FaultPlan::Mode::kFailAt, 2);
  EXPECT_TRUE(fs.MakeDirs("/a", 0700).ok());
  EXPECT_TRUE(fs.Stat("/a").ok());  // a read: not counted
  EXPECT_FALSE(fs.WriteFileAtomic("/a/f", "x", 0600).ok());
  EXPECT_FALSE(base.Stat("/a/f").ok()) << "the failed effect must not happen";
  EXPECT_TRUE(fs.WriteFileAtomic("/a/f", "x", 0600).ok());  // once only
  EXPECT_EQ(plan.count(), 3);
  EXPECT_TRUE(plan.injected());
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].mode, FaultPlan::Mode::kFailAt);
  EXPECT_EQ(seen[0].n, 2);
  EXPECT_EQ(seen[0].what, "write file");
}

TEST_F(FaultPlanTest, ACrashHappensAfterTheNthAndStopsEverythingElse) {
  plan.Arm(FaultPlan::Mode::kCrashAfter, 1);
  EXPECT_TRUE(fs.MakeDirs("/a", 0700).ok());
  EXPECT_TRUE(base.Stat("/a").ok()) << "the crash comes after the effect";
  EXPECT_TRUE(plan.crashed());
  EXPECT_TRUE(absl::IsUnavailable(fs.Stat("/a").status()));
  EXPECT_TRUE(absl::IsUnavailable(fs.MakeDirs("/b", 0700)));
  EXPECT_FALSE(base.Stat("/b").ok());
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].mode, FaultPlan::Mode::kCrashAfter);
  EXPECT_EQ(seen[0].what, "mkdir");
  plan.Disarm();  // the restarted driver
  EXPECT_TRUE(fs.MakeDirs("/b", 0700).ok());
}

}  // namespace
}  // namespace cellar
