#ifndef CELLAR_SRC_BACKEND_VOLUME_ACCESS_H_
#define CELLAR_SRC_BACKEND_VOLUME_ACCESS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "proto/volume_record.pb.h"
#include "src/backend/backend.h"
#include "src/backend/router.h"
#include "src/common/ids.h"
#include "src/common/volume_locks.h"

namespace cellar {

// What a handler holds while it works on one id: the id parsed, the backend
// it belongs to, and (from the Lock* calls) its per-id lock, released when
// this is destroyed.
struct HeldId {
  ParsedId id;
  Backend* backend = nullptr;
  std::unique_ptr<VolumeLockGuard> lock;  // null from the Read* calls
};

struct HeldVolume : HeldId {
  VolumeRecord record;
};

struct HeldSnapshot : HeldId {
  SnapshotRecord record;
};

// The one way the RPC handlers reach a volume or snapshot, always in the
// same order: route the id to its backend, take its lock, read its record.
// Routing first means an id of another node or class is NOT_FOUND without
// touching a lock; locking before reading means the record read is the one
// the handler then acts on (no other operation on the id runs meanwhile).
// Thread-safe: the router is immutable and VolumeLocks is thread-safe.
class VolumeAccess final {
 public:
  // Neither is owned; both must outlive this.
  VolumeAccess(const BackendRouter* router, VolumeLocks* locks);
  VolumeAccess(const VolumeAccess&) = delete;
  VolumeAccess& operator=(const VolumeAccess&) = delete;

  // Routes `id` as an id of `kind` (NOT_FOUND as BackendRouter::Find says)
  // and takes its lock (ABORTED when another operation holds it). Reads no
  // record: for handlers to which a missing record is an answer, not an
  // error (deletes, unstage).
  absl::StatusOr<HeldId> Lock(const std::string& id, IdKind kind) const;

  // Lock(id, kVolume), then the volume's record (the backend's Get errors:
  // NOT_FOUND when it has none, INTERNAL for a damaged one).
  absl::StatusOr<HeldVolume> LockVolume(const std::string& id) const;

  // Lock(id, kSnapshot), then the snapshot's record (GetSnapshot's errors).
  absl::StatusOr<HeldSnapshot> LockSnapshot(const std::string& id) const;

  // Route and read without the lock: for read-only handlers (GetVolume,
  // GetSnapshot, NodeGetVolumeStats), which must answer while another
  // operation on the id is pending rather than be told ABORTED.
  absl::StatusOr<HeldVolume> ReadVolume(const std::string& id) const;
  absl::StatusOr<HeldSnapshot> ReadSnapshot(const std::string& id) const;

 private:
  absl::StatusOr<HeldId> Route(const std::string& id, IdKind kind) const;

  const BackendRouter* const router_;
  VolumeLocks* const locks_;
};

}  // namespace cellar

#endif  // CELLAR_SRC_BACKEND_VOLUME_ACCESS_H_
