#include "test/fakes/fault_injection.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"

namespace cellar {
namespace {

// Runs `run` as the side effect `what` unless the plan says otherwise.
template <typename F>
auto Effect(FaultPlan* plan, std::string what, absl::Status failure, F&& run)
    -> decltype(run()) {
  int number = 0;
  if (absl::Status s = plan->BeforeEffect(what, std::move(failure), &number);
      !s.ok()) {
    return s;
  }
  auto result = run();
  plan->AfterEffect(number);
  return result;
}

template <typename F>
auto Read(const FaultPlan* plan, F&& run) -> decltype(run()) {
  ABSL_RETURN_IF_ERROR(plan->BeforeRead());
  return run();
}

absl::Status Eio(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": injected EIO"));
}
absl::Status Enospc(absl::string_view what) {
  return absl::ResourceExhaustedError(absl::StrCat(what, ": injected ENOSPC"));
}
absl::Status Ebusy(absl::string_view what) {
  return absl::FailedPreconditionError(absl::StrCat(what, ": injected EBUSY"));
}

// Programs (or lvm subcommands) the driver runs only to read.
bool ReadsOnly(const std::vector<std::string>& argv) {
  if (argv.empty()) return true;
  const std::string& program = argv[0];
  if (program == "lvm" && argv.size() > 1) {
    return argv[1] == "lvs" || argv[1] == "vgs" || argv[1] == "pvs" ||
           argv[1] == "fullreport" || argv[1] == "version";
  }
  return program == "blkid" || program == "dumpe2fs" || program == "lsblk";
}

}  // namespace

void FaultPlan::Arm(Mode mode, int n) {
  absl::MutexLock lock(&mutex_);
  mode_ = mode;
  n_ = n;
  count_ = 0;
  crashed_ = false;
  injected_ = false;
  effects_.clear();
}

void FaultPlan::Disarm() {
  absl::MutexLock lock(&mutex_);
  mode_ = Mode::kNone;
  crashed_ = false;
}

int FaultPlan::count() const {
  absl::MutexLock lock(&mutex_);
  return count_;
}

std::vector<std::string> FaultPlan::effects() const {
  absl::MutexLock lock(&mutex_);
  return effects_;
}

bool FaultPlan::crashed() const {
  absl::MutexLock lock(&mutex_);
  return crashed_;
}

bool FaultPlan::injected() const {
  absl::MutexLock lock(&mutex_);
  return injected_;
}

void FaultPlan::SetHook(Hook hook) {
  absl::MutexLock lock(&mutex_);
  hook_ = std::move(hook);
}

absl::Status FaultPlan::BeforeEffect(absl::string_view what,
                                     absl::Status failure, int* number) {
  Hook hook;
  int n = 0;
  {
    absl::MutexLock lock(&mutex_);
    if (crashed_) return absl::UnavailableError("crashed");
    *number = ++count_;
    effects_.emplace_back(what);
    if (mode_ != Mode::kFailAt || count_ != n_) return absl::OkStatus();
    injected_ = true;
    hook = hook_;
    n = n_;
  }
  if (hook) hook(Mode::kFailAt, n, std::string(what));
  return failure;
}

void FaultPlan::AfterEffect(int number) {
  Hook hook;
  std::string what;
  {
    absl::MutexLock lock(&mutex_);
    if (mode_ != Mode::kCrashAfter || number != n_ || crashed_) return;
    crashed_ = true;
    hook = hook_;
    // (An effect begun before the last Arm may end after it.)
    what = number <= static_cast<int>(effects_.size()) ? effects_[number - 1]
                                                       : "?";
  }
  if (hook) hook(Mode::kCrashAfter, number, what);
}

absl::Status FaultPlan::BeforeRead() const {
  absl::MutexLock lock(&mutex_);
  return crashed_ ? absl::UnavailableError("crashed") : absl::OkStatus();
}

// ---------------------------------------------------------------- commands

absl::StatusOr<CommandResult> FaultyCommandRunner::Run(const Command& command) {
  if (ReadsOnly(command.argv)) {
    return Read(plan_, [&] { return base_->Run(command); });
  }
  std::string what = command.argv.empty() ? "?" : command.argv[0];
  if (command.argv.size() > 1 && command.argv[0] == "lvm") {
    absl::StrAppend(&what, " ", command.argv[1]);
  }
  int number = 0;
  absl::Status before =
      plan_->BeforeEffect(what, absl::InternalError("exit 5"), &number);
  if (absl::IsUnavailable(before)) return before;  // crashed
  if (!before.ok()) {
    CommandResult failed;
    failed.exit_code = 5;
    failed.stderr_data = "  injected failure\n";
    return failed;
  }
  absl::StatusOr<CommandResult> result = base_->Run(command);
  plan_->AfterEffect(number);
  return result;
}

// ---------------------------------------------------------------- filesystem

absl::StatusOr<FileInfo> FaultyFileSystem::Stat(const std::string& path) {
  return Read(plan_, [&] { return base_->Stat(path); });
}
absl::Status FaultyFileSystem::MakeDirs(const std::string& path, mode_t mode) {
  return Effect(plan_, "mkdir", Eio("mkdir " + path),
                [&] { return base_->MakeDirs(path, mode); });
}
absl::Status FaultyFileSystem::Remove(const std::string& path) {
  return Effect(plan_, "remove", Eio("remove " + path),
                [&] { return base_->Remove(path); });
}
absl::Status FaultyFileSystem::CreateFile(const std::string& path,
                                          mode_t mode) {
  return Effect(plan_, "create file", Enospc("create " + path),
                [&] { return base_->CreateFile(path, mode); });
}
absl::StatusOr<std::string> FaultyFileSystem::ReadFile(
    const std::string& path) {
  return Read(plan_, [&] { return base_->ReadFile(path); });
}
absl::Status FaultyFileSystem::WriteFileAtomic(const std::string& path,
                                               const std::string& content,
                                               mode_t mode) {
  return Effect(plan_, "write file", Enospc("write " + path),
                [&] { return base_->WriteFileAtomic(path, content, mode); });
}
absl::StatusOr<std::vector<std::string>> FaultyFileSystem::ListDir(
    const std::string& path) {
  return Read(plan_, [&] { return base_->ListDir(path); });
}
absl::StatusOr<FsStats> FaultyFileSystem::StatFs(const std::string& path) {
  return Read(plan_, [&] { return base_->StatFs(path); });
}
absl::Status FaultyFileSystem::EnsureFileSize(const std::string& path,
                                              uint64_t size, bool allocate,
                                              mode_t mode) {
  return Effect(plan_, "size file", Enospc("size " + path), [&] {
    return base_->EnsureFileSize(path, size, allocate, mode);
  });
}
absl::StatusOr<uint64_t> FaultyFileSystem::CopySparse(const std::string& from,
                                                      const std::string& to,
                                                      mode_t mode) {
  return Effect(plan_, "copy file", Enospc("copy to " + to),
                [&] { return base_->CopySparse(from, to, mode); });
}
absl::StatusOr<std::string> FaultyFileSystem::RealPath(
    const std::string& path) {
  return Read(plan_, [&] { return base_->RealPath(path); });
}
absl::Status FaultyFileSystem::SetOwnerGroupMode(const std::string& root,
                                                 const std::string& path,
                                                 gid_t gid, mode_t mode) {
  return Effect(plan_, "chown", Eio("chown " + path), [&] {
    return base_->SetOwnerGroupMode(root, path, gid, mode);
  });
}
absl::Status FaultyFileSystem::MakeDirsBelow(const std::string& root,
                                             const std::string& path,
                                             mode_t mode) {
  return Effect(plan_, "mkdir below", Eio("mkdir " + path),
                [&] { return base_->MakeDirsBelow(root, path, mode); });
}
absl::Status FaultyFileSystem::CreateFileBelow(const std::string& root,
                                               const std::string& path,
                                               mode_t mode) {
  return Effect(plan_, "create file below", Enospc("create " + path),
                [&] { return base_->CreateFileBelow(root, path, mode); });
}
absl::Status FaultyFileSystem::RemoveEmpty(const std::string& root,
                                           const std::string& path) {
  // (FAILED_PRECONDITION means "not empty, someone else's" here.)
  return Effect(plan_, "remove below", Eio("remove " + path),
                [&] { return base_->RemoveEmpty(root, path); });
}

// ---------------------------------------------------------------- mounts

absl::Status FaultyMounter::Mount(const MountRequest& request) {
  return Effect(plan_, "mount", Eio("mount " + request.target),
                [&] { return base_->Mount(request); });
}
absl::Status FaultyMounter::Unmount(const std::string& target, bool lazy) {
  return Effect(plan_, "umount", Ebusy("umount " + target),
                [&] { return base_->Unmount(target, lazy); });
}
absl::Status FaultyMounter::UnmountConfined(const std::string& root,
                                            const std::string& target) {
  return Effect(plan_, "umount", Ebusy("umount " + target),
                [&] { return base_->UnmountConfined(root, target); });
}
absl::StatusOr<std::vector<MountEntry>> FaultyMounter::ListMounts() {
  return Read(plan_, [&] { return base_->ListMounts(); });
}

// ---------------------------------------------------------------- loop devices

absl::StatusOr<std::string> FaultyLoopDevices::Attach(
    const std::string& image) {
  return Effect(plan_, "loop attach",
                absl::ResourceExhaustedError("no free loop device (injected)"),
                [&] { return base_->Attach(image); });
}
absl::StatusOr<std::string> FaultyLoopDevices::AttachReadOnly(
    const std::string& backing) {
  return Effect(plan_, "loop attach ro",
                absl::ResourceExhaustedError("no free loop device (injected)"),
                [&] { return base_->AttachReadOnly(backing); });
}
absl::Status FaultyLoopDevices::Detach(const std::string& device) {
  return Effect(plan_, "loop detach", Ebusy("detach " + device),
                [&] { return base_->Detach(device); });
}
absl::StatusOr<std::vector<LoopInfo>> FaultyLoopDevices::List() {
  return Read(plan_, [&] { return base_->List(); });
}
absl::Status FaultyLoopDevices::RefreshCapacity(const std::string& device) {
  return Effect(plan_, "loop refresh", Eio("LOOP_SET_CAPACITY " + device),
                [&] { return base_->RefreshCapacity(device); });
}

// ---------------------------------------------------------------- fs tools

absl::StatusOr<std::string> FaultyFsTools::Probe(const std::string& device) {
  return Read(plan_, [&] { return base_->Probe(device); });
}
absl::Status FaultyFsTools::MakeFs(const std::string& device,
                                   const std::string& fs_type) {
  return Effect(plan_, "mkfs", Eio("mkfs " + device),
                [&] { return base_->MakeFs(device, fs_type); });
}
absl::Status FaultyFsTools::GrowFs(const std::string& device,
                                   const std::string& mount_path,
                                   const std::string& fs_type) {
  return Effect(plan_, "grow fs", Eio("grow " + device),
                [&] { return base_->GrowFs(device, mount_path, fs_type); });
}
absl::Status FaultyFsTools::GrowFsOffline(const std::string& device,
                                          const std::string& fs_type) {
  return Effect(plan_, "grow fs offline", Eio("grow " + device),
                [&] { return base_->GrowFsOffline(device, fs_type); });
}
absl::Status FaultyFsTools::Freeze(const std::string& mount_path) {
  return Effect(plan_, "freeze", Ebusy("freeze " + mount_path),
                [&] { return base_->Freeze(mount_path); });
}
absl::Status FaultyFsTools::Thaw(const std::string& mount_path) {
  return Effect(plan_, "thaw", Eio("thaw " + mount_path),
                [&] { return base_->Thaw(mount_path); });
}
absl::StatusOr<uint64_t> FaultyFsTools::DeviceSize(const std::string& device) {
  return Read(plan_, [&] { return base_->DeviceSize(device); });
}

// ---------------------------------------------------------------- crypt

absl::StatusOr<LuksState> FaultyCryptDevices::Inspect(
    const std::string& device) {
  return Read(plan_, [&] { return base_->Inspect(device); });
}
absl::Status FaultyCryptDevices::Format(const std::string& device,
                                        const SecretBytes& passphrase) {
  return Effect(plan_, "luks format", Eio("luksFormat " + device),
                [&] { return base_->Format(device, passphrase); });
}
absl::StatusOr<std::string> FaultyCryptDevices::Open(
    const std::string& device, const std::string& name,
    const SecretBytes& passphrase) {
  return Effect(plan_, "luks open", Eio("open " + name),
                [&] { return base_->Open(device, name, passphrase); });
}
absl::StatusOr<std::string> FaultyCryptDevices::Backing(
    const std::string& name) {
  return Read(plan_, [&] { return base_->Backing(name); });
}
absl::Status FaultyCryptDevices::Close(const std::string& name) {
  return Effect(plan_, "luks close", Ebusy("close " + name),
                [&] { return base_->Close(name); });
}
absl::Status FaultyCryptDevices::Resize(const std::string& name) {
  return Effect(plan_, "luks resize", Eio("resize " + name),
                [&] { return base_->Resize(name); });
}

// ---------------------------------------------------------------- copier

absl::StatusOr<uint64_t> FaultyBlockCopier::Copy(
    const std::string& from, const std::string& to,
    const std::vector<ByteRange>& ranges, const CopyOptions& options) {
  return Effect(plan_, "block copy", Eio("copy to " + to),
                [&] { return base_->Copy(from, to, ranges, options); });
}

}  // namespace cellar
