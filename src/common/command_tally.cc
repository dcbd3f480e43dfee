#include "src/common/command_tally.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace cellar {
namespace {

// Few distinct programs per thread (lvm, mkfs.*, blkid, ...): a small map.
std::map<std::string, int>& Tally() {
  thread_local std::map<std::string, int> tally;
  return tally;
}

}  // namespace

void TallyCommand(absl::string_view program) {
  const size_t slash = program.rfind('/');
  if (slash != absl::string_view::npos) program.remove_prefix(slash + 1);
  ++Tally()[std::string(program)];
}

void ResetCommandTally() { Tally().clear(); }

std::string CommandTallyText() {
  const std::map<std::string, int>& tally = Tally();
  if (tally.empty()) return "-";
  return absl::StrJoin(tally, ",", [](std::string* out, const auto& entry) {
    absl::StrAppend(out, entry.first, ":", entry.second);
  });
}

}  // namespace cellar
