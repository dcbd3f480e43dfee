#ifndef CELLAR_SRC_PLATFORM_ERRNO_STATUS_H_
#define CELLAR_SRC_PLATFORM_ERRNO_STATUS_H_

#include <cerrno>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace cellar {

// One errno value and the status code a call site gives it. A call site
// lists only the errnos whose meaning it knows better than the default
// (EBUSY from umount2 is "still in use", not "try again later").
struct ErrnoCode {
  int err;
  absl::StatusCode code;
};

// The code for `err`: its entry in `overrides` when there is one, else
// `otherwise` when given, else Abseil's errno mapping.
absl::StatusCode ErrnoStatusCode(
    int err, absl::Span<const ErrnoCode> overrides = {},
    std::optional<absl::StatusCode> otherwise = std::nullopt);

// A status "<what>: <strerror(err)>" with the code ErrnoStatusCode gives.
// Pure; thread-safe.
absl::Status ErrnoStatus(
    int err, absl::string_view what, absl::Span<const ErrnoCode> overrides = {},
    std::optional<absl::StatusCode> otherwise = std::nullopt);

// The table for a failed open(2) of a device node or image file: gone is
// NOT_FOUND, refused is PERMISSION_DENIED, claimed by someone else is
// FAILED_PRECONDITION, a directory is INVALID_ARGUMENT, out of descriptors or
// memory is RESOURCE_EXHAUSTED. Call sites pair it with kInternal.
inline constexpr ErrnoCode kOpenErrnoCodes[] = {
    {ENOENT, absl::StatusCode::kNotFound},
    {ENOTDIR, absl::StatusCode::kNotFound},
    {ENXIO, absl::StatusCode::kNotFound},
    {ENODEV, absl::StatusCode::kNotFound},
    {EACCES, absl::StatusCode::kPermissionDenied},
    {EPERM, absl::StatusCode::kPermissionDenied},
    {EROFS, absl::StatusCode::kPermissionDenied},
    {EBUSY, absl::StatusCode::kFailedPrecondition},
    {EISDIR, absl::StatusCode::kInvalidArgument},
    {EMFILE, absl::StatusCode::kResourceExhausted},
    {ENFILE, absl::StatusCode::kResourceExhausted},
    {ENOMEM, absl::StatusCode::kResourceExhausted},
};

}  // namespace cellar

#endif  // CELLAR_SRC_PLATFORM_ERRNO_STATUS_H_
