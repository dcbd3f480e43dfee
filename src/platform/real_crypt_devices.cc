#include "src/platform/real_crypt_devices.h"

#include <dlfcn.h>
#include <libcryptsetup.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"

namespace cellar {

// The libcryptsetup entry points cellar uses, resolved with dlsym. The
// declarations come from the library's own header, so the types match.
struct CryptLibrary {
  void* handle = nullptr;
  decltype(&crypt_init) init = nullptr;
  decltype(&crypt_init_by_name) init_by_name = nullptr;
  decltype(&crypt_free) free = nullptr;
  decltype(&crypt_load) load = nullptr;
  decltype(&crypt_format) format = nullptr;
  decltype(&crypt_set_pbkdf_type) set_pbkdf_type = nullptr;
  decltype(&crypt_keyslot_add_by_volume_key) keyslot_add_by_volume_key =
      nullptr;
  decltype(&crypt_keyslot_status) keyslot_status = nullptr;
  decltype(&crypt_keyslot_max) keyslot_max = nullptr;
  decltype(&crypt_activate_by_passphrase) activate_by_passphrase = nullptr;
  decltype(&crypt_deactivate) deactivate = nullptr;
  decltype(&crypt_status) status = nullptr;
  decltype(&crypt_get_device_name) get_device_name = nullptr;
  decltype(&crypt_resize) resize = nullptr;
  decltype(&crypt_set_log_callback) set_log_callback = nullptr;
  decltype(&crypt_volume_key_keyring) volume_key_keyring = nullptr;
};

namespace {

// The library's messages never carry passphrases; they go nowhere, and
// every failure is reported through the status instead.
void QuietLog(int, const char*, void*) {}

// One context per call, freed on every path.
class Context final {
 public:
  explicit Context(const CryptLibrary* lib) : lib_(lib) {}
  ~Context() {
    if (cd_ != nullptr) lib_->free(cd_);
  }
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  crypt_device** out() { return &cd_; }
  crypt_device* get() const { return cd_; }

 private:
  const CryptLibrary* lib_;
  crypt_device* cd_ = nullptr;
};

absl::Status Errno(int negative_errno, const std::string& what) {
  const int err = -negative_errno;
  std::string message = absl::StrCat(what, ": ", strerror(err));
  switch (err) {
    case ENOENT:
    case ENODEV:
    case ENXIO:
      return absl::NotFoundError(message);
    case EPERM:
      return absl::PermissionDeniedError(message);
    case EBUSY:
      return absl::FailedPreconditionError(message);
    case EEXIST:
      return absl::AlreadyExistsError(message);
    case EINVAL:
      return absl::InvalidArgumentError(message);
    case ENOMEM:
      return absl::ResourceExhaustedError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace

RealCryptDevices::RealCryptDevices() = default;

RealCryptDevices::~RealCryptDevices() {
  absl::MutexLock lock(&mu_);
  if (library_ != nullptr && library_->handle != nullptr) {
    dlclose(library_->handle);
  }
}

absl::StatusOr<const CryptLibrary*> RealCryptDevices::Library() {
  absl::MutexLock lock(&mu_);
  if (library_ != nullptr) return library_.get();
  void* handle = dlopen("libcryptsetup.so.12", RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    return absl::UnavailableError(absl::StrCat(
        "cannot load libcryptsetup (install libcryptsetup12): ", dlerror()));
  }
  auto lib = std::make_unique<CryptLibrary>();
  lib->handle = handle;
  bool all = true;
  auto bind = [&](auto* slot, const char* symbol) {
    *slot = reinterpret_cast<std::remove_pointer_t<decltype(slot)>>(
        dlsym(handle, symbol));
    all = all && *slot != nullptr;
  };
  bind(&lib->init, "crypt_init");
  bind(&lib->init_by_name, "crypt_init_by_name");
  bind(&lib->free, "crypt_free");
  bind(&lib->load, "crypt_load");
  bind(&lib->format, "crypt_format");
  bind(&lib->set_pbkdf_type, "crypt_set_pbkdf_type");
  bind(&lib->keyslot_add_by_volume_key, "crypt_keyslot_add_by_volume_key");
  bind(&lib->keyslot_status, "crypt_keyslot_status");
  bind(&lib->keyslot_max, "crypt_keyslot_max");
  bind(&lib->activate_by_passphrase, "crypt_activate_by_passphrase");
  bind(&lib->deactivate, "crypt_deactivate");
  bind(&lib->status, "crypt_status");
  bind(&lib->get_device_name, "crypt_get_device_name");
  bind(&lib->resize, "crypt_resize");
  bind(&lib->set_log_callback, "crypt_set_log_callback");
  bind(&lib->volume_key_keyring, "crypt_volume_key_keyring");
  if (!all) {
    dlclose(handle);
    return absl::UnavailableError("libcryptsetup lacks an expected symbol");
  }
  lib->set_log_callback(nullptr, &QuietLog, nullptr);
  // The volume key goes into the dm-crypt table (root-only, as with LUKS1)
  // rather than the kernel keyring: with the keyring, growing a mapping
  // needs the passphrase again, and NodeExpandVolume has no secret unless
  // every StorageClass also names a node-expand secret.
  lib->volume_key_keyring(nullptr, 0);
  library_ = std::move(lib);
  return library_.get();
}

absl::StatusOr<LuksState> RealCryptDevices::Inspect(const std::string& device) {
  ABSL_ASSIGN_OR_RETURN(const CryptLibrary* lib, Library());
  struct stat st;
  if (stat(device.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat("device ", device, " is missing"));
  }
  Context cd(lib);
  if (int rc = lib->init(cd.out(), device.c_str()); rc < 0) {
    return Errno(rc, absl::StrCat("open ", device));
  }
  const int rc = lib->load(cd.get(), CRYPT_LUKS, nullptr);
  if (rc == -EINVAL) return LuksState::kNone;  // no LUKS header
  if (rc < 0) return Errno(rc, absl::StrCat("read LUKS header of ", device));
  const int max = lib->keyslot_max(CRYPT_LUKS2);
  for (int slot = 0; slot < max; ++slot) {
    const crypt_keyslot_info info = lib->keyslot_status(cd.get(), slot);
    if (info == CRYPT_SLOT_ACTIVE || info == CRYPT_SLOT_ACTIVE_LAST) {
      return LuksState::kReady;
    }
  }
  return LuksState::kNoKeyslots;
}

absl::Status RealCryptDevices::Format(const std::string& device,
                                      const SecretBytes& passphrase) {
  ABSL_ASSIGN_OR_RETURN(const CryptLibrary* lib, Library());
  Context cd(lib);
  if (int rc = lib->init(cd.out(), device.c_str()); rc < 0) {
    return Errno(rc, absl::StrCat("open ", device));
  }
  // The passphrase is 256 bits derived by HKDF, not something a person
  // chose: a memory-hard KDF would add seconds per stage and no strength.
  // PBKDF2 at LUKS2's minimum iteration count, no benchmark run.
  crypt_pbkdf_type pbkdf{};
  pbkdf.type = CRYPT_KDF_PBKDF2;
  pbkdf.hash = "sha256";
  pbkdf.iterations = 1000;
  pbkdf.flags = CRYPT_PBKDF_NO_BENCHMARK;
  if (int rc = lib->set_pbkdf_type(cd.get(), &pbkdf); rc < 0) {
    return Errno(rc, "set PBKDF");
  }
  crypt_params_luks2 params{};
  if (int rc = lib->format(cd.get(), CRYPT_LUKS2, "aes", "xts-plain64", nullptr,
                           nullptr, 64, &params);
      rc < 0) {
    return Errno(rc, absl::StrCat("LUKS2 format of ", device));
  }
  if (int rc =
          lib->keyslot_add_by_volume_key(cd.get(), CRYPT_ANY_SLOT, nullptr, 0,
                                         passphrase.data(), passphrase.size());
      rc < 0) {
    return Errno(rc, absl::StrCat("add keyslot on ", device));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> RealCryptDevices::Open(
    const std::string& device, const std::string& name,
    const SecretBytes& passphrase) {
  ABSL_ASSIGN_OR_RETURN(const CryptLibrary* lib, Library());
  const std::string mapped = absl::StrCat("/dev/mapper/", name);
  absl::StatusOr<std::string> backing = Backing(name);
  const bool open_already = backing.ok();
  if (open_already) {
    // Already open (a retried stage, or a restarted driver).
    struct stat want, have;
    if (stat(device.c_str(), &want) != 0 ||
        stat(backing->c_str(), &have) != 0 || want.st_rdev != have.st_rdev) {
      return absl::AlreadyExistsError(absl::StrCat(
          "mapping ", name, " is open over ", *backing, ", not ", device));
    }
  }
  Context cd(lib);
  if (int rc = lib->init(cd.out(), device.c_str()); rc < 0) {
    return Errno(rc, absl::StrCat("open ", device));
  }
  if (int rc = lib->load(cd.get(), CRYPT_LUKS, nullptr); rc < 0) {
    return Errno(rc, absl::StrCat("read LUKS header of ", device));
  }
  // An open mapping proves nothing about the caller: the key is checked
  // against the header every time (a null name only verifies it).
  const int rc = lib->activate_by_passphrase(
      cd.get(), open_already ? nullptr : name.c_str(), CRYPT_ANY_SLOT,
      passphrase.data(), passphrase.size(), 0);
  if (rc == -EPERM) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the encryption key does not open ", device,
        " (wrong encryptionPassphrase in the node-stage secret?)"));
  }
  if (rc < 0) return Errno(rc, absl::StrCat("open LUKS mapping ", name));
  return mapped;  // open now, or already open and the key checked
}

absl::StatusOr<std::string> RealCryptDevices::Backing(const std::string& name) {
  ABSL_ASSIGN_OR_RETURN(const CryptLibrary* lib, Library());
  const crypt_status_info info = lib->status(nullptr, name.c_str());
  if (info != CRYPT_ACTIVE && info != CRYPT_BUSY) {
    return absl::NotFoundError(absl::StrCat("mapping ", name, " is not open"));
  }
  Context cd(lib);
  if (int rc = lib->init_by_name(cd.out(), name.c_str()); rc < 0) {
    return Errno(rc, absl::StrCat("inspect mapping ", name));
  }
  const char* device = lib->get_device_name(cd.get());
  if (device == nullptr) {
    return absl::InternalError(
        absl::StrCat("mapping ", name, " has no device"));
  }
  return std::string(device);
}

absl::Status RealCryptDevices::Close(const std::string& name) {
  ABSL_ASSIGN_OR_RETURN(const CryptLibrary* lib, Library());
  const crypt_status_info info = lib->status(nullptr, name.c_str());
  if (info == CRYPT_INACTIVE || info == CRYPT_INVALID) return absl::OkStatus();
  if (info == CRYPT_BUSY) {
    return absl::FailedPreconditionError(
        absl::StrCat("mapping ", name, " is in use"));
  }
  const int rc = lib->deactivate(nullptr, name.c_str());
  if (rc == -ENODEV) return absl::OkStatus();
  if (rc < 0) return Errno(rc, absl::StrCat("close mapping ", name));
  return absl::OkStatus();
}

absl::Status RealCryptDevices::Resize(const std::string& name) {
  ABSL_ASSIGN_OR_RETURN(const CryptLibrary* lib, Library());
  Context cd(lib);
  if (int rc = lib->init_by_name(cd.out(), name.c_str()); rc < 0) {
    return Errno(rc, absl::StrCat("inspect mapping ", name));
  }
  // Size 0: fill the underlying device.
  if (int rc = lib->resize(cd.get(), name.c_str(), 0); rc < 0) {
    return Errno(rc, absl::StrCat("resize mapping ", name));
  }
  return absl::OkStatus();
}

}  // namespace cellar
