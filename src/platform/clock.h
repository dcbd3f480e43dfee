#ifndef CELLAR_SRC_PLATFORM_CLOCK_H_
#define CELLAR_SRC_PLATFORM_CLOCK_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace cellar {

// Wall-clock time, for the timestamps the driver records (a volume's
// creation, a snapshot's instant), so tests can pin them. Durations and
// deadlines inside one call keep using absl::Now: they are never recorded.
class Clock {
 public:
  virtual ~Clock() = default;

  // The current time. Thread-safe.
  virtual absl::Time Now() = 0;
};

// The system's clock.
class RealClock final : public Clock {
 public:
  absl::Time Now() override { return absl::Now(); }
};

}  // namespace cellar

#endif  // CELLAR_SRC_PLATFORM_CLOCK_H_
