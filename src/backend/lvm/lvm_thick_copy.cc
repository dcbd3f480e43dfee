// Thick LVM snapshots, restores and clones: a temporary COW snapshot holds
// the point in time while its content is copied into an independent LV.
// The state of every copy lives in LV tags (see lvm_report.h), so a copy
// that a crash or restart cut short is carried on from them.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "src/backend/ext4_usage.h"
#include "src/backend/lvm/lvm_backend.h"
#include "src/backend/lvm/lvm_tags.h"
#include "src/common/ids.h"
#include "src/common/status_macros.h"

namespace cellar {
namespace {

// How long a call waits for a running copy it depends on before it says
// UNAVAILABLE (the caller retries).
constexpr absl::Duration kCopyWait = absl::Seconds(60);
// The COW area of a temporary snapshot grows once it is this full.
constexpr double kCowGrowPercent = 50.0;
constexpr absl::Duration kCowCheckEvery = absl::Seconds(1);
// A temporary snapshot whose removal fails (busy) is tried this often.
constexpr int kTempRemoveAttempts = 3;
constexpr absl::Duration kTempRemoveWait = absl::Seconds(1);
// The shortest run of free ext4 blocks a copy skips.
constexpr uint64_t kMinSkippedBytes = 1 << 20;

const LogicalVolume* Named(const std::vector<LogicalVolume>& lvs,
                           const std::string& name) {
  for (const LogicalVolume& lv : lvs) {
    if (lv.name == name) return &lv;
  }
  return nullptr;
}

// ext4 is the filesystem whose free blocks dumpe2fs can list; through
// encryption nothing can be told apart.
bool UsedOnly(bool block, bool encrypted, const std::string& fs_type) {
  return !block && !encrypted && fs_type == "ext4";
}

// The lvcreate of the target LV of a thick copy: `bytes` big, tagged as a
// volume or snapshot (`kind_tag`) with its record, as copying from the LV
// `from_tag` names, and to be zeroed first when `zeroing`.
std::vector<std::string> CopyTargetArgs(const std::string& name, uint64_t bytes,
                                        const std::string& kind_tag,
                                        const std::string& record_tag,
                                        const std::string& from_tag,
                                        bool zeroing, const std::string& vg) {
  std::vector<std::string> args = {"lvcreate",         "--yes",
                                   "--name",           name,
                                   "--size",           absl::StrCat(bytes, "b"),
                                   "--wipesignatures", "y",
                                   "--zero",           "y",
                                   "--addtag",         kind_tag,
                                   "--addtag",         record_tag,
                                   "--addtag",         kCopyingTag,
                                   "--addtag",         from_tag};
  if (zeroing) args.insert(args.end(), {"--addtag", kZeroingTag});
  args.push_back(vg);
  return args;
}

// How many bytes of `source` (the LV `from_path`) hold what is copied: a
// temporary snapshot reads as its origin's size. DATA_LOSS when that
// origin is gone.
absl::StatusOr<uint64_t> SourceBytes(const std::vector<LogicalVolume>& lvs,
                                     const LogicalVolume& source,
                                     bool from_temp,
                                     const std::string& from_path) {
  if (!from_temp) return source.size_bytes;
  const LogicalVolume* origin = Named(lvs, source.origin);
  if (origin == nullptr) {
    return absl::DataLossError(
        absl::StrCat("the origin of ", from_path, " is gone"));
  }
  return origin->size_bytes;
}

// Whether a copy into `lv` may read only the blocks its filesystem uses,
// from the record in its tag.
absl::StatusOr<bool> CopiesUsedOnly(const LogicalVolume& lv) {
  if (HasTag(lv, kSnapshotTag)) {
    SnapshotRecord record;
    if (absl::Status s = DecodeTag(lv, kSnapshotRecordTagPrefix, &record);
        !s.ok()) {
      return s;
    }
    return UsedOnly(record.block(), record.encrypted(), record.fs_type());
  }
  VolumeRecord record;
  if (absl::Status s = DecodeTag(lv, kRecordTagPrefix, &record); !s.ok()) {
    return s;
  }
  return UsedOnly(record.block(), record.encrypted(), record.fs_type());
}

}  // namespace

// Every chunk of the origin and the exception table that maps it (16 bytes
// per chunk of at least 4 KiB, 1/256 of the data) fit in this; a COW area of
// this size never overflows.
uint64_t LvmBackend::WholeCowBytes(uint64_t origin_bytes) {
  return origin_bytes + origin_bytes / 64;
}

std::string LvmBackend::TempName(const std::string& target) {
  return absl::StrCat("ct-", target);
}

uint64_t LvmBackend::CowBytes(uint64_t origin_bytes) const {
  // Whole extents, of the size the last vgs report gave (LVM's default
  // before any).
  const uint64_t reported = extent_bytes_.load();
  const uint64_t extent =
      std::max<uint64_t>(reported != 0 ? reported : (4 << 20), 512);
  const uint64_t percent =
      origin_bytes / 100 *
      static_cast<uint64_t>(std::max(1, config_.cow_percent));
  const uint64_t want = std::min(WholeCowBytes(origin_bytes),
                                 std::max(percent, config_.cow_floor_bytes));
  return std::max<uint64_t>(extent, (want + extent - 1) / extent * extent);
}

absl::Status LvmBackend::MakeTemp(const LogicalVolume& origin,
                                  const std::string& target, uint64_t cow_bytes,
                                  const std::vector<LogicalVolume>& listing,
                                  const FreezeScope& freeze) {
  const std::string temp = TempName(target);
  if (const LogicalVolume* stale = Named(listing, temp); stale != nullptr) {
    // Left by a call that stopped before it made its target: its instant
    // was never handed out.
    if (absl::Status s = Lvm({"lvremove", "--yes", LvPath(temp)}).status();
        !s.ok() && !absl::IsNotFound(s)) {
      return s;
    }
  }
  if (!origin.active()) {
    if (absl::Status s =
            Lvm({"lvchange", "--activate", "y", LvPath(origin.name)}).status();
        !s.ok()) {
      return s;
    }
  }
  // LVM suspends the origin for this instant, which freezes a filesystem
  // mounted on it; `freeze` covers one on a dm-crypt mapping above it.
  absl::Status made;
  absl::Status instant = freeze([&] {
    made = Lvm({"lvcreate", "--yes", "--snapshot", "--size",
                absl::StrCat(cow_bytes, "b"), "--name", temp, "--addtag",
                kCowTag, LvPath(origin.name)})
               .status();
    return made;
  });
  return instant.ok() ? made : instant;
}

absl::StatusOr<SnapshotRecord> LvmBackend::CreateThickSnapshot(
    const SnapshotRecord& record) {
  const std::string name = LvName(record.snapshot_id());
  if (name.empty()) return absl::InvalidArgumentError("not a snapshot id");
  // One report serves the snapshot's and its source's lookups: the answer
  // should cost little more than the instant itself (four lvm runs: this
  // report, vgs, the COW snapshot and the target).
  std::vector<LogicalVolume> listing;
  absl::StatusOr<LogicalVolume> origin =
      FindLv(record.source_volume_id(), &listing);
  if (!origin.ok() && !absl::IsNotFound(origin.status())) {
    return origin.status();
  }
  if (const LogicalVolume* existing = Named(listing, name);
      existing != nullptr && IsSnapshotHere(*existing)) {
    return ExistingThickSnapshot(*existing, record.snapshot_id());
  }
  if (!origin.ok()) return origin.status();
  if (HasTag(*origin, kZeroingTag) || HasTag(*origin, kCopyingTag)) {
    return absl::UnavailableError(
        absl::StrCat("volume ", record.source_volume_id(),
                     " is still being created; snapshot it once it is"));
  }
  ABSL_ASSIGN_OR_RETURN(VolumeRecord source, RecordOf(*origin));
  SnapshotRecord stored = SnapshotRecordFor(record, source, origin->size_bytes);
  ABSL_ASSIGN_OR_RETURN(
      std::string tag,
      RecordTag(kSnapshotRecordTagPrefix, stored,
                "the snapshot's record (its name, ids and the source "
                "volume's access lists) is"));
  // The snapshot takes its full size from the VG, and the temporary
  // snapshot its COW area, both checked before anything is made.
  const uint64_t cow = CowBytes(origin->size_bytes);
  ABSL_RETURN_IF_ERROR(
      Place(origin->size_bytes + cow, 0, /*new_data=*/true,
            absl::StrCat("snapshot ", record.snapshot_id(), " (the volume's ",
                         origin->size_bytes, " bytes and a COW area of ", cow,
                         ")"))
          .status());
  if (absl::Status s = MakeTemp(*origin, name, cow, listing, NoFreeze());
      !s.ok()) {
    return s;
  }
  return MakeThickSnapshotTarget(record.snapshot_id(), name, origin->size_bytes,
                                 std::move(stored), tag);
}

absl::StatusOr<SnapshotRecord> LvmBackend::ExistingThickSnapshot(
    const LogicalVolume& existing, const std::string& snapshot_id) {
  // Its point in time was lost before the copy finished: it is never
  // taken again under this id (that would be a later instant).
  if (HasTag(existing, kFailedTag)) {
    return absl::FailedPreconditionError(
        absl::StrCat("snapshot ", snapshot_id,
                     " lost its point in time before its copy finished"));
  }
  return GetSnapshot(snapshot_id);
}

absl::StatusOr<SnapshotRecord> LvmBackend::MakeThickSnapshotTarget(
    const std::string& snapshot_id, const std::string& name, uint64_t bytes,
    SnapshotRecord stored, const std::string& record_tag) {
  const std::string from_tag = absl::StrCat(kFromTagPrefix, TempName(name));
  // A copy of used blocks only leaves the rest as the LV's extents were.
  const bool zeroing =
      UsedOnly(stored.block(), stored.encrypted(), stored.fs_type());
  if (absl::Status s = Lvm(CopyTargetArgs(name, bytes, kSnapshotTag, record_tag,
                                          from_tag, zeroing, config_.vg))
                           .status();
      !s.ok()) {
    // An lvcreate that failed may still have committed: its target then
    // needs the temporary snapshot.
    absl::StatusOr<LogicalVolume> again = FindSnapshotLv(snapshot_id);
    if (!again.ok()) {
      RemoveTemp(TempName(name));
      return s;
    }
    return GetSnapshot(snapshot_id);
  }
  // What lvcreate made, without another report.
  LogicalVolume made;
  made.name = name;
  made.vg = config_.vg;
  made.size_bytes = bytes;
  made.tags = {kSnapshotTag, record_tag, kCopyingTag, from_tag};
  if (zeroing) made.tags.push_back(kZeroingTag);
  StartSnapshotCopy(made);
  stored.set_pending_copy(true);
  return stored;
}

void LvmBackend::StartSnapshotCopy(const LogicalVolume& target) {
  if (!thick() || !HasTag(target, kCopyingTag) || HasTag(target, kFailedTag)) {
    return;
  }
  const std::string name = target.name;
  jobs_.Start(
      name, TagValue(target, kFromTagPrefix),
      [this, name](const std::atomic<bool>& cancel) {
        const absl::Time start = absl::Now();
        absl::Status status = Fill(name, cancel);
        if (status.ok()) {
          spdlog::info("snapshot LV {}/{} is ready: copied in {}", config_.vg,
                       name, absl::FormatDuration(absl::Now() - start));
        } else if (absl::IsDataLoss(status)) {
          spdlog::error("snapshot LV {}/{} lost its point in time: {}",
                        config_.vg, name, std::string(status.message()));
          (void)Lvm({"lvchange", "--addtag", kFailedTag, LvPath(name)});
        } else if (!absl::IsCancelled(status)) {
          spdlog::warn("copy into snapshot LV {}/{} failed, to be retried: {}",
                       config_.vg, name, std::string(status.message()));
        }
        return status;
      },
      config_.copy_retry_after);
}

absl::StatusOr<VolumeRecord> LvmBackend::CreateThickFromSource(
    const VolumeRecord& record, const std::string& source_id,
    const FreezeScope& freeze) {
  const std::string name = LvName(record.volume_id());
  std::vector<LogicalVolume> listing;
  absl::StatusOr<LogicalVolume> lv = FindLv(record.volume_id(), &listing);
  if (lv.ok()) return FinishThickCopy(*lv, record.volume_id());
  if (!absl::IsNotFound(lv.status())) return lv.status();
  absl::StatusOr<ParsedId> source = ParseId(source_id);
  if (!source.ok()) return absl::NotFoundError("no such source");
  const bool from_snapshot = source->kind == IdKind::kSnapshot;
  ABSL_ASSIGN_OR_RETURN(LogicalVolume origin,
                        ReadyCopySource(source_id, from_snapshot, &listing));
  // A clone also takes a COW area for the time of its copy.
  uint64_t cow = 0;
  if (!from_snapshot) {
    cow = CowBytes(origin.size_bytes);
  }
  ABSL_ASSIGN_OR_RETURN(
      uint64_t placed,
      Place(static_cast<uint64_t>(record.capacity_bytes()) + cow, 0,
            /*new_data=*/true,
            absl::StrCat("volume ", record.volume_id(), " from ", source_id,
                         cow > 0 ? absl::StrCat(" (and a COW area of ", cow,
                                                " bytes while it copies)")
                                 : std::string())));
  // `cow` is whole extents: what is left is the volume's rounded size.
  const absl::StatusOr<uint64_t> size = placed - cow;
  VolumeRecord stored = record;
  stored.set_capacity_bytes(static_cast<int64_t>(*size));
  ABSL_ASSIGN_OR_RETURN(
      std::string tag,
      RecordTag(kRecordTagPrefix, stored,
                "the volume's parameters and access lists are"));
  const std::string from = from_snapshot ? origin.name : TempName(name);
  if (!from_snapshot) {
    if (absl::Status s = MakeTemp(origin, name, cow, listing, freeze);
        !s.ok()) {
      return s;
    }
  }
  // What the copy does not write must read as zeroes, not as what a
  // deleted LV left on the extents.
  const bool zeroing =
      UsedOnly(stored.block(), stored.encrypted(), stored.fs_type()) ||
      *size > origin.size_bytes;
  absl::Status created = Lvm(CopyTargetArgs(name, *size, kVolumeTag, tag,
                                            absl::StrCat(kFromTagPrefix, from),
                                            zeroing, config_.vg))
                             .status();
  lv = FindLv(record.volume_id());
  if (!lv.ok()) {
    if (!from_snapshot) RemoveTemp(from);
    return created.ok() ? lv.status() : created;
  }
  return FinishThickCopy(*lv, record.volume_id());
}

absl::StatusOr<LogicalVolume> LvmBackend::ReadyCopySource(
    const std::string& source_id, bool from_snapshot,
    std::vector<LogicalVolume>* listing) {
  absl::StatusOr<LogicalVolume> origin =
      from_snapshot ? FindSnapshotLv(source_id) : FindLv(source_id, listing);
  if (!origin.ok()) return origin.status();
  if (from_snapshot && HasTag(*origin, kCopyingTag)) {
    // A restore reads the finished snapshot LV: wait a while for its copy.
    StartSnapshotCopy(*origin);
    jobs_.WaitFor(origin->name, kCopyWait);
    origin = FindSnapshotLv(source_id);
    if (!origin.ok()) return origin.status();
    if (HasTag(*origin, kFailedTag)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "snapshot ", source_id,
          " lost its point in time before it was ready; take a new one"));
    }
    if (HasTag(*origin, kCopyingTag)) {
      return absl::UnavailableError(absl::StrCat(
          "snapshot ", source_id, " is not ready to use yet (still copying)"));
    }
  }
  if (!from_snapshot &&
      (HasTag(*origin, kZeroingTag) || HasTag(*origin, kCopyingTag))) {
    return absl::UnavailableError(absl::StrCat(
        "volume ", source_id, " is still being created; clone it once it is"));
  }
  return origin;
}

absl::StatusOr<VolumeRecord> LvmBackend::FinishThickCopy(
    const LogicalVolume& lv, const std::string& volume_id) {
  if (absl::StatusOr<VolumeRecord> asked = AskedRecord(lv, volume_id);
      !asked.ok()) {
    return asked.status();
  }
  if (HasTag(lv, kCopyingTag)) {
    const std::string from = TagValue(lv, kFromTagPrefix);
    absl::Status filled = jobs_.Run(
        lv.name, from,
        [&](const std::atomic<bool>& cancel) { return Fill(lv.name, cancel); });
    if (absl::IsDataLoss(filled)) {
      // The volume was never handed out: a retry starts it over, from a
      // new instant.
      if (absl::StartsWith(from, "ct-")) RemoveTemp(from);
      (void)Lvm({"lvremove", "--yes", LvPath(lv.name)});
      return absl::AbortedError(absl::StrCat(
          "the content of volume ", volume_id, " could not be copied (",
          filled.message(), "); a retry starts over"));
    }
    if (!filled.ok()) return filled;
  }
  return Get(volume_id);
}

absl::Status LvmBackend::Fill(const std::string& target,
                              const std::atomic<bool>& cancel) {
  ABSL_ASSIGN_OR_RETURN(std::vector<LogicalVolume> lvs, ListLvs());
  const LogicalVolume* lv = Named(lvs, target);
  if (lv == nullptr) {
    return absl::NotFoundError(absl::StrCat("no LV ", LvPath(target)));
  }
  if (!HasTag(*lv, kCopyingTag)) return absl::OkStatus();
  const std::string from = TagValue(*lv, kFromTagPrefix);
  const LogicalVolume* source = from.empty() ? nullptr : Named(lvs, from);
  if (source == nullptr || source->invalid_snapshot()) {
    return absl::DataLossError(absl::StrCat(
        "LV ", LvPath(from.empty() ? "?" : from), ", the point in time of ",
        LvPath(target), ", is ", source == nullptr ? "gone" : "invalid"));
  }
  const bool from_temp = HasTag(*source, kCowTag);
  // What is copied, and how many bytes of the source hold it.
  ABSL_ASSIGN_OR_RETURN(uint64_t source_bytes,
                        SourceBytes(lvs, *source, from_temp, LvPath(from)));
  ABSL_ASSIGN_OR_RETURN(bool used_only, CopiesUsedOnly(*lv));
  for (const LogicalVolume* each : {lv, source}) {
    if (absl::Status s = ActivateForCopy(*each); !s.ok()) return s;
  }
  if (HasTag(*lv, kZeroingTag)) {
    ABSL_RETURN_IF_ERROR(Zero(*lv));
  }
  const std::vector<ByteRange> ranges =
      RangesToCopy(LvDevice(from), source_bytes, used_only);
  CopyOptions options = FillCopyOptions(cancel);
  absl::Time checked = absl::InfinitePast();  // the first report checks
  const uint64_t step = source->size_bytes;   // the COW area's first size
  if (from_temp) {
    options.progress = [&](uint64_t) -> absl::Status {
      if (absl::Now() - checked < kCowCheckEvery) return absl::OkStatus();
      checked = absl::Now();
      return KeepCowRoom(from, step);
    };
  }
  absl::StatusOr<uint64_t> copied =
      copier_->Copy(LvDevice(from), LvDevice(target), ranges, options);
  if (!copied.ok()) {
    return ExplainCopyFailure(copied.status(), from, from_temp);
  }
  return FinishFill(target, from, *copied, source_bytes, from_temp);
}

absl::Status LvmBackend::ActivateForCopy(const LogicalVolume& lv) {
  if (lv.active()) return absl::OkStatus();
  return Lvm({"lvchange", "--activate", "y", "--ignoreactivationskip",
              LvPath(lv.name)})
      .status();
}

CopyOptions LvmBackend::FillCopyOptions(const std::atomic<bool>& cancel) const {
  CopyOptions options;
  options.bytes_per_second = config_.copy_bytes_per_second;
  // Often enough for the COW area to be watched about every second.
  options.progress_every_bytes = std::clamp<uint64_t>(
      config_.copy_bytes_per_second == 0 ? (8 << 20)
                                         : config_.copy_bytes_per_second,
      1 << 20, 8 << 20);
  options.cancel = &cancel;
  return options;
}

absl::Status LvmBackend::ExplainCopyFailure(absl::Status copy_status,
                                            const std::string& from,
                                            bool from_temp) {
  if (absl::IsCancelled(copy_status)) return copy_status;
  // An overflowed COW area reads as I/O errors: say what happened.
  absl::StatusOr<std::vector<LogicalVolume>> now = ListLvs();
  if (now.ok() && from_temp) {
    const LogicalVolume* temp = Named(*now, from);
    if (temp == nullptr || temp->invalid_snapshot()) {
      return absl::DataLossError(absl::StrCat("the COW area of ", LvPath(from),
                                              " overflowed while copying"));
    }
  }
  return copy_status;
}

absl::Status LvmBackend::FinishFill(const std::string& target,
                                    const std::string& from, uint64_t copied,
                                    uint64_t source_bytes, bool from_temp) {
  if (absl::Status s = Lvm({"lvchange", "--deltag", kCopyingTag, "--deltag",
                            absl::StrCat(kFromTagPrefix, from), LvPath(target)})
                           .status();
      !s.ok()) {
    return s;
  }
  spdlog::info("copied {} of {} bytes of {} into {}", copied, source_bytes,
               LvPath(from), LvPath(target));
  // Done with the point in time.
  if (from_temp) RemoveTemp(from);
  return absl::OkStatus();
}

void LvmBackend::RemoveTemp(const std::string& temp) {
  // udev's probe of an LV that was just written holds it for a moment: a
  // busy lvremove is tried again. What still fails leaves only the
  // temporary snapshot (it slows its origin's writes), which the next
  // start, delete or growth of the origin removes.
  absl::Status removed;
  for (int attempt = 0; attempt < kTempRemoveAttempts; ++attempt) {
    if (attempt > 0) absl::SleepFor(kTempRemoveWait);
    removed = Lvm({"lvremove", "--yes", LvPath(temp)}).status();
    if (removed.ok() || absl::IsNotFound(removed)) return;
  }
  spdlog::warn("cannot remove {}: {}", LvPath(temp),
               std::string(removed.message()));
}

std::vector<ByteRange> LvmBackend::RangesToCopy(const std::string& device,
                                                uint64_t bytes,
                                                bool used_only) {
  const std::vector<ByteRange> all = {ByteRange{0, bytes}};
  if (!used_only) return all;
  Command command;
  command.argv = {"dumpe2fs", device};
  command.timeout = absl::Minutes(5);
  command.max_output_bytes = 64 << 20;
  absl::StatusOr<CommandResult> result = runner_->Run(command);
  if (!result.ok() || !result->Succeeded() || result->output_truncated) {
    spdlog::info("copying all of {}: dumpe2fs cannot list its free blocks",
                 device);
    return all;
  }
  // Free runs under 1 MiB are copied: a list of at most one range per MiB,
  // and no copy in millions of 4 KiB pieces.
  absl::StatusOr<Ext4Usage> usage =
      ParseDumpe2fs(result->stdout_data, kMinSkippedBytes);
  if (!usage.ok() || usage->needs_recovery ||
      usage->block_bytes * usage->block_count > bytes) {
    // A journal not replayed may allocate blocks the bitmaps call free.
    spdlog::info("copying all of {}: {}", device,
                 usage.ok() ? "its journal needs recovery"
                            : std::string(usage.status().message()));
    return all;
  }
  return usage->used;
}

absl::Status LvmBackend::KeepCowRoom(const std::string& temp, uint64_t step) {
  absl::StatusOr<std::vector<LogicalVolume>> lvs = ListLvs();
  // A report that failed once is no reason to give up the copy.
  if (!lvs.ok()) return absl::OkStatus();
  const LogicalVolume* lv = Named(*lvs, temp);
  if (lv == nullptr || lv->invalid_snapshot()) {
    return absl::DataLossError(absl::StrCat(
        "the temporary snapshot ", LvPath(temp), " is ",
        lv == nullptr ? "gone" : "invalid (its COW area overflowed)"));
  }
  if (lv->data_percent < kCowGrowPercent) return absl::OkStatus();
  // A COW area as large as its origin holds every block it could change.
  const LogicalVolume* origin = Named(*lvs, lv->origin);
  if (origin != nullptr) {
    const uint64_t whole = WholeCowBytes(origin->size_bytes);
    if (lv->size_bytes >= whole) return absl::OkStatus();
    step = std::min(step, whole - lv->size_bytes);
  }
  // Growing takes VG space like any volume: never into the reserve, never
  // past what the other volumes were promised.
  absl::Status grown = Place(step, 0, /*new_data=*/false,
                             absl::StrCat("the COW area of ", LvPath(temp)))
                           .status();
  if (grown.ok()) {
    grown =
        Lvm({"lvextend", "--size", absl::StrCat("+", step, "b"), LvPath(temp)})
            .status();
  }
  if (grown.ok()) {
    spdlog::info("grew the COW area of {} by {} bytes ({}% used)", LvPath(temp),
                 step, lv->data_percent);
  } else {
    // No room in the VG: the copy goes on, and may still finish in time.
    spdlog::warn("cannot grow the COW area of {} ({}% used): {}", LvPath(temp),
                 lv->data_percent, std::string(grown.message()));
  }
  return absl::OkStatus();
}

absl::Status LvmBackend::SettleCopiesFrom(const LogicalVolume& origin,
                                          const std::string& what) {
  if (!thick()) return absl::OkStatus();
  const absl::Time deadline = absl::Now() + kCopyWait;
  while (true) {
    ABSL_ASSIGN_OR_RETURN(std::vector<LogicalVolume> lvs, ListLvs());
    std::vector<std::string> waiting;
    for (const LogicalVolume& temp : lvs) {
      if (temp.origin != origin.name || !HasTag(temp, kCowTag)) continue;
      const std::string target(absl::StripPrefix(temp.name, "ct-"));
      const LogicalVolume* into = Named(lvs, target);
      const bool needed =
          into != nullptr && HasTag(*into, kCopyingTag) &&
          !HasTag(*into, kFailedTag) &&
          (HasTag(*into, kSnapshotTag) || jobs_.Running(target));
      if (needed) {
        // A snapshot's copy is a promise: it runs (again) and is waited for.
        if (HasTag(*into, kSnapshotTag)) StartSnapshotCopy(*into);
        waiting.push_back(target);
        continue;
      }
      // Nothing will copy from it any more (a clone that stopped and was
      // never handed out, or a copy already done).
      if (absl::Status s =
              Lvm({"lvremove", "--yes", LvPath(temp.name)}).status();
          !s.ok() && !absl::IsNotFound(s)) {
        return s;
      }
    }
    if (waiting.empty()) return absl::OkStatus();
    if (absl::Now() >= deadline) {
      return absl::UnavailableError(absl::StrCat(
          "LV ", LvPath(origin.name), " cannot be ", what,
          " yet: ", waiting.size(), " copies of it are still running (first ",
          LvPath(waiting[0]), "); retry"));
    }
    const absl::Time pass = absl::Now();
    for (const std::string& target : waiting) {
      jobs_.WaitFor(
          target, std::max(absl::ZeroDuration(),
                           std::min(absl::Seconds(5), deadline - absl::Now())));
    }
    // A copy that is not running (it failed a moment ago and waits for its
    // retry) is waited for at once: one lvs report a second at most, not
    // back to back under the volume's lock.
    const absl::Duration left = absl::Seconds(1) - (absl::Now() - pass);
    if (left > absl::ZeroDuration()) {
      absl::SleepFor(std::min(left, deadline - absl::Now()));
    }
  }
}

absl::StatusOr<int> LvmBackend::ResumeCopies() {
  if (!thick()) return 0;
  ABSL_ASSIGN_OR_RETURN(std::vector<LogicalVolume> lvs, ListLvs());
  int started = 0;
  // A restore or clone is copied within its CreateVolume call: one a
  // stopped driver left half-filled was never handed out, and its caller's
  // retry (if it comes: its source may be gone) copies it again from the
  // start. It goes now, so its full size does not stay taken from the VG
  // by a volume nobody knows of; its temporary snapshot goes below.
  std::set<std::string> removed;
  for (const LogicalVolume& lv : lvs) {
    if (!BelongsHere(lv) || !HasTag(lv, kCopyingTag)) continue;
    spdlog::info(
        "removing {}: a restore or clone a stopped driver left unfinished",
        LvPath(lv.name));
    absl::Status gone = Lvm({"lvremove", "--yes", LvPath(lv.name)}).status();
    if (gone.ok() || absl::IsNotFound(gone)) removed.insert(lv.name);
  }
  for (const LogicalVolume& lv : lvs) {
    if (HasTag(lv, kCowTag)) {
      // Needed only while its target still copies from it.
      const std::string target(absl::StripPrefix(lv.name, "ct-"));
      const LogicalVolume* into =
          removed.count(target) > 0 ? nullptr : Named(lvs, target);
      if (into == nullptr || !HasTag(*into, kCopyingTag) ||
          TagValue(*into, kFromTagPrefix) != lv.name) {
        spdlog::info("removing {}: nothing copies from it", LvPath(lv.name));
        (void)Lvm({"lvremove", "--yes", LvPath(lv.name)});
      }
      continue;
    }
    if (IsSnapshotHere(lv) && HasTag(lv, kCopyingTag) &&
        !HasTag(lv, kFailedTag) && !jobs_.Running(lv.name)) {
      StartSnapshotCopy(lv);
      ++started;
    }
  }
  return started;
}

bool LvmBackend::WaitForCopy(const std::string& id, absl::Duration timeout) {
  const std::string name = LvName(id);
  return name.empty() || jobs_.WaitFor(name, timeout);
}

}  // namespace cellar
