#include "src/platform/errno_status.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace cellar {

absl::StatusCode ErrnoStatusCode(int err, absl::Span<const ErrnoCode> overrides,
                                 std::optional<absl::StatusCode> otherwise) {
  for (const ErrnoCode& entry : overrides) {
    if (entry.err == err) return entry.code;
  }
  return otherwise.has_value() ? *otherwise : absl::ErrnoToStatusCode(err);
}

absl::Status ErrnoStatus(int err, absl::string_view what,
                         absl::Span<const ErrnoCode> overrides,
                         std::optional<absl::StatusCode> otherwise) {
  return absl::Status(ErrnoStatusCode(err, overrides, otherwise),
                      absl::StrCat(what, ": ", strerror(err)));
}

}  // namespace cellar
