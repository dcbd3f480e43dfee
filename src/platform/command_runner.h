#ifndef CELLAR_SRC_PLATFORM_COMMAND_RUNNER_H_
#define CELLAR_SRC_PLATFORM_COMMAND_RUNNER_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cellar {

// One program to run. argv[0] is looked up in PATH when it has no slash.
// Its stdin is /dev/null: no secret ever reaches a program (argv and the
// environment are visible to other processes; keys go through
// libcryptsetup).
struct Command {
  std::vector<std::string> argv;
  // Extra environment entries ("NAME=value") on top of LC_ALL=C and PATH,
  // e.g. LVM_SYSTEM_DIR. Never secrets.
  std::vector<std::string> env;
  // The whole process group is killed (SIGKILL) when this passes.
  absl::Duration timeout = absl::Seconds(60);
  // Each of stdout and stderr keeps at most this many bytes; the rest is read
  // and dropped so the child never blocks on a full pipe.
  size_t max_output_bytes = 1 << 20;
};

struct CommandResult {
  int exit_code = -1;   // valid when term_signal == 0
  int term_signal = 0;  // the signal that ended the program, else 0
  bool timed_out = false;
  bool output_truncated = false;
  std::string stdout_data;
  std::string stderr_data;

  bool Succeeded() const { return term_signal == 0 && exit_code == 0; }
};

// Runs programs without a shell, with LC_ALL=C and a fixed PATH.
class CommandRunner {
 public:
  virtual ~CommandRunner() = default;

  // Runs `command` to completion. Returns a result for every program that was
  // started, whatever its exit status; an error (INVALID_ARGUMENT for an empty
  // argv, NOT_FOUND when the program does not exist, INTERNAL when pipes or
  // the spawn fail) only when it could not be run at all. Thread-safe.
  virtual absl::StatusOr<CommandResult> Run(const Command& command) = 0;
};

// Summarises a failed result as a status message: program, exit status and
// the tail of stderr. Never includes stdin.
std::string DescribeFailure(const Command& command,
                            const CommandResult& result);

}  // namespace cellar

#endif  // CELLAR_SRC_PLATFORM_COMMAND_RUNNER_H_
