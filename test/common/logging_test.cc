#include "src/common/logging.h"

#include <sstream>

#include "gtest/gtest.h"
#include "spdlog/sinks/ostream_sink.h"

namespace cellar {
namespace {

TEST(LoggingTest, ParsesLevels) {
  EXPECT_EQ(*ParseLogLevel("trace"), spdlog::level::trace);
  EXPECT_EQ(*ParseLogLevel("debug"), spdlog::level::debug);
  EXPECT_EQ(*ParseLogLevel("info"), spdlog::level::info);
  EXPECT_EQ(*ParseLogLevel("warn"), spdlog::level::warn);
  EXPECT_EQ(*ParseLogLevel("error"), spdlog::level::err);
  EXPECT_EQ(ParseLogLevel("verbose").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseLogLevel("").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(LoggingTest, ParsesFormats) {
  EXPECT_EQ(*ParseLogFormat("text"), LogFormat::kText);
  EXPECT_EQ(*ParseLogFormat("json"), LogFormat::kJson);
  EXPECT_FALSE(ParseLogFormat("xml").ok());
}

TEST(LoggingTest, JsonEscapeTable) {
  struct Case {
    std::string in, out;
  } cases[] = {
      {"plain", "plain"},
      {"a\"b", "a\\\"b"},
      {"back\\slash", "back\\\\slash"},
      {"line\nbreak", "line\\nbreak"},
      {"tab\there", "tab\\there"},
      {std::string("nul\0x", 5), "nul\\u0000x"},
      {"\x1b[31m", "\\u001b[31m"},
  };
  for (const Case& c : cases) EXPECT_EQ(JsonEscape(c.in), c.out) << c.in;
}

TEST(LoggingTest, JsonLinesAreObjectsWithEscapedMessage) {
  std::ostringstream out;
  InitLogging(spdlog::level::info, LogFormat::kJson,
              std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
  spdlog::info("hello \"world\"\nnext");
  spdlog::debug("not shown at info");
  spdlog::default_logger()->flush();
  const std::string text = out.str();
  EXPECT_EQ(text.find("not shown"), std::string::npos);
  EXPECT_NE(text.find("\"level\":\"info\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"msg\":\"hello \\\"world\\\"\\nnext\"}"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.front(), '{');
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1);
}

TEST(LoggingTest, TextFormatHasLevelAndMessage) {
  std::ostringstream out;
  InitLogging(spdlog::level::debug, LogFormat::kText,
              std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
  spdlog::debug("volume {} staged", "vol-1");
  spdlog::default_logger()->flush();
  EXPECT_NE(out.str().find("debug volume vol-1 staged"), std::string::npos)
      << out.str();
}

}  // namespace
}  // namespace cellar

namespace cellar {
namespace {

TEST(LoggingTest, TextLinesCannotBeForged) {
  EXPECT_EQ(TextEscape("plain id"), "plain id");
  EXPECT_EQ(TextEscape("x\n2099-01-01 info published"),
            "x\\n2099-01-01 info published");
  EXPECT_EQ(TextEscape("a\rb\tc\x1b[31m"), "a\\x0db\\x09c\\x1b[31m");
  EXPECT_EQ(TextEscape("back\\slash"), "back\\\\slash");
}

}  // namespace
}  // namespace cellar
