#include "src/backend/device_classes.h"

#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "src/common/ids.h"

namespace cellar {
namespace {

absl::Status Bad(absl::string_view entry, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("--device-classes entry \"", entry, "\": ", why));
}

// KIND:ARGS of an entry into `spec`'s kind and storage.
absl::Status ParseKindArgs(absl::string_view entry, absl::string_view kind,
                           absl::string_view args, DeviceClassSpec* spec) {
  if (kind == "loop") {
    spec->kind = DeviceClassKind::kLoop;
    if (args.empty() || args[0] != '/') {
      return Bad(entry, "loop wants an absolute directory: loop:/path");
    }
    for (absl::string_view part : absl::StrSplit(args.substr(1), '/')) {
      if (part.empty() || part == "." || part == "..") {
        return Bad(entry, "the loop directory must be a normalised path");
      }
    }
    spec->directory = std::string(args);
  } else if (kind == "lvm") {
    spec->kind = DeviceClassKind::kLvm;
    if (!IsValidLvmName(args)) return Bad(entry, "lvm wants a VG name: lvm:VG");
    spec->vg = std::string(args);
  } else if (kind == "lvm-thin") {
    spec->kind = DeviceClassKind::kLvmThin;
    std::pair<absl::string_view, absl::string_view> vg_pool =
        absl::StrSplit(args, absl::MaxSplits('/', 1));
    if (!IsValidLvmName(vg_pool.first) || !IsValidLvmName(vg_pool.second)) {
      return Bad(entry, "lvm-thin wants lvm-thin:VG/POOL");
    }
    spec->vg = std::string(vg_pool.first);
    spec->pool = std::string(vg_pool.second);
  } else {
    return Bad(entry, "kind must be loop, lvm or lvm-thin");
  }
  return absl::OkStatus();
}

// True for the lvm-thin options that are percentages of the pool
// (autoextend, autoextend-step, create-limit).
bool IsThinPercentOption(const DeviceClassSpec& spec, absl::string_view key) {
  return spec.kind == DeviceClassKind::kLvmThin &&
         (key == "autoextend" || key == "autoextend-step" ||
          key == "create-limit");
}

// One of those: each has its own field and upper bound.
absl::Status ParseThinPercentOption(absl::string_view entry,
                                    absl::string_view key,
                                    absl::string_view value,
                                    DeviceClassSpec* spec) {
  int* field = key == "autoextend"     ? &spec->autoextend_percent
               : key == "create-limit" ? &spec->create_limit_percent
                                       : &spec->autoextend_step_percent;
  const int high = key == "autoextend"     ? 99
                   : key == "create-limit" ? 100
                                           : 1000;
  if (!absl::SimpleAtoi(value, field) || *field < 1 || *field > high) {
    return Bad(entry,
               absl::StrCat(key, " wants a percentage from 1 to ", high));
  }
  return absl::OkStatus();
}

// One OPT=VAL of an entry, once its kind is known: an option another kind
// takes is unknown for this one.
absl::Status ParseOption(absl::string_view entry, absl::string_view option,
                         DeviceClassSpec* spec) {
  std::pair<absl::string_view, absl::string_view> kv =
      absl::StrSplit(option, absl::MaxSplits('=', 1));
  if (kv.first == "reserve" && spec->kind != DeviceClassKind::kLvmThin) {
    if (!absl::SimpleAtoi(kv.second, &spec->reserve_bytes)) {
      return Bad(entry, "reserve wants a byte count");
    }
    spec->reserve_set = true;
  } else if (kv.first == "overprovision" &&
             spec->kind != DeviceClassKind::kLvm) {
    if (!absl::SimpleAtod(kv.second, &spec->overprovision) ||
        !(spec->overprovision >= 1.0 && spec->overprovision <= 1000.0)) {
      return Bad(entry, "overprovision wants a ratio from 1 to 1000");
    }
    spec->overprovision_set = true;
  } else if (kv.first == "snapshot-cow" &&
             spec->kind == DeviceClassKind::kLvm) {
    if (!absl::SimpleAtoi(kv.second, &spec->cow_percent) ||
        spec->cow_percent < 1 || spec->cow_percent > 100) {
      return Bad(entry, "snapshot-cow wants a percentage from 1 to 100");
    }
    spec->cow_percent_set = true;
  } else if (kv.first == "copy-bandwidth" &&
             spec->kind == DeviceClassKind::kLvm) {
    // Below 1 MiB/s a copy of a large volume would take days (and a
    // 1 MiB chunk longer than a second): surely a unit mistake.
    if (!absl::SimpleAtoi(kv.second, &spec->copy_bytes_per_second) ||
        (spec->copy_bytes_per_second != 0 &&
         spec->copy_bytes_per_second < (1u << 20))) {
      return Bad(entry,
                 "copy-bandwidth wants bytes per second, at least 1048576 "
                 "(0: unbounded)");
    }
    spec->copy_bandwidth_set = true;
  } else if (IsThinPercentOption(*spec, kv.first)) {
    return ParseThinPercentOption(entry, kv.first, kv.second, spec);
  } else if (kv.first == "autoextend-max" &&
             spec->kind == DeviceClassKind::kLvmThin) {
    if (!absl::SimpleAtoi(kv.second, &spec->autoextend_max_bytes) ||
        spec->autoextend_max_bytes == 0) {
      return Bad(entry, "autoextend-max wants a byte count");
    }
  } else {
    return Bad(entry,
               absl::StrCat("unknown option \"", kv.first, "\" for this kind"));
  }
  return absl::OkStatus();
}

// The options that only make sense together, once all are parsed;
// `options` is the entry's OPT=VAL&... text.
absl::Status CheckAutoextendOptions(absl::string_view entry,
                                    absl::string_view options,
                                    const DeviceClassSpec& spec) {
  if (spec.create_limit_percent > 0 && spec.autoextend_percent > 0 &&
      spec.create_limit_percent <= spec.autoextend_percent) {
    // Creates would stop before the pool is ever grown.
    return Bad(entry, "create-limit must be above autoextend");
  }
  if (spec.autoextend_max_bytes > 0 && spec.autoextend_percent == 0) {
    return Bad(entry, "autoextend-max needs autoextend");
  }
  if (absl::StrContains(options, "autoextend-step=") &&
      spec.autoextend_percent == 0) {
    return Bad(entry, "autoextend-step needs autoextend");
  }
  return absl::OkStatus();
}

// What a class stores in, as a key no two classes may share.
std::string StoreOf(const DeviceClassSpec& spec) {
  return spec.kind == DeviceClassKind::kLoop ? "loop:" + spec.directory
         : spec.kind == DeviceClassKind::kLvm
             ? "lvm:" + spec.vg
             : "lvm-thin:" + spec.vg + "/" + spec.pool;
}

// One NAME=KIND:ARGS[?OPTIONS] entry; `names` holds the names of the
// entries before it.
absl::StatusOr<DeviceClassSpec> ParseEntry(absl::string_view entry,
                                           std::set<std::string>* names) {
  std::pair<absl::string_view, absl::string_view> name_rest =
      absl::StrSplit(entry, absl::MaxSplits('=', 1));
  DeviceClassSpec spec;
  spec.name = std::string(name_rest.first);
  if (!IsValidDeviceClass(spec.name)) {
    return Bad(entry, "class names are 1-24 characters of [a-z0-9-]");
  }
  if (!names->insert(spec.name).second) return Bad(entry, "duplicate name");
  std::pair<absl::string_view, absl::string_view> body_options =
      absl::StrSplit(name_rest.second, absl::MaxSplits('?', 1));
  std::pair<absl::string_view, absl::string_view> kind_args =
      absl::StrSplit(body_options.first, absl::MaxSplits(':', 1));
  if (absl::Status s =
          ParseKindArgs(entry, kind_args.first, kind_args.second, &spec);
      !s.ok()) {
    return s;
  }
  for (absl::string_view option :
       absl::StrSplit(body_options.second, '&', absl::SkipEmpty())) {
    if (absl::Status s = ParseOption(entry, option, &spec); !s.ok()) return s;
  }
  if (absl::Status s = CheckAutoextendOptions(entry, body_options.second, spec);
      !s.ok()) {
    return s;
  }
  return spec;
}

}  // namespace

bool IsValidLvmName(absl::string_view name) {
  if (name.empty() || name.size() > 127 || name[0] == '-') return false;
  if (name == "." || name == "..") return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '+' || c == '_' ||
                    c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

absl::StatusOr<std::vector<DeviceClassSpec>> ParseDeviceClasses(
    absl::string_view text) {
  std::vector<DeviceClassSpec> out;
  std::set<std::string> names;
  // What each class stores in: two classes over the same storage would each
  // list, resume and account for the other's volumes.
  std::map<std::string, std::string> stores;
  for (absl::string_view entry : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    absl::StatusOr<DeviceClassSpec> parsed = ParseEntry(entry, &names);
    if (!parsed.ok()) return parsed.status();
    DeviceClassSpec spec = *std::move(parsed);
    const std::string store = StoreOf(spec);
    if (auto [it, added] = stores.emplace(store, spec.name); !added) {
      return Bad(entry, absl::StrCat("class ", it->second,
                                     " already stores in ", store));
    }
    out.push_back(std::move(spec));
  }
  if (out.empty()) {
    return absl::InvalidArgumentError("--device-classes names no class");
  }
  return out;
}

}  // namespace cellar
