#ifndef CELLAR_SRC_COMMON_VOLUME_LOCKS_H_
#define CELLAR_SRC_COMMON_VOLUME_LOCKS_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace cellar {

// Per-volume try-locks shared by the Controller and Node services: a second
// operation on a busy volume is told ABORTED at once (the CSI way of saying
// "an operation is pending for this volume, retry later") instead of
// queueing behind the first. Thread-safe.
class VolumeLocks final {
 public:
  VolumeLocks() = default;
  VolumeLocks(const VolumeLocks&) = delete;
  VolumeLocks& operator=(const VolumeLocks&) = delete;

  // True when `key` was free and is now held by the caller.
  bool TryLock(const std::string& key);
  void Unlock(const std::string& key);

 private:
  absl::Mutex mu_;
  absl::flat_hash_set<std::string> held_ ABSL_GUARDED_BY(mu_);
};

// Holds one key for its lifetime. Check ok() (or status()) after
// construction: when the key was busy nothing is held.
class VolumeLockGuard final {
 public:
  VolumeLockGuard(VolumeLocks* locks, std::string key);
  ~VolumeLockGuard();
  VolumeLockGuard(const VolumeLockGuard&) = delete;
  VolumeLockGuard& operator=(const VolumeLockGuard&) = delete;

  bool ok() const { return held_; }
  // ABORTED naming the key when it was busy.
  absl::Status status() const;

 private:
  VolumeLocks* const locks_;
  const std::string key_;
  const bool held_;
};

}  // namespace cellar

#endif  // CELLAR_SRC_COMMON_VOLUME_LOCKS_H_
