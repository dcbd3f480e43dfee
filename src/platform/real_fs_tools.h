#ifndef CELLAR_SRC_PLATFORM_REAL_FS_TOOLS_H_
#define CELLAR_SRC_PLATFORM_REAL_FS_TOOLS_H_

#include <cstdint>
#include <string>

#include "src/platform/command_runner.h"
#include "src/platform/fs_tools.h"

namespace cellar {

// libblkid for probing, BLKGETSIZE64 for sizes, and mkfs.ext4, mkfs.xfs,
// resize2fs and xfs_growfs through a CommandRunner.
class RealFsTools final : public FsTools {
 public:
  // `runner` is not owned and must outlive this object.
  explicit RealFsTools(CommandRunner* runner);
  RealFsTools(const RealFsTools&) = delete;
  RealFsTools& operator=(const RealFsTools&) = delete;

  absl::StatusOr<std::string> Probe(const std::string& device) override;
  absl::Status MakeFs(const std::string& device,
                      const std::string& fs_type) override;
  absl::Status GrowFs(const std::string& device, const std::string& mount_path,
                      const std::string& fs_type) override;
  absl::Status GrowFsOffline(const std::string& device,
                             const std::string& fs_type) override;
  absl::Status Freeze(const std::string& mount_path) override;
  absl::Status Thaw(const std::string& mount_path) override;
  absl::StatusOr<uint64_t> DeviceSize(const std::string& device) override;

 private:
  // Runs a filesystem tool; INTERNAL with its stderr when it fails.
  absl::Status RunTool(std::vector<std::string> argv);

  CommandRunner* const runner_;
};

}  // namespace cellar

#endif  // CELLAR_SRC_PLATFORM_REAL_FS_TOOLS_H_
