#ifndef CELLAR_TEST_FAKES_FAKE_LVM_H_
#define CELLAR_TEST_FAKES_FAKE_LVM_H_

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "src/platform/command_runner.h"

namespace cellar::testing {

// A stateful stand-in for the `lvm` tool: volume groups, thick LVs, thin
// pools and thin LVs, thin snapshots and COW snapshots of thick LVs
// (lv_size their COW area, as LVM reports it), answering lvs/vgs with JSON
// reports shaped like LVM 2.03's and changing state on lvcreate/lvremove/
// lvextend/lvchange, with LVM's own stderr texts and exit code 5 on failure.
// Install with FakeCommandRunner::SetHandler("lvm", fake.Handler()); for the
// zeroing of new thick LVs also SetHandler("blkdiscard",
// fake.BlkdiscardHandler()).
class FakeLvm final {
 public:
  struct Lv {
    std::string vg;
    uint64_t size = 0;
    std::vector<std::string> tags;
    std::string pool;
    bool thin_pool = false;
    bool zero_new_blocks = true;  // thin pools: lv_attr bit 8
    bool active = true;
    bool open = false;
    // May still show bytes a deleted LV wrote: every new thick LV (LVM
    // reuses extents) until blkdiscard --zeroout covers it, and every thick
    // LV extended onto extents not zeroed before.
    bool stale = false;
    // Thick LVs: "/dev/fakepv:FIRST-LAST" per segment, as seg_pe_ranges
    // prints them. Extents are never handed out twice here; `stale` stands
    // for what reuse would show.
    std::vector<std::string> extents;
    // A thick LV's COW snapshot: its origin, the use of its COW area (its
    // `size`) and whether it overflowed.
    std::string origin;
    double cow_percent = 0;
    bool invalid = false;
    // Thin pools: data and metadata use, metadata size, chunk size.
    double pool_data_percent = 0;
    double metadata_percent = 0;
    uint64_t metadata_size = 4 << 20;
    uint64_t metadata_grown = 0;  // by lvextend, taken twice from the VG
    uint64_t chunk = 64 << 10;
    char health = '-';  // lv_attr bit 9 of a pool: D, M, F or '-'
  };

  void AddVg(const std::string& name, uint64_t size, uint64_t extent = 4 << 20);
  void AddThinPool(const std::string& vg, const std::string& name,
                   uint64_t size, bool zero_new_blocks = true);
  // A missing VG (its disk not attached): every command naming it fails as
  // LVM's do, and its LVs are back, untouched, when it returns.
  void SetVgMissing(const std::string& vg, bool missing);
  // The next run of `command` ("lvextend", "blkdiscard", ...) fails with
  // exit code 5 (blkdiscard: 1) and `stderr_text`, changing nothing.
  void FailNext(const std::string& command, const std::string& stderr_text);
  void SetOpen(const std::string& vg, const std::string& lv, bool open);
  void SetActive(const std::string& vg, const std::string& lv, bool active);
  // A COW snapshot's use of its COW area, and its overflow.
  void SetCowPercent(const std::string& vg, const std::string& lv,
                     double percent);
  void Invalidate(const std::string& vg, const std::string& lv);
  // A thin pool's data and metadata use as lvs reports them.
  void SetPoolUse(const std::string& vg, const std::string& pool,
                  double data_percent, double metadata_percent);
  // lv_attr bit 9 of a thin pool: 'D' out of data, 'M' metadata read-only,
  // 'F' failed, '-' healthy.
  void SetPoolHealth(const std::string& vg, const std::string& pool,
                     char health);
  // vg_missing_pv_count of `vg` (its commands keep working, as with
  // --partial reads).
  void SetMissingPvs(const std::string& vg, uint64_t count);
  // Called (under the fake's lock: it must not run lvm) with "VG/ORIGIN"
  // and "VG/SNAPSHOT" as each COW snapshot of a thick LV is made, so a test
  // can give the snapshot its origin's content of that instant.
  void OnCowSnapshot(
      std::function<void(const std::string&, const std::string&)> hook);
  // Names of the LVs of `vg`.
  std::vector<std::string> LvNames(const std::string& vg) const;
  bool HasLv(const std::string& vg, const std::string& lv) const;
  Lv GetLv(const std::string& vg, const std::string& lv) const;
  uint64_t VgFree(const std::string& vg) const;

  // The handlers for FakeCommandRunner.
  std::function<absl::StatusOr<CommandResult>(const Command&)> Handler();
  std::function<absl::StatusOr<CommandResult>(const Command&)>
  BlkdiscardHandler();

 private:
  CommandResult Run(const std::vector<std::string>& argv);
  CommandResult Blkdiscard(const std::vector<std::string>& argv);
  bool TakeFailure(const std::string& command, std::string* stderr_text)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Bytes of `vg` its LVs take (thin LVs take their pool's).
  uint64_t Used(const std::string& vg) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  struct Vg {
    uint64_t size = 0;
    uint64_t extent = 0;
    bool missing = false;
    uint64_t missing_pvs = 0;
  };
  mutable absl::Mutex mu_;
  std::map<std::string, Vg> vgs_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Lv> lvs_ ABSL_GUARDED_BY(mu_);  // key "vg/lv"
  std::map<std::string, std::string> failures_ ABSL_GUARDED_BY(mu_);
  std::function<void(const std::string&, const std::string&)> on_cow_
      ABSL_GUARDED_BY(mu_);
  uint64_t next_extent_ ABSL_GUARDED_BY(mu_) = 0;
  // Extents zeroed by blkdiscard --zeroout and not written since (as far
  // as the fake knows: not part of an LV that was handed out).
  std::set<std::string> zeroed_extents_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cellar::testing

#endif  // CELLAR_TEST_FAKES_FAKE_LVM_H_
