#ifndef CELLAR_TEST_FAKES_FAKE_CRYPT_DEVICES_H_
#define CELLAR_TEST_FAKES_FAKE_CRYPT_DEVICES_H_

#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "src/platform/crypt_devices.h"

namespace cellar {

// In-memory LUKS: headers per device path, mappings per name. A wrong
// passphrase is PERMISSION_DENIED, as with the real library.
class FakeCryptDevices final : public CryptDevices {
 public:
  FakeCryptDevices() = default;
  FakeCryptDevices(const FakeCryptDevices&) = delete;
  FakeCryptDevices& operator=(const FakeCryptDevices&) = delete;

  // Marks a mapping as held open (Close then fails).
  void SetBusy(const std::string& name, bool busy);
  int format_count() const;
  // Simulates a format that died before its keyslot was written.
  void AddHeaderWithoutKeyslot(const std::string& device);

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
  struct Header {
    bool has_keyslot = false;
    std::string passphrase;  // a fake may keep it; the real one never does
  };
  mutable absl::Mutex mu_;
  std::map<std::string, Header> headers_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> mappings_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, bool> busy_ ABSL_GUARDED_BY(mu_);
  int format_count_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace cellar

#endif  // CELLAR_TEST_FAKES_FAKE_CRYPT_DEVICES_H_
