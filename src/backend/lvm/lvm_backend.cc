#include "src/backend/lvm/lvm_backend.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "spdlog/spdlog.h"
#include "src/backend/lvm/lvm_tags.h"
#include "src/common/ids.h"
#include "src/common/logging.h"
#include "src/common/status_macros.h"

namespace cellar {
namespace {

const std::vector<std::string> kLvFields = {
    "--reportformat",
    "json",
    "--units",
    "b",
    "--nosuffix",
    "-o",
    "lv_name,vg_name,lv_size,lv_tags,lv_attr,pool_lv,origin,data_percent,"
    "lv_metadata_size,metadata_percent,chunk_size"};

// Zeroing writes every byte when the device cannot do write-zeroes: leave
// room for a slow disk (a minute per GiB is 17 MB/s).
absl::Duration ZeroingTimeout(uint64_t bytes) {
  return absl::Minutes(10) +
         absl::Minutes(1) * static_cast<int64_t>((bytes >> 30) + 1);
}

}  // namespace

LvmBackend::LvmBackend(LvmBackendConfig config, CommandRunner* runner,
                       FileSystem* fs, BlockCopier* copier)
    : config_(std::move(config)), runner_(runner), fs_(fs), copier_(copier) {}

std::string LvmBackend::LvName(const std::string& volume_id) {
  absl::StatusOr<ParsedId> id = ParseId(volume_id);
  if (!id.ok()) return "";
  return absl::StrCat(id->kind == IdKind::kVolume ? "cv-" : "cs-", id->unique);
}

std::string LvmBackend::LvPath(const std::string& lv_name) const {
  return absl::StrCat(config_.vg, "/", lv_name);
}

std::string LvmBackend::LvDevice(const std::string& lv_name) const {
  return absl::StrCat("/dev/", config_.vg, "/", lv_name);
}

std::string LvmBackend::Where() const {
  return config_.thin_pool.empty() ? config_.vg : LvPath(config_.thin_pool);
}

absl::StatusOr<CommandResult> LvmBackend::Lvm(std::vector<std::string> args) {
  Command command;
  command.argv.reserve(args.size() + 1);
  command.argv.push_back("lvm");
  for (std::string& arg : args) command.argv.push_back(std::move(arg));
  command.env = config_.lvm_env;
  command.timeout = absl::Minutes(5);
  absl::StatusOr<CommandResult> result = runner_->Run(command);
  if (!result.ok()) {
    // A missing lvm binary must not read as a missing volume.
    if (absl::IsNotFound(result.status())) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot run lvm (is lvm2 installed?): ", result.status().message()));
    }
    return result.status();
  }
  if (!result->Succeeded()) {
    return LvmFailureStatus(config_.vg, config_.thin_pool, result->stderr_data,
                            DescribeFailure(command, *result));
  }
  return result;
}

absl::StatusOr<std::vector<LogicalVolume>> LvmBackend::ListLvs() {
  std::vector<std::string> args = {"lvs"};
  args.insert(args.end(), kLvFields.begin(), kLvFields.end());
  args.push_back(config_.vg);
  ABSL_ASSIGN_OR_RETURN(CommandResult result, Lvm(args));
  return ParseLvsReport(result.stdout_data);
}

absl::StatusOr<VolumeGroup> LvmBackend::GetVg() {
  ABSL_ASSIGN_OR_RETURN(
      CommandResult result,
      Lvm({"vgs", "--reportformat", "json", "--units", "b", "--nosuffix", "-o",
           "vg_name,vg_size,vg_free,vg_extent_size,vg_missing_pv_count",
           config_.vg}));
  ABSL_ASSIGN_OR_RETURN(std::vector<VolumeGroup> vgs,
                        ParseVgsReport(result.stdout_data));
  for (const VolumeGroup& vg : vgs) {
    if (vg.name != config_.vg) continue;
    extent_bytes_ = vg.extent_bytes;
    return vg;
  }
  return absl::UnavailableError(
      absl::StrCat("volume group ", config_.vg, " is not there"));
}

absl::StatusOr<LogicalVolume> LvmBackend::PoolIn(
    const std::vector<LogicalVolume>& lvs) const {
  for (const LogicalVolume& lv : lvs) {
    if (lv.name == config_.thin_pool && lv.is_thin_pool()) return lv;
  }
  return absl::UnavailableError(
      absl::StrCat("thin pool ", LvPath(config_.thin_pool),
                   " is not there; its volumes are unreachable, not gone"));
}

absl::StatusOr<LvmBackend::PoolUse> LvmBackend::PoolUseIn(
    const std::vector<LogicalVolume>& lvs) const {
  absl::StatusOr<LogicalVolume> pool = PoolIn(lvs);
  if (!pool.ok()) return pool.status();
  PoolUse use;
  use.pool = *std::move(pool);
  for (const LogicalVolume& lv : lvs) {
    if (lv.pool == config_.thin_pool) use.promised_bytes += lv.size_bytes;
  }
  return use;
}

absl::StatusOr<LvmBackend::PoolUse> LvmBackend::GetPoolUse() {
  ABSL_ASSIGN_OR_RETURN(std::vector<LogicalVolume> lvs, ListLvs());
  return PoolUseIn(lvs);
}

bool LvmBackend::BelongsHere(const LogicalVolume& lv) const {
  if (!HasTag(lv, kVolumeTag)) return false;
  // Thick and thin classes may share a VG: the pool tells them apart.
  return config_.thin_pool.empty() ? lv.pool.empty()
                                   : lv.pool == config_.thin_pool;
}

absl::StatusOr<VolumeRecord> LvmBackend::RecordOf(const LogicalVolume& lv) {
  VolumeRecord record;
  ABSL_RETURN_IF_ERROR(DecodeTag(lv, kRecordTagPrefix, &record));
  record.set_capacity_bytes(static_cast<int64_t>(lv.size_bytes));
  return record;
}

absl::StatusOr<LogicalVolume> LvmBackend::FindLv(
    const std::string& volume_id, std::vector<LogicalVolume>* listing) {
  const std::string name = LvName(volume_id);
  if (name.empty()) {
    return absl::NotFoundError(absl::StrCat("no volume ", volume_id));
  }
  ABSL_ASSIGN_OR_RETURN(std::vector<LogicalVolume> lvs, ListLvs());
  if (!config_.thin_pool.empty()) {
    ABSL_RETURN_IF_ERROR(PoolIn(lvs).status());
  }
  if (listing != nullptr) *listing = lvs;
  for (const LogicalVolume& lv : lvs) {
    if (lv.name == name && BelongsHere(lv)) return lv;
  }
  return absl::NotFoundError(absl::StrCat("no volume ", volume_id));
}

absl::StatusOr<uint64_t> LvmBackend::Place(uint64_t bytes,
                                           uint64_t current_bytes,
                                           bool new_data,
                                           const std::string& what) {
  // One vgs report gives both the extent size and, for thick classes, the
  // free space.
  ABSL_ASSIGN_OR_RETURN(VolumeGroup vg, GetVg());
  const uint64_t extent = std::max<uint64_t>(vg.extent_bytes, 512);
  const uint64_t size = (bytes + extent - 1) / extent * extent;
  BackendCapacity capacity;
  if (config_.thin_pool.empty()) {
    capacity = ThickCapacity(vg);
  } else {
    ABSL_ASSIGN_OR_RETURN(PoolUse use, GetPoolUse());
    if (new_data && !use.pool.zeroes_new_blocks()) {
      // Blocks a partial write provisions would keep the rest of what a
      // deleted thin LV left in them.
      return absl::FailedPreconditionError(absl::StrCat(
          "thin pool ", Where(),
          " does not zero newly provisioned blocks, so a new volume could "
          "show data of deleted ones; enable it with `lvchange --zero y ",
          Where(), "`"));
    }
    if (size > current_bytes) {
      ABSL_RETURN_IF_ERROR(CheckCreateLimit(&use, what));
    }
    capacity = ThinCapacity(use);
  }
  if (size > current_bytes && size - current_bytes > capacity.available_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("not enough space in ", Where(), " for ", what, ": ",
                     size - current_bytes, " bytes asked, ",
                     capacity.available_bytes, " available"));
  }
  return size;
}

absl::Status LvmBackend::Ready() {
  absl::StatusOr<VolumeGroup> vg = GetVg();
  if (!vg.ok()) {
    return absl::UnavailableError(
        absl::StrCat("volume group ", config_.vg,
                     " is not usable: ", vg.status().message()));
  }
  if (config_.thin_pool.empty()) return absl::OkStatus();
  absl::StatusOr<std::vector<LogicalVolume>> lvs = ListLvs();
  if (!lvs.ok()) return absl::UnavailableError(lvs.status().message());
  return PoolIn(*lvs).status();
}

BackendCapacity LvmBackend::ThickCapacity(const VolumeGroup& vg) const {
  BackendCapacity capacity;
  capacity.available_bytes = vg.free_bytes > config_.reserve_bytes
                                 ? vg.free_bytes - config_.reserve_bytes
                                 : 0;
  capacity.max_volume_bytes = capacity.available_bytes;
  return capacity;
}

BackendCapacity LvmBackend::ThinCapacity(const PoolUse& use) const {
  // What the pool may still promise: pool size times the overprovision
  // ratio, minus the virtual sizes already handed out.
  BackendCapacity capacity;
  const uint64_t allowed = static_cast<uint64_t>(
      static_cast<double>(use.pool.size_bytes) * config_.overprovision);
  capacity.available_bytes =
      allowed > use.promised_bytes ? allowed - use.promised_bytes : 0;
  capacity.max_volume_bytes = capacity.available_bytes;
  return capacity;
}

BackendCapacity LvmBackend::AdvertisedThinCapacity(
    const PoolUse& use, const VolumeGroup& vg) const {
  // A pool at create-limit takes nothing; otherwise no more than it can
  // physically hold (after what autoextend may add from the VG), so a
  // nearly full pool stops attracting claims however much overprovision
  // allows.
  if (!CreateLimitReason(use.pool, config_.guard).empty()) {
    return BackendCapacity();
  }
  BackendCapacity capacity = ThinCapacity(use);
  const uint64_t room = ThinPoolRoom(
      use.pool, config_.guard.autoextend_percent > 0 ? vg : VolumeGroup(),
      config_.guard);
  capacity.available_bytes = std::min(capacity.available_bytes, room);
  capacity.max_volume_bytes = std::min(capacity.max_volume_bytes, room);
  return capacity;
}

absl::StatusOr<BackendCapacity> LvmBackend::Capacity() {
  if (!config_.thin_pool.empty()) {
    ABSL_ASSIGN_OR_RETURN(PoolUse use, GetPoolUse());
    VolumeGroup vg;  // read only when autoextend may grow into it
    if (config_.guard.autoextend_percent > 0) {
      ABSL_ASSIGN_OR_RETURN(VolumeGroup read, GetVg());
      vg = read;
    }
    return AdvertisedThinCapacity(use, vg);
  }
  ABSL_ASSIGN_OR_RETURN(VolumeGroup vg, GetVg());
  return ThickCapacity(vg);
}

absl::StatusOr<BackendStats> LvmBackend::Stats() {
  absl::StatusOr<VolumeGroup> vg = GetVg();
  if (!vg.ok()) return vg.status();
  ABSL_ASSIGN_OR_RETURN(std::vector<LogicalVolume> lvs, ListLvs());
  BackendStats stats;
  stats.has_vg = true;
  stats.vg = {vg->name, vg->size_bytes, vg->free_bytes, vg->missing_pvs};
  for (const LogicalVolume& lv : lvs) {
    if (BelongsHere(lv)) {
      ++stats.volumes;
    } else if (IsSnapshotHere(lv)) {
      ++stats.snapshots;
    } else if (!(thick() && HasTag(lv, kCowTag))) {
      continue;  // not this class's; temporary COW areas take space too
    }
    stats.allocated_bytes += lv.size_bytes;
  }
  if (thick()) {
    stats.capacity_bytes = vg->size_bytes > config_.reserve_bytes
                               ? vg->size_bytes - config_.reserve_bytes
                               : 0;
    stats.available_bytes = ThickCapacity(*vg).available_bytes;
    return stats;
  }
  ABSL_ASSIGN_OR_RETURN(PoolUse use, PoolUseIn(lvs));
  const LogicalVolume& pool = use.pool;
  stats.capacity_bytes = static_cast<uint64_t>(
      static_cast<double>(pool.size_bytes) * config_.overprovision);
  stats.available_bytes = AdvertisedThinCapacity(use, *vg).available_bytes;
  stats.has_pool = true;
  stats.pool.autoextends = autoextends_.load();
  stats.pool.name = Where();
  stats.pool.size_bytes = pool.size_bytes;
  stats.pool.data_percent = std::max(0.0, pool.data_percent);
  stats.pool.metadata_bytes = pool.metadata_bytes;
  stats.pool.metadata_percent = std::max(0.0, pool.metadata_percent);
  stats.pool.chunk_bytes = pool.chunk_bytes;
  stats.pool.virtual_bytes = use.promised_bytes;
  return stats;
}

absl::StatusOr<std::string> LvmBackend::VolumeTrouble(
    const std::string& volume_id) {
  std::vector<LogicalVolume> listing;
  ABSL_ASSIGN_OR_RETURN(LogicalVolume lv, FindLv(volume_id, &listing));
  // lv_attr bit 9: (p)artial, a PV of the VG is missing; (F)ailed thin LV.
  if (lv.attr.size() > 8 && lv.attr[8] == 'p') {
    return std::string("a physical volume under it is missing");
  }
  if (lv.attr.size() > 8 && lv.attr[8] == 'F') {
    return std::string("its thin volume has failed");
  }
  if (!thick()) {
    absl::StatusOr<LogicalVolume> pool = PoolIn(listing);
    if (!pool.ok()) return std::string(pool.status().message());
    return ThinPoolTrouble(*pool);
  }
  return std::string();
}

absl::StatusOr<ThinPoolGrowth> LvmBackend::GuardPool() {
  if (!guards_pool()) return ThinPoolGrowth();
  absl::MutexLock lock(&guard_mutex_);
  ABSL_ASSIGN_OR_RETURN(VolumeGroup vg, GetVg());
  ABSL_ASSIGN_OR_RETURN(PoolUse use, GetPoolUse());
  ThinPoolGrowth growth = DecideThinPoolGrowth(use.pool, vg, config_.guard);
  const std::string pool = LvPath(config_.thin_pool);
  if (growth.data_bytes == 0 && growth.metadata_bytes == 0) {
    // A pool past its threshold that cannot grow: say so once.
    if (growth.why != last_guard_note_ && !growth.why.empty()) {
      spdlog::warn("thin pool {}: {}", pool, growth.why);
    }
    last_guard_note_ = growth.why;
    return growth;
  }
  last_guard_note_.clear();
  for (const auto& [option, bytes] :
       {std::make_pair("--size", growth.data_bytes),
        std::make_pair("--poolmetadatasize", growth.metadata_bytes)}) {
    if (bytes == 0) continue;
    ABSL_RETURN_IF_ERROR(
        Lvm({"lvextend", option, absl::StrCat("+", bytes, "b"), pool})
            .status());
    ++autoextends_;
  }
  spdlog::info("thin pool {} grown: {}", pool, growth.why);
  return growth;
}

void LvmBackend::GuardPoolAfter(const char* what) {
  if (!guards_pool()) return;
  absl::StatusOr<ThinPoolGrowth> growth = GuardPool();
  if (!growth.ok()) {
    spdlog::warn("thin pool {}: cannot grow it after {}: {}",
                 LvPath(config_.thin_pool), what,
                 std::string(growth.status().message()));
  }
}

absl::Status LvmBackend::CheckCreateLimit(PoolUse* use,
                                          const std::string& what) {
  std::string reason = CreateLimitReason(use->pool, config_.guard);
  if (reason.empty()) return absl::OkStatus();
  if (guards_pool()) {
    // Growing may bring it back under the limit.
    absl::StatusOr<ThinPoolGrowth> growth = GuardPool();
    if (growth.ok() && (growth->data_bytes > 0 || growth->metadata_bytes > 0)) {
      ABSL_ASSIGN_OR_RETURN(PoolUse again, GetPoolUse());
      *use = std::move(again);
      reason = CreateLimitReason(use->pool, config_.guard);
      if (reason.empty()) return absl::OkStatus();
    }
  }
  return absl::ResourceExhaustedError(
      absl::StrCat("thin pool ", Where(), " takes no new data for ", what, ": ",
                   reason, "; existing volumes keep working"));
}

absl::StatusOr<VolumeRecord> LvmBackend::Create(const VolumeRecord& record) {
  const std::string name = LvName(record.volume_id());
  if (name.empty()) return absl::InvalidArgumentError("not a volume id");
  absl::StatusOr<LogicalVolume> lv = FindLv(record.volume_id());
  if (lv.ok()) return FinishCreate(*lv, record.volume_id());
  if (!absl::IsNotFound(lv.status())) return lv.status();

  ABSL_ASSIGN_OR_RETURN(
      uint64_t size,
      Place(static_cast<uint64_t>(record.capacity_bytes()), 0,
            /*new_data=*/true, absl::StrCat("volume ", record.volume_id())));
  VolumeRecord stored = record;
  stored.set_capacity_bytes(static_cast<int64_t>(size));
  ABSL_ASSIGN_OR_RETURN(
      std::string tag,
      RecordTag(kRecordTagPrefix, stored,
                "the volume's parameters and access lists are"));
  std::vector<std::string> args = {"lvcreate", "--yes", "--name", name};
  if (config_.thin_pool.empty()) {
    // The LV and its zeroing tag come in one metadata commit, so it is
    // never untagged before every byte is zero. Signatures are wiped at
    // once all the same.
    args.insert(args.end(),
                {"--size", absl::StrCat(size, "b"), "--wipesignatures", "y",
                 "--zero", "y", "--addtag", kZeroingTag});
  } else {
    args.insert(args.end(), {"--virtualsize", absl::StrCat(size, "b"),
                             "--thinpool", config_.thin_pool});
  }
  args.insert(args.end(),
              {"--addtag", kVolumeTag, "--addtag", tag, config_.vg});
  absl::StatusOr<CommandResult> created = Lvm(args);
  // A create that raced a crash may have made the LV after all.
  lv = FindLv(record.volume_id());
  if (!created.ok() && !lv.ok()) return created.status();
  if (!lv.ok()) return lv.status();
  GuardPoolAfter("a create");
  return FinishCreate(*lv, record.volume_id());
}

absl::StatusOr<VolumeRecord> LvmBackend::FinishCreate(
    const LogicalVolume& lv, const std::string& volume_id) {
  ABSL_ASSIGN_OR_RETURN(VolumeRecord record, RecordOf(lv));
  if (record.volume_id() != volume_id) {
    return absl::DataLossError(
        absl::StrCat("LV ", lv.name, " records another volume"));
  }
  if (HasTag(lv, kZeroingTag)) {
    ABSL_RETURN_IF_ERROR(Zero(lv));
  }
  return Get(volume_id);
}

absl::Status LvmBackend::Zero(const LogicalVolume& lv) {
  if (!lv.active()) {
    ABSL_RETURN_IF_ERROR(
        Lvm({"lvchange", "--activate", "y", LvPath(lv.name)}).status());
  }
  ABSL_RETURN_IF_ERROR(ZeroDevice(lv.name, lv.size_bytes));
  return Lvm({"lvchange", "--deltag", kZeroingTag, LvPath(lv.name)}).status();
}

absl::Status LvmBackend::ZeroDevice(const std::string& lv_name,
                                    uint64_t bytes) {
  Command command;
  // Without --force blkdiscard opens the device O_EXCL: it never zeroes an
  // LV that something holds.
  command.argv = {"blkdiscard", "--zeroout", LvDevice(lv_name)};
  command.timeout = ZeroingTimeout(bytes);
  absl::StatusOr<CommandResult> result = runner_->Run(command);
  if (!result.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot zero LV ", LvPath(lv_name),
                     ": cannot run blkdiscard (is util-linux installed?): ",
                     result.status().message()));
  }
  if (!result->Succeeded()) {
    const std::string what = DescribeFailure(command, *result);
    if (absl::StrContains(absl::AsciiStrToLower(result->stderr_data), "busy")) {
      // Most likely the zeroing of a driver that was killed, still running.
      return absl::UnavailableError(
          absl::StrCat("LV ", LvPath(lv_name),
                       " is busy, so it cannot be zeroed yet; a retry "
                       "finishes the job: ",
                       what));
    }
    return absl::InternalError(
        absl::StrCat("zeroing LV ", LvPath(lv_name),
                     " failed; nothing is handed out unzeroed and a retry "
                     "zeroes it again: ",
                     what));
  }
  return absl::OkStatus();
}

std::string LvmBackend::ScratchName(const std::string& lv_name) {
  return absl::StrCat("cz-", absl::StripPrefix(lv_name, "cv-"));
}

absl::Status LvmBackend::RemoveScratch(
    const std::string& lv_name, const std::vector<LogicalVolume>& listing) {
  const std::string scratch = ScratchName(lv_name);
  for (const LogicalVolume& lv : listing) {
    if (lv.name != scratch) continue;
    absl::StatusOr<CommandResult> removed =
        Lvm({"lvremove", "--yes", LvPath(scratch)});
    if (!removed.ok() && !absl::IsNotFound(removed.status())) {
      return removed.status();
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> LvmBackend::ZeroedExtents(
    const std::string& lv_name, uint64_t bytes) {
  const std::string scratch = ScratchName(lv_name);
  ABSL_RETURN_IF_ERROR(Lvm({"lvcreate", "--yes", "--name", scratch, "--size",
                            absl::StrCat(bytes, "b"), "--wipesignatures", "y",
                            "--zero", "y", "--addtag", kZeroingTag, config_.vg})
                           .status());
  ABSL_RETURN_IF_ERROR(ZeroDevice(scratch, bytes));
  ABSL_ASSIGN_OR_RETURN(
      CommandResult ranges,
      Lvm({"lvs", "--noheadings", "-o", "seg_pe_ranges", LvPath(scratch)}));
  // "PV:FIRST-LAST", one per segment, as lvextend takes them.
  std::vector<std::string> extents = absl::StrSplit(
      ranges.stdout_data, absl::ByAnyChar(" \t\n"), absl::SkipEmpty());
  if (extents.empty()) {
    return absl::InternalError(absl::StrCat(
        "lvm reported no extents for the scratch LV ", LvPath(scratch)));
  }
  ABSL_RETURN_IF_ERROR(Lvm({"lvremove", "--yes", LvPath(scratch)}).status());
  return extents;
}

absl::StatusOr<VolumeRecord> LvmBackend::Get(const std::string& volume_id) {
  ABSL_ASSIGN_OR_RETURN(LogicalVolume lv, FindLv(volume_id));
  absl::StatusOr<VolumeRecord> record = RecordOf(lv);
  if (record.ok() && record->volume_id() != volume_id) {
    return absl::DataLossError(
        absl::StrCat("LV ", lv.name, " records another volume"));
  }
  return record;
}

absl::StatusOr<std::vector<VolumeRecord>> LvmBackend::List() {
  ABSL_ASSIGN_OR_RETURN(std::vector<LogicalVolume> lvs, ListLvs());
  std::vector<VolumeRecord> records;
  for (const LogicalVolume& lv : lvs) {
    // A restore or clone still being filled is not a volume yet.
    if (!BelongsHere(lv) || HasTag(lv, kCopyingTag)) continue;
    absl::StatusOr<VolumeRecord> record = RecordOf(lv);
    if (record.ok() && LvName(record->volume_id()) == lv.name) {
      records.push_back(*std::move(record));
    }
  }
  std::sort(records.begin(), records.end(),
            [](const VolumeRecord& a, const VolumeRecord& b) {
              return a.volume_id() < b.volume_id();
            });
  return records;
}

absl::Status LvmBackend::Delete(const std::string& volume_id) {
  std::vector<LogicalVolume> listing;
  absl::StatusOr<LogicalVolume> lv = FindLv(volume_id, &listing);
  if (absl::IsNotFound(lv.status())) return absl::OkStatus();
  if (!lv.ok()) return lv.status();
  if (lv->open()) {
    return absl::FailedPreconditionError(
        absl::StrCat("volume ", volume_id,
                     " is in use (LV open; still staged or published)"));
  }
  // LVM would take the temporary snapshots of copies still running with it.
  ABSL_RETURN_IF_ERROR(SettleCopiesFrom(*lv, "deleted"));
  if (thick()) {
    // A clone into it that stopped: its temporary snapshot goes first.
    jobs_.Cancel(lv->name);
    for (const LogicalVolume& temp : listing) {
      if (temp.name != TempName(lv->name) || !HasTag(temp, kCowTag)) continue;
      absl::Status removed =
          Lvm({"lvremove", "--yes", LvPath(temp.name)}).status();
      if (!removed.ok() && !absl::IsNotFound(removed)) return removed;
    }
  }
  // The scratch LV of an expansion that stopped half-way goes with it,
  // first, so a retry still finds the volume.
  ABSL_RETURN_IF_ERROR(RemoveScratch(lv->name, listing));
  absl::StatusOr<CommandResult> removed =
      Lvm({"lvremove", "--yes", LvPath(lv->name)});
  if (thick() && (removed.ok() || absl::IsNotFound(removed.status()))) {
    jobs_.Forget(lv->name);
  }
  if (absl::IsNotFound(removed.status())) return absl::OkStatus();
  return removed.status();
}

absl::StatusOr<uint64_t> LvmBackend::Expand(const std::string& volume_id,
                                            uint64_t bytes) {
  std::vector<LogicalVolume> listing;
  ABSL_ASSIGN_OR_RETURN(LogicalVolume lv, FindLv(volume_id, &listing));
  if (bytes <= lv.size_bytes) return lv.size_bytes;
  // An origin with (temporary) snapshots cannot be resized while active.
  ABSL_RETURN_IF_ERROR(SettleCopiesFrom(lv, "grown"));
  // The scratch LV of an expansion that stopped half-way holds space this
  // one needs.
  ABSL_RETURN_IF_ERROR(RemoveScratch(lv.name, listing));
  ABSL_ASSIGN_OR_RETURN(uint64_t size,
                        Place(bytes, lv.size_bytes, /*new_data=*/false,
                              absl::StrCat("growing ", volume_id)));
  std::vector<std::string> args = {"lvextend", "--size",
                                   absl::StrCat(size, "b"), LvPath(lv.name)};
  if (config_.thin_pool.empty()) {
    // New extents may hold what a deleted LV wrote, and the volume's user
    // reads them the moment lvextend returns: they are zeroed first, as a
    // scratch LV, and lvextend takes exactly those.
    ABSL_ASSIGN_OR_RETURN(std::vector<std::string> extents,
                          ZeroedExtents(lv.name, size - lv.size_bytes));
    args.insert(args.end(), extents.begin(), extents.end());
  }
  absl::StatusOr<CommandResult> extended = Lvm(args);
  if (absl::IsResourceExhausted(extended.status()) &&
      config_.thin_pool.empty()) {
    // The space was there a moment ago: another LV took the zeroed extents.
    return absl::AbortedError(
        absl::StrCat("the extents zeroed for growing ", volume_id,
                     " were taken meanwhile; a retry zeroes others: ",
                     extended.status().message()));
  }
  if (!extended.ok()) return extended.status();
  GuardPoolAfter("an expansion");
  return size;
}

absl::StatusOr<std::string> LvmBackend::Attach(const std::string& volume_id) {
  ABSL_ASSIGN_OR_RETURN(LogicalVolume lv, FindLv(volume_id));
  if (HasTag(lv, kZeroingTag) || HasTag(lv, kCopyingTag)) {
    return absl::UnavailableError(absl::StrCat(
        "volume ", volume_id,
        " is still being zeroed or filled (its create has not finished)"));
  }
  if (!lv.active()) {
    // -K: thin snapshots are created with activation skipped.
    ABSL_RETURN_IF_ERROR(Lvm({"lvchange", "--activate", "y",
                              "--ignoreactivationskip", LvPath(lv.name)})
                             .status());
  }
  // One canonical path for the device (symlinks resolved), so mounts and
  // binds of it are recognised in the mount table.
  return fs_->RealPath(LvDevice(lv.name));
}

absl::StatusOr<std::string> LvmBackend::FindDevice(
    const std::string& volume_id) {
  ABSL_ASSIGN_OR_RETURN(LogicalVolume lv, FindLv(volume_id));
  if (HasTag(lv, kZeroingTag) || HasTag(lv, kCopyingTag)) {
    return absl::UnavailableError(absl::StrCat(
        "volume ", volume_id,
        " is still being zeroed or filled (its create has not finished)"));
  }
  if (!lv.active()) {
    return absl::NotFoundError(absl::StrCat(volume_id, " is not active"));
  }
  return fs_->RealPath(LvDevice(lv.name));
}

absl::Status LvmBackend::Detach(const std::string& volume_id) {
  std::vector<LogicalVolume> listing;
  absl::StatusOr<LogicalVolume> lv = FindLv(volume_id, &listing);
  if (absl::IsNotFound(lv.status())) return absl::OkStatus();
  if (!lv.ok()) return lv.status();
  if (!lv->active()) return absl::OkStatus();
  if (lv->open()) {
    return absl::FailedPreconditionError(
        absl::StrCat("volume ", volume_id, " is still open"));
  }
  for (const LogicalVolume& other : listing) {
    // Deactivating an origin deactivates its snapshots: a copy still
    // reading the point in time keeps it active (it is detached all the
    // same: nothing on this node uses it).
    if (other.origin == lv->name) return absl::OkStatus();
  }
  return Lvm({"lvchange", "--activate", "n", LvPath(lv->name)}).status();
}

absl::Status LvmBackend::RefreshDevice(const std::string&) {
  // lvextend reloads the device-mapper table itself.
  return absl::OkStatus();
}

absl::StatusOr<int> LvmBackend::ActivateAll() {
  ABSL_ASSIGN_OR_RETURN(std::vector<LogicalVolume> lvs, ListLvs());
  int activated = 0;
  for (const LogicalVolume& lv : lvs) {
    if (!BelongsHere(lv) || lv.active()) continue;
    // Only LVs that were in use need to come back; activating is cheap and
    // makes FindDevice agree with the node's mounts after a reboot.
    ABSL_RETURN_IF_ERROR(Lvm({"lvchange", "--activate", "y",
                              "--ignoreactivationskip", LvPath(lv.name)})
                             .status());
    ++activated;
  }
  return activated;
}

bool LvmBackend::IsSnapshotHere(const LogicalVolume& lv) const {
  if (!HasTag(lv, kSnapshotTag)) return false;
  return thick() ? lv.pool.empty() && !HasTag(lv, kCowTag)
                 : lv.pool == config_.thin_pool;
}

absl::StatusOr<SnapshotRecord> LvmBackend::SnapshotOf(const LogicalVolume& lv) {
  SnapshotRecord record;
  ABSL_RETURN_IF_ERROR(DecodeTag(lv, kSnapshotRecordTagPrefix, &record));
  record.set_pending_copy(HasTag(lv, kCopyingTag));
  record.set_copy_failed(HasTag(lv, kFailedTag));
  return record;
}

absl::StatusOr<LogicalVolume> LvmBackend::FindSnapshotLv(
    const std::string& snapshot_id) {
  const std::string name = LvName(snapshot_id);
  if (name.empty()) {
    return absl::NotFoundError(absl::StrCat("no snapshot ", snapshot_id));
  }
  ABSL_ASSIGN_OR_RETURN(std::vector<LogicalVolume> lvs, ListLvs());
  if (!thick()) {
    ABSL_RETURN_IF_ERROR(PoolIn(lvs).status());
  }
  for (const LogicalVolume& lv : lvs) {
    if (lv.name == name && IsSnapshotHere(lv)) return lv;
  }
  return absl::NotFoundError(absl::StrCat("no snapshot ", snapshot_id));
}

SnapshotRecord LvmBackend::SnapshotRecordFor(const SnapshotRecord& asked,
                                             const VolumeRecord& source,
                                             uint64_t bytes) {
  SnapshotRecord stored = asked;
  stored.set_pending_copy(false);
  stored.set_copy_failed(false);
  stored.set_size_bytes(static_cast<int64_t>(bytes));
  stored.set_block(source.block());
  stored.set_fs_type(source.fs_type());
  stored.set_encrypted(source.encrypted());
  stored.set_encryption_key_id(source.encryption_key_id().empty()
                                   ? source.volume_id()
                                   : source.encryption_key_id());
  stored.set_bound_namespace(source.bound_namespace());
  *stored.mutable_allowed_namespaces() = source.allowed_namespaces();
  *stored.mutable_allowed_service_accounts() =
      source.allowed_service_accounts();
  return stored;
}

absl::StatusOr<SnapshotRecord> LvmBackend::CreateSnapshot(
    const SnapshotRecord& record, uint64_t* bytes_copied) {
  if (bytes_copied != nullptr) *bytes_copied = 0;
  if (thick()) return CreateThickSnapshot(record);
  absl::StatusOr<SnapshotRecord> existing = GetSnapshot(record.snapshot_id());
  if (existing.ok() || !absl::IsNotFound(existing.status())) return existing;
  ABSL_ASSIGN_OR_RETURN(LogicalVolume origin,
                        FindLv(record.source_volume_id()));
  ABSL_ASSIGN_OR_RETURN(VolumeRecord source, RecordOf(origin));
  const SnapshotRecord stored =
      SnapshotRecordFor(record, source, origin.size_bytes);
  ABSL_ASSIGN_OR_RETURN(
      std::string tag,
      RecordTag(kSnapshotRecordTagPrefix, stored,
                "the snapshot's record (its name, ids and the source "
                "volume's access lists) is"));
  // A thin snapshot promises its origin's full size, as a volume does:
  // the overprovision bound and create-limit apply to it too.
  ABSL_RETURN_IF_ERROR(Place(origin.size_bytes, 0, /*new_data=*/false,
                             absl::StrCat("snapshot ", record.snapshot_id()))
                           .status());
  // A thin snapshot shares every block with its origin: nothing is copied.
  absl::StatusOr<CommandResult> created =
      Lvm({"lvcreate", "--yes", "--snapshot", "--name",
           LvName(record.snapshot_id()), "--addtag", kSnapshotTag, "--addtag",
           tag, LvPath(origin.name)});
  if (!created.ok()) {
    absl::StatusOr<SnapshotRecord> again = GetSnapshot(record.snapshot_id());
    if (again.ok()) return again;
    return created.status();
  }
  GuardPoolAfter("a snapshot");
  return GetSnapshot(record.snapshot_id());
}

absl::StatusOr<SnapshotRecord> LvmBackend::GetSnapshot(
    const std::string& snapshot_id) {
  ABSL_ASSIGN_OR_RETURN(LogicalVolume lv, FindSnapshotLv(snapshot_id));
  absl::StatusOr<SnapshotRecord> record = SnapshotOf(lv);
  if (record.ok() && record->snapshot_id() != snapshot_id) {
    return absl::DataLossError(
        absl::StrCat("LV ", lv.name, " records another snapshot"));
  }
  // A copy a stopped driver left unfinished carries on.
  if (record.ok() && record->pending_copy()) StartSnapshotCopy(lv);
  return record;
}

absl::StatusOr<std::vector<SnapshotRecord>> LvmBackend::ListSnapshots() {
  std::vector<SnapshotRecord> records;
  ABSL_ASSIGN_OR_RETURN(std::vector<LogicalVolume> lvs, ListLvs());
  for (const LogicalVolume& lv : lvs) {
    if (!IsSnapshotHere(lv)) continue;
    absl::StatusOr<SnapshotRecord> record = SnapshotOf(lv);
    if (record.ok() && LvName(record->snapshot_id()) == lv.name) {
      if (record->pending_copy()) StartSnapshotCopy(lv);
      records.push_back(*std::move(record));
    }
  }
  std::sort(records.begin(), records.end(),
            [](const SnapshotRecord& a, const SnapshotRecord& b) {
              return a.snapshot_id() < b.snapshot_id();
            });
  return records;
}

absl::Status LvmBackend::DeleteSnapshot(const std::string& snapshot_id) {
  const std::string name = LvName(snapshot_id);
  if (thick() && !name.empty()) {
    // A copy into it stops first; restores reading it get a moment to end.
    jobs_.Cancel(name);
    jobs_.WaitForOrigin(name, absl::Seconds(30));
    ABSL_ASSIGN_OR_RETURN(std::vector<LogicalVolume> lvs, ListLvs());
    for (const LogicalVolume& lv : lvs) {
      if (lv.name != TempName(name) || !HasTag(lv, kCowTag)) continue;
      absl::Status removed =
          Lvm({"lvremove", "--yes", LvPath(lv.name)}).status();
      if (!removed.ok() && !absl::IsNotFound(removed)) return removed;
    }
  }
  absl::StatusOr<LogicalVolume> lv = FindSnapshotLv(snapshot_id);
  if (absl::IsNotFound(lv.status())) {
    if (thick()) jobs_.Forget(name);
    return absl::OkStatus();
  }
  if (!lv.ok()) return lv.status();
  absl::StatusOr<CommandResult> removed =
      Lvm({"lvremove", "--yes", LvPath(lv->name)});
  if (removed.ok() || absl::IsNotFound(removed.status())) {
    if (thick()) jobs_.Forget(name);
    return absl::OkStatus();
  }
  return removed.status();
}

absl::StatusOr<VolumeRecord> LvmBackend::CreateFromSource(
    const VolumeRecord& record, const std::string& source_id,
    const FreezeScope& freeze) {
  const std::string name = LvName(record.volume_id());
  if (name.empty()) return absl::InvalidArgumentError("not a volume id");
  if (thick()) return CreateThickFromSource(record, source_id, freeze);
  absl::StatusOr<LogicalVolume> lv = FindLv(record.volume_id());
  if (lv.ok()) return FinishFromSource(*lv, record.volume_id());
  if (!absl::IsNotFound(lv.status())) return lv.status();
  absl::StatusOr<ParsedId> source = ParseId(source_id);
  if (!source.ok()) return absl::NotFoundError("no such source");
  ABSL_ASSIGN_OR_RETURN(LogicalVolume origin, source->kind == IdKind::kSnapshot
                                                  ? FindSnapshotLv(source_id)
                                                  : FindLv(source_id));
  // The copy promises its whole size, like any new volume.
  ABSL_ASSIGN_OR_RETURN(
      uint64_t size,
      Place(static_cast<uint64_t>(record.capacity_bytes()), 0,
            /*new_data=*/true,
            absl::StrCat("volume ", record.volume_id(), " from ", source_id)));
  VolumeRecord stored = record;
  stored.set_capacity_bytes(static_cast<int64_t>(size));
  ABSL_ASSIGN_OR_RETURN(
      std::string tag,
      RecordTag(kRecordTagPrefix, stored,
                "the volume's parameters and access lists are"));
  // A thin snapshot of the source, made an ordinary (activatable) volume,
  // in the instant the source is frozen.
  absl::StatusOr<CommandResult> created;
  absl::Status instant = freeze([&] {
    created = Lvm({"lvcreate", "--yes", "--snapshot", "--setactivationskip",
                   "n", "--name", name, "--addtag", kVolumeTag, "--addtag", tag,
                   LvPath(origin.name)});
    return absl::OkStatus();
  });
  if (!instant.ok()) return instant;
  lv = FindLv(record.volume_id());
  if (!created.ok() && !lv.ok()) return created.status();
  if (!lv.ok()) return lv.status();
  GuardPoolAfter("a clone");
  return FinishFromSource(*lv, record.volume_id());
}

absl::StatusOr<VolumeRecord> LvmBackend::AskedRecord(
    const LogicalVolume& lv, const std::string& volume_id) {
  VolumeRecord asked;
  ABSL_RETURN_IF_ERROR(DecodeTag(lv, kRecordTagPrefix, &asked));
  if (asked.volume_id() != volume_id) {
    return absl::DataLossError(
        absl::StrCat("LV ", lv.name, " records another volume"));
  }
  return asked;
}

absl::StatusOr<VolumeRecord> LvmBackend::FinishFromSource(
    const LogicalVolume& lv, const std::string& volume_id) {
  // The tag holds the size asked for; the LV starts at the source's.
  ABSL_ASSIGN_OR_RETURN(VolumeRecord found, AskedRecord(lv, volume_id));
  const VolumeRecord& asked = found;
  if (lv.size_bytes < static_cast<uint64_t>(asked.capacity_bytes())) {
    ABSL_RETURN_IF_ERROR(
        Lvm({"lvextend", "--size", absl::StrCat(asked.capacity_bytes(), "b"),
             LvPath(lv.name)})
            .status());
  }
  return Get(volume_id);
}

}  // namespace cellar
