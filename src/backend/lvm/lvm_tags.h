#ifndef CELLAR_SRC_BACKEND_LVM_LVM_TAGS_H_
#define CELLAR_SRC_BACKEND_LVM_LVM_TAGS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "src/backend/lvm/lvm_report.h"

namespace cellar {

// Records and markers in LV tags (names in lvm_report.h).

bool HasTag(const LogicalVolume& lv, absl::string_view tag);

// `record` as a tag: `prefix` and base64 of its binary protobuf; or
// INVALID_ARGUMENT naming `what` when that is longer than LVM takes.
// Checked before anything is created, for every tag written.
absl::StatusOr<std::string> RecordTag(absl::string_view prefix,
                                      const google::protobuf::Message& record,
                                      absl::string_view what);

// Reads the record in `lv`'s tag that starts with `prefix`; DATA_LOSS when
// there is none or it does not parse.
absl::Status DecodeTag(const LogicalVolume& lv, absl::string_view prefix,
                       google::protobuf::Message* record);

// What follows `prefix` in `lv`'s first tag that starts with it; "" when
// no tag does.
std::string TagValue(const LogicalVolume& lv, absl::string_view prefix);

}  // namespace cellar

#endif  // CELLAR_SRC_BACKEND_LVM_LVM_TAGS_H_
