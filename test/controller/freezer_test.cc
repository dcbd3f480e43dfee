// The Freezer on the fakes: what it freezes is always thawed, by the call
// itself or, after a failed thaw or a killed driver, by ThawLeftovers; and
// ThawLeftovers never thaws what a snapshot holds frozen on purpose.
#include "src/controller/freezer.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "test/fakes/fake_filesystem.h"
#include "test/fakes/fake_fs_tools.h"
#include "test/fakes/fake_mounter.h"
#include "test/fakes/fault_injection.h"

namespace cellar {
namespace {

constexpr char kJournal[] = "/data/frozen";
constexpr char kPath[] = "/kubelet/staging/a";
constexpr char kOther[] = "/kubelet/staging/b";

class FreezerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* path : {kPath, kOther}) {
      MountRequest request;
      request.source = "/dev/loop0";
      request.target = path;
      request.fs_type = "ext4";
      ASSERT_TRUE(mounter_.Mount(request).ok());
    }
  }
  FreezerDeps Deps() { return {&mounter_, &faulty_tools_, &fs_, kJournal}; }
  std::vector<std::string> Journal() {
    absl::StatusOr<std::vector<std::string>> names = fs_.ListDir(kJournal);
    return names.ok() ? *names : std::vector<std::string>{};
  }

  FakeFileSystem fs_;
  FakeMounter mounter_;
  FakeFsTools tools_;
  FaultPlan plan_;
  FaultyFsTools faulty_tools_{&tools_, &plan_};
};

TEST_F(FreezerTest, FrozenForTheActionThawedAfter) {
  Freezer freezer(Deps());
  std::vector<std::string> during;
  ASSERT_TRUE(freezer
                  .WithFrozen({kPath, kOther},
                              [&] {
                                during = tools_.frozen();
                                EXPECT_EQ(Journal().size(), 2u);
                                return absl::OkStatus();
                              })
                  .ok());
  EXPECT_EQ(during, (std::vector<std::string>{kPath, kOther}));
  EXPECT_TRUE(tools_.frozen().empty());
  EXPECT_TRUE(Journal().empty());
}

TEST_F(FreezerTest, AFailedActionStillThaws) {
  Freezer freezer(Deps());
  absl::Status status = freezer.WithFrozen(
      {kPath}, [] { return absl::UnavailableError("lvcreate failed"); });
  EXPECT_EQ(status, absl::UnavailableError("lvcreate failed"));
  EXPECT_TRUE(tools_.frozen().empty());
  EXPECT_TRUE(Journal().empty());
}

TEST_F(FreezerTest, AFailedFreezeRunsNoActionAndThawsTheOthers) {
  Freezer freezer(Deps());
  // Only the freeze tools count here: the 2nd effect is b's freeze.
  plan_.Arm(FaultPlan::Mode::kFailAt, 2);
  bool ran = false;
  EXPECT_FALSE(freezer
                   .WithFrozen({kPath, kOther},
                               [&] {
                                 ran = true;
                                 return absl::OkStatus();
                               })
                   .ok());
  EXPECT_FALSE(ran);
  EXPECT_TRUE(tools_.frozen().empty());
  EXPECT_TRUE(Journal().empty());
}

TEST_F(FreezerTest, AFailedThawIsDoneByThawLeftovers) {
  Freezer freezer(Deps());
  plan_.Arm(FaultPlan::Mode::kFailAt, 2);  // the freeze tools' 2nd call: thaw
  EXPECT_FALSE(
      freezer.WithFrozen({kPath}, [] { return absl::OkStatus(); }).ok());
  ASSERT_EQ(tools_.frozen(), std::vector<std::string>{kPath});
  EXPECT_EQ(Journal().size(), 1u);
  plan_.Disarm();
  ASSERT_TRUE(freezer.ThawLeftovers().ok());
  EXPECT_TRUE(tools_.frozen().empty());
  EXPECT_TRUE(Journal().empty());
  // And a second freeze works again (a frozen filesystem refuses one).
  EXPECT_TRUE(
      freezer.WithFrozen({kPath}, [] { return absl::OkStatus(); }).ok());
}

TEST_F(FreezerTest, AFailedThawIsDoneByTheNextFreezeOfThePath) {
  Freezer freezer(Deps());
  plan_.Arm(FaultPlan::Mode::kFailAt, 2);  // the thaw
  EXPECT_FALSE(
      freezer.WithFrozen({kPath}, [] { return absl::OkStatus(); }).ok());
  plan_.Disarm();
  ASSERT_EQ(tools_.frozen(), std::vector<std::string>{kPath});
  // No ThawLeftovers in between: the next freeze of the path thaws the
  // leftover first instead of failing on it (EBUSY) and dropping its entry.
  std::vector<std::string> during;
  EXPECT_TRUE(freezer
                  .WithFrozen({kPath},
                              [&] {
                                during = tools_.frozen();
                                return absl::OkStatus();
                              })
                  .ok());
  EXPECT_EQ(during, std::vector<std::string>{kPath});
  EXPECT_TRUE(tools_.frozen().empty());
  EXPECT_TRUE(Journal().empty());
}

TEST_F(FreezerTest, AnotherCallsEntryBeingWrittenIsLeftAlone) {
  Freezer freezer(Deps());
  const std::string temp = std::string(kJournal) + "/half-written.tmp";
  ASSERT_TRUE(freezer
                  .WithFrozen({kPath},
                              [&] {
                                // As if another volume's WithFrozen were
                                // writing it.
                                EXPECT_TRUE(
                                    fs_.WriteFileAtomic(temp, "", 0600).ok());
                                EXPECT_TRUE(freezer.ThawLeftovers().ok());
                                EXPECT_TRUE(fs_.Stat(temp).ok());
                                return absl::OkStatus();
                              })
                  .ok());
  // With no call holding anything, it is debris.
  ASSERT_TRUE(freezer.ThawLeftovers().ok());
  EXPECT_FALSE(fs_.Stat(temp).ok());
}

TEST_F(FreezerTest, WhatAKilledDriverLeftFrozenIsThawedByTheNextOne) {
  {
    Freezer dead(Deps());
    plan_.Arm(FaultPlan::Mode::kCrashAfter, 1);  // dies right after the freeze
    EXPECT_FALSE(
        dead.WithFrozen({kPath}, [] { return absl::OkStatus(); }).ok());
    plan_.Disarm();
  }
  ASSERT_EQ(tools_.frozen(), std::vector<std::string>{kPath});
  Freezer restarted(Deps());
  ASSERT_TRUE(restarted.ThawLeftovers().ok());
  EXPECT_TRUE(tools_.frozen().empty());
  EXPECT_TRUE(Journal().empty());
}

TEST_F(FreezerTest, LeftoversOfAnUnmountedPathAreClearedWithoutAThaw) {
  ASSERT_TRUE(fs_.MakeDirs(kJournal, 0700).ok());
  // An entry naming a path no longer mounted, and a temporary file of an
  // interrupted write.
  Freezer freezer(Deps());
  ASSERT_TRUE(freezer
                  .WithFrozen({"/kubelet/staging/gone"},
                              [&] {
                                return fs_.WriteFileAtomic(
                                    std::string(kJournal) + "/x.tmp", "", 0600);
                              })
                  .ok());
  // The real kernel would refuse to freeze an unmounted path; the fake
  // froze it: what matters is that ThawLeftovers does not call Thaw on it.
  std::vector<std::string> log_before = tools_.freeze_log();
  ASSERT_TRUE(freezer.ThawLeftovers().ok());
  EXPECT_EQ(tools_.freeze_log(), log_before);
  EXPECT_TRUE(Journal().empty());
}

TEST_F(FreezerTest, ThawLeftoversNeverThawsWhatASnapshotHoldsFrozen) {
  Freezer freezer(Deps());
  ASSERT_TRUE(freezer
                  .WithFrozen({kPath},
                              [&] {
                                // Another volume's snapshot, at this very
                                // moment.
                                EXPECT_TRUE(freezer.ThawLeftovers().ok());
                                EXPECT_EQ(tools_.frozen(),
                                          std::vector<std::string>{kPath});
                                return absl::OkStatus();
                              })
                  .ok());
  EXPECT_TRUE(tools_.frozen().empty());
}

TEST_F(FreezerTest, TheNullFreezerOnlyRunsTheAction) {
  Freezer none;
  bool ran = false;
  EXPECT_TRUE(none.WithFrozen({kPath},
                              [&] {
                                ran = true;
                                return absl::OkStatus();
                              })
                  .ok());
  EXPECT_TRUE(ran);
  EXPECT_TRUE(none.MountedFilesystems({}).empty());
  EXPECT_TRUE(none.ThawLeftovers().ok());
  EXPECT_TRUE(tools_.freeze_log().empty());
}

}  // namespace
}  // namespace cellar
