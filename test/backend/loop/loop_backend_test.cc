// The loop backend on the fakes: capacity accounting with and without an
// overprovision bound.
#include "src/backend/loop/loop_backend.h"

#include "gtest/gtest.h"
#include "src/common/ids.h"
#include "src/platform/fake_filesystem.h"
#include "src/platform/fake_loop_device.h"

namespace cellar {
namespace {

constexpr char kDir[] = "/data/loop";
constexpr uint64_t kGiB = 1ull << 30;

class LoopBackendTest : public ::testing::Test {
 protected:
  LoopBackendTest() {
    EXPECT_TRUE(fs_.MakeDirs(kDir, 0700).ok());
    FsStats stats;
    stats.total_bytes = 10 * kGiB;
    stats.free_bytes = 8 * kGiB;
    stats.available_bytes = 8 * kGiB;
    fs_.SetFsStats(stats);
  }

  VolumeRecord Record(const std::string& name, uint64_t bytes) {
    VolumeRecord record;
    record.set_volume_id(MakeId(IdKind::kVolume, "n", "default", name));
    record.set_name(name);
    record.set_capacity_bytes(static_cast<int64_t>(bytes));
    record.set_allocation("thin");
    record.set_fs_type("ext4");
    return record;
  }

  FakeFileSystem fs_;
  FakeLoopDevices loops_;
};

TEST_F(LoopBackendTest, WithoutABoundThinImagesMayPromiseTheDiskManyTimes) {
  LoopBackend backend({kDir, 0, 0}, &fs_, &loops_);
  // Sparse images take no space: each fits in the free space on its own.
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(backend.Create(Record("v" + std::to_string(i), 6 * kGiB)).ok());
  }
}

TEST_F(LoopBackendTest, OverprovisionBoundsWhatAllImagesPromise) {
  // 10 GiB filesystem, 1 GiB reserve, ratio 1.5: 13.5 GiB may be promised.
  LoopBackend backend({kDir, kGiB, 1.5}, &fs_, &loops_);
  EXPECT_EQ(backend.Capacity()->available_bytes, 7 * kGiB);  // free - reserve
  ASSERT_TRUE(backend.Create(Record("a", 6 * kGiB)).ok());
  ASSERT_TRUE(backend.Create(Record("b", 6 * kGiB)).ok());
  // 12 GiB promised: 1.5 GiB left, although the disk is still empty.
  EXPECT_EQ(backend.Capacity()->available_bytes, 3 * kGiB / 2);
  const absl::StatusOr<VolumeRecord> refused =
      backend.Create(Record("c", 2 * kGiB));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(backend.List()->size(), 2u);
  // Restores and clones count too.
  VolumeRecord clone = Record("clone", 2 * kGiB);
  EXPECT_EQ(
      backend.CreateFromSource(clone, Record("a", 0).volume_id(), NoFreeze())
          .status()
          .code(),
      absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(backend.Create(Record("d", kGiB)).ok());
  EXPECT_TRUE(backend.Delete(Record("a", 0).volume_id()).ok());
  EXPECT_EQ(backend.Capacity()->available_bytes, 13 * kGiB / 2);
}

TEST_F(LoopBackendTest, SnapshotsCountAgainstTheBound) {
  LoopBackend backend({kDir, kGiB, 1.0}, &fs_, &loops_);  // 9 GiB promised
  ASSERT_TRUE(backend.Create(Record("a", 4 * kGiB)).ok());
  loops_.AddImage(backend.ImagePath(Record("a", 0).volume_id()), 4 * kGiB);
  SnapshotRecord snapshot;
  snapshot.set_snapshot_id(MakeId(IdKind::kSnapshot, "n", "default", "s1"));
  snapshot.set_source_volume_id(Record("a", 0).volume_id());
  ASSERT_TRUE(backend.CreateSnapshot(snapshot, nullptr).ok());
  // 8 GiB promised now: a second 4 GiB snapshot does not fit.
  snapshot.set_snapshot_id(MakeId(IdKind::kSnapshot, "n", "default", "s2"));
  EXPECT_EQ(backend.CreateSnapshot(snapshot, nullptr).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(backend.ListSnapshots()->size(), 1u);
}

}  // namespace
}  // namespace cellar
