#include "test/fakes/fake_command_runner.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace cellar {

void FakeCommandRunner::SetHandler(const std::string& program,
                                   Handler handler) {
  absl::MutexLock lock(&mu_);
  for (auto& entry : handlers_) {
    if (entry.first == program) {
      entry.second = std::move(handler);
      return;
    }
  }
  handlers_.emplace_back(program, std::move(handler));
}

void FakeCommandRunner::SetResult(const std::string& program, int exit_code,
                                  std::string out, std::string err) {
  SetHandler(program, [exit_code, out = std::move(out),
                       err = std::move(err)](const Command&) {
    CommandResult result;
    result.exit_code = exit_code;
    result.stdout_data = out;
    result.stderr_data = err;
    return absl::StatusOr<CommandResult>(result);
  });
}

std::vector<Command> FakeCommandRunner::calls() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

absl::StatusOr<CommandResult> FakeCommandRunner::Run(const Command& command) {
  if (command.argv.empty() || command.argv[0].empty()) {
    return absl::InvalidArgumentError("empty command");
  }
  Handler handler;
  {
    absl::MutexLock lock(&mu_);
    calls_.push_back(command);
    for (const auto& entry : handlers_) {
      if (entry.first == command.argv[0]) handler = entry.second;
    }
  }
  if (!handler) {
    return absl::NotFoundError(
        absl::StrCat("program not found: ", command.argv[0]));
  }
  return handler(command);
}

}  // namespace cellar
