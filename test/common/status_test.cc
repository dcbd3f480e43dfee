#include "src/common/status.h"

#include "gtest/gtest.h"

namespace cellar {
namespace {

TEST(StatusTest, OkMapsToOk) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
}

TEST(StatusTest, CodesAndMessagesSurviveBothWays) {
  const absl::Status cases[] = {
      absl::InvalidArgumentError("bad id"),
      absl::NotFoundError("no volume"),
      absl::AlreadyExistsError("other size"),
      absl::PermissionDeniedError("pod not admitted"),
      absl::ResourceExhaustedError("full"),
      absl::FailedPreconditionError("in use"),
      absl::AbortedError("busy"),
      absl::OutOfRangeError("too big"),
      absl::UnimplementedError("later"),
      absl::InternalError("oops"),
      absl::UnavailableError("down"),
  };
  for (const absl::Status& status : cases) {
    const grpc::Status wire = ToGrpcStatus(status);
    EXPECT_EQ(static_cast<int>(wire.error_code()),
              static_cast<int>(status.code()));
    EXPECT_EQ(wire.error_message(), status.message());
    EXPECT_EQ(FromGrpcStatus(wire), status);
  }
}

TEST(StatusTest, RequiredFields) {
  EXPECT_TRUE(RequireField("vol-1", "volume_id").ok());
  EXPECT_EQ(RequireField("", "volume_id"),
            absl::InvalidArgumentError("volume_id is missing"));
  EXPECT_TRUE(RequirePresent(true, "volume_capability").ok());
  EXPECT_EQ(RequirePresent(false, "volume_capability"),
            absl::InvalidArgumentError("volume_capability is missing"));
}

}  // namespace
}  // namespace cellar
