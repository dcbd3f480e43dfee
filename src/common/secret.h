#ifndef CELLAR_SRC_COMMON_SECRET_H_
#define CELLAR_SRC_COMMON_SECRET_H_

#include <string>

#include "absl/strings/string_view.h"

namespace cellar {

// Bytes that must not outlive their use or reach a log: keys and
// passphrases. The buffer is wiped when the object dies or is reassigned.
// There is deliberately no way to print it.
class SecretBytes final {
 public:
  SecretBytes() = default;
  explicit SecretBytes(absl::string_view bytes) : bytes_(bytes) {}
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  ~SecretBytes();

  const char* data() const { return bytes_.data(); }
  size_t size() const { return bytes_.size(); }
  bool empty() const { return bytes_.empty(); }
  // For handing to a library call that takes (pointer, size).
  absl::string_view view() const { return bytes_; }

 private:
  void Wipe();
  std::string bytes_;
};

}  // namespace cellar

#endif  // CELLAR_SRC_COMMON_SECRET_H_
