// The loop backend on the fakes: capacity accounting with and without an
// overprovision bound, and every method of the Backend contract: files and
// records, idempotent creates and deletes, attachment through the loop
// devices, snapshots, restores and clones.
#include "src/backend/loop/loop_backend.h"

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "src/common/ids.h"
#include "test/fakes/fake_filesystem.h"
#include "test/fakes/fake_loop_device.h"

namespace cellar {
namespace {

constexpr char kDir[] = "/data/loop";
constexpr uint64_t kGiB = 1ull << 30;
constexpr uint64_t kMiB = 1ull << 20;

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

// The rest of the contract, over one class without a bound.
class LoopContractTest : public LoopBackendTest {
 protected:
  LoopContractTest() : backend_({kDir, kGiB, 0}, &fs_, &loops_) {}

  std::string Id(const std::string& name) {
    return Record(name, 0).volume_id();
  }
  static std::string SnapshotId(const std::string& name) {
    return MakeId(IdKind::kSnapshot, "n", "default", name);
  }
  SnapshotRecord SnapshotOf(const std::string& name,
                            const std::string& volume_id) {
    SnapshotRecord record;
    record.set_snapshot_id(SnapshotId(name));
    record.set_name(name);
    record.set_source_volume_id(volume_id);
    record.set_creation_unix(1700000000);
    return record;
  }
  // Attach needs the image known to the fake loop devices.
  std::string Attached(const std::string& name, uint64_t bytes) {
    const std::string id = Id(name);
    EXPECT_TRUE(backend_.Create(Record(name, bytes)).ok());
    loops_.AddImage(backend_.ImagePath(id), bytes);
    absl::StatusOr<std::string> device = backend_.Attach(id);
    EXPECT_TRUE(device.ok()) << device.status();
    return device.ok() ? *device : "";
  }
  bool Exists(const std::string& path) { return fs_.Stat(path).ok(); }

  LoopBackend backend_;
};

TEST_F(LoopContractTest, KindPathsAndReady) {
  EXPECT_EQ(backend_.kind(), "loop");
  EXPECT_FALSE(backend_.SnapshotSuspendsOrigin());
  const std::string id = Id("a");
  EXPECT_EQ(backend_.ImagePath(id), std::string(kDir) + "/" + id + ".img");
  EXPECT_EQ(backend_.RecordPath(id), std::string(kDir) + "/" + id + ".json");
  const std::string snap = SnapshotId("s");
  EXPECT_EQ(backend_.SnapshotPath(snap),
            std::string(kDir) + "/" + snap + ".snap");
  EXPECT_EQ(backend_.SnapshotRecordPath(snap),
            std::string(kDir) + "/" + snap + ".snapshot.json");

  EXPECT_TRUE(backend_.Ready().ok());
  LoopBackend missing({"/data/none", 0, 0}, &fs_, &loops_);
  EXPECT_EQ(missing.Ready().code(), absl::StatusCode::kUnavailable);
  fs_.AddFile("/data/file");
  LoopBackend not_a_dir({"/data/file", 0, 0}, &fs_, &loops_);
  EXPECT_EQ(not_a_dir.Ready().code(), absl::StatusCode::kUnavailable);
}

TEST_F(LoopContractTest, CapacityIsTheFreeSpaceAfterTheReserve) {
  absl::StatusOr<BackendCapacity> capacity = backend_.Capacity();
  ASSERT_TRUE(capacity.ok());
  EXPECT_EQ(capacity->available_bytes, 7 * kGiB);
  EXPECT_EQ(capacity->max_volume_bytes, 7 * kGiB);
  // Not a whole MiB: the largest volume is rounded down to one.
  FsStats stats;
  stats.total_bytes = 10 * kGiB;
  stats.free_bytes = stats.available_bytes = kGiB + 5 * kMiB + 123;
  fs_.SetFsStats(stats);
  capacity = backend_.Capacity();
  EXPECT_EQ(capacity->available_bytes, 5 * kMiB + 123);
  EXPECT_EQ(capacity->max_volume_bytes, 5 * kMiB);
  // Less free than the reserve: nothing, not a wrapped-around figure.
  stats.free_bytes = stats.available_bytes = kGiB / 2;
  fs_.SetFsStats(stats);
  capacity = backend_.Capacity();
  EXPECT_EQ(capacity->available_bytes, 0u);
  EXPECT_EQ(capacity->max_volume_bytes, 0u);
  EXPECT_EQ(backend_.Create(Record("a", kMiB)).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST_F(LoopContractTest, StatsCountWhatIsPromised) {
  ASSERT_TRUE(backend_.Create(Record("a", 3 * kGiB)).ok());
  ASSERT_TRUE(backend_.Create(Record("b", kGiB)).ok());
  ASSERT_TRUE(backend_.CreateSnapshot(SnapshotOf("s", Id("a")), nullptr).ok());
  absl::StatusOr<BackendStats> stats = backend_.Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->capacity_bytes, 9 * kGiB);  // 10 GiB less the reserve
  EXPECT_EQ(stats->available_bytes, 7 * kGiB);
  EXPECT_EQ(stats->allocated_bytes, 7 * kGiB);  // 3 + 1 + the 3 GiB snapshot
  EXPECT_EQ(stats->volumes, 2u);
  EXPECT_EQ(stats->snapshots, 1u);
  EXPECT_TRUE(stats->has_image_fs);
  EXPECT_FALSE(stats->has_vg);
  EXPECT_FALSE(stats->has_pool);
  EXPECT_EQ(stats->image_fs.size_bytes, 10 * kGiB);
  EXPECT_EQ(stats->image_fs.free_bytes, 8 * kGiB);
  EXPECT_EQ(stats->image_fs.promised_bytes, 7 * kGiB);

  // With a bound, the capacity is the bound and what is left of it.
  LoopBackend bounded({kDir, kGiB, 2.0}, &fs_, &loops_);
  stats = bounded.Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->capacity_bytes, 18 * kGiB);
  EXPECT_EQ(stats->available_bytes, 7 * kGiB);  // the free space is smaller
  EXPECT_EQ(stats->allocated_bytes, 7 * kGiB);

  LoopBackend missing({"/data/none", 0, 0}, &fs_, &loops_);
  EXPECT_FALSE(missing.Stats().ok());
}

TEST_F(LoopContractTest, CreateWritesTheRecordThenTheImage) {
  VolumeRecord record = Record("a", 64 * kMiB);
  absl::StatusOr<VolumeRecord> created = backend_.Create(record);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->SerializeAsString(), record.SerializeAsString());
  absl::StatusOr<FileInfo> image = fs_.Stat(backend_.ImagePath(Id("a")));
  ASSERT_TRUE(image.ok());
  EXPECT_EQ(image->type, FileType::kRegular);
  EXPECT_EQ(image->size, 64 * kMiB);
  EXPECT_EQ(image->mode & 0777, 0600u);
  absl::StatusOr<FileInfo> json = fs_.Stat(backend_.RecordPath(Id("a")));
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(json->mode & 0777, 0600u);
  absl::StatusOr<VolumeRecord> got = backend_.Get(Id("a"));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->SerializeAsString(), record.SerializeAsString());
  // A thin image takes no space; a thick one takes all of it at once.
  EXPECT_EQ(fs_.StatFs(kDir)->available_bytes, 8 * kGiB);
  VolumeRecord thick = Record("t", kGiB);
  thick.set_allocation("thick");
  ASSERT_TRUE(backend_.Create(thick).ok());
  EXPECT_EQ(fs_.StatFs(kDir)->available_bytes, 7 * kGiB);
}

TEST_F(LoopContractTest, CreateOfAnExistingIdReturnsItsRecordUntouched) {
  ASSERT_TRUE(backend_.Create(Record("a", 64 * kMiB)).ok());
  VolumeRecord bigger = Record("a", 128 * kMiB);
  bigger.set_fs_type("xfs");
  absl::StatusOr<VolumeRecord> again = backend_.Create(bigger);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->capacity_bytes(), static_cast<int64_t>(64 * kMiB));
  EXPECT_EQ(again->fs_type(), "ext4");
  EXPECT_EQ(fs_.Stat(backend_.ImagePath(Id("a")))->size, 64 * kMiB);
  // A record left without its image (a crash between the two): the retry
  // makes the image, of the recorded size.
  ASSERT_TRUE(fs_.Remove(backend_.ImagePath(Id("a"))).ok());
  again = backend_.Create(Record("a", 64 * kMiB));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(fs_.Stat(backend_.ImagePath(Id("a")))->size, 64 * kMiB);
  EXPECT_EQ(backend_.List()->size(), 1u);
}

TEST_F(LoopContractTest, CreateRefusesOtherIdsAndWhatDoesNotFit) {
  for (const std::string& bad :
       {std::string(""), std::string("../../etc/passwd"),
        std::string("v_n_default_zz"), SnapshotId("s")}) {
    VolumeRecord record = Record("x", kMiB);
    record.set_volume_id(bad);
    EXPECT_EQ(backend_.Create(record).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
  // 8 GiB free less the 1 GiB reserve.
  EXPECT_EQ(backend_.Create(Record("big", 7 * kGiB + 1)).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(backend_.Create(Record("fits", 7 * kGiB)).ok());
  // Only the fitting volume's two files exist.
  absl::StatusOr<std::vector<std::string>> names = fs_.ListDir(kDir);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(names->size(), 2u);
  EXPECT_FALSE(Exists(backend_.RecordPath(Id("big"))));
}

TEST_F(LoopContractTest, GetTellsMissingFromDamaged) {
  EXPECT_EQ(backend_.Get(Id("ghost")).status().code(),
            absl::StatusCode::kNotFound);
  for (const std::string& bad :
       {std::string(""), std::string("garbage"), SnapshotId("s")}) {
    EXPECT_EQ(backend_.Get(bad).status().code(), absl::StatusCode::kNotFound)
        << bad;
  }
  fs_.AddFile(backend_.RecordPath(Id("junk")), "{not json");
  EXPECT_EQ(backend_.Get(Id("junk")).status().code(),
            absl::StatusCode::kDataLoss);
  // A record naming another volume is not that volume's record.
  VolumeRecord other = Record("other", kMiB);
  fs_.AddFile(backend_.RecordPath(Id("moved")), RecordToJson(other));
  EXPECT_EQ(backend_.Get(Id("moved")).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST_F(LoopContractTest, ListHasEveryVolumeSortedAndNothingElse) {
  std::vector<std::string> ids;
  for (const char* name : {"c", "a", "b"}) {
    ASSERT_TRUE(backend_.Create(Record(name, kMiB)).ok());
    ids.push_back(Id(name));
  }
  std::sort(ids.begin(), ids.end());
  ASSERT_TRUE(backend_.CreateSnapshot(SnapshotOf("s", ids[0]), nullptr).ok());
  fs_.AddFile(std::string(kDir) + "/lost+found.json", "{}");
  fs_.AddFile(std::string(kDir) + "/notes.txt", "x");
  fs_.AddFile(backend_.ImagePath(Id("orphan")), "");
  absl::StatusOr<std::vector<VolumeRecord>> list = backend_.List();
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 3u);
  for (size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ((*list)[i].volume_id(), ids[i]);
  }
  absl::StatusOr<std::vector<SnapshotRecord>> snapshots =
      backend_.ListSnapshots();
  ASSERT_TRUE(snapshots.ok());
  ASSERT_EQ(snapshots->size(), 1u);
  EXPECT_EQ(snapshots->front().snapshot_id(), SnapshotId("s"));
}

TEST_F(LoopContractTest, DeleteIsIdempotentAndRefusesAnAttachedVolume) {
  EXPECT_TRUE(backend_.Delete(Id("ghost")).ok());
  EXPECT_TRUE(backend_.Delete("garbage").ok());
  EXPECT_TRUE(backend_.Delete("").ok());

  const std::string device = Attached("a", 4 * kMiB);
  const absl::Status refused = backend_.Delete(Id("a"));
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.message().find(device), std::string::npos)
      << refused.message();
  EXPECT_TRUE(Exists(backend_.ImagePath(Id("a"))));
  EXPECT_TRUE(Exists(backend_.RecordPath(Id("a"))));

  ASSERT_TRUE(backend_.Detach(Id("a")).ok());
  EXPECT_TRUE(backend_.Delete(Id("a")).ok());
  EXPECT_FALSE(Exists(backend_.ImagePath(Id("a"))));
  EXPECT_FALSE(Exists(backend_.RecordPath(Id("a"))));
  EXPECT_EQ(backend_.Get(Id("a")).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(backend_.Delete(Id("a")).ok());

  // Half deleted (image gone, record kept): the retry finishes it.
  ASSERT_TRUE(backend_.Create(Record("b", kMiB)).ok());
  ASSERT_TRUE(fs_.Remove(backend_.ImagePath(Id("b"))).ok());
  EXPECT_TRUE(backend_.Delete(Id("b")).ok());
  EXPECT_TRUE(backend_.List()->empty());
}

TEST_F(LoopContractTest, ExpandGrowsNeverShrinksAndChecksTheSpace) {
  EXPECT_EQ(backend_.Expand(Id("ghost"), kGiB).status().code(),
            absl::StatusCode::kNotFound);
  ASSERT_TRUE(backend_.Create(Record("a", 64 * kMiB)).ok());
  absl::StatusOr<uint64_t> size = backend_.Expand(Id("a"), 128 * kMiB);
  ASSERT_TRUE(size.ok()) << size.status();
  EXPECT_EQ(*size, 128 * kMiB);
  EXPECT_EQ(fs_.Stat(backend_.ImagePath(Id("a")))->size, 128 * kMiB);
  EXPECT_EQ(backend_.Get(Id("a"))->capacity_bytes(),
            static_cast<int64_t>(128 * kMiB));
  // Smaller or equal: the current size, nothing changes.
  for (uint64_t smaller : {uint64_t{0}, 64 * kMiB, 128 * kMiB}) {
    size = backend_.Expand(Id("a"), smaller);
    ASSERT_TRUE(size.ok());
    EXPECT_EQ(*size, 128 * kMiB);
  }
  EXPECT_EQ(fs_.Stat(backend_.ImagePath(Id("a")))->size, 128 * kMiB);
  // Growth beyond the free space less the reserve.
  EXPECT_EQ(backend_.Expand(Id("a"), 128 * kMiB + 7 * kGiB + 1).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(backend_.Get(Id("a"))->capacity_bytes(),
            static_cast<int64_t>(128 * kMiB));
  // A thick volume takes its growth from the disk at once.
  VolumeRecord thick = Record("t", kGiB);
  thick.set_allocation("thick");
  ASSERT_TRUE(backend_.Create(thick).ok());
  ASSERT_TRUE(backend_.Expand(Id("t"), 2 * kGiB).ok());
  EXPECT_EQ(fs_.StatFs(kDir)->available_bytes, 6 * kGiB);
}

TEST_F(LoopContractTest, AttachIsIdempotentAndFindDeviceFindsIt) {
  EXPECT_EQ(backend_.Attach(Id("ghost")).status().code(),
            absl::StatusCode::kNotFound);
  const std::string device = Attached("a", 4 * kMiB);
  EXPECT_EQ(device, "/dev/loop0");
  EXPECT_EQ(loops_.attach_count(), 1);
  absl::StatusOr<std::string> again = backend_.Attach(Id("a"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, device);
  EXPECT_EQ(loops_.attach_count(), 1);  // looked up, not attached twice
  absl::StatusOr<std::string> found = backend_.FindDevice(Id("a"));
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(*found, device);

  // Another volume gets a device of its own.
  EXPECT_EQ(Attached("b", 4 * kMiB), "/dev/loop1");
  EXPECT_EQ(*backend_.FindDevice(Id("a")), device);

  for (const std::string& none : {Id("ghost"), std::string("garbage")}) {
    EXPECT_EQ(backend_.FindDevice(none).status().code(),
              absl::StatusCode::kNotFound)
        << none;
  }
}

TEST_F(LoopContractTest, DetachIsIdempotent) {
  Attached("a", 4 * kMiB);
  ASSERT_TRUE(backend_.Detach(Id("a")).ok());
  EXPECT_EQ(backend_.FindDevice(Id("a")).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(loops_.List()->empty());
  EXPECT_TRUE(backend_.Detach(Id("a")).ok());
  EXPECT_TRUE(backend_.Detach(Id("ghost")).ok());
  EXPECT_TRUE(backend_.Detach("garbage").ok());
  // A device in use stays attached and says so.
  Attached("b", 4 * kMiB);
  loops_.FailNextDetach(absl::FailedPreconditionError("busy"));
  EXPECT_EQ(backend_.Detach(Id("b")).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(backend_.FindDevice(Id("b")).ok());
  // A device that went meanwhile (NOT_FOUND) is no failure.
  loops_.FailNextDetach(absl::NotFoundError("gone"));
  EXPECT_TRUE(backend_.Detach(Id("b")).ok());
}

TEST_F(LoopContractTest, RefreshDeviceShowsTheGrownImage) {
  const std::string device = Attached("a", 4 * kMiB);
  ASSERT_TRUE(backend_.Expand(Id("a"), 8 * kMiB).ok());
  loops_.SetImageSize(backend_.ImagePath(Id("a")), 8 * kMiB);
  ASSERT_TRUE(backend_.RefreshDevice(Id("a")).ok());
  absl::StatusOr<std::vector<LoopInfo>> loops = loops_.List();
  ASSERT_TRUE(loops.ok());
  ASSERT_EQ(loops->size(), 1u);
  EXPECT_EQ(loops->front().device, device);
  EXPECT_EQ(loops->front().size_bytes, 8 * kMiB);
  // Not attached: nothing to refresh.
  ASSERT_TRUE(backend_.Create(Record("b", kMiB)).ok());
  EXPECT_TRUE(backend_.RefreshDevice(Id("b")).ok());
}

TEST_F(LoopContractTest, VolumeTroubleIsNoneOrNotFound) {
  ASSERT_TRUE(backend_.Create(Record("a", kMiB)).ok());
  absl::StatusOr<std::string> trouble = backend_.VolumeTrouble(Id("a"));
  ASSERT_TRUE(trouble.ok());
  EXPECT_EQ(*trouble, "");
  EXPECT_EQ(backend_.VolumeTrouble(Id("ghost")).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(LoopContractTest, ASnapshotCopiesTheImageAndRecordsTheSource) {
  VolumeRecord source = Record("a", 64 * kMiB);
  source.set_fs_type("xfs");
  source.set_encrypted(true);
  ASSERT_TRUE(backend_.Create(source).ok());
  fs_.AddFile(backend_.ImagePath(Id("a")), "data");  // what the copy reads
  uint64_t copied = 12345;
  absl::StatusOr<SnapshotRecord> taken =
      backend_.CreateSnapshot(SnapshotOf("s", Id("a")), &copied);
  ASSERT_TRUE(taken.ok()) << taken.status();
  EXPECT_EQ(copied, 4u);
  EXPECT_EQ(taken->snapshot_id(), SnapshotId("s"));
  EXPECT_EQ(taken->name(), "s");
  EXPECT_EQ(taken->source_volume_id(), Id("a"));
  EXPECT_EQ(taken->creation_unix(), 1700000000);
  EXPECT_EQ(taken->size_bytes(), static_cast<int64_t>(64 * kMiB));
  EXPECT_EQ(taken->fs_type(), "xfs");
  EXPECT_FALSE(taken->block());
  EXPECT_TRUE(taken->encrypted());
  // The key of an encrypted volume is derived from the original's id.
  EXPECT_EQ(taken->encryption_key_id(), Id("a"));
  EXPECT_FALSE(taken->pending_copy());
  EXPECT_EQ(*fs_.ReadFile(backend_.SnapshotPath(SnapshotId("s"))), "data");
  EXPECT_EQ(fs_.Stat(backend_.SnapshotPath(SnapshotId("s")))->mode & 0777,
            0600u);
  absl::StatusOr<SnapshotRecord> got = backend_.GetSnapshot(SnapshotId("s"));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->SerializeAsString(), taken->SerializeAsString());

  // A restored volume keeps the key of the original through its snapshots.
  VolumeRecord restored = Record("r", 64 * kMiB);
  restored.set_encryption_key_id(Id("a"));
  ASSERT_TRUE(
      backend_.CreateFromSource(restored, SnapshotId("s"), NoFreeze()).ok());
  absl::StatusOr<SnapshotRecord> of_restored =
      backend_.CreateSnapshot(SnapshotOf("s2", Id("r")), nullptr);
  ASSERT_TRUE(of_restored.ok()) << of_restored.status();
  EXPECT_EQ(of_restored->encryption_key_id(), Id("a"));
}

TEST_F(LoopContractTest, SnapshotCreateIsIdempotentAndValidated) {
  ASSERT_TRUE(backend_.Create(Record("a", 4 * kMiB)).ok());
  ASSERT_TRUE(backend_.Create(Record("b", 8 * kMiB)).ok());
  ASSERT_TRUE(backend_.CreateSnapshot(SnapshotOf("s", Id("a")), nullptr).ok());
  // The same id again, even for another source: the stored one, untouched.
  absl::StatusOr<SnapshotRecord> again =
      backend_.CreateSnapshot(SnapshotOf("s", Id("b")), nullptr);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->source_volume_id(), Id("a"));
  EXPECT_EQ(again->size_bytes(), static_cast<int64_t>(4 * kMiB));

  for (const std::string& bad :
       {std::string(""), std::string("garbage"), Id("a")}) {
    SnapshotRecord record = SnapshotOf("x", Id("a"));
    record.set_snapshot_id(bad);
    EXPECT_EQ(backend_.CreateSnapshot(record, nullptr).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
  EXPECT_EQ(backend_.CreateSnapshot(SnapshotOf("x", Id("ghost")), nullptr)
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  // No space at all beyond the reserve: even a sparse copy is refused.
  FsStats stats;
  stats.total_bytes = 10 * kGiB;
  stats.free_bytes = stats.available_bytes = kGiB;
  fs_.SetFsStats(stats);
  EXPECT_EQ(backend_.CreateSnapshot(SnapshotOf("y", Id("a")), nullptr)
                .status()
                .code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(backend_.ListSnapshots()->size(), 1u);
}

TEST_F(LoopContractTest, GetAndDeleteSnapshot) {
  for (const std::string& none :
       {SnapshotId("ghost"), std::string("garbage"), Id("a")}) {
    EXPECT_EQ(backend_.GetSnapshot(none).status().code(),
              absl::StatusCode::kNotFound)
        << none;
  }
  fs_.AddFile(backend_.SnapshotRecordPath(SnapshotId("junk")), "[]");
  EXPECT_EQ(backend_.GetSnapshot(SnapshotId("junk")).status().code(),
            absl::StatusCode::kDataLoss);
  SnapshotRecord elsewhere = SnapshotOf("other", Id("a"));
  fs_.AddFile(backend_.SnapshotRecordPath(SnapshotId("moved")),
              RecordToJson(elsewhere));
  EXPECT_EQ(backend_.GetSnapshot(SnapshotId("moved")).status().code(),
            absl::StatusCode::kDataLoss);

  ASSERT_TRUE(backend_.Create(Record("a", kMiB)).ok());
  ASSERT_TRUE(backend_.CreateSnapshot(SnapshotOf("s", Id("a")), nullptr).ok());
  ASSERT_TRUE(backend_.DeleteSnapshot(SnapshotId("s")).ok());
  EXPECT_FALSE(Exists(backend_.SnapshotPath(SnapshotId("s"))));
  EXPECT_FALSE(Exists(backend_.SnapshotRecordPath(SnapshotId("s"))));
  EXPECT_EQ(backend_.GetSnapshot(SnapshotId("s")).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(backend_.DeleteSnapshot(SnapshotId("s")).ok());
  EXPECT_TRUE(backend_.DeleteSnapshot("garbage").ok());
  // A volume id is not a snapshot: its files are left alone.
  EXPECT_TRUE(backend_.DeleteSnapshot(Id("a")).ok());
  EXPECT_TRUE(backend_.Get(Id("a")).ok());
  // The source volume is untouched by its snapshot's delete.
  EXPECT_TRUE(Exists(backend_.ImagePath(Id("a"))));
}

TEST_F(LoopContractTest, CreateFromSourceCopiesGrowsAndIsIdempotent) {
  ASSERT_TRUE(backend_.Create(Record("a", 4 * kMiB)).ok());
  fs_.AddFile(backend_.ImagePath(Id("a")), "origin");
  ASSERT_TRUE(backend_.CreateSnapshot(SnapshotOf("s", Id("a")), nullptr).ok());

  // From the snapshot, larger than it.
  VolumeRecord restore = Record("r", 16 * kMiB);
  absl::StatusOr<VolumeRecord> restored =
      backend_.CreateFromSource(restore, SnapshotId("s"), NoFreeze());
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->SerializeAsString(), restore.SerializeAsString());
  EXPECT_EQ(*fs_.ReadFile(backend_.ImagePath(Id("r"))), "origin");
  EXPECT_EQ(fs_.Stat(backend_.ImagePath(Id("r")))->size, 16 * kMiB);
  EXPECT_EQ(backend_.Get(Id("r"))->capacity_bytes(),
            static_cast<int64_t>(16 * kMiB));

  // From the live volume: the copy runs inside the freeze, once.
  int freezes = 0;
  const FreezeScope counting =
      [&freezes](const std::function<absl::Status()>& instant) {
        ++freezes;
        return instant();
      };
  VolumeRecord clone = Record("c", 4 * kMiB);
  ASSERT_TRUE(backend_.CreateFromSource(clone, Id("a"), counting).ok());
  EXPECT_EQ(freezes, 1);
  EXPECT_EQ(*fs_.ReadFile(backend_.ImagePath(Id("c"))), "origin");
  // Done already: the stored record, no second copy.
  VolumeRecord bigger = Record("c", 8 * kMiB);
  absl::StatusOr<VolumeRecord> again =
      backend_.CreateFromSource(bigger, Id("a"), counting);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->capacity_bytes(), static_cast<int64_t>(4 * kMiB));
  EXPECT_EQ(freezes, 1);
  // A freeze that fails fails the call.
  const FreezeScope failing = [](const std::function<absl::Status()>&) {
    return absl::InternalError("cannot freeze");
  };
  absl::StatusOr<VolumeRecord> unfrozen =
      backend_.CreateFromSource(Record("d", 4 * kMiB), Id("a"), failing);
  EXPECT_EQ(unfrozen.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(unfrozen.status().message(), "cannot freeze");
  EXPECT_FALSE(Exists(backend_.ImagePath(Id("d"))));
  // What the failed call wrote is gone: no volume without data is listed.
  EXPECT_EQ(backend_.Get(Id("d")).status().code(), absl::StatusCode::kNotFound);
  const absl::StatusOr<std::vector<VolumeRecord>> listed = backend_.List();
  ASSERT_TRUE(listed.ok()) << listed.status();
  for (const VolumeRecord& volume : *listed) {
    EXPECT_NE(volume.volume_id(), Id("d"));
  }
  // The retry with a working freeze completes it.
  ASSERT_TRUE(
      backend_.CreateFromSource(Record("d", 4 * kMiB), Id("a"), NoFreeze())
          .ok());
  EXPECT_EQ(*fs_.ReadFile(backend_.ImagePath(Id("d"))), "origin");
}

TEST_F(LoopContractTest, CreateFromSourceRefusals) {
  ASSERT_TRUE(backend_.Create(Record("a", 4 * kMiB)).ok());
  VolumeRecord bad = Record("x", 4 * kMiB);
  bad.set_volume_id(SnapshotId("x"));
  EXPECT_EQ(backend_.CreateFromSource(bad, Id("a"), NoFreeze()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      backend_.CreateFromSource(Record("x", 4 * kMiB), "garbage", NoFreeze())
          .status()
          .code(),
      absl::StatusCode::kNotFound);
  EXPECT_EQ(
      backend_
          .CreateFromSource(Record("big", 7 * kGiB + 1), Id("a"), NoFreeze())
          .status()
          .code(),
      absl::StatusCode::kResourceExhausted);
  EXPECT_FALSE(Exists(backend_.RecordPath(Id("big"))));
  EXPECT_FALSE(Exists(backend_.ImagePath(Id("big"))));
  EXPECT_EQ(backend_.List()->size(), 1u);
}

TEST(LoopRecordJsonTest, RoundTripsWithProtoFieldNames) {
  VolumeRecord record;
  record.set_volume_id(MakeId(IdKind::kVolume, "n", "default", "a"));
  record.set_capacity_bytes(int64_t{5} << 40);
  record.set_fs_type("xfs");
  record.set_block(true);
  (*record.mutable_parameters())["allocation"] = "thick";
  record.add_allowed_namespaces("team-b");
  const std::string json = RecordToJson(record);
  EXPECT_NE(json.find("\"volume_id\":"), std::string::npos) << json;
  EXPECT_NE(json.find("\"allowed_namespaces\":"), std::string::npos) << json;
  EXPECT_EQ(json.back(), '\n');
  VolumeRecord back;
  ASSERT_TRUE(RecordFromJson(json, &back).ok());
  EXPECT_EQ(back.SerializeAsString(), record.SerializeAsString());

  // Fields of a newer driver are ignored; what is not a record is DATA_LOSS.
  VolumeRecord newer;
  ASSERT_TRUE(
      RecordFromJson("{\"volume_id\":\"v\",\"from_the_future\":1}", &newer)
          .ok());
  EXPECT_EQ(newer.volume_id(), "v");
  for (const char* bad : {"{", "[]", "{\"capacity_bytes\":\"many\"}",
                          "{\"block\":7}", "not json"}) {
    VolumeRecord out;
    EXPECT_EQ(RecordFromJson(bad, &out).code(), absl::StatusCode::kDataLoss)
        << bad;
  }
}

}  // namespace
}  // namespace cellar
