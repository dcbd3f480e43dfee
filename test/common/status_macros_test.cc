#include "src/common/status_macros.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"

namespace cellar {
namespace {

absl::Status Fails(int* calls) {
  ++*calls;
  return absl::NotFoundError("gone");
}

absl::Status Succeeds(int* calls) {
  ++*calls;
  return absl::OkStatus();
}

absl::Status TwoSteps(bool first_fails, int* calls, bool* reached_end) {
  ABSL_RETURN_IF_ERROR(first_fails ? Fails(calls) : Succeeds(calls));
  ABSL_RETURN_IF_ERROR(Succeeds(calls));
  *reached_end = true;
  return absl::OkStatus();
}

TEST(StatusMacrosTest, ReturnIfErrorReturnsTheFirstErrorAndEvaluatesOnce) {
  int calls = 0;
  bool reached_end = false;
  absl::Status status = TwoSteps(/*first_fails=*/true, &calls, &reached_end);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(), "gone");
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(reached_end);

  calls = 0;
  EXPECT_TRUE(TwoSteps(/*first_fails=*/false, &calls, &reached_end).ok());
  EXPECT_EQ(calls, 2);
  EXPECT_TRUE(reached_end);
}

absl::StatusOr<std::unique_ptr<std::string>> MakeText(bool ok) {
  if (!ok) return absl::InvalidArgumentError("no text");
  return std::make_unique<std::string>("text");
}

// Declares, assigns an existing variable, and moves a move-only value.
absl::StatusOr<std::string> Concatenate(bool first_ok, bool second_ok) {
  ABSL_ASSIGN_OR_RETURN(std::unique_ptr<std::string> first, MakeText(first_ok));
  std::unique_ptr<std::string> second;
  ABSL_ASSIGN_OR_RETURN(second, MakeText(second_ok));
  return *first + "+" + *second;
}

TEST(StatusMacrosTest, AssignOrReturnMovesTheValueOrReturnsTheStatus) {
  absl::StatusOr<std::string> both = Concatenate(true, true);
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_EQ(*both, "text+text");

  for (auto [first_ok, second_ok] : {std::pair{false, true}, {true, false}}) {
    absl::StatusOr<std::string> failed = Concatenate(first_ok, second_ok);
    EXPECT_EQ(failed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(failed.status().message(), "no text");
  }
}

}  // namespace
}  // namespace cellar
