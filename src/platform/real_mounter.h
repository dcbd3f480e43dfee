#ifndef CELLAR_SRC_PLATFORM_REAL_MOUNTER_H_
#define CELLAR_SRC_PLATFORM_REAL_MOUNTER_H_

#include <string>

#include "src/platform/mounter.h"

namespace cellar {

// The kernel's mount table through mount(2), umount2(2) and mountinfo.
class RealMounter final : public Mounter {
 public:
  // `mountinfo_path` is normally /proc/self/mountinfo.
  explicit RealMounter(std::string mountinfo_path = "/proc/self/mountinfo");
  RealMounter(const RealMounter&) = delete;
  RealMounter& operator=(const RealMounter&) = delete;

  absl::Status Mount(const MountRequest& request) override;
  absl::Status Unmount(const std::string& target, bool lazy) override;
  absl::Status UnmountConfined(const std::string& root,
                               const std::string& target) override;
  absl::StatusOr<std::vector<MountEntry>> ListMounts() override;

 private:
  // A bind with its attributes from the first moment (open_tree,
  // mount_setattr, move_mount); UNIMPLEMENTED on kernels without them.
  // `source_fd` and `target_fd` are the confined walk's objects, or -1 for
  // the request's paths.
  absl::Status AtomicBind(const MountRequest& request, int source_fd,
                          int target_fd);

  const std::string mountinfo_path_;
};

}  // namespace cellar

#endif  // CELLAR_SRC_PLATFORM_REAL_MOUNTER_H_
