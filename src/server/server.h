#ifndef CELLAR_SRC_SERVER_SERVER_H_
#define CELLAR_SRC_SERVER_SERVER_H_

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "src/common/observers.h"

namespace cellar {

// Parses --endpoint: "unix:///abs/path" (or "unix:/abs/path", or a bare
// absolute path) into the socket path. Anything else is INVALID_ARGUMENT.
absl::StatusOr<std::string> ParseUnixEndpoint(absl::string_view endpoint);

// Makes `path` free for a new listener: a missing path is fine; a socket no
// process answers on is removed; a live socket is FAILED_PRECONDITION (never
// steal another server's socket); a non-socket file is FAILED_PRECONDITION
// (never delete what is not ours).
absl::Status ClaimSocketPath(const std::string& path);

// A gRPC server on a Unix socket with reflection and the RPC log
// interceptor, its socket created with mode 0600.
class UnixServer final {
 public:
  UnixServer(const UnixServer&) = delete;
  UnixServer& operator=(const UnixServer&) = delete;
  ~UnixServer();

  // Claims the socket path, registers `services` (not owned; they must
  // outlive the server) and starts listening. Every finished RPC is
  // reported to `observer` when it is not null (it must outlive the server).
  static absl::StatusOr<std::unique_ptr<UnixServer>> Start(
      const std::string& socket_path,
      const std::vector<grpc::Service*>& services,
      RpcObserver* observer = nullptr);

  // Blocks until Shutdown has completed.
  void Wait();
  // Stops accepting, lets in-flight RPCs run until `grace` passes (then
  // cancels them), and removes the socket. Thread-safe; idempotent.
  void Shutdown(absl::Duration grace);

  const std::string& socket_path() const { return socket_path_; }

 private:
  UnixServer(std::string socket_path, std::unique_ptr<grpc::Server> server);

  const std::string socket_path_;
  // The socket file this server made, to tell it from a newer one.
  dev_t socket_device_ = 0;
  ino_t socket_inode_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace cellar

#endif  // CELLAR_SRC_SERVER_SERVER_H_
