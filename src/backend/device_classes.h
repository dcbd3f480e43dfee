#ifndef CELLAR_SRC_BACKEND_DEVICE_CLASSES_H_
#define CELLAR_SRC_BACKEND_DEVICE_CLASSES_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cellar {

enum class DeviceClassKind { kLoop, kLvm, kLvmThin };

// One entry of --device-classes.
struct DeviceClassSpec {
  std::string name;
  DeviceClassKind kind = DeviceClassKind::kLoop;
  std::string directory;  // loop: absolute image directory
  std::string vg;         // lvm, lvm-thin
  std::string pool;       // lvm-thin: thin pool LV in `vg`
  // Options (all optional):
  //   reserve=BYTES        loop, lvm: space never given to volumes
  //   overprovision=RATIO  lvm-thin: virtual bytes promised per pool byte;
  //                        loop: bytes all images may promise per byte of
  //                        the image filesystem (unset: no bound)
  //   snapshot-cow=PCT     lvm: COW area of the temporary snapshot behind a
  //                        snapshot or clone, in percent of the origin
  //   copy-bandwidth=BYTES lvm: bytes per second those copies may read,
  //                        at least 1 MiB/s (0: unbounded)
  //   autoextend=PCT       lvm-thin: grow the pool's data or metadata LV
  //                        once its use reaches PCT (1-99)
  //   autoextend-step=PCT  lvm-thin: by this share of its size (1-1000,
  //                        default 20), at least one extent
  //   autoextend-max=BYTES lvm-thin: never grow the pool's data past this
  //   create-limit=PCT     lvm-thin: at or above this data or metadata use
  //                        (1-100, above autoextend), refuse new volumes,
  //                        snapshots and expansions in the pool
  uint64_t reserve_bytes = 0;
  bool reserve_set = false;
  int cow_percent = 0;
  bool cow_percent_set = false;
  uint64_t copy_bytes_per_second = 0;
  bool copy_bandwidth_set = false;
  double overprovision = 1.0;
  bool overprovision_set = false;
  int autoextend_percent = 0;
  int autoextend_step_percent = 20;
  uint64_t autoextend_max_bytes = 0;
  int create_limit_percent = 0;
};

// Parses --device-classes: comma-separated `NAME=KIND:ARGS[?OPT=VAL&...]`,
// the first entry being the default class. Kinds: `loop:DIR`, `lvm:VG`,
// `lvm-thin:VG/POOL`. Names follow the id rules for device classes; VG and
// LV names LVM's own ([A-Za-z0-9+_.-], not starting with '-'). Every error
// is INVALID_ARGUMENT naming the entry.
absl::StatusOr<std::vector<DeviceClassSpec>> ParseDeviceClasses(
    absl::string_view text);

// True for a valid LVM VG or LV name.
bool IsValidLvmName(absl::string_view name);

}  // namespace cellar

#endif  // CELLAR_SRC_BACKEND_DEVICE_CLASSES_H_
