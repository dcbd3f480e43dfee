#ifndef CELLAR_SRC_PLATFORM_FS_TOOLS_H_
#define CELLAR_SRC_PLATFORM_FS_TOOLS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cellar {

// Filesystems and block devices: probing, making, growing, sizing.
// All methods are thread-safe.
class FsTools {
 public:
  virtual ~FsTools() = default;

  // The signature found on `device` by libblkid (superblocks and partition
  // tables): "" only when the device is blank, else the type ("ext4",
  // "xfs", "crypto_LUKS", "dos", ...). Callers never format a device with a
  // non-empty answer. Errors: NOT_FOUND when the device is missing,
  // INTERNAL when probing fails (ambiguous signatures count as a failure:
  // never treat an unreadable device as blank).
  virtual absl::StatusOr<std::string> Probe(const std::string& device) = 0;

  // Makes a filesystem of `fs_type` ("ext4" or "xfs") on `device`.
  // INVALID_ARGUMENT for another type; NOT_FOUND when the device is
  // missing; INTERNAL with the tool's message when mkfs fails (mkfs.xfs
  // also refuses a device that holds a signature already).
  virtual absl::Status MakeFs(const std::string& device,
                              const std::string& fs_type) = 0;

  // Grows the filesystem on `device`, mounted at `mount_path`, to fill the
  // device (resize2fs for ext4, xfs_growfs for xfs). Online. INVALID_ARGUMENT
  // for another type; INTERNAL with the tool's message when it fails (an
  // online ext4 resize needs CAP_SYS_RESOURCE).
  virtual absl::Status GrowFs(const std::string& device,
                              const std::string& mount_path,
                              const std::string& fs_type) = 0;

  // Grows the filesystem on the unmounted `device` to fill it. ext4: a
  // forced check (e2fsck -f -p, which resize2fs insists on) then resize2fs,
  // which offline needs no CAP_SYS_RESOURCE; xfs only grows mounted, so
  // this is a no-op for it (use GrowFs after mounting).
  virtual absl::Status GrowFsOffline(const std::string& device,
                                     const std::string& fs_type) = 0;

  // Freezes the filesystem mounted at `mount_path` (FIFREEZE) so a
  // snapshot of its device is consistent; Thaw (FITHAW) undoes it. Thaw of
  // a filesystem that is not frozen is fine.
  virtual absl::Status Freeze(const std::string& mount_path) = 0;
  virtual absl::Status Thaw(const std::string& mount_path) = 0;

  // Size in bytes of the block device (BLKGETSIZE64). NOT_FOUND when it is
  // missing; INVALID_ARGUMENT when it is not a block device.
  virtual absl::StatusOr<uint64_t> DeviceSize(const std::string& device) = 0;
};

}  // namespace cellar

#endif  // CELLAR_SRC_PLATFORM_FS_TOOLS_H_
