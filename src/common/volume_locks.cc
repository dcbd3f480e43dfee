#include "src/common/volume_locks.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace cellar {

bool VolumeLocks::TryLock(const std::string& key) {
  absl::MutexLock lock(&mu_);
  return held_.insert(key).second;
}

void VolumeLocks::Unlock(const std::string& key) {
  absl::MutexLock lock(&mu_);
  held_.erase(key);
}

VolumeLockGuard::VolumeLockGuard(VolumeLocks* locks, std::string key)
    : locks_(locks), key_(std::move(key)), held_(locks_->TryLock(key_)) {}

VolumeLockGuard::~VolumeLockGuard() {
  if (held_) locks_->Unlock(key_);
}

absl::Status VolumeLockGuard::status() const {
  if (held_) return absl::OkStatus();
  return absl::AbortedError(
      absl::StrCat("an operation on ", key_, " is already in progress"));
}

}  // namespace cellar
