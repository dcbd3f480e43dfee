#ifndef CELLAR_SRC_COMMON_RPC_LOG_H_
#define CELLAR_SRC_COMMON_RPC_LOG_H_

#include <grpcpp/support/server_interceptor.h>

#include <memory>
#include <string>

#include "google/protobuf/message.h"
#include "src/common/observers.h"

namespace cellar {

// The volume (or snapshot, or name) a request is about, for the log line:
// the first present of volume_id, snapshot_id, source_volume_id, name.
// Empty when the request carries none of them.
std::string RequestSubject(const google::protobuf::Message& request);

// Builds the interceptor that logs every RPC exactly once, when its status is
// sent: method, subject, duration and status code (info level; warn for
// INTERNAL, UNKNOWN and DATA_LOSS). At debug level it also logs request and
// response bodies with every `csi_secret` field redacted. When `observer` is
// not null (it must outlive the server), each RPC is also reported to it.
// Thread-safe.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeRpcLogInterceptorFactory(RpcObserver* observer = nullptr);

}  // namespace cellar

#endif  // CELLAR_SRC_COMMON_RPC_LOG_H_
