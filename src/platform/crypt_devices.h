#ifndef CELLAR_SRC_PLATFORM_CRYPT_DEVICES_H_
#define CELLAR_SRC_PLATFORM_CRYPT_DEVICES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "src/common/secret.h"

namespace cellar {

// What a block device holds, as far as LUKS is concerned.
enum class LuksState {
  kNone,        // no LUKS header
  kNoKeyslots,  // a header without any keyslot: a format that never
                // finished; nothing can have been written through it
  kReady,       // a header with at least one keyslot
};

// dm-crypt/LUKS2 devices. Passphrases go to the library in memory only:
// never on a command line, in the environment, in a file or a log. All
// methods are thread-safe.
class CryptDevices {
 public:
  virtual ~CryptDevices() = default;

  // Reads the LUKS header of `device`. NOT_FOUND when the device is
  // missing; UNAVAILABLE when LUKS support cannot be loaded.
  virtual absl::StatusOr<LuksState> Inspect(const std::string& device) = 0;

  // Formats `device` as LUKS2 (aes-xts-plain64, 512-bit volume key) with one
  // keyslot for `passphrase`. Callers make sure the device holds nothing.
  virtual absl::Status Format(const std::string& device,
                              const SecretBytes& passphrase) = 0;

  // Maps `device` as /dev/mapper/`name` with `passphrase` and returns the
  // mapping's path. PERMISSION_DENIED for a wrong passphrase (nothing is
  // written to the device); ALREADY_EXISTS when `name` maps another device.
  // A mapping of `name` over `device` that is already there is returned,
  // after the passphrase is checked against the header all the same
  // (PERMISSION_DENIED when it does not open it).
  virtual absl::StatusOr<std::string> Open(const std::string& device,
                                           const std::string& name,
                                           const SecretBytes& passphrase) = 0;

  // The device under the active mapping `name`; NOT_FOUND when inactive.
  virtual absl::StatusOr<std::string> Backing(const std::string& name) = 0;

  // Removes the mapping. Inactive: fine. FAILED_PRECONDITION when in use.
  virtual absl::Status Close(const std::string& name) = 0;

  // Grows the active mapping `name` to fill its (grown) device.
  virtual absl::Status Resize(const std::string& name) = 0;
};

}  // namespace cellar

#endif  // CELLAR_SRC_PLATFORM_CRYPT_DEVICES_H_
