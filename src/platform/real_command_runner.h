#ifndef CELLAR_SRC_PLATFORM_REAL_COMMAND_RUNNER_H_
#define CELLAR_SRC_PLATFORM_REAL_COMMAND_RUNNER_H_

#include "src/platform/command_runner.h"

namespace cellar {

// posix_spawn in a new process group, pipes polled until exit or timeout.
class RealCommandRunner final : public CommandRunner {
 public:
  RealCommandRunner() = default;
  RealCommandRunner(const RealCommandRunner&) = delete;
  RealCommandRunner& operator=(const RealCommandRunner&) = delete;

  absl::StatusOr<CommandResult> Run(const Command& command) override;
};

}  // namespace cellar

#endif  // CELLAR_SRC_PLATFORM_REAL_COMMAND_RUNNER_H_
