#include "src/common/cli.h"

#include <algorithm>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace cellar {

std::vector<std::string> NormalizeFlagArgs(
    const std::vector<std::string>& args) {
  std::vector<std::string> out;
  out.reserve(args.size());
  bool flags_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") flags_done = true;
    if (i == 0 || flags_done || arg.size() < 3 || arg[0] != '-') {
      out.push_back(arg);
      continue;
    }
    const size_t dashes = arg[1] == '-' ? 2 : 1;
    const size_t eq = arg.find('=');
    const size_t name_end = eq == std::string::npos ? arg.size() : eq;
    std::string name = arg.substr(dashes, name_end - dashes);
    std::replace(name.begin(), name.end(), '-', '_');
    out.push_back(
        absl::StrCat(arg.substr(0, dashes), name, arg.substr(name_end)));
  }
  return out;
}

std::string DashedFlagName(absl::string_view name) {
  return absl::StrReplaceAll(name, {{"_", "-"}});
}

std::string FlagHelp(absl::string_view usage, absl::string_view defining_file) {
  std::string out = absl::StrCat(usage, "\n\nFlags:\n");
  std::vector<std::pair<std::string, const absl::CommandLineFlag*>> flags;
  for (const auto& entry : absl::GetAllFlags()) {
    if (!absl::EndsWith(entry.second->Filename(), defining_file)) continue;
    flags.emplace_back(std::string(entry.first), entry.second);
  }
  std::sort(flags.begin(), flags.end());
  for (const auto& [name, flag] : flags) {
    absl::StrAppend(&out, "  --", DashedFlagName(name), " (", flag->Help(),
                    "); default: \"", flag->DefaultValue(), "\"\n");
  }
  return out;
}

}  // namespace cellar
