#ifndef CELLAR_SRC_COMMON_COMMAND_TALLY_H_
#define CELLAR_SRC_COMMON_COMMAND_TALLY_H_

#include <string>

#include "absl/strings/string_view.h"

namespace cellar {

// A per-thread tally of the programs started, so the RPC log line can say
// which external commands an RPC ran and how often (an `lvm` process
// rescans devices each time: the count is what the LVM latency is made
// of). The synchronous gRPC server runs each RPC on one thread, so the
// thread's tally between ResetCommandTally and CommandTallyText is the
// RPC's. Work the RPC hands to other threads is not counted for it.

// Counts one start of `program` (a path or a bare name; its base name is
// what is counted) on the calling thread.
void TallyCommand(absl::string_view program);

// Forgets the calling thread's tally.
void ResetCommandTally();

// The calling thread's tally as "NAME:COUNT,..." in name order, "-" when
// no program was started.
std::string CommandTallyText();

}  // namespace cellar

#endif  // CELLAR_SRC_COMMON_COMMAND_TALLY_H_
