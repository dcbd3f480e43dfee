#include "src/controller/freezer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"
#include "src/common/ids.h"
#include "src/common/status_macros.h"

namespace cellar {

Freezer::Freezer(FreezerDeps deps) : deps_(std::move(deps)) {}

std::string Freezer::EntryPath(const std::string& mount_path) const {
  // A digest: any mount path fits in one file name.
  return absl::StrCat(deps_.journal_dir, "/", Sha256Hex(mount_path));
}

std::vector<std::string> Freezer::MountedFilesystems(
    const std::vector<std::pair<std::string, Backend*>>& volumes) {
  std::vector<std::string> paths;
  if (!enabled()) return paths;
  absl::StatusOr<std::vector<MountEntry>> table = deps_.mounter->ListMounts();
  if (!table.ok()) return paths;
  for (const auto& [volume_id, backend] : volumes) {
    std::vector<std::string> devices;
    if (!backend->SnapshotSuspendsOrigin()) {
      absl::StatusOr<std::string> device = backend->FindDevice(volume_id);
      if (device.ok()) devices.push_back(*device);
    }
    absl::StatusOr<std::string> mapping = deps_.fs->RealPath(
        absl::StrCat("/dev/mapper/", CryptMappingName(volume_id)));
    if (mapping.ok()) devices.push_back(*mapping);
    for (const MountEntry& entry : *table) {
      if (std::find(devices.begin(), devices.end(), entry.source) !=
          devices.end()) {
        paths.push_back(entry.mount_point);
        break;
      }
    }
  }
  return paths;
}

absl::Status Freezer::WithFrozen(const std::vector<std::string>& paths,
                                 const std::function<absl::Status()>& action) {
  if (!enabled() || paths.empty()) return action();
  {
    absl::MutexLock lock(&mutex_);
    // An entry for one of these paths that no call holds is a leftover (a
    // failed thaw, a killed driver): thawed first, or the freeze below
    // fails with EBUSY and its entry would be the only one, then removed.
    // The caller holds the volumes' locks, so no other call of ours can
    // be freezing them.
    for (const std::string& path : paths) {
      if (held_.count(path) != 0) continue;
      if (!deps_.fs->Stat(EntryPath(path)).ok()) continue;
      if (absl::Status s = ThawLeftover(path, /*mounted=*/true); !s.ok())
        return s;
    }
    held_.insert(paths.begin(), paths.end());
  }
  std::vector<std::string> frozen;
  absl::Status status = deps_.fs->MakeDirs(deps_.journal_dir, 0700);
  for (const std::string& path : paths) {
    if (!status.ok()) break;
    // The entry first: a crash between it and the freeze costs a harmless
    // thaw of a filesystem that is not frozen.
    status = deps_.fs->WriteFileAtomic(EntryPath(path), path, 0600);
    if (!status.ok()) break;
    status = deps_.fs_tools->Freeze(path);
    if (status.ok()) {
      frozen.push_back(path);
    } else {
      (void)deps_.fs->Remove(EntryPath(path));  // ours, and nothing frozen
    }
  }
  if (status.ok()) status = action();
  for (auto it = frozen.rbegin(); it != frozen.rend(); ++it) {
    absl::Status thawed = deps_.fs_tools->Thaw(*it);
    // A failed thaw keeps its entry: ThawLeftovers tries again.
    if (thawed.ok()) thawed = deps_.fs->Remove(EntryPath(*it));
    if (status.ok()) status = thawed;
  }
  absl::MutexLock lock(&mutex_);
  for (const std::string& path : paths) held_.erase(held_.find(path));
  return status;
}

absl::Status Freezer::ThawLeftover(const std::string& path, bool mounted) {
  if (mounted) {
    ABSL_RETURN_IF_ERROR(deps_.fs_tools->Thaw(path));
    spdlog::warn("thawed {}, left frozen by an interrupted snapshot", path);
  }
  return deps_.fs->Remove(EntryPath(path));
}

absl::Status Freezer::ThawLeftovers() {
  if (!enabled()) return absl::OkStatus();
  absl::StatusOr<std::vector<std::string>> names =
      deps_.fs->ListDir(deps_.journal_dir);
  if (absl::IsNotFound(names.status())) return absl::OkStatus();
  if (!names.ok()) return names.status();
  if (names->empty()) return absl::OkStatus();
  ABSL_ASSIGN_OR_RETURN(std::vector<MountEntry> table,
                        deps_.mounter->ListMounts());
  // Held throughout: a WithFrozen that starts now freezes after these
  // thaws, never before one of them.
  absl::MutexLock lock(&mutex_);
  absl::Status first = absl::OkStatus();
  for (const std::string& name : *names) {
    const std::string entry = absl::StrCat(deps_.journal_dir, "/", name);
    absl::StatusOr<std::string> path = deps_.fs->ReadFile(entry);
    if (!path.ok() || EntryPath(*path) != entry) {
      // A temporary file of an interrupted write, or not ours: the freeze
      // it was written for never happened. Only when no call is writing
      // one now (held_ is filled before any entry is written).
      if (held_.empty()) {
        absl::Status removed = deps_.fs->Remove(entry);
        if (first.ok()) first = removed;
      }
      continue;
    }
    if (held_.count(*path) != 0) continue;  // frozen on purpose, right now
    const bool mounted = std::any_of(
        table.begin(), table.end(),
        [&](const MountEntry& mount) { return mount.mount_point == *path; });
    const absl::Status status = ThawLeftover(*path, mounted);
    if (!status.ok())
      spdlog::warn("cannot thaw {}: {}", *path, status.ToString());
    if (first.ok()) first = status;
  }
  return first;
}

}  // namespace cellar
