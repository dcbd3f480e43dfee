#ifndef CELLAR_SRC_BACKEND_EXT4_USAGE_H_
#define CELLAR_SRC_BACKEND_EXT4_USAGE_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/platform/block_copier.h"

namespace cellar {

// What an ext4 filesystem's block bitmaps say is in use, read from the
// output of `dumpe2fs DEVICE` (e2fsprogs 1.4x, LC_ALL=C).
struct Ext4Usage {
  uint64_t block_bytes = 0;
  uint64_t block_count = 0;
  // The journal has not been replayed: the bitmaps on disk may miss blocks
  // the journal allocates, so they cannot tell what is free.
  bool needs_recovery = false;
  // Byte ranges of every block not listed free (block 0 and anything
  // below "First block" included), merged and sorted.
  std::vector<ByteRange> used;
  uint64_t used_bytes() const;
};

// Pure parser. INVALID_ARGUMENT when the text lacks the superblock fields
// or a group's free list does not parse; never guesses (a copy that trusts
// a wrong free list loses data). Free runs shorter than `min_free_bytes`
// count as used: a filesystem fragmented into millions of free blocks then
// gives a short list of ranges (and a copy of few, large chunks), at the
// cost of copying some free blocks.
absl::StatusOr<Ext4Usage> ParseDumpe2fs(absl::string_view text,
                                        uint64_t min_free_bytes = 0);

}  // namespace cellar

#endif  // CELLAR_SRC_BACKEND_EXT4_USAGE_H_
