#ifndef CELLAR_SRC_COMMON_LOGGING_H_
#define CELLAR_SRC_COMMON_LOGGING_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "spdlog/sinks/sink.h"
#include "spdlog/spdlog.h"

// Debian's Abseil has its own string_view type; let spdlog/fmt print it.
template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<fmt::string_view> {
  template <typename Context>
  auto format(absl::string_view value, Context& context) const {
    return fmt::formatter<fmt::string_view>::format(
        fmt::string_view(value.data(), value.size()), context);
  }
};

namespace cellar {

enum class LogFormat { kText, kJson };

// Parses --log-level (trace|debug|info|warn|error).
absl::StatusOr<spdlog::level::level_enum> ParseLogLevel(absl::string_view text);
// Parses --log-format (text|json).
absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view text);

// Installs the process-wide default logger writing to `sink` (stderr when
// null) at `level` in `format`. JSON lines carry time, level and message, with
// the message escaped. Not thread-safe against concurrent logging: call at
// start-up (and in tests, before traffic).
void InitLogging(spdlog::level::level_enum level, LogFormat format,
                 std::shared_ptr<spdlog::sinks::sink> sink = nullptr);

// Escapes `text` for use inside a JSON string literal.
std::string JsonEscape(absl::string_view text);

// `text` with backslashes doubled, newlines as \n and other control
// characters as \xNN: one log line per message in the text format.
std::string TextEscape(absl::string_view text);

}  // namespace cellar

#endif  // CELLAR_SRC_COMMON_LOGGING_H_
