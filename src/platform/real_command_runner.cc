#include "src/platform/real_command_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"

namespace cellar {
namespace {

constexpr const char* kPath = "/usr/sbin:/usr/bin:/sbin:/bin";

void CloseFd(int* fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

// Resolves a bare program name against kPath so a missing tool is NOT_FOUND
// rather than an exit status 127 from a child.
absl::StatusOr<std::string> Resolve(const std::string& program) {
  if (program.find('/') != std::string::npos) {
    if (access(program.c_str(), X_OK) != 0) {
      return absl::NotFoundError(absl::StrCat("program not found: ", program));
    }
    return program;
  }
  for (absl::string_view dir : {"/usr/sbin", "/usr/bin", "/sbin", "/bin"}) {
    std::string candidate = absl::StrCat(dir, "/", program);
    struct stat st;
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return absl::NotFoundError(absl::StrCat("program not found: ", program));
}

}  // namespace

absl::StatusOr<CommandResult> RealCommandRunner::Run(const Command& command) {
  if (command.argv.empty() || command.argv[0].empty()) {
    return absl::InvalidArgumentError("empty command");
  }
  ABSL_ASSIGN_OR_RETURN(std::string program, Resolve(command.argv[0]));

  int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
  auto close_all = absl::MakeCleanup([&] {
    for (int* fd : {&in_pipe[0], &in_pipe[1], &out_pipe[0], &out_pipe[1],
                    &err_pipe[0], &err_pipe[1]}) {
      CloseFd(fd);
    }
  });
  if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0 ||
      pipe2(err_pipe, O_CLOEXEC) != 0) {
    return absl::ErrnoToStatus(errno, "pipe2");
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  auto destroy_actions =
      absl::MakeCleanup([&] { posix_spawn_file_actions_destroy(&actions); });
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  auto destroy_attr =
      absl::MakeCleanup([&] { posix_spawnattr_destroy(&attr); });
  sigset_t no_signals, default_signals;
  sigemptyset(&no_signals);
  sigfillset(&default_signals);
  posix_spawnattr_setsigmask(&attr, &no_signals);
  posix_spawnattr_setsigdefault(&attr, &default_signals);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
                                      POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> argv;
  for (const std::string& arg : command.argv) {
    argv.push_back(const_cast<char*>(arg.c_str()));
  }
  argv.push_back(nullptr);
  std::string path_env = absl::StrCat("PATH=", kPath);
  char lc_all[] = "LC_ALL=C";
  std::vector<char*> envp = {lc_all, path_env.data()};
  for (const std::string& entry : command.env) {
    envp.push_back(const_cast<char*>(entry.c_str()));
  }
  envp.push_back(nullptr);

  pid_t pid = -1;
  const int spawn_error = posix_spawn(&pid, program.c_str(), &actions, &attr,
                                      argv.data(), envp.data());
  if (spawn_error != 0) {
    return absl::ErrnoToStatus(spawn_error,
                               absl::StrCat("spawn ", command.argv[0]));
  }
  CloseFd(&in_pipe[0]);
  CloseFd(&out_pipe[1]);
  CloseFd(&err_pipe[1]);
  for (int fd : {in_pipe[1], out_pipe[0], err_pipe[0]}) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
  if (command.stdin_data.empty()) CloseFd(&in_pipe[1]);

  CommandResult result;
  size_t stdin_written = 0;
  const absl::Time deadline = absl::Now() + command.timeout;
  // SIGPIPE on a child that exits without reading its stdin must not kill us;
  // main() ignores SIGPIPE, and a write error simply stops feeding stdin.
  while (out_pipe[0] >= 0 || err_pipe[0] >= 0) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      result.timed_out = true;
      kill(-pid, SIGKILL);
      break;
    }
    pollfd fds[3];
    int n = 0;
    int out_index = -1, err_index = -1, in_index = -1;
    if (out_pipe[0] >= 0) {
      out_index = n;
      fds[n++] = {out_pipe[0], POLLIN, 0};
    }
    if (err_pipe[0] >= 0) {
      err_index = n;
      fds[n++] = {err_pipe[0], POLLIN, 0};
    }
    if (in_pipe[1] >= 0) {
      in_index = n;
      fds[n++] = {in_pipe[1], POLLOUT, 0};
    }
    const int wait_ms = static_cast<int>(
        std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 1000));
    const int ready = poll(fds, n, wait_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      kill(-pid, SIGKILL);
      break;
    }
    auto drain = [&](int index, int* fd, std::string* sink) {
      if (index < 0 || fds[index].revents == 0) return;
      char buf[16384];
      const ssize_t got = read(*fd, buf, sizeof(buf));
      if (got > 0) {
        const size_t room = command.max_output_bytes > sink->size()
                                ? command.max_output_bytes - sink->size()
                                : 0;
        if (static_cast<size_t>(got) > room) result.output_truncated = true;
        sink->append(buf, std::min(room, static_cast<size_t>(got)));
      } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
        CloseFd(fd);
      }
    };
    drain(out_index, &out_pipe[0], &result.stdout_data);
    drain(err_index, &err_pipe[0], &result.stderr_data);
    if (in_index >= 0 && fds[in_index].revents != 0) {
      if (fds[in_index].revents & (POLLERR | POLLHUP)) {
        CloseFd(&in_pipe[1]);
      } else {
        const ssize_t put =
            write(in_pipe[1], command.stdin_data.data() + stdin_written,
                  command.stdin_data.size() - stdin_written);
        if (put > 0) stdin_written += static_cast<size_t>(put);
        if ((put < 0 && errno != EAGAIN && errno != EINTR) ||
            stdin_written == command.stdin_data.size()) {
          CloseFd(&in_pipe[1]);
        }
      }
    }
  }
  CloseFd(&in_pipe[1]);

  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0) {
    if (errno != EINTR) return absl::ErrnoToStatus(errno, "waitpid");
  }
  // Reap anything the program left behind in its group (best effort).
  if (result.timed_out) kill(-pid, SIGKILL);
  if (WIFEXITED(wstatus)) {
    result.exit_code = WEXITSTATUS(wstatus);
  } else if (WIFSIGNALED(wstatus)) {
    result.term_signal = WTERMSIG(wstatus);
  }
  return result;
}

}  // namespace cellar
