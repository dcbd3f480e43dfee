#ifndef CELLAR_TEST_FAKES_FAKE_LOOP_DEVICE_H_
#define CELLAR_TEST_FAKES_FAKE_LOOP_DEVICE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "src/platform/loop_device.h"

namespace cellar {

// In-memory loop devices over registered images. Attach takes the lowest
// free /dev/loopN, with direct I/O on and autoclear off, like the real one
// on a filesystem that allows direct I/O; RefreshCapacity picks up the
// image's registered size. Failures can be injected.
class FakeLoopDevices final : public LoopDevices {
 public:
  // At most `max_devices` attach at once; more is RESOURCE_EXHAUSTED.
  explicit FakeLoopDevices(int max_devices = 256);
  FakeLoopDevices(const FakeLoopDevices&) = delete;
  FakeLoopDevices& operator=(const FakeLoopDevices&) = delete;

  // Makes `path` an image Attach accepts, of `size_bytes`. Attach of any
  // other path is NOT_FOUND, like a missing file.
  void AddImage(const std::string& path, uint64_t size_bytes);
  // Resizes a registered image (or registers it), as ftruncate would;
  // attached devices see it after RefreshCapacity.
  void SetImageSize(const std::string& path, uint64_t size_bytes);
  // Unregisters `path`, as unlink would: devices on it stay attached and
  // List reports the backing file with " (deleted)", as the kernel does.
  void RemoveImage(const std::string& path);

  // The next Attach (or Detach) fails with `status` (once).
  void FailNextAttach(absl::Status status);
  void FailNextDetach(absl::Status status);

  absl::StatusOr<std::string> Attach(const std::string& image_path) override;
  // Accepts a registered image or an attached device's path.
  absl::StatusOr<std::string> AttachReadOnly(
      const std::string& backing_path) override;
  absl::Status Detach(const std::string& device) override;
  absl::StatusOr<std::vector<LoopInfo>> List() override;
  absl::Status RefreshCapacity(const std::string& device) override;

  // How many Attach calls were made, failed ones included.
  int attach_count() const;

 private:
  const int max_devices_;
  mutable absl::Mutex mu_;
  std::map<std::string, uint64_t> images_ ABSL_GUARDED_BY(mu_);
  std::map<int, LoopInfo> attached_ ABSL_GUARDED_BY(mu_);  // by N
  absl::Status next_attach_failure_ ABSL_GUARDED_BY(mu_);
  absl::Status next_detach_failure_ ABSL_GUARDED_BY(mu_);
  int attach_count_ ABSL_GUARDED_BY(mu_) = 0;

  absl::StatusOr<std::string> AttachLocked(const std::string& path,
                                           bool read_only)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
};

}  // namespace cellar

#endif  // CELLAR_TEST_FAKES_FAKE_LOOP_DEVICE_H_
