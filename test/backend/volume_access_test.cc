// VolumeAccess: every handler reaches an id by route -> lock -> read, and an
// id that fails a step holds nothing afterwards.
#include "src/backend/volume_access.h"

#include <string>

#include "gtest/gtest.h"
#include "src/backend/loop/loop_backend.h"
#include "src/backend/router.h"
#include "src/common/ids.h"
#include "src/common/volume_locks.h"
#include "test/fakes/fake_filesystem.h"
#include "test/fakes/fake_loop_device.h"

namespace cellar {
namespace {

constexpr char kNode[] = "node-1";
constexpr char kDir[] = "/data/fast";

class VolumeAccessTest : public ::testing::Test {
 protected:
  VolumeAccessTest()
      : backend_({kDir, 0, 0}, &fs_, &loops_),
        router_(kNode, {{"fast", &backend_}}),
        access_(&router_, &locks_) {
    EXPECT_TRUE(fs_.MakeDirs(kDir, 0700).ok());
    FsStats stats;
    stats.total_bytes = stats.free_bytes = stats.available_bytes = 1ull << 30;
    fs_.SetFsStats(stats);
    VolumeRecord record;
    record.set_volume_id(volume_);
    record.set_name("a");
    record.set_capacity_bytes(1 << 20);
    record.set_allocation("thin");
    record.set_fs_type("ext4");
    EXPECT_TRUE(backend_.Create(record).ok());
    SnapshotRecord snapshot;
    snapshot.set_snapshot_id(snapshot_);
    snapshot.set_name("s");
    snapshot.set_source_volume_id(volume_);
    EXPECT_TRUE(backend_.CreateSnapshot(snapshot, nullptr).ok());
  }

  // True when nobody holds `id`'s lock (and leaves it free).
  bool Free(const std::string& id) {
    if (!locks_.TryLock(id)) return false;
    locks_.Unlock(id);
    return true;
  }

  const std::string volume_ = MakeId(IdKind::kVolume, kNode, "fast", "a");
  const std::string snapshot_ = MakeId(IdKind::kSnapshot, kNode, "fast", "s");
  FakeFileSystem fs_;
  FakeLoopDevices loops_;
  LoopBackend backend_;
  BackendRouter router_;
  VolumeLocks locks_;
  VolumeAccess access_;
};

TEST_F(VolumeAccessTest, LockVolumeHoldsTheLockAndReturnsIdBackendAndRecord) {
  {
    absl::StatusOr<HeldVolume> held = access_.LockVolume(volume_);
    ASSERT_TRUE(held.ok()) << held.status();
    EXPECT_EQ(held->backend, &backend_);
    EXPECT_EQ(held->id.kind, IdKind::kVolume);
    EXPECT_EQ(held->id.device_class, "fast");
    EXPECT_EQ(held->record.volume_id(), volume_);
    EXPECT_EQ(held->record.capacity_bytes(), 1 << 20);
    EXPECT_FALSE(Free(volume_));

    absl::StatusOr<HeldVolume> again = access_.LockVolume(volume_);
    EXPECT_EQ(again.status().code(), absl::StatusCode::kAborted);
    EXPECT_NE(again.status().message().find(volume_), std::string::npos);
    // A read-only handler still answers while the volume is busy.
    absl::StatusOr<HeldVolume> read = access_.ReadVolume(volume_);
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(read->lock, nullptr);
    EXPECT_EQ(read->record.name(), "a");
  }
  EXPECT_TRUE(Free(volume_));
}

TEST_F(VolumeAccessTest, AnIdThatDoesNotRouteIsNotFoundAndTakesNoLock) {
  const std::string other_node = MakeId(IdKind::kVolume, "node-2", "fast", "a");
  const std::string other_class = MakeId(IdKind::kVolume, kNode, "slow", "a");
  for (const std::string& id :
       {other_node, other_class, snapshot_, std::string("not-an-id")}) {
    SCOPED_TRACE(id);
    EXPECT_EQ(access_.LockVolume(id).status().code(),
              absl::StatusCode::kNotFound);
    EXPECT_EQ(access_.Lock(id, IdKind::kVolume).status().code(),
              absl::StatusCode::kNotFound);
    EXPECT_EQ(access_.ReadVolume(id).status().code(),
              absl::StatusCode::kNotFound);
    EXPECT_TRUE(Free(id));
  }
  // Routing comes before the lock: a busy id of another node is still
  // NOT_FOUND, not ABORTED.
  ASSERT_TRUE(locks_.TryLock(other_node));
  EXPECT_EQ(access_.LockVolume(other_node).status().code(),
            absl::StatusCode::kNotFound);
  locks_.Unlock(other_node);
}

TEST_F(VolumeAccessTest, AMissingRecordIsNotFoundAndReleasesTheLock) {
  const std::string missing = MakeId(IdKind::kVolume, kNode, "fast", "gone");
  EXPECT_EQ(access_.LockVolume(missing).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(Free(missing));
  // Lock alone reads no record, so it holds a routed id without one.
  absl::StatusOr<HeldId> held = access_.Lock(missing, IdKind::kVolume);
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_EQ(held->backend, &backend_);
  EXPECT_EQ(held->id.unique, ParseId(missing)->unique);
  EXPECT_FALSE(Free(missing));
}

TEST_F(VolumeAccessTest, SnapshotsGoTheSameWay) {
  {
    absl::StatusOr<HeldSnapshot> held = access_.LockSnapshot(snapshot_);
    ASSERT_TRUE(held.ok()) << held.status();
    EXPECT_EQ(held->id.kind, IdKind::kSnapshot);
    EXPECT_EQ(held->record.source_volume_id(), volume_);
    EXPECT_EQ(access_.LockSnapshot(snapshot_).status().code(),
              absl::StatusCode::kAborted);
    absl::StatusOr<HeldSnapshot> read = access_.ReadSnapshot(snapshot_);
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(read->record.name(), "s");
  }
  EXPECT_TRUE(Free(snapshot_));
  EXPECT_EQ(access_.LockSnapshot(volume_).status().code(),
            absl::StatusCode::kNotFound);
  const std::string missing = MakeId(IdKind::kSnapshot, kNode, "fast", "gone");
  EXPECT_EQ(access_.ReadSnapshot(missing).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(access_.LockSnapshot(missing).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(Free(missing));
}

}  // namespace
}  // namespace cellar
