// Snapshots, restores, clones and group snapshots end to end on the loop
// backend: the real binary, real loop devices, filesystems and mounts, driven
// over the socket. Needs root. Every test cleans up every mount, loop device
// and file it made, even on failure, and checks that the driver itself left
// nothing behind (no loop devices, no mounts, no images or snapshots).
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "csi.grpc.pb.h"
#include "gtest/gtest.h"
#include "src/common/units.h"
#include "test/platform/loop_test_support.h"
#include "test/testing/csi_client.h"
#include "test/testing/driver_process.h"
#include "test/testing/e2e_fixture.h"
#include "test/testing/mount_table.h"

namespace cellar {
namespace {

using testing::Context;

constexpr char kNodeId[] = "snap-node";

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  if (!in) return "<unreadable " + path + ">";
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Writes `text` to `path` and fsyncs it.
bool WriteText(const std::string& path, const std::string& text) {
  const int fd =
      open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  const bool ok = write(fd, text.data(), text.size()) ==
                      static_cast<ssize_t>(text.size()) &&
                  fsync(fd) == 0;
  close(fd);
  return ok;
}

// pwrite + fsync through a block device (or file).
bool WriteAt(const std::string& path, off_t offset, const std::string& data) {
  const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = pwrite(fd, data.data() + done, data.size() - done,
                             offset + static_cast<off_t>(done));
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  const bool ok = done == data.size() && fsync(fd) == 0;
  close(fd);
  return ok;
}

std::string ReadAt(const std::string& path, off_t offset, size_t size) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "<unreadable " + path + ">";
  std::string data(size, '\0');
  size_t done = 0;
  while (done < size) {
    const ssize_t n = pread(fd, data.data() + done, size - done,
                            offset + static_cast<off_t>(done));
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  close(fd);
  data.resize(done);
  return data;
}

// Bytes of disk a file really uses.
int64_t DiskUsage(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int64_t>(st.st_blocks) * 512;
}

// A volume of a test and where it is staged and published.
struct Volume {
  std::string name;
  std::string id;
  csi::v1::VolumeCapability cap;
  std::string staging;
  std::string target;
};

class SnapshotE2eTest : public testing::E2eFixture {
 protected:
  SnapshotE2eTest() : Fixture("cellar-snap") {}

  void SetUp() override {
    Fixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    StartDriver();
  }

  void TearDown() override {
    group_.reset();
    Fixture::TearDown();
  }

  void StartDriver() {
    Fixture::StartDriver({"--node-id=" + std::string(kNodeId),
                          "--reserve-bytes=0", "--log-level=debug"});
    if (driver_ == nullptr) return;
    group_ = csi::v1::GroupController::NewStub(driver_->channel());
  }

  std::string LoopDir() const { return root_ + "/data/loop"; }
  std::string SnapshotFile(const std::string& snapshot_id) const {
    return LoopDir() + "/" + snapshot_id + ".snap";
  }
  std::string ImageFile(const std::string& volume_id) const {
    return LoopDir() + "/" + volume_id + ".img";
  }

  // ---- volumes

  void Describe(const std::string& name, const std::string& fs_type, bool block,
                Volume* v) {
    v->name = name;
    v->cap = testing::Capability(block ? "" : fs_type, block);
    v->staging =
        kubelet_ + "/plugins/kubernetes.io/csi/cellar/" + name + "/globalmount";
    v->target = kubelet_ + "/pods/pod-" + name + "/volumes/kubernetes.io~csi/" +
                name + "/mount";
  }

  void NewVolume(const std::string& name, const std::string& fs_type,
                 bool block, int64_t bytes, Volume* v) {
    Describe(name, fs_type, block, v);
    const grpc::Status status = client_->Create(name, v->cap, bytes, &v->id);
    ASSERT_TRUE(status.ok()) << name << ": " << status.error_message();
  }

  // CreateVolume with a content source (a snapshot id or a volume id).
  grpc::Status CreateFrom(const std::string& name,
                          const csi::v1::VolumeCapability& cap,
                          int64_t required, int64_t limit,
                          const std::string& snapshot_id,
                          const std::string& source_volume_id,
                          csi::v1::CreateVolumeResponse* response) {
    csi::v1::CreateVolumeRequest request;
    request.set_name(name);
    *request.add_volume_capabilities() = cap;
    if (required > 0 || limit > 0) {
      request.mutable_capacity_range()->set_required_bytes(required);
      request.mutable_capacity_range()->set_limit_bytes(limit);
    }
    if (!snapshot_id.empty()) {
      request.mutable_volume_content_source()
          ->mutable_snapshot()
          ->set_snapshot_id(snapshot_id);
    } else {
      request.mutable_volume_content_source()->mutable_volume()->set_volume_id(
          source_volume_id);
    }
    return driver_->controller().CreateVolume(Context().get(), request,
                                              response);
  }

  // A restore of `snapshot_id` (or, with `clone_of`, a clone of that volume)
  // into a new volume `name` of `bytes`; checks the response.
  void NewVolumeFrom(const std::string& name, const std::string& fs_type,
                     bool block, int64_t bytes, const std::string& snapshot_id,
                     const std::string& clone_of, Volume* v) {
    Describe(name, fs_type, block, v);
    csi::v1::CreateVolumeResponse response;
    const grpc::Status status =
        CreateFrom(name, v->cap, bytes, 0, snapshot_id, clone_of, &response);
    ASSERT_TRUE(status.ok())
        << name << ": " << status.error_code() << " " << status.error_message();
    v->id = response.volume().volume_id();
    ASSERT_FALSE(v->id.empty());
    EXPECT_EQ(response.volume().capacity_bytes(), bytes) << name;
    if (!snapshot_id.empty()) {
      EXPECT_EQ(response.volume().content_source().snapshot().snapshot_id(),
                snapshot_id)
          << name;
    } else {
      EXPECT_EQ(response.volume().content_source().volume().volume_id(),
                clone_of)
          << name;
    }
  }

  // Stage and publish (read-write).
  void Up(const Volume& v) {
    ASSERT_EQ(system(("mkdir -p '" + v.staging + "'").c_str()), 0);
    grpc::Status status = client_->Stage(v.id, v.staging, v.cap);
    ASSERT_TRUE(status.ok()) << v.name << " stage: " << status.error_message();
    status = client_->Publish(v.id, v.staging, v.target, v.cap, false);
    ASSERT_TRUE(status.ok())
        << v.name << " publish: " << status.error_message();
  }

  // Unpublish and unstage.
  void Unmount(const Volume& v) {
    grpc::Status status = client_->Unpublish(v.id, v.target);
    ASSERT_TRUE(status.ok())
        << v.name << " unpublish: " << status.error_message();
    status = client_->Unstage(v.id, v.staging);
    ASSERT_TRUE(status.ok())
        << v.name << " unstage: " << status.error_message();
  }

  void DeleteVolume(const Volume& v) {
    const grpc::Status status = client_->Delete(v.id);
    ASSERT_TRUE(status.ok()) << v.name << " delete: " << status.error_message();
  }

  // Unpublish, unstage and delete.
  void Down(const Volume& v) {
    ASSERT_NO_FATAL_FAILURE(Unmount(v));
    ASSERT_NO_FATAL_FAILURE(DeleteVolume(v));
  }

  // The filesystem (or device) size NodeGetVolumeStats reports.
  int64_t TotalBytes(const Volume& v) {
    csi::v1::NodeGetVolumeStatsRequest request;
    request.set_volume_id(v.id);
    request.set_volume_path(v.target);
    csi::v1::NodeGetVolumeStatsResponse stats;
    const grpc::Status status =
        driver_->node().NodeGetVolumeStats(Context().get(), request, &stats);
    EXPECT_TRUE(status.ok()) << status.error_message();
    if (!status.ok() || stats.usage_size() == 0) return -1;
    return stats.usage(0).total();
  }

  // ---- snapshots

  grpc::Status Snapshot(const std::string& name, const std::string& source,
                        csi::v1::Snapshot* snapshot) {
    csi::v1::CreateSnapshotRequest request;
    request.set_name(name);
    request.set_source_volume_id(source);
    csi::v1::CreateSnapshotResponse response;
    grpc::Status status = driver_->controller().CreateSnapshot(
        Context().get(), request, &response);
    if (snapshot != nullptr) *snapshot = response.snapshot();
    return status;
  }

  // CreateSnapshot that must work; checks the answer and returns the id.
  void TakeSnapshot(const std::string& name, const Volume& source, int64_t size,
                    std::string* id) {
    csi::v1::Snapshot snapshot;
    const grpc::Status status = Snapshot(name, source.id, &snapshot);
    ASSERT_TRUE(status.ok())
        << name << ": " << status.error_code() << " " << status.error_message();
    ASSERT_FALSE(snapshot.snapshot_id().empty());
    EXPECT_EQ(snapshot.source_volume_id(), source.id);
    EXPECT_EQ(snapshot.size_bytes(), size);
    EXPECT_TRUE(snapshot.ready_to_use());
    EXPECT_GT(snapshot.creation_time().seconds(), 0);
    EXPECT_TRUE(snapshot.group_snapshot_id().empty());
    *id = snapshot.snapshot_id();
  }

  grpc::Status DeleteSnapshot(const std::string& id) {
    csi::v1::DeleteSnapshotRequest request;
    request.set_snapshot_id(id);
    csi::v1::DeleteSnapshotResponse response;
    return driver_->controller().DeleteSnapshot(Context().get(), request,
                                                &response);
  }

  grpc::Status ListSnapshots(const csi::v1::ListSnapshotsRequest& request,
                             csi::v1::ListSnapshotsResponse* response) {
    return driver_->controller().ListSnapshots(Context().get(), request,
                                               response);
  }

  // Ids of every snapshot ListSnapshots shows (one unpaginated call).
  std::vector<std::string> AllSnapshotIds(const std::string& source = "") {
    csi::v1::ListSnapshotsRequest request;
    request.set_source_volume_id(source);
    csi::v1::ListSnapshotsResponse response;
    const grpc::Status status = ListSnapshots(request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    std::vector<std::string> ids;
    for (const auto& entry : response.entries()) {
      ids.push_back(entry.snapshot().snapshot_id());
    }
    return ids;
  }

  // ---- leftovers

  int LoopDevicesInUse() {
    RealLoopDevices loops;
    auto list = loops.List();
    if (!list.ok()) return -1;
    int n = 0;
    for (const auto& info : *list) {
      if (info.backing_file.rfind(root_ + "/", 0) == 0) ++n;
    }
    return n;
  }

  void ExpectNothingLeft() {
    EXPECT_EQ(LoopDevicesInUse(), 0);
    EXPECT_TRUE(testing::MountPointsUnder(root_).empty());
    DIR* dir = opendir(LoopDir().c_str());
    ASSERT_NE(dir, nullptr);
    std::vector<std::string> files;
    while (dirent* entry = readdir(dir)) {
      if (entry->d_name[0] != '.') files.push_back(entry->d_name);
    }
    closedir(dir);
    EXPECT_TRUE(files.empty())
        << "images, snapshots or records left behind, e.g. " << files.front();
  }

  std::unique_ptr<csi::v1::GroupController::Stub> group_;
};

// Write, snapshot, change, restore: the restore has the data of the moment
// of the snapshot, the source keeps its new data, and the two are
// independent. The snapshot outlives its source volume.
TEST_F(SnapshotE2eTest, RestoreGivesTheDataOfTheSnapshot) {
  Volume source;
  ASSERT_NO_FATAL_FAILURE(NewVolume("src", "ext4", false, 256 * kMiB, &source));
  ASSERT_NO_FATAL_FAILURE(Up(source));
  ASSERT_TRUE(WriteText(source.target + "/data.txt", "original data"));

  std::string snap;
  ASSERT_NO_FATAL_FAILURE(TakeSnapshot("snap-1", source, 256 * kMiB, &snap));
  EXPECT_EQ(snap.rfind("s_", 0), 0u) << snap;
  // Idempotent: the same name and source give the same snapshot.
  std::string again;
  ASSERT_NO_FATAL_FAILURE(TakeSnapshot("snap-1", source, 256 * kMiB, &again));
  EXPECT_EQ(again, snap);
  EXPECT_EQ(AllSnapshotIds().size(), 1u);

  ASSERT_TRUE(WriteText(source.target + "/data.txt", "changed data"));
  ASSERT_TRUE(WriteText(source.target + "/new.txt", "made after the snapshot"));

  Volume restored;
  ASSERT_NO_FATAL_FAILURE(NewVolumeFrom("restored", "ext4", false, 256 * kMiB,
                                        snap, "", &restored));
  // Idempotent: the same request gives the same volume.
  {
    csi::v1::CreateVolumeResponse response;
    const grpc::Status status = CreateFrom("restored", restored.cap, 256 * kMiB,
                                           0, snap, "", &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.volume().volume_id(), restored.id);
  }
  ASSERT_NO_FATAL_FAILURE(Up(restored));
  EXPECT_EQ(ReadText(restored.target + "/data.txt"), "original data");
  EXPECT_NE(access((restored.target + "/new.txt").c_str(), F_OK), 0)
      << "a file made after the snapshot is in the restore";
  EXPECT_EQ(ReadText(source.target + "/data.txt"), "changed data");

  // Independent: writes to one do not show in the other.
  ASSERT_TRUE(
      WriteText(restored.target + "/data.txt", "written to the restore"));
  EXPECT_EQ(ReadText(source.target + "/data.txt"), "changed data");
  ASSERT_TRUE(WriteText(source.target + "/data.txt", "written to the source"));
  EXPECT_EQ(ReadText(restored.target + "/data.txt"), "written to the restore");
  ASSERT_NO_FATAL_FAILURE(Down(restored));

  // The snapshot outlives its source.
  ASSERT_NO_FATAL_FAILURE(Down(source));
  Volume late;
  ASSERT_NO_FATAL_FAILURE(NewVolumeFrom("restored-late", "ext4", false,
                                        256 * kMiB, snap, "", &late));
  ASSERT_NO_FATAL_FAILURE(Up(late));
  EXPECT_EQ(ReadText(late.target + "/data.txt"), "original data");
  ASSERT_NO_FATAL_FAILURE(Down(late));

  ASSERT_TRUE(DeleteSnapshot(snap).ok());
  ExpectNothingLeft();
}

// A clone larger than its live source: the filesystem (ext4 offline, xfs
// online) has the clone's size and the source's data.
TEST_F(SnapshotE2eTest, CloneToALargerSizeGrowsTheFilesystem) {
  for (const std::string& kind : {"ext4", "xfs"}) {
    SCOPED_TRACE(kind);
    Volume source;
    ASSERT_NO_FATAL_FAILURE(
        NewVolume("cs-" + kind, kind, false, 400 * kMiB, &source));
    ASSERT_NO_FATAL_FAILURE(Up(source));
    ASSERT_TRUE(WriteText(source.target + "/data.txt", "cloned " + kind));
    Volume big;
    ASSERT_NO_FATAL_FAILURE(NewVolumeFrom("cb-" + kind, kind, false, 800 * kMiB,
                                          "", source.id, &big));
    ASSERT_NO_FATAL_FAILURE(Down(source));
    ASSERT_NO_FATAL_FAILURE(Up(big));
    EXPECT_GT(TotalBytes(big), static_cast<int64_t>(700 * kMiB));
    EXPECT_EQ(ReadText(big.target + "/data.txt"), "cloned " + kind);
    ASSERT_NO_FATAL_FAILURE(Down(big));
  }
  ExpectNothingLeft();
}

// A clone of a live (published, mounted) volume has its data and is
// independent of it.
TEST_F(SnapshotE2eTest, CloneOfALiveVolume) {
  Volume source;
  ASSERT_NO_FATAL_FAILURE(
      NewVolume("live", "ext4", false, 128 * kMiB, &source));
  ASSERT_NO_FATAL_FAILURE(Up(source));
  ASSERT_TRUE(WriteText(source.target + "/data.txt", "live data"));

  Volume clone;
  ASSERT_NO_FATAL_FAILURE(
      NewVolumeFrom("clone", "ext4", false, 128 * kMiB, "", source.id, &clone));
  // The source is still mounted and writable after the (frozen) copy.
  ASSERT_TRUE(WriteText(source.target + "/after.txt", "after the clone"));
  ASSERT_NO_FATAL_FAILURE(Up(clone));
  EXPECT_EQ(ReadText(clone.target + "/data.txt"), "live data");
  EXPECT_NE(access((clone.target + "/after.txt").c_str(), F_OK), 0);

  ASSERT_TRUE(WriteText(clone.target + "/data.txt", "clone data"));
  EXPECT_EQ(ReadText(source.target + "/data.txt"), "live data");
  ASSERT_TRUE(WriteText(source.target + "/data.txt", "source data"));
  EXPECT_EQ(ReadText(clone.target + "/data.txt"), "clone data");

  // The clone stays good after the source is gone.
  ASSERT_NO_FATAL_FAILURE(Down(source));
  ASSERT_NO_FATAL_FAILURE(Unmount(clone));
  ASSERT_NO_FATAL_FAILURE(Up(clone));
  EXPECT_EQ(ReadText(clone.target + "/data.txt"), "clone data");
  ASSERT_NO_FATAL_FAILURE(Down(clone));
  ExpectNothingLeft();
}

// A restore larger than its snapshot: the filesystem grows to the volume
// when it is staged (ext4 offline before its first mount, which needs no
// privilege; xfs online after it).
TEST_F(SnapshotE2eTest, RestoreToALargerSizeGrowsTheFilesystem) {
  for (const std::string& kind : {"ext4", "xfs", "block"}) {
    SCOPED_TRACE(kind);
    const bool block = kind == "block";
    Volume source;
    ASSERT_NO_FATAL_FAILURE(
        NewVolume("small-" + kind, kind, block, 400 * kMiB, &source));
    ASSERT_NO_FATAL_FAILURE(Up(source));
    if (block) {
      ASSERT_TRUE(WriteAt(source.target, 300 * kMiB, "block payload"));
    } else {
      ASSERT_TRUE(WriteText(source.target + "/data.txt", "payload " + kind));
      EXPECT_LT(TotalBytes(source), static_cast<int64_t>(400 * kMiB));
    }
    std::string snap;
    ASSERT_NO_FATAL_FAILURE(
        TakeSnapshot("snap-small-" + kind, source, 400 * kMiB, &snap));
    // The source is unmounted first: see XfsRestoreAndCloneBesideTheirSource
    // for both mounted at once.
    ASSERT_NO_FATAL_FAILURE(Down(source));

    Volume big;
    ASSERT_NO_FATAL_FAILURE(
        NewVolumeFrom("big-" + kind, kind, block, 800 * kMiB, snap, "", &big));
    ASSERT_NO_FATAL_FAILURE(Up(big));
    if (block) {
      EXPECT_EQ(TotalBytes(big), static_cast<int64_t>(800 * kMiB));
      EXPECT_EQ(ReadAt(big.target, 300 * kMiB, 13), "block payload");
    } else {
      EXPECT_GT(TotalBytes(big), static_cast<int64_t>(700 * kMiB));
      EXPECT_EQ(ReadText(big.target + "/data.txt"), "payload " + kind);
      // Staged again, it stays grown and intact.
      ASSERT_NO_FATAL_FAILURE(Unmount(big));
      ASSERT_NO_FATAL_FAILURE(Up(big));
      EXPECT_GT(TotalBytes(big), static_cast<int64_t>(700 * kMiB));
      EXPECT_EQ(ReadText(big.target + "/data.txt"), "payload " + kind);
    }
    ASSERT_NO_FATAL_FAILURE(Down(big));
    ASSERT_TRUE(DeleteSnapshot(snap).ok());
  }
  ExpectNothingLeft();
}

// An ext4 restore larger than its snapshot grows offline, before it is
// mounted, on every machine: each stage answers OK with the filesystem at
// the volume's size, and a retried stage finds it grown.
TEST_F(SnapshotE2eTest, Ext4RestoreGrowsOfflineAndIsNeverStagedUngrown) {
  Volume source;
  ASSERT_NO_FATAL_FAILURE(
      NewVolume("e-small", "ext4", false, 400 * kMiB, &source));
  ASSERT_NO_FATAL_FAILURE(Up(source));
  ASSERT_TRUE(WriteText(source.target + "/data.txt", "ext4 payload"));
  std::string snap;
  ASSERT_NO_FATAL_FAILURE(TakeSnapshot("e-snap", source, 400 * kMiB, &snap));
  ASSERT_NO_FATAL_FAILURE(Down(source));
  Volume big;
  ASSERT_NO_FATAL_FAILURE(
      NewVolumeFrom("e-big", "ext4", false, 800 * kMiB, snap, "", &big));
  ASSERT_EQ(system(("mkdir -p '" + big.staging + "'").c_str()), 0);
  for (int attempt = 0; attempt < 2; ++attempt) {
    SCOPED_TRACE(absl::StrCat("stage attempt ", attempt));
    const grpc::Status staged = client_->Stage(big.id, big.staging, big.cap);
    ASSERT_TRUE(staged.ok()) << staged.error_message();
    ASSERT_TRUE(
        client_->Publish(big.id, big.staging, big.target, big.cap, false).ok());
    EXPECT_GT(TotalBytes(big), static_cast<int64_t>(700 * kMiB))
        << "staged OK with the filesystem at the snapshot's size";
    EXPECT_EQ(ReadText(big.target + "/data.txt"), "ext4 payload");
    ASSERT_TRUE(client_->Unpublish(big.id, big.target).ok());
  }
  ASSERT_TRUE(client_->Unstage(big.id, big.staging).ok());
  ASSERT_NO_FATAL_FAILURE(DeleteVolume(big));
  ASSERT_TRUE(DeleteSnapshot(snap).ok());
  ExpectNothingLeft();
}

// A capacity_range that names no size (required and limit 0) with a content
// source: the volume is at least as large as its source, never the smaller
// --default-volume-size (1 GiB) with the source's 2 GiB of data in it.
TEST_F(SnapshotE2eTest, EmptyCapacityRangeTakesTheSourceSize) {
  Volume source;
  ASSERT_NO_FATAL_FAILURE(NewVolume("two-gib", "", true, 2048 * kMiB, &source));
  std::string snap;
  ASSERT_NO_FATAL_FAILURE(
      TakeSnapshot("two-gib-snap", source, 2048 * kMiB, &snap));
  for (const bool from_snapshot : {true, false}) {
    SCOPED_TRACE(from_snapshot ? "restore" : "clone");
    csi::v1::CreateVolumeRequest request;
    request.set_name(from_snapshot ? "empty-range-restore"
                                   : "empty-range-clone");
    *request.add_volume_capabilities() = source.cap;
    request.mutable_capacity_range();  // present, but names no size
    if (from_snapshot) {
      request.mutable_volume_content_source()
          ->mutable_snapshot()
          ->set_snapshot_id(snap);
    } else {
      request.mutable_volume_content_source()->mutable_volume()->set_volume_id(
          source.id);
    }
    csi::v1::CreateVolumeResponse response;
    const grpc::Status status =
        driver_->controller().CreateVolume(Context().get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_GE(response.volume().capacity_bytes(),
              static_cast<int64_t>(2048 * kMiB));
    struct stat st;
    ASSERT_EQ(stat(ImageFile(response.volume().volume_id()).c_str(), &st), 0);
    EXPECT_EQ(st.st_size, response.volume().capacity_bytes())
        << "the image and the reported capacity disagree";
    EXPECT_TRUE(client_->Delete(response.volume().volume_id()).ok());
  }
  ASSERT_TRUE(DeleteSnapshot(snap).ok());
  ASSERT_NO_FATAL_FAILURE(DeleteVolume(source));
  ExpectNothingLeft();
}

// Restores and clones of an xfs volume while the source is still mounted
// on the same node: the copy carries the source's filesystem UUID.
TEST_F(SnapshotE2eTest, XfsRestoreAndCloneBesideTheirSource) {
  Volume source;
  ASSERT_NO_FATAL_FAILURE(NewVolume("xsrc", "xfs", false, 300 * kMiB, &source));
  ASSERT_NO_FATAL_FAILURE(Up(source));
  ASSERT_TRUE(WriteText(source.target + "/data.txt", "xfs data"));
  std::string snap;
  ASSERT_NO_FATAL_FAILURE(TakeSnapshot("xsnap", source, 300 * kMiB, &snap));

  Volume restored;
  ASSERT_NO_FATAL_FAILURE(NewVolumeFrom("xrestored", "xfs", false, 300 * kMiB,
                                        snap, "", &restored));
  Volume clone;
  ASSERT_NO_FATAL_FAILURE(
      NewVolumeFrom("xclone", "xfs", false, 300 * kMiB, "", source.id, &clone));
  for (const Volume* copy : {&restored, &clone}) {
    SCOPED_TRACE(copy->name);
    EXPECT_NO_FATAL_FAILURE(Up(*copy));
    EXPECT_EQ(ReadText(copy->target + "/data.txt"), "xfs data");
    // Clean up whatever the stage managed.
    (void)client_->Unpublish(copy->id, copy->target);
    (void)client_->Unstage(copy->id, copy->staging);
    EXPECT_TRUE(client_->Delete(copy->id).ok());
  }
  ASSERT_NO_FATAL_FAILURE(Down(source));
  ASSERT_TRUE(DeleteSnapshot(snap).ok());
  ExpectNothingLeft();
}

TEST_F(SnapshotE2eTest, ErrorsListingAndIdempotentDelete) {
  Volume a, b;
  ASSERT_NO_FATAL_FAILURE(NewVolume("vol-a", "ext4", false, 64 * kMiB, &a));
  ASSERT_NO_FATAL_FAILURE(NewVolume("vol-b", "ext4", false, 64 * kMiB, &b));
  std::vector<std::string> of_a(3);
  for (int i = 0; i < 3; ++i) {
    ASSERT_NO_FATAL_FAILURE(
        TakeSnapshot(absl::StrCat("a-", i), a, 64 * kMiB, &of_a[i]));
  }
  std::string of_b;
  ASSERT_NO_FATAL_FAILURE(TakeSnapshot("b-0", b, 64 * kMiB, &of_b));

  const auto fs_cap = testing::Capability("ext4", false);
  csi::v1::CreateVolumeResponse response;
  // Smaller than the source: OUT_OF_RANGE (CSI CreateVolume, "Unsupported
  // capacity"), by required_bytes and by limit_bytes.
  grpc::Status status =
      CreateFrom("too-small", fs_cap, 32 * kMiB, 0, of_a[0], "", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::OUT_OF_RANGE)
      << status.error_message();
  status =
      CreateFrom("too-small", fs_cap, 0, 32 * kMiB, of_a[0], "", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::OUT_OF_RANGE)
      << status.error_message();
  status =
      CreateFrom("too-small-clone", fs_cap, 32 * kMiB, 0, "", a.id, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::OUT_OF_RANGE)
      << status.error_message();
  // A filesystem snapshot restored as a block volume: INVALID_ARGUMENT
  // (CSI CreateVolume, "Source incompatible or not supported").
  status = CreateFrom("as-block", testing::Capability("", true), 64 * kMiB, 0,
                      of_a[0], "", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << status.error_message();

  // A source that does not exist: NOT_FOUND (CSI CreateVolume, "Source does
  // not exist").
  std::string gone_snapshot;
  ASSERT_NO_FATAL_FAILURE(TakeSnapshot("gone", a, 64 * kMiB, &gone_snapshot));
  ASSERT_TRUE(DeleteSnapshot(gone_snapshot).ok());
  status = CreateFrom("from-gone", fs_cap, 64 * kMiB, 0, gone_snapshot, "",
                      &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND)
      << status.error_message();
  status = CreateFrom("from-junk", fs_cap, 64 * kMiB, 0, "no-such-snapshot", "",
                      &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND)
      << status.error_message();
  Volume gone;
  ASSERT_NO_FATAL_FAILURE(
      NewVolume("vol-gone", "ext4", false, 64 * kMiB, &gone));
  ASSERT_NO_FATAL_FAILURE(DeleteVolume(gone));
  status =
      CreateFrom("clone-of-gone", fs_cap, 64 * kMiB, 0, "", gone.id, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND)
      << status.error_message();

  // A snapshot of a volume that does not exist: NOT_FOUND.
  status = Snapshot("of-gone", gone.id, nullptr);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND)
      << status.error_message();
  status = Snapshot("of-junk", "no-such-volume", nullptr);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND)
      << status.error_message();
  // The same name for another source: ALREADY_EXISTS (CSI CreateSnapshot,
  // "Snapshot already exists but is incompatible").
  status = Snapshot("a-0", b.id, nullptr);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS)
      << status.error_message();
  // Missing fields: INVALID_ARGUMENT.
  EXPECT_EQ(Snapshot("", a.id, nullptr).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Snapshot("no-source", "", nullptr).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // None of the failures left a volume or snapshot behind.
  {
    csi::v1::ListVolumesResponse volumes;
    ASSERT_TRUE(
        driver_->controller().ListVolumes(Context().get(), {}, &volumes).ok());
    EXPECT_EQ(volumes.entries_size(), 2);
  }

  // ListSnapshots: all, by id, by source.
  std::vector<std::string> all = of_a;
  all.push_back(of_b);
  std::sort(all.begin(), all.end());
  EXPECT_EQ(AllSnapshotIds(), all);
  {
    csi::v1::ListSnapshotsRequest request;
    request.set_snapshot_id(of_a[1]);
    csi::v1::ListSnapshotsResponse list;
    ASSERT_TRUE(ListSnapshots(request, &list).ok());
    ASSERT_EQ(list.entries_size(), 1);
    EXPECT_EQ(list.entries(0).snapshot().snapshot_id(), of_a[1]);
    EXPECT_EQ(list.entries(0).snapshot().source_volume_id(), a.id);
    EXPECT_EQ(list.entries(0).snapshot().size_bytes(),
              static_cast<int64_t>(64 * kMiB));
    EXPECT_TRUE(list.entries(0).snapshot().ready_to_use());
    // By an id that does not exist: empty, not an error.
    request.set_snapshot_id(gone_snapshot);
    list.Clear();
    ASSERT_TRUE(ListSnapshots(request, &list).ok());
    EXPECT_EQ(list.entries_size(), 0);
    // By id and another volume: empty.
    request.set_snapshot_id(of_a[1]);
    request.set_source_volume_id(b.id);
    list.Clear();
    ASSERT_TRUE(ListSnapshots(request, &list).ok());
    EXPECT_EQ(list.entries_size(), 0);
  }
  std::vector<std::string> sorted_a = of_a;
  std::sort(sorted_a.begin(), sorted_a.end());
  EXPECT_EQ(AllSnapshotIds(a.id), sorted_a);
  EXPECT_EQ(AllSnapshotIds(b.id), std::vector<std::string>{of_b});
  EXPECT_TRUE(AllSnapshotIds(gone.id).empty());

  // Paginated: every snapshot exactly once, in pages of at most max_entries.
  for (const auto& [source, max_entries] :
       std::vector<std::pair<std::string, int>>{{"", 1}, {"", 3}, {a.id, 2}}) {
    SCOPED_TRACE(absl::StrCat("source ", source, " max ", max_entries));
    std::vector<std::string> seen;
    std::string token;
    int pages = 0;
    do {
      csi::v1::ListSnapshotsRequest request;
      request.set_max_entries(max_entries);
      request.set_starting_token(token);
      request.set_source_volume_id(source);
      csi::v1::ListSnapshotsResponse page;
      const grpc::Status listed = ListSnapshots(request, &page);
      ASSERT_TRUE(listed.ok()) << listed.error_message();
      EXPECT_LE(page.entries_size(), max_entries);
      for (const auto& entry : page.entries()) {
        seen.push_back(entry.snapshot().snapshot_id());
      }
      token = page.next_token();
      ASSERT_LT(++pages, 10) << "pagination does not end";
    } while (!token.empty());
    EXPECT_EQ(seen, source.empty() ? all : sorted_a);
  }
  {
    csi::v1::ListSnapshotsRequest request;
    request.set_starting_token("not-a-token");
    csi::v1::ListSnapshotsResponse list;
    EXPECT_EQ(ListSnapshots(request, &list).error_code(),
              grpc::StatusCode::ABORTED);
  }

  // Snapshots survive a restart of the driver.
  driver_.reset();
  ASSERT_NO_FATAL_FAILURE(StartDriver());
  EXPECT_EQ(AllSnapshotIds(), all);

  // DeleteSnapshot is idempotent, also for ids it never made.
  for (const std::string& id : all) {
    EXPECT_TRUE(DeleteSnapshot(id).ok());
    EXPECT_TRUE(DeleteSnapshot(id).ok());
  }
  EXPECT_TRUE(DeleteSnapshot("no-such-snapshot").ok());
  EXPECT_EQ(DeleteSnapshot("").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(AllSnapshotIds().empty());
  ASSERT_NO_FATAL_FAILURE(DeleteVolume(a));
  ASSERT_NO_FATAL_FAILURE(DeleteVolume(b));
  ExpectNothingLeft();
}

// A group snapshot of three published volumes through the GroupController
// service: every member restores to its own volume's data.
TEST_F(SnapshotE2eTest, GroupSnapshotOfThreeVolumes) {
  {
    csi::v1::GroupControllerGetCapabilitiesResponse caps;
    ASSERT_TRUE(
        group_->GroupControllerGetCapabilities(Context().get(), {}, &caps)
            .ok());
    ASSERT_EQ(caps.capabilities_size(), 1);
    EXPECT_EQ(caps.capabilities(0).rpc().type(),
              csi::v1::GroupControllerServiceCapability::RPC::
                  CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT);
  }
  std::vector<Volume> volumes(3);
  std::map<std::string, int> index_of;  // volume id -> index
  for (int i = 0; i < 3; ++i) {
    ASSERT_NO_FATAL_FAILURE(NewVolume(absl::StrCat("member-", i),
                                      i == 1 ? "xfs" : "ext4", false,
                                      (300 + 20 * i) * kMiB, &volumes[i]));
    ASSERT_NO_FATAL_FAILURE(Up(volumes[i]));
    ASSERT_TRUE(WriteText(volumes[i].target + "/data.txt",
                          absl::StrCat("member ", i, " data")));
    index_of[volumes[i].id] = i;
  }

  csi::v1::CreateVolumeGroupSnapshotRequest create;
  create.set_name("group-1");
  for (const Volume& v : volumes) create.add_source_volume_ids(v.id);
  csi::v1::CreateVolumeGroupSnapshotResponse created;
  grpc::Status status =
      group_->CreateVolumeGroupSnapshot(Context().get(), create, &created);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const csi::v1::VolumeGroupSnapshot& group = created.group_snapshot();
  const std::string group_id = group.group_snapshot_id();
  ASSERT_FALSE(group_id.empty());
  EXPECT_TRUE(group.ready_to_use());
  EXPECT_GT(group.creation_time().seconds(), 0);
  ASSERT_EQ(group.snapshots_size(), 3);
  std::map<int, std::string> snapshot_of;  // volume index -> snapshot id
  for (const auto& snapshot : group.snapshots()) {
    EXPECT_EQ(snapshot.group_snapshot_id(), group_id);
    EXPECT_TRUE(snapshot.ready_to_use());
    ASSERT_EQ(index_of.count(snapshot.source_volume_id()), 1u)
        << snapshot.source_volume_id();
    const int i = index_of[snapshot.source_volume_id()];
    EXPECT_EQ(snapshot.size_bytes(),
              static_cast<int64_t>((300 + 20 * i) * kMiB));
    snapshot_of[i] = snapshot.snapshot_id();
  }
  ASSERT_EQ(snapshot_of.size(), 3u) << "a volume is missing from the group";

  // Idempotent: the same name and volumes (in any order) give the same group.
  {
    csi::v1::CreateVolumeGroupSnapshotRequest again;
    again.set_name("group-1");
    for (int i = 2; i >= 0; --i) again.add_source_volume_ids(volumes[i].id);
    csi::v1::CreateVolumeGroupSnapshotResponse response;
    status =
        group_->CreateVolumeGroupSnapshot(Context().get(), again, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.group_snapshot().group_snapshot_id(), group_id);
    std::set<std::string> ids, first;
    for (const auto& s : response.group_snapshot().snapshots()) {
      ids.insert(s.snapshot_id());
    }
    for (const auto& s : group.snapshots()) first.insert(s.snapshot_id());
    EXPECT_EQ(ids, first);
    // The same name for other volumes: ALREADY_EXISTS.
    csi::v1::CreateVolumeGroupSnapshotRequest other;
    other.set_name("group-1");
    other.add_source_volume_ids(volumes[0].id);
    other.add_source_volume_ids(volumes[1].id);
    status =
        group_->CreateVolumeGroupSnapshot(Context().get(), other, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS)
        << status.error_message();
  }

  // GetVolumeGroupSnapshot lists the three members with the group id.
  {
    csi::v1::GetVolumeGroupSnapshotRequest get;
    get.set_group_snapshot_id(group_id);
    csi::v1::GetVolumeGroupSnapshotResponse got;
    status = group_->GetVolumeGroupSnapshot(Context().get(), get, &got);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(got.group_snapshot().group_snapshot_id(), group_id);
    ASSERT_EQ(got.group_snapshot().snapshots_size(), 3);
    std::set<std::string> ids;
    for (const auto& s : got.group_snapshot().snapshots()) {
      EXPECT_EQ(s.group_snapshot_id(), group_id);
      ids.insert(s.snapshot_id());
    }
    EXPECT_EQ(ids.size(), 3u);
    for (const auto& [i, id] : snapshot_of) EXPECT_EQ(ids.count(id), 1u) << i;
  }
  // ListSnapshots shows the members, with their group.
  {
    csi::v1::ListSnapshotsResponse list;
    ASSERT_TRUE(ListSnapshots({}, &list).ok());
    EXPECT_EQ(list.entries_size(), 3);
    for (const auto& entry : list.entries()) {
      EXPECT_EQ(entry.snapshot().group_snapshot_id(), group_id);
    }
  }

  // Change every source, then restore every member: the data of the group
  // snapshot comes back, each in its own volume.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(WriteText(volumes[i].target + "/data.txt", "changed"));
  }
  for (int i = 0; i < 3; ++i) {
    Volume restored;
    ASSERT_NO_FATAL_FAILURE(NewVolumeFrom(
        absl::StrCat("member-restored-", i), i == 1 ? "xfs" : "ext4", false,
        (300 + 20 * i) * kMiB, snapshot_of[i], "", &restored));
    // An xfs copy cannot be mounted beside its source (same UUID): take the
    // source down first. XfsRestoreAndCloneBesideTheirSource covers that case.
    if (i == 1) {
      ASSERT_NO_FATAL_FAILURE(Unmount(volumes[i]));
    }
    ASSERT_NO_FATAL_FAILURE(Up(restored));
    EXPECT_EQ(ReadText(restored.target + "/data.txt"),
              absl::StrCat("member ", i, " data"));
    ASSERT_NO_FATAL_FAILURE(Down(restored));
    if (i == 1) {
      ASSERT_NO_FATAL_FAILURE(Up(volumes[i]));
    }
    EXPECT_EQ(ReadText(volumes[i].target + "/data.txt"), "changed");
  }

  // Delete the group (with its snapshot ids, as the CO does), twice.
  csi::v1::DeleteVolumeGroupSnapshotRequest remove;
  remove.set_group_snapshot_id(group_id);
  for (const auto& [i, id] : snapshot_of) remove.add_snapshot_ids(id);
  csi::v1::DeleteVolumeGroupSnapshotResponse removed;
  status = group_->DeleteVolumeGroupSnapshot(Context().get(), remove, &removed);
  ASSERT_TRUE(status.ok()) << status.error_message();
  status = group_->DeleteVolumeGroupSnapshot(Context().get(), remove, &removed);
  EXPECT_TRUE(status.ok()) << status.error_message();
  {
    csi::v1::GetVolumeGroupSnapshotRequest get;
    get.set_group_snapshot_id(group_id);
    csi::v1::GetVolumeGroupSnapshotResponse got;
    EXPECT_EQ(
        group_->GetVolumeGroupSnapshot(Context().get(), get, &got).error_code(),
        grpc::StatusCode::NOT_FOUND);
  }
  EXPECT_TRUE(AllSnapshotIds().empty());
  for (const Volume& v : volumes) ASSERT_NO_FATAL_FAILURE(Down(v));
  ExpectNothingLeft();
}

// Raw block: a pattern written at an offset through the block target comes
// back from the restored volume's block target.
TEST_F(SnapshotE2eTest, RawBlockSnapshotAndRestore) {
  Volume source;
  ASSERT_NO_FATAL_FAILURE(NewVolume("raw", "", true, 64 * kMiB, &source));
  ASSERT_NO_FATAL_FAILURE(Up(source));
  std::string pattern;
  for (int i = 0; i < 8192; ++i) pattern += static_cast<char>('A' + i % 26);
  const off_t offset = 5 * kMiB + 123;
  ASSERT_TRUE(WriteAt(source.target, offset, pattern)) << strerror(errno);
  std::string snap;
  ASSERT_NO_FATAL_FAILURE(TakeSnapshot("raw-snap", source, 64 * kMiB, &snap));
  const std::string changed(pattern.size(), 'z');
  ASSERT_TRUE(WriteAt(source.target, offset, changed));

  Volume restored;
  ASSERT_NO_FATAL_FAILURE(
      NewVolumeFrom("raw-restored", "", true, 64 * kMiB, snap, "", &restored));
  ASSERT_NO_FATAL_FAILURE(Up(restored));
  EXPECT_EQ(ReadAt(restored.target, offset, pattern.size()), pattern);
  EXPECT_EQ(ReadAt(source.target, offset, changed.size()), changed);
  EXPECT_EQ(TotalBytes(restored), static_cast<int64_t>(64 * kMiB));

  // A block clone of the live block volume has the changed bytes.
  Volume clone;
  ASSERT_NO_FATAL_FAILURE(
      NewVolumeFrom("raw-clone", "", true, 64 * kMiB, "", source.id, &clone));
  ASSERT_NO_FATAL_FAILURE(Up(clone));
  EXPECT_EQ(ReadAt(clone.target, offset, changed.size()), changed);

  ASSERT_NO_FATAL_FAILURE(Down(clone));
  ASSERT_NO_FATAL_FAILURE(Down(restored));
  ASSERT_NO_FATAL_FAILURE(Down(source));
  ASSERT_TRUE(DeleteSnapshot(snap).ok());
  ExpectNothingLeft();
}

// A sparse 1 GiB volume with ~10 MiB of data: its snapshot (and a restore)
// copies the data, not the holes.
TEST_F(SnapshotE2eTest, SnapshotOfASparseVolumeStaysSparse) {
  Volume source;
  ASSERT_NO_FATAL_FAILURE(NewVolume("sparse", "", true, 1024 * kMiB, &source));
  ASSERT_NO_FATAL_FAILURE(Up(source));
  std::string data(10 * kMiB, '\0');
  for (size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<char>((i * 2654435761u) >> 13);
  }
  ASSERT_TRUE(WriteAt(source.target, 300 * kMiB, data));
  ASSERT_TRUE(WriteAt(source.target, 900 * kMiB, "tail marker"));
  EXPECT_LT(DiskUsage(ImageFile(source.id)), static_cast<int64_t>(64 * kMiB));

  std::string snap;
  ASSERT_NO_FATAL_FAILURE(
      TakeSnapshot("sparse-snap", source, 1024 * kMiB, &snap));
  struct stat st;
  ASSERT_EQ(stat(SnapshotFile(snap).c_str(), &st), 0)
      << SnapshotFile(snap) << ": " << strerror(errno);
  EXPECT_EQ(st.st_size, static_cast<off_t>(1024 * kMiB));
  const int64_t used = static_cast<int64_t>(st.st_blocks) * 512;
  std::cerr << "snapshot of 1 GiB with 10 MiB written uses " << used
            << " bytes of disk\n";
  EXPECT_LT(used, static_cast<int64_t>(64 * kMiB));
  EXPECT_GE(used, static_cast<int64_t>(10 * kMiB)) << "the data was not copied";

  Volume restored;
  ASSERT_NO_FATAL_FAILURE(NewVolumeFrom("sparse-restored", "", true,
                                        1024 * kMiB, snap, "", &restored));
  EXPECT_LT(DiskUsage(ImageFile(restored.id)), static_cast<int64_t>(64 * kMiB));
  ASSERT_NO_FATAL_FAILURE(Up(restored));
  EXPECT_TRUE(ReadAt(restored.target, 300 * kMiB, data.size()) == data);
  EXPECT_EQ(ReadAt(restored.target, 900 * kMiB, 11), "tail marker");
  EXPECT_EQ(ReadAt(restored.target, 600 * kMiB, 4), std::string(4, '\0'));

  ASSERT_NO_FATAL_FAILURE(Down(restored));
  ASSERT_NO_FATAL_FAILURE(Down(source));
  ASSERT_TRUE(DeleteSnapshot(snap).ok());
  ExpectNothingLeft();
}

}  // namespace
}  // namespace cellar
