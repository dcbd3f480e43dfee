#ifndef CELLAR_SRC_COMMON_STATUS_H_
#define CELLAR_SRC_COMMON_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace cellar {

// Converts a status from below the RPC boundary into the gRPC status sent to
// the caller. The canonical codes of absl and gRPC share their numbering, so
// the code is kept as is; the message is passed through unchanged. This is
// the only place the two status types meet.
grpc::Status ToGrpcStatus(const absl::Status& status);

// INVALID_ARGUMENT "<field> is missing" unless `value` is non-empty: the
// CSI answer to a request without a required field.
absl::Status RequireField(absl::string_view value, absl::string_view field);

// The same for a message field: INVALID_ARGUMENT unless `present`.
absl::Status RequirePresent(bool present, absl::string_view field);

// The reverse direction, for the project's own client code and tests.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace cellar

#endif  // CELLAR_SRC_COMMON_STATUS_H_
