#include "src/backend/ext4_usage.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace cellar {
namespace {

// "Block size:   4096" -> 4096.
bool Field(absl::string_view line, absl::string_view name, uint64_t* value) {
  if (!absl::ConsumePrefix(&line, name)) return false;
  return absl::SimpleAtoi(absl::StripAsciiWhitespace(line), value);
}

absl::Status Bad(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("dumpe2fs output: ", why));
}

}  // namespace

uint64_t Ext4Usage::used_bytes() const {
  uint64_t total = 0;
  for (const ByteRange& range : used) total += range.length;
  return total;
}

absl::StatusOr<Ext4Usage> ParseDumpe2fs(absl::string_view text,
                                        uint64_t min_free_bytes) {
  Ext4Usage usage;
  uint64_t first_block = 0;
  bool have_first = false, in_groups = false;
  std::vector<std::pair<uint64_t, uint64_t>> free;  // [first, last] blocks
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!in_groups) {
      if (absl::StartsWith(line, "Filesystem features:")) {
        for (absl::string_view feature :
             absl::StrSplit(line.substr(20), ' ', absl::SkipEmpty())) {
          if (feature == "needs_recovery") usage.needs_recovery = true;
        }
      }
      (void)Field(line, "Block count:", &usage.block_count);
      (void)Field(line, "Block size:", &usage.block_bytes);
      if (Field(line, "First block:", &first_block)) have_first = true;
      if (absl::StartsWith(line, "Group 0:")) in_groups = true;
      continue;
    }
    absl::string_view list = line;
    if (!absl::ConsumePrefix(&list, "  Free blocks:")) continue;
    for (absl::string_view item :
         absl::StrSplit(list, ',', absl::SkipEmpty())) {
      item = absl::StripAsciiWhitespace(item);
      if (item.empty()) continue;
      std::pair<absl::string_view, absl::string_view> ends =
          absl::StrSplit(item, absl::MaxSplits('-', 1));
      uint64_t first = 0, last = 0;
      if (!absl::SimpleAtoi(ends.first, &first)) {
        return Bad(absl::StrCat("bad free block \"", item, "\""));
      }
      last = first;
      if (!ends.second.empty() && !absl::SimpleAtoi(ends.second, &last)) {
        return Bad(absl::StrCat("bad free range \"", item, "\""));
      }
      if (last < first) return Bad(absl::StrCat("reversed range ", item));
      if (usage.block_bytes == 0 || usage.block_count == 0 || !have_first) {
        return Bad("free blocks before the block size, count and first block");
      }
      if (last >= usage.block_count) {
        return Bad(absl::StrCat("free range ", first, "-", last,
                                " beyond the block count ", usage.block_count));
      }
      // The primary superblock is at the first block: never free.
      if (first <= first_block) {
        return Bad(absl::StrCat("free range ", first, "-", last,
                                " at or below the first block"));
      }
      if ((last - first + 1) * usage.block_bytes < min_free_bytes) continue;
      free.emplace_back(first, last);
    }
  }
  if (usage.block_bytes == 0 || usage.block_count == 0 || !have_first) {
    return Bad("no block size, block count or first block");
  }
  if (!in_groups) return Bad("no block groups");
  std::sort(free.begin(), free.end());
  // Used: everything in [0, block_count) that no free range covers.
  uint64_t next = 0;  // first block not yet accounted for
  auto add_used = [&usage](uint64_t first, uint64_t end) {
    if (end <= first) return;
    const uint64_t offset = first * usage.block_bytes;
    const uint64_t length = (end - first) * usage.block_bytes;
    if (!usage.used.empty() &&
        usage.used.back().offset + usage.used.back().length == offset) {
      usage.used.back().length += length;
    } else {
      usage.used.push_back(ByteRange{offset, length});
    }
  };
  for (const auto& [first, last] : free) {
    if (first < next) return Bad("overlapping free ranges");
    add_used(next, first);
    next = last + 1;
  }
  add_used(next, usage.block_count);
  return usage;
}

}  // namespace cellar
