#include "src/backend/volume_access.h"

#include <utility>

#include "src/common/status_macros.h"

namespace cellar {

VolumeAccess::VolumeAccess(const BackendRouter* router, VolumeLocks* locks)
    : router_(router), locks_(locks) {}

absl::StatusOr<HeldId> VolumeAccess::Route(const std::string& id,
                                           IdKind kind) const {
  HeldId held;
  ABSL_ASSIGN_OR_RETURN(held.backend, router_->Find(id, kind));
  // Find accepted the id, so it parses.
  ABSL_ASSIGN_OR_RETURN(held.id, ParseId(id));
  return held;
}

absl::StatusOr<HeldId> VolumeAccess::Lock(const std::string& id,
                                          IdKind kind) const {
  ABSL_ASSIGN_OR_RETURN(HeldId held, Route(id, kind));
  held.lock = std::make_unique<VolumeLockGuard>(locks_, id);
  ABSL_RETURN_IF_ERROR(held.lock->status());
  return held;
}

absl::StatusOr<HeldVolume> VolumeAccess::LockVolume(
    const std::string& id) const {
  HeldVolume held;
  ABSL_ASSIGN_OR_RETURN(static_cast<HeldId&>(held), Lock(id, IdKind::kVolume));
  ABSL_ASSIGN_OR_RETURN(held.record, held.backend->Get(id));
  return held;
}

absl::StatusOr<HeldSnapshot> VolumeAccess::LockSnapshot(
    const std::string& id) const {
  HeldSnapshot held;
  ABSL_ASSIGN_OR_RETURN(static_cast<HeldId&>(held),
                        Lock(id, IdKind::kSnapshot));
  ABSL_ASSIGN_OR_RETURN(held.record, held.backend->GetSnapshot(id));
  return held;
}

absl::StatusOr<HeldVolume> VolumeAccess::ReadVolume(
    const std::string& id) const {
  HeldVolume held;
  ABSL_ASSIGN_OR_RETURN(static_cast<HeldId&>(held), Route(id, IdKind::kVolume));
  ABSL_ASSIGN_OR_RETURN(held.record, held.backend->Get(id));
  return held;
}

absl::StatusOr<HeldSnapshot> VolumeAccess::ReadSnapshot(
    const std::string& id) const {
  HeldSnapshot held;
  ABSL_ASSIGN_OR_RETURN(static_cast<HeldId&>(held),
                        Route(id, IdKind::kSnapshot));
  ABSL_ASSIGN_OR_RETURN(held.record, held.backend->GetSnapshot(id));
  return held;
}

}  // namespace cellar
