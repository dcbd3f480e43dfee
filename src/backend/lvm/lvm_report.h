#ifndef CELLAR_SRC_BACKEND_LVM_LVM_REPORT_H_
#define CELLAR_SRC_BACKEND_LVM_LVM_REPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cellar {

// One logical volume from `lvm lvs --reportformat json --units b --nosuffix`.
struct LogicalVolume {
  std::string name;
  std::string vg;
  uint64_t size_bytes = 0;
  std::vector<std::string> tags;
  std::string attr;    // lv_attr, e.g. "-wi-a-----", "Vwi-aotz--", "twi-aotz--"
  std::string pool;    // thin pool of a thin LV
  std::string origin;  // origin of a snapshot
  // data_percent: use of a thin pool, thin LV or COW snapshot; -1 when
  // LVM reports none (an inactive LV, a plain LV).
  double data_percent = -1;
  // Thin pools: the metadata LV's size and use (-1 when not reported), and
  // the pool's chunk size. 0 / -1 for other LVs.
  uint64_t metadata_bytes = 0;
  double metadata_percent = -1;
  uint64_t chunk_bytes = 0;

  bool active() const { return attr.size() > 4 && attr[4] == 'a'; }
  bool open() const { return attr.size() > 5 && attr[5] == 'o'; }
  bool is_thin_pool() const { return !attr.empty() && attr[0] == 't'; }
  // A thin pool that writes zeroes over newly provisioned blocks before use
  // (lv_attr bit 8, 'z'). Without it a partial write to a new block leaves
  // the rest of the block as a deleted thin LV wrote it.
  bool zeroes_new_blocks() const { return attr.size() > 7 && attr[7] == 'z'; }
  // A COW snapshot that overflowed (or was otherwise invalidated): its
  // content is gone.
  bool invalid_snapshot() const {
    return (!attr.empty() && attr[0] == 'S') ||
           (attr.size() > 4 && attr[4] == 'I');
  }
};

// One volume group from `lvm vgs ...` with the same options.
struct VolumeGroup {
  std::string name;
  uint64_t size_bytes = 0;
  uint64_t free_bytes = 0;
  uint64_t extent_bytes = 0;
  uint64_t missing_pvs = 0;  // vg_missing_pv_count
};

// Pure parsers of LVM's JSON reports. INVALID_ARGUMENT when the text is not
// such a report or a number does not parse.
absl::StatusOr<std::vector<LogicalVolume>> ParseLvsReport(
    absl::string_view json);
absl::StatusOr<std::vector<VolumeGroup>> ParseVgsReport(absl::string_view json);

// What a failed lvm command's stderr (LVM speaks English under LC_ALL=C)
// says went wrong, as far as callers must tell the cases apart.
enum class LvmFailureKind {
  kOther,
  // The LV the command names is not in its VG: the only "it is gone".
  kLvMissing,
  // The VG, or a disk of it, is not there (not attached yet, or lost). Its
  // LVs may well exist: never read this as "already deleted".
  kVgMissing,
  // The thin pool is not there.
  kPoolMissing,
  // Something else LVM looked for was not found.
  kSomethingMissing,
  kNoSpace,
  kBusy,
};
LvmFailureKind ClassifyLvmFailure(absl::string_view stderr_text);

// The status for a failed lvm command run against volume group `vg` (and
// thin pool `pool`, empty for thick): NOT_FOUND only for a missing LV;
// UNAVAILABLE saying what is not there for a missing VG, disk, pool or
// anything else; RESOURCE_EXHAUSTED, FAILED_PRECONDITION (busy) or INTERNAL.
// `what` describes the command and its stderr.
absl::Status LvmFailureStatus(absl::string_view vg, absl::string_view pool,
                              absl::string_view stderr_text,
                              absl::string_view what);

// Volume records travel in one LV tag: "cellar.r=" + base64 of the record's
// binary protobuf (LVM tags allow [A-Za-z0-9_+.-/=!:#&]).
constexpr char kVolumeTag[] = "cellar.volume";
constexpr char kRecordTagPrefix[] = "cellar.r=";
// Snapshots: the same, with their own marker and record.
constexpr char kSnapshotTag[] = "cellar.snapshot";
constexpr char kSnapshotRecordTagPrefix[] = "cellar.s=";
// On a thick LV from its lvcreate until every byte of it has been zeroed:
// LVM reuses the extents of deleted LVs, so until then it may show what
// another volume wrote, and it is never handed out.
constexpr char kZeroingTag[] = "cellar.zeroing";
// Thick copies (see LvmBackend): on the temporary COW snapshot that holds a
// copy's point in time; on the LV being filled until its content is
// complete, with the name of the LV it is filled from; and on a snapshot
// whose point in time was lost before its copy finished.
constexpr char kCowTag[] = "cellar.cow";
constexpr char kCopyingTag[] = "cellar.copying";
constexpr char kFromTagPrefix[] = "cellar.from=";
constexpr char kFailedTag[] = "cellar.failed";

}  // namespace cellar

#endif  // CELLAR_SRC_BACKEND_LVM_LVM_REPORT_H_
