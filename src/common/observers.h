#ifndef CELLAR_SRC_COMMON_OBSERVERS_H_
#define CELLAR_SRC_COMMON_OBSERVERS_H_

#include <grpcpp/support/status.h>

#include "absl/strings/string_view.h"

namespace cellar {

// Told about events worth counting. The services and the RPC interceptor
// call these; the metrics module implements them. Implementations are
// thread-safe and return quickly (no I/O).
class RpcObserver {
 public:
  virtual ~RpcObserver() = default;
  // One finished RPC: its full method name ("/csi.v1.Node/NodeStageVolume"),
  // the status code it answered with and how long it took.
  virtual void ObserveRpc(absl::string_view method, grpc::StatusCode code,
                          double seconds) = 0;
};

class PolicyObserver {
 public:
  virtual ~PolicyObserver() = default;
  // A publish the access policy refused, by the rule that refused it
  // (AccessRule names, see access_policy.h). Never a volume or pod name.
  virtual void PublishRefused(absl::string_view rule) = 0;
};

}  // namespace cellar

#endif  // CELLAR_SRC_COMMON_OBSERVERS_H_
