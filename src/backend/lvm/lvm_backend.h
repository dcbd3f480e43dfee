#ifndef CELLAR_SRC_BACKEND_LVM_LVM_BACKEND_H_
#define CELLAR_SRC_BACKEND_LVM_LVM_BACKEND_H_

#include <atomic>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/backend/backend.h"
#include "src/backend/lvm/copy_jobs.h"
#include "src/backend/lvm/lvm_report.h"
#include "src/backend/lvm/thin_pool_guard.h"
#include "src/platform/block_copier.h"
#include "src/platform/command_runner.h"
#include "src/platform/filesystem.h"

namespace cellar {

struct LvmBackendConfig {
  std::string vg;
  // Empty: thick LVs in `vg`. Else: thin LVs in this thin pool of `vg`.
  std::string thin_pool;
  // Thick: bytes of the VG never given to volumes.
  uint64_t reserve_bytes = 0;
  // Thin: virtual bytes that may be promised per byte of pool.
  double overprovision = 1.0;
  // Extra environment for the lvm tool (e.g. LVM_SYSTEM_DIR=...).
  std::vector<std::string> lvm_env;
  // Thick: the COW area of the temporary LVM snapshot that holds a copy's
  // point in time, in percent of the origin's size (grown while it fills),
  // and at least `cow_floor_bytes` or the whole origin if that is smaller:
  // growth reacts in about a second, and a small area is filled faster
  // than that by a burst of writes.
  int cow_percent = 10;
  uint64_t cow_floor_bytes = 1ull << 30;
  // Thick: bound on the rate of the copies behind snapshots, restores and
  // clones, in bytes per second (0: unbounded).
  uint64_t copy_bytes_per_second = 128ull << 20;
  // Thick: a snapshot copy that failed is started again on the next look
  // at the snapshot, but not sooner than this after the failure.
  absl::Duration copy_retry_after = absl::Seconds(10);
  // Thin: growing the pool before it fills, refusing new allocations when
  // it is nearly full.
  ThinPoolGuardOptions guard;
};

// Volumes as LVM logical volumes, thick or thin. The LV name derives from
// the volume id, and the volume's record travels in an LV tag, so the VG
// itself is the only state: lvcreate makes the LV and its record in one
// metadata commit, and a retried create finds them. Every lvm call runs
// the `lvm` tool through the command runner with an argv (no shell),
// LC_ALL=C and JSON reports parsed by pure functions.
//
// No volume shows what another wrote: a new thick LV is zeroed whole before
// it can be staged and grows only onto extents zeroed first (LVM reuses the
// extents of deleted LVs), and a thin class creates volumes only in a pool
// that zeroes newly provisioned blocks. A VG
// or pool that is not there is UNAVAILABLE, never "no such volume", so
// nothing reads as deleted while its disk is merely not attached.
//
// Thick snapshots, restores and clones are copies into independent thick
// LVs. A temporary LVM (COW) snapshot of the origin, made in an instant
// (LVM freezes a filesystem mounted on the origin for it), holds the point
// in time while its content is copied into the new LV: in the background
// for a snapshot (reported pending until done), within the call for a
// restore or clone. Tags record the copy (kCopyingTag, kFromTagPrefix), so
// a restarted driver carries on, and the temporary snapshot goes when the
// copy is done. ext4 copies read only the blocks the filesystem uses.
class LvmBackend final : public Backend {
 public:
  // `runner`, `fs` and `copier` are not owned.
  LvmBackend(LvmBackendConfig config, CommandRunner* runner, FileSystem* fs,
             BlockCopier* copier);
  LvmBackend(const LvmBackend&) = delete;
  LvmBackend& operator=(const LvmBackend&) = delete;

  std::string kind() const override {
    return config_.thin_pool.empty() ? "lvm" : "lvm-thin";
  }
  bool SnapshotSuspendsOrigin() const override { return true; }
  absl::Status Ready() override;
  absl::StatusOr<BackendCapacity> Capacity() override;
  absl::StatusOr<BackendStats> Stats() override;
  absl::StatusOr<std::string> VolumeTrouble(
      const std::string& volume_id) override;
  absl::StatusOr<VolumeRecord> Create(const VolumeRecord& record) override;
  absl::StatusOr<VolumeRecord> Get(const std::string& volume_id) override;
  absl::StatusOr<std::vector<VolumeRecord>> List() override;
  absl::Status Delete(const std::string& volume_id) override;
  absl::StatusOr<uint64_t> Expand(const std::string& volume_id,
                                  uint64_t bytes) override;
  absl::StatusOr<std::string> Attach(const std::string& volume_id) override;
  absl::StatusOr<std::string> FindDevice(const std::string& volume_id) override;
  absl::Status Detach(const std::string& volume_id) override;
  absl::Status RefreshDevice(const std::string& volume_id) override;

  absl::StatusOr<SnapshotRecord> CreateSnapshot(
      const SnapshotRecord& record, uint64_t* bytes_copied) override;
  absl::StatusOr<SnapshotRecord> GetSnapshot(
      const std::string& snapshot_id) override;
  absl::StatusOr<std::vector<SnapshotRecord>> ListSnapshots() override;
  absl::Status DeleteSnapshot(const std::string& snapshot_id) override;
  absl::StatusOr<VolumeRecord> CreateFromSource(
      const VolumeRecord& record, const std::string& source_id,
      const FreezeScope& freeze) override;

  // Thin with autoextend: grows the pool's data or metadata LV (whichever
  // passed the threshold) with lvextend, as far as the VG and the cap
  // allow, logging each growth and counting it in Stats(); does nothing
  // otherwise. Serialised: concurrent callers run one after the other.
  // Returns what it grew.
  absl::StatusOr<ThinPoolGrowth> GuardPool();
  bool guards_pool() const {
    return !config_.thin_pool.empty() && config_.guard.autoextend_percent > 0;
  }

  // Activates every cellar LV of this class that is not active (after a
  // reboot). Returns how many were activated.
  absl::StatusOr<int> ActivateAll();

  // Thick: starts again the snapshot copies a stopped driver left
  // unfinished, and removes temporary snapshots whose copy target is gone.
  // Returns how many copies it started.
  absl::StatusOr<int> ResumeCopies();

  // Thick: waits at most `timeout` until no copy into the snapshot or
  // volume `id` runs in this process (for tests and benchmarks).
  bool WaitForCopy(const std::string& id, absl::Duration timeout);

  // The LV name of a volume id ("cv-" + its unique part) or of a snapshot
  // id ("cs-" + its unique part).
  static std::string LvName(const std::string& volume_id);

 private:
  // What a thin class's pool has promised.
  struct PoolUse {
    LogicalVolume pool;
    uint64_t promised_bytes = 0;  // virtual sizes of its thin LVs
  };

  // Runs `lvm ARGS...`; on failure the status LvmFailureStatus gives
  // (NOT_FOUND only for a missing LV), never NOT_FOUND when lvm itself
  // cannot be run.
  absl::StatusOr<CommandResult> Lvm(std::vector<std::string> args);
  absl::StatusOr<std::vector<LogicalVolume>> ListLvs();
  // UNAVAILABLE when the VG is not there.
  absl::StatusOr<VolumeGroup> GetVg();
  // The class's thin pool in `lvs`; UNAVAILABLE when it is not there (its
  // volumes are then unreachable, not gone).
  absl::StatusOr<LogicalVolume> PoolIn(
      const std::vector<LogicalVolume>& lvs) const;
  // The pool and what it promised, from one listing of the VG.
  absl::StatusOr<PoolUse> PoolUseIn(
      const std::vector<LogicalVolume>& lvs) const;
  absl::StatusOr<PoolUse> GetPoolUse();
  // What GetCapacity reports for a thin class: ThinCapacity bounded by what
  // the pool can physically hold (`vg` counts only with autoextend), and
  // nothing at create-limit.
  BackendCapacity AdvertisedThinCapacity(const PoolUse& use,
                                         const VolumeGroup& vg) const;
  // GuardPool when it guards, its failure logged (after a successful
  // allocation, which must not fail for it).
  void GuardPoolAfter(const char* what);
  // Thin: RESOURCE_EXHAUSTED when the pool is at create-limit (after one
  // GuardPool when autoextend is on); `use` is refreshed then.
  absl::Status CheckCreateLimit(PoolUse* use, const std::string& what);
  // NOT_FOUND only when the VG (and pool) answered and the LV is not in it.
  // `listing`, when not null, receives every LV of the VG.
  absl::StatusOr<LogicalVolume> FindLv(
      const std::string& volume_id,
      std::vector<LogicalVolume>* listing = nullptr);
  // The record in `lv`'s tag, with capacity from the LV itself.
  absl::StatusOr<VolumeRecord> RecordOf(const LogicalVolume& lv);
  bool BelongsHere(const LogicalVolume& lv) const;
  // "VG/LV" for lvm arguments, and the LV's device node.
  std::string LvPath(const std::string& lv_name) const;
  std::string LvDevice(const std::string& lv_name) const;
  // "VG" or "VG/POOL", for messages.
  std::string Where() const;
  // `bytes` rounded up to the VG's extent size, when growing an LV of
  // `current_bytes` to it fits: RESOURCE_EXHAUSTED (naming `what`)
  // otherwise. `new_data`: the LV will be handed out with blocks it has not
  // written, so a thin pool must zero new blocks (FAILED_PRECONDITION).
  absl::StatusOr<uint64_t> Place(uint64_t bytes, uint64_t current_bytes,
                                 bool new_data, const std::string& what);
  BackendCapacity ThickCapacity(const VolumeGroup& vg) const;
  BackendCapacity ThinCapacity(const PoolUse& use) const;
  // The end of Create, also for a create that crashed half-way: zeroes a
  // thick LV still tagged kZeroingTag, then returns the record.
  absl::StatusOr<VolumeRecord> FinishCreate(const LogicalVolume& lv,
                                            const std::string& volume_id);
  // The end of CreateFromSource, likewise: grows the copy to the size its
  // record asks for.
  absl::StatusOr<VolumeRecord> FinishFromSource(const LogicalVolume& lv,
                                                const std::string& volume_id);
  // Writes zeroes over all of `lv`, then drops kZeroingTag.
  absl::Status Zero(const LogicalVolume& lv);
  // blkdiscard --zeroout of the LV's device (BLKZEROOUT, which most devices
  // do as cheap write-zeroes).
  absl::Status ZeroDevice(const std::string& lv_name, uint64_t bytes);
  // The scratch LV that zeroes the extents an expansion of `lv_name` takes.
  static std::string ScratchName(const std::string& lv_name);
  // Removes the scratch LV of `lv_name` when `listing` has one (left by an
  // expansion that stopped half-way).
  absl::Status RemoveScratch(const std::string& lv_name,
                             const std::vector<LogicalVolume>& listing);
  // `bytes` of free extents, zeroed through a scratch LV (made, zeroed,
  // reported and removed), as "PV:FIRST-LAST" arguments for lvextend.
  absl::StatusOr<std::vector<std::string>> ZeroedExtents(
      const std::string& lv_name, uint64_t bytes);
  absl::StatusOr<LogicalVolume> FindSnapshotLv(const std::string& snapshot_id);
  absl::StatusOr<SnapshotRecord> SnapshotOf(const LogicalVolume& lv);
  bool thick() const { return config_.thin_pool.empty(); }
  // The record of a snapshot of the volume `source` (an LV of `bytes`)
  // asked for as `asked`: the source's kind, key and access policy (data
  // keeps its owner).
  static SnapshotRecord SnapshotRecordFor(const SnapshotRecord& asked,
                                          const VolumeRecord& source,
                                          uint64_t bytes);
  // A snapshot LV of this class (thin: in its pool; thick: no pool and
  // not a temporary snapshot).
  bool IsSnapshotHere(const LogicalVolume& lv) const;

  // ----------------------------------------------- thick copies
  // The temporary COW snapshot that holds the point in time of a copy
  // into the LV `target`.
  static std::string TempName(const std::string& target);
  // The first size of the COW area of a temporary snapshot of an origin of
  // `origin_bytes`, in whole extents.
  uint64_t CowBytes(uint64_t origin_bytes) const;
  static uint64_t WholeCowBytes(uint64_t origin_bytes);
  // Removes the temporary snapshot `temp` (a missing one is fine), trying
  // again a moment later when it is busy; logs what still fails.
  void RemoveTemp(const std::string& temp);
  absl::StatusOr<SnapshotRecord> CreateThickSnapshot(
      const SnapshotRecord& record);
  // CreateThickSnapshot finding its snapshot LV `existing` there already:
  // its record, or FAILED_PRECONDITION when its copy lost the point in time.
  absl::StatusOr<SnapshotRecord> ExistingThickSnapshot(
      const LogicalVolume& existing, const std::string& snapshot_id);
  // The last step of CreateThickSnapshot, once the temporary snapshot is
  // made: creates the snapshot LV `name` of `bytes` (with `record_tag`,
  // the tag of `stored`) and starts its background copy; removes the
  // temporary snapshot when nothing was created.
  absl::StatusOr<SnapshotRecord> MakeThickSnapshotTarget(
      const std::string& snapshot_id, const std::string& name, uint64_t bytes,
      SnapshotRecord stored, const std::string& record_tag);
  absl::StatusOr<VolumeRecord> CreateThickFromSource(
      const VolumeRecord& record, const std::string& source_id,
      const FreezeScope& freeze);
  // The source LV of a thick restore (a snapshot, waited for a while when
  // its own copy still runs) or clone (a volume, `listing` receiving every
  // LV of the VG), once it can be read: UNAVAILABLE while it is not ready,
  // FAILED_PRECONDITION for a snapshot that lost its point in time.
  absl::StatusOr<LogicalVolume> ReadyCopySource(
      const std::string& source_id, bool from_snapshot,
      std::vector<LogicalVolume>* listing);
  // The record in `lv`'s tag, as its create asked for it (the size asked,
  // not the LV's); DATA_LOSS when missing or another volume's.
  absl::StatusOr<VolumeRecord> AskedRecord(const LogicalVolume& lv,
                                           const std::string& volume_id);
  // Makes TempName(target) as a COW snapshot of `origin` within `freeze`
  // (a stale one, whose target was never made, is replaced); `cow_bytes`
  // is the size of its COW area.
  absl::Status MakeTemp(const LogicalVolume& origin, const std::string& target,
                        uint64_t cow_bytes,
                        const std::vector<LogicalVolume>& listing,
                        const FreezeScope& freeze);
  // The end of a thick restore or clone, also for one that stopped half-way:
  // copies (within the call) what the tags say is still to be copied.
  absl::StatusOr<VolumeRecord> FinishThickCopy(const LogicalVolume& lv,
                                               const std::string& volume_id);
  // Copies into the LV `target` what its tags name (zeroing it first when
  // tagged so), then drops the tags and the temporary snapshot. DATA_LOSS
  // when the point in time is gone (the temporary snapshot was removed or
  // overflowed); CANCELLED as the copier.
  absl::Status Fill(const std::string& target, const std::atomic<bool>& cancel);
  // Parts of Fill. Activates `lv` (skip flag or not) unless it is active.
  absl::Status ActivateForCopy(const LogicalVolume& lv);
  // The bandwidth bound and cancel flag of a copy, reporting progress
  // often enough to watch a COW area about every second.
  CopyOptions FillCopyOptions(const std::atomic<bool>& cancel) const;
  // What a failed copy from `from` returns: DATA_LOSS when `from` is a
  // temporary snapshot whose COW area overflowed (or that is gone), else
  // the copier's status.
  absl::Status ExplainCopyFailure(absl::Status copy_status,
                                  const std::string& from, bool from_temp);
  // After the copy of `copied` bytes: drops the copy's tags from `target`
  // and removes the temporary snapshot `from` when `from_temp`.
  absl::Status FinishFill(const std::string& target, const std::string& from,
                          uint64_t copied, uint64_t source_bytes,
                          bool from_temp);
  // Byte ranges of `device` (holding `bytes` of a source) to copy: the
  // blocks ext4 uses when `used_only` and dumpe2fs can tell, else all.
  std::vector<ByteRange> RangesToCopy(const std::string& device, uint64_t bytes,
                                      bool used_only);
  // Grows the temporary snapshot `temp` when its COW area is half full.
  absl::Status KeepCowRoom(const std::string& temp, uint64_t step);
  // Starts the background copy of the snapshot LV `target` unless it runs.
  void StartSnapshotCopy(const LogicalVolume& target);
  // Before `origin` is removed, grown or deactivated: waits a while for the
  // copies reading it, removes temporary snapshots nothing will copy from
  // any more, and says UNAVAILABLE when copies still need it.
  absl::Status SettleCopiesFrom(const LogicalVolume& origin,
                                const std::string& what);

  const LvmBackendConfig config_;
  // The VG's extent size as the last vgs report gave it (0: none yet), for
  // sizes computed before the report of the call that uses them.
  std::atomic<uint64_t> extent_bytes_{0};
  CommandRunner* const runner_;
  FileSystem* const fs_;
  BlockCopier* const copier_;
  // Last: its destructor stops the copies before anything they use goes.
  CopyJobs jobs_;
  absl::Mutex guard_mutex_;
  // What the last GuardPool decided, to log a stuck pool once, not every
  // few seconds.
  std::string last_guard_note_ ABSL_GUARDED_BY(guard_mutex_);
  std::atomic<uint64_t> autoextends_{0};
};

}  // namespace cellar

#endif  // CELLAR_SRC_BACKEND_LVM_LVM_BACKEND_H_
