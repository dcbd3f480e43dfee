#include "src/platform/errno_status.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace cellar {
namespace {

// Abseil maps EAGAIN to UNAVAILABLE; this call site calls it ABORTED.
constexpr ErrnoCode kAgainIsAborted[] = {
    {EAGAIN, absl::StatusCode::kAborted},
};

TEST(ErrnoStatusTest, MessageNamesWhatAndTheErrno) {
  const absl::Status status = ErrnoStatus(ENOENT, "open /dev/x");
  EXPECT_EQ(status.message(), absl::StrCat("open /dev/x: ", strerror(ENOENT)));
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
}

TEST(ErrnoStatusTest, OverrideWinsOverTheDefault) {
  EXPECT_EQ(ErrnoStatusCode(EAGAIN), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ErrnoStatusCode(EAGAIN, kAgainIsAborted),
            absl::StatusCode::kAborted);
}

TEST(ErrnoStatusTest, UnlistedErrnoTakesOtherwiseWhenGiven) {
  EXPECT_EQ(ErrnoStatusCode(EIO, kAgainIsAborted),
            absl::ErrnoToStatusCode(EIO));
  EXPECT_EQ(ErrnoStatusCode(EIO, kAgainIsAborted, absl::StatusCode::kInternal),
            absl::StatusCode::kInternal);
  // An empty table with `otherwise` gives exactly that code.
  EXPECT_EQ(ErrnoStatus(ENOENT, "x", {}, absl::StatusCode::kAborted).code(),
            absl::StatusCode::kAborted);
}

TEST(ErrnoStatusTest, OpenTable) {
  const struct {
    int err;
    absl::StatusCode code;
  } kCases[] = {
      {ENOENT, absl::StatusCode::kNotFound},
      {ENXIO, absl::StatusCode::kNotFound},
      {EACCES, absl::StatusCode::kPermissionDenied},
      {EROFS, absl::StatusCode::kPermissionDenied},
      {EBUSY, absl::StatusCode::kFailedPrecondition},
      {EISDIR, absl::StatusCode::kInvalidArgument},
      {EMFILE, absl::StatusCode::kResourceExhausted},
      {EIO, absl::StatusCode::kInternal},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(
        ErrnoStatusCode(c.err, kOpenErrnoCodes, absl::StatusCode::kInternal),
        c.code)
        << strerror(c.err);
  }
}

}  // namespace
}  // namespace cellar
