#ifndef CELLAR_TEST_FAKES_FAKE_FS_TOOLS_H_
#define CELLAR_TEST_FAKES_FAKE_FS_TOOLS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "src/platform/fs_tools.h"

namespace cellar {

// Remembers a signature and a size per device path. MakeFs writes the
// signature, Probe reads it ("" for a device never formatted), GrowFs is
// recorded. Accepts the same fs types as the real one. Failures can be
// injected.
class FakeFsTools final : public FsTools {
 public:
  struct GrowCall {
    std::string device;
    std::string mount_path;
    std::string fs_type;
  };

  FakeFsTools() = default;
  FakeFsTools(const FakeFsTools&) = delete;
  FakeFsTools& operator=(const FakeFsTools&) = delete;

  // What Probe answers for `device` ("" for blank).
  void SetSignature(const std::string& device, const std::string& type);
  // What DeviceSize answers; a device with no size is NOT_FOUND there.
  void SetDeviceSize(const std::string& device, uint64_t size_bytes);

  // The next MakeFs (or Probe, or GrowFs) fails with `status` (once).
  void FailNextMakeFs(absl::Status status);
  void FailNextProbe(absl::Status status);
  void FailNextGrowFs(absl::Status status);

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

  // Successful MakeFs calls, and every GrowFs call in order.
  int mkfs_count() const;
  // Mount paths frozen now, and every freeze/thaw in order ("+p", "-p").
  std::vector<std::string> frozen() const;
  std::vector<std::string> freeze_log() const;
  std::vector<GrowCall> grow_calls() const;

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, std::string> signatures_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, uint64_t> sizes_ ABSL_GUARDED_BY(mu_);
  absl::Status next_mkfs_failure_ ABSL_GUARDED_BY(mu_);
  absl::Status next_probe_failure_ ABSL_GUARDED_BY(mu_);
  absl::Status next_grow_failure_ ABSL_GUARDED_BY(mu_);
  int mkfs_count_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> frozen_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> freeze_log_ ABSL_GUARDED_BY(mu_);
  std::vector<GrowCall> grow_calls_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cellar

#endif  // CELLAR_TEST_FAKES_FAKE_FS_TOOLS_H_
