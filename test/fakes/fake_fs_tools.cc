#include "test/fakes/fake_fs_tools.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace cellar {
namespace {

bool Supported(const std::string& fs_type) {
  return fs_type == "ext4" || fs_type == "xfs";
}

// Returns the injected failure, if any, and clears it.
absl::Status TakeFailure(absl::Status* next) {
  absl::Status failure = std::move(*next);
  *next = absl::OkStatus();
  return failure;
}

}  // namespace

void FakeFsTools::SetSignature(const std::string& device,
                               const std::string& type) {
  absl::MutexLock lock(&mu_);
  signatures_[device] = type;
}

void FakeFsTools::SetDeviceSize(const std::string& device,
                                uint64_t size_bytes) {
  absl::MutexLock lock(&mu_);
  sizes_[device] = size_bytes;
}

void FakeFsTools::FailNextMakeFs(absl::Status status) {
  absl::MutexLock lock(&mu_);
  next_mkfs_failure_ = std::move(status);
}

void FakeFsTools::FailNextProbe(absl::Status status) {
  absl::MutexLock lock(&mu_);
  next_probe_failure_ = std::move(status);
}

void FakeFsTools::FailNextGrowFs(absl::Status status) {
  absl::MutexLock lock(&mu_);
  next_grow_failure_ = std::move(status);
}

absl::StatusOr<std::string> FakeFsTools::Probe(const std::string& device) {
  absl::MutexLock lock(&mu_);
  if (!next_probe_failure_.ok()) return TakeFailure(&next_probe_failure_);
  auto it = signatures_.find(device);
  return it == signatures_.end() ? std::string() : it->second;
}

absl::Status FakeFsTools::MakeFs(const std::string& device,
                                 const std::string& fs_type) {
  absl::MutexLock lock(&mu_);
  if (!Supported(fs_type)) {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported filesystem type \"", fs_type, "\""));
  }
  if (!next_mkfs_failure_.ok()) return TakeFailure(&next_mkfs_failure_);
  signatures_[device] = fs_type;
  ++mkfs_count_;
  return absl::OkStatus();
}

absl::Status FakeFsTools::GrowFs(const std::string& device,
                                 const std::string& mount_path,
                                 const std::string& fs_type) {
  absl::MutexLock lock(&mu_);
  grow_calls_.push_back({device, mount_path, fs_type});
  if (!Supported(fs_type)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot grow filesystem type \"", fs_type, "\""));
  }
  if (!next_grow_failure_.ok()) return TakeFailure(&next_grow_failure_);
  return absl::OkStatus();
}

absl::Status FakeFsTools::GrowFsOffline(const std::string& device,
                                        const std::string& fs_type) {
  absl::MutexLock lock(&mu_);
  grow_calls_.push_back(GrowCall{device, "", fs_type});
  return absl::OkStatus();
}

absl::Status FakeFsTools::Freeze(const std::string& mount_path) {
  absl::MutexLock lock(&mu_);
  if (std::find(frozen_.begin(), frozen_.end(), mount_path) != frozen_.end()) {
    return absl::FailedPreconditionError("already frozen");
  }
  frozen_.push_back(mount_path);
  freeze_log_.push_back("+" + mount_path);
  return absl::OkStatus();
}

absl::Status FakeFsTools::Thaw(const std::string& mount_path) {
  absl::MutexLock lock(&mu_);
  frozen_.erase(std::remove(frozen_.begin(), frozen_.end(), mount_path),
                frozen_.end());
  freeze_log_.push_back("-" + mount_path);
  return absl::OkStatus();
}

std::vector<std::string> FakeFsTools::frozen() const {
  absl::MutexLock lock(&mu_);
  return frozen_;
}

std::vector<std::string> FakeFsTools::freeze_log() const {
  absl::MutexLock lock(&mu_);
  return freeze_log_;
}

absl::StatusOr<uint64_t> FakeFsTools::DeviceSize(const std::string& device) {
  absl::MutexLock lock(&mu_);
  auto it = sizes_.find(device);
  if (it == sizes_.end()) {
    return absl::NotFoundError(
        absl::StrCat("open ", device, ": no such device"));
  }
  return it->second;
}

int FakeFsTools::mkfs_count() const {
  absl::MutexLock lock(&mu_);
  return mkfs_count_;
}

std::vector<FakeFsTools::GrowCall> FakeFsTools::grow_calls() const {
  absl::MutexLock lock(&mu_);
  return grow_calls_;
}

}  // namespace cellar
