// The csi-sanity conformance checks, in C++, against the real cellar-csi
// binary over its socket.
//
// kubernetes-csi/csi-test v5.4.0 (`csi-sanity`, CSI spec v1.12.0) is how
// Kubernetes checks a CSI driver, but it is Go and cannot be built here. This
// suite performs the same checks: one TEST per csi-sanity spec, named after
// its title (the exact title is in the comment above each TEST), sending the
// same requests (the same fields set and left empty), expecting the same
// codes, and skipping (GTEST_SKIP with csi-sanity's own reason) exactly when
// csi-sanity skips: when the driver does not advertise the capability the
// check needs in ControllerGetCapabilities, NodeGetCapabilities,
// GetPluginCapabilities or GroupControllerGetCapabilities.
//
// How it runs: as csi-sanity runs with its defaults (sanity.NewTestConfig
// and the csi-sanity command's flags), except where noted:
//  - Test volume size: 64 MiB where csi-sanity's default is 10 GiB; csi-sanity
//    runs the same way with --csi.testvolumesize=67108864. The size is used
//    only where csi-sanity uses it: most CreateVolume requests carry
//    capacity_range{required_bytes: size}, the ones csi-sanity builds with
//    MakeCreateVolumeReq carry {required_bytes: size, limit_bytes: size}, and
//    a few carry no capacity_range at all (the driver picks the size).
//  - The expansion target is csi-sanity's default: the volume size plus
//    1 GiB (--csi.testvolumeexpandsize unset). The idempotency count is
//    csi-sanity's default, 10. --csi.testnodevolumeattachlimit is off.
//  - The mount directory (parent of every target path, which is
//    "<mount dir>/target") and the staging directory are made with a plain
//    mkdir (mode 0755; the parent must exist, the directory must not) before
//    each test and removed with rmdir after it, as csi-sanity does by default;
//    here they lie inside the driver's --kubelet-dir (csi-sanity's defaults
//    are $TMPDIR/csi-mount and $TMPDIR/csi-staging), as
//    --csi.mountdir/--csi.stagingdir would put them. Paths are checked with
//    csi-sanity's default CheckPath (stat, following symlinks).
//  - Secrets and StorageClass parameters: none by default, as csi-sanity
//    runs without --csi.secrets and --csi.testvolumeparameters. Two
//    variables set them as those flags do (an encrypted class needs both:
//    encrypted=true and a node-stage encryptionPassphrase):
//      CELLAR_SANITY_VOLUME_PARAMETERS: "k=v,k2=v2", or the absolute path of
//        a YAML file of "k: v" lines (what --csi.testvolumeparameters
//        reads). Every CreateVolumeRequest carries them, as in csi-sanity.
//      CELLAR_SANITY_SECRETS: "Field.key=value,..." (a value may hold '='
//        but not ','), or the absolute path of csi-sanity's secrets YAML
//        file (what --csi.secrets reads: "Field:" and indented "key: value"
//        lines, or "Field: {key: value, ...}"). Field is a field of
//        csi-sanity's CSISecrets, e.g. NodeStageVolumeSecret; csi-sanity
//        ignores other names, and so does this suite (with a warning).
//    Which secret goes where is csi-sanity's: each RPC gets one, in every
//    request of it (the cleanup's included):
//      CreateVolume                CreateVolumeSecret
//      DeleteVolume                DeleteVolumeSecret
//      ControllerPublishVolume     ControllerPublishVolumeSecret
//      ControllerUnpublishVolume   ControllerUnpublishVolumeSecret
//      ValidateVolumeCapabilities  ControllerValidateVolumeCapabilitiesSecret
//      NodeStageVolume             NodeStageVolumeSecret
//      NodePublishVolume           NodePublishVolumeSecret
//      CreateSnapshot,
//      CreateVolumeGroupSnapshot   CreateSnapshotSecret
//      DeleteSnapshot,
//      DeleteVolumeGroupSnapshot   DeleteSnapshotSecret
//      ListSnapshots,
//      GetVolumeGroupSnapshot      ListSnapshotsSecret
//      ControllerExpandVolume      ControllerExpandVolumeSecret
//      ControllerModifyVolume      ControllerModifyVolumeSecret
//    NodeExpandVolume carries none (csi-sanity has no secret for it), nor do
//    the requests without a secrets field. No snapshot parameters and no
//    mutable parameters are sent (csi-sanity's defaults: none configured).
//    Topology: the only requirement sent is the one csi-sanity sends in its
//    two lifecycle checks ("Controller Service ... volume lifecycle" and
//    "Node Service should work/should be idempotent"): when NodeGetInfo
//    reports an accessible topology, CreateVolume asks for it as the sole
//    requisite. The access type is "mount" with no fs type
//    (--csi.testvolumeaccesstype=mount), the access mode SINGLE_NODE_WRITER.
//  - After each test every volume and snapshot it created is unpublished,
//    unstaged and deleted again, as csi-sanity's Resources.Cleanup does (a
//    failure there fails the test, NOT_FOUND from the node calls excepted).
//  - Each test gets its own driver process, data directory and kubelet
//    directory. csi-sanity instead talks to one driver the user started, for
//    all its specs; Ginkgo shuffles the order of its top-level blocks
//    ("Controller Service", "Node Service", ...) and keeps the order of the
//    specs inside each. Every mount and loop device left under the test's
//    scratch directory is removed in TearDown whatever happened.
//  - Beyond csi-sanity: a mount or loop device of the test left after the
//    cleanup fails the test (csi-sanity would not notice).
//  - "ListVolumes pagination ..." is pending upstream (XIt: csi-sanity never
//    runs it); it is skipped here too unless CELLAR_SANITY_RUN_PENDING=1.
//
// Needs root and loop devices; skips otherwise.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "csi.grpc.pb.h"
#include "gtest/gtest.h"
#include "src/common/units.h"
#include "test/platform/loop_test_support.h"
#include "test/testing/driver_process.h"
#include "test/testing/e2e_fixture.h"
#include "test/testing/mount_table.h"

namespace cellar {
namespace {

using testing::Context;
using Mode = csi::v1::VolumeCapability::AccessMode;
using ControllerRpc = csi::v1::ControllerServiceCapability::RPC;
using NodeRpc = csi::v1::NodeServiceCapability::RPC;
using GroupRpc = csi::v1::GroupControllerServiceCapability::RPC;
using PluginService = csi::v1::PluginCapability::Service;
using grpc::StatusCode;

// csi-sanity's configuration, as this suite uses it.
constexpr int64_t kTestVolumeSize = 64 * static_cast<int64_t>(kMiB);
constexpr int64_t kDefTestExpandIncrement = static_cast<int64_t>(kGiB);
constexpr int64_t kTestVolumeExpandSize =
    kTestVolumeSize + kDefTestExpandIncrement;
constexpr int kIdempotentCount = 10;
constexpr bool kTestNodeVolumeAttachLimit = false;
constexpr size_t kMaxNameLength = 128;
constexpr char kNodeId[] = "sanity-node";

// ---------------------------------------------------------------- names

// One random suffix per process, as csi-sanity's UniqueString.
const std::string& UniqueSuffix() {
  static const std::string suffix = [] {
    std::random_device random;
    return absl::StrFormat("-%08X-%08X", random(), random());
  }();
  return suffix;
}

std::string UniqueString(const std::string& prefix) {
  return prefix + UniqueSuffix();
}

// A unique name of exactly `length` bytes.
std::string UniqueStringWithLength(const std::string& prefix, size_t length) {
  std::string name = UniqueString(prefix);
  if (name.size() < length) name.append(length - name.size(), 'x');
  return name.substr(0, length);
}

std::string RandomHex(size_t n) {
  static std::mt19937_64 engine{std::random_device{}()};
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) out.push_back(kHex[engine() % 16]);
  return out;
}

// csi-sanity's DefaultIDGenerator.
std::string GenerateUniqueValidVolumeID() {
  return "fake-vol-id-" + RandomHex(8) + "-" + RandomHex(1);
}
std::string GenerateInvalidVolumeID() { return "fake-vol-id"; }
std::string GenerateUniqueValidNodeID() {
  return "fake-node-id-" + RandomHex(8) + "-" + RandomHex(1);
}

// ---------------------------------------------------------------- config
// csi-sanity's TestVolumeParameters (--csi.testvolumeparameters=FILE) and
// CSISecrets (--csi.secrets=FILE), from CELLAR_SANITY_VOLUME_PARAMETERS and
// CELLAR_SANITY_SECRETS (formats in the header comment). Unset: none, as
// csi-sanity's defaults.

using StringMap = std::map<std::string, std::string>;

// csi-sanity v5.4.0's CSISecrets: one map per field of its secrets file.
struct CsiSecrets {
  StringMap create_volume;
  StringMap delete_volume;
  StringMap controller_publish_volume;
  StringMap controller_unpublish_volume;
  StringMap controller_validate_volume_capabilities;
  StringMap node_stage_volume;
  StringMap node_publish_volume;
  StringMap create_snapshot;
  StringMap delete_snapshot;
  StringMap controller_expand_volume;
  StringMap list_snapshots;
  StringMap controller_modify_volume;
};

// The field names of csi-sanity's secrets YAML (its yaml tags).
constexpr std::pair<const char*, StringMap CsiSecrets::*> kSecretFields[] = {
    {"CreateVolumeSecret", &CsiSecrets::create_volume},
    {"DeleteVolumeSecret", &CsiSecrets::delete_volume},
    {"ControllerPublishVolumeSecret", &CsiSecrets::controller_publish_volume},
    {"ControllerUnpublishVolumeSecret",
     &CsiSecrets::controller_unpublish_volume},
    {"ControllerValidateVolumeCapabilitiesSecret",
     &CsiSecrets::controller_validate_volume_capabilities},
    {"NodeStageVolumeSecret", &CsiSecrets::node_stage_volume},
    {"NodePublishVolumeSecret", &CsiSecrets::node_publish_volume},
    {"CreateSnapshotSecret", &CsiSecrets::create_snapshot},
    {"DeleteSnapshotSecret", &CsiSecrets::delete_snapshot},
    {"ControllerExpandVolumeSecret", &CsiSecrets::controller_expand_volume},
    {"ListSnapshotsSecret", &CsiSecrets::list_snapshots},
    {"ControllerModifyVolumeSecret", &CsiSecrets::controller_modify_volume},
};

struct SanityConfig {
  StringMap test_volume_parameters;
  CsiSecrets secrets;
};

std::string Trim(const std::string& text) {
  const size_t begin = text.find_first_not_of(" \t\r");
  if (begin == std::string::npos) return "";
  const size_t end = text.find_last_not_of(" \t\r");
  return text.substr(begin, end - begin + 1);
}

// "k=v,k2=v2": split at commas, each item at its first '=' (so values may
// hold '=', e.g. base64 padding, but not ',').
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParsePairs(
    const std::string& text) {
  std::vector<std::pair<std::string, std::string>> pairs;
  std::istringstream items(text);
  std::string item;
  while (std::getline(items, item, ',')) {
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", item.substr(0, eq), "...' is not key=value"));
    }
    pairs.emplace_back(item.substr(0, eq), item.substr(eq + 1));
  }
  return pairs;
}

// The YAML that csi-sanity's files use, as far as these two files need it:
// "key: value" lines, nested one level by indentation or as a flow mapping
// ("key: {a: b, c: d}"); plain, 'single' or "double" quoted scalars; '#'
// comments; "---". A top-level key with an empty value (or "{}" or "~")
// holds a nested mapping, possibly empty.
struct YamlEntry {
  std::string value;  // a scalar
  bool is_map = false;
  StringMap map;
};
using YamlDocument = std::vector<std::pair<std::string, YamlEntry>>;

// Position of the first `c` outside quotes in `text`, or npos.
size_t FindUnquoted(const std::string& text, char c, size_t from = 0) {
  char quote = 0;
  for (size_t i = from; i < text.size(); ++i) {
    if (quote != 0) {
      if (quote == '"' && text[i] == '\\') {
        ++i;
      } else if (text[i] == quote) {
        quote = 0;
      }
    } else if (text[i] == '"' || text[i] == '\'') {
      quote = text[i];
    } else if (text[i] == c) {
      // ':' separates only when followed by a blank or the end; '#' starts a
      // comment only at the start or after a blank; ',' and '}' always count.
      if (c == ':' && i + 1 < text.size() && text[i + 1] != ' ' &&
          text[i + 1] != '\t') {
        continue;
      }
      if (c == '#' && i > 0 && text[i - 1] != ' ' && text[i - 1] != '\t') {
        continue;
      }
      return i;
    }
  }
  return std::string::npos;
}

absl::StatusOr<std::string> YamlScalar(const std::string& raw) {
  const std::string text = Trim(raw);
  if (text.empty() || text == "~" || text == "null") return std::string();
  if (text.front() == '\'') {
    if (text.size() < 2 || text.back() != '\'') {
      return absl::InvalidArgumentError("unterminated ' string");
    }
    std::string out;
    for (size_t i = 1; i + 1 < text.size(); ++i) {
      out.push_back(text[i]);
      if (text[i] == '\'') ++i;  // '' is one quote
    }
    return out;
  }
  if (text.front() == '"') {
    std::string out;
    size_t i = 1;
    for (; i < text.size() && text[i] != '"'; ++i) {
      if (text[i] != '\\') {
        out.push_back(text[i]);
        continue;
      }
      if (++i == text.size()) break;
      switch (text[i]) {
        case 'n':
          out.push_back('\n');
          break;
        case 't':
          out.push_back('\t');
          break;
        case '\\':
        case '"':
        case '/':
          out.push_back(text[i]);
          break;
        default:
          return absl::InvalidArgumentError(
              absl::StrCat("unsupported escape \\", std::string(1, text[i])));
      }
    }
    if (i + 1 != text.size()) {
      return absl::InvalidArgumentError("unterminated \" string");
    }
    return out;
  }
  if (std::string("[{&*!|>%@`").find(text.front()) != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported YAML value '", text, "'"));
  }
  return text;
}

absl::StatusOr<std::pair<std::string, std::string>> YamlKeyValue(
    const std::string& line) {
  const size_t colon = FindUnquoted(line, ':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError("not 'key: value'");
  }
  auto key = YamlScalar(line.substr(0, colon));
  if (!key.ok()) return key.status();
  if (key->empty()) return absl::InvalidArgumentError("empty key");
  return std::make_pair(*key, Trim(line.substr(colon + 1)));
}

absl::Status YamlFlowMapping(const std::string& text, StringMap* out) {
  if (text.size() < 2 || text.front() != '{' || text.back() != '}') {
    return absl::InvalidArgumentError("unterminated { mapping");
  }
  const std::string body = text.substr(1, text.size() - 2);
  size_t begin = 0;
  while (begin <= body.size()) {
    size_t end = FindUnquoted(body, ',', begin);
    if (end == std::string::npos) end = body.size();
    const std::string item = Trim(body.substr(begin, end - begin));
    begin = end + 1;
    if (item.empty()) continue;
    auto pair = YamlKeyValue(item);
    if (!pair.ok()) return pair.status();
    auto value = YamlScalar(pair->second);
    if (!value.ok()) return value.status();
    (*out)[pair->first] = *value;
  }
  return absl::OkStatus();
}

absl::StatusOr<YamlDocument> ParseYamlFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read ", path, ": ", strerror(errno)));
  }
  YamlDocument document;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    auto fail = [&](const absl::Status& status) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, " line ", number, ": ", status.message()));
    };
    const size_t comment = FindUnquoted(line, '#');
    if (comment != std::string::npos) line.resize(comment);
    if (Trim(line).empty() || Trim(line) == "---") continue;
    if (line.find('\t') < line.find_first_not_of(" \t")) {
      return fail(absl::InvalidArgumentError("tab in indentation"));
    }
    const bool indented = line[0] == ' ';
    auto pair = YamlKeyValue(Trim(line));
    if (!pair.ok()) return fail(pair.status());
    if (indented) {
      if (document.empty() || !document.back().second.is_map ||
          !document.back().second.value.empty()) {
        return fail(absl::InvalidArgumentError("unexpected indentation"));
      }
      auto value = YamlScalar(pair->second);
      if (!value.ok()) return fail(value.status());
      document.back().second.map[pair->first] = *value;
      continue;
    }
    YamlEntry entry;
    if (pair->second.empty() || pair->second == "~" || pair->second == "null") {
      entry.is_map = true;  // a nested block may follow
    } else if (pair->second.front() == '{') {
      entry.is_map = true;
      entry.value = "{}";  // complete: no nested block may follow
      absl::Status status = YamlFlowMapping(pair->second, &entry.map);
      if (!status.ok()) return fail(status);
    } else {
      auto value = YamlScalar(pair->second);
      if (!value.ok()) return fail(value.status());
      entry.value = *value;
    }
    document.emplace_back(pair->first, std::move(entry));
  }
  return document;
}

// CELLAR_SANITY_VOLUME_PARAMETERS: "k=v,..." or the path (starting with
// '/') of a YAML file of "k: v" lines, as --csi.testvolumeparameters takes.
absl::StatusOr<StringMap> LoadVolumeParameters(const std::string& text) {
  StringMap parameters;
  if (text.empty() || text.front() != '/') {
    auto pairs = ParsePairs(text);
    if (!pairs.ok()) return pairs.status();
    for (auto& [key, value] : *pairs) parameters[key] = value;
    return parameters;
  }
  auto document = ParseYamlFile(text);
  if (!document.ok()) return document.status();
  for (const auto& [key, entry] : *document) {
    if (entry.is_map && (!entry.map.empty() || entry.value == "{}")) {
      return absl::InvalidArgumentError(
          absl::StrCat(text, ": parameter ", key, " is not a string"));
    }
    parameters[key] = entry.value;
  }
  return parameters;
}

StringMap* SecretField(CsiSecrets* secrets, const std::string& field) {
  for (const auto& [name, member] : kSecretFields) {
    if (field == name) return &(secrets->*member);
  }
  // yaml.Unmarshal in csi-sanity drops fields CSISecrets does not have.
  std::cerr << "sanity: csi-sanity v5.4.0 has no secret " << field
            << "; ignored, as csi-sanity ignores it\n";
  return nullptr;
}

// CELLAR_SANITY_SECRETS: "Field.key=value,..." (Field a csi-sanity secrets
// field such as NodeStageVolumeSecret), or the path (starting with '/') of
// csi-sanity's secrets YAML file, as --csi.secrets takes.
absl::StatusOr<CsiSecrets> LoadSecrets(const std::string& text) {
  CsiSecrets secrets;
  if (text.empty() || text.front() != '/') {
    auto pairs = ParsePairs(text);
    if (!pairs.ok()) return pairs.status();
    for (auto& [field_key, value] : *pairs) {
      const size_t dot = field_key.find('.');
      if (dot == std::string::npos || dot == 0 || dot + 1 == field_key.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("'", field_key, "=...' is not Field.key=value"));
      }
      StringMap* field = SecretField(&secrets, field_key.substr(0, dot));
      if (field != nullptr) (*field)[field_key.substr(dot + 1)] = value;
    }
    return secrets;
  }
  auto document = ParseYamlFile(text);
  if (!document.ok()) return document.status();
  for (const auto& [name, entry] : *document) {
    if (!entry.is_map) {
      return absl::InvalidArgumentError(
          absl::StrCat(text, ": ", name, " is not a mapping"));
    }
    StringMap* field = SecretField(&secrets, name);
    if (field != nullptr) *field = entry.map;
  }
  return secrets;
}

absl::StatusOr<SanityConfig> LoadSanityConfig() {
  SanityConfig config;
  std::string summary;
  if (const char* text = getenv("CELLAR_SANITY_VOLUME_PARAMETERS")) {
    auto parameters = LoadVolumeParameters(text);
    if (!parameters.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "CELLAR_SANITY_VOLUME_PARAMETERS: ", parameters.status().message()));
    }
    config.test_volume_parameters = *std::move(parameters);
  }
  if (const char* text = getenv("CELLAR_SANITY_SECRETS")) {
    auto secrets = LoadSecrets(text);
    if (!secrets.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("CELLAR_SANITY_SECRETS: ", secrets.status().message()));
    }
    config.secrets = *std::move(secrets);
  }
  // What is in effect (secret keys only, never their values).
  std::cerr << "sanity: volume parameters {";
  const char* sep = "";
  for (const auto& [key, value] : config.test_volume_parameters) {
    std::cerr << sep << key << "=" << value;
    sep = ", ";
  }
  std::cerr << "}; secrets {";
  sep = "";
  for (const auto& [name, member] : kSecretFields) {
    const StringMap& field = config.secrets.*member;
    if (field.empty()) continue;
    std::cerr << sep << name << ":";
    const char* key_sep = " ";
    for (const auto& entry : field) {
      std::cerr << key_sep << entry.first;
      key_sep = ",";
    }
    sep = "; ";
  }
  std::cerr << "}\n";
  return config;
}

// Loaded once per process, on first use.
const absl::StatusOr<SanityConfig>& LoadedSanityConfig() {
  static const absl::StatusOr<SanityConfig> config = LoadSanityConfig();
  return config;
}

// The configuration the requests are built from (SetUp fails every test
// when it could not be loaded; empty then).
const SanityConfig& Config() {
  static const SanityConfig empty;
  return LoadedSanityConfig().ok() ? *LoadedSanityConfig() : empty;
}
const CsiSecrets& Secrets() { return Config().secrets; }

void SetMap(const StringMap& from,
            google::protobuf::Map<std::string, std::string>* to) {
  for (const auto& [key, value] : from) (*to)[key] = value;
}

// What csi-sanity puts in every CreateVolumeRequest it sends:
// Secrets: CreateVolumeSecret, Parameters: TestVolumeParameters.
void AddCreateVolumeSecretsAndParameters(
    csi::v1::CreateVolumeRequest* request) {
  SetMap(Secrets().create_volume, request->mutable_secrets());
  SetMap(Config().test_volume_parameters, request->mutable_parameters());
}

// ---------------------------------------------------------------- requests

csi::v1::VolumeCapability TestVolumeCapability(
    Mode::Mode mode = Mode::SINGLE_NODE_WRITER) {
  csi::v1::VolumeCapability cap;
  cap.mutable_mount();
  cap.mutable_access_mode()->set_mode(mode);
  return cap;
}

// csi-sanity's MakeCreateVolumeReq.
csi::v1::CreateVolumeRequest MakeCreateVolumeReq(const std::string& name) {
  csi::v1::CreateVolumeRequest request;
  request.set_name(name);
  *request.add_volume_capabilities() = TestVolumeCapability();
  request.mutable_capacity_range()->set_required_bytes(kTestVolumeSize);
  request.mutable_capacity_range()->set_limit_bytes(kTestVolumeSize);
  AddCreateVolumeSecretsAndParameters(&request);
  return request;
}

// Like MakeCreateVolumeReq, with only required_bytes set (csi-sanity spells
// these requests out in the specs).
csi::v1::CreateVolumeRequest CreateVolumeReqRequiredOnly(
    const std::string& name) {
  csi::v1::CreateVolumeRequest request;
  request.set_name(name);
  *request.add_volume_capabilities() = TestVolumeCapability();
  request.mutable_capacity_range()->set_required_bytes(kTestVolumeSize);
  AddCreateVolumeSecretsAndParameters(&request);
  return request;
}

// A CreateVolumeRequest with a name and the test capability and no
// capacity_range, as csi-sanity spells out in a few specs.
csi::v1::CreateVolumeRequest CreateVolumeReqNoCapacity(
    const std::string& name) {
  csi::v1::CreateVolumeRequest request;
  request.set_name(name);
  *request.add_volume_capabilities() = TestVolumeCapability();
  AddCreateVolumeSecretsAndParameters(&request);
  return request;
}

// What csi-sanity's two lifecycle checks add to their CreateVolume request:
// when NodeGetInfo reports an accessible topology, that topology as the only
// requisite (no preferred); otherwise no requirement at all.
void RequireNodeTopology(const csi::v1::NodeGetInfoResponse& node,
                         csi::v1::CreateVolumeRequest* request) {
  if (!node.has_accessible_topology()) return;
  *request->mutable_accessibility_requirements()->add_requisite() =
      node.accessible_topology();
}

// csi-sanity's MakeDeleteVolumeReq; every DeleteVolume it sends (its cleanup
// too) carries DeleteVolumeSecret.
csi::v1::DeleteVolumeRequest MakeDeleteVolumeReq(const std::string& id) {
  csi::v1::DeleteVolumeRequest request;
  request.set_volume_id(id);
  SetMap(Secrets().delete_volume, request.mutable_secrets());
  return request;
}

// csi-sanity's MakeCreateSnapshotReq (its TestSnapshotParameters are not
// configurable here: none, csi-sanity's default).
csi::v1::CreateSnapshotRequest MakeCreateSnapshotReq(
    const std::string& name, const std::string& source_volume_id) {
  csi::v1::CreateSnapshotRequest request;
  request.set_name(name);
  request.set_source_volume_id(source_volume_id);
  SetMap(Secrets().create_snapshot, request.mutable_secrets());
  return request;
}

// csi-sanity's MakeDeleteSnapshotReq; every DeleteSnapshot it sends carries
// DeleteSnapshotSecret.
csi::v1::DeleteSnapshotRequest MakeDeleteSnapshotReq(const std::string& id) {
  csi::v1::DeleteSnapshotRequest request;
  request.set_snapshot_id(id);
  SetMap(Secrets().delete_snapshot, request.mutable_secrets());
  return request;
}

// Every ListSnapshots csi-sanity sends carries ListSnapshotsSecret.
csi::v1::ListSnapshotsRequest NewListSnapshotsReq() {
  csi::v1::ListSnapshotsRequest request;
  SetMap(Secrets().list_snapshots, request.mutable_secrets());
  return request;
}

// Every ValidateVolumeCapabilities csi-sanity sends carries
// ControllerValidateVolumeCapabilitiesSecret.
csi::v1::ValidateVolumeCapabilitiesRequest NewValidateVolumeCapabilitiesReq() {
  csi::v1::ValidateVolumeCapabilitiesRequest request;
  SetMap(Secrets().controller_validate_volume_capabilities,
         request.mutable_secrets());
  return request;
}

// Every ControllerPublishVolume csi-sanity sends carries
// ControllerPublishVolumeSecret.
csi::v1::ControllerPublishVolumeRequest NewControllerPublishVolumeReq() {
  csi::v1::ControllerPublishVolumeRequest request;
  SetMap(Secrets().controller_publish_volume, request.mutable_secrets());
  return request;
}

// Every NodeStageVolume csi-sanity sends carries NodeStageVolumeSecret.
csi::v1::NodeStageVolumeRequest NewNodeStageVolumeReq() {
  csi::v1::NodeStageVolumeRequest request;
  SetMap(Secrets().node_stage_volume, request.mutable_secrets());
  return request;
}

// Every NodePublishVolume csi-sanity sends carries NodePublishVolumeSecret.
csi::v1::NodePublishVolumeRequest NewNodePublishVolumeReq() {
  csi::v1::NodePublishVolumeRequest request;
  SetMap(Secrets().node_publish_volume, request.mutable_secrets());
  return request;
}

// csi-sanity's MakeExpandVolumeReq (ControllerExpandVolumeSecret, as every
// ControllerExpandVolume it sends).
csi::v1::ControllerExpandVolumeRequest MakeExpandVolumeReq(
    const std::string& volume_id) {
  csi::v1::ControllerExpandVolumeRequest request;
  request.set_volume_id(volume_id);
  request.mutable_capacity_range()->set_required_bytes(kTestVolumeExpandSize);
  SetMap(Secrets().controller_expand_volume, request.mutable_secrets());
  *request.mutable_volume_capability() = TestVolumeCapability();
  return request;
}

// csi-sanity sends its configured mutable parameters (none by default).
const std::map<std::string, std::string>& TestVolumeMutableParameters() {
  static const std::map<std::string, std::string> parameters;
  return parameters;
}

// csi-sanity's MakeModifyVolumeReq (ControllerModifyVolumeSecret, as every
// ControllerModifyVolume it sends).
csi::v1::ControllerModifyVolumeRequest MakeModifyVolumeReq(
    const std::string& volume_id) {
  csi::v1::ControllerModifyVolumeRequest request;
  request.set_volume_id(volume_id);
  for (const auto& [key, value] : TestVolumeMutableParameters()) {
    (*request.mutable_mutable_parameters())[key] = value;
  }
  SetMap(Secrets().controller_modify_volume, request.mutable_secrets());
  return request;
}

// ---------------------------------------------------------------- checks

::testing::AssertionResult IsOk(const grpc::Status& status) {
  if (status.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "error " << status.error_code() << ": " << status.error_message();
}

::testing::AssertionResult HasCode(const grpc::Status& status,
                                   StatusCode code) {
  if (status.ok()) {
    return ::testing::AssertionFailure()
           << "expected error code " << code << ", got OK";
  }
  if (status.error_code() == code) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "expected error code " << code << ", got " << status.error_code()
         << ": unexpected error: " << status.error_message();
}

::testing::AssertionResult VerifySnapshotInfo(const csi::v1::Snapshot& snap) {
  if (snap.snapshot_id().empty()) {
    return ::testing::AssertionFailure() << "snapshot id is empty";
  }
  if (snap.source_volume_id().empty()) {
    return ::testing::AssertionFailure() << "source volume id is empty";
  }
  // csi-sanity's NotTo(BeZero()) on the *Timestamp only asks that the field
  // be there: a present timestamp of 0s is not Go's zero value (nil).
  if (!snap.has_creation_time()) {
    return ::testing::AssertionFailure() << "creation time is zero";
  }
  return ::testing::AssertionSuccess();
}

enum class PathKind { kFile, kDirectory, kNotFound, kOther };

// csi-sanity's default CheckPath (defaultCheckPath): stat, so a symlink
// counts as what it points to; a missing path is kNotFound, any other stat
// error is an error (the spec fails on it), and what is neither a regular
// file nor a directory is kOther, which is not an error.
::testing::AssertionResult CheckPath(const std::string& path, PathKind* kind) {
  struct stat info;
  if (stat(path.c_str(), &info) != 0) {
    if (errno == ENOENT) {
      *kind = PathKind::kNotFound;
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure()
           << "checking path " << path << ": " << strerror(errno);
  }
  if (S_ISREG(info.st_mode)) {
    *kind = PathKind::kFile;
  } else if (S_ISDIR(info.st_mode)) {
    *kind = PathKind::kDirectory;
  } else {
    *kind = PathKind::kOther;
  }
  return ::testing::AssertionSuccess();
}

// ---------------------------------------------------------------- fixture

class SanityE2eTest : public testing::E2eFixture {
 protected:
  SanityE2eTest() : Fixture("cellar-e2e") {}

  void SetUp() override {
    Fixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    // csi-sanity's Setup fails every spec when its secrets file is bad.
    ASSERT_TRUE(LoadedSanityConfig().ok()) << LoadedSanityConfig().status();
    std::vector<std::string> flags = {"--node-id=" + std::string(kNodeId),
                                      "--reserve-bytes=0", "--log-level=debug"};
    // The guest tier runs the same checks against LVM classes
    // (test/vm:sanity_vm_test): the class list is the driver's only
    // difference, as it would be for csi-sanity.
    if (const char* classes = getenv("CELLAR_SANITY_DEVICE_CLASSES")) {
      flags.push_back(std::string("--device-classes=") + classes);
    }
    ASSERT_NO_FATAL_FAILURE(StartDriver(flags));
    group_controller_ = csi::v1::GroupController::NewStub(driver_->channel());
    // csi-sanity's Setup: the mount and staging directories, with a plain
    // mkdir (the parent must exist, the directory must not).
    // The driver keeps to kubelet's layout (staging under
    // plugins/kubernetes.io/csi/, targets in a pod's CSI volume directory),
    // so csi-sanity is pointed there, as
    // --csi.stagingdir=<kubelet>/plugins/kubernetes.io/csi/csi-staging
    // --csi.mountdir=<kubelet>/pods/csi-sanity/volumes/kubernetes.io~csi/csi-mount
    // with the parents made first (a kubelet has them).
    ASSERT_EQ(
        system(("mkdir -p '" + kubelet_ + "/plugins/kubernetes.io/csi' '" +
                kubelet_ + "/pods/csi-sanity/volumes/kubernetes.io~csi'")
                   .c_str()),
        0);
    target_path_ =
        kubelet_ + "/pods/csi-sanity/volumes/kubernetes.io~csi/csi-mount";
    staging_path_ = kubelet_ + "/plugins/kubernetes.io/csi/csi-staging";
    ASSERT_EQ(mkdir(target_path_.c_str(), 0755), 0) << strerror(errno);
    ASSERT_EQ(mkdir(staging_path_.c_str(), 0755), 0) << strerror(errno);
  }

  void TearDown() override {
    if (!root_.empty() && driver_ != nullptr) {
      Cleanup();  // csi-sanity's AfterEach
      // csi-sanity's Teardown: remove the two directories (errors ignored).
      rmdir(target_path_.c_str());
      rmdir(staging_path_.c_str());
      ReportLeaks();
    }
    Fixture::TearDown();  // the driver's log if the test failed
  }

  csi::v1::Identity::Stub& Identity() { return driver_->identity(); }
  csi::v1::Controller::Stub& Controller() { return driver_->controller(); }
  csi::v1::Node::Stub& Node() { return driver_->node(); }
  csi::v1::GroupController::Stub& GroupController() {
    return *group_controller_;
  }
  std::string Target() const { return target_path_ + "/target"; }

  // ------------------------------------------------------ capabilities

  bool ControllerCapabilitySupported(ControllerRpc::Type type) {
    csi::v1::ControllerGetCapabilitiesResponse response;
    grpc::Status status =
        Controller().ControllerGetCapabilities(Context().get(), {}, &response);
    EXPECT_TRUE(IsOk(status)) << "ControllerGetCapabilities";
    // csi-sanity's NotTo(BeNil()) on the list: an empty one decodes as nil.
    EXPECT_GT(response.capabilities_size(), 0)
        << "ControllerGetCapabilities returned no capabilities";
    for (const auto& cap : response.capabilities()) {
      EXPECT_TRUE(cap.has_rpc());
      if (cap.rpc().type() == type) return true;
    }
    return false;
  }

  bool NodeCapabilitySupported(NodeRpc::Type type) {
    csi::v1::NodeGetCapabilitiesResponse response;
    grpc::Status status =
        Node().NodeGetCapabilities(Context().get(), {}, &response);
    EXPECT_TRUE(IsOk(status)) << "NodeGetCapabilities";
    for (const auto& cap : response.capabilities()) {
      EXPECT_TRUE(cap.has_rpc());
      if (cap.rpc().type() == type) return true;
    }
    return false;
  }

  bool PluginServiceSupported(PluginService::Type type) {
    csi::v1::GetPluginCapabilitiesResponse response;
    grpc::Status status =
        Identity().GetPluginCapabilities(Context().get(), {}, &response);
    EXPECT_TRUE(IsOk(status)) << "GetPluginCapabilities";
    for (const auto& cap : response.capabilities()) {
      if (cap.has_service() && cap.service().type() == type) return true;
    }
    return false;
  }

  bool GroupControllerCapabilitySupported(GroupRpc::Type type) {
    csi::v1::GroupControllerGetCapabilitiesResponse response;
    grpc::Status status = GroupController().GroupControllerGetCapabilities(
        Context().get(), {}, &response);
    EXPECT_TRUE(IsOk(status)) << "GroupControllerGetCapabilities";
    // As for the controller: csi-sanity wants a non-empty list here.
    EXPECT_GT(response.capabilities_size(), 0)
        << "GroupControllerGetCapabilities returned no capabilities";
    for (const auto& cap : response.capabilities()) {
      EXPECT_TRUE(cap.has_rpc());
      if (cap.rpc().type() == type) return true;
    }
    return false;
  }

  // What the "Node Service" specs find out before each of them.
  struct NodeServiceCaps {
    bool provides_controller_service = false;
    bool controller_publish = false;
    bool node_stage = false;
    bool node_volume_stats = false;
    bool node_expansion = false;
    bool controller_expansion = false;
  };
  NodeServiceCaps LoadNodeServiceCaps() {
    NodeServiceCaps caps;
    caps.provides_controller_service =
        PluginServiceSupported(PluginService::CONTROLLER_SERVICE);
    if (caps.provides_controller_service) {
      caps.controller_publish = ControllerCapabilitySupported(
          ControllerRpc::PUBLISH_UNPUBLISH_VOLUME);
    }
    caps.node_stage = NodeCapabilitySupported(NodeRpc::STAGE_UNSTAGE_VOLUME);
    caps.node_volume_stats = NodeCapabilitySupported(NodeRpc::GET_VOLUME_STATS);
    caps.node_expansion = NodeCapabilitySupported(NodeRpc::EXPAND_VOLUME);
    caps.controller_expansion =
        ControllerCapabilitySupported(ControllerRpc::EXPAND_VOLUME);
    return caps;
  }

  // ------------------------------------------------------ resources
  // csi-sanity's Resources: calls that create something register it for
  // cleanup, successful deletes unregister it.

  grpc::Status CreateVolume(const csi::v1::CreateVolumeRequest& request,
                            csi::v1::CreateVolumeResponse* response) {
    grpc::Status status =
        Controller().CreateVolume(Context().get(), request, response);
    if (status.ok() && !response->volume().volume_id().empty()) {
      resources_.push_back({Kind::kVolume, response->volume().volume_id(), ""});
    }
    return status;
  }

  grpc::Status DeleteVolume(const csi::v1::DeleteVolumeRequest& request) {
    csi::v1::DeleteVolumeResponse response;
    grpc::Status status =
        Controller().DeleteVolume(Context().get(), request, &response);
    if (status.ok()) Unregister(request.volume_id());
    return status;
  }

  grpc::Status ControllerPublishVolume(
      const csi::v1::ControllerPublishVolumeRequest& request,
      csi::v1::ControllerPublishVolumeResponse* response) {
    grpc::Status status = Controller().ControllerPublishVolume(
        Context().get(), request, response);
    if (status.ok() && !request.volume_id().empty() &&
        !request.node_id().empty()) {
      resources_.push_back(
          {Kind::kVolume, request.volume_id(), request.node_id()});
    }
    return status;
  }

  grpc::Status CreateSnapshot(const csi::v1::CreateSnapshotRequest& request,
                              csi::v1::CreateSnapshotResponse* response) {
    grpc::Status status =
        Controller().CreateSnapshot(Context().get(), request, response);
    if (status.ok() && !response->snapshot().snapshot_id().empty()) {
      resources_.push_back(
          {Kind::kSnapshot, response->snapshot().snapshot_id(), ""});
    }
    return status;
  }

  grpc::Status DeleteSnapshot(const csi::v1::DeleteSnapshotRequest& request) {
    csi::v1::DeleteSnapshotResponse response;
    grpc::Status status =
        Controller().DeleteSnapshot(Context().get(), request, &response);
    if (status.ok() && !request.snapshot_id().empty()) {
      Unregister(request.snapshot_id());
    }
    return status;
  }

  ::testing::AssertionResult MustCreateVolume(
      const csi::v1::CreateVolumeRequest& request,
      csi::v1::CreateVolumeResponse* response) {
    grpc::Status status = CreateVolume(request, response);
    if (!status.ok()) {
      return ::testing::AssertionFailure()
             << "volume create failed: " << IsOk(status).message();
    }
    if (!response->has_volume()) {
      return ::testing::AssertionFailure() << "volume in response is nil";
    }
    if (response->volume().volume_id().empty()) {
      return ::testing::AssertionFailure()
             << "volume ID in response is missing";
    }
    return ::testing::AssertionSuccess();
  }

  ::testing::AssertionResult MustCreateSnapshot(
      const csi::v1::CreateSnapshotRequest& request,
      csi::v1::CreateSnapshotResponse* response) {
    grpc::Status status = CreateSnapshot(request, response);
    if (!status.ok()) {
      return ::testing::AssertionFailure()
             << "create snapshot failed: " << IsOk(status).message();
    }
    return VerifySnapshotInfo(response->snapshot());
  }

  ::testing::AssertionResult MustCreateSnapshotFromVolumeRequest(
      const csi::v1::CreateVolumeRequest& volume_request,
      const std::string& snapshot_name,
      csi::v1::CreateSnapshotResponse* snapshot,
      csi::v1::CreateVolumeResponse* volume = nullptr) {
    csi::v1::CreateVolumeResponse volume_response;
    if (volume == nullptr) volume = &volume_response;
    ::testing::AssertionResult created =
        MustCreateVolume(volume_request, volume);
    if (!created) return created;
    return MustCreateSnapshot(
        MakeCreateSnapshotReq(snapshot_name, volume->volume().volume_id()),
        snapshot);
  }

  ::testing::AssertionResult MustControllerPublishVolume(
      const csi::v1::ControllerPublishVolumeRequest& request,
      csi::v1::ControllerPublishVolumeResponse* response) {
    grpc::Status status = ControllerPublishVolume(request, response);
    if (!status.ok()) {
      return ::testing::AssertionFailure()
             << "controller publish volume failed: " << IsOk(status).message();
    }
    return ::testing::AssertionSuccess();
  }

  ::testing::AssertionResult GetNodeInfo(csi::v1::NodeGetInfoResponse* info) {
    grpc::Status status = Node().NodeGetInfo(Context().get(), {}, info);
    if (!status.ok()) return IsOk(status);
    if (info->node_id().empty()) {
      return ::testing::AssertionFailure() << "node id is empty";
    }
    return ::testing::AssertionSuccess();
  }

  // The "Node Service" helpers: controller publish when supported, stage
  // when supported, publish at "<mount dir>/target".
  ::testing::AssertionResult ControllerPublishForNode(
      const NodeServiceCaps& caps, const csi::v1::CreateVolumeResponse& vol,
      const csi::v1::NodeGetInfoResponse& node,
      csi::v1::ControllerPublishVolumeResponse* published) {
    if (!caps.controller_publish) return ::testing::AssertionSuccess();
    csi::v1::ControllerPublishVolumeRequest request =
        NewControllerPublishVolumeReq();
    request.set_volume_id(vol.volume().volume_id());
    request.set_node_id(node.node_id());
    *request.mutable_volume_capability() = TestVolumeCapability();
    *request.mutable_volume_context() = vol.volume().volume_context();
    request.set_readonly(false);
    return MustControllerPublishVolume(request, published);
  }

  ::testing::AssertionResult NodeStage(
      const NodeServiceCaps& caps, const csi::v1::CreateVolumeResponse& vol,
      const csi::v1::ControllerPublishVolumeResponse& published) {
    if (!caps.node_stage) return ::testing::AssertionSuccess();
    csi::v1::NodeStageVolumeRequest request = NewNodeStageVolumeReq();
    request.set_volume_id(vol.volume().volume_id());
    *request.mutable_volume_capability() = TestVolumeCapability();
    request.set_staging_target_path(staging_path_);
    *request.mutable_volume_context() = vol.volume().volume_context();
    *request.mutable_publish_context() = published.publish_context();
    csi::v1::NodeStageVolumeResponse response;
    return IsOk(Node().NodeStageVolume(Context().get(), request, &response));
  }

  ::testing::AssertionResult NodePublish(
      const NodeServiceCaps& caps, const csi::v1::CreateVolumeResponse& vol,
      const csi::v1::ControllerPublishVolumeResponse& published) {
    csi::v1::NodePublishVolumeRequest request = NewNodePublishVolumeReq();
    request.set_volume_id(vol.volume().volume_id());
    request.set_target_path(Target());
    if (caps.node_stage) request.set_staging_target_path(staging_path_);
    *request.mutable_volume_capability() = TestVolumeCapability();
    *request.mutable_volume_context() = vol.volume().volume_context();
    *request.mutable_publish_context() = published.publish_context();
    csi::v1::NodePublishVolumeResponse response;
    return IsOk(Node().NodePublishVolume(Context().get(), request, &response));
  }

  // csi-sanity's VolumeLifecycle (the Controller "volume lifecycle" specs).
  void VolumeLifecycle(int count);
  // csi-sanity's runControllerTest (the "Node Service should ..." specs).
  void RunControllerTest(const NodeServiceCaps& caps, int count);

  // csi-sanity's Resources.Cleanup: newest first, unpublish and unstage
  // (NOT_FOUND is fine), controller-unpublish where published, delete.
  void Cleanup() {
    std::vector<std::string> errors;
    for (auto it = resources_.rbegin(); it != resources_.rend(); ++it) {
      if (it->kind == Kind::kSnapshot) {
        csi::v1::DeleteSnapshotResponse response;
        grpc::Status status = Controller().DeleteSnapshot(
            Context().get(), MakeDeleteSnapshotReq(it->id), &response);
        if (!status.ok()) {
          errors.push_back(absl::StrCat("DeleteSnapshot for snapshot ID ",
                                        it->id,
                                        " failed: ", status.error_message()));
        }
        continue;
      }
      if (cleanup_uses_node_) {
        csi::v1::NodeUnpublishVolumeRequest unpublish;
        unpublish.set_volume_id(it->id);
        unpublish.set_target_path(Target());
        csi::v1::NodeUnpublishVolumeResponse unpublished;
        grpc::Status status = Node().NodeUnpublishVolume(
            Context().get(), unpublish, &unpublished);
        if (!status.ok() && status.error_code() != StatusCode::NOT_FOUND) {
          errors.push_back(absl::StrCat("NodeUnpublishVolume for volume ID ",
                                        it->id,
                                        " failed: ", status.error_message()));
        }
        if (NodeCapabilitySupported(NodeRpc::STAGE_UNSTAGE_VOLUME)) {
          csi::v1::NodeUnstageVolumeRequest unstage;
          unstage.set_volume_id(it->id);
          unstage.set_staging_target_path(staging_path_);
          csi::v1::NodeUnstageVolumeResponse unstaged;
          status =
              Node().NodeUnstageVolume(Context().get(), unstage, &unstaged);
          if (!status.ok() && status.error_code() != StatusCode::NOT_FOUND) {
            errors.push_back(absl::StrCat("NodeUnstageVolume for volume ID ",
                                          it->id,
                                          " failed: ", status.error_message()));
          }
        }
      }
      if (!it->node_id.empty()) {
        csi::v1::ControllerUnpublishVolumeRequest request;
        request.set_volume_id(it->id);
        request.set_node_id(it->node_id);
        SetMap(Secrets().controller_unpublish_volume,
               request.mutable_secrets());
        csi::v1::ControllerUnpublishVolumeResponse response;
        grpc::Status status = Controller().ControllerUnpublishVolume(
            Context().get(), request, &response);
        if (!status.ok()) {
          errors.push_back(
              absl::StrCat("ControllerUnpublishVolume for volume ID ", it->id,
                           " failed: ", status.error_message()));
        }
      }
      csi::v1::DeleteVolumeResponse response;
      grpc::Status status = Controller().DeleteVolume(
          Context().get(), MakeDeleteVolumeReq(it->id), &response);
      if (!status.ok()) {
        errors.push_back(absl::StrCat("DeleteVolume for volume ID ", it->id,
                                      " failed: ", status.error_message()));
      }
    }
    resources_.clear();
    for (const std::string& error : errors) {
      ADD_FAILURE() << "resource cleanup failed: " << error;
    }
  }

  // Not a csi-sanity check (csi-sanity would not notice): after its cleanup
  // no mount or loop device of the test may remain, so a test that leaks
  // fails, with "left after cleanup" in the message to tell it apart from a
  // csi-sanity failure.
  void ReportLeaks() {
    for (const std::string& mount : testing::MountPointsUnder(root_)) {
      ADD_FAILURE() << "left after cleanup: mount at " << mount;
    }
    RealLoopDevices loops;
    auto list = loops.List();
    if (list.ok()) {
      for (const auto& info : *list) {
        if (info.backing_file.rfind(root_ + "/", 0) == 0) {
          ADD_FAILURE() << "left after cleanup: " << info.device
                        << " backed by " << info.backing_file;
        }
      }
    }
  }

  enum class Kind { kVolume, kSnapshot };
  struct Resource {
    Kind kind;
    std::string id;
    std::string node_id;  // set when controller-published
  };

  void Unregister(const std::string& id) {
    for (auto it = resources_.begin(); it != resources_.end(); ++it) {
      if (it->id == id) {
        resources_.erase(it);
        return;
      }
    }
  }

  std::string target_path_, staging_path_;
  std::unique_ptr<csi::v1::GroupController::Stub> group_controller_;
  std::vector<Resource> resources_;
  // False for the ExpandVolume and ModifyVolume specs, whose Resources have
  // no node client.
  bool cleanup_uses_node_ = true;
};

void SanityE2eTest::VolumeLifecycle(int count) {
  csi::v1::NodeGetInfoResponse node;
  ASSERT_TRUE(GetNodeInfo(&node));
  // Create Volume First: no capacity_range, and the node's own topology as
  // the requirement when it reports one (csi-sanity assumes topology-aware
  // provisioning on a single node works).
  csi::v1::CreateVolumeRequest request = CreateVolumeReqNoCapacity(
      UniqueString(absl::StrCat("sanity-controller-publish-", count)));
  RequireNodeTopology(node, &request);
  csi::v1::CreateVolumeResponse vol;
  ASSERT_TRUE(MustCreateVolume(request, &vol));
  for (int i = 0; i < count; ++i) {
    csi::v1::ControllerPublishVolumeRequest publish =
        NewControllerPublishVolumeReq();
    publish.set_volume_id(vol.volume().volume_id());
    publish.set_node_id(node.node_id());
    *publish.mutable_volume_capability() = TestVolumeCapability();
    *publish.mutable_volume_context() = vol.volume().volume_context();
    publish.set_readonly(false);
    csi::v1::ControllerPublishVolumeResponse published;
    ASSERT_TRUE(MustControllerPublishVolume(publish, &published));
  }
}

void SanityE2eTest::RunControllerTest(const NodeServiceCaps& caps, int count) {
  const std::string name =
      UniqueString(absl::StrCat("sanity-node-full-", count));
  csi::v1::NodeGetInfoResponse node;
  ASSERT_TRUE(GetNodeInfo(&node));
  // csi-sanity builds this request itself, not with MakeCreateVolumeReq:
  // required_bytes only, plus the node's topology when it reports one.
  csi::v1::CreateVolumeRequest request = CreateVolumeReqRequiredOnly(name);
  RequireNodeTopology(node, &request);
  csi::v1::CreateVolumeResponse vol;
  ASSERT_TRUE(MustCreateVolume(request, &vol));
  csi::v1::ControllerPublishVolumeResponse published;
  ASSERT_TRUE(ControllerPublishForNode(caps, vol, node, &published));
  for (int i = 0; caps.node_stage && i < count; ++i) {
    ASSERT_TRUE(NodeStage(caps, vol, published)) << "node staging, try " << i;
  }
  for (int i = 0; i < count; ++i) {
    ASSERT_TRUE(NodePublish(caps, vol, published)) << "publishing, try " << i;
  }
  if (caps.node_volume_stats) {
    csi::v1::NodeGetVolumeStatsRequest request;
    request.set_volume_id(vol.volume().volume_id());
    request.set_volume_path(Target());
    csi::v1::NodeGetVolumeStatsResponse stats;
    ASSERT_TRUE(
        IsOk(Node().NodeGetVolumeStats(Context().get(), request, &stats)));
    EXPECT_GT(stats.usage_size(), 0);
  }
}

// csi-sanity's Skip() calls, spelled as csi-sanity spells the reasons.
#define SKIP_UNLESS_CONTROLLER_CAP(type, reason) \
  if (!ControllerCapabilitySupported(type)) {    \
    GTEST_SKIP() << reason;                      \
  }
#define SKIP_UNLESS_NODE_CAP(type, reason) \
  if (!NodeCapabilitySupported(type)) {    \
    GTEST_SKIP() << reason;                \
  }
#define SKIP_UNLESS_GROUP_CONTROLLER_SERVICE()                            \
  if (!PluginServiceSupported(PluginService::GROUP_CONTROLLER_SERVICE)) { \
    GTEST_SKIP() << "GroupControllerService not supported";               \
  }
#define SKIP_UNLESS_VOLUME_GROUP_SNAPSHOTS()                    \
  SKIP_UNLESS_GROUP_CONTROLLER_SERVICE();                       \
  if (!GroupControllerCapabilitySupported(                      \
          GroupRpc::CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT)) { \
    GTEST_SKIP() << "VolumeGroupSnapshots not supported";       \
  }

// ======================================================================
// Controller Service [Controller Server]
// ======================================================================

// Controller Service [Controller Server] ControllerGetCapabilities should
// return appropriate capabilities
TEST_F(SanityE2eTest,
       ControllerGetCapabilities_ShouldReturnAppropriateCapabilities) {
  csi::v1::ControllerGetCapabilitiesResponse caps;
  ASSERT_TRUE(
      IsOk(Controller().ControllerGetCapabilities(Context().get(), {}, &caps)));
  // csi-sanity's NotTo(BeNil()) on the list: an empty one decodes as nil.
  EXPECT_GT(caps.capabilities_size(), 0);
  for (const auto& cap : caps.capabilities()) {
    ASSERT_TRUE(cap.has_rpc());
    switch (cap.rpc().type()) {
      case ControllerRpc::CREATE_DELETE_VOLUME:
      case ControllerRpc::PUBLISH_UNPUBLISH_VOLUME:
      case ControllerRpc::LIST_VOLUMES:
      case ControllerRpc::GET_CAPACITY:
      case ControllerRpc::CREATE_DELETE_SNAPSHOT:
      case ControllerRpc::LIST_SNAPSHOTS:
      case ControllerRpc::PUBLISH_READONLY:
      case ControllerRpc::CLONE_VOLUME:
      case ControllerRpc::EXPAND_VOLUME:
      case ControllerRpc::MODIFY_VOLUME:
      case ControllerRpc::LIST_VOLUMES_PUBLISHED_NODES:
      case ControllerRpc::GET_VOLUME:
      case ControllerRpc::VOLUME_CONDITION:
      case ControllerRpc::SINGLE_NODE_MULTI_WRITER:
        break;
      default:
        ADD_FAILURE() << "Unknown capability: " << cap.rpc().type();
    }
  }
}

// Controller Service [Controller Server] GetCapacity should return capacity (no
// optional values added)
TEST_F(SanityE2eTest,
       ControllerGetCapacity_ShouldReturnCapacityNoOptionalValuesAdded) {
  SKIP_UNLESS_CONTROLLER_CAP(ControllerRpc::GET_CAPACITY,
                             "GetCapacity not supported");
  csi::v1::GetCapacityResponse response;
  EXPECT_TRUE(IsOk(Controller().GetCapacity(Context().get(), {}, &response)));
}

// Controller Service [Controller Server] ListVolumes should return appropriate
// values (no optional values added)
TEST_F(
    SanityE2eTest,
    ControllerListVolumes_ShouldReturnAppropriateValuesNoOptionalValuesAdded) {
  SKIP_UNLESS_CONTROLLER_CAP(ControllerRpc::LIST_VOLUMES,
                             "ListVolumes not supported");
  csi::v1::ListVolumesResponse vols;
  ASSERT_TRUE(IsOk(Controller().ListVolumes(Context().get(), {}, &vols)));
  for (const auto& entry : vols.entries()) {
    EXPECT_TRUE(entry.has_volume());
    EXPECT_FALSE(entry.volume().volume_id().empty());
  }
}

// Controller Service [Controller Server] ListVolumes should fail when an
// invalid starting_token is passed
TEST_F(SanityE2eTest,
       ControllerListVolumes_ShouldFailWhenAnInvalidStartingTokenIsPassed) {
  SKIP_UNLESS_CONTROLLER_CAP(ControllerRpc::LIST_VOLUMES,
                             "ListVolumes not supported");
  csi::v1::ListVolumesRequest request;
  request.set_starting_token("invalid-token");
  csi::v1::ListVolumesResponse vols;
  EXPECT_TRUE(HasCode(Controller().ListVolumes(Context().get(), request, &vols),
                      StatusCode::ABORTED));
}

// Controller Service [Controller Server] ListVolumes check the presence of new
// volumes and absence of deleted ones in the volume list
TEST_F(
    SanityE2eTest,
    ControllerListVolumes_CheckThePresenceOfNewVolumesAndAbsenceOfDeletedOnesInTheVolumeList) {
  SKIP_UNLESS_CONTROLLER_CAP(ControllerRpc::LIST_VOLUMES,
                             "ListVolumes not supported");
  csi::v1::ListVolumesResponse vols;
  ASSERT_TRUE(IsOk(Controller().ListVolumes(Context().get(), {}, &vols)));
  const int total = vols.entries_size();

  // csi-sanity uses the plain name "sanity" here and sends no capacity_range
  // at all (not TestVolumeSize): the size is the driver's choice.
  csi::v1::CreateVolumeRequest request = CreateVolumeReqNoCapacity("sanity");
  csi::v1::CreateVolumeResponse vol;
  ASSERT_TRUE(MustCreateVolume(request, &vol));

  ASSERT_TRUE(IsOk(Controller().ListVolumes(Context().get(), {}, &vols)));
  EXPECT_EQ(vols.entries_size(), total + 1);

  ASSERT_TRUE(
      IsOk(DeleteVolume(MakeDeleteVolumeReq(vol.volume().volume_id()))));

  ASSERT_TRUE(IsOk(Controller().ListVolumes(Context().get(), {}, &vols)));
  EXPECT_EQ(vols.entries_size(), total);
}

// Controller Service [Controller Server] ListVolumes pagination should detect
// volumes added between pages and accept tokens when the last volume from a
// page is deleted
TEST_F(
    SanityE2eTest,
    ControllerListVolumes_PaginationShouldDetectVolumesAddedBetweenPagesAndAcceptTokensWhenTheLastVolumeFromAPageIsDeleted) {
  SKIP_UNLESS_CONTROLLER_CAP(ControllerRpc::LIST_VOLUMES,
                             "ListVolumes not supported");
  const char* run_pending = getenv("CELLAR_SANITY_RUN_PENDING");
  if (run_pending == nullptr || std::string(run_pending) != "1") {
    GTEST_SKIP() << "pending in csi-sanity (XIt, disabled upstream as "
                    "fragile); set CELLAR_SANITY_RUN_PENDING=1 to run it";
  }
  int min_vol_count = 3;
  const int max_entries = 2;
  std::map<std::string, bool> existing;
  csi::v1::ListVolumesResponse vols;
  ASSERT_TRUE(IsOk(Controller().ListVolumes(Context().get(), {}, &vols)));
  const int initial = vols.entries_size();
  for (const auto& entry : vols.entries()) {
    existing[entry.volume().volume_id()] = true;
  }
  if (min_vol_count <= initial) {
    min_vol_count = initial;
  } else {
    for (int i = initial; i < min_vol_count; ++i) {
      csi::v1::CreateVolumeRequest request =
          CreateVolumeReqNoCapacity(absl::StrCat("sanity", i));
      csi::v1::CreateVolumeResponse vol;
      ASSERT_TRUE(IsOk(CreateVolume(request, &vol)));
      existing[vol.volume().volume_id()] = true;
    }
  }
  csi::v1::ListVolumesRequest page;
  page.set_max_entries(max_entries);
  ASSERT_TRUE(IsOk(Controller().ListVolumes(Context().get(), page, &vols)));
  ASSERT_EQ(vols.entries_size(), max_entries);
  const std::string next_token = vols.next_token();

  for (const auto& entry : vols.entries()) {
    EXPECT_TRUE(existing[entry.volume().volume_id()]);
    ASSERT_TRUE(
        IsOk(DeleteVolume(MakeDeleteVolumeReq(entry.volume().volume_id()))));
    existing[entry.volume().volume_id()] = false;
  }

  csi::v1::CreateVolumeRequest request =
      CreateVolumeReqNoCapacity("new-addition");
  csi::v1::CreateVolumeResponse vol;
  ASSERT_TRUE(MustCreateVolume(request, &vol));
  existing[vol.volume().volume_id()] = true;

  csi::v1::ListVolumesRequest rest;
  rest.set_starting_token(next_token);
  ASSERT_TRUE(IsOk(Controller().ListVolumes(Context().get(), rest, &vols)));
  const int expected = min_vol_count - max_entries + 1;
  EXPECT_LE(vols.entries_size(), expected);
  for (const auto& entry : vols.entries()) {
    EXPECT_TRUE(existing[entry.volume().volume_id()])
        << entry.volume().volume_id();
    existing[entry.volume().volume_id()] = false;
  }
}

// Controller Service [Controller Server] CreateVolume should fail when no name
// is provided
TEST_F(SanityE2eTest, ControllerCreateVolume_ShouldFailWhenNoNameIsProvided) {
  SKIP_UNLESS_CONTROLLER_CAP(ControllerRpc::CREATE_DELETE_VOLUME,
                             "CreateVolume not supported");
  csi::v1::CreateVolumeRequest request;
  AddCreateVolumeSecretsAndParameters(&request);
  csi::v1::CreateVolumeResponse response;
  EXPECT_TRUE(
      HasCode(CreateVolume(request, &response), StatusCode::INVALID_ARGUMENT));
}

// Controller Service [Controller Server] CreateVolume should fail when no
// volume capabilities are provided
TEST_F(SanityE2eTest,
       ControllerCreateVolume_ShouldFailWhenNoVolumeCapabilitiesAreProvided) {
  SKIP_UNLESS_CONTROLLER_CAP(ControllerRpc::CREATE_DELETE_VOLUME,
                             "CreateVolume not supported");
  csi::v1::CreateVolumeRequest request;
  request.set_name(
      UniqueString("sanity-controller-create-no-volume-capabilities"));
  AddCreateVolumeSecretsAndParameters(&request);
  csi::v1::CreateVolumeResponse response;
  EXPECT_TRUE(
      HasCode(CreateVolume(request, &response), StatusCode::INVALID_ARGUMENT));
}

// Controller Service [Controller Server] CreateVolume should return appropriate
// values SingleNodeWriter NoCapacity
TEST_F(
    SanityE2eTest,
    ControllerCreateVolume_ShouldReturnAppropriateValuesSingleNodeWriterNoCapacity) {
  SKIP_UNLESS_CONTROLLER_CAP(ControllerRpc::CREATE_DELETE_VOLUME,
                             "CreateVolume not supported");
  // (csi-sanity sends required_bytes here despite the title.)
  csi::v1::CreateVolumeResponse vol;
  EXPECT_TRUE(MustCreateVolume(
      CreateVolumeReqRequiredOnly(
          UniqueString("sanity-controller-create-single-no-capacity")),
      &vol));
}

// Controller Service [Controller Server] CreateVolume should return appropriate
// values SingleNodeWriter WithCapacity 1Gi
TEST_F(
    SanityE2eTest,
    ControllerCreateVolume_ShouldReturnAppropriateValuesSingleNodeWriterWithCapacity1Gi) {
  SKIP_UNLESS_CONTROLLER_CAP(ControllerRpc::CREATE_DELETE_VOLUME,
                             "CreateVolume not supported");
  csi::v1::CreateVolumeResponse vol;
  grpc::Status status = CreateVolume(
      CreateVolumeReqRequiredOnly(
          UniqueString("sanity-controller-create-single-with-capacity")),
      &vol);
  if (status.error_code() == StatusCode::OUT_OF_RANGE ||
      status.error_code() == StatusCode::UNIMPLEMENTED) {
    GTEST_SKIP() << "Required bytes not supported";
  }
  ASSERT_TRUE(IsOk(status));
  ASSERT_TRUE(vol.has_volume());
  EXPECT_FALSE(vol.volume().volume_id().empty());
  EXPECT_TRUE(vol.volume().capacity_bytes() >= kTestVolumeSize ||
              vol.volume().capacity_bytes() == 0)
      << vol.volume().capacity_bytes();
}

// Controller Service [Controller Server] CreateVolume should not fail when
// requesting to create a volume with already existing name and same capacity
TEST_F(
    SanityE2eTest,
    ControllerCreateVolume_ShouldNotFailWhenRequestingToCreateAVolumeWithAlreadyExistingNameAndSameCapacity) {
  SKIP_UNLESS_CONTROLLER_CAP(ControllerRpc::CREATE_DELETE_VOLUME,
                             "CreateVolume not supported");
  const auto request = CreateVolumeReqRequiredOnly(
      UniqueString("sanity-controller-create-twice"));
  csi::v1::CreateVolumeResponse vol1, vol2;
  ASSERT_TRUE(MustCreateVolume(request, &vol1));
  EXPECT_TRUE(vol1.volume().capacity_bytes() >= kTestVolumeSize ||
              vol1.volume().capacity_bytes() == 0);
  ASSERT_TRUE(MustCreateVolume(request, &vol2));
  EXPECT_TRUE(vol2.volume().capacity_bytes() >= kTestVolumeSize ||
              vol2.volume().capacity_bytes() == 0);
  EXPECT_EQ(vol1.volume().volume_id(), vol2.volume().volume_id());
}

// Controller Service [Controller Server] CreateVolume should fail when
// requesting to create a volume with already existing name and different
// capacity
TEST_F(
    SanityE2eTest,
    ControllerCreateVolume_ShouldFailWhenRequestingToCreateAVolumeWithAlreadyExistingNameAndDifferentCapacity) {
  SKIP_UNLESS_CONTROLLER_CAP(ControllerRpc::CREATE_DELETE_VOLUME,
                             "CreateVolume not supported");
  const std::string name =
      UniqueString("sanity-controller-create-twice-different");
  csi::v1::CreateVolumeResponse vol;
  ASSERT_TRUE(MustCreateVolume(MakeCreateVolumeReq(name), &vol));
  auto request = MakeCreateVolumeReq(name);
  request.mutable_capacity_range()->set_required_bytes(2 * kTestVolumeSize);
  request.mutable_capacity_range()->set_limit_bytes(2 * kTestVolumeSize);
  csi::v1::CreateVolumeResponse response;
  EXPECT_TRUE(
      HasCode(CreateVolume(request, &response), StatusCode::ALREADY_EXISTS));
}

// Controller Service [Controller Server] CreateVolume should not fail when
// creating volume with maximum-length name
TEST_F(
    SanityE2eTest,
    ControllerCreateVolume_ShouldNotFailWhenCreatingVolumeWithMaximumLengthName) {
  SKIP_UNLESS_CONTROLLER_CAP(ControllerRpc::CREATE_DELETE_VOLUME,
                             "CreateVolume not supported");
  const std::string name =
      UniqueStringWithLength("sanity-controller-create-maxlen", kMaxNameLength);
  ASSERT_EQ(name.size(), kMaxNameLength);
  csi::v1::CreateVolumeResponse vol;
  ASSERT_TRUE(MustCreateVolume(CreateVolumeReqRequiredOnly(name), &vol));
  EXPECT_TRUE(vol.volume().capacity_bytes() >= kTestVolumeSize ||
              vol.volume().capacity_bytes() == 0);
}

// Controller Service [Controller Server] CreateVolume should create volume from
// an existing source snapshot
TEST_F(SanityE2eTest,
       ControllerCreateVolume_ShouldCreateVolumeFromAnExistingSourceSnapshot) {
  SKIP_UNLESS_CONTROLLER_CAP(ControllerRpc::CREATE_DELETE_VOLUME,
                             "CreateVolume not supported");
  SKIP_UNLESS_CONTROLLER_CAP(ControllerRpc::CREATE_DELETE_SNAPSHOT,
                             "Snapshot not supported");
  csi::v1::CreateVolumeResponse vol1;
  ASSERT_TRUE(MustCreateVolume(
      MakeCreateVolumeReq(UniqueString("sanity-controller-source-vol")),
      &vol1));
  const auto snap_request =
      MakeCreateSnapshotReq(UniqueString("sanity-controller-snap-from-vol"),
                            vol1.volume().volume_id());
  csi::v1::CreateSnapshotResponse snap;
  // csi-sanity retries every 5 s without bound; here the wait gives up after
  // five minutes instead of running into the test runner's timeout.
  for (int tries = 0;; ++tries) {
    ASSERT_TRUE(MustCreateSnapshot(snap_request, &snap));
    if (snap.snapshot().ready_to_use()) break;
    ASSERT_LT(tries, 60) << "snapshot never became ready";
    absl::SleepFor(absl::Seconds(5));
  }
  auto request =
      MakeCreateVolumeReq(UniqueString("sanity-controller-vol-from-snap"));
  request.mutable_volume_content_source()->mutable_snapshot()->set_snapshot_id(
      snap.snapshot().snapshot_id());
  csi::v1::CreateVolumeResponse vol2;
  grpc::Status status = CreateVolume(request, &vol2);
  EXPECT_TRUE(vol2.volume().has_content_source());
  EXPECT_TRUE(IsOk(status));
}

// Controller Service [Controller Server] CreateVolume should fail when the
// volume source snapshot is not found
TEST_F(SanityE2eTest,
       ControllerCreateVolume_ShouldFailWhenTheVolumeSourceSnapshotIsNotFound) {
  SKIP_UNLESS_CONTROLLER_CAP(ControllerRpc::CREATE_DELETE_VOLUME,
                             "CreateVolume not supported");
  SKIP_UNLESS_CONTROLLER_CAP(ControllerRpc::CREATE_DELETE_SNAPSHOT,
                             "Snapshot not supported");
  auto request =
      MakeCreateVolumeReq(UniqueString("sanity-controller-vol-from-snap"));
  request.mutable_volume_content_source()->mutable_snapshot()->set_snapshot_id(
      "non-existing-snapshot-id");
  csi::v1::CreateVolumeResponse response;
  EXPECT_TRUE(HasCode(CreateVolume(request, &response), StatusCode::NOT_FOUND));
}

// Controller Service [Controller Server] CreateVolume should create volume from
// an existing source volume
TEST_F(SanityE2eTest,
       ControllerCreateVolume_ShouldCreateVolumeFromAnExistingSourceVolume) {
  SKIP_UNLESS_CONTROLLER_CAP(ControllerRpc::CREATE_DELETE_VOLUME,
                             "CreateVolume not supported");
  SKIP_UNLESS_CONTROLLER_CAP(ControllerRpc::CLONE_VOLUME,
                             "Volume Cloning not supported");
  csi::v1::CreateVolumeResponse vol1;
  ASSERT_TRUE(MustCreateVolume(
      MakeCreateVolumeReq(UniqueString("sanity-controller-source-vol")),
      &vol1));
  auto request =
      MakeCreateVolumeReq(UniqueString("sanity-controller-vol-from-vol"));
  request.mutable_volume_content_source()->mutable_volume()->set_volume_id(
      vol1.volume().volume_id());
  csi::v1::CreateVolumeResponse vol2;
  EXPECT_TRUE(IsOk(CreateVolume(request, &vol2)));
}

// Controller Service [Controller Server] CreateVolume should fail when the
// volume source volume is not found
TEST_F(SanityE2eTest,
       ControllerCreateVolume_ShouldFailWhenTheVolumeSourceVolumeIsNotFound) {
  SKIP_UNLESS_CONTROLLER_CAP(ControllerRpc::CREATE_DELETE_VOLUME,
                             "CreateVolume not supported");
  SKIP_UNLESS_CONTROLLER_CAP(ControllerRpc::CLONE_VOLUME,
                             "Volume Cloning not supported");
  auto request =
      MakeCreateVolumeReq(UniqueString("sanity-controller-vol-from-snap"));
  request.mutable_volume_content_source()->mutable_volume()->set_volume_id(
      GenerateUniqueValidVolumeID());
  csi::v1::CreateVolumeResponse response;
  EXPECT_TRUE(HasCode(CreateVolume(request, &response), StatusCode::NOT_FOUND));
}

// Controller Service [Controller Server] CreateVolume should create volume with
// a volume attribute class
TEST_F(SanityE2eTest,
       ControllerCreateVolume_ShouldCreateVolumeWithAVolumeAttributeClass) {
  SKIP_UNLESS_CONTROLLER_CAP(ControllerRpc::CREATE_DELETE_VOLUME,
                             "CreateVolume not supported");
  SKIP_UNLESS_CONTROLLER_CAP(ControllerRpc::MODIFY_VOLUME,
                             "Modify volume not supported");
  auto request = MakeCreateVolumeReq(
      UniqueString("sanity-controller-vol-with-mutable-parameters"));
  for (const auto& [key, value] : TestVolumeMutableParameters()) {
    (*request.mutable_mutable_parameters())[key] = value;
  }
  csi::v1::CreateVolumeResponse response;
  EXPECT_TRUE(IsOk(CreateVolume(request, &response)));
}

// Controller Service [Controller Server] CreateVolume should not create volume
// with an invalid volume attribute class
TEST_F(
    SanityE2eTest,
    ControllerCreateVolume_ShouldNotCreateVolumeWithAnInvalidVolumeAttributeClass) {
  SKIP_UNLESS_CONTROLLER_CAP(ControllerRpc::CREATE_DELETE_VOLUME,
                             "CreateVolume not supported");
  SKIP_UNLESS_CONTROLLER_CAP(ControllerRpc::MODIFY_VOLUME,
                             "Modify Volume not supported");
  auto request = MakeCreateVolumeReq(
      UniqueString("sanity-controller-vol-with-mutable-parameters"));
  (*request.mutable_mutable_parameters())["XXX_FakeKey"] = "XXX_FakeValue";
  csi::v1::CreateVolumeResponse response;
  EXPECT_TRUE(
      HasCode(CreateVolume(request, &response), StatusCode::INVALID_ARGUMENT));
}

// Controller Service [Controller Server] DeleteVolume should fail when no
// volume id is provided
TEST_F(SanityE2eTest,
       ControllerDeleteVolume_ShouldFailWhenNoVolumeIdIsProvided) {
  SKIP_UNLESS_CONTROLLER_CAP(ControllerRpc::CREATE_DELETE_VOLUME,
                             "DeleteVolume not supported");
  EXPECT_TRUE(HasCode(DeleteVolume(MakeDeleteVolumeReq("")),
                      StatusCode::INVALID_ARGUMENT));
}

// Controller Service [Controller Server] DeleteVolume should succeed when an
// invalid volume id is used
TEST_F(SanityE2eTest,
       ControllerDeleteVolume_ShouldSucceedWhenAnInvalidVolumeIdIsUsed) {
  SKIP_UNLESS_CONTROLLER_CAP(ControllerRpc::CREATE_DELETE_VOLUME,
                             "DeleteVolume not supported");
  EXPECT_TRUE(
      IsOk(DeleteVolume(MakeDeleteVolumeReq(GenerateInvalidVolumeID()))));
}

// Controller Service [Controller Server] DeleteVolume should return appropriate
// values (no optional values added)
TEST_F(
    SanityE2eTest,
    ControllerDeleteVolume_ShouldReturnAppropriateValuesNoOptionalValuesAdded) {
  SKIP_UNLESS_CONTROLLER_CAP(ControllerRpc::CREATE_DELETE_VOLUME,
                             "DeleteVolume not supported");
  csi::v1::CreateVolumeResponse vol;
  ASSERT_TRUE(MustCreateVolume(CreateVolumeReqRequiredOnly(UniqueString(
                                   "sanity-controller-create-appropriate")),
                               &vol));
  EXPECT_TRUE(
      IsOk(DeleteVolume(MakeDeleteVolumeReq(vol.volume().volume_id()))));
}

// Controller Service [Controller Server] ValidateVolumeCapabilities should fail
// when no volume id is provided
TEST_F(
    SanityE2eTest,
    ControllerValidateVolumeCapabilities_ShouldFailWhenNoVolumeIdIsProvided) {
  csi::v1::ValidateVolumeCapabilitiesResponse response;
  EXPECT_TRUE(HasCode(
      Controller().ValidateVolumeCapabilities(
          Context().get(), NewValidateVolumeCapabilitiesReq(), &response),
      StatusCode::INVALID_ARGUMENT));
}

// Controller Service [Controller Server] ValidateVolumeCapabilities should fail
// when no volume capabilities are provided
TEST_F(
    SanityE2eTest,
    ControllerValidateVolumeCapabilities_ShouldFailWhenNoVolumeCapabilitiesAreProvided) {
  csi::v1::CreateVolumeResponse vol;
  ASSERT_TRUE(MustCreateVolume(CreateVolumeReqRequiredOnly(UniqueString(
                                   "sanity-controller-validate-nocaps")),
                               &vol));
  csi::v1::ValidateVolumeCapabilitiesRequest request =
      NewValidateVolumeCapabilitiesReq();
  request.set_volume_id(vol.volume().volume_id());
  csi::v1::ValidateVolumeCapabilitiesResponse response;
  EXPECT_TRUE(HasCode(Controller().ValidateVolumeCapabilities(
                          Context().get(), request, &response),
                      StatusCode::INVALID_ARGUMENT));
}

// Controller Service [Controller Server] ValidateVolumeCapabilities should
// return appropriate values (no optional values added)
TEST_F(
    SanityE2eTest,
    ControllerValidateVolumeCapabilities_ShouldReturnAppropriateValuesNoOptionalValuesAdded) {
  csi::v1::CreateVolumeResponse vol;
  ASSERT_TRUE(MustCreateVolume(
      CreateVolumeReqRequiredOnly(UniqueString("sanity-controller-validate")),
      &vol));
  csi::v1::ValidateVolumeCapabilitiesRequest request =
      NewValidateVolumeCapabilitiesReq();
  request.set_volume_id(vol.volume().volume_id());
  *request.add_volume_capabilities() = TestVolumeCapability();
  csi::v1::ValidateVolumeCapabilitiesResponse response;
  ASSERT_TRUE(IsOk(Controller().ValidateVolumeCapabilities(
      Context().get(), request, &response)));
  // If confirmation is provided then it is REQUIRED to provide the volume
  // capabilities.
  if (response.has_confirmed()) {
    EXPECT_GT(response.confirmed().volume_capabilities_size(), 0);
  }
}

// Controller Service [Controller Server] ValidateVolumeCapabilities should fail
// when the requested volume does not exist
TEST_F(
    SanityE2eTest,
    ControllerValidateVolumeCapabilities_ShouldFailWhenTheRequestedVolumeDoesNotExist) {
  csi::v1::ValidateVolumeCapabilitiesRequest request =
      NewValidateVolumeCapabilitiesReq();
  request.set_volume_id(GenerateUniqueValidVolumeID());
  *request.add_volume_capabilities() = TestVolumeCapability();
  csi::v1::ValidateVolumeCapabilitiesResponse response;
  EXPECT_TRUE(HasCode(Controller().ValidateVolumeCapabilities(
                          Context().get(), request, &response),
                      StatusCode::NOT_FOUND));
}

#define SKIP_UNLESS_CONTROLLER_PUBLISH()                              \
  SKIP_UNLESS_CONTROLLER_CAP(ControllerRpc::PUBLISH_UNPUBLISH_VOLUME, \
                             "ControllerPublishVolume not supported")

// Controller Service [Controller Server] ControllerPublishVolume should fail
// when no volume id is provided
TEST_F(SanityE2eTest,
       ControllerPublishVolume_ShouldFailWhenNoVolumeIdIsProvided) {
  SKIP_UNLESS_CONTROLLER_PUBLISH();
  csi::v1::ControllerPublishVolumeResponse response;
  EXPECT_TRUE(HasCode(
      ControllerPublishVolume(NewControllerPublishVolumeReq(), &response),
      StatusCode::INVALID_ARGUMENT));
}

// Controller Service [Controller Server] ControllerPublishVolume should fail
// when no node id is provided
TEST_F(SanityE2eTest,
       ControllerPublishVolume_ShouldFailWhenNoNodeIdIsProvided) {
  SKIP_UNLESS_CONTROLLER_PUBLISH();
  csi::v1::ControllerPublishVolumeRequest request =
      NewControllerPublishVolumeReq();
  request.set_volume_id(GenerateUniqueValidVolumeID());
  csi::v1::ControllerPublishVolumeResponse response;
  EXPECT_TRUE(HasCode(ControllerPublishVolume(request, &response),
                      StatusCode::INVALID_ARGUMENT));
}

// Controller Service [Controller Server] ControllerPublishVolume should fail
// when no volume capability is provided
TEST_F(SanityE2eTest,
       ControllerPublishVolume_ShouldFailWhenNoVolumeCapabilityIsProvided) {
  SKIP_UNLESS_CONTROLLER_PUBLISH();
  csi::v1::ControllerPublishVolumeRequest request =
      NewControllerPublishVolumeReq();
  request.set_volume_id(GenerateUniqueValidVolumeID());
  request.set_node_id(GenerateUniqueValidNodeID());
  csi::v1::ControllerPublishVolumeResponse response;
  EXPECT_TRUE(HasCode(ControllerPublishVolume(request, &response),
                      StatusCode::INVALID_ARGUMENT));
}

// Controller Service [Controller Server] ControllerPublishVolume should fail
// when publishing more volumes than the node max attach limit
TEST_F(
    SanityE2eTest,
    ControllerPublishVolume_ShouldFailWhenPublishingMoreVolumesThanTheNodeMaxAttachLimit) {
  SKIP_UNLESS_CONTROLLER_PUBLISH();
  if (!kTestNodeVolumeAttachLimit) {
    GTEST_SKIP() << "testnodevolumeattachlimit not enabled";
  }
  csi::v1::NodeGetInfoResponse node;
  ASSERT_TRUE(IsOk(Node().NodeGetInfo(Context().get(), {}, &node)));
  if (node.max_volumes_per_node() <= 0) {
    GTEST_SKIP() << "No MaxVolumesPerNode";
  }
  ASSERT_FALSE(node.node_id().empty());
  auto publish_request = [&](const std::string& volume_id) {
    csi::v1::ControllerPublishVolumeRequest request =
        NewControllerPublishVolumeReq();
    request.set_volume_id(volume_id);
    request.set_node_id(node.node_id());
    *request.mutable_volume_capability() = TestVolumeCapability();
    request.set_readonly(false);
    return request;
  };
  for (int64_t i = 0; i < node.max_volumes_per_node(); ++i) {
    csi::v1::CreateVolumeResponse vol;
    ASSERT_TRUE(MustCreateVolume(MakeCreateVolumeReq(UniqueString(absl::StrCat(
                                     "sanity-max-attach-limit-vol-", i))),
                                 &vol));
    csi::v1::ControllerPublishVolumeResponse published;
    ASSERT_TRUE(MustControllerPublishVolume(
        publish_request(vol.volume().volume_id()), &published));
  }
  csi::v1::CreateVolumeResponse vol;
  ASSERT_TRUE(MustCreateVolume(
      MakeCreateVolumeReq(UniqueString("sanity-max-attach-limit-vol+1")),
      &vol));
  csi::v1::ControllerPublishVolumeResponse published;
  EXPECT_FALSE(ControllerPublishVolume(
                   publish_request(vol.volume().volume_id()), &published)
                   .ok());
}

// Controller Service [Controller Server] ControllerPublishVolume should fail
// when the volume does not exist
TEST_F(SanityE2eTest,
       ControllerPublishVolume_ShouldFailWhenTheVolumeDoesNotExist) {
  SKIP_UNLESS_CONTROLLER_PUBLISH();
  csi::v1::ControllerPublishVolumeRequest request =
      NewControllerPublishVolumeReq();
  request.set_volume_id(GenerateUniqueValidVolumeID());
  request.set_node_id(GenerateUniqueValidNodeID());
  *request.mutable_volume_capability() = TestVolumeCapability();
  request.set_readonly(false);
  csi::v1::ControllerPublishVolumeResponse response;
  EXPECT_TRUE(HasCode(ControllerPublishVolume(request, &response),
                      StatusCode::NOT_FOUND));
}

// Controller Service [Controller Server] ControllerPublishVolume should fail
// when the node does not exist
TEST_F(SanityE2eTest,
       ControllerPublishVolume_ShouldFailWhenTheNodeDoesNotExist) {
  SKIP_UNLESS_CONTROLLER_PUBLISH();
  csi::v1::CreateVolumeResponse vol;
  ASSERT_TRUE(MustCreateVolume(
      CreateVolumeReqNoCapacity(UniqueString("sanity-controller-wrong-node")),
      &vol));
  csi::v1::ControllerPublishVolumeRequest request =
      NewControllerPublishVolumeReq();
  request.set_volume_id(vol.volume().volume_id());
  request.set_node_id(GenerateUniqueValidNodeID());
  *request.mutable_volume_capability() = TestVolumeCapability();
  request.set_readonly(false);
  csi::v1::ControllerPublishVolumeResponse response;
  EXPECT_TRUE(HasCode(ControllerPublishVolume(request, &response),
                      StatusCode::NOT_FOUND));
}

// Controller Service [Controller Server] ControllerPublishVolume should fail
// when the volume is already published but is incompatible
TEST_F(
    SanityE2eTest,
    ControllerPublishVolume_ShouldFailWhenTheVolumeIsAlreadyPublishedButIsIncompatible) {
  SKIP_UNLESS_CONTROLLER_PUBLISH();
  SKIP_UNLESS_CONTROLLER_CAP(ControllerRpc::PUBLISH_READONLY,
                             "ControllerPublishVolume.readonly field not "
                             "supported");
  csi::v1::CreateVolumeResponse vol;
  ASSERT_TRUE(MustCreateVolume(CreateVolumeReqNoCapacity(UniqueString(
                                   "sanity-controller-published-incompatible")),
                               &vol));
  csi::v1::NodeGetInfoResponse node;
  ASSERT_TRUE(GetNodeInfo(&node));
  csi::v1::ControllerPublishVolumeRequest request =
      NewControllerPublishVolumeReq();
  request.set_volume_id(vol.volume().volume_id());
  request.set_node_id(node.node_id());
  *request.mutable_volume_capability() = TestVolumeCapability();
  request.set_readonly(false);
  csi::v1::ControllerPublishVolumeResponse response;
  ASSERT_TRUE(MustControllerPublishVolume(request, &response));
  // Publish again with different attributes.
  request.set_readonly(true);
  EXPECT_TRUE(HasCode(ControllerPublishVolume(request, &response),
                      StatusCode::ALREADY_EXISTS));
}

// Controller Service [Controller Server] volume lifecycle should work
TEST_F(SanityE2eTest, ControllerVolumeLifecycle_ShouldWork) {
  SKIP_UNLESS_CONTROLLER_CAP(ControllerRpc::PUBLISH_UNPUBLISH_VOLUME,
                             "Controller Publish, UnpublishVolume not "
                             "supported");
  VolumeLifecycle(1);
}

// Controller Service [Controller Server] volume lifecycle should be idempotent
TEST_F(SanityE2eTest, ControllerVolumeLifecycle_ShouldBeIdempotent) {
  SKIP_UNLESS_CONTROLLER_CAP(ControllerRpc::PUBLISH_UNPUBLISH_VOLUME,
                             "Controller Publish, UnpublishVolume not "
                             "supported");
  VolumeLifecycle(kIdempotentCount);
}

// Controller Service [Controller Server] ControllerUnpublishVolume should fail
// when no volume id is provided
TEST_F(SanityE2eTest,
       ControllerUnpublishVolume_ShouldFailWhenNoVolumeIdIsProvided) {
  SKIP_UNLESS_CONTROLLER_CAP(ControllerRpc::PUBLISH_UNPUBLISH_VOLUME,
                             "ControllerUnpublishVolume not supported");
  csi::v1::ControllerUnpublishVolumeRequest request;
  SetMap(Secrets().controller_unpublish_volume, request.mutable_secrets());
  csi::v1::ControllerUnpublishVolumeResponse response;
  EXPECT_TRUE(HasCode(Controller().ControllerUnpublishVolume(
                          Context().get(), request, &response),
                      StatusCode::INVALID_ARGUMENT));
}

// ======================================================================
// ListSnapshots [Controller Server]
// ======================================================================

#define SKIP_UNLESS_LIST_SNAPSHOTS()                        \
  SKIP_UNLESS_CONTROLLER_CAP(ControllerRpc::LIST_SNAPSHOTS, \
                             "ListSnapshots not supported")

// ListSnapshots [Controller Server] should return appropriate values (no
// optional values added)
TEST_F(SanityE2eTest,
       ListSnapshots_ShouldReturnAppropriateValuesNoOptionalValuesAdded) {
  SKIP_UNLESS_LIST_SNAPSHOTS();
  csi::v1::ListSnapshotsResponse snapshots;
  ASSERT_TRUE(IsOk(Controller().ListSnapshots(
      Context().get(), NewListSnapshotsReq(), &snapshots)));
  for (const auto& entry : snapshots.entries()) {
    EXPECT_TRUE(VerifySnapshotInfo(entry.snapshot()));
  }
}

// ListSnapshots [Controller Server] should return snapshots that match the
// specified snapshot id
TEST_F(SanityE2eTest,
       ListSnapshots_ShouldReturnSnapshotsThatMatchTheSpecifiedSnapshotId) {
  SKIP_UNLESS_LIST_SNAPSHOTS();
  csi::v1::CreateSnapshotResponse unrelated1, target, unrelated2;
  ASSERT_TRUE(MustCreateSnapshotFromVolumeRequest(
      MakeCreateVolumeReq(UniqueString("listSnapshots-volume-unrelated-s-1")),
      UniqueString("listSnapshots-snapshot-unrelated-s-1"), &unrelated1));
  ASSERT_TRUE(MustCreateSnapshotFromVolumeRequest(
      MakeCreateVolumeReq(UniqueString("listSnapshots-volume-target-s")),
      UniqueString("listSnapshots-snapshot-target-s"), &target));
  ASSERT_TRUE(MustCreateSnapshotFromVolumeRequest(
      MakeCreateVolumeReq(UniqueString("listSnapshots-volume-unrelated-s-2")),
      UniqueString("listSnapshots-snapshot-unrelated-s-2"), &unrelated2));
  csi::v1::ListSnapshotsRequest request = NewListSnapshotsReq();
  request.set_snapshot_id(target.snapshot().snapshot_id());
  csi::v1::ListSnapshotsResponse snapshots;
  ASSERT_TRUE(
      IsOk(Controller().ListSnapshots(Context().get(), request, &snapshots)));
  ASSERT_EQ(snapshots.entries_size(), 1);
  EXPECT_TRUE(VerifySnapshotInfo(snapshots.entries(0).snapshot()));
  EXPECT_EQ(snapshots.entries(0).snapshot().snapshot_id(),
            target.snapshot().snapshot_id());
}

// ListSnapshots [Controller Server] should return empty when the specified
// snapshot id does not exist
TEST_F(SanityE2eTest,
       ListSnapshots_ShouldReturnEmptyWhenTheSpecifiedSnapshotIdDoesNotExist) {
  SKIP_UNLESS_LIST_SNAPSHOTS();
  csi::v1::ListSnapshotsRequest request = NewListSnapshotsReq();
  request.set_snapshot_id("none-exist-id");
  csi::v1::ListSnapshotsResponse snapshots;
  ASSERT_TRUE(
      IsOk(Controller().ListSnapshots(Context().get(), request, &snapshots)));
  EXPECT_EQ(snapshots.entries_size(), 0);
}

// ListSnapshots [Controller Server] should return snapshots that match the
// specified source volume id
TEST_F(SanityE2eTest,
       ListSnapshots_ShouldReturnSnapshotsThatMatchTheSpecifiedSourceVolumeId) {
  SKIP_UNLESS_LIST_SNAPSHOTS();
  csi::v1::CreateSnapshotResponse unrelated1, target, unrelated2;
  ASSERT_TRUE(MustCreateSnapshotFromVolumeRequest(
      MakeCreateVolumeReq(UniqueString("listSnapshots-volume-unrelated-v-1")),
      UniqueString("listSnapshots-snapshot-unrelated-v-1"), &unrelated1));
  ASSERT_TRUE(MustCreateSnapshotFromVolumeRequest(
      MakeCreateVolumeReq(UniqueString("listSnapshots-volume-target-v")),
      UniqueString("listSnapshots-snapshot-target-v"), &target));
  ASSERT_TRUE(MustCreateSnapshotFromVolumeRequest(
      MakeCreateVolumeReq(UniqueString("listSnapshots-volume-unrelated-v-2")),
      UniqueString("listSnapshots-snapshot-unrelated-v-2"), &unrelated2));
  csi::v1::ListSnapshotsRequest request = NewListSnapshotsReq();
  request.set_source_volume_id(target.snapshot().source_volume_id());
  csi::v1::ListSnapshotsResponse snapshots;
  ASSERT_TRUE(
      IsOk(Controller().ListSnapshots(Context().get(), request, &snapshots)));
  ASSERT_EQ(snapshots.entries_size(), 1);
  EXPECT_TRUE(VerifySnapshotInfo(snapshots.entries(0).snapshot()));
  EXPECT_EQ(snapshots.entries(0).snapshot().source_volume_id(),
            target.snapshot().source_volume_id());
}

// ListSnapshots [Controller Server] should return empty when the specified
// source volume id does not exist
TEST_F(
    SanityE2eTest,
    ListSnapshots_ShouldReturnEmptyWhenTheSpecifiedSourceVolumeIdDoesNotExist) {
  SKIP_UNLESS_LIST_SNAPSHOTS();
  csi::v1::ListSnapshotsRequest request = NewListSnapshotsReq();
  request.set_source_volume_id(GenerateUniqueValidVolumeID());
  csi::v1::ListSnapshotsResponse snapshots;
  ASSERT_TRUE(
      IsOk(Controller().ListSnapshots(Context().get(), request, &snapshots)));
  EXPECT_EQ(snapshots.entries_size(), 0);
}

// ListSnapshots [Controller Server] check the presence of new snapshots in the
// snapshot list
TEST_F(SanityE2eTest,
       ListSnapshots_CheckThePresenceOfNewSnapshotsInTheSnapshotList) {
  SKIP_UNLESS_LIST_SNAPSHOTS();
  csi::v1::ListSnapshotsResponse snapshots;
  ASSERT_TRUE(IsOk(Controller().ListSnapshots(
      Context().get(), NewListSnapshotsReq(), &snapshots)));
  const int total = snapshots.entries_size();
  csi::v1::CreateSnapshotResponse snapshot;
  ASSERT_TRUE(MustCreateSnapshotFromVolumeRequest(
      MakeCreateVolumeReq(UniqueString("listSnapshots-volume-3")),
      UniqueString("listSnapshots-snapshot-3"), &snapshot));
  ASSERT_TRUE(IsOk(Controller().ListSnapshots(
      Context().get(), NewListSnapshotsReq(), &snapshots)));
  EXPECT_EQ(snapshots.entries_size(), total + 1);
  ASSERT_TRUE(IsOk(DeleteSnapshot(
      MakeDeleteSnapshotReq(snapshot.snapshot().snapshot_id()))));
  ASSERT_TRUE(IsOk(Controller().ListSnapshots(
      Context().get(), NewListSnapshotsReq(), &snapshots)));
  EXPECT_EQ(snapshots.entries_size(), total);
}

// ListSnapshots [Controller Server] should return next token when a limited
// number of entries are requested
TEST_F(
    SanityE2eTest,
    ListSnapshots_ShouldReturnNextTokenWhenALimitedNumberOfEntriesAreRequested) {
  SKIP_UNLESS_LIST_SNAPSHOTS();
  const int min_snapshot_count = 5;
  const int max_entries = 2;
  csi::v1::ListSnapshotsResponse snapshots;
  ASSERT_TRUE(IsOk(Controller().ListSnapshots(
      Context().get(), NewListSnapshotsReq(), &snapshots)));
  int current = snapshots.entries_size();
  for (int i = 1; current < min_snapshot_count; ++i, ++current) {
    csi::v1::CreateSnapshotResponse snapshot;
    ASSERT_TRUE(MustCreateSnapshotFromVolumeRequest(
        MakeCreateVolumeReq(UniqueString(absl::StrCat("volume", i))),
        UniqueString(absl::StrCat("snapshot", i)), &snapshot));
  }
  csi::v1::ListSnapshotsRequest page = NewListSnapshotsReq();
  page.set_max_entries(max_entries);
  ASSERT_TRUE(
      IsOk(Controller().ListSnapshots(Context().get(), page, &snapshots)));
  const std::string next_token = snapshots.next_token();
  ASSERT_EQ(snapshots.entries_size(), max_entries);
  csi::v1::ListSnapshotsRequest rest = NewListSnapshotsReq();
  rest.set_starting_token(next_token);
  ASSERT_TRUE(
      IsOk(Controller().ListSnapshots(Context().get(), rest, &snapshots)));
  // All the remaining entries at once.
  EXPECT_EQ(snapshots.entries_size(), current - max_entries);
}

// ======================================================================
// DeleteSnapshot [Controller Server]
// ======================================================================

#define SKIP_UNLESS_SNAPSHOTS(reason) \
  SKIP_UNLESS_CONTROLLER_CAP(ControllerRpc::CREATE_DELETE_SNAPSHOT, reason)

// DeleteSnapshot [Controller Server] should fail when no snapshot id is
// provided
TEST_F(SanityE2eTest, DeleteSnapshot_ShouldFailWhenNoSnapshotIdIsProvided) {
  SKIP_UNLESS_SNAPSHOTS("DeleteSnapshot not supported");
  EXPECT_TRUE(HasCode(DeleteSnapshot(MakeDeleteSnapshotReq("")),
                      StatusCode::INVALID_ARGUMENT));
}

// DeleteSnapshot [Controller Server] should succeed when an invalid snapshot id
// is used
TEST_F(SanityE2eTest,
       DeleteSnapshot_ShouldSucceedWhenAnInvalidSnapshotIdIsUsed) {
  SKIP_UNLESS_SNAPSHOTS("DeleteSnapshot not supported");
  EXPECT_TRUE(
      IsOk(DeleteSnapshot(MakeDeleteSnapshotReq("reallyfakesnapshotid"))));
}

// DeleteSnapshot [Controller Server] should return appropriate values (no
// optional values added)
TEST_F(SanityE2eTest,
       DeleteSnapshot_ShouldReturnAppropriateValuesNoOptionalValuesAdded) {
  SKIP_UNLESS_SNAPSHOTS("DeleteSnapshot not supported");
  csi::v1::CreateVolumeResponse volume;
  ASSERT_TRUE(IsOk(CreateVolume(
      MakeCreateVolumeReq(UniqueString("DeleteSnapshot-volume-1")), &volume)));
  csi::v1::CreateSnapshotResponse snapshot;
  // Created here, deleted by the cleanup (as in csi-sanity).
  ASSERT_TRUE(MustCreateSnapshot(
      MakeCreateSnapshotReq(UniqueString("DeleteSnapshot-snapshot-1"),
                            volume.volume().volume_id()),
      &snapshot));
}

// ======================================================================
// CreateSnapshot [Controller Server]
// ======================================================================

// CreateSnapshot [Controller Server] should fail when no name is provided
TEST_F(SanityE2eTest, CreateSnapshot_ShouldFailWhenNoNameIsProvided) {
  SKIP_UNLESS_SNAPSHOTS("CreateSnapshot not supported");
  csi::v1::CreateSnapshotRequest request;
  request.set_source_volume_id("testId");
  SetMap(Secrets().create_snapshot, request.mutable_secrets());
  csi::v1::CreateSnapshotResponse response;
  EXPECT_TRUE(HasCode(CreateSnapshot(request, &response),
                      StatusCode::INVALID_ARGUMENT));
}

// CreateSnapshot [Controller Server] should fail when no source volume id is
// provided
TEST_F(SanityE2eTest, CreateSnapshot_ShouldFailWhenNoSourceVolumeIdIsProvided) {
  SKIP_UNLESS_SNAPSHOTS("CreateSnapshot not supported");
  csi::v1::CreateSnapshotRequest request;
  request.set_name("name");
  SetMap(Secrets().create_snapshot, request.mutable_secrets());
  csi::v1::CreateSnapshotResponse response;
  EXPECT_TRUE(HasCode(CreateSnapshot(request, &response),
                      StatusCode::INVALID_ARGUMENT));
}

// CreateSnapshot [Controller Server] should succeed when requesting to create a
// snapshot with already existing name and same source volume ID
TEST_F(
    SanityE2eTest,
    CreateSnapshot_ShouldSucceedWhenRequestingToCreateASnapshotWithAlreadyExistingNameAndSameSourceVolumeId) {
  SKIP_UNLESS_SNAPSHOTS("CreateSnapshot not supported");
  csi::v1::CreateVolumeResponse volume;
  ASSERT_TRUE(MustCreateVolume(
      MakeCreateVolumeReq(UniqueString("CreateSnapshot-volume-1")), &volume));
  const auto request = MakeCreateSnapshotReq(
      UniqueString("CreateSnapshot-snapshot-1"), volume.volume().volume_id());
  csi::v1::CreateSnapshotResponse first, second;
  ASSERT_TRUE(MustCreateSnapshot(request, &first));
  EXPECT_TRUE(MustCreateSnapshot(request, &second));
}

// CreateSnapshot [Controller Server] should fail when requesting to create a
// snapshot with already existing name and different source volume ID
TEST_F(
    SanityE2eTest,
    CreateSnapshot_ShouldFailWhenRequestingToCreateASnapshotWithAlreadyExistingNameAndDifferentSourceVolumeId) {
  SKIP_UNLESS_SNAPSHOTS("CreateSnapshot not supported");
  const std::string snapshot_name = UniqueString("CreateSnapshot-snapshot-2");
  csi::v1::CreateSnapshotResponse snapshot;
  ASSERT_TRUE(MustCreateSnapshotFromVolumeRequest(
      MakeCreateVolumeReq(UniqueString("CreateSnapshot-volume-2")),
      snapshot_name, &snapshot));
  csi::v1::CreateVolumeResponse volume2;
  ASSERT_TRUE(MustCreateVolume(
      MakeCreateVolumeReq(UniqueString("CreateSnapshot-volume-3")), &volume2));
  csi::v1::CreateSnapshotResponse response;
  EXPECT_TRUE(HasCode(
      CreateSnapshot(
          MakeCreateSnapshotReq(snapshot_name, volume2.volume().volume_id()),
          &response),
      StatusCode::ALREADY_EXISTS));
}

// CreateSnapshot [Controller Server] should succeed when creating snapshot with
// maximum-length name
TEST_F(SanityE2eTest,
       CreateSnapshot_ShouldSucceedWhenCreatingSnapshotWithMaximumLengthName) {
  SKIP_UNLESS_SNAPSHOTS("CreateSnapshot not supported");
  csi::v1::CreateVolumeResponse volume;
  ASSERT_TRUE(MustCreateVolume(
      MakeCreateVolumeReq(UniqueString("CreateSnapshot-volume-maxlen-name")),
      &volume));
  const auto request = MakeCreateSnapshotReq(
      UniqueStringWithLength("CreateSnapshot-snapshot-maxlen", kMaxNameLength),
      volume.volume().volume_id());
  csi::v1::CreateSnapshotResponse first, second;
  ASSERT_TRUE(MustCreateSnapshot(request, &first));
  EXPECT_TRUE(MustCreateSnapshot(request, &second));
}

// ======================================================================
// ExpandVolume [Controller Server]
// ======================================================================

#define SKIP_UNLESS_CONTROLLER_EXPANSION()                 \
  cleanup_uses_node_ = false;                              \
  SKIP_UNLESS_CONTROLLER_CAP(ControllerRpc::EXPAND_VOLUME, \
                             "ControllerExpandVolume not supported")

// ExpandVolume [Controller Server] should fail if no volume id is given
TEST_F(SanityE2eTest, ExpandVolume_ShouldFailIfNoVolumeIdIsGiven) {
  SKIP_UNLESS_CONTROLLER_EXPANSION();
  csi::v1::ControllerExpandVolumeResponse response;
  EXPECT_TRUE(HasCode(Controller().ControllerExpandVolume(
                          Context().get(), MakeExpandVolumeReq(""), &response),
                      StatusCode::INVALID_ARGUMENT));
}

// ExpandVolume [Controller Server] should fail if no capacity range is given
TEST_F(SanityE2eTest, ExpandVolume_ShouldFailIfNoCapacityRangeIsGiven) {
  SKIP_UNLESS_CONTROLLER_EXPANSION();
  // (csi-sanity leaves the volume id empty here too.)
  csi::v1::ControllerExpandVolumeRequest request;
  request.set_volume_id("");
  SetMap(Secrets().controller_expand_volume, request.mutable_secrets());
  csi::v1::ControllerExpandVolumeResponse response;
  EXPECT_TRUE(HasCode(
      Controller().ControllerExpandVolume(Context().get(), request, &response),
      StatusCode::INVALID_ARGUMENT));
}

// ExpandVolume [Controller Server] should work
TEST_F(SanityE2eTest, ExpandVolume_ShouldWork) {
  SKIP_UNLESS_CONTROLLER_EXPANSION();
  csi::v1::CreateVolumeResponse vol;
  ASSERT_TRUE(MustCreateVolume(
      CreateVolumeReqRequiredOnly(UniqueString("sanity-expand-volume")), &vol));
  csi::v1::ControllerExpandVolumeResponse response;
  ASSERT_TRUE(IsOk(Controller().ControllerExpandVolume(
      Context().get(), MakeExpandVolumeReq(vol.volume().volume_id()),
      &response)));
  EXPECT_EQ(response.capacity_bytes(), kTestVolumeExpandSize);
}

// ======================================================================
// ModifyVolume [Controller Server]
// ======================================================================

#define SKIP_UNLESS_MODIFY_VOLUME()                        \
  cleanup_uses_node_ = false;                              \
  SKIP_UNLESS_CONTROLLER_CAP(ControllerRpc::MODIFY_VOLUME, \
                             "ControllerModifyVolume not supported")

// ModifyVolume [Controller Server] should fail if no volume id is given
TEST_F(SanityE2eTest, ModifyVolume_ShouldFailIfNoVolumeIdIsGiven) {
  SKIP_UNLESS_MODIFY_VOLUME();
  csi::v1::ControllerModifyVolumeResponse response;
  EXPECT_TRUE(HasCode(Controller().ControllerModifyVolume(
                          Context().get(), MakeModifyVolumeReq(""), &response),
                      StatusCode::INVALID_ARGUMENT));
}

// ModifyVolume [Controller Server] should fail if volume does not exist
TEST_F(SanityE2eTest, ModifyVolume_ShouldFailIfVolumeDoesNotExist) {
  SKIP_UNLESS_MODIFY_VOLUME();
  csi::v1::ControllerModifyVolumeResponse response;
  EXPECT_TRUE(
      HasCode(Controller().ControllerModifyVolume(
                  Context().get(),
                  MakeModifyVolumeReq("non-existing-volume-id"), &response),
              StatusCode::NOT_FOUND));
}

// ModifyVolume [Controller Server] should fail if specified mutable parameters
// are not supported by the volume
TEST_F(
    SanityE2eTest,
    ModifyVolume_ShouldFailIfSpecifiedMutableParametersAreNotSupportedByTheVolume) {
  SKIP_UNLESS_MODIFY_VOLUME();
  csi::v1::CreateVolumeResponse vol;
  ASSERT_TRUE(MustCreateVolume(
      MakeCreateVolumeReq(UniqueString("sanity-modify-volume")), &vol));
  csi::v1::ControllerModifyVolumeRequest request;
  request.set_volume_id(vol.volume().volume_id());
  (*request.mutable_mutable_parameters())["XXX_FakeKey"] = "XXX_FakeValue";
  SetMap(Secrets().controller_modify_volume, request.mutable_secrets());
  csi::v1::ControllerModifyVolumeResponse response;
  EXPECT_TRUE(HasCode(
      Controller().ControllerModifyVolume(Context().get(), request, &response),
      StatusCode::INVALID_ARGUMENT));
}

// ModifyVolume [Controller Server] should modify a volume created without a
// volume attribute class
TEST_F(SanityE2eTest,
       ModifyVolume_ShouldModifyAVolumeCreatedWithoutAVolumeAttributeClass) {
  SKIP_UNLESS_MODIFY_VOLUME();
  csi::v1::CreateVolumeResponse vol;
  ASSERT_TRUE(MustCreateVolume(
      MakeCreateVolumeReq(UniqueString("sanity-modify-volume")), &vol));
  csi::v1::ControllerModifyVolumeResponse response;
  EXPECT_TRUE(IsOk(Controller().ControllerModifyVolume(
      Context().get(), MakeModifyVolumeReq(vol.volume().volume_id()),
      &response)));
}

// ModifyVolume [Controller Server] should modify a volume created with a volume
// attribute class
TEST_F(SanityE2eTest,
       ModifyVolume_ShouldModifyAVolumeCreatedWithAVolumeAttributeClass) {
  SKIP_UNLESS_MODIFY_VOLUME();
  auto create = MakeCreateVolumeReq(UniqueString("sanity-modify-volume"));
  for (const auto& [key, value] : TestVolumeMutableParameters()) {
    (*create.mutable_mutable_parameters())[key] = value;
  }
  csi::v1::CreateVolumeResponse vol;
  ASSERT_TRUE(MustCreateVolume(create, &vol));
  csi::v1::ControllerModifyVolumeResponse response;
  EXPECT_TRUE(IsOk(Controller().ControllerModifyVolume(
      Context().get(), MakeModifyVolumeReq(vol.volume().volume_id()),
      &response)));
}

// ModifyVolume [Controller Server] should fail to modify a volume created with
// a volume attribute class if new mutable parameters are not supported by
// volume
TEST_F(
    SanityE2eTest,
    ModifyVolume_ShouldFailToModifyAVolumeCreatedWithAVolumeAttributeClassIfNewMutableParametersAreNotSupportedByVolume) {
  SKIP_UNLESS_MODIFY_VOLUME();
  auto create = MakeCreateVolumeReq(UniqueString("sanity-modify-volume"));
  for (const auto& [key, value] : TestVolumeMutableParameters()) {
    (*create.mutable_mutable_parameters())[key] = value;
  }
  csi::v1::CreateVolumeResponse vol;
  ASSERT_TRUE(MustCreateVolume(create, &vol));
  csi::v1::ControllerModifyVolumeRequest request;
  request.set_volume_id(vol.volume().volume_id());
  (*request.mutable_mutable_parameters())["XXX_FakeKey"] = "XXX_FakeValue";
  SetMap(Secrets().controller_modify_volume, request.mutable_secrets());
  csi::v1::ControllerModifyVolumeResponse response;
  EXPECT_TRUE(HasCode(
      Controller().ControllerModifyVolume(Context().get(), request, &response),
      StatusCode::INVALID_ARGUMENT));
}

// ======================================================================
// GroupController Service
// ======================================================================

// GroupController Service [GroupController Server]
// GroupControllerGetCapabilities should return appropriate capabilities
TEST_F(SanityE2eTest,
       GroupControllerGetCapabilities_ShouldReturnAppropriateCapabilities) {
  SKIP_UNLESS_GROUP_CONTROLLER_SERVICE();
  csi::v1::GroupControllerGetCapabilitiesResponse caps;
  ASSERT_TRUE(IsOk(GroupController().GroupControllerGetCapabilities(
      Context().get(), {}, &caps)));
  EXPECT_GT(caps.capabilities_size(), 0);  // as for ControllerGetCapabilities
  for (const auto& cap : caps.capabilities()) {
    ASSERT_TRUE(cap.has_rpc());
    if (cap.rpc().type() != GroupRpc::CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT) {
      ADD_FAILURE() << "Unknown capability: " << cap.rpc().type();
    }
  }
}

// GroupController Service [GroupController VolumeGroupSnapshots]
// CreateVolumeGroupSnapshot should fail when no name is provided
TEST_F(
    SanityE2eTest,
    GroupControllerCreateVolumeGroupSnapshot_ShouldFailWhenNoNameIsProvided) {
  SKIP_UNLESS_VOLUME_GROUP_SNAPSHOTS();
  csi::v1::CreateVolumeGroupSnapshotRequest request;
  SetMap(Secrets().create_snapshot, request.mutable_secrets());
  csi::v1::CreateVolumeGroupSnapshotResponse response;
  EXPECT_TRUE(HasCode(GroupController().CreateVolumeGroupSnapshot(
                          Context().get(), request, &response),
                      StatusCode::INVALID_ARGUMENT));
}

// GroupController Service [GroupController VolumeGroupSnapshots]
// GetVolumeGroupSnapshot should fail when no volume id is provided
TEST_F(
    SanityE2eTest,
    GroupControllerGetVolumeGroupSnapshot_ShouldFailWhenNoVolumeIdIsProvided) {
  SKIP_UNLESS_VOLUME_GROUP_SNAPSHOTS();
  csi::v1::GetVolumeGroupSnapshotRequest request;
  SetMap(Secrets().list_snapshots, request.mutable_secrets());
  csi::v1::GetVolumeGroupSnapshotResponse response;
  EXPECT_TRUE(HasCode(GroupController().GetVolumeGroupSnapshot(
                          Context().get(), request, &response),
                      StatusCode::INVALID_ARGUMENT));
}

// GroupController Service [GroupController VolumeGroupSnapshots]
// GetVolumeGroupSnapshot should fail when an invalid volume id is used
TEST_F(
    SanityE2eTest,
    GroupControllerGetVolumeGroupSnapshot_ShouldFailWhenAnInvalidVolumeIdIsUsed) {
  SKIP_UNLESS_VOLUME_GROUP_SNAPSHOTS();
  csi::v1::GetVolumeGroupSnapshotRequest request;
  request.set_group_snapshot_id(GenerateInvalidVolumeID());
  SetMap(Secrets().list_snapshots, request.mutable_secrets());
  csi::v1::GetVolumeGroupSnapshotResponse response;
  EXPECT_TRUE(HasCode(GroupController().GetVolumeGroupSnapshot(
                          Context().get(), request, &response),
                      StatusCode::NOT_FOUND));
}

// GroupController Service [GroupController VolumeGroupSnapshots]
// DeleteVolumeGroupSnapshot should fail when no volume id is provided
TEST_F(
    SanityE2eTest,
    GroupControllerDeleteVolumeGroupSnapshot_ShouldFailWhenNoVolumeIdIsProvided) {
  SKIP_UNLESS_VOLUME_GROUP_SNAPSHOTS();
  csi::v1::DeleteVolumeGroupSnapshotRequest request;
  SetMap(Secrets().delete_snapshot, request.mutable_secrets());
  csi::v1::DeleteVolumeGroupSnapshotResponse response;
  EXPECT_TRUE(HasCode(GroupController().DeleteVolumeGroupSnapshot(
                          Context().get(), request, &response),
                      StatusCode::INVALID_ARGUMENT));
}

// GroupController Service [GroupController VolumeGroupSnapshots]
// DeleteVolumeGroupSnapshot should succeed when an invalid volume id is used
TEST_F(
    SanityE2eTest,
    GroupControllerDeleteVolumeGroupSnapshot_ShouldSucceedWhenAnInvalidVolumeIdIsUsed) {
  SKIP_UNLESS_VOLUME_GROUP_SNAPSHOTS();
  csi::v1::DeleteVolumeGroupSnapshotRequest request;
  request.set_group_snapshot_id(GenerateInvalidVolumeID());
  SetMap(Secrets().delete_snapshot, request.mutable_secrets());
  csi::v1::DeleteVolumeGroupSnapshotResponse response;
  EXPECT_TRUE(IsOk(GroupController().DeleteVolumeGroupSnapshot(
      Context().get(), request, &response)));
}

// ======================================================================
// Identity Service
// ======================================================================
// (csi-sanity asks both endpoints when the controller has its own; here
// there is one endpoint.)

// Identity Service GetPluginCapabilities should return appropriate capabilities
TEST_F(SanityE2eTest,
       IdentityGetPluginCapabilities_ShouldReturnAppropriateCapabilities) {
  csi::v1::GetPluginCapabilitiesResponse response;
  ASSERT_TRUE(
      IsOk(Identity().GetPluginCapabilities(Context().get(), {}, &response)));
  for (const auto& cap : response.capabilities()) {
    switch (cap.type_case()) {
      case csi::v1::PluginCapability::kService:
        switch (cap.service().type()) {
          case PluginService::CONTROLLER_SERVICE:
          case PluginService::VOLUME_ACCESSIBILITY_CONSTRAINTS:
          case PluginService::GROUP_CONTROLLER_SERVICE:
            break;
          default:
            ADD_FAILURE() << "Unknown service: " << cap.service().type();
        }
        break;
      case csi::v1::PluginCapability::kVolumeExpansion:
        switch (cap.volume_expansion().type()) {
          case csi::v1::PluginCapability::VolumeExpansion::ONLINE:
          case csi::v1::PluginCapability::VolumeExpansion::OFFLINE:
            break;
          default:
            ADD_FAILURE() << "Unknown volume expansion mode: "
                          << cap.volume_expansion().type();
        }
        break;
      default:
        ADD_FAILURE() << "Unknown capability: " << cap.type_case();
    }
  }
}

// Identity Service Probe should return appropriate information
TEST_F(SanityE2eTest, IdentityProbe_ShouldReturnAppropriateInformation) {
  csi::v1::ProbeResponse response;
  grpc::Status status = Identity().Probe(Context().get(), {}, &response);
  ASSERT_TRUE(IsOk(status));
  EXPECT_TRUE(status.error_code() == StatusCode::FAILED_PRECONDITION ||
              status.error_code() == StatusCode::OK);
  // Any value of ready (if present) is acceptable.
}

// Identity Service GetPluginInfo should return appropriate information
TEST_F(SanityE2eTest,
       IdentityGetPluginInfo_ShouldReturnAppropriateInformation) {
  csi::v1::GetPluginInfoResponse response;
  ASSERT_TRUE(IsOk(Identity().GetPluginInfo(Context().get(), {}, &response)));
  EXPECT_FALSE(response.name().empty());
  EXPECT_LE(response.name().size(), 63u);
  // csi-sanity's pattern (its character class also admits a backslash).
  static const std::regex kName(R"(^[a-zA-Z][A-Za-z0-9\-\\._]{0,61}[a-zA-Z]$)");
  EXPECT_TRUE(std::regex_match(response.name(), kName)) << response.name();
}

// ======================================================================
// Node Service
// ======================================================================

// Node Service NodeGetCapabilities should return appropriate capabilities
TEST_F(SanityE2eTest, NodeGetCapabilities_ShouldReturnAppropriateCapabilities) {
  LoadNodeServiceCaps();  // what the Node Service specs ask first
  csi::v1::NodeGetCapabilitiesResponse caps;
  ASSERT_TRUE(IsOk(Node().NodeGetCapabilities(Context().get(), {}, &caps)));
  for (const auto& cap : caps.capabilities()) {
    ASSERT_TRUE(cap.has_rpc());
    switch (cap.rpc().type()) {
      case NodeRpc::UNKNOWN:
      case NodeRpc::STAGE_UNSTAGE_VOLUME:
      case NodeRpc::GET_VOLUME_STATS:
      case NodeRpc::EXPAND_VOLUME:
      case NodeRpc::VOLUME_CONDITION:
      case NodeRpc::SINGLE_NODE_MULTI_WRITER:
      case NodeRpc::VOLUME_MOUNT_GROUP:
        break;
      default:
        ADD_FAILURE() << "Unknown capability: " << cap.rpc().type();
    }
  }
}

// Node Service NodeGetInfo should return appropriate values
TEST_F(SanityE2eTest, NodeGetInfo_ShouldReturnAppropriateValues) {
  LoadNodeServiceCaps();
  const bool accessibility_constraints =
      PluginServiceSupported(PluginService::VOLUME_ACCESSIBILITY_CONSTRAINTS);
  csi::v1::NodeGetInfoResponse info;
  ASSERT_TRUE(IsOk(Node().NodeGetInfo(Context().get(), {}, &info)));
  EXPECT_FALSE(info.node_id().empty());
  EXPECT_GE(info.max_volumes_per_node(), 0);
  if (accessibility_constraints) {
    EXPECT_TRUE(info.has_accessible_topology());
  }
}

// Node Service NodePublishVolume should fail when no volume id is provided
TEST_F(SanityE2eTest, NodePublishVolume_ShouldFailWhenNoVolumeIdIsProvided) {
  LoadNodeServiceCaps();
  csi::v1::NodePublishVolumeResponse response;
  EXPECT_TRUE(
      HasCode(Node().NodePublishVolume(Context().get(),
                                       NewNodePublishVolumeReq(), &response),
              StatusCode::INVALID_ARGUMENT));
}

// Node Service NodePublishVolume should fail when no target path is provided
TEST_F(SanityE2eTest, NodePublishVolume_ShouldFailWhenNoTargetPathIsProvided) {
  LoadNodeServiceCaps();
  csi::v1::NodePublishVolumeRequest request = NewNodePublishVolumeReq();
  request.set_volume_id(GenerateUniqueValidVolumeID());
  csi::v1::NodePublishVolumeResponse response;
  EXPECT_TRUE(
      HasCode(Node().NodePublishVolume(Context().get(), request, &response),
              StatusCode::INVALID_ARGUMENT));
}

// Node Service NodePublishVolume should fail when no volume capability is
// provided
TEST_F(SanityE2eTest,
       NodePublishVolume_ShouldFailWhenNoVolumeCapabilityIsProvided) {
  LoadNodeServiceCaps();
  csi::v1::NodePublishVolumeRequest request = NewNodePublishVolumeReq();
  request.set_volume_id(GenerateUniqueValidVolumeID());
  request.set_target_path(Target());
  csi::v1::NodePublishVolumeResponse response;
  EXPECT_TRUE(
      HasCode(Node().NodePublishVolume(Context().get(), request, &response),
              StatusCode::INVALID_ARGUMENT));
}

// Node Service NodeUnpublishVolume should fail when no volume id is provided
TEST_F(SanityE2eTest, NodeUnpublishVolume_ShouldFailWhenNoVolumeIdIsProvided) {
  LoadNodeServiceCaps();
  csi::v1::NodeUnpublishVolumeResponse response;
  EXPECT_TRUE(
      HasCode(Node().NodeUnpublishVolume(Context().get(), {}, &response),
              StatusCode::INVALID_ARGUMENT));
}

// Node Service NodeUnpublishVolume should fail when no target path is provided
TEST_F(SanityE2eTest,
       NodeUnpublishVolume_ShouldFailWhenNoTargetPathIsProvided) {
  LoadNodeServiceCaps();
  csi::v1::NodeUnpublishVolumeRequest request;
  request.set_volume_id(GenerateUniqueValidVolumeID());
  csi::v1::NodeUnpublishVolumeResponse response;
  EXPECT_TRUE(
      HasCode(Node().NodeUnpublishVolume(Context().get(), request, &response),
              StatusCode::INVALID_ARGUMENT));
}

// Node Service NodeUnpublishVolume should remove target path
TEST_F(SanityE2eTest, NodeUnpublishVolume_ShouldRemoveTargetPath) {
  const NodeServiceCaps caps = LoadNodeServiceCaps();
  const std::string name = UniqueString("sanity-node-unpublish-volume");
  csi::v1::CreateVolumeResponse vol;
  ASSERT_TRUE(MustCreateVolume(CreateVolumeReqRequiredOnly(name), &vol));
  const std::string volpath = Target();
  csi::v1::NodeGetInfoResponse node;
  ASSERT_TRUE(GetNodeInfo(&node));
  csi::v1::ControllerPublishVolumeResponse published;
  ASSERT_TRUE(ControllerPublishForNode(caps, vol, node, &published));
  ASSERT_TRUE(NodeStage(caps, vol, published));
  ASSERT_TRUE(NodePublish(caps, vol, published));

  PathKind kind = PathKind::kOther;
  ASSERT_TRUE(CheckPath(volpath, &kind));
  ASSERT_NE(kind, PathKind::kNotFound)
      << "path " << volpath
      << " should have been created by CSI driver and the test config should "
         "be enabling testing for that path";

  csi::v1::NodeUnpublishVolumeRequest request;
  request.set_volume_id(vol.volume().volume_id());
  request.set_target_path(volpath);
  csi::v1::NodeUnpublishVolumeResponse response;
  ASSERT_TRUE(
      IsOk(Node().NodeUnpublishVolume(Context().get(), request, &response)));

  // The SP MUST delete the file or directory it created at this path.
  ASSERT_TRUE(CheckPath(volpath, &kind));
  EXPECT_EQ(kind, PathKind::kNotFound)
      << "path " << volpath
      << " should have been removed by the CSI driver during "
         "NodeUnpublishVolume";
}

#define SKIP_UNLESS_NODE_STAGE(caps, reason) \
  if (!(caps).node_stage) {                  \
    GTEST_SKIP() << reason;                  \
  }

// Node Service NodeStageVolume should fail when no volume id is provided
TEST_F(SanityE2eTest, NodeStageVolume_ShouldFailWhenNoVolumeIdIsProvided) {
  const NodeServiceCaps caps = LoadNodeServiceCaps();
  SKIP_UNLESS_NODE_STAGE(caps, "NodeStageVolume not supported");
  csi::v1::NodeStageVolumeRequest request = NewNodeStageVolumeReq();
  request.set_staging_target_path(staging_path_);
  *request.mutable_volume_capability() = TestVolumeCapability();
  (*request.mutable_publish_context())["device"] = "/dev/mock";
  csi::v1::NodeStageVolumeResponse response;
  EXPECT_TRUE(
      HasCode(Node().NodeStageVolume(Context().get(), request, &response),
              StatusCode::INVALID_ARGUMENT));
}

// Node Service NodeStageVolume should fail when no staging target path is
// provided
TEST_F(SanityE2eTest,
       NodeStageVolume_ShouldFailWhenNoStagingTargetPathIsProvided) {
  const NodeServiceCaps caps = LoadNodeServiceCaps();
  SKIP_UNLESS_NODE_STAGE(caps, "NodeStageVolume not supported");
  csi::v1::NodeStageVolumeRequest request = NewNodeStageVolumeReq();
  request.set_volume_id(GenerateUniqueValidVolumeID());
  *request.mutable_volume_capability() = TestVolumeCapability();
  (*request.mutable_publish_context())["device"] = "/dev/mock";
  csi::v1::NodeStageVolumeResponse response;
  EXPECT_TRUE(
      HasCode(Node().NodeStageVolume(Context().get(), request, &response),
              StatusCode::INVALID_ARGUMENT));
}

// Node Service NodeStageVolume should fail when no volume capability is
// provided
TEST_F(SanityE2eTest,
       NodeStageVolume_ShouldFailWhenNoVolumeCapabilityIsProvided) {
  const NodeServiceCaps caps = LoadNodeServiceCaps();
  SKIP_UNLESS_NODE_STAGE(caps, "NodeStageVolume not supported");
  // csi-sanity sends no capacity_range here (not TestVolumeSize): the size is
  // the driver's choice.
  csi::v1::CreateVolumeResponse vol;
  ASSERT_TRUE(MustCreateVolume(
      CreateVolumeReqNoCapacity(UniqueString("sanity-node-stage-nocaps")),
      &vol));
  csi::v1::NodeStageVolumeRequest request = NewNodeStageVolumeReq();
  request.set_volume_id(vol.volume().volume_id());
  request.set_staging_target_path(staging_path_);
  (*request.mutable_publish_context())["device"] = "/dev/mock";
  csi::v1::NodeStageVolumeResponse response;
  EXPECT_TRUE(
      HasCode(Node().NodeStageVolume(Context().get(), request, &response),
              StatusCode::INVALID_ARGUMENT));
}

// Node Service NodeUnstageVolume should fail when no volume id is provided
TEST_F(SanityE2eTest, NodeUnstageVolume_ShouldFailWhenNoVolumeIdIsProvided) {
  const NodeServiceCaps caps = LoadNodeServiceCaps();
  SKIP_UNLESS_NODE_STAGE(caps, "NodeUnstageVolume not supported");
  csi::v1::NodeUnstageVolumeRequest request;
  request.set_staging_target_path(staging_path_);
  csi::v1::NodeUnstageVolumeResponse response;
  EXPECT_TRUE(
      HasCode(Node().NodeUnstageVolume(Context().get(), request, &response),
              StatusCode::INVALID_ARGUMENT));
}

// Node Service NodeUnstageVolume should fail when no staging target path is
// provided
TEST_F(SanityE2eTest,
       NodeUnstageVolume_ShouldFailWhenNoStagingTargetPathIsProvided) {
  const NodeServiceCaps caps = LoadNodeServiceCaps();
  SKIP_UNLESS_NODE_STAGE(caps, "NodeUnstageVolume not supported");
  csi::v1::NodeUnstageVolumeRequest request;
  request.set_volume_id(GenerateUniqueValidVolumeID());
  csi::v1::NodeUnstageVolumeResponse response;
  EXPECT_TRUE(
      HasCode(Node().NodeUnstageVolume(Context().get(), request, &response),
              StatusCode::INVALID_ARGUMENT));
}

#define SKIP_UNLESS_NODE_VOLUME_STATS(caps)        \
  if (!(caps).node_volume_stats) {                 \
    GTEST_SKIP() << "NodeGetVolume not supported"; \
  }

// Node Service NodeGetVolumeStats should fail when no volume id is provided
TEST_F(SanityE2eTest, NodeGetVolumeStats_ShouldFailWhenNoVolumeIdIsProvided) {
  const NodeServiceCaps caps = LoadNodeServiceCaps();
  SKIP_UNLESS_NODE_VOLUME_STATS(caps);
  csi::v1::NodeGetVolumeStatsRequest request;
  request.set_volume_path("some/path");
  csi::v1::NodeGetVolumeStatsResponse response;
  EXPECT_TRUE(
      HasCode(Node().NodeGetVolumeStats(Context().get(), request, &response),
              StatusCode::INVALID_ARGUMENT));
}

// Node Service NodeGetVolumeStats should fail when no volume path is provided
TEST_F(SanityE2eTest, NodeGetVolumeStats_ShouldFailWhenNoVolumePathIsProvided) {
  const NodeServiceCaps caps = LoadNodeServiceCaps();
  SKIP_UNLESS_NODE_VOLUME_STATS(caps);
  csi::v1::NodeGetVolumeStatsRequest request;
  request.set_volume_id(GenerateUniqueValidVolumeID());
  csi::v1::NodeGetVolumeStatsResponse response;
  EXPECT_TRUE(
      HasCode(Node().NodeGetVolumeStats(Context().get(), request, &response),
              StatusCode::INVALID_ARGUMENT));
}

// Node Service NodeGetVolumeStats should fail when volume is not found
TEST_F(SanityE2eTest, NodeGetVolumeStats_ShouldFailWhenVolumeIsNotFound) {
  const NodeServiceCaps caps = LoadNodeServiceCaps();
  SKIP_UNLESS_NODE_VOLUME_STATS(caps);
  csi::v1::NodeGetVolumeStatsRequest request;
  request.set_volume_id(GenerateUniqueValidVolumeID());
  request.set_volume_path("some/path");
  csi::v1::NodeGetVolumeStatsResponse response;
  EXPECT_TRUE(
      HasCode(Node().NodeGetVolumeStats(Context().get(), request, &response),
              StatusCode::NOT_FOUND));
}

// Node Service NodeGetVolumeStats should fail when volume does not exist on the
// specified path
TEST_F(SanityE2eTest,
       NodeGetVolumeStats_ShouldFailWhenVolumeDoesNotExistOnTheSpecifiedPath) {
  const NodeServiceCaps caps = LoadNodeServiceCaps();
  SKIP_UNLESS_NODE_VOLUME_STATS(caps);
  csi::v1::CreateVolumeResponse vol;
  ASSERT_TRUE(MustCreateVolume(
      CreateVolumeReqRequiredOnly(UniqueString("sanity-node-get-volume-stats")),
      &vol));
  csi::v1::NodeGetInfoResponse node;
  ASSERT_TRUE(GetNodeInfo(&node));
  csi::v1::ControllerPublishVolumeResponse published;
  ASSERT_TRUE(ControllerPublishForNode(caps, vol, node, &published));
  ASSERT_TRUE(NodeStage(caps, vol, published));
  ASSERT_TRUE(NodePublish(caps, vol, published));
  csi::v1::NodeGetVolumeStatsRequest request;
  request.set_volume_id(vol.volume().volume_id());
  request.set_volume_path("some/path");
  csi::v1::NodeGetVolumeStatsResponse response;
  EXPECT_TRUE(
      HasCode(Node().NodeGetVolumeStats(Context().get(), request, &response),
              StatusCode::NOT_FOUND));
}

#define SKIP_UNLESS_NODE_EXPANSION(caps)              \
  if (!(caps).node_expansion) {                       \
    GTEST_SKIP() << "NodeExpandVolume not supported"; \
  }

// Node Service NodeExpandVolume should fail when no volume id is provided
TEST_F(SanityE2eTest, NodeExpandVolume_ShouldFailWhenNoVolumeIdIsProvided) {
  const NodeServiceCaps caps = LoadNodeServiceCaps();
  SKIP_UNLESS_NODE_EXPANSION(caps);
  csi::v1::NodeExpandVolumeRequest request;
  request.set_volume_path(target_path_);
  *request.mutable_volume_capability() = TestVolumeCapability();
  csi::v1::NodeExpandVolumeResponse response;
  EXPECT_TRUE(
      HasCode(Node().NodeExpandVolume(Context().get(), request, &response),
              StatusCode::INVALID_ARGUMENT));
}

// Node Service NodeExpandVolume should fail when no volume path is provided
TEST_F(SanityE2eTest, NodeExpandVolume_ShouldFailWhenNoVolumePathIsProvided) {
  const NodeServiceCaps caps = LoadNodeServiceCaps();
  SKIP_UNLESS_NODE_EXPANSION(caps);
  csi::v1::CreateVolumeResponse vol;
  ASSERT_TRUE(MustCreateVolume(CreateVolumeReqRequiredOnly(UniqueString(
                                   "sanity-node-expand-volume-valid-id")),
                               &vol));
  csi::v1::NodeExpandVolumeRequest request;
  request.set_volume_id(vol.volume().volume_id());
  *request.mutable_volume_capability() = TestVolumeCapability();
  csi::v1::NodeExpandVolumeResponse response;
  EXPECT_TRUE(
      HasCode(Node().NodeExpandVolume(Context().get(), request, &response),
              StatusCode::INVALID_ARGUMENT));
}

// Node Service NodeExpandVolume should fail when volume is not found
TEST_F(SanityE2eTest, NodeExpandVolume_ShouldFailWhenVolumeIsNotFound) {
  const NodeServiceCaps caps = LoadNodeServiceCaps();
  SKIP_UNLESS_NODE_EXPANSION(caps);
  csi::v1::NodeExpandVolumeRequest request;
  request.set_volume_id(GenerateUniqueValidVolumeID());
  request.set_volume_path("some/path");
  csi::v1::NodeExpandVolumeResponse response;
  EXPECT_TRUE(
      HasCode(Node().NodeExpandVolume(Context().get(), request, &response),
              StatusCode::NOT_FOUND));
}

// Node Service NodeExpandVolume should work if node-expand is called after
// node-publish
TEST_F(SanityE2eTest,
       NodeExpandVolume_ShouldWorkIfNodeExpandIsCalledAfterNodePublish) {
  const NodeServiceCaps caps = LoadNodeServiceCaps();
  SKIP_UNLESS_NODE_EXPANSION(caps);
  csi::v1::CreateVolumeResponse vol;
  ASSERT_TRUE(MustCreateVolume(
      CreateVolumeReqRequiredOnly(UniqueString("sanity-node-expand-volume")),
      &vol));
  if (caps.controller_expansion) {
    csi::v1::ControllerExpandVolumeRequest expand;
    expand.set_volume_id(vol.volume().volume_id());
    expand.mutable_capacity_range()->set_required_bytes(kTestVolumeExpandSize);
    SetMap(Secrets().controller_expand_volume, expand.mutable_secrets());
    csi::v1::ControllerExpandVolumeResponse expanded;
    ASSERT_TRUE(IsOk(Controller().ControllerExpandVolume(Context().get(),
                                                         expand, &expanded)));
    EXPECT_EQ(expanded.capacity_bytes(), kTestVolumeExpandSize);
  }
  csi::v1::NodeGetInfoResponse node;
  ASSERT_TRUE(GetNodeInfo(&node));
  csi::v1::ControllerPublishVolumeResponse published;
  ASSERT_TRUE(ControllerPublishForNode(caps, vol, node, &published));
  ASSERT_TRUE(NodeStage(caps, vol, published));
  ASSERT_TRUE(NodePublish(caps, vol, published));
  csi::v1::NodeExpandVolumeRequest request;
  request.set_volume_id(vol.volume().volume_id());
  request.set_volume_path(Target());
  request.mutable_capacity_range()->set_required_bytes(kTestVolumeExpandSize);
  csi::v1::NodeExpandVolumeResponse response;
  EXPECT_TRUE(
      IsOk(Node().NodeExpandVolume(Context().get(), request, &response)))
      << "while expanding volume on node";
}

// Node Service should work
TEST_F(SanityE2eTest, NodeService_ShouldWork) {
  const NodeServiceCaps caps = LoadNodeServiceCaps();
  if (!caps.provides_controller_service) {
    GTEST_SKIP() << "Controller Service not provided: CreateVolume not "
                    "supported";
  }
  RunControllerTest(caps, 1);
}

// Node Service should be idempotent
TEST_F(SanityE2eTest, NodeService_ShouldBeIdempotent) {
  const NodeServiceCaps caps = LoadNodeServiceCaps();
  if (!caps.provides_controller_service) {
    GTEST_SKIP() << "Controller Service not provided: CreateVolume not "
                    "supported";
  }
  if (kIdempotentCount <= 0) {
    GTEST_SKIP() << "Config.IdempotentCount is zero or negative, skip tests";
  }
  RunControllerTest(caps, kIdempotentCount);
}

}  // namespace
}  // namespace cellar
