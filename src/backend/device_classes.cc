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
    std::pair<absl::string_view, absl::string_view> name_rest =
        absl::StrSplit(entry, absl::MaxSplits('=', 1));
    DeviceClassSpec spec;
    spec.name = std::string(name_rest.first);
    if (!IsValidDeviceClass(spec.name)) {
      return Bad(entry, "class names are 1-24 characters of [a-z0-9-]");
    }
    if (!names.insert(spec.name).second) return Bad(entry, "duplicate name");
    std::pair<absl::string_view, absl::string_view> body_options =
        absl::StrSplit(name_rest.second, absl::MaxSplits('?', 1));
    std::pair<absl::string_view, absl::string_view> kind_args =
        absl::StrSplit(body_options.first, absl::MaxSplits(':', 1));
    const absl::string_view kind = kind_args.first;
    const absl::string_view args = kind_args.second;
    if (kind == "loop") {
      spec.kind = DeviceClassKind::kLoop;
      if (args.empty() || args[0] != '/') {
        return Bad(entry, "loop wants an absolute directory: loop:/path");
      }
      for (absl::string_view part : absl::StrSplit(args.substr(1), '/')) {
        if (part.empty() || part == "." || part == "..") {
          return Bad(entry, "the loop directory must be a normalised path");
        }
      }
      spec.directory = std::string(args);
    } else if (kind == "lvm") {
      spec.kind = DeviceClassKind::kLvm;
      if (!IsValidLvmName(args))
        return Bad(entry, "lvm wants a VG name: lvm:VG");
      spec.vg = std::string(args);
    } else if (kind == "lvm-thin") {
      spec.kind = DeviceClassKind::kLvmThin;
      std::pair<absl::string_view, absl::string_view> vg_pool =
          absl::StrSplit(args, absl::MaxSplits('/', 1));
      if (!IsValidLvmName(vg_pool.first) || !IsValidLvmName(vg_pool.second)) {
        return Bad(entry, "lvm-thin wants lvm-thin:VG/POOL");
      }
      spec.vg = std::string(vg_pool.first);
      spec.pool = std::string(vg_pool.second);
    } else {
      return Bad(entry, "kind must be loop, lvm or lvm-thin");
    }
    for (absl::string_view option :
         absl::StrSplit(body_options.second, '&', absl::SkipEmpty())) {
      std::pair<absl::string_view, absl::string_view> kv =
          absl::StrSplit(option, absl::MaxSplits('=', 1));
      if (kv.first == "reserve" && spec.kind != DeviceClassKind::kLvmThin) {
        if (!absl::SimpleAtoi(kv.second, &spec.reserve_bytes)) {
          return Bad(entry, "reserve wants a byte count");
        }
        spec.reserve_set = true;
      } else if (kv.first == "overprovision" &&
                 spec.kind != DeviceClassKind::kLvm) {
        if (!absl::SimpleAtod(kv.second, &spec.overprovision) ||
            !(spec.overprovision >= 1.0 && spec.overprovision <= 1000.0)) {
          return Bad(entry, "overprovision wants a ratio from 1 to 1000");
        }
        spec.overprovision_set = true;
      } else if (kv.first == "snapshot-cow" &&
                 spec.kind == DeviceClassKind::kLvm) {
        if (!absl::SimpleAtoi(kv.second, &spec.cow_percent) ||
            spec.cow_percent < 1 || spec.cow_percent > 100) {
          return Bad(entry, "snapshot-cow wants a percentage from 1 to 100");
        }
        spec.cow_percent_set = true;
      } else if (kv.first == "copy-bandwidth" &&
                 spec.kind == DeviceClassKind::kLvm) {
        // Below 1 MiB/s a copy of a large volume would take days (and a
        // 1 MiB chunk longer than a second): surely a unit mistake.
        if (!absl::SimpleAtoi(kv.second, &spec.copy_bytes_per_second) ||
            (spec.copy_bytes_per_second != 0 &&
             spec.copy_bytes_per_second < (1u << 20))) {
          return Bad(entry,
                     "copy-bandwidth wants bytes per second, at least 1048576 "
                     "(0: unbounded)");
        }
        spec.copy_bandwidth_set = true;
      } else if (spec.kind == DeviceClassKind::kLvmThin &&
                 (kv.first == "autoextend" || kv.first == "autoextend-step" ||
                  kv.first == "create-limit")) {
        int* field = kv.first == "autoextend" ? &spec.autoextend_percent
                     : kv.first == "create-limit"
                         ? &spec.create_limit_percent
                         : &spec.autoextend_step_percent;
        const int high = kv.first == "autoextend"     ? 99
                         : kv.first == "create-limit" ? 100
                                                      : 1000;
        if (!absl::SimpleAtoi(kv.second, field) || *field < 1 ||
            *field > high) {
          return Bad(
              entry,
              absl::StrCat(kv.first, " wants a percentage from 1 to ", high));
        }
      } else if (kv.first == "autoextend-max" &&
                 spec.kind == DeviceClassKind::kLvmThin) {
        if (!absl::SimpleAtoi(kv.second, &spec.autoextend_max_bytes) ||
            spec.autoextend_max_bytes == 0) {
          return Bad(entry, "autoextend-max wants a byte count");
        }
      } else {
        return Bad(entry, absl::StrCat("unknown option \"", kv.first,
                                       "\" for this kind"));
      }
    }
    if (spec.create_limit_percent > 0 && spec.autoextend_percent > 0 &&
        spec.create_limit_percent <= spec.autoextend_percent) {
      // Creates would stop before the pool is ever grown.
      return Bad(entry, "create-limit must be above autoextend");
    }
    if (spec.autoextend_max_bytes > 0 && spec.autoextend_percent == 0) {
      return Bad(entry, "autoextend-max needs autoextend");
    }
    if (absl::StrContains(body_options.second, "autoextend-step=") &&
        spec.autoextend_percent == 0) {
      return Bad(entry, "autoextend-step needs autoextend");
    }
    const std::string store = spec.kind == DeviceClassKind::kLoop
                                  ? "loop:" + spec.directory
                              : spec.kind == DeviceClassKind::kLvm
                                  ? "lvm:" + spec.vg
                                  : "lvm-thin:" + spec.vg + "/" + spec.pool;
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
