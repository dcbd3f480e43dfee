#include "test/fakes/fake_crypt_devices.h"

#include "absl/strings/str_cat.h"

namespace cellar {

void FakeCryptDevices::SetBusy(const std::string& name, bool busy) {
  absl::MutexLock lock(&mu_);
  busy_[name] = busy;
}

int FakeCryptDevices::format_count() const {
  absl::MutexLock lock(&mu_);
  return format_count_;
}

void FakeCryptDevices::AddHeaderWithoutKeyslot(const std::string& device) {
  absl::MutexLock lock(&mu_);
  headers_[device] = Header{};
}

absl::StatusOr<LuksState> FakeCryptDevices::Inspect(const std::string& device) {
  absl::MutexLock lock(&mu_);
  auto it = headers_.find(device);
  if (it == headers_.end()) return LuksState::kNone;
  return it->second.has_keyslot ? LuksState::kReady : LuksState::kNoKeyslots;
}

absl::Status FakeCryptDevices::Format(const std::string& device,
                                      const SecretBytes& passphrase) {
  absl::MutexLock lock(&mu_);
  ++format_count_;
  headers_[device] = Header{true, std::string(passphrase.view())};
  return absl::OkStatus();
}

absl::StatusOr<std::string> FakeCryptDevices::Open(
    const std::string& device, const std::string& name,
    const SecretBytes& passphrase) {
  absl::MutexLock lock(&mu_);
  auto mapped = mappings_.find(name);
  if (mapped != mappings_.end() && mapped->second != device) {
    return absl::AlreadyExistsError(
        absl::StrCat("mapping ", name, " is open over ", mapped->second));
  }
  // Like the real one: the key is checked against the header even when the
  // mapping is open.
  auto it = headers_.find(device);
  if (it == headers_.end() || !it->second.has_keyslot) {
    return absl::InvalidArgumentError(
        absl::StrCat(device, " has no usable LUKS header"));
  }
  if (it->second.passphrase != passphrase.view()) {
    return absl::PermissionDeniedError("the encryption key does not open it");
  }
  mappings_[name] = device;
  return "/dev/mapper/" + name;
}

absl::StatusOr<std::string> FakeCryptDevices::Backing(const std::string& name) {
  absl::MutexLock lock(&mu_);
  auto it = mappings_.find(name);
  if (it == mappings_.end()) {
    return absl::NotFoundError(absl::StrCat("mapping ", name, " is not open"));
  }
  return it->second;
}

absl::Status FakeCryptDevices::Close(const std::string& name) {
  absl::MutexLock lock(&mu_);
  if (busy_[name]) {
    return absl::FailedPreconditionError(
        absl::StrCat("mapping ", name, " is in use"));
  }
  mappings_.erase(name);
  return absl::OkStatus();
}

absl::Status FakeCryptDevices::Resize(const std::string& name) {
  absl::MutexLock lock(&mu_);
  if (mappings_.count(name) == 0) {
    return absl::NotFoundError(absl::StrCat("mapping ", name, " is not open"));
  }
  return absl::OkStatus();
}

}  // namespace cellar
