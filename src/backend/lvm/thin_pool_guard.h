#ifndef CELLAR_SRC_BACKEND_LVM_THIN_POOL_GUARD_H_
#define CELLAR_SRC_BACKEND_LVM_THIN_POOL_GUARD_H_

#include <cstdint>
#include <string>

#include "src/backend/lvm/lvm_report.h"

namespace cellar {

// What an lvm-thin class does to keep its pool from filling up (class
// options autoextend, autoextend-step, autoextend-max, create-limit).
struct ThinPoolGuardOptions {
  // Grow the data or metadata LV once its use reaches this percentage
  // (0: never).
  int autoextend_percent = 0;
  // Grow by this share of the LV's current size, at least one extent.
  int step_percent = 20;
  // Never grow the pool's data past this size (0: only the VG bounds it).
  uint64_t max_bytes = 0;
  // At or above this data or metadata use, new volumes, snapshots and
  // expansions in the pool are refused (0: never).
  int create_limit_percent = 0;
};

// LVM refuses thin-pool metadata above about 15.8 GiB; growth stops short.
inline constexpr uint64_t kMaxThinMetadataBytes = 15ull << 30;

// How much to grow a pool's data and metadata LVs now; zero for each that
// needs nothing or cannot grow. `why` says what was decided (for the log),
// also when nothing can grow although a threshold was passed (the VG is
// full, the cap is reached).
struct ThinPoolGrowth {
  uint64_t data_bytes = 0;
  uint64_t metadata_bytes = 0;
  std::string why;
};

// The autoextend decision for `pool` (a thin pool row of lvs) in `vg`:
// each LV whose use reached the threshold grows by the step, rounded up
// to whole extents, within the VG's free extents (metadata first) and the
// cap.
// Pure.
ThinPoolGrowth DecideThinPoolGrowth(const LogicalVolume& pool,
                                    const VolumeGroup& vg,
                                    const ThinPoolGuardOptions& options);

// Why the pool refuses new allocations under create-limit ("" when it
// does not). Pure.
std::string CreateLimitReason(const LogicalVolume& pool,
                              const ThinPoolGuardOptions& options);

// What is wrong with a thin pool's health from lv_attr ("" when nothing):
// out of data space, metadata read-only, failed. Pure.
std::string ThinPoolTrouble(const LogicalVolume& pool);

// Bytes the pool can still physically store, counting what autoextend may
// still add from the VG's free space up to the cap. Pure.
uint64_t ThinPoolRoom(const LogicalVolume& pool, const VolumeGroup& vg,
                      const ThinPoolGuardOptions& options);

}  // namespace cellar

#endif  // CELLAR_SRC_BACKEND_LVM_THIN_POOL_GUARD_H_
