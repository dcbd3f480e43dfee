#ifndef CELLAR_SRC_PLATFORM_LOOP_DEVICE_H_
#define CELLAR_SRC_PLATFORM_LOOP_DEVICE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cellar {

// One attached loop device, as the kernel reports it in
// /sys/block/loopN/loop/.
struct LoopInfo {
  std::string device;        // "/dev/loop3"
  std::string backing_file;  // absolute path of the image
  uint64_t size_bytes = 0;   // current size of the device
  bool direct_io = false;
  bool autoclear = false;
  bool read_only = false;  // the kernel refuses writes to the device
};

// Loop devices through /dev/loop-control and the loop ioctls (never the
// losetup tool). All methods are thread-safe.
class LoopDevices {
 public:
  virtual ~LoopDevices() = default;

  // Attaches the regular file `image_path` to a free loop device, with
  // direct I/O on (when the backing filesystem allows it) and autoclear off
  // (the device must survive the driver's restarts), and returns the device
  // path. Does not check whether the image is attached already: callers
  // look with List() first. Errors: NOT_FOUND when the image is missing,
  // INVALID_ARGUMENT when it is not a regular file, PERMISSION_DENIED when
  // it cannot be opened for writing, RESOURCE_EXHAUSTED when no loop device
  // can be had, FAILED_PRECONDITION when the host has no loop driver,
  // INTERNAL otherwise.
  virtual absl::StatusOr<std::string> Attach(const std::string& image_path) = 0;

  // Attaches `backing_path`, a regular file or a block device, to a free
  // loop device with LO_FLAGS_READ_ONLY: a view of it that the kernel
  // refuses to write through, whoever opens it. Used for read-only
  // publishes of block volumes (a read-only bind mount does not stop
  // writes to a device node). Errors as for Attach.
  virtual absl::StatusOr<std::string> AttachReadOnly(
      const std::string& backing_path) = 0;

  // Detaches `device` (LOOP_CLR_FD). NOT_FOUND when it is not attached;
  // FAILED_PRECONDITION when it is in use (mounted, claimed or held open)
  // and cannot be detached now: the device then stays attached as it was,
  // never left to detach itself at its last close; INVALID_ARGUMENT when
  // `device` is not a loop device.
  virtual absl::Status Detach(const std::string& device) = 0;

  // Every attached loop device with its backing file, by device number.
  // The backing file is the kernel's path for it, with " (deleted)"
  // appended once the image has been unlinked.
  virtual absl::StatusOr<std::vector<LoopInfo>> List() = 0;

  // Makes `device` pick up a grown backing file (LOOP_SET_CAPACITY).
  // NOT_FOUND when it is not attached; INVALID_ARGUMENT when it is not a
  // loop device.
  virtual absl::Status RefreshCapacity(const std::string& device) = 0;
};

}  // namespace cellar

#endif  // CELLAR_SRC_PLATFORM_LOOP_DEVICE_H_
