#ifndef CELLAR_SRC_COMMON_SECRET_H_
#define CELLAR_SRC_COMMON_SECRET_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "google/protobuf/map.h"
#include "grpcpp/support/status.h"
#include "src/common/status.h"

namespace cellar {

// Bytes that must not outlive their use or reach a log: keys and
// passphrases. The bytes live in one heap buffer of their own (never in a
// string's inline storage, which a move would copy and leave behind) that
// is wiped when the object dies or is reassigned. There is deliberately no
// way to print it.
class SecretBytes final {
 public:
  SecretBytes() = default;
  explicit SecretBytes(absl::string_view bytes);
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  // Moves hand the buffer over: no copy of the bytes is made.
  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  ~SecretBytes();

  const char* data() const { return bytes_.get(); }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // For handing to a library call that takes (pointer, size).
  absl::string_view view() const { return absl::string_view(data(), size_); }

 private:
  void Wipe();
  std::unique_ptr<char[]> bytes_;
  size_t size_ = 0;
};

// Overwrites `text`'s bytes, inline storage included, and empties it.
void WipeString(std::string* text);

// Wipes every value of a request's secrets map and clears it: the
// handlers call it once the secrets have been used, so a request object
// freed later leaves no key material in the heap.
void WipeSecretMap(google::protobuf::Map<std::string, std::string>* secrets);

// WipeSecretMap on a request the handler received as const. gRPC's
// synchronous server owns the request as a mutable object and never reads
// it after the handler returns, so wiping it in place is sound.
template <typename Request>
void WipeRequestSecrets(const Request* request) {
  WipeSecretMap(const_cast<Request*>(request)->mutable_secrets());
}

// The end of every handler of a request with a secrets field: the handler's
// status (computed first, as an argument) is answered once the secrets are
// wiped, so none is left in the request when gRPC frees it.
//   return WipeSecretsAndAnswer(request, DoStage(*request));
template <typename Request>
grpc::Status WipeSecretsAndAnswer(const Request* request,
                                  const absl::Status& status) {
  WipeRequestSecrets(request);
  return ToGrpcStatus(status);
}

}  // namespace cellar

#endif  // CELLAR_SRC_COMMON_SECRET_H_
