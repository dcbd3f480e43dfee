#ifndef CELLAR_SRC_COMMON_PERIODIC_H_
#define CELLAR_SRC_COMMON_PERIODIC_H_

#include <functional>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace cellar {

// Runs `task` on a thread of its own every `interval` (the first run one
// interval after construction) until destroyed; destruction waits for a
// run in progress and starts no other.
class PeriodicTask final {
 public:
  PeriodicTask(absl::Duration interval, std::function<void()> task)
      : thread_([this, interval, task = std::move(task)] {
          while (!stop_.WaitForNotificationWithTimeout(interval)) task();
        }) {}
  PeriodicTask(const PeriodicTask&) = delete;
  PeriodicTask& operator=(const PeriodicTask&) = delete;
  ~PeriodicTask() {
    stop_.Notify();
    thread_.join();
  }

 private:
  absl::Notification stop_;
  std::thread thread_;  // last: starts once stop_ exists
};

}  // namespace cellar

#endif  // CELLAR_SRC_COMMON_PERIODIC_H_
