#include "src/platform/real_block_copier.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <memory>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "src/common/status_macros.h"
#include "src/platform/errno_status.h"

namespace cellar {
namespace {

constexpr uint64_t kAlign = 4096;

// A device that went away is NOT_FOUND and one held by someone else is
// FAILED_PRECONDITION; the rest keep Abseil's errno mapping.
constexpr ErrnoCode kCopyErrnoCodes[] = {
    {ENOENT, absl::StatusCode::kNotFound},
    {ENXIO, absl::StatusCode::kNotFound},
    {ENODEV, absl::StatusCode::kNotFound},
    {EBUSY, absl::StatusCode::kFailedPrecondition},
};

absl::Status CopyErrno(int error, const std::string& what) {
  return ErrnoStatus(error, what, kCopyErrnoCodes);
}

absl::StatusOr<uint64_t> DeviceBytes(int fd, const std::string& path) {
  uint64_t bytes = 0;
  if (ioctl(fd, BLKGETSIZE64, &bytes) != 0) {
    return CopyErrno(errno, absl::StrCat("size of ", path));
  }
  return bytes;
}

using CopyBuffer = std::unique_ptr<char, decltype(&free)>;

// O_DIRECT wants its buffer aligned like the I/O.
absl::StatusOr<CopyBuffer> AlignedBuffer(uint64_t bytes) {
  void* raw = nullptr;
  if (posix_memalign(&raw, kAlign, bytes) != 0) {
    return absl::ResourceExhaustedError("cannot allocate a copy buffer");
  }
  return CopyBuffer(static_cast<char*>(raw), free);
}

bool IsCancelled(const CopyOptions& options) {
  return options.cancel != nullptr && options.cancel->load();
}

// Reads `n` bytes of `in` (the device `from`) at `at` into `buffer`, across
// short reads and EINTR; a device that ends first is DATA_LOSS.
absl::Status ReadChunk(int in, const std::string& from, uint64_t at, size_t n,
                       char* buffer) {
  size_t done = 0;
  while (done < n) {
    const ssize_t got =
        pread(in, buffer + done, n - done, static_cast<off_t>(at + done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      return CopyErrno(errno,
                       absl::StrCat("reading ", from, " at ", at + done));
    }
    if (got == 0) {
      return absl::DataLossError(
          absl::StrCat(from, " ended early at ", at + done));
    }
    done += static_cast<size_t>(got);
  }
  return absl::OkStatus();
}

// Writes `n` bytes of `buffer` to `out` (the device `to`) at `at`, across
// short writes and EINTR; a write of nothing is EIO.
absl::Status WriteChunk(int out, const std::string& to, uint64_t at, size_t n,
                        const char* buffer) {
  size_t done = 0;
  while (done < n) {
    const ssize_t put =
        pwrite(out, buffer + done, n - done, static_cast<off_t>(at + done));
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) {
      return CopyErrno(put < 0 ? errno : EIO,
                       absl::StrCat("writing ", to, " at ", at + done));
    }
    done += static_cast<size_t>(put);
  }
  return absl::OkStatus();
}

// Sleeps off whatever a copy that started at `start` and has copied
// `copied` bytes is ahead of options.bytes_per_second (not 0).
void SleepOffLead(uint64_t copied, absl::Time start,
                  const CopyOptions& options) {
  const absl::Duration due =
      absl::Seconds(static_cast<double>(copied) /
                    static_cast<double>(options.bytes_per_second));
  // In slices, so that a cancel is seen within a tenth of a second.
  for (absl::Duration ahead = due - (absl::Now() - start);
       ahead > absl::ZeroDuration(); ahead = due - (absl::Now() - start)) {
    if (IsCancelled(options)) break;
    absl::SleepFor(std::min(ahead, absl::Milliseconds(100)));
  }
}

}  // namespace

absl::StatusOr<uint64_t> RealBlockCopier::Copy(
    const std::string& from, const std::string& to,
    const std::vector<ByteRange>& ranges, const CopyOptions& options) {
  const uint64_t chunk =
      std::max<uint64_t>(kAlign, options.chunk_bytes / kAlign * kAlign);
  const int in = open(from.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
  if (in < 0) return CopyErrno(errno, absl::StrCat("cannot open ", from));
  absl::Cleanup close_in = [in] { close(in); };
  const int out = open(to.c_str(), O_WRONLY | O_DIRECT | O_EXCL | O_CLOEXEC);
  if (out < 0) return CopyErrno(errno, absl::StrCat("cannot open ", to));
  absl::Cleanup close_out = [out] { close(out); };
  ABSL_ASSIGN_OR_RETURN(uint64_t in_bytes, DeviceBytes(in, from));
  ABSL_ASSIGN_OR_RETURN(uint64_t out_bytes, DeviceBytes(out, to));
  const uint64_t end_limit = std::min(in_bytes, out_bytes);
  ABSL_ASSIGN_OR_RETURN(CopyBuffer buffer, AlignedBuffer(chunk));

  const absl::Time start = absl::Now();
  uint64_t copied = 0;
  uint64_t next_progress = options.progress_every_bytes;
  for (const ByteRange& range : ranges) {
    uint64_t at = range.offset / kAlign * kAlign;
    uint64_t end = range.offset + range.length;
    end = std::min(end_limit, (end + kAlign - 1) / kAlign * kAlign);
    while (at < end) {
      if (IsCancelled(options)) {
        return absl::CancelledError(
            absl::StrCat("copy of ", from, " to ", to, " cancelled"));
      }
      // Device sizes are multiples of 512: the last chunk may be shorter
      // than 4096 but stays aligned to the sector.
      const size_t n = static_cast<size_t>(std::min(chunk, end - at));
      ABSL_RETURN_IF_ERROR(ReadChunk(in, from, at, n, buffer.get()));
      ABSL_RETURN_IF_ERROR(WriteChunk(out, to, at, n, buffer.get()));
      at += n;
      copied += n;
      if (options.bytes_per_second > 0) SleepOffLead(copied, start, options);
      if (options.progress && copied >= next_progress) {
        next_progress = copied + options.progress_every_bytes;
        ABSL_RETURN_IF_ERROR(options.progress(copied));
      }
    }
  }
  if (fdatasync(out) != 0) {
    return CopyErrno(errno, absl::StrCat("flushing ", to));
  }
  if (options.progress) {
    ABSL_RETURN_IF_ERROR(options.progress(copied));
  }
  return copied;
}

}  // namespace cellar
