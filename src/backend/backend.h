#ifndef CELLAR_SRC_BACKEND_BACKEND_H_
#define CELLAR_SRC_BACKEND_BACKEND_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "volume_record.pb.h"

namespace cellar {

using VolumeRecord = ::cellar::state::v1::VolumeRecord;
using SnapshotRecord = ::cellar::state::v1::SnapshotRecord;

// Runs `instant` with the source of a copy frozen when it is mounted on this
// node (or simply runs it), and returns its status or the freeze's error.
// Backends call it around the moment that fixes a copy's point in time, and
// only around that, so a slow copy never keeps a tenant's writes waiting.
using FreezeScope =
    std::function<absl::Status(const std::function<absl::Status()>& instant)>;

// A FreezeScope that freezes nothing.
inline FreezeScope NoFreeze() {
  return [](const std::function<absl::Status()>& instant) { return instant(); };
}

// Space a device class can still give out.
struct BackendCapacity {
  // Bytes a new volume may use now (after the configured reserve).
  uint64_t available_bytes = 0;
  // The largest single volume that fits now.
  uint64_t max_volume_bytes = 0;
};

// A volume group as metrics show it.
struct VgStats {
  std::string name;
  uint64_t size_bytes = 0;
  uint64_t free_bytes = 0;
  uint64_t missing_pvs = 0;
};

// A thin pool as metrics show it.
struct ThinPoolStats {
  std::string name;  // "VG/POOL"
  uint64_t size_bytes = 0;
  double data_percent = 0;
  uint64_t metadata_bytes = 0;
  double metadata_percent = 0;
  uint64_t chunk_bytes = 0;
  uint64_t virtual_bytes = 0;  // sizes of the thin LVs in it, summed
  uint64_t autoextends = 0;    // growths by this driver since it started
};

// The filesystem holding a loop class's images.
struct ImageFsStats {
  uint64_t size_bytes = 0;
  uint64_t free_bytes = 0;      // what the driver may write (f_bavail)
  uint64_t promised_bytes = 0;  // image sizes (volumes and snapshots) summed
};

// What a device class holds, read when asked (for metrics).
struct BackendStats {
  // All the space the class manages (the VG, the pool's size times its
  // overprovision ratio, the image filesystem after the reserve).
  uint64_t capacity_bytes = 0;
  // What Capacity() reports as available now.
  uint64_t available_bytes = 0;
  // Promised to volumes and snapshots (their full sizes).
  uint64_t allocated_bytes = 0;
  uint64_t volumes = 0;
  uint64_t snapshots = 0;
  bool has_vg = false;
  VgStats vg;
  bool has_pool = false;
  ThinPoolStats pool;
  bool has_image_fs = false;
  ImageFsStats image_fs;
};

// One device class's storage on this node: where volumes live and how they
// become block devices. The Controller and Node services route to a backend
// by the device class in the volume id. Implementations keep no state of
// their own that the storage and the kernel do not also hold, so every
// method is safe to retry after a crash. Every method is thread-safe;
// callers serialise operations on one volume with VolumeLocks.
class Backend {
 public:
  virtual ~Backend() = default;

  // "loop", "lvm", "lvm-thin".
  virtual std::string kind() const = 0;

  // Whether taking a snapshot or clone suspends the origin device (device
  // mapper does, and so freezes a filesystem directly on it): the caller
  // must then not freeze that filesystem itself.
  virtual bool SnapshotSuspendsOrigin() const = 0;

  // OK when the backend can serve (its directory, VG or pool is there);
  // UNAVAILABLE with the reason otherwise.
  virtual absl::Status Ready() = 0;

  // Space left for new volumes. `allocate`: thick accounting.
  virtual absl::StatusOr<BackendCapacity> Capacity() = 0;

  // What the class holds now, for metrics: a few reports of the storage
  // (for LVM one vgs and one lvs), never a cache. UNAVAILABLE when the
  // storage is not there.
  virtual absl::StatusOr<BackendStats> Stats() = 0;

  // Creates the storage for `record` (volume_id, capacity_bytes and
  // allocation set), durably records it, and returns the stored record.
  // When a volume with this id exists already, returns its record untouched
  // (the caller compares). RESOURCE_EXHAUSTED when it does not fit.
  virtual absl::StatusOr<VolumeRecord> Create(const VolumeRecord& record) = 0;

  // What is wrong with the storage under `volume_id`, "" when nothing
  // (for the volume condition): its thin pool out of space or read-only,
  // a disk of its VG missing. NOT_FOUND when there is no such volume.
  virtual absl::StatusOr<std::string> VolumeTrouble(
      const std::string& volume_id) = 0;

  // The record of `volume_id`; NOT_FOUND when there is no such volume.
  virtual absl::StatusOr<VolumeRecord> Get(const std::string& volume_id) = 0;

  // Every volume, sorted by id.
  virtual absl::StatusOr<std::vector<VolumeRecord>> List() = 0;

  // Deletes the storage and record. A missing volume is fine;
  // FAILED_PRECONDITION while its device is attached on this node.
  virtual absl::Status Delete(const std::string& volume_id) = 0;

  // Grows the storage to at least `bytes` (never shrinks) and returns the
  // new size. NOT_FOUND for an unknown volume, RESOURCE_EXHAUSTED when the
  // space is not there.
  virtual absl::StatusOr<uint64_t> Expand(const std::string& volume_id,
                                          uint64_t bytes) = 0;

  // Node side. The block device of the volume, attaching or activating it
  // when needed; idempotent (an attached volume gives its current device).
  virtual absl::StatusOr<std::string> Attach(const std::string& volume_id) = 0;

  // The block device of an attached volume; NOT_FOUND when not attached.
  virtual absl::StatusOr<std::string> FindDevice(
      const std::string& volume_id) = 0;

  // Undoes Attach. Not attached: fine. FAILED_PRECONDITION when in use.
  virtual absl::Status Detach(const std::string& volume_id) = 0;

  // Makes an attached device show the storage's current size after Expand.
  virtual absl::Status RefreshDevice(const std::string& volume_id) = 0;

  // Snapshots. A backend that cannot take them answers FAILED_PRECONDITION
  // saying why. The caller freezes a mounted source filesystem around
  // CreateSnapshot, which therefore returns quickly: a backend that copies
  // (thick LVM) fixes the point in time and copies in the background, and
  // reports the snapshot with `pending_copy` set until the copy is done.
  //
  // Takes a snapshot of `record.source_volume_id()` as `record.snapshot_id()`
  // and returns the stored record (size and time filled in). An existing
  // snapshot with that id is returned untouched (the caller compares),
  // except one whose copy lost its point in time: FAILED_PRECONDITION (it
  // is never taken again under the same id).
  // `bytes_copied`, when not null, receives the bytes physically copied.
  virtual absl::StatusOr<SnapshotRecord> CreateSnapshot(
      const SnapshotRecord& record, uint64_t* bytes_copied) = 0;
  // NOT_FOUND when there is no such snapshot.
  virtual absl::StatusOr<SnapshotRecord> GetSnapshot(
      const std::string& snapshot_id) = 0;
  // Every snapshot, sorted by id.
  virtual absl::StatusOr<std::vector<SnapshotRecord>> ListSnapshots() = 0;
  // A missing snapshot is fine.
  virtual absl::Status DeleteSnapshot(const std::string& snapshot_id) = 0;

  // Creates the volume `record` with the content of the snapshot or volume
  // `source_id` of this backend (the storage grows to
  // record.capacity_bytes() when that is larger). Idempotent like Create.
  // `freeze` is wrapped around the instant a volume source's content is
  // taken. UNAVAILABLE while a snapshot source is not ready yet.
  virtual absl::StatusOr<VolumeRecord> CreateFromSource(
      const VolumeRecord& record, const std::string& source_id,
      const FreezeScope& freeze) = 0;
};

}  // namespace cellar

#endif  // CELLAR_SRC_BACKEND_BACKEND_H_
