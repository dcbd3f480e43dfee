// PeriodicTask runs its task every interval on its own thread, not at
// once, and starts no run after it is destroyed.
#include "src/common/periodic.h"

#include <atomic>
#include <thread>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace cellar {
namespace {

TEST(PeriodicTaskTest, RunsEveryIntervalUntilDestroyed) {
  std::atomic<int> runs{0};
  std::thread::id ran_on;
  {
    PeriodicTask task(absl::Milliseconds(20), [&] {
      ran_on = std::this_thread::get_id();
      ++runs;
    });
    EXPECT_EQ(runs.load(), 0);  // the first run waits one interval
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (runs.load() < 3 && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    EXPECT_GE(runs.load(), 3);
  }
  EXPECT_NE(ran_on, std::this_thread::get_id());
  const int after = runs.load();
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(runs.load(), after);
}

TEST(PeriodicTaskTest, DestructionDoesNotWaitForTheInterval) {
  const absl::Time start = absl::Now();
  {
    PeriodicTask task(absl::Hours(1), [] {});
  }
  EXPECT_LT(absl::Now() - start, absl::Seconds(30));
}

}  // namespace
}  // namespace cellar
