// CopyJobs: one job per key, cancellation, waits by key and by source, the
// pause after a failure, and jobs run in the caller's thread.
#include "src/backend/lvm/copy_jobs.h"

#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace cellar {
namespace {

// A job that runs until `release` is notified or it is cancelled.
CopyJobs::Work Blocking(absl::Notification* started,
                        absl::Notification* release) {
  return [started, release](const std::atomic<bool>& cancel) {
    started->Notify();
    while (!cancel.load()) {
      if (release->WaitForNotificationWithTimeout(absl::Milliseconds(2))) {
        return absl::OkStatus();
      }
    }
    return absl::CancelledError("cancelled");
  };
}

TEST(CopyJobsTest, OneJobPerKeyUntilItEnds) {
  CopyJobs jobs;
  absl::Notification started, release;
  ASSERT_TRUE(jobs.Start("cs-a", "cv-1", Blocking(&started, &release)));
  started.WaitForNotification();
  EXPECT_TRUE(jobs.Running("cs-a"));
  EXPECT_FALSE(jobs.Running("cs-b"));
  int second_runs = 0;
  EXPECT_FALSE(jobs.Start("cs-a", "cv-1", [&](const std::atomic<bool>&) {
    ++second_runs;
    return absl::OkStatus();
  }));
  EXPECT_EQ(jobs.Run("cs-a", "cv-1",
                     [&](const std::atomic<bool>&) {
                       ++second_runs;
                       return absl::OkStatus();
                     })
                .code(),
            absl::StatusCode::kAborted);
  EXPECT_FALSE(jobs.WaitFor("cs-a", absl::Milliseconds(20)));
  EXPECT_FALSE(jobs.WaitForOrigin("cv-1", absl::Milliseconds(20)));
  EXPECT_TRUE(jobs.WaitForOrigin("cv-2", absl::Milliseconds(1)));
  release.Notify();
  EXPECT_TRUE(jobs.WaitFor("cs-a", absl::Seconds(30)));
  EXPECT_TRUE(jobs.WaitForOrigin("cv-1", absl::Seconds(30)));
  EXPECT_FALSE(jobs.Running("cs-a"));
  EXPECT_TRUE(jobs.LastResult("cs-a").ok());
  EXPECT_EQ(second_runs, 0);
  // Once it has ended, the key takes a new job.
  EXPECT_TRUE(jobs.Run("cs-a", "cv-1",
                       [&](const std::atomic<bool>&) {
                         ++second_runs;
                         return absl::OkStatus();
                       })
                  .ok());
  EXPECT_EQ(second_runs, 1);
}

TEST(CopyJobsTest, CancelStopsTheJobAndWaitsForIt) {
  CopyJobs jobs;
  absl::Notification started, never;
  ASSERT_TRUE(jobs.Start("cs-a", "cv-1", Blocking(&started, &never)));
  started.WaitForNotification();
  jobs.Cancel("cs-a");
  EXPECT_FALSE(jobs.Running("cs-a"));
  // Until forgotten, nothing starts under the key again (a caller with a
  // stale listing while its LV is being removed).
  auto ok = [](const std::atomic<bool>&) { return absl::OkStatus(); };
  EXPECT_FALSE(jobs.Start("cs-a", "cv-1", ok));
  jobs.Cancel("cs-none");
  EXPECT_FALSE(jobs.Start("cs-none", "cv-1", ok));
  jobs.Forget("cs-a");
  EXPECT_TRUE(jobs.Start("cs-a", "cv-1", ok));
  EXPECT_TRUE(jobs.WaitFor("cs-a", absl::Seconds(30)));
}

TEST(CopyJobsTest, CancelReachesAJobInTheCallersThread) {
  CopyJobs jobs;
  absl::Notification started, never;
  absl::Status result;
  std::thread caller(
      [&] { result = jobs.Run("cv-c", "cv-1", Blocking(&started, &never)); });
  started.WaitForNotification();
  EXPECT_TRUE(jobs.Running("cv-c"));
  jobs.Cancel("cv-c");
  caller.join();
  EXPECT_EQ(result.code(), absl::StatusCode::kCancelled);
}

TEST(CopyJobsTest, AFailedJobIsRetriedOnlyAfterAPause) {
  CopyJobs jobs;
  std::atomic<int> runs{0};
  auto failing = [&](const std::atomic<bool>&) {
    ++runs;
    return absl::UnavailableError("device busy");
  };
  ASSERT_TRUE(jobs.Start("cs-a", "cv-1", failing, absl::Hours(1)));
  ASSERT_TRUE(jobs.WaitFor("cs-a", absl::Seconds(30)));
  EXPECT_EQ(jobs.LastResult("cs-a").code(), absl::StatusCode::kUnavailable);
  // Every GetSnapshot may ask again: not a new attempt each time.
  EXPECT_FALSE(jobs.Start("cs-a", "cv-1", failing, absl::Hours(1)));
  EXPECT_TRUE(jobs.Start("cs-a", "cv-1", failing, absl::ZeroDuration()));
  ASSERT_TRUE(jobs.WaitFor("cs-a", absl::Seconds(30)));
  EXPECT_EQ(runs.load(), 2);
}

TEST(CopyJobsTest, DestructionCancelsRunningJobs) {
  absl::Notification started, never;
  std::atomic<bool> stopped{false};
  {
    CopyJobs jobs;
    ASSERT_TRUE(
        jobs.Start("cs-a", "cv-1", [&](const std::atomic<bool>& cancel) {
          started.Notify();
          while (!cancel.load()) absl::SleepFor(absl::Milliseconds(1));
          stopped = true;
          return absl::CancelledError("cancelled");
        }));
    started.WaitForNotification();
  }
  EXPECT_TRUE(stopped.load());
}

// Waiters hold the job they wait for while a new Start replaces it.
TEST(CopyJobsTest, WaitersSurviveTheJobBeingReplaced) {
  CopyJobs jobs;
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(jobs.Start(
                    "cs-a", "cv-1",
                    [](const std::atomic<bool>&) { return absl::OkStatus(); },
                    absl::ZeroDuration()) ||
                jobs.Running("cs-a"));
    std::thread waiter([&] { jobs.WaitFor("cs-a", absl::Seconds(30)); });
    jobs.Start(
        "cs-a", "cv-1",
        [](const std::atomic<bool>&) { return absl::OkStatus(); },
        absl::ZeroDuration());
    waiter.join();
  }
  EXPECT_TRUE(jobs.WaitFor("cs-a", absl::Seconds(30)));
}

}  // namespace
}  // namespace cellar
