#include "src/server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "spdlog/spdlog.h"
#include "src/common/logging.h"
#include "src/common/rpc_log.h"

namespace cellar {
namespace {

// ".<pid>" with a pid of up to 7 digits, plus "~".
constexpr size_t kListenSuffixRoom = 10;

}  // namespace

absl::StatusOr<std::string> ParseUnixEndpoint(absl::string_view endpoint) {
  absl::string_view path = endpoint;
  if (absl::ConsumePrefix(&path, "unix://")) {
    // unix:///abs/path: the path keeps its leading slash.
  } else if (absl::ConsumePrefix(&path, "unix:")) {
  }
  if (path.empty() || path[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat(
        "endpoint \"", endpoint, "\" is not unix:///absolute/path"));
  }
  // Room for the suffix of the path the listener is first bound to.
  if (path.size() + kListenSuffixRoom >= sizeof(sockaddr_un{}.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("socket path too long (", path.size(), " bytes)"));
  }
  return std::string(path);
}

absl::Status ClaimSocketPath(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return absl::ErrnoToStatus(errno, path);
  }
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, " exists and is not a socket; refusing to remove it"));
  }
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::ErrnoToStatus(errno, "socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  const int rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  const int err = errno;
  close(fd);
  if (rc == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "another server is listening on ", path, "; not taking it over"));
  }
  if (err != ECONNREFUSED) {
    return absl::ErrnoToStatus(err, absl::StrCat("probe ", path));
  }
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::ErrnoToStatus(errno, absl::StrCat("remove stale ", path));
  }
  spdlog::info("removed stale socket {}", path);
  return absl::OkStatus();
}

UnixServer::UnixServer(std::string socket_path,
                       std::unique_ptr<grpc::Server> server)
    : socket_path_(std::move(socket_path)), server_(std::move(server)) {}

UnixServer::~UnixServer() { Shutdown(absl::ZeroDuration()); }

absl::StatusOr<std::unique_ptr<UnixServer>> UnixServer::Start(
    const std::string& socket_path, const std::vector<grpc::Service*>& services,
    RpcObserver* observer) {
  absl::Status claimed = ClaimSocketPath(socket_path);
  if (!claimed.ok()) return claimed;

  // gRPC removes the path it listened on when it shuts down, whatever is
  // there by then. So it listens on a private name, which is then linked
  // to the public one and removed: at shutdown gRPC finds nothing to
  // remove, and this server removes the public name only while it is still
  // its own socket (a newer server may have claimed the path meanwhile).
  const std::string listen_path = absl::StrCat(socket_path, ".", getpid(), "~");
  (void)unlink(listen_path.c_str());
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::StrCat("unix:", listen_path),
                           grpc::InsecureServerCredentials());
  for (grpc::Service* service : services) builder.RegisterService(service);
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(MakeRpcLogInterceptorFactory(observer));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));

  // The socket is born 0600: no window in which another user can connect.
  const mode_t old_mask = umask(0177);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  umask(old_mask);
  if (server == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", socket_path));
  }
  if (chmod(listen_path.c_str(), 0600) != 0) {
    const int err = errno;
    server->Shutdown();
    unlink(listen_path.c_str());
    return absl::ErrnoToStatus(err, absl::StrCat("chmod ", listen_path));
  }
  // link(2) never replaces: a server that claimed the path in between
  // keeps it.
  if (link(listen_path.c_str(), socket_path.c_str()) != 0) {
    const int err = errno;
    server->Shutdown();
    unlink(listen_path.c_str());
    if (err == EEXIST) {
      return absl::FailedPreconditionError(absl::StrCat(
          "another server claimed ", socket_path, " while this one started"));
    }
    return absl::ErrnoToStatus(err, absl::StrCat("link ", socket_path));
  }
  unlink(listen_path.c_str());
  struct stat made;
  if (lstat(socket_path.c_str(), &made) != 0) {
    const int err = errno;
    server->Shutdown();
    return absl::ErrnoToStatus(err, absl::StrCat("stat ", socket_path));
  }
  auto unix_server = std::unique_ptr<UnixServer>(
      new UnixServer(socket_path, std::move(server)));
  unix_server->socket_device_ = made.st_dev;
  unix_server->socket_inode_ = made.st_ino;
  return unix_server;
}

void UnixServer::Wait() { server_->Wait(); }

void UnixServer::Shutdown(absl::Duration grace) {
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  // Remove the socket only if it is still the one we made (same inode): a
  // newer server may have claimed the path after this one stopped
  // answering, and its socket is not ours to remove.
  struct stat st;
  if (lstat(socket_path_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) &&
      st.st_dev == socket_device_ && st.st_ino == socket_inode_) {
    unlink(socket_path_.c_str());
  }
}

}  // namespace cellar
