#include "test/fakes/fake_loop_device.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace cellar {
namespace {

constexpr absl::string_view kDeleted = " (deleted)";

// "/dev/loop3" -> 3; -1 for anything else.
int DeviceIndex(absl::string_view device) {
  int index = -1;
  if (!absl::ConsumePrefix(&device, "/dev/loop") ||
      !absl::SimpleAtoi(device, &index)) {
    return -1;
  }
  return index;
}

}  // namespace

FakeLoopDevices::FakeLoopDevices(int max_devices) : max_devices_(max_devices) {}

void FakeLoopDevices::AddImage(const std::string& path, uint64_t size_bytes) {
  absl::MutexLock lock(&mu_);
  images_[path] = size_bytes;
}

void FakeLoopDevices::SetImageSize(const std::string& path,
                                   uint64_t size_bytes) {
  absl::MutexLock lock(&mu_);
  images_[path] = size_bytes;
}

void FakeLoopDevices::RemoveImage(const std::string& path) {
  absl::MutexLock lock(&mu_);
  images_.erase(path);
  for (auto& [index, info] : attached_) {
    if (info.backing_file == path)
      absl::StrAppend(&info.backing_file, kDeleted);
  }
}

void FakeLoopDevices::FailNextAttach(absl::Status status) {
  absl::MutexLock lock(&mu_);
  next_attach_failure_ = std::move(status);
}

void FakeLoopDevices::FailNextDetach(absl::Status status) {
  absl::MutexLock lock(&mu_);
  next_detach_failure_ = std::move(status);
}

absl::StatusOr<std::string> FakeLoopDevices::Attach(
    const std::string& image_path) {
  absl::MutexLock lock(&mu_);
  return AttachLocked(image_path, false);
}

absl::StatusOr<std::string> FakeLoopDevices::AttachReadOnly(
    const std::string& backing_path) {
  absl::MutexLock lock(&mu_);
  for (const auto& [index, info] : attached_) {
    if (info.device == backing_path) {
      // A view of an attached device: same size.
      images_[backing_path] = info.size_bytes;
      break;
    }
  }
  return AttachLocked(backing_path, true);
}

absl::StatusOr<std::string> FakeLoopDevices::AttachLocked(
    const std::string& image_path, bool read_only) {
  ++attach_count_;
  if (!next_attach_failure_.ok()) {
    absl::Status failure = std::move(next_attach_failure_);
    next_attach_failure_ = absl::OkStatus();
    return failure;
  }
  auto image = images_.find(image_path);
  if (image == images_.end()) {
    return absl::NotFoundError(
        absl::StrCat("open image ", image_path, ": No such file or directory"));
  }
  int index = 0;
  while (attached_.count(index) != 0) ++index;  // the lowest free, like Linux
  if (index >= max_devices_) {
    return absl::ResourceExhaustedError(
        "LOOP_CTL_GET_FREE: no free loop device");
  }
  LoopInfo info;
  info.device = absl::StrCat("/dev/loop", index);
  info.backing_file = image_path;
  info.size_bytes = image->second;
  info.direct_io = true;
  info.autoclear = false;
  info.read_only = read_only;
  attached_[index] = info;
  return info.device;
}

absl::Status FakeLoopDevices::Detach(const std::string& device) {
  absl::MutexLock lock(&mu_);
  if (!next_detach_failure_.ok()) {
    absl::Status failure = std::move(next_detach_failure_);
    next_detach_failure_ = absl::OkStatus();
    return failure;
  }
  if (attached_.erase(DeviceIndex(device)) == 0) {
    return absl::NotFoundError(absl::StrCat(device, " is not attached"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<LoopInfo>> FakeLoopDevices::List() {
  absl::MutexLock lock(&mu_);
  std::vector<LoopInfo> out;
  out.reserve(attached_.size());
  for (const auto& [index, info] : attached_) out.push_back(info);
  return out;
}

absl::Status FakeLoopDevices::RefreshCapacity(const std::string& device) {
  absl::MutexLock lock(&mu_);
  auto it = attached_.find(DeviceIndex(device));
  if (it == attached_.end()) {
    return absl::NotFoundError(absl::StrCat(device, " is not attached"));
  }
  // A deleted image keeps its last size, as the open file does.
  auto image = images_.find(it->second.backing_file);
  if (image != images_.end()) it->second.size_bytes = image->second;
  return absl::OkStatus();
}

int FakeLoopDevices::attach_count() const {
  absl::MutexLock lock(&mu_);
  return attach_count_;
}

}  // namespace cellar
