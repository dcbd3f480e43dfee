#include "src/node/node_service.h"

#include <sys/mount.h>
#include <sys/sysmacros.h>

#include <cstdlib>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "spdlog/spdlog.h"
#include "src/common/capability.h"
#include "src/common/ids.h"
#include "src/common/logging.h"
#include "src/common/status.h"
#include "src/common/status_macros.h"
#include "src/common/volume_options.h"
#include "src/crypt/key_derivation.h"
#include "src/node/access_policy.h"
#include "src/node/paths.h"

namespace cellar {
namespace {

using csi::v1::NodeServiceCapability;

// The path of a device node inside devtmpfs ("/dev/loop3" -> "/loop3"), as
// the root field of a bind mount of that node shows it.
std::string DevRoot(const std::string& device) {
  if (absl::StartsWith(device, "/dev/")) return device.substr(4);
  return device;
}

// Key material shorter than this is refused: the passphrase is derived with
// HKDF (no stretching) and the keyslot's PBKDF is at its minimum, so only
// the material's own entropy protects a copied image.
constexpr size_t kMinKeyMaterialBytes = 32;

}  // namespace

NodeService::NodeService(NodeConfig config, NodeDeps deps,
                         std::map<std::string, Backend*> backends,
                         VolumeLocks* locks)
    : config_(std::move(config)),
      deps_(deps),
      router_(config_.node_id, std::move(backends)),
      locks_(locks),
      access_(&router_, locks_) {}

namespace {

// A volume is staged and published only for the access type it was created
// for (CSI: INVALID_ARGUMENT otherwise).
absl::Status CheckAccessType(const VolumeRecord& record,
                             const AccessRequest& access) {
  if (record.block() == access.block) return absl::OkStatus();
  return absl::InvalidArgumentError(
      record.block() ? "volume was created for block access"
                     : "volume was created for filesystem access");
}

}  // namespace

absl::StatusOr<Backend*> NodeService::BackendForVolume(
    const std::string& volume_id) {
  return router_.Find(volume_id, IdKind::kVolume);
}

std::string NodeService::MappingName(const std::string& volume_id) {
  return CryptMappingName(volume_id);
}

bool NodeService::ShowsDevice(const MountEntry& entry,
                              const std::string& device) {
  // A filesystem on the device.
  if (entry.source == device) return true;
  // The device node bound onto a file: the mount's root is the node's path
  // inside the filesystem that holds it, and that filesystem must be the
  // one holding `device` (devtmpfs, or a container's /dev), not any tmpfs
  // with a file of that name (an emptyDir subPath "loop3" shows root
  // /loop3 too).
  if (entry.root != DevRoot(device)) return false;
  absl::StatusOr<FileInfo> node = deps_.fs->Stat(device);
  return node.ok() && makedev(entry.major, entry.minor) == node->device;
}

bool NodeService::ShowsAny(const MountEntry& entry,
                           const std::vector<std::string>& devices) {
  for (const std::string& device : devices) {
    if (ShowsDevice(entry, device)) return true;
  }
  return false;
}

absl::StatusOr<std::string> NodeService::VolumeDevice(
    const VolumeRecord& record, Backend* backend) {
  if (!record.encrypted()) return backend->FindDevice(record.volume_id());
  const std::string name = MappingName(record.volume_id());
  ABSL_RETURN_IF_ERROR(deps_.crypt->Backing(name).status());
  // One spelling for the device: symlinks resolved, as in the mount table.
  return deps_.fs->RealPath(absl::StrCat("/dev/mapper/", name));
}

absl::StatusOr<std::string> NodeService::OpenEncrypted(
    const VolumeRecord& record, const std::string& raw,
    const SecretBytes& material) {
  // Restores and clones keep the key of the volume their data came from.
  ABSL_ASSIGN_OR_RETURN(
      SecretBytes passphrase,
      DeriveVolumePassphrase(material, record.encryption_key_id().empty()
                                           ? record.volume_id()
                                           : record.encryption_key_id()));
  ABSL_ASSIGN_OR_RETURN(LuksState state, deps_.crypt->Inspect(raw));
  if (state != LuksState::kReady) {
    // Format only a device that holds nothing: no signature at all, or the
    // header of a format that died before its keyslot was written.
    if (state == LuksState::kNone) {
      ABSL_ASSIGN_OR_RETURN(std::string found, deps_.fs_tools->Probe(raw));
      if (!found.empty()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "encrypted volume ", record.volume_id(), " holds \"", found,
            "\" and no LUKS header; refusing to format it"));
      }
    }
    spdlog::info("formatting {} ({}) as LUKS2", record.volume_id(), raw);
    ABSL_RETURN_IF_ERROR(deps_.crypt->Format(raw, passphrase));
  }
  ABSL_ASSIGN_OR_RETURN(
      std::string mapped,
      deps_.crypt->Open(raw, MappingName(record.volume_id()), passphrase));
  return deps_.fs->RealPath(mapped);
}

absl::StatusOr<std::vector<MountEntry>> NodeService::MountsAtPath(
    const std::string& path) {
  ABSL_ASSIGN_OR_RETURN(std::vector<MountEntry> table,
                        deps_.mounter->ListMounts());
  return MountsAt(table, path);
}

absl::Status NodeService::MountChecked(MountRequest request) {
  request.confine_to = config_.kubelet_dir;
  ABSL_ASSIGN_OR_RETURN(std::vector<MountEntry> before,
                        deps_.mounter->ListMounts());
  ABSL_RETURN_IF_ERROR(deps_.mounter->Mount(request));
  ABSL_ASSIGN_OR_RETURN(std::vector<MountEntry> after,
                        deps_.mounter->ListMounts());
  // A mount is known by its id and place together: the kernel reuses ids.
  auto key = [](const MountEntry& entry) {
    return absl::StrCat(entry.mount_id, " ", entry.mount_point);
  };
  absl::flat_hash_set<std::string> known;
  for (const MountEntry& entry : before) known.insert(key(entry));
  // Other volumes are mounted concurrently: only a new mount of this
  // volume's device can be the one just made. (Operations on one volume
  // are serialised by its lock.)
  std::string device = request.source;
  if (!absl::StartsWith(device, "/dev/")) {
    std::vector<MountEntry> at_source = MountsAt(before, request.source);
    if (at_source.empty()) return absl::OkStatus();
    device = at_source.back().source;
  }
  absl::Status result = absl::OkStatus();
  for (const MountEntry& entry : after) {
    if (known.contains(key(entry)) || entry.mount_point == request.target ||
        !ShowsDevice(entry, device)) {
      continue;
    }
    // Not ours to leave there: undo it whatever it is.
    (void)deps_.mounter->Unmount(entry.mount_point, /*lazy=*/true);
    result = absl::InvalidArgumentError(absl::StrCat(
        "mount for ", request.target, " landed at ", entry.mount_point,
        ": a path component changed while it was being used; refusing"));
  }
  if (!result.ok()) return result;
  // And the target must now show, on top, one more mount, of the device.
  // (Mount ids are reused by the kernel as other volumes come and go, so
  // the count at the target tells what is new, not the id.)
  const size_t had = MountsAt(before, request.target).size();
  std::vector<MountEntry> landed = MountsAt(after, request.target);
  if (landed.size() <= had || !ShowsDevice(landed.back(), device)) {
    if (landed.size() > had) {
      (void)deps_.mounter->Unmount(request.target, /*lazy=*/true);
    }
    return absl::InternalError(
        absl::StrCat("mount of ", device, " at ", request.target,
                     " does not show the device afterwards; undone"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> NodeService::OwnDevices(
    const VolumeRecord& record, Backend* backend) {
  std::vector<std::string> devices;
  absl::StatusOr<std::string> device = VolumeDevice(record, backend);
  if (absl::IsNotFound(device.status())) return devices;
  if (!device.ok()) return device.status();
  devices.push_back(*device);
  ABSL_ASSIGN_OR_RETURN(std::vector<std::string> views, ReadOnlyViews(*device));
  devices.insert(devices.end(), views.begin(), views.end());
  return devices;
}

absl::Status NodeService::UnmountOwn(const std::string& path,
                                     const std::vector<std::string>& devices,
                                     const std::string& volume_id) {
  // Stacked mounts (a retried publish after a crash can leave two) all go,
  // top first, as long as each shows this volume.
  for (int i = 0; i < 16; ++i) {
    ABSL_ASSIGN_OR_RETURN(std::vector<MountEntry> mounts, MountsAtPath(path));
    if (mounts.empty()) return absl::OkStatus();
    const MountEntry& top = mounts.back();
    if (!ShowsAny(top, devices)) {
      // Another volume's, another driver's, or kubelet's: not ours to undo.
      return absl::FailedPreconditionError(absl::StrCat(
          path, " holds a mount of ", absl::CEscape(top.source), " (",
          top.fs_type, ") that is not volume ",
          absl::CEscape(volume_id.substr(0, 128)), "'s; left alone"));
    }
    // Through the walked object: a component swapped for a symlink since
    // the path was checked cannot make this unmount another pod's volume.
    absl::Status status =
        deps_.mounter->UnmountConfined(config_.kubelet_dir, path);
    if (!status.ok() && !absl::IsNotFound(status)) return status;
  }
  return absl::InternalError(absl::StrCat("too many mounts stacked at ", path));
}

absl::Status NodeService::RemoveOwnLeftover(const std::string& path) {
  // The driver (or kubelet, for it) made an empty directory or an empty
  // file here. Anything else is someone else's: it stays, and the call
  // still succeeds, since nothing of the volume is left to undo. The
  // removal acts on what a walk without symlinks reached.
  absl::Status removed = deps_.fs->RemoveEmpty(config_.kubelet_dir, path);
  if (absl::IsFailedPrecondition(removed)) {
    spdlog::warn("left {} in place: {}", absl::CEscape(path),
                 removed.message());
    return absl::OkStatus();
  }
  return removed;
}

absl::Status NodeService::CheckMountable(const std::string& path,
                                         bool directory,
                                         absl::string_view allowed_child) {
  absl::StatusOr<FileInfo> info = deps_.fs->Stat(path);
  if (absl::IsNotFound(info.status())) return absl::OkStatus();
  if (!info.ok()) return info.status();
  if (directory && info->type == FileType::kDirectory) {
    ABSL_ASSIGN_OR_RETURN(std::vector<std::string> names,
                          deps_.fs->ListDir(path));
    for (const std::string& name : names) {
      if (name != allowed_child) {
        return absl::FailedPreconditionError(absl::StrCat(
            absl::CEscape(path.substr(0, 256)), " is not empty (it holds ",
            absl::CEscape(name.substr(0, 64)),
            "); a volume is only mounted on kubelet's empty directory"));
      }
    }
    return absl::OkStatus();
  }
  if (!directory && info->type == FileType::kRegular && info->size == 0) {
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(absl::StrCat(
      absl::CEscape(path.substr(0, 256)), " exists and is not an empty ",
      directory ? "directory" : "file"));
}

absl::Status NodeService::CheckPath(const std::string& path, NodePathKind kind,
                                    absl::string_view what) {
  ABSL_RETURN_IF_ERROR(
      CheckNodePath(deps_.fs, path, config_.kubelet_dir, kind, what));
  return CheckNotInsideAMount(path);
}

absl::Status NodeService::CheckNotInsideAMount(const std::string& path) {
  ABSL_ASSIGN_OR_RETURN(std::vector<MountEntry> table,
                        deps_.mounter->ListMounts());
  // The deepest mount that holds `path` (not one at `path` itself).
  const MountEntry* holder = nullptr;
  for (const MountEntry& entry : table) {
    if (absl::StartsWith(path, absl::StrCat(entry.mount_point, "/")) &&
        (holder == nullptr ||
         entry.mount_point.size() > holder->mount_point.size())) {
      holder = &entry;
    }
  }
  if (holder == nullptr) return absl::OkStatus();
  const std::string& point = holder->mount_point;
  // Kubelet's own directories may be filesystems of their own; anything
  // mounted deeper is a volume (this driver's, another driver's, an
  // emptyDir), and nothing of another volume may be named through it.
  if (!absl::StartsWith(point, absl::StrCat(config_.kubelet_dir, "/")) ||
      point == absl::StrCat(config_.kubelet_dir, "/pods") ||
      point == absl::StrCat(config_.kubelet_dir, "/plugins")) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      absl::CEscape(path.substr(0, 256)), " lies inside the mount at ",
      absl::CEscape(point), " (another volume); refusing to touch it"));
}

absl::Status NodeService::UnmountAll(const std::string& path) {
  // Stacked mounts (a retried publish after a crash can leave two) all go.
  for (int i = 0; i < 16; ++i) {
    absl::Status status = deps_.mounter->Unmount(path, false);
    if (absl::IsNotFound(status)) return absl::OkStatus();
    if (!status.ok()) return status;
  }
  return absl::InternalError(absl::StrCat("too many mounts stacked at ", path));
}

absl::StatusOr<bool> NodeService::DeviceInUse(const std::string& device) {
  ABSL_ASSIGN_OR_RETURN(std::vector<MountEntry> table,
                        deps_.mounter->ListMounts());
  for (const MountEntry& entry : table) {
    if (ShowsDevice(entry, device)) return true;
  }
  return false;
}

absl::StatusOr<std::vector<std::string>> NodeService::ReadOnlyViews(
    const std::string& device) {
  ABSL_ASSIGN_OR_RETURN(std::vector<LoopInfo> loops, deps_.loops->List());
  std::vector<std::string> views;
  for (const LoopInfo& loop : loops) {
    if (loop.read_only && loop.backing_file == device) {
      views.push_back(loop.device);
    }
  }
  return views;
}

absl::Status NodeService::ReleaseReadOnlyViews(const std::string& device,
                                               bool require_all) {
  ABSL_ASSIGN_OR_RETURN(std::vector<std::string> views, ReadOnlyViews(device));
  for (const std::string& view : views) {
    ABSL_ASSIGN_OR_RETURN(bool in_use, DeviceInUse(view));
    if (in_use) {
      if (!require_all) continue;
      return absl::FailedPreconditionError(absl::StrCat(
          "read-only view ", view, " of ", device, " is still published"));
    }
    absl::Status detached = deps_.loops->Detach(view);
    if (!detached.ok() && !absl::IsNotFound(detached)) return detached;
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------- Stage

grpc::Status NodeService::NodeStageVolume(
    grpc::ServerContext*, const csi::v1::NodeStageVolumeRequest* request,
    csi::v1::NodeStageVolumeResponse*) {
  return WipeSecretsAndAnswer(request, DoStage(*request));
}

absl::Status NodeService::DoStage(
    const csi::v1::NodeStageVolumeRequest& request) {
  ABSL_RETURN_IF_ERROR(RequireField(request.volume_id(), "volume_id"));
  ABSL_RETURN_IF_ERROR(
      RequireField(request.staging_target_path(), "staging_target_path"));
  ABSL_RETURN_IF_ERROR(
      RequirePresent(request.has_volume_capability(), "volume_capability"));
  ABSL_ASSIGN_OR_RETURN(AccessRequest access,
                        ValidateCapability(request.volume_capability()));
  const std::string& staging = request.staging_target_path();
  ABSL_RETURN_IF_ERROR(
      CheckPath(staging, NodePathKind::kStaging, "staging_target_path"));
  ABSL_ASSIGN_OR_RETURN(HeldVolume volume,
                        access_.LockVolume(request.volume_id()));
  Backend* const backend = volume.backend;
  const VolumeRecord& record = volume.record;
  ABSL_RETURN_IF_ERROR(CheckAccessType(record, access));
  if (!access.block && !access.fs_type.empty() &&
      access.fs_type != record.fs_type()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "volume has fs type ", record.fs_type(), ", not ", access.fs_type));
  }
  SecretBytes material;
  if (record.encrypted()) {
    auto secret = request.secrets().find(kEncryptionSecretKey);
    if (secret == request.secrets().end() || secret->second.empty()) {
      // Refused before anything is attached or formatted.
      return absl::InvalidArgumentError(
          absl::StrCat("volume ", request.volume_id(),
                       " is encrypted and the node-stage "
                       "secret has no \"",
                       kEncryptionSecretKey, "\" key"));
    }
    if (secret->second.size() < kMinKeyMaterialBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the node-stage secret's \"", kEncryptionSecretKey, "\" holds ",
          secret->second.size(), " bytes; at least ", kMinKeyMaterialBytes,
          " random bytes are needed (e.g. head -c 32 /dev/urandom | base64)"));
    }
    material = SecretBytes(secret->second);
  }

  // A stage that fails leaves nothing it set up itself: the device it
  // attached and the mapping it opened go again (a wrong key would
  // otherwise keep the volume attached and block DeleteVolume).
  const bool was_attached = backend->FindDevice(request.volume_id()).ok();
  bool opened_mapping = false;
  absl::Cleanup undo = [&] {
    if (opened_mapping) {
      (void)deps_.crypt->Close(MappingName(request.volume_id()));
    }
    if (!was_attached) (void)backend->Detach(request.volume_id());
  };
  // Attaching an attached volume gives back its device.
  absl::StatusOr<std::string> device = backend->Attach(request.volume_id());
  if (!device.ok()) return device.status();
  if (record.encrypted()) {
    opened_mapping =
        !deps_.crypt->Backing(MappingName(request.volume_id())).ok();
    device = OpenEncrypted(record, *device, material);
    if (!device.ok()) {
      opened_mapping = false;
      return device.status();
    }
  }
  absl::Status staged = StageOnDevice(request, record, access, *device);
  if (staged.ok()) std::move(undo).Cancel();
  return staged;
}

namespace {

// The mode of a filesystem volume's root: the StorageClass's volumeRootMode
// as recorded, 02770 without one; INTERNAL for a record damaged since.
absl::StatusOr<mode_t> VolumeRootMode(const VolumeRecord& record) {
  auto it = record.parameters().find("volumeRootMode");
  if (it == record.parameters().end()) return kDefaultRootMode;
  // Checked at creation; a record damaged since is an error, not a crash.
  const std::optional<uint32_t> mode = ParseRootMode(it->second);
  if (!mode.has_value()) {
    return absl::InternalError(
        absl::StrCat("volume ", record.volume_id(),
                     ": its record holds a bad volumeRootMode"));
  }
  return static_cast<mode_t>(*mode);
}

}  // namespace

absl::Status NodeService::ApplyMountGroup(const VolumeRecord& record,
                                          const AccessRequest& access,
                                          const std::string& staging) {
  // The root of the volume only: no recursive walk. The mode comes from
  // the StorageClass (volumeRootMode), validated at creation.
  ABSL_ASSIGN_OR_RETURN(mode_t mode, VolumeRootMode(record));
  return deps_.fs->SetOwnerGroupMode(config_.kubelet_dir, staging,
                                     *access.mount_group_gid, mode);
}

absl::Status NodeService::FormatIfBlank(const VolumeRecord& record,
                                        const std::string& device) {
  // Format only a blank device: any signature at all means data.
  ABSL_ASSIGN_OR_RETURN(std::string found, deps_.fs_tools->Probe(device));
  if (found.empty()) {
    spdlog::info("formatting {} ({}) as {}", record.volume_id(), device,
                 record.fs_type());
    return deps_.fs_tools->MakeFs(device, record.fs_type());
  }
  if (found != record.fs_type()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "device of ", record.volume_id(), " holds \"", found, "\", not ",
        record.fs_type(), "; refusing to reformat it"));
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> NodeService::AlreadyStaged(const std::string& staging,
                                                const VolumeRecord& record,
                                                const std::string& device,
                                                bool read_only) {
  ABSL_ASSIGN_OR_RETURN(std::vector<MountEntry> mounts, MountsAtPath(staging));
  if (mounts.empty()) return false;
  const MountEntry& top = mounts.back();
  if (top.source == device && top.fs_type == record.fs_type() &&
      top.HasMountOption("ro") == read_only) {
    return true;
  }
  return absl::AlreadyExistsError(absl::StrCat(
      "staging path ", staging, " is already mounted (", top.source, ", ",
      top.fs_type, top.HasMountOption("ro") ? ", ro" : ", rw",
      ") incompatibly with this request"));
}

absl::Status NodeService::StageOnDevice(
    const csi::v1::NodeStageVolumeRequest& request, const VolumeRecord& record,
    const AccessRequest& access, const std::string& device) {
  const std::string& staging = request.staging_target_path();
  const MountOptions& options = access.mount_options;
  const bool read_only = IsReadOnlyMode(request.volume_capability());
  if (access.block) return StageBlock(staging, device);

  ABSL_ASSIGN_OR_RETURN(bool staged,
                        AlreadyStaged(staging, record, device, read_only));
  if (staged) return absl::OkStatus();

  ABSL_RETURN_IF_ERROR(FormatIfBlank(record, device));
  const bool from_source = !record.source_snapshot_id().empty() ||
                           !record.source_volume_id().empty();
  if (record.grow_filesystem_on_stage() && !read_only) {
    // A restore or clone larger than its source: grow ext4 before it is
    // mounted (offline growth needs no extra privilege); xfs after.
    ABSL_RETURN_IF_ERROR(
        deps_.fs_tools->GrowFsOffline(device, record.fs_type()));
  }
  // Never mount over something: what is there would vanish from under
  // whoever owns it.
  ABSL_RETURN_IF_ERROR(CheckMountable(staging, /*directory=*/true, ""));
  ABSL_RETURN_IF_ERROR(
      deps_.fs->MakeDirsBelow(config_.kubelet_dir, staging, 0750));
  MountRequest mount;
  mount.source = device;
  mount.target = staging;
  mount.fs_type = record.fs_type();
  mount.flags =
      options.flags | MS_NOSUID | MS_NODEV | (read_only ? MS_RDONLY : 0);
  std::vector<std::string> data = options.data;
  if (from_source && record.fs_type() == "xfs") {
    // A copy carries its source's XFS UUID; without nouuid it cannot be
    // mounted while the source (or another copy) is.
    data.push_back("nouuid");
  }
  mount.data = absl::StrJoin(data, ",");
  ABSL_RETURN_IF_ERROR(MountChecked(mount));

  if (record.grow_filesystem_on_stage() && !read_only &&
      record.fs_type() == "xfs") {
    // xfs grows only mounted. Growing a full-size filesystem is a no-op.
    if (absl::Status s =
            deps_.fs_tools->GrowFs(device, staging, record.fs_type());
        !s.ok()) {
      (void)UnmountAll(staging);
      return s;
    }
  }
  if (access.mount_group_gid.has_value() && !read_only) {
    ABSL_RETURN_IF_ERROR(ApplyMountGroup(record, access, staging));
  }
  return absl::OkStatus();
}

absl::Status NodeService::StageBlock(const std::string& staging,
                                     const std::string& device) {
  // The device node is bound onto a file in the staging directory, which
  // must be kubelet's plain directory: a mount there would put the file on
  // someone else's filesystem.
  ABSL_ASSIGN_OR_RETURN(std::vector<MountEntry> at_staging,
                        MountsAtPath(staging));
  if (!at_staging.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("staging path ", staging, " is a mount point (",
                     at_staging.back().source,
                     "); a block volume is staged on a plain "
                     "directory"));
  }
  const std::string file = absl::StrCat(staging, "/", kBlockStageFile);
  ABSL_ASSIGN_OR_RETURN(std::vector<MountEntry> mounts, MountsAtPath(file));
  if (!mounts.empty()) {
    if (ShowsDevice(mounts.back(), device)) return absl::OkStatus();
    return absl::AlreadyExistsError(
        absl::StrCat("staging path ", staging, " holds another device"));
  }
  // The staging directory holds the driver's file and nothing else, and
  // the file is empty: the device is never bound over anything.
  ABSL_RETURN_IF_ERROR(
      CheckMountable(staging, /*directory=*/true, kBlockStageFile));
  ABSL_RETURN_IF_ERROR(CheckMountable(file, /*directory=*/false, ""));
  ABSL_RETURN_IF_ERROR(
      deps_.fs->MakeDirsBelow(config_.kubelet_dir, staging, 0750));
  ABSL_RETURN_IF_ERROR(
      deps_.fs->CreateFileBelow(config_.kubelet_dir, file, 0600));
  MountRequest bind;
  bind.source = device;
  bind.target = file;
  bind.flags = MS_BIND;
  return MountChecked(bind);
}

// ---------------------------------------------------------------- Unstage

grpc::Status NodeService::NodeUnstageVolume(
    grpc::ServerContext*, const csi::v1::NodeUnstageVolumeRequest* request,
    csi::v1::NodeUnstageVolumeResponse*) {
  return ToGrpcStatus(DoUnstage(*request));
}

absl::Status NodeService::DoUnstage(
    const csi::v1::NodeUnstageVolumeRequest& request) {
  ABSL_RETURN_IF_ERROR(RequireField(request.volume_id(), "volume_id"));
  ABSL_RETURN_IF_ERROR(
      RequireField(request.staging_target_path(), "staging_target_path"));
  const std::string& staging = request.staging_target_path();
  ABSL_RETURN_IF_ERROR(
      CheckPath(staging, NodePathKind::kStaging, "staging_target_path"));
  ABSL_ASSIGN_OR_RETURN(HeldId held,
                        access_.Lock(request.volume_id(), IdKind::kVolume));
  Backend* const backend = held.backend;
  absl::StatusOr<VolumeRecord> record = backend->Get(request.volume_id());
  if (absl::IsNotFound(record.status())) {
    // No such volume: nothing at the path can be its. Kubelet's directory
    // and whatever is mounted there stay as they are.
    return absl::OkStatus();
  }
  if (!record.ok()) return record.status();
  ABSL_ASSIGN_OR_RETURN(std::vector<std::string> own,
                        OwnDevices(*record, backend));
  // Only the volume's own mounts go. A filesystem volume's staging path is
  // its mount point and nothing below it is looked at (the tenant owns every
  // name in there); a block volume's device is bound onto the driver's file
  // in kubelet's plain staging directory.
  const std::string file = absl::StrCat(staging, "/", kBlockStageFile);
  const std::string& staged_at = record->block() ? file : staging;
  // Still published (a mount of the volume anywhere but its staging path):
  // refused before anything is unmounted.
  ABSL_ASSIGN_OR_RETURN(std::vector<MountEntry> table,
                        deps_.mounter->ListMounts());
  for (const MountEntry& entry : table) {
    if (entry.mount_point != staged_at && ShowsAny(entry, own)) {
      return absl::FailedPreconditionError(
          absl::StrCat("volume ", request.volume_id(), " is still mounted at ",
                       entry.mount_point, ", not only at ", staged_at,
                       "; unpublish it (or unstage it at that path) first"));
    }
  }
  if (record->block()) {
    ABSL_RETURN_IF_ERROR(UnstageBlock(request, own));
  } else {
    ABSL_RETURN_IF_ERROR(UnstageFilesystem(request, table, own));
  }
  return ReleaseStagedDevice(request.volume_id(), *record, backend);
}

absl::Status NodeService::UnstageBlock(
    const csi::v1::NodeUnstageVolumeRequest& request,
    const std::vector<std::string>& own) {
  const std::string& staging = request.staging_target_path();
  ABSL_ASSIGN_OR_RETURN(std::vector<MountEntry> at_staging,
                        MountsAtPath(staging));
  if (!at_staging.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "staging path ", staging, " is a mount point (",
        at_staging.back().source, "), not volume ", request.volume_id(),
        "'s block staging directory; left alone"));
  }
  const std::string file = absl::StrCat(staging, "/", kBlockStageFile);
  ABSL_RETURN_IF_ERROR(UnmountOwn(file, own, request.volume_id()));
  return RemoveOwnLeftover(file);
}

absl::Status NodeService::UnstageFilesystem(
    const csi::v1::NodeUnstageVolumeRequest& request,
    const std::vector<MountEntry>& table, const std::vector<std::string>& own) {
  const std::string& staging = request.staging_target_path();
  // A snapshot whose thaw failed may have left it frozen: an unmounted
  // frozen filesystem could never be thawed, nor its device released.
  // Only our own mount there: FITHAW on a plain directory would thaw
  // whatever filesystem holds it.
  for (const MountEntry& entry : table) {
    if (entry.mount_point != staging || !ShowsAny(entry, own)) continue;
    if (absl::Status s = deps_.fs_tools->Thaw(staging); !s.ok()) {
      spdlog::warn("unstage {}: thaw {}: {}", request.volume_id(), staging,
                   s.ToString());
    }
    break;
  }
  return UnmountOwn(staging, own, request.volume_id());
}

absl::Status NodeService::ReleaseStagedDevice(const std::string& volume_id,
                                              const VolumeRecord& record,
                                              Backend* backend) {
  absl::StatusOr<std::string> device = VolumeDevice(record, backend);
  if (!device.ok()) {
    if (!absl::IsNotFound(device.status())) return device.status();
    // Not open (or never staged): the backend's device may still be up.
    return backend->Detach(volume_id);
  }
  // Read-only views hold the device open: they go first.
  ABSL_RETURN_IF_ERROR(ReleaseReadOnlyViews(*device, /*require_all=*/true));
  ABSL_ASSIGN_OR_RETURN(bool in_use, DeviceInUse(*device));
  if (in_use) {
    return absl::FailedPreconditionError(
        absl::StrCat("volume ", volume_id, " is still published (", *device,
                     " is mounted elsewhere); unpublish it first"));
  }
  if (record.encrypted()) {
    ABSL_RETURN_IF_ERROR(deps_.crypt->Close(MappingName(volume_id)));
  }
  return backend->Detach(volume_id);
}

// ---------------------------------------------------------------- Publish

grpc::Status NodeService::NodePublishVolume(
    grpc::ServerContext*, const csi::v1::NodePublishVolumeRequest* request,
    csi::v1::NodePublishVolumeResponse*) {
  return WipeSecretsAndAnswer(request, DoPublish(*request));
}

absl::StatusOr<AccessRequest> NodeService::ValidatePublish(
    const csi::v1::NodePublishVolumeRequest& request) {
  ABSL_RETURN_IF_ERROR(RequireField(request.volume_id(), "volume_id"));
  ABSL_RETURN_IF_ERROR(RequireField(request.target_path(), "target_path"));
  ABSL_RETURN_IF_ERROR(
      RequirePresent(request.has_volume_capability(), "volume_capability"));
  if (request.staging_target_path().empty()) {
    return absl::FailedPreconditionError(
        "staging_target_path is missing: the volume must be staged first");
  }
  ABSL_ASSIGN_OR_RETURN(AccessRequest access,
                        ValidateCapability(request.volume_capability()));
  ABSL_RETURN_IF_ERROR(
      CheckPath(request.target_path(), NodePathKind::kTarget, "target_path"));
  ABSL_RETURN_IF_ERROR(CheckPath(request.staging_target_path(),
                                 NodePathKind::kStaging,
                                 "staging_target_path"));
  return access;
}

absl::Status NodeService::CheckPublishPolicy(
    const csi::v1::NodePublishVolumeRequest& request,
    const VolumeRecord& record, const PodIdentity& pod) {
  std::string refused_by;
  absl::Status allowed = CheckPublishAllowed(record, pod, &refused_by);
  if (allowed.ok()) return allowed;
  if (deps_.policy_observer != nullptr) {
    deps_.policy_observer->PublishRefused(refused_by);
  }
  spdlog::warn("publish refused: volume={} target={} pod={}: {}",
               request.volume_id(), request.target_path(), pod.ToString(),
               allowed.message());
  return allowed;
}

absl::StatusOr<std::string> NodeService::StagedDevice(
    const csi::v1::NodePublishVolumeRequest& request, bool block,
    const VolumeRecord& record, Backend* backend) {
  absl::StatusOr<std::string> device = VolumeDevice(record, backend);
  if (!device.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "volume ", request.volume_id(), " is not staged on this node"));
  }
  // The staging path must show this volume's own device (or its LUKS
  // mapping): never bind another volume's, another driver's or a tmpfs.
  const std::string& staging = request.staging_target_path();
  const std::string staged_at =
      block ? absl::StrCat(staging, "/", kBlockStageFile) : staging;
  ABSL_ASSIGN_OR_RETURN(std::vector<MountEntry> staged,
                        MountsAtPath(staged_at));
  if (staged.empty() || !ShowsDevice(staged.back(), *device)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "volume ", request.volume_id(), " is not staged at ", staging,
        staged.empty() ? ""
                       : absl::StrCat(" (it shows ", staged.back().source, ", ",
                                      staged.back().fs_type, ")")));
  }
  return device;
}

absl::StatusOr<std::string> NodeService::ReadOnlyView(
    const std::string& device) {
  // A read-only bind of a device node still lets writers through: the
  // target gets a read-only loop view of the device instead, which the
  // kernel refuses to write to.
  ABSL_ASSIGN_OR_RETURN(std::vector<std::string> views, ReadOnlyViews(device));
  if (!views.empty()) return views.front();
  return deps_.loops->AttachReadOnly(device);
}

absl::StatusOr<bool> NodeService::AlreadyPublished(const std::string& target,
                                                   const std::string& device,
                                                   bool block, bool read_only,
                                                   unsigned long* attributes) {
  ABSL_ASSIGN_OR_RETURN(std::vector<MountEntry> existing, MountsAtPath(target));
  if (existing.empty()) return false;
  const MountEntry& top = existing.back();
  // Published read-write where read-only is asked (or the reverse) is
  // ALREADY_EXISTS, as the spec's table says. A bind of the right mode
  // that lacks nosuid or nodev (made where the kernel has no atomic bind,
  // by a driver that died before its remount) gets them now instead of
  // being accepted as it is.
  if (!ShowsDevice(top, device) || top.HasMountOption("ro") != read_only) {
    return absl::AlreadyExistsError(
        absl::StrCat("target ", target, " is already mounted incompatibly (",
                     top.HasMountOption("ro") ? "ro" : "rw", ")"));
  }
  if (top.HasMountOption("nosuid") && (block || top.HasMountOption("nodev"))) {
    *attributes = 0;  // nothing to apply
  }
  return true;
}

absl::Status NodeService::BindTarget(const std::string& source,
                                     const std::string& target, bool block,
                                     unsigned long attributes) {
  ABSL_RETURN_IF_ERROR(CheckMountable(target, !block, ""));
  if (block) {
    const std::string parent = target.substr(0, target.find_last_of('/'));
    ABSL_RETURN_IF_ERROR(
        deps_.fs->MakeDirsBelow(config_.kubelet_dir, parent, 0750));
    ABSL_RETURN_IF_ERROR(
        deps_.fs->CreateFileBelow(config_.kubelet_dir, target, 0600));
  } else {
    ABSL_RETURN_IF_ERROR(
        deps_.fs->MakeDirsBelow(config_.kubelet_dir, target, 0750));
  }
  // The bind has its flags from its first moment (the mounter makes it
  // detached, sets them, then attaches it): a driver that dies here
  // never leaves a read-write or suid bind behind a read-only request.
  MountRequest bind;
  bind.source = source;
  bind.target = target;
  bind.flags = MS_BIND | attributes;
  return MountChecked(bind);
}

absl::Status NodeService::RemountTarget(const std::string& target,
                                        unsigned long attributes) {
  MountRequest remount;
  remount.target = target;
  remount.confine_to = config_.kubelet_dir;
  remount.flags = MS_REMOUNT | MS_BIND | attributes;
  absl::Status remounted = deps_.mounter->Mount(remount);
  if (!remounted.ok()) {
    // Never leave a writable bind behind a failed read-only request.
    (void)UnmountAll(target);
  }
  return remounted;
}

absl::Status NodeService::ApplyBlockMountGroup(const AccessRequest& access,
                                               const std::string& target) {
  if (!access.block || !access.mount_group_gid.has_value()) {
    return absl::OkStatus();
  }
  // fsGroup for a raw device: the group may read and write the node.
  // Applied on every call: a retry after a crash finishes it.
  absl::Status s = deps_.fs->SetOwnerGroupMode(config_.kubelet_dir, target,
                                               *access.mount_group_gid, 0660);
  if (!s.ok()) (void)UnmountAll(target);
  return s;
}

absl::Status NodeService::DoPublish(
    const csi::v1::NodePublishVolumeRequest& request) {
  ABSL_ASSIGN_OR_RETURN(AccessRequest access, ValidatePublish(request));
  const std::string& target = request.target_path();
  ABSL_ASSIGN_OR_RETURN(HeldVolume volume,
                        access_.LockVolume(request.volume_id()));
  ABSL_RETURN_IF_ERROR(CheckAccessType(volume.record, access));
  // Access control: the policy recorded with the volume, the identity
  // kubelet put in the context. Checked before anything is touched.
  const PodIdentity pod = PodIdentityFromContext(request.volume_context());
  ABSL_RETURN_IF_ERROR(CheckPublishPolicy(request, volume.record, pod));
  const bool read_only =
      request.readonly() || IsReadOnlyMode(request.volume_capability());

  // What the target must show, and where it comes from: the device node
  // (or a read-only view of it) for block, the staged filesystem else.
  ABSL_ASSIGN_OR_RETURN(
      std::string device,
      StagedDevice(request, access.block, volume.record, volume.backend));
  if (access.block && read_only) {
    ABSL_ASSIGN_OR_RETURN(device, ReadOnlyView(device));
  }
  const std::string source =
      access.block ? device : request.staging_target_path();

  // The target's mount flags: nosuid and nodev always (nodev not for a
  // device node), the capability's exec and atime flags, ro enforced by
  // the kernel.
  unsigned long attributes =
      MS_NOSUID | (access.block ? 0 : MS_NODEV) |
      (access.mount_options.flags & (MS_NOEXEC | MS_NOATIME | MS_NODIRATIME |
                                     MS_RELATIME | MS_STRICTATIME)) |
      (read_only ? MS_RDONLY : 0);
  ABSL_ASSIGN_OR_RETURN(
      bool bound,
      AlreadyPublished(target, device, access.block, read_only, &attributes));
  if (!bound) {
    ABSL_RETURN_IF_ERROR(BindTarget(source, target, access.block, attributes));
  } else if (attributes != 0) {
    ABSL_RETURN_IF_ERROR(RemountTarget(target, attributes));
  }
  ABSL_RETURN_IF_ERROR(ApplyBlockMountGroup(access, target));
  spdlog::info("published volume={} target={} pod={}{}", request.volume_id(),
               target, pod.ToString(), read_only ? " read-only" : "");
  return absl::OkStatus();
}

// ---------------------------------------------------------------- Unpublish

grpc::Status NodeService::NodeUnpublishVolume(
    grpc::ServerContext*, const csi::v1::NodeUnpublishVolumeRequest* request,
    csi::v1::NodeUnpublishVolumeResponse*) {
  return ToGrpcStatus(DoUnpublish(*request));
}

absl::Status NodeService::DoUnpublish(
    const csi::v1::NodeUnpublishVolumeRequest& request) {
  ABSL_RETURN_IF_ERROR(RequireField(request.volume_id(), "volume_id"));
  ABSL_RETURN_IF_ERROR(RequireField(request.target_path(), "target_path"));
  const std::string& target = request.target_path();
  ABSL_RETURN_IF_ERROR(CheckPath(target, NodePathKind::kTarget, "target_path"));
  // What shows this volume: its device (or mapping) and read-only views of
  // it. An unknown volume (an id that does not route, or no record) has
  // none, so any mount at the target is left. An id that does not route
  // takes no lock: nothing of this node can be published under it.
  std::vector<std::string> own;
  absl::StatusOr<HeldVolume> volume = access_.LockVolume(request.volume_id());
  if (volume.ok()) {
    ABSL_ASSIGN_OR_RETURN(own, OwnDevices(volume->record, volume->backend));
  } else if (!absl::IsNotFound(volume.status())) {
    return volume.status();  // ABORTED, or a damaged record
  }
  ABSL_RETURN_IF_ERROR(UnmountOwn(target, own, request.volume_id()));
  // An unknown volume touches nothing at all: an id this node never made
  // (or one deleted long ago) must not remove kubelet's or a pod's empty
  // directories either.
  if (!volume.ok()) return absl::OkStatus();
  ABSL_RETURN_IF_ERROR(RemoveOwnLeftover(target));
  // A read-only view made for this target goes when nothing uses it.
  if (!own.empty()) {
    ABSL_RETURN_IF_ERROR(ReleaseReadOnlyViews(own.front(), false));
  }
  spdlog::info("unpublished volume={} target={} pod-uid={}",
               request.volume_id(), target,
               absl::CEscape(PodUidFromTargetPath(target)));
  return absl::OkStatus();
}

// ---------------------------------------------------------------- Stats

grpc::Status NodeService::NodeGetVolumeStats(
    grpc::ServerContext*, const csi::v1::NodeGetVolumeStatsRequest* request,
    csi::v1::NodeGetVolumeStatsResponse* response) {
  return ToGrpcStatus(DoStats(*request, response));
}

absl::Status NodeService::DoStats(
    const csi::v1::NodeGetVolumeStatsRequest& request,
    csi::v1::NodeGetVolumeStatsResponse* response) {
  ABSL_RETURN_IF_ERROR(RequireField(request.volume_id(), "volume_id"));
  ABSL_RETURN_IF_ERROR(RequireField(request.volume_path(), "volume_path"));
  const std::string& path = request.volume_path();
  // The volume first: an unknown volume is NOT_FOUND whatever the path.
  // Read-only: answers while another operation on the volume is pending.
  ABSL_ASSIGN_OR_RETURN(HeldVolume volume,
                        access_.ReadVolume(request.volume_id()));
  Backend* const backend = volume.backend;
  const VolumeRecord& record = volume.record;
  // A path this driver would never have mounted the volume at cannot hold
  // it (CSI: NOT_FOUND); it is not looked at.
  if (absl::Status s = CheckPath(path, NodePathKind::kTarget, "volume_path");
      !s.ok()) {
    return absl::NotFoundError(absl::StrCat(
        "volume ", request.volume_id(), " is not at that path: ", s.message()));
  }
  absl::StatusOr<FileInfo> info = deps_.fs->Stat(path);
  if (!info.ok()) {
    return absl::NotFoundError(
        absl::StrCat("volume path ", path, " does not exist"));
  }
  ABSL_ASSIGN_OR_RETURN(std::vector<MountEntry> mounts, MountsAtPath(path));
  absl::StatusOr<std::string> device = VolumeDevice(record, backend);
  auto* condition = response->mutable_volume_condition();
  // The path is there but the volume is not: report it as abnormal (the
  // CO shows it as an event) rather than hide it behind an error.
  if (!device.ok()) {
    condition->set_abnormal(true);
    condition->set_message(absl::StrCat("the volume's device is gone: ",
                                        device.status().message()));
    return absl::OkStatus();
  }
  if (mounts.empty()) {
    condition->set_abnormal(true);
    condition->set_message(
        absl::StrCat("the volume is no longer mounted at ", path));
    return absl::OkStatus();
  }
  if (!ShowsDevice(mounts.back(), *device)) {
    return absl::NotFoundError(absl::StrCat("another device is mounted at ",
                                            path, ", not volume ",
                                            request.volume_id()));
  }
  // Storage trouble under a working mount (a full thin pool, a missing
  // disk) shows as abnormal too, with the usage still reported.
  std::string trouble;
  if (absl::StatusOr<std::string> found =
          backend->VolumeTrouble(request.volume_id());
      found.ok()) {
    trouble = *found;
  }
  if (record.block()) {
    BlockUsage(*device, trouble, response);
  } else {
    FilesystemUsage(path, mounts.back().HasMountOption("ro"), trouble,
                    response);
  }
  return absl::OkStatus();
}

void NodeService::BlockUsage(const std::string& device,
                             const std::string& trouble,
                             csi::v1::NodeGetVolumeStatsResponse* response) {
  auto* condition = response->mutable_volume_condition();
  absl::StatusOr<uint64_t> size = deps_.fs_tools->DeviceSize(device);
  if (!size.ok()) {
    condition->set_abnormal(true);
    condition->set_message(
        absl::StrCat("cannot read the device size: ", size.status().message()));
    return;
  }
  auto* usage = response->add_usage();
  usage->set_unit(csi::v1::VolumeUsage::BYTES);
  usage->set_total(static_cast<int64_t>(*size));
  condition->set_abnormal(!trouble.empty());
  condition->set_message(trouble.empty() ? "block device attached" : trouble);
}

void NodeService::FilesystemUsage(
    const std::string& path, bool read_only, const std::string& trouble,
    csi::v1::NodeGetVolumeStatsResponse* response) {
  auto* condition = response->mutable_volume_condition();
  absl::StatusOr<FsStats> stats = deps_.fs->StatFs(path);
  if (!stats.ok()) {
    condition->set_abnormal(true);
    condition->set_message(
        absl::StrCat("filesystem unreadable: ", stats.status().message()));
    return;
  }
  auto* bytes = response->add_usage();
  bytes->set_unit(csi::v1::VolumeUsage::BYTES);
  bytes->set_total(static_cast<int64_t>(stats->total_bytes));
  bytes->set_available(static_cast<int64_t>(stats->available_bytes));
  bytes->set_used(static_cast<int64_t>(stats->total_bytes - stats->free_bytes));
  auto* inodes = response->add_usage();
  inodes->set_unit(csi::v1::VolumeUsage::INODES);
  inodes->set_total(static_cast<int64_t>(stats->total_inodes));
  inodes->set_available(static_cast<int64_t>(stats->free_inodes));
  inodes->set_used(
      static_cast<int64_t>(stats->total_inodes - stats->free_inodes));
  condition->set_abnormal(!trouble.empty());
  condition->set_message(!trouble.empty() ? trouble
                         : read_only      ? "mounted read-only"
                                          : "mounted");
}

// ---------------------------------------------------------------- Expand

grpc::Status NodeService::NodeExpandVolume(
    grpc::ServerContext*, const csi::v1::NodeExpandVolumeRequest* request,
    csi::v1::NodeExpandVolumeResponse* response) {
  return WipeSecretsAndAnswer(request, DoExpand(*request, response));
}

absl::Status NodeService::DoExpand(
    const csi::v1::NodeExpandVolumeRequest& request,
    csi::v1::NodeExpandVolumeResponse* response) {
  ABSL_RETURN_IF_ERROR(RequireField(request.volume_id(), "volume_id"));
  ABSL_RETURN_IF_ERROR(RequireField(request.volume_path(), "volume_path"));
  const std::string& path = request.volume_path();
  // Routed before the path is checked: an unknown volume is NOT_FOUND
  // whatever the path. LockVolume below routes it again, cheaply.
  ABSL_RETURN_IF_ERROR(BackendForVolume(request.volume_id()).status());
  ABSL_RETURN_IF_ERROR(CheckPath(path, NodePathKind::kTarget, "volume_path"));
  if (request.has_volume_capability()) {
    ABSL_RETURN_IF_ERROR(
        ValidateCapability(request.volume_capability()).status());
  }
  ABSL_ASSIGN_OR_RETURN(
      uint64_t size,
      SizeForRange(
          request.has_capacity_range() ? &request.capacity_range() : nullptr,
          0));
  ABSL_ASSIGN_OR_RETURN(HeldVolume volume,
                        access_.LockVolume(request.volume_id()));
  Backend* const backend = volume.backend;
  const VolumeRecord& record = volume.record;
  absl::StatusOr<std::string> device = VolumeDevice(record, backend);
  if (!device.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "volume ", request.volume_id(), " is not staged on this node"));
  }
  // The path must show the volume before anything grows: a refused call
  // changes nothing. (A block volume's path is its device file, or the
  // staging directory holding the driver's device file.)
  {
    absl::StatusOr<std::vector<MountEntry>> mounts = MountsAtPath(path);
    if (!mounts.ok()) return mounts.status();
    if (mounts->empty() && record.block()) {
      mounts = MountsAtPath(absl::StrCat(path, "/", kBlockStageFile));
      if (!mounts.ok()) return mounts.status();
    }
    if (mounts->empty() || !ShowsDevice(mounts->back(), *device)) {
      return absl::NotFoundError(absl::StrCat("volume ", request.volume_id(),
                                              " is not mounted at ", path));
    }
  }
  // In --mode=controller the storage was not touched: grow it here.
  ABSL_ASSIGN_OR_RETURN(uint64_t grown,
                        backend->Expand(request.volume_id(), size));
  ABSL_RETURN_IF_ERROR(backend->RefreshDevice(request.volume_id()));
  if (record.encrypted()) {
    // The mapping keeps its old size until told to fill the device.
    ABSL_RETURN_IF_ERROR(deps_.crypt->Resize(MappingName(request.volume_id())));
  }
  if (!record.block()) {
    ABSL_RETURN_IF_ERROR(
        deps_.fs_tools->GrowFs(*device, path, record.fs_type()));
  }
  response->set_capacity_bytes(static_cast<int64_t>(grown));
  return absl::OkStatus();
}

// ---------------------------------------------------------------- Info

grpc::Status NodeService::NodeGetCapabilities(
    grpc::ServerContext*, const csi::v1::NodeGetCapabilitiesRequest*,
    csi::v1::NodeGetCapabilitiesResponse* response) {
  for (auto type : {NodeServiceCapability::RPC::STAGE_UNSTAGE_VOLUME,
                    NodeServiceCapability::RPC::GET_VOLUME_STATS,
                    NodeServiceCapability::RPC::EXPAND_VOLUME,
                    NodeServiceCapability::RPC::VOLUME_CONDITION,
                    NodeServiceCapability::RPC::SINGLE_NODE_MULTI_WRITER,
                    NodeServiceCapability::RPC::VOLUME_MOUNT_GROUP}) {
    response->add_capabilities()->mutable_rpc()->set_type(type);
  }
  return grpc::Status::OK;
}

grpc::Status NodeService::NodeGetInfo(grpc::ServerContext*,
                                      const csi::v1::NodeGetInfoRequest*,
                                      csi::v1::NodeGetInfoResponse* response) {
  response->set_node_id(config_.node_id);
  response->set_max_volumes_per_node(config_.max_volumes_per_node);
  (*response->mutable_accessible_topology()->mutable_segments())[kTopologyKey] =
      config_.node_id;
  return grpc::Status::OK;
}

}  // namespace cellar
