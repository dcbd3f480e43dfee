#ifndef CELLAR_SRC_COMMON_REDACT_H_
#define CELLAR_SRC_COMMON_REDACT_H_

#include <string>

#include "google/protobuf/message.h"

namespace cellar {

// Clears, in place and recursively, every field whose descriptor carries the
// CSI `csi_secret` option, and returns how many fields were cleared. Works
// from descriptors alone, so a secret field added to the spec is covered
// without code changes.
int RedactSecrets(google::protobuf::Message* message);

// A one-line text form of `message` with every `csi_secret` field replaced by
// a marker that tells the field was present but says nothing of its content
// (not even the map keys or the length).
std::string RedactedDebugString(const google::protobuf::Message& message);

}  // namespace cellar

#endif  // CELLAR_SRC_COMMON_REDACT_H_
