#include "src/platform/mountinfo.h"

#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace cellar {

bool MountEntry::HasMountOption(absl::string_view option) const {
  for (absl::string_view o : absl::StrSplit(mount_options, ',')) {
    if (o == option) return true;
  }
  return false;
}

std::string UnescapeMountField(absl::string_view field) {
  std::string out;
  out.reserve(field.size());
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      const char a = field[i + 1], b = field[i + 2], c = field[i + 3];
      if (a >= '0' && a <= '3' && b >= '0' && b <= '7' && c >= '0' &&
          c <= '7') {
        out += static_cast<char>((a - '0') * 64 + (b - '0') * 8 + (c - '0'));
        i += 3;
        continue;
      }
    }
    out += field[i];
  }
  return out;
}

absl::StatusOr<std::vector<MountEntry>> ParseMountInfo(absl::string_view text) {
  std::vector<MountEntry> entries;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    if (line.empty()) continue;
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, ' ', absl::SkipEmpty());
    auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat("mountinfo line ", line_number, ": ", why));
    };
    // Six fixed fields, optional fields, "-", then three more.
    if (fields.size() < 10) return bad("too few fields");
    MountEntry entry;
    if (!absl::SimpleAtoi(fields[0], &entry.mount_id) ||
        !absl::SimpleAtoi(fields[1], &entry.parent_id)) {
      return bad("bad mount id");
    }
    std::pair<absl::string_view, absl::string_view> dev =
        absl::StrSplit(fields[2], absl::MaxSplits(':', 1));
    if (!absl::SimpleAtoi(dev.first, &entry.major) ||
        !absl::SimpleAtoi(dev.second, &entry.minor)) {
      return bad("bad device number");
    }
    entry.root = UnescapeMountField(fields[3]);
    entry.mount_point = UnescapeMountField(fields[4]);
    entry.mount_options = std::string(fields[5]);
    size_t i = 6;
    while (i < fields.size() && fields[i] != "-") {
      entry.optional_fields.emplace_back(fields[i]);
      ++i;
    }
    if (i == fields.size()) return bad("missing separator");
    if (fields.size() - i < 3) return bad("too few fields after separator");
    entry.fs_type = UnescapeMountField(fields[i + 1]);
    entry.source = UnescapeMountField(fields[i + 2]);
    entry.super_options =
        fields.size() > i + 3 ? std::string(fields[i + 3]) : std::string();
    entries.push_back(std::move(entry));
  }
  return entries;
}

}  // namespace cellar
