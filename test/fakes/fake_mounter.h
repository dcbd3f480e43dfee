#ifndef CELLAR_TEST_FAKES_FAKE_MOUNTER_H_
#define CELLAR_TEST_FAKES_FAKE_MOUNTER_H_

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "src/platform/mounter.h"

namespace cellar {

// An in-memory mount table. Mount appends an entry (a bind mount copies the
// source's fs type and device; MS_REMOUNT rewrites the top entry's options);
// Unmount pops the top entry at a path. Failures can be injected.
class FakeMounter final : public Mounter {
 public:
  FakeMounter() = default;
  FakeMounter(const FakeMounter&) = delete;
  FakeMounter& operator=(const FakeMounter&) = delete;

  // The next Mount fails with `status` (once).
  void FailNextMount(absl::Status status);
  // The next (non-remount) Mount lands at `path` instead of its target, as
  // a mount through a path whose component was swapped for a symlink would.
  void RedirectNextMount(std::string path);

  absl::Status Mount(const MountRequest& request) override;
  absl::Status Unmount(const std::string& target, bool lazy) override;
  // As Unmount (the fake has no symlinks to walk).
  absl::Status UnmountConfined(const std::string& root,
                               const std::string& target) override;
  absl::StatusOr<std::vector<MountEntry>> ListMounts() override;

  // Every Mount request seen, in order.
  std::vector<MountRequest> requests() const;

 private:
  mutable absl::Mutex mu_;
  std::vector<MountEntry> table_ ABSL_GUARDED_BY(mu_);
  std::vector<MountRequest> requests_ ABSL_GUARDED_BY(mu_);
  absl::Status next_mount_failure_ ABSL_GUARDED_BY(mu_);
  std::string next_mount_redirect_ ABSL_GUARDED_BY(mu_);
  int next_id_ ABSL_GUARDED_BY(mu_) = 100;
};

}  // namespace cellar

#endif  // CELLAR_TEST_FAKES_FAKE_MOUNTER_H_
