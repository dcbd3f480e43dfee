#ifndef CELLAR_SRC_PLATFORM_BLOCK_COPIER_H_
#define CELLAR_SRC_PLATFORM_BLOCK_COPIER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cellar {

// A run of bytes at the same offset in the source and the target.
struct ByteRange {
  uint64_t offset = 0;
  uint64_t length = 0;

  bool operator==(const ByteRange& other) const {
    return offset == other.offset && length == other.length;
  }
};

struct CopyOptions {
  // Upper bound on the copy's rate, so the source's other users keep their
  // share of the disk. 0: unbounded.
  uint64_t bytes_per_second = 0;
  // Size of one read and one write (O_DIRECT: a multiple of 4096).
  uint64_t chunk_bytes = 1 << 20;
  // Checked before every chunk: when it turns true the copy stops with
  // CANCELLED. May be null.
  const std::atomic<bool>* cancel = nullptr;
  // Called with the bytes copied so far every `progress_every_bytes` and at
  // the end; a non-OK answer stops the copy with that status. May be empty.
  std::function<absl::Status(uint64_t copied)> progress;
  uint64_t progress_every_bytes = 64 << 20;
};

// Copies bytes between block devices, bypassing the page cache (O_DIRECT),
// for copies of whole volumes that must not evict everyone else's cache.
class BlockCopier {
 public:
  virtual ~BlockCopier() = default;

  // Copies `ranges` of `from` onto the same offsets of `to`, then flushes
  // `to` (fdatasync). Ranges are widened to 4096-byte boundaries and clipped
  // to the smaller device; an empty `ranges` copies nothing. `to` is opened
  // exclusively (O_EXCL): a device someone holds is never written. Returns
  // the bytes copied. Errors: NOT_FOUND when a device is missing,
  // FAILED_PRECONDITION when `to` is busy, CANCELLED as above, the errno's
  // status (with the device and offset) when a read or write fails.
  // Thread-safe; copies run concurrently.
  virtual absl::StatusOr<uint64_t> Copy(const std::string& from,
                                        const std::string& to,
                                        const std::vector<ByteRange>& ranges,
                                        const CopyOptions& options) = 0;
};

}  // namespace cellar

#endif  // CELLAR_SRC_PLATFORM_BLOCK_COPIER_H_
