// Per-volume try-locks: a busy key is ABORTED at once and never queued,
// keys are independent, and under contention exactly one holder at a time.
#include "src/common/volume_locks.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/barrier.h"
#include "gtest/gtest.h"

namespace cellar {
namespace {

TEST(VolumeLocksTest, TryLockHoldsUntilUnlock) {
  VolumeLocks locks;
  EXPECT_TRUE(locks.TryLock("v1"));
  EXPECT_FALSE(locks.TryLock("v1"));  // not reentrant either
  EXPECT_FALSE(locks.TryLock("v1"));
  locks.Unlock("v1");
  EXPECT_TRUE(locks.TryLock("v1"));
  locks.Unlock("v1");
  // Unlocking a free key is harmless and frees nothing else.
  EXPECT_TRUE(locks.TryLock("v2"));
  locks.Unlock("v1");
  EXPECT_FALSE(locks.TryLock("v2"));
  locks.Unlock("v2");
}

TEST(VolumeLocksTest, KeysAreIndependent) {
  VolumeLocks locks;
  ASSERT_TRUE(locks.TryLock("v_a"));
  EXPECT_TRUE(locks.TryLock("v_b"));
  EXPECT_TRUE(locks.TryLock("v_a "));  // exact keys, not prefixes
  EXPECT_TRUE(locks.TryLock("v_"));
  EXPECT_TRUE(locks.TryLock(""));
  EXPECT_FALSE(locks.TryLock(""));
  locks.Unlock("v_b");
  EXPECT_FALSE(locks.TryLock("v_a"));
  EXPECT_TRUE(locks.TryLock("v_b"));

  // Two sets of locks share nothing.
  VolumeLocks other;
  EXPECT_TRUE(other.TryLock("v_a"));
}

TEST(VolumeLocksTest, GuardHoldsForItsLifetime) {
  VolumeLocks locks;
  {
    VolumeLockGuard first(&locks, "v1");
    ASSERT_TRUE(first.ok());
    EXPECT_TRUE(first.status().ok());
    VolumeLockGuard second(&locks, "v1");
    EXPECT_FALSE(second.ok());
    EXPECT_EQ(second.status().code(), absl::StatusCode::kAborted);
    EXPECT_EQ(second.status().message(),
              "an operation on v1 is already in progress");
    VolumeLockGuard elsewhere(&locks, "v2");
    EXPECT_TRUE(elsewhere.ok());
    // `second` never held v1: its end must not free `first`'s hold.
  }
  EXPECT_TRUE(locks.TryLock("v1"));
  EXPECT_TRUE(locks.TryLock("v2"));
  locks.Unlock("v1");
  locks.Unlock("v2");
}

TEST(VolumeLocksTest, AFailedGuardReleasesNothing) {
  VolumeLocks locks;
  VolumeLockGuard holder(&locks, "v1");
  ASSERT_TRUE(holder.ok());
  { VolumeLockGuard refused(&locks, "v1"); }
  VolumeLockGuard again(&locks, "v1");
  EXPECT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAborted);
}

TEST(VolumeLocksTest, ManualLockRefusesAGuard) {
  VolumeLocks locks;
  ASSERT_TRUE(locks.TryLock("g_x"));
  {
    VolumeLockGuard guard(&locks, "g_x");
    EXPECT_EQ(guard.status().code(), absl::StatusCode::kAborted);
  }
  // The refused guard left the manual hold in place.
  EXPECT_FALSE(locks.TryLock("g_x"));
  locks.Unlock("g_x");
  VolumeLockGuard guard(&locks, "g_x");
  EXPECT_TRUE(guard.ok());
}

// Many threads race for one key, round after round: each round exactly one
// wins, and nobody waits (the losers return at once).
TEST(VolumeLocksTest, ExactlyOneOfManyRacersWins) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 200;
  VolumeLocks locks;
  for (int round = 0; round < kRounds; ++round) {
    std::atomic<int> winners{0};
    absl::Barrier* start = new absl::Barrier(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&locks, &winners, start] {
        if (start->Block()) delete start;
        if (locks.TryLock("contended")) winners.fetch_add(1);
      });
    }
    for (std::thread& thread : threads) thread.join();
    ASSERT_EQ(winners.load(), 1) << "round " << round;
    locks.Unlock("contended");
  }
}

// Guards on their own keys from many threads never refuse one another,
// while a shared key is only ever held by one thread at a time.
TEST(VolumeLocksTest, ConcurrentGuardsOnOwnAndSharedKeys) {
  constexpr int kThreads = 8;
  constexpr int kIterations = 2000;
  VolumeLocks locks;
  std::atomic<int> inside{0};
  std::atomic<int> overlaps{0};
  std::atomic<int> own_refusals{0};
  std::atomic<int> shared_wins{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string own = "v_own_" + std::to_string(t);
      for (int i = 0; i < kIterations; ++i) {
        VolumeLockGuard mine(&locks, own);
        if (!mine.ok()) own_refusals.fetch_add(1);
        VolumeLockGuard shared(&locks, "v_shared");
        if (!shared.ok()) {
          EXPECT_EQ(shared.status().code(), absl::StatusCode::kAborted);
          continue;
        }
        shared_wins.fetch_add(1);
        if (inside.fetch_add(1) != 0) overlaps.fetch_add(1);
        inside.fetch_sub(1);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(own_refusals.load(), 0);
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_GT(shared_wins.load(), 0);
  // Everything was released.
  EXPECT_TRUE(locks.TryLock("v_shared"));
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_TRUE(locks.TryLock("v_own_" + std::to_string(t))) << t;
  }
}

}  // namespace
}  // namespace cellar
