#include "src/common/secret.h"

#include <openssl/crypto.h>

#include <cstring>
#include <utility>

namespace cellar {

SecretBytes::SecretBytes(absl::string_view bytes)
    : bytes_(new char[bytes.size() + 1]), size_(bytes.size()) {
  if (size_ > 0) std::memcpy(bytes_.get(), bytes.data(), size_);
  bytes_[size_] = '\0';
}

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : bytes_(std::move(other.bytes_)), size_(other.size_) {
  other.size_ = 0;
}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    Wipe();
    bytes_ = std::move(other.bytes_);
    size_ = other.size_;
    other.size_ = 0;
  }
  return *this;
}

SecretBytes::~SecretBytes() { Wipe(); }

void SecretBytes::Wipe() {
  // OPENSSL_cleanse is not optimised away like a plain memset would be.
  if (bytes_ != nullptr) OPENSSL_cleanse(bytes_.get(), size_ + 1);
  bytes_.reset();
  size_ = 0;
}

void WipeString(std::string* text) {
  // The whole capacity: short strings keep their bytes inline, and a string
  // that shrank keeps old bytes past its size.
  if (text->capacity() > 0) {
    text->resize(text->capacity());
    OPENSSL_cleanse(&(*text)[0], text->size());
  }
  text->clear();
}

void WipeSecretMap(google::protobuf::Map<std::string, std::string>* secrets) {
  for (auto& [key, value] : *secrets) WipeString(&value);
  secrets->clear();
}

}  // namespace cellar
