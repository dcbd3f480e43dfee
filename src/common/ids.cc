#include "src/common/ids.h"

#include <openssl/sha.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace cellar {
namespace {

bool IsLowerAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool IsHostTag(absl::string_view s) {
  if (s.empty() || s.size() > 40 || s[0] == '-') return false;
  for (char c : s) {
    if (!IsLowerAlnum(c) && c != '.' && c != '-') return false;
  }
  return true;
}

bool IsHashTag(absl::string_view s) {
  if (s.size() != 17 || s[0] != '-') return false;
  for (char c : s.substr(1)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

const char* KindLetter(IdKind kind) {
  switch (kind) {
    case IdKind::kVolume:
      return "v";
    case IdKind::kSnapshot:
      return "s";
    case IdKind::kGroup:
      return "g";
  }
  return "?";
}

bool IsUnique(absl::string_view s) {
  if (s.size() != 32) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::string Sha256Hex(absl::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         digest);
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * SHA256_DIGEST_LENGTH);
  for (unsigned char b : digest) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

std::string CryptMappingName(absl::string_view volume_id) {
  absl::StatusOr<ParsedId> id = ParseId(volume_id);
  return absl::StrCat(
      "cellar-", id.ok() ? id->unique : Sha256Hex(volume_id).substr(0, 32));
}

std::string NodeTag(absl::string_view node_id) {
  if (IsHostTag(node_id)) return std::string(node_id);
  return absl::StrCat("-", Sha256Hex(node_id).substr(0, 16));
}

bool IsValidDeviceClass(absl::string_view name) {
  if (name.empty() || name.size() > 24) return false;
  for (char c : name) {
    if (!IsLowerAlnum(c) && c != '-') return false;
  }
  return true;
}

bool IsValidDriverName(absl::string_view name) {
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9');
  };
  if (name.empty() || name.size() > 63 || !alnum(name.front()) ||
      !alnum(name.back())) {
    return false;
  }
  for (char c : name) {
    if (!alnum(c) && c != '-' && c != '.') return false;
  }
  return true;
}

std::string MakeId(IdKind kind, absl::string_view node_id,
                   absl::string_view device_class, absl::string_view seed) {
  ParsedId id;
  id.kind = kind;
  id.node_tag = NodeTag(node_id);
  id.device_class = std::string(device_class);
  // The seed names the kind, node and class too, so equal names in two
  // classes or kinds never share an id.
  id.unique = Sha256Hex(absl::StrCat(KindLetter(kind), std::string(1, '\0'),
                                     id.node_tag, std::string(1, '\0'),
                                     device_class, std::string(1, '\0'), seed))
                  .substr(0, 32);
  return FormatId(id);
}

std::string FormatId(const ParsedId& id) {
  return absl::StrCat(KindLetter(id.kind), "_", id.node_tag, "_",
                      id.device_class, "_", id.unique);
}

absl::StatusOr<ParsedId> ParseId(absl::string_view text) {
  if (text.empty()) return absl::InvalidArgumentError("empty id");
  if (text.size() > kMaxIdLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        "id is ", text.size(), " bytes, longer than ", kMaxIdLength));
  }
  std::vector<absl::string_view> parts = absl::StrSplit(text, '_');
  if (parts.size() != 4) {
    return absl::InvalidArgumentError(
        "id is not of the form K_NODE_CLASS_UNIQUE");
  }
  ParsedId id;
  if (parts[0] == "v") {
    id.kind = IdKind::kVolume;
  } else if (parts[0] == "s") {
    id.kind = IdKind::kSnapshot;
  } else if (parts[0] == "g") {
    id.kind = IdKind::kGroup;
  } else {
    return absl::InvalidArgumentError("id kind is not v, s or g");
  }
  if (!IsHostTag(parts[1]) && !IsHashTag(parts[1])) {
    return absl::InvalidArgumentError("id has an invalid node part");
  }
  if (!IsValidDeviceClass(parts[2])) {
    return absl::InvalidArgumentError("id has an invalid device class part");
  }
  if (!IsUnique(parts[3])) {
    return absl::InvalidArgumentError("id has an invalid unique part");
  }
  id.node_tag = std::string(parts[1]);
  id.device_class = std::string(parts[2]);
  id.unique = std::string(parts[3]);
  return id;
}

}  // namespace cellar
