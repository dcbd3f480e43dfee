#ifndef CELLAR_TEST_TESTING_DRIVER_PROCESS_H_
#define CELLAR_TEST_TESTING_DRIVER_PROCESS_H_

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "csi.grpc.pb.h"

namespace cellar::testing {

// Where the built driver binary is (from Bazel runfiles, or the
// CELLAR_CSI_BINARY environment variable).
std::string DriverBinaryPath();
// Likewise for the fault-injecting build //test/e2e:cellar-csi-faulty
// (CELLAR_CSI_FAULTY_BINARY).
std::string FaultyDriverBinaryPath();

// One running cellar-csi process with its own data directory and socket,
// and the project's client stubs for it. The destructor kills the process
// (SIGKILL) if it still runs; it never leaves a process behind.
class DriverProcess final {
 public:
  DriverProcess(const DriverProcess&) = delete;
  DriverProcess& operator=(const DriverProcess&) = delete;
  ~DriverProcess();

  // Starts `binary` with `--data-dir=<data_dir> --endpoint=unix://<socket>`
  // plus `extra_args`, stderr to `<data_dir>/../driver-N.log`, and waits
  // until Probe answers (or the process exits, or `timeout` passes). The
  // default allows for an emulated guest on a host whose CPU is shared:
  // start-up there has been seen to take over 20 s.
  static absl::StatusOr<std::unique_ptr<DriverProcess>> Start(
      const std::string& data_dir, const std::string& socket_path,
      const std::vector<std::string>& extra_args,
      absl::Duration timeout = absl::Seconds(90),
      const std::string& binary = DriverBinaryPath());

  // Sends `signal` and waits for exit; returns the exit status as from
  // waitpid (use WIFEXITED etc.).
  absl::StatusOr<int> Stop(int signal,
                           absl::Duration timeout = absl::Seconds(30));

  // Whether the process has exited (it is then reaped).
  bool Exited();

  pid_t pid() const { return pid_; }
  const std::string& socket_path() const { return socket_path_; }
  const std::string& log_path() const { return log_path_; }
  std::string ReadLog() const;

  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  csi::v1::Identity::Stub& identity() { return *identity_; }
  csi::v1::Controller::Stub& controller() { return *controller_; }
  csi::v1::Node::Stub& node() { return *node_; }

  // Service names from server reflection.
  absl::StatusOr<std::vector<std::string>> ListServices();

 private:
  DriverProcess(pid_t pid, std::string socket_path, std::string log_path);

  pid_t pid_;
  bool exited_ = false;
  const std::string socket_path_;
  const std::string log_path_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<csi::v1::Identity::Stub> identity_;
  std::unique_ptr<csi::v1::Controller::Stub> controller_;
  std::unique_ptr<csi::v1::Node::Stub> node_;
};

// A fresh context with a deadline, for one call.
std::unique_ptr<grpc::ClientContext> Context(
    absl::Duration timeout = absl::Seconds(60));

// Spawns `binary` with `args`, stdout+stderr to `log_path`; waits for exit
// and returns the waitpid status. For start-up failure tests.
absl::StatusOr<int> RunToExit(const std::string& binary,
                              const std::vector<std::string>& args,
                              const std::string& log_path,
                              absl::Duration timeout = absl::Seconds(20));

}  // namespace cellar::testing

#endif  // CELLAR_TEST_TESTING_DRIVER_PROCESS_H_
