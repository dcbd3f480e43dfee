#include "src/platform/real_command_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/common/command_tally.h"
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

// The two pipes from one child. Each end is closed as soon as it is no
// longer needed, and every end still open is closed on destruction.
struct ChildPipes {
  int out[2] = {-1, -1};
  int err[2] = {-1, -1};

  ChildPipes() = default;
  ChildPipes(const ChildPipes&) = delete;
  ChildPipes& operator=(const ChildPipes&) = delete;
  ~ChildPipes() {
    for (int* fd : {&out[0], &out[1], &err[0], &err[1]}) {
      CloseFd(fd);
    }
  }

  absl::Status Open() {
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
      return absl::ErrnoToStatus(errno, "pipe2");
    }
    return absl::OkStatus();
  }
};

// Starts `program` in its own process group with /dev/null as its stdin,
// the pipes as its stdout and stderr, default signal dispositions, an empty
// signal mask and only the fixed environment. Leaves our ends of the pipes open
// and non-blocking.
absl::StatusOr<pid_t> Spawn(const std::string& program, const Command& command,
                            ChildPipes& pipes) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  auto destroy_actions =
      absl::MakeCleanup([&] { posix_spawn_file_actions_destroy(&actions); });
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null",
                                   O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipes.out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, pipes.err[1], STDERR_FILENO);

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
  CloseFd(&pipes.out[1]);
  CloseFd(&pipes.err[1]);
  for (int fd : {pipes.out[0], pipes.err[0]}) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
  return pid;
}

// Reads what is ready on `*fd` into `sink`, keeping at most `limit` bytes and
// dropping (but still reading) the rest; closes `*fd` at end of file.
void Drain(int* fd, size_t limit, std::string* sink, CommandResult* result) {
  char buf[16384];
  const ssize_t got = read(*fd, buf, sizeof(buf));
  if (got > 0) {
    const size_t room = limit > sink->size() ? limit - sink->size() : 0;
    if (static_cast<size_t>(got) > room) result->output_truncated = true;
    sink->append(buf, std::min(room, static_cast<size_t>(got)));
  } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
    CloseFd(fd);
  }
}

// Moves data through the pipes until the child closes its output or the
// timeout passes; on timeout (or a poll failure) kills the child's group.
void Pump(const Command& command, pid_t pid, ChildPipes& pipes,
          CommandResult* result) {
  const absl::Time deadline = absl::Now() + command.timeout;
  while (pipes.out[0] >= 0 || pipes.err[0] >= 0) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      result->timed_out = true;
      kill(-pid, SIGKILL);
      break;
    }
    // Slot order is fixed; a closed end polls as fd -1, which poll ignores.
    pollfd fds[2] = {{pipes.out[0], POLLIN, 0}, {pipes.err[0], POLLIN, 0}};
    const int wait_ms = static_cast<int>(
        std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 1000));
    if (poll(fds, 2, wait_ms) < 0) {
      if (errno == EINTR) continue;
      kill(-pid, SIGKILL);
      break;
    }
    if (fds[0].revents != 0) {
      Drain(&pipes.out[0], command.max_output_bytes, &result->stdout_data,
            result);
    }
    if (fds[1].revents != 0) {
      Drain(&pipes.err[0], command.max_output_bytes, &result->stderr_data,
            result);
    }
  }
}

// Waits for the child and records how it ended.
absl::Status Reap(pid_t pid, CommandResult* result) {
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0) {
    if (errno != EINTR) return absl::ErrnoToStatus(errno, "waitpid");
  }
  // Reap anything the program left behind in its group (best effort).
  if (result->timed_out) kill(-pid, SIGKILL);
  if (WIFEXITED(wstatus)) {
    result->exit_code = WEXITSTATUS(wstatus);
  } else if (WIFSIGNALED(wstatus)) {
    result->term_signal = WTERMSIG(wstatus);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CommandResult> RealCommandRunner::Run(const Command& command) {
  if (command.argv.empty() || command.argv[0].empty()) {
    return absl::InvalidArgumentError("empty command");
  }
  ABSL_ASSIGN_OR_RETURN(std::string program, Resolve(command.argv[0]));
  ChildPipes pipes;
  ABSL_RETURN_IF_ERROR(pipes.Open());
  ABSL_ASSIGN_OR_RETURN(pid_t pid, Spawn(program, command, pipes));
  TallyCommand(program);
  CommandResult result;
  Pump(command, pid, pipes, &result);
  ABSL_RETURN_IF_ERROR(Reap(pid, &result));
  return result;
}

}  // namespace cellar
