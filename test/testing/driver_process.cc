#include "test/testing/driver_process.h"

#include <fcntl.h>
#include <grpcpp/impl/codegen/client_unary_call.h>
#include <grpcpp/impl/codegen/sync_stream.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "reflection_client.pb.h"

extern char** environ;

namespace cellar::testing {
namespace {

std::atomic<int> log_counter{0};

absl::StatusOr<pid_t> Spawn(const std::string& binary,
                            const std::vector<std::string>& args,
                            const std::string& log_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null",
                                   O_RDONLY, 0);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(binary.c_str()));
  for (const std::string& arg : args)
    argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, binary.c_str(), &actions, nullptr,
                             argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return absl::ErrnoToStatus(rc, "spawn " + binary);
  return pid;
}

// waitpid with a timeout; kills with SIGKILL when it passes.
absl::StatusOr<int> WaitFor(pid_t pid, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t got = waitpid(pid, &status, WNOHANG);
    if (got == pid) return status;
    if (got < 0) return absl::ErrnoToStatus(errno, "waitpid");
    if (absl::Now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return absl::DeadlineExceededError("process did not exit in time");
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
}

}  // namespace

std::string DriverBinaryPath() {
  if (const char* env = getenv("CELLAR_CSI_BINARY")) return env;
  const char* srcdir = getenv("TEST_SRCDIR");
  const char* workspace = getenv("TEST_WORKSPACE");
  if (srcdir != nullptr) {
    return absl::StrCat(srcdir, "/", workspace ? workspace : "cellar",
                        "/src/cellar-csi");
  }
  // `bazel run` starts in the runfiles tree of the workspace.
  if (access("src/cellar-csi", X_OK) == 0) return "src/cellar-csi";
  return "bazel-bin/src/cellar-csi";
}

std::string FaultyDriverBinaryPath() {
  if (const char* env = getenv("CELLAR_CSI_FAULTY_BINARY")) return env;
  const char* srcdir = getenv("TEST_SRCDIR");
  const char* workspace = getenv("TEST_WORKSPACE");
  if (srcdir != nullptr) {
    return absl::StrCat(srcdir, "/", workspace ? workspace : "cellar",
                        "/test/e2e/cellar-csi-faulty");
  }
  return "bazel-bin/test/e2e/cellar-csi-faulty";
}

std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return context;
}

DriverProcess::DriverProcess(pid_t pid, std::string socket_path,
                             std::string log_path)
    : pid_(pid),
      socket_path_(std::move(socket_path)),
      log_path_(std::move(log_path)) {
  // Short reconnect backoff: the socket appears a few ms after start.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 10);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 10);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 100);
  channel_ = grpc::CreateCustomChannel(
      "unix:" + socket_path_, grpc::InsecureChannelCredentials(), args);
  identity_ = csi::v1::Identity::NewStub(channel_);
  controller_ = csi::v1::Controller::NewStub(channel_);
  node_ = csi::v1::Node::NewStub(channel_);
}

DriverProcess::~DriverProcess() {
  if (!exited_) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
}

absl::StatusOr<std::unique_ptr<DriverProcess>> DriverProcess::Start(
    const std::string& data_dir, const std::string& socket_path,
    const std::vector<std::string>& extra_args, absl::Duration timeout,
    const std::string& binary) {
  const std::string log_path = absl::StrCat(data_dir, ".driver-", getpid(), "-",
                                            log_counter.fetch_add(1), ".log");
  std::vector<std::string> args = {"--data-dir=" + data_dir,
                                   "--endpoint=unix://" + socket_path};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  absl::StatusOr<pid_t> pid = Spawn(binary, args, log_path);
  if (!pid.ok()) return pid.status();
  // Wait until the socket accepts connections (a raw connect, so that no
  // gRPC channel starts in reconnect backoff against a stale socket file),
  // then make the channel and check that Probe answers.
  const absl::Time deadline = absl::Now() + timeout;
  bool listening = false;
  while (absl::Now() < deadline) {
    int status = 0;
    if (waitpid(*pid, &status, WNOHANG) == *pid) {
      std::ifstream in(log_path);
      std::stringstream text;
      text << in.rdbuf();
      return absl::FailedPreconditionError(
          absl::StrCat("driver exited during start-up: ", text.str()));
    }
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket_path.c_str(), sizeof(addr.sun_path) - 1);
    const bool connected =
        connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    close(fd);
    if (connected) {
      listening = true;
      break;
    }
    absl::SleepFor(absl::Milliseconds(1));
  }
  std::unique_ptr<DriverProcess> driver(
      new DriverProcess(*pid, socket_path, log_path));
  while (listening && absl::Now() < deadline) {
    csi::v1::ProbeRequest request;
    csi::v1::ProbeResponse response;
    // Probe asks every backend (LVM: one lvm call each), which is slow
    // under emulation: allow it the time that is left.
    auto context = Context(deadline - absl::Now());
    if (driver->identity().Probe(context.get(), request, &response).ok()) {
      return driver;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("driver did not answer in time: ", driver->ReadLog()));
}

absl::StatusOr<int> DriverProcess::Stop(int signal, absl::Duration timeout) {
  if (exited_) return absl::FailedPreconditionError("already stopped");
  // Hang up first, as kubelet does when it goes away: the server's shutdown
  // waits for connected clients to leave.
  identity_.reset();
  controller_.reset();
  node_.reset();
  channel_.reset();
  kill(pid_, signal);
  absl::StatusOr<int> status = WaitFor(pid_, timeout);
  exited_ = true;
  return status;
}

bool DriverProcess::Exited() {
  if (exited_) return true;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) exited_ = true;
  return exited_;
}

std::string DriverProcess::ReadLog() const {
  std::ifstream in(log_path_);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<std::vector<std::string>> DriverProcess::ListServices() {
  using Request = cellar::testing::reflection::ServerReflectionRequest;
  using Response = cellar::testing::reflection::ServerReflectionResponse;
  static const char kMethod[] =
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";
  grpc::internal::RpcMethod method(
      kMethod, grpc::internal::RpcMethod::BIDI_STREAMING, channel_);
  auto context = Context();
  std::unique_ptr<grpc::ClientReaderWriter<Request, Response>> stream(
      grpc::internal::ClientReaderWriterFactory<Request, Response>::Create(
          channel_.get(), method, context.get()));
  Request request;
  request.set_list_services("");
  if (!stream->Write(request)) {
    return absl::UnavailableError("reflection: write failed");
  }
  stream->WritesDone();
  Response response;
  std::vector<std::string> names;
  while (stream->Read(&response)) {
    for (const auto& service : response.list_services_response().service()) {
      names.push_back(service.name());
    }
  }
  grpc::Status status = stream->Finish();
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        status.error_message());
  }
  return names;
}

absl::StatusOr<int> RunToExit(const std::string& binary,
                              const std::vector<std::string>& args,
                              const std::string& log_path,
                              absl::Duration timeout) {
  absl::StatusOr<pid_t> pid = Spawn(binary, args, log_path);
  if (!pid.ok()) return pid.status();
  return WaitFor(*pid, timeout);
}

}  // namespace cellar::testing
