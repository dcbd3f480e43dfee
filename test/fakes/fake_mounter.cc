#include "test/fakes/fake_mounter.h"

#include <sys/mount.h>

#include <utility>

#include "absl/strings/str_cat.h"

namespace cellar {
namespace {

std::string OptionsFor(unsigned long flags) {
  std::string out = (flags & MS_RDONLY) ? "ro" : "rw";
  if (flags & MS_NOSUID) out += ",nosuid";
  if (flags & MS_NODEV) out += ",nodev";
  if (flags & MS_NOEXEC) out += ",noexec";
  return out;
}

}  // namespace

void FakeMounter::FailNextMount(absl::Status status) {
  absl::MutexLock lock(&mu_);
  next_mount_failure_ = std::move(status);
}

void FakeMounter::RedirectNextMount(std::string path) {
  absl::MutexLock lock(&mu_);
  next_mount_redirect_ = std::move(path);
}

absl::Status FakeMounter::Mount(const MountRequest& request) {
  absl::MutexLock lock(&mu_);
  requests_.push_back(request);
  if (!next_mount_failure_.ok()) {
    absl::Status failure = std::move(next_mount_failure_);
    next_mount_failure_ = absl::OkStatus();
    return failure;
  }
  if (request.flags & MS_REMOUNT) {
    for (auto it = table_.rbegin(); it != table_.rend(); ++it) {
      if (it->mount_point == request.target) {
        it->mount_options = OptionsFor(request.flags);
        return absl::OkStatus();
      }
    }
    return absl::InvalidArgumentError(
        absl::StrCat("remount: nothing mounted at ", request.target));
  }
  MountEntry entry;
  entry.mount_id = next_id_++;
  entry.mount_point = request.target;
  if (!next_mount_redirect_.empty()) {
    entry.mount_point = std::move(next_mount_redirect_);
    next_mount_redirect_.clear();
  }
  entry.mount_options = OptionsFor(request.flags);
  entry.root = "/";
  entry.source = request.source;
  entry.fs_type = request.fs_type;
  entry.super_options = request.data;
  if (request.flags & MS_BIND) {
    // A bind of a mounted directory shows that mount's filesystem.
    for (auto it = table_.rbegin(); it != table_.rend(); ++it) {
      if (it->mount_point == request.source) {
        entry.fs_type = it->fs_type;
        entry.source = it->source;
        entry.major = it->major;
        entry.minor = it->minor;
        break;
      }
    }
    if (entry.fs_type.empty() && request.source.rfind("/dev/", 0) == 0) {
      // A device node bound onto a file, as the kernel shows it.
      entry.fs_type = "devtmpfs";
      entry.source = "udev";
      entry.root = request.source.substr(4);
    }
  }
  table_.push_back(std::move(entry));
  return absl::OkStatus();
}

absl::Status FakeMounter::Unmount(const std::string& target, bool lazy) {
  absl::MutexLock lock(&mu_);
  for (auto it = table_.rbegin(); it != table_.rend(); ++it) {
    if (it->mount_point == target) {
      table_.erase(std::next(it).base());
      return absl::OkStatus();
    }
  }
  return absl::NotFoundError(absl::StrCat("nothing mounted at ", target));
}

absl::Status FakeMounter::UnmountConfined(const std::string& root,
                                          const std::string& target) {
  if (target.rfind(root + "/", 0) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(target, " is not inside ", root));
  }
  return Unmount(target, /*lazy=*/false);
}

absl::StatusOr<std::vector<MountEntry>> FakeMounter::ListMounts() {
  absl::MutexLock lock(&mu_);
  return table_;
}

std::vector<MountRequest> FakeMounter::requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}

}  // namespace cellar
