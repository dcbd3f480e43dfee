#include "src/crypt/key_derivation.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <memory>

namespace cellar {
namespace {

constexpr char kSalt[] = "cellar.csi.io/luks2-passphrase/v1";

}  // namespace

absl::StatusOr<SecretBytes> DeriveVolumePassphrase(
    const SecretBytes& material, const std::string& volume_id) {
  if (material.empty()) {
    return absl::InvalidArgumentError("the encryption key material is empty");
  }
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr), &EVP_PKEY_CTX_free);
  unsigned char key[32];
  size_t key_size = sizeof(key);
  const bool ok =
      ctx != nullptr && EVP_PKEY_derive_init(ctx.get()) > 0 &&
      EVP_PKEY_CTX_set_hkdf_md(ctx.get(), EVP_sha256()) > 0 &&
      EVP_PKEY_CTX_set1_hkdf_salt(ctx.get(),
                                  reinterpret_cast<const unsigned char*>(kSalt),
                                  sizeof(kSalt) - 1) > 0 &&
      EVP_PKEY_CTX_set1_hkdf_key(
          ctx.get(), reinterpret_cast<const unsigned char*>(material.data()),
          static_cast<int>(material.size())) > 0 &&
      EVP_PKEY_CTX_add1_hkdf_info(
          ctx.get(), reinterpret_cast<const unsigned char*>(volume_id.data()),
          static_cast<int>(volume_id.size())) > 0 &&
      EVP_PKEY_derive(ctx.get(), key, &key_size) > 0 && key_size == sizeof(key);
  if (!ok) {
    OPENSSL_cleanse(key, sizeof(key));
    return absl::InternalError("HKDF-SHA256 failed");
  }
  static const char kHex[] = "0123456789abcdef";
  char hex[2 * sizeof(key)];
  for (size_t i = 0; i < sizeof(key); ++i) {
    hex[2 * i] = kHex[key[i] >> 4];
    hex[2 * i + 1] = kHex[key[i] & 15];
  }
  SecretBytes passphrase(absl::string_view(hex, sizeof(hex)));
  OPENSSL_cleanse(key, sizeof(key));
  OPENSSL_cleanse(hex, sizeof(hex));
  return passphrase;
}

}  // namespace cellar
