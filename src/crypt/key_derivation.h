#ifndef CELLAR_SRC_CRYPT_KEY_DERIVATION_H_
#define CELLAR_SRC_CRYPT_KEY_DERIVATION_H_

#include <string>

#include "absl/status/statusor.h"
#include "src/common/secret.h"

namespace cellar {

// The name of the node-stage secret key that carries the key material.
constexpr char kEncryptionSecretKey[] = "encryptionPassphrase";

// The LUKS passphrase of one volume: HKDF-SHA256 (RFC 5869) of the key
// material from the node-stage secret, with a fixed salt naming the scheme
// and the volume id as info, 32 bytes, hex-encoded (64 characters, so an
// operator can type it into cryptsetup). One volume's passphrase reveals
// nothing about another's or about the material. INVALID_ARGUMENT when the
// material is empty; INTERNAL when OpenSSL fails.
absl::StatusOr<SecretBytes> DeriveVolumePassphrase(
    const SecretBytes& material, const std::string& volume_id);

}  // namespace cellar

#endif  // CELLAR_SRC_CRYPT_KEY_DERIVATION_H_
