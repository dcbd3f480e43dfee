#ifndef CELLAR_SRC_BACKEND_LVM_LVM_REPORT_H_
#define CELLAR_SRC_BACKEND_LVM_LVM_REPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cellar {

// One logical volume from `lvm lvs --reportformat json --units b --nosuffix`.
struct LogicalVolume {
  std::string name;
  std::string vg;
  uint64_t size_bytes = 0;
  std::vector<std::string> tags;
  std::string attr;  // lv_attr, e.g. "-wi-a-----", "Vwi-aotz--", "twi-aotz--"
  std::string pool;  // thin pool of a thin LV

  bool active() const { return attr.size() > 4 && attr[4] == 'a'; }
  bool open() const { return attr.size() > 5 && attr[5] == 'o'; }
  bool is_thin_pool() const { return !attr.empty() && attr[0] == 't'; }
};

// One volume group from `lvm vgs ...` with the same options.
struct VolumeGroup {
  std::string name;
  uint64_t size_bytes = 0;
  uint64_t free_bytes = 0;
  uint64_t extent_bytes = 0;
};

// Pure parsers of LVM's JSON reports. INVALID_ARGUMENT when the text is not
// such a report or a number does not parse.
absl::StatusOr<std::vector<LogicalVolume>> ParseLvsReport(absl::string_view json);
absl::StatusOr<std::vector<VolumeGroup>> ParseVgsReport(absl::string_view json);

// Volume records travel in one LV tag: "cellar.r=" + base64 of the record's
// binary protobuf (LVM tags allow [A-Za-z0-9_+.-/=!:#&]).
constexpr char kVolumeTag[] = "cellar.volume";
constexpr char kRecordTagPrefix[] = "cellar.r=";
// Snapshots: the same, with their own marker and record.
constexpr char kSnapshotTag[] = "cellar.snapshot";
constexpr char kSnapshotRecordTagPrefix[] = "cellar.s=";

}  // namespace cellar

#endif  // CELLAR_SRC_BACKEND_LVM_LVM_REPORT_H_
