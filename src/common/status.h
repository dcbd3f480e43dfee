#ifndef CELLAR_SRC_COMMON_STATUS_H_
#define CELLAR_SRC_COMMON_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace cellar {

// Converts a status from below the RPC boundary into the gRPC status sent to
// the caller. The canonical codes of absl and gRPC share their numbering, so
// the code is kept as is; the message is passed through unchanged. This is
// the only place the two status types meet.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The reverse direction, for the project's own client code and tests.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace cellar

#endif  // CELLAR_SRC_COMMON_STATUS_H_
