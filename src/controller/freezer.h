#ifndef CELLAR_SRC_CONTROLLER_FREEZER_H_
#define CELLAR_SRC_CONTROLLER_FREEZER_H_

#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "src/backend/backend.h"
#include "src/platform/filesystem.h"
#include "src/platform/fs_tools.h"
#include "src/platform/mounter.h"

namespace cellar {

// What the Freezer works with. `journal_dir` holds one entry per
// filesystem frozen now, written before the freeze and removed after the
// thaw, so a thaw that a crash or a failure skipped is still done.
struct FreezerDeps {
  Mounter* mounter = nullptr;
  FsTools* fs_tools = nullptr;
  FileSystem* fs = nullptr;
  std::string journal_dir;
};

// Freezes the filesystems of volumes mounted on this node while a snapshot
// or a clone takes its point in time, and makes sure none stays frozen: a
// frozen filesystem blocks every writer in the pod, and a second FIFREEZE
// of it fails with EBUSY, so a retried snapshot could never succeed.
// Thread-safe; callers hold the volumes' locks.
class Freezer final {
 public:
  // The null object, for a process without local storage (--mode=controller):
  // nothing is mounted here, so nothing is frozen and every method is a
  // no-op returning OK.
  Freezer() = default;
  explicit Freezer(FreezerDeps deps);
  Freezer(const Freezer&) = delete;
  Freezer& operator=(const Freezer&) = delete;

  // The mount points of those of `volumes` mounted on this node whose
  // filesystem we must freeze ourselves, one per filesystem (freezing one
  // mount freezes every bind of it). A filesystem directly on a volume whose
  // backend suspends the origin while it snapshots is left out: the
  // suspend freezes it, and freezing it first would make the suspend fail
  // with EBUSY; one on a dm-crypt mapping above such a volume is not. An
  // unreadable mount table yields none.
  std::vector<std::string> MountedFilesystems(
      const std::vector<std::pair<std::string, Backend*>>& volumes);

  // Freezes `paths` in order, runs `action` while all are frozen, then
  // thaws them whatever happened. A journal entry for one of them that no
  // call holds (a leftover) is thawed first. Returns the first error: a
  // thaw of a leftover or a freeze (the action does not run), the
  // action's, or a thaw's. A path whose thaw failed keeps its journal
  // entry, for ThawLeftovers or the next WithFrozen. The caller holds the
  // locks of the volumes behind `paths`.
  absl::Status WithFrozen(const std::vector<std::string>& paths,
                          const std::function<absl::Status()>& action);

  // Thaws every filesystem the journal names that no WithFrozen of this
  // process holds now (a driver killed while it held them, or a thaw that
  // failed) and is still mounted, and clears those entries. Called at start
  // and before each snapshot or clone (WithFrozen also thaws a leftover of
  // its own paths first). Errors: the first thaw or journal change that
  // failed (logged; its entry stays, for the next call).
  absl::Status ThawLeftovers();

 private:
  bool enabled() const { return deps_.fs_tools != nullptr; }
  std::string EntryPath(const std::string& mount_path) const;
  // A leftover entry's end: thaws `path` when it is still mounted, then
  // removes the entry (kept when the thaw fails).
  absl::Status ThawLeftover(const std::string& path, bool mounted);

  // The initializer keeps Freezer() = default usable under clang, which
  // deletes it for a const member without one.
  const FreezerDeps deps_{};
  absl::Mutex mutex_;
  // Mount paths a WithFrozen of this process holds frozen (or is freezing).
  std::multiset<std::string> held_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace cellar

#endif  // CELLAR_SRC_CONTROLLER_FREEZER_H_
