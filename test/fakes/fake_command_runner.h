#ifndef CELLAR_TEST_FAKES_FAKE_COMMAND_RUNNER_H_
#define CELLAR_TEST_FAKES_FAKE_COMMAND_RUNNER_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "src/platform/command_runner.h"

namespace cellar {

// Records every command and answers from handlers registered by program
// name. A program with no handler is NOT_FOUND, like a missing binary.
class FakeCommandRunner final : public CommandRunner {
 public:
  using Handler = std::function<absl::StatusOr<CommandResult>(const Command&)>;

  FakeCommandRunner() = default;
  FakeCommandRunner(const FakeCommandRunner&) = delete;
  FakeCommandRunner& operator=(const FakeCommandRunner&) = delete;

  // Answers every later run of `program` (argv[0]) with `handler`.
  void SetHandler(const std::string& program, Handler handler);
  // Shorthand: `program` exits with `exit_code` printing `out` and `err`.
  void SetResult(const std::string& program, int exit_code,
                 std::string out = "", std::string err = "");

  std::vector<Command> calls() const;

  absl::StatusOr<CommandResult> Run(const Command& command) override;

 private:
  mutable absl::Mutex mu_;
  std::vector<std::pair<std::string, Handler>> handlers_ ABSL_GUARDED_BY(mu_);
  std::vector<Command> calls_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cellar

#endif  // CELLAR_TEST_FAKES_FAKE_COMMAND_RUNNER_H_
