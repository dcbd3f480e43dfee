#ifndef CELLAR_SRC_BACKEND_LOOP_LOOP_BACKEND_H_
#define CELLAR_SRC_BACKEND_LOOP_LOOP_BACKEND_H_

#include <string>
#include <vector>

#include "src/backend/backend.h"
#include "src/platform/filesystem.h"
#include "src/platform/loop_device.h"

namespace cellar {

struct LoopBackendConfig {
  // Absolute, symlink-free directory holding the images.
  std::string directory;
  // Bytes of the directory's filesystem never given to volumes.
  uint64_t reserve_bytes = 0;
  // When > 0: the sizes of all images (volumes and snapshots, thin or
  // thick) may add up to at most this many times the filesystem's size less
  // the reserve, so sparse images cannot promise the disk away. 0: each new
  // volume need only fit in the free space now.
  double overprovision = 0;
};

// Volumes as image files attached to loop devices. A snapshot is a copy of
// the image, <dir>/S.snap with its record <dir>/S.snapshot.json, made with a
// reflink where the filesystem allows and else extent by extent, so it
// costs time and space in proportion to the data, not the nominal size. For
// volume V the image is <dir>/V.img and its record <dir>/V.json (written
// atomically, before the image, so a crash leaves either nothing or a record
// that a retried create completes). Attachments are found from the kernel's
// list of loop devices and their backing files; nothing else is remembered.
class LoopBackend final : public Backend {
 public:
  // `fs` and `loops` are not owned and must outlive the backend.
  LoopBackend(LoopBackendConfig config, FileSystem* fs, LoopDevices* loops);
  LoopBackend(const LoopBackend&) = delete;
  LoopBackend& operator=(const LoopBackend&) = delete;

  std::string kind() const override { return "loop"; }
  bool SnapshotSuspendsOrigin() const override { return false; }
  absl::Status Ready() override;
  absl::StatusOr<BackendCapacity> Capacity() override;
  absl::StatusOr<BackendStats> Stats() override;
  // An image has nothing that fails apart from the volume itself.
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

  std::string ImagePath(const std::string& volume_id) const;
  std::string SnapshotPath(const std::string& snapshot_id) const;
  std::string SnapshotRecordPath(const std::string& snapshot_id) const;
  std::string RecordPath(const std::string& volume_id) const;

 private:
  absl::Status WriteRecord(const VolumeRecord& record);
  // Sizes of every volume and snapshot summed, and (when not null) how many
  // of each there are.
  absl::StatusOr<uint64_t> Promised(uint64_t* volume_count,
                                    uint64_t* snapshot_count);
  // The image filesystem after the reserve, times the overprovision ratio.
  uint64_t UsableBytes(const FsStats& stats) const;
  // Capacity() from one statfs and the promised sum (read only with
  // overprovision).
  BackendCapacity CapacityFrom(const FsStats& stats, uint64_t promised) const;
  absl::StatusOr<std::vector<std::string>> AttachedDevices(
      const std::string& volume_id);

  const LoopBackendConfig config_;
  FileSystem* const fs_;
  LoopDevices* const loops_;
};

// Record (de)serialisation as JSON (volume and snapshot records alike).
std::string RecordToJson(const google::protobuf::Message& record);
// DATA_LOSS when `json` is not a record of `record`'s type.
absl::Status RecordFromJson(const std::string& json,
                            google::protobuf::Message* record);

}  // namespace cellar

#endif  // CELLAR_SRC_BACKEND_LOOP_LOOP_BACKEND_H_
