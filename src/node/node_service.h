#ifndef CELLAR_SRC_NODE_NODE_SERVICE_H_
#define CELLAR_SRC_NODE_NODE_SERVICE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "csi.grpc.pb.h"
#include "src/backend/backend.h"
#include "src/backend/router.h"
#include "src/backend/volume_access.h"
#include "src/common/capability.h"
#include "src/common/observers.h"
#include "src/common/secret.h"
#include "src/common/volume_locks.h"
#include "src/node/access_policy.h"
#include "src/node/paths.h"
#include "src/platform/crypt_devices.h"
#include "src/platform/filesystem.h"
#include "src/platform/fs_tools.h"
#include "src/platform/loop_device.h"
#include "src/platform/mounter.h"

namespace cellar {

struct NodeConfig {
  std::string node_id;
  // Normalised absolute path; staging and target paths must lie inside.
  std::string kubelet_dir;
  int64_t max_volumes_per_node = 0;  // 0: no limit reported
};

// The platform seams the Node service acts through (none owned).
struct NodeDeps {
  FileSystem* fs = nullptr;
  Mounter* mounter = nullptr;
  FsTools* fs_tools = nullptr;
  // For read-only views of block volumes.
  LoopDevices* loops = nullptr;
  // For encrypted volumes (LUKS2).
  CryptDevices* crypt = nullptr;
  // Told about refused publishes; optional.
  PolicyObserver* policy_observer = nullptr;
};

// The CSI Node service. Filesystem volumes are mounted at the staging path
// and bind-mounted to each target; block volumes have their device node
// bind-mounted onto a file in the staging directory and onto each target
// file. All node state is read back from the mount table and the backends,
// so a restarted driver picks up where it was. Thread-safe.
class NodeService final : public csi::v1::Node::Service {
 public:
  NodeService(NodeConfig config, NodeDeps deps,
              std::map<std::string, Backend*> backends, VolumeLocks* locks);
  NodeService(const NodeService&) = delete;
  NodeService& operator=(const NodeService&) = delete;

  grpc::Status NodeStageVolume(
      grpc::ServerContext* context,
      const csi::v1::NodeStageVolumeRequest* request,
      csi::v1::NodeStageVolumeResponse* response) override;
  grpc::Status NodeUnstageVolume(
      grpc::ServerContext* context,
      const csi::v1::NodeUnstageVolumeRequest* request,
      csi::v1::NodeUnstageVolumeResponse* response) override;
  grpc::Status NodePublishVolume(
      grpc::ServerContext* context,
      const csi::v1::NodePublishVolumeRequest* request,
      csi::v1::NodePublishVolumeResponse* response) override;
  grpc::Status NodeUnpublishVolume(
      grpc::ServerContext* context,
      const csi::v1::NodeUnpublishVolumeRequest* request,
      csi::v1::NodeUnpublishVolumeResponse* response) override;
  grpc::Status NodeGetVolumeStats(
      grpc::ServerContext* context,
      const csi::v1::NodeGetVolumeStatsRequest* request,
      csi::v1::NodeGetVolumeStatsResponse* response) override;
  grpc::Status NodeExpandVolume(
      grpc::ServerContext* context,
      const csi::v1::NodeExpandVolumeRequest* request,
      csi::v1::NodeExpandVolumeResponse* response) override;
  grpc::Status NodeGetCapabilities(
      grpc::ServerContext* context,
      const csi::v1::NodeGetCapabilitiesRequest* request,
      csi::v1::NodeGetCapabilitiesResponse* response) override;
  grpc::Status NodeGetInfo(grpc::ServerContext* context,
                           const csi::v1::NodeGetInfoRequest* request,
                           csi::v1::NodeGetInfoResponse* response) override;

  // Name of the file in a block volume's staging directory that carries
  // the device.
  static constexpr char kBlockStageFile[] = "cellar-block-device";

  // The dm name of an encrypted volume's mapping ("cellar-" and the unique
  // part of the id).
  static std::string MappingName(const std::string& volume_id);

 private:
  absl::Status DoStage(const csi::v1::NodeStageVolumeRequest& request);
  absl::Status DoUnstage(const csi::v1::NodeUnstageVolumeRequest& request);
  absl::Status DoPublish(const csi::v1::NodePublishVolumeRequest& request);
  absl::Status DoUnpublish(const csi::v1::NodeUnpublishVolumeRequest& request);
  absl::Status DoStats(const csi::v1::NodeGetVolumeStatsRequest& request,
                       csi::v1::NodeGetVolumeStatsResponse* response);
  absl::Status DoExpand(const csi::v1::NodeExpandVolumeRequest& request,
                        csi::v1::NodeExpandVolumeResponse* response);

  // StageOnDevice's parts.
  // Whether `staging` already shows `device` as asked; ALREADY_EXISTS when
  // it shows anything else.
  absl::StatusOr<bool> AlreadyStaged(const std::string& staging,
                                     const VolumeRecord& record,
                                     const std::string& device, bool read_only);
  // mkfs on a blank device; FAILED_PRECONDITION when it holds anything but
  // the volume's filesystem (never reformatted).
  absl::Status FormatIfBlank(const VolumeRecord& record,
                             const std::string& device);
  // fsGroup for a filesystem volume: the group and volumeRootMode of its
  // root directory.
  absl::Status ApplyMountGroup(const VolumeRecord& record,
                               const AccessRequest& access,
                               const std::string& staging);

  // DoUnstage's parts, once the volume is known not to be published.
  // Unmounts the volume's own device from the block staging file and
  // removes the file; FAILED_PRECONDITION when the staging path itself is a
  // mount point (left alone).
  absl::Status UnstageBlock(const csi::v1::NodeUnstageVolumeRequest& request,
                            const std::vector<std::string>& own);
  // Thaws (a leftover freeze) and unmounts the volume's own filesystem at
  // the staging path; nothing else mounted there is touched.
  absl::Status UnstageFilesystem(
      const csi::v1::NodeUnstageVolumeRequest& request,
      const std::vector<MountEntry>& table,
      const std::vector<std::string>& own);
  // Drops read-only views, closes the LUKS mapping and detaches the
  // backend's device; FAILED_PRECONDITION while the device is in use.
  absl::Status ReleaseStagedDevice(const std::string& volume_id,
                                   const VolumeRecord& record,
                                   Backend* backend);

  // DoStats's answers for a volume mounted as it should be: the size of a
  // block device, or a filesystem's bytes and inodes; `trouble` (storage
  // trouble under the mount) makes the condition abnormal. A figure that
  // cannot be read is an abnormal condition, not an error.
  void BlockUsage(const std::string& device, const std::string& trouble,
                  csi::v1::NodeGetVolumeStatsResponse* response);
  void FilesystemUsage(const std::string& path, bool read_only,
                       const std::string& trouble,
                       csi::v1::NodeGetVolumeStatsResponse* response);

  // DoPublish's parts, in the order it calls them.
  // The request's fields and paths (INVALID_ARGUMENT, or FAILED_PRECONDITION
  // without a staging path), and its capability parsed.
  absl::StatusOr<AccessRequest> ValidatePublish(
      const csi::v1::NodePublishVolumeRequest& request);
  // The volume's recorded access policy against the pod's identity:
  // PERMISSION_DENIED (counted and logged) when it is refused.
  absl::Status CheckPublishPolicy(
      const csi::v1::NodePublishVolumeRequest& request,
      const VolumeRecord& record, const PodIdentity& pod);
  // The volume's device when the staging path shows it; FAILED_PRECONDITION
  // when the volume is not staged there.
  absl::StatusOr<std::string> StagedDevice(
      const csi::v1::NodePublishVolumeRequest& request, bool block,
      const VolumeRecord& record, Backend* backend);
  // The read-only loop view of `device`, made when there is none.
  absl::StatusOr<std::string> ReadOnlyView(const std::string& device);
  // Whether `target` already shows `device` in the asked mode (clearing
  // `attributes` when its flags are already right); ALREADY_EXISTS when it
  // shows something else or the other mode.
  absl::StatusOr<bool> AlreadyPublished(const std::string& target,
                                        const std::string& device, bool block,
                                        bool read_only,
                                        unsigned long* attributes);
  // Creates the target (a file for block, a directory else) under the
  // kubelet directory and binds `source` onto it with `attributes`.
  absl::Status BindTarget(const std::string& source, const std::string& target,
                          bool block, unsigned long attributes);
  // Applies `attributes` to an existing bind; unmounts it when that fails.
  absl::Status RemountTarget(const std::string& target,
                             unsigned long attributes);
  // fsGroup for a block target: group ownership and mode 0660 of the node.
  absl::Status ApplyBlockMountGroup(const AccessRequest& access,
                                    const std::string& target);

  absl::StatusOr<Backend*> BackendForVolume(const std::string& volume_id);
  // The device the node mounts for a volume: its dm-crypt mapping when the
  // volume is encrypted, else the backend's device. NOT_FOUND when it is
  // not staged.
  absl::StatusOr<std::string> VolumeDevice(const VolumeRecord& record,
                                           Backend* backend);
  // Formats (first stage only) and opens the LUKS2 mapping of an encrypted
  // volume on `raw`, with the passphrase derived from the stage secret.
  absl::StatusOr<std::string> OpenEncrypted(const VolumeRecord& record,
                                            const std::string& raw,
                                            const SecretBytes& material);

  // Mounts stacked at `path`, bottom first.
  absl::StatusOr<std::vector<MountEntry>> MountsAtPath(const std::string& path);
  // Does this mount show `device`: a filesystem on it, or its device node
  // bound from the filesystem that holds the node?
  bool ShowsDevice(const MountEntry& entry, const std::string& device);
  bool ShowsAny(const MountEntry& entry,
                const std::vector<std::string>& devices);
  // mount(2) confined to the kubelet directory (no symlink followed below
  // it), then a check that the new mount landed exactly at the requested
  // target and shows the expected device: a mount that shows up elsewhere
  // is undone (INVALID_ARGUMENT), one that does not show the device too
  // (INTERNAL).
  absl::Status MountChecked(MountRequest request);
  // The devices that show this volume on the node: its device or LUKS
  // mapping and the read-only loop views over it (empty when not staged).
  absl::StatusOr<std::vector<std::string>> OwnDevices(
      const VolumeRecord& record, Backend* backend);
  // Unmounts the mounts stacked at `path` while they show one of `devices`;
  // FAILED_PRECONDITION (nothing more unmounted) at the first that does
  // not. Nothing mounted: OK.
  absl::Status UnmountOwn(const std::string& path,
                          const std::vector<std::string>& devices,
                          const std::string& volume_id);
  // Removes `path` when it is an empty directory or an empty regular file
  // (what the driver or kubelet made for a mount); anything else stays, and
  // that is OK, since nothing of the volume is left there.
  absl::Status RemoveOwnLeftover(const std::string& path);
  // Every node path check in one place: kubelet's layout, no symlink, not
  // inside another volume. INVALID_ARGUMENT naming `what` otherwise.
  absl::Status CheckPath(const std::string& path, NodePathKind kind,
                         absl::string_view what);
  // OK when `path` is missing, or is an empty directory (`directory`; a
  // child named `allowed_child` may be there) or an empty regular file;
  // FAILED_PRECONDITION otherwise: nothing is ever mounted over something.
  absl::Status CheckMountable(const std::string& path, bool directory,
                              absl::string_view allowed_child);
  // INVALID_ARGUMENT when `path` lies inside a mount below the kubelet
  // directory (another volume, an emptyDir): a staging path or target must
  // never name something on another volume's filesystem.
  absl::Status CheckNotInsideAMount(const std::string& path);
  // Stage, once the device (or mapping) is there: filesystem or block.
  absl::Status StageOnDevice(const csi::v1::NodeStageVolumeRequest& request,
                             const VolumeRecord& record,
                             const AccessRequest& access,
                             const std::string& device);
  absl::Status StageBlock(const std::string& staging,
                          const std::string& device);
  // Unmounts everything at `path` (idempotent).
  absl::Status UnmountAll(const std::string& path);
  // True when a mount anywhere uses `device` (a filesystem on it, or a
  // bind of its device node).
  absl::StatusOr<bool> DeviceInUse(const std::string& device);
  // The read-only loop views made over `device` for read-only block
  // publishes.
  absl::StatusOr<std::vector<std::string>> ReadOnlyViews(
      const std::string& device);
  // Detaches the views of `device` that nothing uses any more; with
  // `require_all`, FAILED_PRECONDITION when one is still in use.
  absl::Status ReleaseReadOnlyViews(const std::string& device,
                                    bool require_all);

  const NodeConfig config_;
  const NodeDeps deps_;
  const BackendRouter router_;
  VolumeLocks* const locks_;
  const VolumeAccess access_;  // over router_ and locks_
};

}  // namespace cellar

#endif  // CELLAR_SRC_NODE_NODE_SERVICE_H_
