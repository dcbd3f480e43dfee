#include "src/platform/command_runner.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace cellar {

std::string DescribeFailure(const Command& command,
                            const CommandResult& result) {
  std::string out = command.argv.empty() ? "<empty>" : command.argv[0];
  if (command.argv.size() > 1) absl::StrAppend(&out, " ", command.argv[1]);
  if (result.timed_out) {
    absl::StrAppend(&out, ": timed out");
  } else if (result.term_signal != 0) {
    absl::StrAppend(&out, ": killed by signal ", result.term_signal);
  } else {
    absl::StrAppend(&out, ": exit status ", result.exit_code);
  }
  absl::string_view err = absl::StripAsciiWhitespace(result.stderr_data);
  constexpr size_t kTail = 400;
  if (err.size() > kTail) err = err.substr(err.size() - kTail);
  if (!err.empty()) absl::StrAppend(&out, ": ", err);
  return out;
}

}  // namespace cellar
