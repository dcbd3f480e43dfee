#ifndef CELLAR_SRC_PLATFORM_REAL_LOOP_DEVICE_H_
#define CELLAR_SRC_PLATFORM_REAL_LOOP_DEVICE_H_

#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "src/platform/loop_device.h"

namespace cellar {

// Loop devices through /dev/loop-control, the loop ioctls and sysfs. Holds
// no state beyond its paths: the kernel is the only record of what is
// attached, so a restarted driver sees the same devices.
class RealLoopDevices final : public LoopDevices {
 public:
  // `sysfs_root` and `dev_root` are normally /sys and /dev; tests point them
  // elsewhere to feed List() a made-up sysfs.
  explicit RealLoopDevices(std::string sysfs_root = "/sys",
                           std::string dev_root = "/dev");
  RealLoopDevices(const RealLoopDevices&) = delete;
  RealLoopDevices& operator=(const RealLoopDevices&) = delete;

  absl::StatusOr<std::string> Attach(const std::string& image_path) override;
  absl::StatusOr<std::string> AttachReadOnly(
      const std::string& backing_path) override;
  absl::Status Detach(const std::string& device) override;
  absl::StatusOr<std::vector<LoopInfo>> List() override;
  absl::Status RefreshCapacity(const std::string& device) override;

 private:
  // Binds the open image to the free device `loop_fd`, preferring
  // LOOP_CONFIGURE and falling back to the pre-5.8 ioctls.
  absl::StatusOr<std::string> AttachWithFlags(const std::string& path,
                                              bool read_only);
  absl::Status Configure(bool read_only, int loop_fd, int image_fd,
                         const std::string& image_path,
                         const std::string& device);
  // True while sysfs still shows a backing file for `device`.
  bool StillBound(const std::string& device) const;

  const std::string sysfs_root_;
  const std::string dev_root_;
  // LOOP_CTL_GET_FREE hands every caller the same free device until one
  // binds it: attaches from this process take turns, so concurrent stages
  // do not keep losing that race to each other (other processes still can,
  // which the retries cover).
  absl::Mutex attach_mu_;
};

}  // namespace cellar

#endif  // CELLAR_SRC_PLATFORM_REAL_LOOP_DEVICE_H_
