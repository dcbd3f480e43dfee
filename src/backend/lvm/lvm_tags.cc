#include "src/backend/lvm/lvm_tags.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace cellar {

bool HasTag(const LogicalVolume& lv, absl::string_view tag) {
  return std::find(lv.tags.begin(), lv.tags.end(), tag) != lv.tags.end();
}

namespace {

constexpr size_t kMaxTagLength = 1000;  // LVM's limit is 1024

// A record as an LV tag: `prefix` and base64 of its binary protobuf.
std::string EncodeTag(absl::string_view prefix,
                      const google::protobuf::Message& record) {
  std::string bytes;
  record.SerializeToString(&bytes);
  return absl::StrCat(prefix, absl::Base64Escape(bytes));
}

}  // namespace

// EncodeTag, or INVALID_ARGUMENT naming `what` when the tag would be longer
// than LVM takes. Checked before anything is created, for every tag written.
absl::StatusOr<std::string> RecordTag(absl::string_view prefix,
                                      const google::protobuf::Message& record,
                                      absl::string_view what) {
  std::string tag = EncodeTag(prefix, record);
  if (tag.size() > kMaxTagLength) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " too long to record in an LV tag (", tag.size(),
                     " characters encoded, at most ", kMaxTagLength,
                     "); nothing was created"));
  }
  return tag;
}

// Reads the record in `lv`'s tag that starts with `prefix`.
absl::Status DecodeTag(const LogicalVolume& lv, absl::string_view prefix,
                       google::protobuf::Message* record) {
  for (const std::string& tag : lv.tags) {
    absl::string_view encoded = tag;
    if (!absl::ConsumePrefix(&encoded, prefix)) continue;
    std::string bytes;
    if (!absl::Base64Unescape(encoded, &bytes) ||
        !record->ParseFromString(bytes)) {
      return absl::DataLossError(absl::StrCat("LV ", lv.vg, "/", lv.name,
                                              " has an unreadable record"));
    }
    return absl::OkStatus();
  }
  return absl::DataLossError(
      absl::StrCat("LV ", lv.vg, "/", lv.name, " has no record tag"));
}

std::string TagValue(const LogicalVolume& lv, absl::string_view prefix) {
  for (const std::string& tag : lv.tags) {
    absl::string_view value = tag;
    if (absl::ConsumePrefix(&value, prefix)) return std::string(value);
  }
  return "";
}

}  // namespace cellar
