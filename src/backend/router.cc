#include "src/backend/router.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace cellar {
namespace {

const char* KindName(IdKind kind) {
  switch (kind) {
    case IdKind::kVolume:
      return "volume";
    case IdKind::kSnapshot:
      return "snapshot";
    case IdKind::kGroup:
      return "group snapshot";
  }
  return "object";
}

}  // namespace

BackendRouter::BackendRouter(const std::string& node_id,
                             std::map<std::string, Backend*> backends)
    : node_tag_(NodeTag(node_id)), backends_(std::move(backends)) {}

absl::StatusOr<Backend*> BackendRouter::Find(const std::string& id,
                                             IdKind kind) const {
  absl::StatusOr<ParsedId> parsed = ParseId(id);
  if (!parsed.ok() || parsed->kind != kind) {
    return absl::NotFoundError(absl::StrCat(
        KindName(kind), " \"", absl::CEscape(id.substr(0, 128)),
        "\" does not exist (not a cellar ", KindName(kind), " id)"));
  }
  if (parsed->node_tag != node_tag_) {
    return absl::NotFoundError(absl::StrCat(
        KindName(kind), " ", id, " belongs to node ", parsed->node_tag));
  }
  auto it = backends_.find(parsed->device_class);
  if (it == backends_.end()) {
    return absl::NotFoundError(
        absl::StrCat(KindName(kind), " ", id, " is in device class ",
                     parsed->device_class, ", which this node does not have"));
  }
  return it->second;
}

}  // namespace cellar
