// The Unix-socket server without root: --endpoint parsing, and socket
// claiming (a stale socket is replaced, a live one is refused, nothing that
// is not a socket is ever deleted), in a scratch directory.
#include "src/server/server.h"

#include <grpcpp/grpcpp.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "csi.grpc.pb.h"
#include "gtest/gtest.h"

namespace cellar {
namespace {

TEST(ParseUnixEndpointTest, TheThreeSpellingsOfAnAbsolutePath) {
  struct Case {
    const char* endpoint;
    const char* path;
  } cases[] = {
      {"unix:///var/lib/cellar/csi.sock", "/var/lib/cellar/csi.sock"},
      {"unix:/var/lib/cellar/csi.sock", "/var/lib/cellar/csi.sock"},
      {"/var/lib/cellar/csi.sock", "/var/lib/cellar/csi.sock"},
      {"unix:///csi.sock", "/csi.sock"},
      {"unix:///a b/c.sock", "/a b/c.sock"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<std::string> path = ParseUnixEndpoint(c.endpoint);
    ASSERT_TRUE(path.ok()) << c.endpoint << ": " << path.status();
    EXPECT_EQ(*path, c.path) << c.endpoint;
  }
}

TEST(ParseUnixEndpointTest, AnythingElseIsInvalid) {
  for (const std::string& endpoint : {std::string(""),
                                      std::string("unix:"),
                                      std::string("unix://"),
                                      std::string("unix://relative/csi.sock"),
                                      std::string("unix://host/csi.sock"),
                                      std::string("unix:csi.sock"),
                                      std::string("csi.sock"),
                                      std::string("./csi.sock"),
                                      std::string("~/csi.sock"),
                                      std::string("tcp://127.0.0.1:10000"),
                                      std::string("tcp:127.0.0.1:10000"),
                                      std::string("127.0.0.1:10000"),
                                      std::string("dns:///localhost:10000"),
                                      std::string("UNIX:///x.sock"),
                                      std::string("Unix:/x.sock"),
                                      std::string("unix-abstract:cellar"),
                                      std::string("unix:@cellar"),
                                      std::string("unix://unix:///x.sock"),
                                      std::string(" /x.sock"),
                                      std::string("vsock:3:10000")}) {
    absl::StatusOr<std::string> path = ParseUnixEndpoint(endpoint);
    EXPECT_EQ(path.status().code(), absl::StatusCode::kInvalidArgument)
        << endpoint;
    EXPECT_EQ(path.status().message(),
              "endpoint \"" + endpoint + "\" is not unix:///absolute/path")
        << endpoint;
  }
}

TEST(ParseUnixEndpointTest, ThePathLeavesRoomForTheListenerSuffix) {
  // sun_path is 108 bytes: the path, ".<pid>~" (at most 9) and a NUL.
  ASSERT_EQ(sizeof(sockaddr_un{}.sun_path), 108u);
  const std::string longest = "/" + std::string(96, 'p');
  ASSERT_EQ(longest.size(), 97u);
  absl::StatusOr<std::string> path = ParseUnixEndpoint("unix://" + longest);
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(*path, longest);
  for (const std::string& endpoint :
       {"unix://" + longest + "p", "unix:" + longest + "p", longest + "p",
        "unix://" + std::string(4096, '/')}) {
    path = ParseUnixEndpoint(endpoint);
    EXPECT_EQ(path.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(path.status().message().find("socket path too long"),
              std::string::npos)
        << path.status().message();
  }
  EXPECT_EQ(ParseUnixEndpoint(longest + "p").status().message(),
            "socket path too long (98 bytes)");
}

// A scratch directory under TEST_TMPDIR, made the working directory so
// that socket paths stay short whatever the length of TEST_TMPDIR
// (sun_path holds 108 bytes).
class SocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = getenv("TEST_TMPDIR");
    std::string pattern =
        std::string(tmp != nullptr ? tmp : "/tmp") + "/server_test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr) << strerror(errno);
    dir_ = pattern;
    char cwd[PATH_MAX];
    ASSERT_NE(getcwd(cwd, sizeof(cwd)), nullptr);
    old_cwd_ = cwd;
    ASSERT_EQ(chdir(dir_.c_str()), 0) << strerror(errno);
  }
  void TearDown() override {
    for (int fd : fds_) close(fd);
    ASSERT_EQ(chdir(old_cwd_.c_str()), 0);
    const std::string cmd = "rm -rf '" + dir_ + "'";
    ASSERT_EQ(system(cmd.c_str()), 0);
  }

  // A socket bound at `path`; listening (a live server) or closed at once
  // (what a killed server leaves).
  void MakeSocket(const std::string& path, bool live) {
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    ASSERT_LT(path.size(), sizeof(addr.sun_path));
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0)
        << path << ": " << strerror(errno);
    if (live) {
      ASSERT_EQ(listen(fd, 8), 0);
      fds_.push_back(fd);
    } else {
      close(fd);
    }
  }

  static bool Answers(const std::string& path) {
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    const bool ok =
        connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    close(fd);
    return ok;
  }

  // The file type bits of `path` (lstat), or 0 when there is nothing.
  static mode_t TypeOf(const std::string& path) {
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) return 0;
    return st.st_mode & S_IFMT;
  }

  static std::string Read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream content;
    content << in.rdbuf();
    return content.str();
  }

  std::string dir_, old_cwd_;
  std::vector<int> fds_;
};

TEST_F(SocketTest, AMissingPathIsFree) {
  EXPECT_TRUE(ClaimSocketPath("csi.sock").ok());
  EXPECT_EQ(TypeOf("csi.sock"), 0u);
  // Nor is a missing directory on the way an error: nothing to remove.
  EXPECT_TRUE(ClaimSocketPath("no-such-dir/csi.sock").ok());
}

TEST_F(SocketTest, AStaleSocketIsRemoved) {
  MakeSocket("csi.sock", /*live=*/false);
  ASSERT_EQ(TypeOf("csi.sock"), static_cast<mode_t>(S_IFSOCK));
  ASSERT_FALSE(Answers("csi.sock"));
  EXPECT_TRUE(ClaimSocketPath("csi.sock").ok());
  EXPECT_EQ(TypeOf("csi.sock"), 0u);
  // And the path can be bound again.
  MakeSocket("csi.sock", /*live=*/true);
  EXPECT_TRUE(Answers("csi.sock"));
}

TEST_F(SocketTest, ALiveSocketIsRefusedAndLeftAlone) {
  MakeSocket("csi.sock", /*live=*/true);
  absl::Status claimed = ClaimSocketPath("csi.sock");
  EXPECT_EQ(claimed.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(claimed.message(),
            "another server is listening on csi.sock; not taking it over");
  EXPECT_EQ(TypeOf("csi.sock"), static_cast<mode_t>(S_IFSOCK));
  EXPECT_TRUE(Answers("csi.sock"));
}

TEST_F(SocketTest, WhatIsNotASocketIsNeverRemoved) {
  {
    std::ofstream file("csi.sock");
    file << "precious";
  }
  absl::Status claimed = ClaimSocketPath("csi.sock");
  EXPECT_EQ(claimed.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(claimed.message(),
            "csi.sock exists and is not a socket; refusing to remove it");
  EXPECT_EQ(TypeOf("csi.sock"), static_cast<mode_t>(S_IFREG));
  EXPECT_EQ(Read("csi.sock"), "precious");

  ASSERT_EQ(mkdir("dir.sock", 0700), 0);
  ASSERT_EQ(mkfifo("fifo.sock", 0600), 0);
  // A symlink, even to a stale socket, is not the socket itself.
  MakeSocket("stale.sock", /*live=*/false);
  ASSERT_EQ(symlink("stale.sock", "link.sock"), 0);
  ASSERT_EQ(symlink("nowhere", "dangling.sock"), 0);
  struct Case {
    const char* path;
    mode_t type;
  } cases[] = {
      {"dir.sock", S_IFDIR},
      {"fifo.sock", S_IFIFO},
      {"link.sock", S_IFLNK},
      {"dangling.sock", S_IFLNK},
  };
  for (const Case& c : cases) {
    claimed = ClaimSocketPath(c.path);
    EXPECT_EQ(claimed.code(), absl::StatusCode::kFailedPrecondition) << c.path;
    EXPECT_EQ(TypeOf(c.path), c.type) << c.path;
  }
  EXPECT_EQ(TypeOf("stale.sock"), static_cast<mode_t>(S_IFSOCK));
}

TEST_F(SocketTest, ServerSocketIsPrivateAndRemovedAtShutdown) {
  csi::v1::Identity::Service identity;  // answers UNIMPLEMENTED
  absl::StatusOr<std::unique_ptr<UnixServer>> server =
      UnixServer::Start("csi.sock", {&identity});
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ((*server)->socket_path(), "csi.sock");
  struct stat st;
  ASSERT_EQ(lstat("csi.sock", &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  // Only the public name is left of the private one it listened on.
  EXPECT_EQ(TypeOf("csi.sock." + std::to_string(getpid()) + "~"), 0u);

  // It serves gRPC there.
  auto channel =
      grpc::CreateChannel("unix:csi.sock", grpc::InsecureChannelCredentials());
  auto stub = csi::v1::Identity::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  csi::v1::ProbeResponse probe;
  const grpc::Status status =
      stub->Probe(&context, csi::v1::ProbeRequest(), &probe);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED)
      << status.error_message();

  (*server)->Shutdown(absl::ZeroDuration());
  EXPECT_EQ(TypeOf("csi.sock"), 0u);
  (*server)->Shutdown(absl::ZeroDuration());  // idempotent
  (*server)->Wait();                          // returns once shut down
  EXPECT_EQ(TypeOf("csi.sock"), 0u);
}

TEST_F(SocketTest, ASecondServerIsRefusedAndTheFirstKeepsServing) {
  csi::v1::Identity::Service identity;
  absl::StatusOr<std::unique_ptr<UnixServer>> first =
      UnixServer::Start("csi.sock", {&identity});
  ASSERT_TRUE(first.ok()) << first.status();
  csi::v1::Identity::Service other;
  absl::StatusOr<std::unique_ptr<UnixServer>> second =
      UnixServer::Start("csi.sock", {&other});
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Answers("csi.sock"));
  // The refused start left no private socket behind either.
  EXPECT_EQ(TypeOf("csi.sock." + std::to_string(getpid()) + "~"), 0u);
  first->reset();
  EXPECT_EQ(TypeOf("csi.sock"), 0u);
  // With the first gone the path is free again.
  second = UnixServer::Start("csi.sock", {&other});
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(Answers("csi.sock"));
}

TEST_F(SocketTest, StartReplacesAStaleSocketAndRefusesAFile) {
  MakeSocket("csi.sock", /*live=*/false);
  csi::v1::Identity::Service identity;
  absl::StatusOr<std::unique_ptr<UnixServer>> server =
      UnixServer::Start("csi.sock", {&identity});
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_TRUE(Answers("csi.sock"));
  server->reset();

  {
    std::ofstream file("data.sock");
    file << "precious";
  }
  server = UnixServer::Start("data.sock", {&identity});
  EXPECT_EQ(server.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Read("data.sock"), "precious");
}

// A server that stopped answering may have its path claimed by a newer
// one; its shutdown then removes nothing of the newer server's.
TEST_F(SocketTest, ShutdownLeavesANewerServersSocket) {
  csi::v1::Identity::Service identity;
  absl::StatusOr<std::unique_ptr<UnixServer>> old_server =
      UnixServer::Start("csi.sock", {&identity});
  ASSERT_TRUE(old_server.ok()) << old_server.status();
  ASSERT_EQ(unlink("csi.sock"), 0);
  absl::StatusOr<std::unique_ptr<UnixServer>> new_server =
      UnixServer::Start("csi.sock", {&identity});
  ASSERT_TRUE(new_server.ok()) << new_server.status();
  (*old_server)->Shutdown(absl::ZeroDuration());
  EXPECT_EQ(TypeOf("csi.sock"), static_cast<mode_t>(S_IFSOCK));
  EXPECT_TRUE(Answers("csi.sock"));
  (*new_server)->Shutdown(absl::ZeroDuration());
  EXPECT_EQ(TypeOf("csi.sock"), 0u);
}

}  // namespace
}  // namespace cellar
