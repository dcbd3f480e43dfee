#include "src/backend/loop/loop_backend.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/json_util.h"
#include "src/common/ids.h"
#include "src/common/status_macros.h"
#include "src/common/volume_options.h"

namespace cellar {
namespace {

constexpr char kImageSuffix[] = ".img";
constexpr char kRecordSuffix[] = ".json";
constexpr char kSnapshotSuffix[] = ".snap";
constexpr char kSnapshotRecordSuffix[] = ".snapshot.json";

absl::Status CheckSnapshotId(const std::string& snapshot_id) {
  absl::StatusOr<ParsedId> id = ParseId(snapshot_id);
  if (!id.ok() || id->kind != IdKind::kSnapshot) {
    return absl::InvalidArgumentError("not a snapshot id");
  }
  return absl::OkStatus();
}

// Ids reach file names: only well-formed volume ids may.
absl::Status CheckVolumeId(const std::string& volume_id) {
  absl::StatusOr<ParsedId> id = ParseId(volume_id);
  if (!id.ok() || id->kind != IdKind::kVolume) {
    return absl::InvalidArgumentError(absl::StrCat(
        "not a volume id: ", id.ok() ? "snapshot id" : id.status().message()));
  }
  return absl::OkStatus();
}

}  // namespace

std::string RecordToJson(const google::protobuf::Message& record) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(record, &json, options);
  json += "\n";
  return json;
}

absl::Status RecordFromJson(const std::string& json,
                            google::protobuf::Message* record) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto status =
      google::protobuf::util::JsonStringToMessage(json, record, options);
  if (!status.ok()) {
    return absl::DataLossError(
        absl::StrCat("unreadable record: ", status.message().ToString()));
  }
  return absl::OkStatus();
}

LoopBackend::LoopBackend(LoopBackendConfig config, FileSystem* fs,
                         LoopDevices* loops)
    : config_(std::move(config)), fs_(fs), loops_(loops) {}

std::string LoopBackend::ImagePath(const std::string& volume_id) const {
  return absl::StrCat(config_.directory, "/", volume_id, kImageSuffix);
}

std::string LoopBackend::SnapshotPath(const std::string& snapshot_id) const {
  return absl::StrCat(config_.directory, "/", snapshot_id, kSnapshotSuffix);
}

std::string LoopBackend::SnapshotRecordPath(
    const std::string& snapshot_id) const {
  return absl::StrCat(config_.directory, "/", snapshot_id,
                      kSnapshotRecordSuffix);
}

std::string LoopBackend::RecordPath(const std::string& volume_id) const {
  return absl::StrCat(config_.directory, "/", volume_id, kRecordSuffix);
}

absl::Status LoopBackend::Ready() {
  absl::StatusOr<FileInfo> dir = fs_->Stat(config_.directory);
  if (!dir.ok() || dir->type != FileType::kDirectory) {
    return absl::UnavailableError(absl::StrCat(
        "loop image directory ", config_.directory, " is missing"));
  }
  absl::StatusOr<std::vector<LoopInfo>> loops = loops_->List();
  if (!loops.ok()) {
    return absl::UnavailableError(
        absl::StrCat("loop devices unavailable: ", loops.status().message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> LoopBackend::Promised(uint64_t* volume_count,
                                               uint64_t* snapshot_count) {
  ABSL_ASSIGN_OR_RETURN(std::vector<VolumeRecord> volumes, List());
  ABSL_ASSIGN_OR_RETURN(std::vector<SnapshotRecord> snapshots, ListSnapshots());
  uint64_t promised = 0;
  for (const VolumeRecord& volume : volumes) {
    promised += static_cast<uint64_t>(volume.capacity_bytes());
  }
  for (const SnapshotRecord& snapshot : snapshots) {
    promised += static_cast<uint64_t>(snapshot.size_bytes());
  }
  if (volume_count != nullptr) *volume_count = volumes.size();
  if (snapshot_count != nullptr) *snapshot_count = snapshots.size();
  return promised;
}

uint64_t LoopBackend::UsableBytes(const FsStats& stats) const {
  const uint64_t usable = stats.total_bytes > config_.reserve_bytes
                              ? stats.total_bytes - config_.reserve_bytes
                              : 0;
  if (config_.overprovision <= 0) return usable;
  return static_cast<uint64_t>(static_cast<double>(usable) *
                               config_.overprovision);
}

BackendCapacity LoopBackend::CapacityFrom(const FsStats& stats,
                                          uint64_t promised) const {
  BackendCapacity capacity;
  capacity.available_bytes = stats.available_bytes > config_.reserve_bytes
                                 ? stats.available_bytes - config_.reserve_bytes
                                 : 0;
  if (config_.overprovision > 0) {
    // What every image already promises, against the allowed total.
    const uint64_t allowed = UsableBytes(stats);
    capacity.available_bytes = std::min(
        capacity.available_bytes, allowed > promised ? allowed - promised : 0);
  }
  capacity.max_volume_bytes =
      capacity.available_bytes / (1ull << 20) * (1ull << 20);
  return capacity;
}

absl::StatusOr<BackendCapacity> LoopBackend::Capacity() {
  ABSL_ASSIGN_OR_RETURN(FsStats stats, fs_->StatFs(config_.directory));
  uint64_t promised = 0;
  if (config_.overprovision > 0) {
    ABSL_ASSIGN_OR_RETURN(uint64_t sum, Promised(nullptr, nullptr));
    promised = sum;
  }
  return CapacityFrom(stats, promised);
}

absl::StatusOr<BackendStats> LoopBackend::Stats() {
  ABSL_ASSIGN_OR_RETURN(FsStats fs_stats, fs_->StatFs(config_.directory));
  BackendStats stats;
  ABSL_ASSIGN_OR_RETURN(uint64_t promised,
                        Promised(&stats.volumes, &stats.snapshots));
  stats.capacity_bytes = UsableBytes(fs_stats);
  stats.available_bytes = CapacityFrom(fs_stats, promised).available_bytes;
  stats.allocated_bytes = promised;
  stats.has_image_fs = true;
  stats.image_fs.size_bytes = fs_stats.total_bytes;
  stats.image_fs.free_bytes = fs_stats.available_bytes;
  stats.image_fs.promised_bytes = promised;
  return stats;
}

absl::StatusOr<std::string> LoopBackend::VolumeTrouble(
    const std::string& volume_id) {
  ABSL_RETURN_IF_ERROR(Get(volume_id).status());
  return std::string();
}

absl::Status LoopBackend::WriteRecord(const VolumeRecord& record) {
  return fs_->WriteFileAtomic(RecordPath(record.volume_id()),
                              RecordToJson(record), 0600);
}

absl::StatusOr<VolumeRecord> LoopBackend::Create(const VolumeRecord& record) {
  ABSL_RETURN_IF_ERROR(CheckVolumeId(record.volume_id()));
  const bool thick = IsThick(record.allocation());
  absl::StatusOr<VolumeRecord> existing = Get(record.volume_id());
  if (existing.ok()) {
    // A retry after a crash may find the record without its image.
    ABSL_RETURN_IF_ERROR(fs_->EnsureFileSize(
        ImagePath(record.volume_id()),
        static_cast<uint64_t>(existing->capacity_bytes()), thick, 0600));
    return existing;
  }
  if (!absl::IsNotFound(existing.status())) return existing.status();

  ABSL_ASSIGN_OR_RETURN(BackendCapacity capacity, Capacity());
  const uint64_t size = static_cast<uint64_t>(record.capacity_bytes());
  if (size > capacity.available_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("not enough space in ", config_.directory, ": ", size,
                     " bytes asked, ", capacity.available_bytes, " available"));
  }
  ABSL_RETURN_IF_ERROR(WriteRecord(record));
  absl::Status image =
      fs_->EnsureFileSize(ImagePath(record.volume_id()), size, thick, 0600);
  if (!image.ok()) {
    // Nothing was handed out: undo, so a later retry starts clean.
    (void)fs_->Remove(ImagePath(record.volume_id()));
    (void)fs_->Remove(RecordPath(record.volume_id()));
    return image;
  }
  return record;
}

absl::StatusOr<VolumeRecord> LoopBackend::Get(const std::string& volume_id) {
  if (absl::Status s = CheckVolumeId(volume_id); !s.ok()) {
    return absl::NotFoundError(absl::StrCat("no volume ", volume_id));
  }
  absl::StatusOr<std::string> json = fs_->ReadFile(RecordPath(volume_id));
  if (!json.ok()) {
    if (absl::IsNotFound(json.status())) {
      return absl::NotFoundError(absl::StrCat("no volume ", volume_id));
    }
    return json.status();
  }
  VolumeRecord record;
  ABSL_RETURN_IF_ERROR(RecordFromJson(*json, &record));
  if (record.volume_id() != volume_id) {
    return absl::DataLossError(
        absl::StrCat("record of ", volume_id, " names another volume"));
  }
  return record;
}

absl::StatusOr<std::vector<VolumeRecord>> LoopBackend::List() {
  ABSL_ASSIGN_OR_RETURN(std::vector<std::string> names,
                        fs_->ListDir(config_.directory));
  std::vector<VolumeRecord> records;
  for (const std::string& name : names) {
    absl::string_view id = name;
    if (absl::EndsWith(id, kSnapshotRecordSuffix)) continue;
    if (!absl::ConsumeSuffix(&id, kRecordSuffix)) continue;
    absl::StatusOr<VolumeRecord> record = Get(std::string(id));
    if (record.ok()) records.push_back(*std::move(record));
  }
  std::sort(records.begin(), records.end(),
            [](const VolumeRecord& a, const VolumeRecord& b) {
              return a.volume_id() < b.volume_id();
            });
  return records;
}

absl::Status LoopBackend::Delete(const std::string& volume_id) {
  if (!CheckVolumeId(volume_id).ok()) return absl::OkStatus();
  ABSL_ASSIGN_OR_RETURN(std::vector<std::string> devices,
                        AttachedDevices(volume_id));
  if (!devices.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("volume ", volume_id, " is attached as ", devices.front(),
                     " (still staged or published)"));
  }
  // Image first: a record without an image is a half-deleted volume that a
  // retried delete finishes; an image without a record would be leaked.
  ABSL_RETURN_IF_ERROR(fs_->Remove(ImagePath(volume_id)));
  return fs_->Remove(RecordPath(volume_id));
}

absl::StatusOr<uint64_t> LoopBackend::Expand(const std::string& volume_id,
                                             uint64_t bytes) {
  ABSL_ASSIGN_OR_RETURN(VolumeRecord record, Get(volume_id));
  const uint64_t current = static_cast<uint64_t>(record.capacity_bytes());
  if (bytes <= current) {
    // The record may lag the image after a crash; make them agree.
    return current;
  }
  ABSL_ASSIGN_OR_RETURN(BackendCapacity capacity, Capacity());
  if (bytes - current > capacity.available_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("not enough space to grow ", volume_id, " by ",
                     bytes - current, " bytes"));
  }
  const bool thick = IsThick(record.allocation());
  ABSL_RETURN_IF_ERROR(
      fs_->EnsureFileSize(ImagePath(volume_id), bytes, thick, 0600));
  record.set_capacity_bytes(static_cast<int64_t>(bytes));
  ABSL_RETURN_IF_ERROR(WriteRecord(record));
  return bytes;
}

absl::StatusOr<std::vector<std::string>> LoopBackend::AttachedDevices(
    const std::string& volume_id) {
  ABSL_ASSIGN_OR_RETURN(std::vector<LoopInfo> loops, loops_->List());
  const std::string image = ImagePath(volume_id);
  std::vector<std::string> devices;
  for (const LoopInfo& loop : loops) {
    if (loop.backing_file == image) devices.push_back(loop.device);
  }
  return devices;
}

absl::StatusOr<std::string> LoopBackend::Attach(const std::string& volume_id) {
  ABSL_RETURN_IF_ERROR(Get(volume_id).status());
  ABSL_ASSIGN_OR_RETURN(std::vector<std::string> devices,
                        AttachedDevices(volume_id));
  if (!devices.empty()) return devices.front();
  return loops_->Attach(ImagePath(volume_id));
}

absl::StatusOr<std::string> LoopBackend::FindDevice(
    const std::string& volume_id) {
  if (!CheckVolumeId(volume_id).ok()) {
    return absl::NotFoundError(absl::StrCat("no volume ", volume_id));
  }
  ABSL_ASSIGN_OR_RETURN(std::vector<std::string> devices,
                        AttachedDevices(volume_id));
  if (devices.empty()) {
    return absl::NotFoundError(absl::StrCat(volume_id, " is not attached"));
  }
  return devices.front();
}

absl::Status LoopBackend::Detach(const std::string& volume_id) {
  if (!CheckVolumeId(volume_id).ok()) return absl::OkStatus();
  ABSL_ASSIGN_OR_RETURN(std::vector<std::string> devices,
                        AttachedDevices(volume_id));
  for (const std::string& device : devices) {
    absl::Status s = loops_->Detach(device);
    if (!s.ok() && !absl::IsNotFound(s)) return s;
  }
  return absl::OkStatus();
}

absl::Status LoopBackend::RefreshDevice(const std::string& volume_id) {
  ABSL_ASSIGN_OR_RETURN(std::vector<std::string> devices,
                        AttachedDevices(volume_id));
  for (const std::string& device : devices) {
    ABSL_RETURN_IF_ERROR(loops_->RefreshCapacity(device));
  }
  return absl::OkStatus();
}

absl::StatusOr<SnapshotRecord> LoopBackend::CreateSnapshot(
    const SnapshotRecord& record, uint64_t* bytes_copied) {
  ABSL_RETURN_IF_ERROR(CheckSnapshotId(record.snapshot_id()));
  absl::StatusOr<SnapshotRecord> existing = GetSnapshot(record.snapshot_id());
  if (existing.ok() || !absl::IsNotFound(existing.status())) return existing;
  ABSL_ASSIGN_OR_RETURN(VolumeRecord source, Get(record.source_volume_id()));
  // A snapshot is an image too: it counts against what the class may
  // promise (overprovision), and never eats into the reserve.
  ABSL_ASSIGN_OR_RETURN(BackendCapacity capacity, Capacity());
  const uint64_t size = static_cast<uint64_t>(source.capacity_bytes());
  if (capacity.available_bytes == 0 ||
      (config_.overprovision > 0 && size > capacity.available_bytes)) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "not enough space in ", config_.directory, " for a snapshot of ", size,
        " bytes: ", capacity.available_bytes, " available"));
  }
  // Data first, then the record: a record always has its data.
  ABSL_ASSIGN_OR_RETURN(
      uint64_t copied,
      fs_->CopySparse(ImagePath(source.volume_id()),
                      SnapshotPath(record.snapshot_id()), 0600));
  if (bytes_copied != nullptr) *bytes_copied = copied;
  SnapshotRecord stored = record;
  stored.set_size_bytes(source.capacity_bytes());
  stored.set_block(source.block());
  stored.set_fs_type(source.fs_type());
  stored.set_encrypted(source.encrypted());
  stored.set_encryption_key_id(source.encryption_key_id().empty()
                                   ? source.volume_id()
                                   : source.encryption_key_id());
  ABSL_RETURN_IF_ERROR(fs_->WriteFileAtomic(
      SnapshotRecordPath(record.snapshot_id()), RecordToJson(stored), 0600));
  return stored;
}

absl::StatusOr<SnapshotRecord> LoopBackend::GetSnapshot(
    const std::string& snapshot_id) {
  if (!CheckSnapshotId(snapshot_id).ok()) {
    return absl::NotFoundError(absl::StrCat("no snapshot ", snapshot_id));
  }
  absl::StatusOr<std::string> json =
      fs_->ReadFile(SnapshotRecordPath(snapshot_id));
  if (!json.ok()) {
    if (absl::IsNotFound(json.status())) {
      return absl::NotFoundError(absl::StrCat("no snapshot ", snapshot_id));
    }
    return json.status();
  }
  SnapshotRecord record;
  if (!RecordFromJson(*json, &record).ok() ||
      record.snapshot_id() != snapshot_id) {
    return absl::DataLossError(
        absl::StrCat("unreadable record of snapshot ", snapshot_id));
  }
  return record;
}

absl::StatusOr<std::vector<SnapshotRecord>> LoopBackend::ListSnapshots() {
  ABSL_ASSIGN_OR_RETURN(std::vector<std::string> names,
                        fs_->ListDir(config_.directory));
  std::vector<SnapshotRecord> records;
  for (const std::string& name : names) {
    absl::string_view id = name;
    if (!absl::ConsumeSuffix(&id, kSnapshotRecordSuffix)) continue;
    absl::StatusOr<SnapshotRecord> record = GetSnapshot(std::string(id));
    if (record.ok()) records.push_back(*std::move(record));
  }
  std::sort(records.begin(), records.end(),
            [](const SnapshotRecord& a, const SnapshotRecord& b) {
              return a.snapshot_id() < b.snapshot_id();
            });
  return records;
}

absl::Status LoopBackend::DeleteSnapshot(const std::string& snapshot_id) {
  if (!CheckSnapshotId(snapshot_id).ok()) return absl::OkStatus();
  // Data first: while the record is there a retried delete finds the
  // snapshot, also by its group (a group delete lists its members by their
  // records), so nothing is left behind unseen.
  ABSL_RETURN_IF_ERROR(fs_->Remove(SnapshotPath(snapshot_id)));
  return fs_->Remove(SnapshotRecordPath(snapshot_id));
}

absl::StatusOr<VolumeRecord> LoopBackend::CreateFromSource(
    const VolumeRecord& record, const std::string& source_id,
    const FreezeScope& freeze) {
  ABSL_RETURN_IF_ERROR(CheckVolumeId(record.volume_id()));
  absl::StatusOr<ParsedId> source = ParseId(source_id);
  if (!source.ok()) return absl::NotFoundError("no such source");
  const std::string source_path = source->kind == IdKind::kSnapshot
                                      ? SnapshotPath(source_id)
                                      : ImagePath(source_id);
  const std::string image = ImagePath(record.volume_id());
  const bool thick = IsThick(record.allocation());
  absl::StatusOr<VolumeRecord> existing = Get(record.volume_id());
  if (existing.ok()) {
    absl::StatusOr<FileInfo> info = fs_->Stat(image);
    if (info.ok() &&
        info->size >= static_cast<uint64_t>(existing->capacity_bytes())) {
      return existing;
    }
  } else if (!absl::IsNotFound(existing.status())) {
    return existing.status();
  } else {
    ABSL_ASSIGN_OR_RETURN(BackendCapacity capacity, Capacity());
    if (static_cast<uint64_t>(record.capacity_bytes()) >
        capacity.available_bytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat("not enough space in ", config_.directory, " for ",
                       record.capacity_bytes(), " bytes"));
    }
    ABSL_RETURN_IF_ERROR(WriteRecord(record));
  }
  // The copy lands under its final name atomically, then grows if asked.
  // An image copy is only consistent with the source frozen throughout.
  absl::Status copied = freeze(
      [&] { return fs_->CopySparse(source_path, image, 0600).status(); });
  if (copied.ok()) {
    copied = fs_->EnsureFileSize(
        image, static_cast<uint64_t>(record.capacity_bytes()), thick, 0600);
  }
  if (!copied.ok()) {
    // The record went first so that a crash mid-copy leaves a volume a
    // retry finishes (or DeleteVolume removes), never an image nobody
    // knows. A copy that failed while we run takes back what this call
    // wrote: a CO that gives up on the create must not be left with a
    // listed volume without data. A record an earlier call left stays.
    if (!existing.ok()) (void)Delete(record.volume_id());
    return copied;
  }
  return existing.ok() ? *existing : record;
}

}  // namespace cellar
