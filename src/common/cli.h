#ifndef CELLAR_SRC_COMMON_CLI_H_
#define CELLAR_SRC_COMMON_CLI_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace cellar {

// The driver's flags are spelt with dashes (--data-dir), as Kubernetes
// manifests spell them; Abseil names them with underscores. Rewrites the
// name part of every "--flag[=value]" argument before Abseil parses it, and
// leaves values, positional arguments and everything after "--" alone.
std::vector<std::string> NormalizeFlagArgs(
    const std::vector<std::string>& args);

// "data_dir" -> "data-dir".
std::string DashedFlagName(absl::string_view name);

// The --help text: usage, then every flag defined in a file whose path ends
// with `defining_file`, dashed, with its default and help.
std::string FlagHelp(absl::string_view usage, absl::string_view defining_file);

}  // namespace cellar

#endif  // CELLAR_SRC_COMMON_CLI_H_
