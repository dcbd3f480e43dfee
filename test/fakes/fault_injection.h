#ifndef CELLAR_TEST_FAKES_FAULT_INJECTION_H_
#define CELLAR_TEST_FAKES_FAULT_INJECTION_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "src/platform/block_copier.h"
#include "src/platform/command_runner.h"
#include "src/platform/crypt_devices.h"
#include "src/platform/filesystem.h"
#include "src/platform/fs_tools.h"
#include "src/platform/loop_device.h"
#include "src/platform/mounter.h"

namespace cellar {

// Decides, for the wrappers below, which side effect fails or after which
// one the driver "dies" (in the spirit of leveldb's EnvWrapper). Wrappers
// count every side-effecting call (a mount, a write, a command that changes
// something) in the order they happen; reads are not counted.
//  - kFailAt N: the Nth side effect does not happen and returns a
//    realistic error for that call (EIO, ENOSPC, EBUSY, a command exiting
//    non-zero); the others run.
//  - kCrashAfter N: the Nth side effect happens, then every later call,
//    read or write, fails with UNAVAILABLE "crashed", as if the process
//    had died; the test then builds new services over the same fakes, as a
//    restarted driver would find the world.
// Thread-safe.
class FaultPlan final {
 public:
  enum class Mode { kNone, kFailAt, kCrashAfter };

  // Starts counting from zero with `mode` at `n` (1-based).
  void Arm(Mode mode, int n);
  // Counts on, injects nothing (a crash is over).
  void Disarm();

  // Side effects seen since the last Arm, and their names in order.
  int count() const;
  std::vector<std::string> effects() const;
  bool crashed() const;
  // Whether an injected failure was returned since the last Arm.
  bool injected() const;

  // Called (outside the plan's lock, on the thread of the side effect) when
  // the chosen side effect fails (kFailAt) or has just happened
  // (kCrashAfter), with its number and name. A real process's test build
  // logs there, and for kCrashAfter kills itself with SIGKILL.
  using Hook = std::function<void(Mode mode, int n, const std::string& what)>;
  void SetHook(Hook hook);

  // For the wrappers: before a side effect named `what`, the status to
  // return instead of running it (`failure` at the chosen one, UNAVAILABLE
  // after a crash), else OK, setting `*number` to the effect's number.
  // After the side effect, AfterEffect(number): by number, so that effects
  // of two threads that overlap still crash after the chosen one.
  absl::Status BeforeEffect(absl::string_view what, absl::Status failure,
                            int* number);
  void AfterEffect(int number);
  // Before a read: UNAVAILABLE after a crash, else OK.
  absl::Status BeforeRead() const;

 private:
  mutable absl::Mutex mutex_;
  Mode mode_ ABSL_GUARDED_BY(mutex_) = Mode::kNone;
  int n_ ABSL_GUARDED_BY(mutex_) = 0;
  int count_ ABSL_GUARDED_BY(mutex_) = 0;
  bool crashed_ ABSL_GUARDED_BY(mutex_) = false;
  bool injected_ ABSL_GUARDED_BY(mutex_) = false;
  std::vector<std::string> effects_ ABSL_GUARDED_BY(mutex_);
  Hook hook_ ABSL_GUARDED_BY(mutex_);
};

// Each wraps another implementation (not owned) and consults the plan.
class FaultyCommandRunner final : public CommandRunner {
 public:
  FaultyCommandRunner(CommandRunner* base, FaultPlan* plan)
      : base_(base), plan_(plan) {}
  // A command that only reads (lvm lvs/vgs/pvs, blkid, dumpe2fs, ...) is not
  // a side effect; an injected failure of one that changes something is an
  // exit status 5 with "injected failure" on stderr, as lvm exits.
  absl::StatusOr<CommandResult> Run(const Command& command) override;

 private:
  CommandRunner* const base_;
  FaultPlan* const plan_;
};

class FaultyFileSystem final : public FileSystem {
 public:
  FaultyFileSystem(FileSystem* base, FaultPlan* plan)
      : base_(base), plan_(plan) {}
  absl::StatusOr<FileInfo> Stat(const std::string& path) override;
  absl::Status MakeDirs(const std::string& path, mode_t mode) override;
  absl::Status Remove(const std::string& path) override;
  absl::Status CreateFile(const std::string& path, mode_t mode) override;
  absl::StatusOr<std::string> ReadFile(const std::string& path) override;
  absl::Status WriteFileAtomic(const std::string& path,
                               const std::string& content,
                               mode_t mode) override;
  absl::StatusOr<std::vector<std::string>> ListDir(
      const std::string& path) override;
  absl::StatusOr<FsStats> StatFs(const std::string& path) override;
  absl::Status EnsureFileSize(const std::string& path, uint64_t size,
                              bool allocate, mode_t mode) override;
  absl::StatusOr<uint64_t> CopySparse(const std::string& from,
                                      const std::string& to,
                                      mode_t mode) override;
  absl::StatusOr<std::string> RealPath(const std::string& path) override;
  absl::Status SetOwnerGroupMode(const std::string& root,
                                 const std::string& path, gid_t gid,
                                 mode_t mode) override;
  absl::Status MakeDirsBelow(const std::string& root, const std::string& path,
                             mode_t mode) override;
  absl::Status CreateFileBelow(const std::string& root, const std::string& path,
                               mode_t mode) override;
  absl::Status RemoveEmpty(const std::string& root,
                           const std::string& path) override;

 private:
  FileSystem* const base_;
  FaultPlan* const plan_;
};

class FaultyMounter final : public Mounter {
 public:
  FaultyMounter(Mounter* base, FaultPlan* plan) : base_(base), plan_(plan) {}
  absl::Status Mount(const MountRequest& request) override;
  absl::Status Unmount(const std::string& target, bool lazy) override;
  absl::Status UnmountConfined(const std::string& root,
                               const std::string& target) override;
  absl::StatusOr<std::vector<MountEntry>> ListMounts() override;

 private:
  Mounter* const base_;
  FaultPlan* const plan_;
};

class FaultyLoopDevices final : public LoopDevices {
 public:
  FaultyLoopDevices(LoopDevices* base, FaultPlan* plan)
      : base_(base), plan_(plan) {}
  absl::StatusOr<std::string> Attach(const std::string& image_path) override;
  absl::StatusOr<std::string> AttachReadOnly(
      const std::string& backing_path) override;
  absl::Status Detach(const std::string& device) override;
  absl::StatusOr<std::vector<LoopInfo>> List() override;
  absl::Status RefreshCapacity(const std::string& device) override;

 private:
  LoopDevices* const base_;
  FaultPlan* const plan_;
};

class FaultyFsTools final : public FsTools {
 public:
  FaultyFsTools(FsTools* base, FaultPlan* plan) : base_(base), plan_(plan) {}
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
  FsTools* const base_;
  FaultPlan* const plan_;
};

class FaultyCryptDevices final : public CryptDevices {
 public:
  FaultyCryptDevices(CryptDevices* base, FaultPlan* plan)
      : base_(base), plan_(plan) {}
  absl::StatusOr<LuksState> Inspect(const std::string& device) override;
  absl::Status Format(const std::string& device,
                      const SecretBytes& passphrase) override;
  absl::StatusOr<std::string> Open(const std::string& device,
                                   const std::string& name,
                                   const SecretBytes& passphrase) override;
  absl::StatusOr<std::string> Backing(const std::string& name) override;
  absl::Status Close(const std::string& name) override;
  absl::Status Resize(const std::string& name) override;

 private:
  CryptDevices* const base_;
  FaultPlan* const plan_;
};

class FaultyBlockCopier final : public BlockCopier {
 public:
  FaultyBlockCopier(BlockCopier* base, FaultPlan* plan)
      : base_(base), plan_(plan) {}
  absl::StatusOr<uint64_t> Copy(const std::string& from, const std::string& to,
                                const std::vector<ByteRange>& ranges,
                                const CopyOptions& options) override;

 private:
  BlockCopier* const base_;
  FaultPlan* const plan_;
};

}  // namespace cellar

#endif  // CELLAR_TEST_FAKES_FAULT_INJECTION_H_
