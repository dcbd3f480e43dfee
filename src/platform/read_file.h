#ifndef CELLAR_SRC_PLATFORM_READ_FILE_H_
#define CELLAR_SRC_PLATFORM_READ_FILE_H_

#include <string>

#include "absl/status/statusor.h"

namespace cellar {

// The whole contents of the file at `path`, read with open(2)/read(2)
// (retrying EINTR), for the real implementations. The errno's status
// ("<path>: <strerror>") when it cannot be opened or read. Thread-safe.
absl::StatusOr<std::string> ReadWholeFile(const std::string& path);

}  // namespace cellar

#endif  // CELLAR_SRC_PLATFORM_READ_FILE_H_
