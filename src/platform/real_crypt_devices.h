#ifndef CELLAR_SRC_PLATFORM_REAL_CRYPT_DEVICES_H_
#define CELLAR_SRC_PLATFORM_REAL_CRYPT_DEVICES_H_

#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "src/platform/crypt_devices.h"

namespace cellar {

struct CryptLibrary;

// LUKS2 through libcryptsetup, loaded with dlopen on first use: a node
// with no encrypted volume never maps the library and its dependencies,
// which keeps the driver's idle memory small.
class RealCryptDevices final : public CryptDevices {
 public:
  RealCryptDevices();
  ~RealCryptDevices() override;
  RealCryptDevices(const RealCryptDevices&) = delete;
  RealCryptDevices& operator=(const RealCryptDevices&) = delete;

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
  absl::StatusOr<const CryptLibrary*> Library();

  absl::Mutex mu_;
  std::unique_ptr<CryptLibrary> library_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cellar

#endif  // CELLAR_SRC_PLATFORM_REAL_CRYPT_DEVICES_H_
