#ifndef CELLAR_SRC_COMMON_IDS_H_
#define CELLAR_SRC_COMMON_IDS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cellar {

// Volume and snapshot ids are self-describing, so any mode can route or
// validate a request from the id alone:
//
//   v_<node>_<class>_<unique>     a volume
//   s_<node>_<class>_<unique>     a snapshot
//   g_<node>_<class>_<unique>     a volume group snapshot
//
// <node> is the node id when it is 1-40 characters of [a-z0-9.-] not
// starting with '-', else "-" and 16 hex digits of its SHA-256 (a node id
// never starts with '-', so the two forms cannot collide). <class> is the
// device class, 1-24 characters of [a-z0-9-]. <unique> is 32 lowercase hex
// digits. Ids are at most 2+40+1+24+1+32 = 100 bytes, use only
// [a-z0-9._-], and are therefore safe as file, LV and dm names.
enum class IdKind { kVolume, kSnapshot, kGroup };

struct ParsedId {
  IdKind kind = IdKind::kVolume;
  std::string node_tag;
  std::string device_class;
  std::string unique;
};

constexpr size_t kMaxIdLength = 100;

// The topology segment key every cellar volume and node carries.
constexpr char kTopologyKey[] = "topology.cellar.csi.io/node";

// The <node> part for `node_id`.
std::string NodeTag(absl::string_view node_id);

// True when `name` is a valid device class name.
bool IsValidDeviceClass(absl::string_view name);

// True for a CSI driver name: at most 63 characters, alphanumerics with
// dashes and dots between, beginning and ending with an alphanumeric.
bool IsValidDriverName(absl::string_view name);

// Builds an id. The unique part is derived from `seed` (SHA-256, first 128
// bits) so that a retried create after a crash finds the same id.
std::string MakeId(IdKind kind, absl::string_view node_id,
                   absl::string_view device_class, absl::string_view seed);

std::string FormatId(const ParsedId& id);

// Parses an id; INVALID_ARGUMENT (with the reason) for anything that is not
// exactly one of the forms above. Never touches the filesystem.
absl::StatusOr<ParsedId> ParseId(absl::string_view text);

// The device-mapper name of an encrypted volume's LUKS mapping: "cellar-"
// and the unique part of the id.
std::string CryptMappingName(absl::string_view volume_id);

// Lowercase hex SHA-256 of `data`.
std::string Sha256Hex(absl::string_view data);

}  // namespace cellar

#endif  // CELLAR_SRC_COMMON_IDS_H_
