// LvmBackend against a stateful fake of the lvm tool: argv shapes,
// records in tags, rounding, capacity accounting, error mapping, zeroing of
// new thick LVs, snapshots, restores and clones.
#include "src/backend/lvm/lvm_backend.h"

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "src/common/ids.h"
#include "src/common/units.h"
#include "test/fakes/fake_block_copier.h"
#include "test/fakes/fake_command_runner.h"
#include "test/fakes/fake_filesystem.h"
#include "test/fakes/fake_lvm.h"

namespace cellar {
namespace {

VolumeRecord Record(const std::string& name, uint64_t bytes,
                    const std::string& cls) {
  VolumeRecord record;
  record.set_volume_id(MakeId(IdKind::kVolume, "node-1", cls, name));
  record.set_name(name);
  record.set_capacity_bytes(static_cast<int64_t>(bytes));
  record.set_fs_type("ext4");
  (*record.mutable_parameters())["allowedNamespaces"] = "team-a,team-b";
  record.set_bound_namespace("team-a");
  return record;
}

SnapshotRecord Snapshot(const std::string& name, const std::string& source,
                        const std::string& cls) {
  SnapshotRecord record;
  record.set_snapshot_id(MakeId(IdKind::kSnapshot, "node-1", cls, name));
  record.set_name(name);
  record.set_source_volume_id(source);
  return record;
}

bool HasTag(const testing::FakeLvm::Lv& lv, const std::string& tag) {
  return std::find(lv.tags.begin(), lv.tags.end(), tag) != lv.tags.end();
}

class LvmBackendTest : public ::testing::Test {
 protected:
  LvmBackendTest()
      : thick_({"vg0", "", 1 * kGiB, 1.0, {"LVM_SYSTEM_DIR=/x"}}, &runner_,
               &fs_, &copier_),
        thin_({"vg0", "pool0", 0, 2.0, {}}, &runner_, &fs_, &copier_) {
    lvm_.AddVg("vg0", 10 * kGiB);
    lvm_.AddThinPool("vg0", "pool0", 2 * kGiB);
    runner_.SetHandler("lvm", lvm_.Handler());
    runner_.SetHandler("blkdiscard", lvm_.BlkdiscardHandler());
  }

  // Calls of `verb` ("lvcreate", "blkdiscard", ...) since call `from`.
  int CallsOf(const std::string& verb, size_t from = 0) {
    int n = 0;
    const std::vector<Command> calls = runner_.calls();
    for (size_t i = from; i < calls.size(); ++i) {
      n += calls[i].argv[0] == verb ||
           (calls[i].argv.size() > 1 && calls[i].argv[1] == verb);
    }
    return n;
  }

  // Device nodes as udev makes them: /dev/VG/LV -> ../dm-N.
  void AddDeviceLink(const std::string& lv, int minor) {
    fs_.AddDevice("/dev/dm-" + std::to_string(minor), 253 << 8 | minor);
    fs_.AddSymlink("/dev/vg0/" + lv, "/dev/dm-" + std::to_string(minor));
  }

  testing::FakeLvm lvm_;
  FakeCommandRunner runner_;
  FakeFileSystem fs_;
  FakeBlockCopier copier_;
  LvmBackend thick_;
  LvmBackend thin_;
};

TEST_F(LvmBackendTest, CreateRoundsRecordsAndIsIdempotent) {
  const VolumeRecord record = Record("pvc-1", 10 * kMiB + 1, "bulk");
  auto created = thick_.Create(record);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->capacity_bytes(), static_cast<int64_t>(12 * kMiB));
  EXPECT_EQ(created->bound_namespace(), "team-a");
  const std::string lv = LvmBackend::LvName(record.volume_id());
  ASSERT_TRUE(lvm_.HasLv("vg0", lv));
  // The lvcreate argv: no shell, sizes in bytes, wiping, the record tag.
  bool saw_create = false;
  for (const Command& call : runner_.calls()) {
    if (call.argv.size() > 1 && call.argv[1] == "lvcreate") {
      saw_create = true;
      EXPECT_EQ(call.argv[0], "lvm");
      EXPECT_NE(std::find(call.argv.begin(), call.argv.end(), "12582912b"),
                call.argv.end());
      EXPECT_NE(
          std::find(call.argv.begin(), call.argv.end(), "--wipesignatures"),
          call.argv.end());
      EXPECT_EQ(call.env, std::vector<std::string>{"LVM_SYSTEM_DIR=/x"});
    }
  }
  EXPECT_TRUE(saw_create);
  // Again: the same volume, no second lvcreate.
  const size_t calls = runner_.calls().size();
  auto again = thick_.Create(record);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->volume_id(), record.volume_id());
  for (size_t i = calls; i < runner_.calls().size(); ++i) {
    EXPECT_NE(runner_.calls()[i].argv[1], "lvcreate");
  }
  auto got = thick_.Get(record.volume_id());
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->name(), "pvc-1");
  EXPECT_EQ(got->parameters().at("allowedNamespaces"), "team-a,team-b");
}

TEST_F(LvmBackendTest, ThickCapacityKeepsTheReserve) {
  auto capacity = thick_.Capacity();
  ASSERT_TRUE(capacity.ok());
  // 10 GiB VG, 2 GiB of it the thin pool, 1 GiB reserve.
  EXPECT_EQ(capacity->available_bytes, 7 * kGiB);
  EXPECT_EQ(
      thick_.Create(Record("big", 7 * kGiB + kMiB, "bulk")).status().code(),
      absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(thick_.Create(Record("fits", 4 * kGiB, "bulk")).ok());
  EXPECT_EQ(thick_.Capacity()->available_bytes, 3 * kGiB);
}

TEST_F(LvmBackendTest, ThinCapacityIsOverprovisionedPoolMinusPromises) {
  // Overprovision would allow 4 GiB, but GetCapacity reports no more than
  // the empty 2 GiB pool can physically hold; creates go by overprovision.
  EXPECT_EQ(thin_.Capacity()->available_bytes, 2 * kGiB);
  ASSERT_TRUE(thin_.Create(Record("t1", 3 * kGiB, "fast")).ok());
  EXPECT_EQ(thin_.Capacity()->available_bytes, 1 * kGiB);
  EXPECT_EQ(thin_.Create(Record("t2", 2 * kGiB, "fast")).status().code(),
            absl::StatusCode::kResourceExhausted);
  // Thin volumes do not take VG space, and each class lists its own.
  EXPECT_EQ(lvm_.VgFree("vg0"), 8 * kGiB);
  ASSERT_TRUE(thick_.Create(Record("k1", kGiB, "bulk")).ok());
  EXPECT_EQ(thin_.List()->size(), 1u);
  EXPECT_EQ(thick_.List()->size(), 1u);
}

TEST_F(LvmBackendTest, AttachActivatesAndResolvesTheDevice) {
  const VolumeRecord record = Record("pvc-a", 64 * kMiB, "fast");
  ASSERT_TRUE(thin_.Create(record).ok());
  const std::string lv = LvmBackend::LvName(record.volume_id());
  AddDeviceLink(lv, 7);
  EXPECT_EQ(thin_.FindDevice(record.volume_id()).status().code(),
            absl::StatusCode::kNotFound);
  auto device = thin_.Attach(record.volume_id());
  ASSERT_TRUE(device.ok()) << device.status();
  EXPECT_EQ(*device, "/dev/dm-7");
  EXPECT_TRUE(lvm_.GetLv("vg0", lv).active);
  EXPECT_EQ(*thin_.FindDevice(record.volume_id()), "/dev/dm-7");
  // Open: neither deactivation nor removal.
  lvm_.SetOpen("vg0", lv, true);
  EXPECT_EQ(thin_.Detach(record.volume_id()).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(thin_.Delete(record.volume_id()).code(),
            absl::StatusCode::kFailedPrecondition);
  lvm_.SetOpen("vg0", lv, false);
  ASSERT_TRUE(thin_.Detach(record.volume_id()).ok());
  EXPECT_FALSE(lvm_.GetLv("vg0", lv).active);
  ASSERT_TRUE(thin_.Detach(record.volume_id()).ok());
  ASSERT_TRUE(thin_.Delete(record.volume_id()).ok());
  EXPECT_FALSE(lvm_.HasLv("vg0", lv));
  ASSERT_TRUE(thin_.Delete(record.volume_id()).ok());
  EXPECT_EQ(thin_.Get(record.volume_id()).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(LvmBackendTest, ExpandRoundsAndNeverShrinks) {
  const VolumeRecord record = Record("pvc-e", 64 * kMiB, "bulk");
  ASSERT_TRUE(thick_.Create(record).ok());
  auto grown = thick_.Expand(record.volume_id(), 100 * kMiB + 3);
  ASSERT_TRUE(grown.ok());
  EXPECT_EQ(*grown, 104 * kMiB);
  EXPECT_EQ(thick_.Get(record.volume_id())->capacity_bytes(),
            static_cast<int64_t>(104 * kMiB));
  EXPECT_EQ(*thick_.Expand(record.volume_id(), 10 * kMiB), 104 * kMiB);
  EXPECT_EQ(thick_.Expand(record.volume_id(), 100 * kGiB).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(
      thick_.Expand(MakeId(IdKind::kVolume, "node-1", "bulk", "ghost"), kGiB)
          .status()
          .code(),
      absl::StatusCode::kNotFound);
}

TEST_F(LvmBackendTest, ReadinessAndActivationAfterReboot) {
  EXPECT_TRUE(thick_.Ready().ok());
  EXPECT_TRUE(thin_.Ready().ok());
  LvmBackend missing_vg({"nope", "", 0, 1.0, {}}, &runner_, &fs_, &copier_);
  EXPECT_EQ(missing_vg.Ready().code(), absl::StatusCode::kUnavailable);
  LvmBackend missing_pool({"vg0", "nopool", 0, 1.0, {}}, &runner_, &fs_,
                          &copier_);
  EXPECT_EQ(missing_pool.Ready().code(), absl::StatusCode::kUnavailable);

  const VolumeRecord a = Record("a", 8 * kMiB, "bulk");
  const VolumeRecord b = Record("b", 8 * kMiB, "bulk");
  ASSERT_TRUE(thick_.Create(a).ok());
  ASSERT_TRUE(thick_.Create(b).ok());
  lvm_.SetActive("vg0", LvmBackend::LvName(a.volume_id()), false);
  lvm_.SetActive("vg0", LvmBackend::LvName(b.volume_id()), false);
  auto activated = thick_.ActivateAll();
  ASSERT_TRUE(activated.ok());
  EXPECT_EQ(*activated, 2);
  EXPECT_EQ(*thick_.ActivateAll(), 0);
}

TEST_F(LvmBackendTest, ForeignLvsAreIgnored) {
  // An LV someone else made in the same VG, with a name like ours.
  Command foreign;
  foreign.argv = {"lvm",    "lvcreate", "--name", "cv-0000",
                  "--size", "4194304b", "vg0"};
  ASSERT_TRUE(runner_.Run(foreign).ok());
  EXPECT_TRUE(thick_.List()->empty());
  EXPECT_TRUE(
      thick_.Delete(MakeId(IdKind::kVolume, "node-1", "bulk", "x")).ok());
  EXPECT_TRUE(lvm_.HasLv("vg0", "cv-0000"));
}

// LVM reuses the extents of deleted LVs: a new thick LV is created tagged,
// zeroed whole through its device, and only then untagged.
TEST_F(LvmBackendTest, NewThickLvsAreZeroedWholeBeforeUse) {
  const VolumeRecord record = Record("pvc-z", 64 * kMiB, "bulk");
  ASSERT_TRUE(thick_.Create(record).ok());
  const std::string lv = LvmBackend::LvName(record.volume_id());
  EXPECT_FALSE(lvm_.GetLv("vg0", lv).stale);
  EXPECT_FALSE(HasTag(lvm_.GetLv("vg0", lv), kZeroingTag));
  std::vector<std::string> steps;
  for (const Command& call : runner_.calls()) {
    const std::vector<std::string>& argv = call.argv;
    if (argv[0] == "blkdiscard") {
      steps.push_back(absl::StrJoin(argv, " "));
    } else if (argv[1] == "lvcreate") {
      bool tagged = false;
      for (size_t i = 0; i + 1 < argv.size(); ++i) {
        tagged |= argv[i] == "--addtag" && argv[i + 1] == kZeroingTag;
      }
      steps.push_back(tagged ? "lvcreate tagged" : "lvcreate untagged");
    } else if (argv[1] == "lvchange") {
      steps.push_back(absl::StrJoin(argv.begin() + 1, argv.end(), " "));
    }
  }
  EXPECT_EQ(steps, (std::vector<std::string>{
                       "lvcreate tagged", "blkdiscard --zeroout /dev/vg0/" + lv,
                       "lvchange --deltag cellar.zeroing vg0/" + lv}));
  // Thin volumes read zeroes from the pool: nothing to write.
  const size_t before = runner_.calls().size();
  ASSERT_TRUE(thin_.Create(Record("pvc-t", 64 * kMiB, "fast")).ok());
  EXPECT_EQ(CallsOf("blkdiscard", before), 0);
}

// A zeroing that did not finish (failed, or the driver died) leaves the LV
// tagged: listed, but never staged, and a retried create zeroes it again,
// also when it is inactive (after a reboot) or still held by the zeroing
// of a killed driver.
TEST_F(LvmBackendTest, HalfZeroedLvsAreNeverHandedOutAndARetryFinishes) {
  const VolumeRecord record = Record("pvc-h", 64 * kMiB, "bulk");
  const std::string lv = LvmBackend::LvName(record.volume_id());
  AddDeviceLink(lv, 3);
  lvm_.FailNext("blkdiscard",
                "blkdiscard: BLKZEROOUT: /dev/vg0/x ioctl failed: Input/output "
                "error\n");
  EXPECT_EQ(thick_.Create(record).status().code(), absl::StatusCode::kInternal);
  ASSERT_TRUE(lvm_.HasLv("vg0", lv));
  EXPECT_TRUE(lvm_.GetLv("vg0", lv).stale);
  EXPECT_TRUE(HasTag(lvm_.GetLv("vg0", lv), kZeroingTag));
  ASSERT_TRUE(thick_.Get(record.volume_id()).ok());
  ASSERT_EQ(thick_.List()->size(), 1u);
  for (const absl::Status& status :
       {thick_.Attach(record.volume_id()).status(),
        thick_.FindDevice(record.volume_id()).status()}) {
    EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
    EXPECT_TRUE(absl::StrContains(status.message(), "still being zeroed"))
        << status.message();
  }
  EXPECT_FALSE(lvm_.GetLv("vg0", lv).open);

  // Held open (a killed driver's blkdiscard still running): not yet.
  lvm_.SetOpen("vg0", lv, true);
  EXPECT_EQ(thick_.Create(record).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_TRUE(lvm_.GetLv("vg0", lv).stale);
  lvm_.SetOpen("vg0", lv, false);

  // After a reboot the LV is inactive: the retry activates and zeroes it.
  lvm_.SetActive("vg0", lv, false);
  auto finished = thick_.Create(record);
  ASSERT_TRUE(finished.ok()) << finished.status();
  EXPECT_EQ(finished->capacity_bytes(), static_cast<int64_t>(64 * kMiB));
  EXPECT_FALSE(lvm_.GetLv("vg0", lv).stale);
  EXPECT_FALSE(HasTag(lvm_.GetLv("vg0", lv), kZeroingTag));
  auto device = thick_.Attach(record.volume_id());
  ASSERT_TRUE(device.ok()) << device.status();
  EXPECT_EQ(*device, "/dev/dm-3");
}

TEST_F(LvmBackendTest, MissingBlkdiscardLeavesTheLvUnusable) {
  FakeCommandRunner runner;
  runner.SetHandler("lvm", lvm_.Handler());
  LvmBackend thick({"vg0", "", 0, 1.0, {}}, &runner, &fs_, &copier_);
  const VolumeRecord record = Record("pvc-nb", 64 * kMiB, "bulk");
  EXPECT_EQ(thick.Create(record).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(thick.Attach(record.volume_id()).status().code(),
            absl::StatusCode::kUnavailable);
}

// Without pool zeroing a partial write to a newly provisioned block keeps
// the rest of what a deleted thin LV wrote there: such a pool gets no new
// volumes, restores or clones.
TEST_F(LvmBackendTest, ThinPoolThatDoesNotZeroGetsNoNewVolumes) {
  lvm_.AddThinPool("vg0", "raw0", kGiB);
  LvmBackend raw({"vg0", "raw0", 0, 1.0, {}}, &runner_, &fs_, &copier_);
  const VolumeRecord source = Record("src", 64 * kMiB, "raw");
  ASSERT_TRUE(raw.Create(source).ok());
  const SnapshotRecord snapshot = Snapshot("snap", source.volume_id(), "raw");
  ASSERT_TRUE(raw.CreateSnapshot(snapshot, nullptr).ok());
  lvm_.AddThinPool("vg0", "raw0", kGiB, /*zero_new_blocks=*/false);

  const size_t before = runner_.calls().size();
  for (const absl::Status& status :
       {raw.Create(Record("new", 64 * kMiB, "raw")).status(),
        raw.CreateFromSource(Record("restore", 64 * kMiB, "raw"),
                             snapshot.snapshot_id(), NoFreeze())
            .status(),
        raw.CreateFromSource(Record("clone", 64 * kMiB, "raw"),
                             source.volume_id(), NoFreeze())
            .status()}) {
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_TRUE(
        absl::StrContains(status.message(), "`lvchange --zero y vg0/raw0`"))
        << status.message();
  }
  EXPECT_EQ(CallsOf("lvcreate", before), 0);
  // What exists stays usable.
  EXPECT_TRUE(raw.Expand(source.volume_id(), 128 * kMiB).ok());
  EXPECT_TRUE(raw.Delete(source.volume_id()).ok());
}

// A VG whose disk is not attached (yet) says nothing about its volumes:
// every call is UNAVAILABLE, nothing reads as deleted, and once the VG is
// back the volumes are there and deletes go through.
TEST_F(LvmBackendTest, MissingVgIsUnavailableNeverAlreadyDeleted) {
  const VolumeRecord thick = Record("k", 64 * kMiB, "bulk");
  const VolumeRecord thin = Record("t", 64 * kMiB, "fast");
  ASSERT_TRUE(thick_.Create(thick).ok());
  ASSERT_TRUE(thin_.Create(thin).ok());
  const SnapshotRecord snapshot = Snapshot("s", thin.volume_id(), "fast");
  ASSERT_TRUE(thin_.CreateSnapshot(snapshot, nullptr).ok());
  const std::string thick_lv = LvmBackend::LvName(thick.volume_id());
  const std::string thin_lv = LvmBackend::LvName(thin.volume_id());
  const std::string snapshot_lv = LvmBackend::LvName(snapshot.snapshot_id());

  lvm_.SetVgMissing("vg0", true);
  for (LvmBackend* backend : {&thick_, &thin_}) {
    const std::string id =
        backend == &thick_ ? thick.volume_id() : thin.volume_id();
    SCOPED_TRACE(backend->kind());
    const absl::Status deleted = backend->Delete(id);
    EXPECT_EQ(deleted.code(), absl::StatusCode::kUnavailable);
    EXPECT_TRUE(
        absl::StrContains(deleted.message(), "volume group vg0 is not there"))
        << deleted.message();
    EXPECT_EQ(backend->Detach(id).code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(backend->Get(id).status().code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(backend->Expand(id, 128 * kMiB).status().code(),
              absl::StatusCode::kUnavailable);
    EXPECT_EQ(backend->Attach(id).status().code(),
              absl::StatusCode::kUnavailable);
    EXPECT_EQ(backend->FindDevice(id).status().code(),
              absl::StatusCode::kUnavailable);
    EXPECT_EQ(backend->List().status().code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(backend->Capacity().status().code(),
              absl::StatusCode::kUnavailable);
    EXPECT_EQ(backend
                  ->Create(Record("new", 64 * kMiB,
                                  backend == &thick_ ? "bulk" : "fast"))
                  .status()
                  .code(),
              absl::StatusCode::kUnavailable);
  }
  EXPECT_EQ(thin_.DeleteSnapshot(snapshot.snapshot_id()).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(thin_.GetSnapshot(snapshot.snapshot_id()).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(thin_.ListSnapshots().status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(thin_
                .CreateFromSource(Record("r", 64 * kMiB, "fast"),
                                  snapshot.snapshot_id(), NoFreeze())
                .status()
                .code(),
            absl::StatusCode::kUnavailable);

  lvm_.SetVgMissing("vg0", false);
  for (const std::string& lv : {thick_lv, thin_lv, snapshot_lv}) {
    EXPECT_TRUE(lvm_.HasLv("vg0", lv)) << lv;
  }
  ASSERT_TRUE(thick_.Delete(thick.volume_id()).ok());
  ASSERT_TRUE(thin_.DeleteSnapshot(snapshot.snapshot_id()).ok());
  ASSERT_TRUE(thin_.Delete(thin.volume_id()).ok());
  for (const std::string& lv : {thick_lv, thin_lv, snapshot_lv}) {
    EXPECT_FALSE(lvm_.HasLv("vg0", lv)) << lv;
  }
}

// A thin class whose pool is not in its VG: unreachable, not gone.
TEST_F(LvmBackendTest, MissingThinPoolIsUnavailable) {
  LvmBackend nopool({"vg0", "nopool", 0, 1.0, {}}, &runner_, &fs_, &copier_);
  const std::string id = MakeId(IdKind::kVolume, "node-1", "np", "v");
  const std::string snapshot = MakeId(IdKind::kSnapshot, "node-1", "np", "s");
  for (const absl::Status& status :
       {nopool.Delete(id), nopool.Get(id).status(),
        nopool.DeleteSnapshot(snapshot), nopool.Capacity().status()}) {
    EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
    EXPECT_TRUE(absl::StrContains(status.message(), "thin pool vg0/nopool"))
        << status.message();
  }
}

// No lvm binary is no answer at all, least of all "deleted".
TEST_F(LvmBackendTest, LvmThatCannotRunIsNotAlreadyDeleted) {
  FakeCommandRunner runner;
  LvmBackend thick({"vg0", "", 0, 1.0, {}}, &runner, &fs_, &copier_);
  const std::string id = MakeId(IdKind::kVolume, "node-1", "bulk", "v");
  EXPECT_EQ(thick.Delete(id).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(thick.Detach(id).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(thick.Get(id).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

// Restores and clones promise their whole size like any new volume: pool
// (2 GiB) times overprovision (2) minus what is promised, checked before
// anything is created.
TEST_F(LvmBackendTest, RestoresAndClonesPassTheCapacityCheck) {
  const VolumeRecord source = Record("src", kGiB, "fast");
  ASSERT_TRUE(thin_.Create(source).ok());
  const SnapshotRecord snapshot = Snapshot("snap", source.volume_id(), "fast");
  ASSERT_TRUE(thin_.CreateSnapshot(snapshot, nullptr).ok());
  // The snapshot promises its origin's size too: 2 GiB of 4 are left.
  const VolumeRecord too_big = Record("big", 3 * kGiB, "fast");
  size_t before = runner_.calls().size();
  const absl::Status refused =
      thin_.CreateFromSource(too_big, snapshot.snapshot_id(), NoFreeze())
          .status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(
      absl::StrContains(refused.message(), "not enough space in vg0/pool0"))
      << refused.message();
  EXPECT_EQ(CallsOf("lvcreate", before), 0);
  EXPECT_FALSE(lvm_.HasLv("vg0", LvmBackend::LvName(too_big.volume_id())));

  const VolumeRecord restore = Record("restore", kGiB + kGiB / 2, "fast");
  auto restored =
      thin_.CreateFromSource(restore, snapshot.snapshot_id(), NoFreeze());
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->capacity_bytes(), static_cast<int64_t>(kGiB + kGiB / 2));
  before = runner_.calls().size();
  EXPECT_EQ(thin_
                .CreateFromSource(Record("clone", kGiB, "fast"),
                                  source.volume_id(), NoFreeze())
                .status()
                .code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(CallsOf("lvcreate", before), 0);
  auto clone = thin_.CreateFromSource(Record("clone", kGiB / 2, "fast"),
                                      source.volume_id(), NoFreeze());
  ASSERT_TRUE(clone.ok()) << clone.status();
  EXPECT_EQ(thin_.Capacity()->available_bytes, 0u);
}

// A copy whose create stopped between the snapshot and its growth is
// finished by the retry: the record in its tag holds the size asked for.
TEST_F(LvmBackendTest, RestoreThatStoppedBeforeGrowingIsFinishedByARetry) {
  const VolumeRecord source = Record("src", 256 * kMiB, "fast");
  ASSERT_TRUE(thin_.Create(source).ok());
  const VolumeRecord clone = Record("clone", 512 * kMiB, "fast");
  lvm_.FailNext("lvextend", "  Internal error: interrupted.\n");
  EXPECT_FALSE(
      thin_.CreateFromSource(clone, source.volume_id(), NoFreeze()).ok());
  EXPECT_EQ(thin_.Get(clone.volume_id())->capacity_bytes(),
            static_cast<int64_t>(256 * kMiB));
  auto finished = thin_.CreateFromSource(clone, source.volume_id(), NoFreeze());
  ASSERT_TRUE(finished.ok()) << finished.status();
  EXPECT_EQ(finished->capacity_bytes(), static_cast<int64_t>(512 * kMiB));
}

// Snapshot records carry the source volume's access policy in their tag,
// whatever the caller passed; a record too long for a tag is refused before
// anything is created, for snapshots and copies alike.
// A thin snapshot promises its origin's full size: the overprovision bound
// holds for it as for a volume, so snapshots cannot use up a class's budget
// and leave no room for anyone's new volumes.
TEST_F(LvmBackendTest, ThinSnapshotsAreBoundedByOverprovision) {
  // 2 GiB pool, overprovision 2: 4 GiB may be promised.
  const VolumeRecord origin = Record("big", 3 * kGiB, "fast");
  ASSERT_TRUE(thin_.Create(origin).ok());
  const size_t lvs = lvm_.LvNames("vg0").size();
  absl::StatusOr<SnapshotRecord> refused =
      thin_.CreateSnapshot(Snapshot("s1", origin.volume_id(), "fast"), nullptr);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted)
      << refused.status();
  EXPECT_EQ(lvm_.LvNames("vg0").size(), lvs);
  const VolumeRecord small = Record("small", 512 * kMiB, "fast");
  ASSERT_TRUE(thin_.Create(small).ok());
  EXPECT_TRUE(
      thin_.CreateSnapshot(Snapshot("s2", small.volume_id(), "fast"), nullptr)
          .ok());
}

TEST_F(LvmBackendTest, SnapshotTagsCarryThePolicyOrAreRefusedWhole) {
  VolumeRecord source = Record("owned", 64 * kMiB, "fast");
  source.clear_parameters();
  source.set_bound_namespace("team-a");
  for (int i = 0; i < 12; ++i) {
    source.add_allowed_namespaces("tenant-namespace-" + std::to_string(i) +
                                  "-abcdefgh");
  }
  source.add_allowed_service_accounts("team-a/backup");
  source.add_allowed_service_accounts("ops/restore-operator");
  ASSERT_TRUE(thin_.Create(source).ok());

  SnapshotRecord snapshot = Snapshot("snap", source.volume_id(), "fast");
  snapshot.add_allowed_namespaces("someone-else");
  ASSERT_TRUE(thin_.CreateSnapshot(snapshot, nullptr).ok());
  auto got = thin_.GetSnapshot(snapshot.snapshot_id());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->bound_namespace(), "team-a");
  EXPECT_EQ(std::vector<std::string>(got->allowed_namespaces().begin(),
                                     got->allowed_namespaces().end()),
            std::vector<std::string>(source.allowed_namespaces().begin(),
                                     source.allowed_namespaces().end()));
  EXPECT_EQ(
      std::vector<std::string>(got->allowed_service_accounts().begin(),
                               got->allowed_service_accounts().end()),
      (std::vector<std::string>{"team-a/backup", "ops/restore-operator"}));

  const size_t before = runner_.calls().size();
  SnapshotRecord long_snapshot = Snapshot("long", source.volume_id(), "fast");
  long_snapshot.set_group_snapshot_id(std::string(600, 'g'));
  const absl::Status refused =
      thin_.CreateSnapshot(long_snapshot, nullptr).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(refused.message(), "too long"))
      << refused.message();
  EXPECT_FALSE(
      lvm_.HasLv("vg0", LvmBackend::LvName(long_snapshot.snapshot_id())));

  VolumeRecord long_restore = Record("long-restore", 64 * kMiB, "fast");
  (*long_restore.mutable_parameters())["note"] = std::string(800, 'n');
  EXPECT_EQ(
      thin_.CreateFromSource(long_restore, snapshot.snapshot_id(), NoFreeze())
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(thin_.Create(long_restore).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CallsOf("lvcreate", before), 0);
}

// LVM reuses extents, and a volume's user reads new ones the moment
// lvextend returns: a thick LV grows only onto extents zeroed first through
// a scratch LV, and takes exactly those. Thin LVs just grow.
TEST_F(LvmBackendTest, ThickLvsGrowOnlyOntoZeroedExtents) {
  const VolumeRecord record = Record("pvc-g", 64 * kMiB, "bulk");
  ASSERT_TRUE(thick_.Create(record).ok());
  const std::string lv = LvmBackend::LvName(record.volume_id());
  const std::string scratch = "cz-" + lv.substr(3);
  size_t before = runner_.calls().size();
  auto grown = thick_.Expand(record.volume_id(), 128 * kMiB);
  ASSERT_TRUE(grown.ok()) << grown.status();
  EXPECT_EQ(*grown, 128 * kMiB);
  EXPECT_EQ(lvm_.GetLv("vg0", lv).size, 128 * kMiB);
  EXPECT_FALSE(lvm_.GetLv("vg0", lv).stale);
  EXPECT_FALSE(lvm_.HasLv("vg0", scratch));
  std::vector<std::string> steps;
  const std::vector<Command> calls = runner_.calls();
  for (size_t i = before; i < calls.size(); ++i) {
    const std::vector<std::string>& argv = calls[i].argv;
    if (argv[0] == "blkdiscard") {
      steps.push_back(absl::StrJoin(argv, " "));
    } else if (argv[1] == "lvcreate") {
      bool tagged = false;
      for (size_t j = 0; j + 1 < argv.size(); ++j) {
        tagged |= argv[j] == "--addtag" && argv[j + 1] == kZeroingTag;
      }
      steps.push_back(
          absl::StrCat("lvcreate ", argv[4], tagged ? " tagged" : " untagged"));
    } else if (argv[1] == "lvremove" || argv[1] == "lvextend") {
      steps.push_back(absl::StrJoin(argv.begin() + 1, argv.end(), " "));
    }
  }
  EXPECT_EQ(steps, (std::vector<std::string>{
                       "lvcreate " + scratch + " tagged",
                       "blkdiscard --zeroout /dev/vg0/" + scratch,
                       "lvremove --yes vg0/" + scratch,
                       "lvextend --size 134217728b vg0/" + lv +
                           " /dev/fakepv:16-31"}));

  const VolumeRecord thin = Record("pvc-tg", 64 * kMiB, "fast");
  ASSERT_TRUE(thin_.Create(thin).ok());
  before = runner_.calls().size();
  ASSERT_TRUE(thin_.Expand(thin.volume_id(), 128 * kMiB).ok());
  EXPECT_EQ(CallsOf("blkdiscard", before), 0);
  EXPECT_EQ(CallsOf("lvcreate", before), 0);
}

// An expansion that stopped half-way grows nothing and hands out nothing:
// the retry replaces its scratch LV, and deleting the volume removes it.
TEST_F(LvmBackendTest, ExpansionThatStoppedHalfWayIsRetriedOrCleanedUp) {
  const VolumeRecord record = Record("pvc-s", 64 * kMiB, "bulk");
  ASSERT_TRUE(thick_.Create(record).ok());
  const std::string id = record.volume_id();
  const std::string lv = LvmBackend::LvName(id);
  const std::string scratch = "cz-" + lv.substr(3);
  const std::string io_error =
      "blkdiscard: BLKZEROOUT: /dev/vg0/x ioctl failed: Input/output error\n";

  lvm_.FailNext("blkdiscard", io_error);
  EXPECT_EQ(thick_.Expand(id, 128 * kMiB).status().code(),
            absl::StatusCode::kInternal);
  EXPECT_EQ(lvm_.GetLv("vg0", lv).size, 64 * kMiB);
  EXPECT_TRUE(lvm_.HasLv("vg0", scratch));
  ASSERT_TRUE(thick_.Expand(id, 128 * kMiB).ok());
  EXPECT_FALSE(lvm_.HasLv("vg0", scratch));
  EXPECT_FALSE(lvm_.GetLv("vg0", lv).stale);

  // The zeroed extents were taken by someone else before lvextend.
  lvm_.FailNext("lvextend",
                "  Insufficient suitable allocatable extents for logical "
                "volume " +
                    lv + ": 16 more required\n");
  EXPECT_EQ(thick_.Expand(id, 192 * kMiB).status().code(),
            absl::StatusCode::kAborted);
  EXPECT_FALSE(lvm_.HasLv("vg0", scratch));
  ASSERT_TRUE(thick_.Expand(id, 192 * kMiB).ok());
  EXPECT_FALSE(lvm_.GetLv("vg0", lv).stale);
  EXPECT_EQ(lvm_.GetLv("vg0", lv).size, 192 * kMiB);

  // A scratch LV left behind holds the space its retry needs: 6 GiB more
  // fit the 7 GiB left only once it is gone.
  lvm_.FailNext("blkdiscard", io_error);
  EXPECT_FALSE(thick_.Expand(id, 192 * kMiB + 6 * kGiB).ok());
  EXPECT_TRUE(lvm_.HasLv("vg0", scratch));
  ASSERT_TRUE(thick_.Expand(id, 192 * kMiB + 6 * kGiB).ok());
  EXPECT_FALSE(lvm_.HasLv("vg0", scratch));

  lvm_.FailNext("blkdiscard", io_error);
  EXPECT_FALSE(thick_.Expand(id, 7 * kGiB).ok());
  EXPECT_TRUE(lvm_.HasLv("vg0", scratch));
  ASSERT_TRUE(thick_.Delete(id).ok());
  EXPECT_FALSE(lvm_.HasLv("vg0", lv));
  EXPECT_FALSE(lvm_.HasLv("vg0", scratch));
}

// ------------------------------------------------ thick snapshots and clones

// Thick copies: the fake copier holds each device's bytes, and every COW
// snapshot the fake LVM makes starts with its origin's bytes of that
// instant, as a real one reads.
class LvmThickCopyTest : public LvmBackendTest {
 protected:
  LvmThickCopyTest() {
    lvm_.OnCowSnapshot([this](const std::string& origin,
                              const std::string& snapshot) {
      copier_.SetContent("/dev/" + snapshot, copier_.Content("/dev/" + origin));
    });
  }

  static std::string Device(const std::string& id) {
    return "/dev/vg0/" + LvmBackend::LvName(id);
  }
  static std::string Temp(const std::string& id) {
    return "ct-" + LvmBackend::LvName(id);
  }
  std::vector<std::string> Lvs() { return lvm_.LvNames("vg0"); }
};

TEST_F(LvmThickCopyTest, SnapshotIsPendingUntilItsBackgroundCopyEnds) {
  const VolumeRecord source = Record("src", 64 * kMiB, "bulk");
  ASSERT_TRUE(thick_.Create(source).ok());
  copier_.SetContent(Device(source.volume_id()), "old data");
  const uint64_t free_before = lvm_.VgFree("vg0");

  copier_.Hold();
  const SnapshotRecord asked = Snapshot("snap", source.volume_id(), "bulk");
  absl::StatusOr<SnapshotRecord> taken = thick_.CreateSnapshot(asked, nullptr);
  ASSERT_TRUE(taken.ok()) << taken.status();
  EXPECT_TRUE(taken->pending_copy());
  EXPECT_EQ(taken->size_bytes(), static_cast<int64_t>(64 * kMiB));
  EXPECT_EQ(taken->bound_namespace(), "team-a");
  // The point in time is fixed: what the volume gets now is not in it.
  copier_.SetContent(Device(source.volume_id()), "new data");
  const std::string snap_lv = LvmBackend::LvName(asked.snapshot_id());
  EXPECT_TRUE(lvm_.HasLv("vg0", Temp(asked.snapshot_id())));
  EXPECT_EQ(lvm_.GetLv("vg0", Temp(asked.snapshot_id())).origin,
            LvmBackend::LvName(source.volume_id()));
  // Full size plus, while copying, a COW area that holds the whole origin
  // (it is under the 1 GiB floor) and its exception table, in extents.
  EXPECT_EQ(free_before - lvm_.VgFree("vg0"), 64 * kMiB + 68 * kMiB);
  // Asked again while it copies: the same snapshot, still pending, and no
  // second copy.
  absl::StatusOr<SnapshotRecord> again = thick_.CreateSnapshot(asked, nullptr);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->pending_copy());
  EXPECT_TRUE(thick_.ListSnapshots()->at(0).pending_copy());

  copier_.Release();
  ASSERT_TRUE(thick_.WaitForCopy(asked.snapshot_id(), absl::Seconds(30)));
  absl::StatusOr<SnapshotRecord> ready =
      thick_.GetSnapshot(asked.snapshot_id());
  ASSERT_TRUE(ready.ok()) << ready.status();
  EXPECT_FALSE(ready->pending_copy());
  EXPECT_EQ(copier_.Content("/dev/vg0/" + snap_lv), "old data");
  EXPECT_FALSE(lvm_.HasLv("vg0", Temp(asked.snapshot_id())));
  EXPECT_EQ(free_before - lvm_.VgFree("vg0"), 64 * kMiB);
  ASSERT_EQ(copier_.calls().size(), 1u);
  const FakeBlockCopier::Call call = copier_.calls()[0];
  EXPECT_EQ(call.from, "/dev/vg0/" + Temp(asked.snapshot_id()));
  EXPECT_EQ(call.to, "/dev/vg0/" + snap_lv);
  EXPECT_EQ(call.bytes_per_second, 128u << 20);
  // No dumpe2fs here: the whole origin.
  EXPECT_EQ(call.ranges, (std::vector<ByteRange>{{0, 64 * kMiB}}));
  EXPECT_EQ(thick_.Capacity()->available_bytes, lvm_.VgFree("vg0") - 1 * kGiB);
}

TEST_F(LvmThickCopyTest, RestoresAndClonesAreIndependentCopies) {
  const VolumeRecord source = Record("src", 64 * kMiB, "bulk");
  ASSERT_TRUE(thick_.Create(source).ok());
  copier_.SetContent(Device(source.volume_id()), "snapshot time");
  const SnapshotRecord snapshot = Snapshot("snap", source.volume_id(), "bulk");
  ASSERT_TRUE(thick_.CreateSnapshot(snapshot, nullptr).ok());
  ASSERT_TRUE(thick_.WaitForCopy(snapshot.snapshot_id(), absl::Seconds(30)));

  // A clone of the live volume, frozen for its instant only.
  copier_.SetContent(Device(source.volume_id()), "clone time");
  int freezes = 0;
  const FreezeScope counting =
      [&](const std::function<absl::Status()>& instant) {
        ++freezes;
        return instant();
      };
  const VolumeRecord clone = Record("clone", 64 * kMiB, "bulk");
  absl::StatusOr<VolumeRecord> cloned =
      thick_.CreateFromSource(clone, source.volume_id(), counting);
  ASSERT_TRUE(cloned.ok()) << cloned.status();
  EXPECT_EQ(freezes, 1);
  EXPECT_EQ(copier_.Content(Device(clone.volume_id())), "clone time");
  EXPECT_FALSE(lvm_.HasLv("vg0", Temp(clone.volume_id())));
  AddDeviceLink(LvmBackend::LvName(clone.volume_id()), 3);
  EXPECT_TRUE(thick_.Attach(clone.volume_id()).ok());
  ASSERT_TRUE(thick_.Detach(clone.volume_id()).ok());

  // The source goes; its snapshot stays and restores, larger if asked.
  ASSERT_TRUE(thick_.Delete(source.volume_id()).ok());
  EXPECT_TRUE(thick_.GetSnapshot(snapshot.snapshot_id()).ok());
  const VolumeRecord restore = Record("restore", 128 * kMiB, "bulk");
  const size_t before = runner_.calls().size();
  absl::StatusOr<VolumeRecord> restored =
      thick_.CreateFromSource(restore, snapshot.snapshot_id(), NoFreeze());
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->capacity_bytes(), static_cast<int64_t>(128 * kMiB));
  EXPECT_EQ(copier_.Content(Device(restore.volume_id())), "snapshot time");
  EXPECT_EQ(lvm_.GetLv("vg0", LvmBackend::LvName(restore.volume_id())).size,
            128 * kMiB);
  // Larger than what is copied: zeroed first, the rest reads as zeroes.
  EXPECT_EQ(CallsOf("blkdiscard", before), 1);
  EXPECT_FALSE(
      lvm_.GetLv("vg0", LvmBackend::LvName(restore.volume_id())).stale);
  // Read from the snapshot LV itself: no temporary snapshot for a restore.
  EXPECT_EQ(copier_.calls().back().from,
            "/dev/vg0/" + LvmBackend::LvName(snapshot.snapshot_id()));
  // A retry of either finds the volume and copies nothing again.
  const int copies = copier_.started();
  EXPECT_TRUE(
      thick_.CreateFromSource(restore, snapshot.snapshot_id(), NoFreeze())
          .ok());
  EXPECT_TRUE(
      thick_.CreateFromSource(clone, source.volume_id(), counting).ok());
  EXPECT_EQ(copier_.started(), copies);
  // Every new LV (snapshot LV, restore, clone) has what a deleted LV left
  // at its start wiped by lvcreate: a stale md or bcache superblock there
  // would have the host claim it before the copy could open it.
  int made = 0;
  for (const Command& call : runner_.calls()) {
    const std::vector<std::string>& argv = call.argv;
    if (argv.size() < 2 || argv[1] != "lvcreate" ||
        std::find(argv.begin(), argv.end(), "--snapshot") != argv.end()) {
      continue;
    }
    ++made;
    auto wipe = std::find(argv.begin(), argv.end(), "--wipesignatures");
    ASSERT_NE(wipe, argv.end());
    ASSERT_NE(wipe + 1, argv.end());
    EXPECT_EQ(*(wipe + 1), "y");
  }
  EXPECT_EQ(made, 4);  // the source, the snapshot LV, the clone, the restore
}

// ext4 without encryption: dumpe2fs says what is used, and only that is
// copied onto a zeroed LV. Block and encrypted volumes copy every byte.
TEST_F(LvmThickCopyTest, OnlyUsedExt4BlocksAreCopied) {
  std::vector<std::string> probed;
  runner_.SetHandler(
      "dumpe2fs", [&](const Command& command) -> absl::StatusOr<CommandResult> {
        probed.push_back(command.argv.back());
        CommandResult result;
        result.exit_code = 0;
        result.stdout_data =
            "Filesystem features:      has_journal extent 64bit\n"
            "Block count:              16384\n"
            "First block:              0\n"
            "Block size:               4096\n"
            "Group 0: (Blocks 0-16383)\n"
            "  Free blocks: 100-8191, 8300-16383\n";
        return result;
      });
  const VolumeRecord fs = Record("fs", 64 * kMiB, "bulk");
  VolumeRecord block = Record("blk", 64 * kMiB, "bulk");
  block.set_block(true);
  block.clear_fs_type();
  VolumeRecord encrypted = Record("enc", 64 * kMiB, "bulk");
  encrypted.set_encrypted(true);
  for (const VolumeRecord& record : {fs, block, encrypted}) {
    ASSERT_TRUE(thick_.Create(record).ok());
  }
  const size_t before = runner_.calls().size();
  for (const VolumeRecord& record : {fs, block, encrypted}) {
    const SnapshotRecord snapshot =
        Snapshot("s-" + record.name(), record.volume_id(), "bulk");
    ASSERT_TRUE(thick_.CreateSnapshot(snapshot, nullptr).ok());
    ASSERT_TRUE(thick_.WaitForCopy(snapshot.snapshot_id(), absl::Seconds(30)));
    EXPECT_FALSE(thick_.GetSnapshot(snapshot.snapshot_id())->pending_copy());
  }
  ASSERT_EQ(copier_.calls().size(), 3u);
  EXPECT_EQ(probed,
            std::vector<std::string>{
                "/dev/vg0/ct-" +
                LvmBackend::LvName(
                    Snapshot("s-fs", fs.volume_id(), "bulk").snapshot_id())});
  EXPECT_EQ(
      copier_.calls()[0].ranges,
      (std::vector<ByteRange>{{0, 100 * 4096}, {8192 * 4096, 108 * 4096}}));
  EXPECT_EQ(copier_.calls()[1].ranges,
            (std::vector<ByteRange>{{0, 64 * kMiB}}));
  EXPECT_EQ(copier_.calls()[2].ranges,
            (std::vector<ByteRange>{{0, 64 * kMiB}}));
  // Only the used-ranges copy needed its target zeroed.
  EXPECT_EQ(CallsOf("blkdiscard", before), 1);

  // A journal still to replay: its bitmaps cannot be trusted, copy all.
  runner_.SetHandler(
      "dumpe2fs", [](const Command&) -> absl::StatusOr<CommandResult> {
        CommandResult result;
        result.exit_code = 0;
        result.stdout_data =
            "Filesystem features:      has_journal needs_recovery extent\n"
            "Block count:              16384\n"
            "First block:              0\n"
            "Block size:               4096\n"
            "Group 0: (Blocks 0-16383)\n"
            "  Free blocks: 100-16383\n";
        return result;
      });
  const SnapshotRecord dirty = Snapshot("dirty", fs.volume_id(), "bulk");
  ASSERT_TRUE(thick_.CreateSnapshot(dirty, nullptr).ok());
  ASSERT_TRUE(thick_.WaitForCopy(dirty.snapshot_id(), absl::Seconds(30)));
  EXPECT_EQ(copier_.calls().back().ranges,
            (std::vector<ByteRange>{{0, 64 * kMiB}}));
}

TEST_F(LvmThickCopyTest, NotEnoughSpaceIsRefusedBeforeAnythingIsMade) {
  // 10 GiB VG, 1 GiB reserve: 4 GiB left after the volume, which needs
  // 5 GiB and a COW area for its snapshot.
  const VolumeRecord source = Record("src", 5 * kGiB, "bulk");
  ASSERT_TRUE(thick_.Create(source).ok());
  const std::vector<std::string> lvs = Lvs();
  const size_t before = runner_.calls().size();
  const absl::Status refused =
      thick_
          .CreateSnapshot(Snapshot("snap", source.volume_id(), "bulk"), nullptr)
          .status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted) << refused;
  EXPECT_TRUE(absl::StrContains(refused.message(), "COW area")) << refused;
  EXPECT_EQ(refused.message().find("vg0") != std::string::npos, true);
  EXPECT_EQ(CallsOf("lvcreate", before), 0);
  EXPECT_EQ(Lvs(), lvs);
  EXPECT_EQ(copier_.started(), 0);
  const absl::Status clone =
      thick_
          .CreateFromSource(Record("clone", 5 * kGiB, "bulk"),
                            source.volume_id(), NoFreeze())
          .status();
  EXPECT_EQ(clone.code(), absl::StatusCode::kResourceExhausted) << clone;
  EXPECT_EQ(CallsOf("lvcreate", before), 0);
  EXPECT_EQ(Lvs(), lvs);
}

TEST_F(LvmThickCopyTest, DeletingASnapshotWhileItCopiesCancelsAndRemovesBoth) {
  const VolumeRecord source = Record("src", 64 * kMiB, "bulk");
  ASSERT_TRUE(thick_.Create(source).ok());
  const std::vector<std::string> lvs = Lvs();
  const uint64_t free_before = lvm_.VgFree("vg0");
  copier_.Hold();
  const SnapshotRecord snapshot = Snapshot("snap", source.volume_id(), "bulk");
  ASSERT_TRUE(thick_.CreateSnapshot(snapshot, nullptr)->pending_copy());
  ASSERT_EQ(Lvs().size(), lvs.size() + 2);
  ASSERT_TRUE(thick_.DeleteSnapshot(snapshot.snapshot_id()).ok());
  EXPECT_EQ(copier_.finished(), 1);  // cancelled, not waiting on Release
  EXPECT_EQ(Lvs(), lvs);
  EXPECT_EQ(lvm_.VgFree("vg0"), free_before);
  EXPECT_EQ(thick_.GetSnapshot(snapshot.snapshot_id()).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(thick_.DeleteSnapshot(snapshot.snapshot_id()).ok());
  copier_.Release();
  // The source is whole and free to go.
  EXPECT_TRUE(thick_.Delete(source.volume_id()).ok());
}

// LVM would take a COW snapshot with its origin: deleting (or growing) the
// source waits for the copies from it.
TEST_F(LvmThickCopyTest, TheSourceOutlivesTheCopiesFromIt) {
  const VolumeRecord source = Record("src", 64 * kMiB, "bulk");
  ASSERT_TRUE(thick_.Create(source).ok());
  copier_.SetContent(Device(source.volume_id()), "kept");
  copier_.Hold();
  const SnapshotRecord snapshot = Snapshot("snap", source.volume_id(), "bulk");
  ASSERT_TRUE(thick_.CreateSnapshot(snapshot, nullptr).ok());
  std::thread release([&] {
    absl::SleepFor(absl::Milliseconds(200));
    copier_.Release();
  });
  ASSERT_TRUE(thick_.Delete(source.volume_id()).ok());
  release.join();
  EXPECT_FALSE(lvm_.HasLv("vg0", LvmBackend::LvName(source.volume_id())));
  absl::StatusOr<SnapshotRecord> kept =
      thick_.GetSnapshot(snapshot.snapshot_id());
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_FALSE(kept->pending_copy());
  EXPECT_EQ(copier_.Content(Device(snapshot.snapshot_id())), "kept");
}

// The temporary snapshot goes once the copy is done, even when udev holds
// it for a moment then.
TEST_F(LvmThickCopyTest, ABusyTemporarySnapshotIsRemovedOnASecondTry) {
  const VolumeRecord source = Record("src", 64 * kMiB, "bulk");
  ASSERT_TRUE(thick_.Create(source).ok());
  copier_.Hold();
  const SnapshotRecord snapshot = Snapshot("snap", source.volume_id(), "bulk");
  ASSERT_TRUE(thick_.CreateSnapshot(snapshot, nullptr).ok());
  ASSERT_TRUE(lvm_.HasLv("vg0", Temp(snapshot.snapshot_id())));
  lvm_.FailNext("lvremove", "  Logical volume vg0/x in use.\n");
  const size_t before = runner_.calls().size();
  copier_.Release();
  ASSERT_TRUE(thick_.WaitForCopy(snapshot.snapshot_id(), absl::Seconds(30)));
  EXPECT_FALSE(lvm_.HasLv("vg0", Temp(snapshot.snapshot_id())));
  EXPECT_EQ(CallsOf("lvremove", before), 2);
  EXPECT_FALSE(thick_.GetSnapshot(snapshot.snapshot_id())->pending_copy());
}

// A copy that failed and waits for its retry holds a delete of its source
// back; the wait reads the LVs about once a second, not back to back.
TEST_F(LvmThickCopyTest, ASourceWaitingForAFailedCopyDoesNotSpin) {
  const VolumeRecord source = Record("src", 64 * kMiB, "bulk");
  ASSERT_TRUE(thick_.Create(source).ok());
  copier_.FailNext(absl::UnavailableError("the target went away"));
  const SnapshotRecord snapshot = Snapshot("snap", source.volume_id(), "bulk");
  ASSERT_TRUE(thick_.CreateSnapshot(snapshot, nullptr).ok());
  ASSERT_TRUE(thick_.WaitForCopy(snapshot.snapshot_id(), absl::Seconds(30)));
  ASSERT_TRUE(thick_.GetSnapshot(snapshot.snapshot_id())->pending_copy());
  const size_t before = runner_.calls().size();
  const absl::Time start = absl::Now();
  ASSERT_TRUE(thick_.Delete(source.volume_id()).ok());
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  // One report a pass, a pass a second at most (the retry comes after its
  // back-off); a spinning wait makes thousands.
  EXPECT_LE(CallsOf("lvs", before), 4 + 2 * static_cast<int>(seconds));
  EXPECT_FALSE(thick_.GetSnapshot(snapshot.snapshot_id())->pending_copy());
}

TEST_F(LvmThickCopyTest, TheCowAreaGrowsAndAnOverflowLosesOnlyThePointInTime) {
  const VolumeRecord source = Record("src", 2 * kGiB, "bulk");
  ASSERT_TRUE(thick_.Create(source).ok());
  copier_.Hold();
  const SnapshotRecord snapshot = Snapshot("snap", source.volume_id(), "bulk");
  ASSERT_TRUE(thick_.CreateSnapshot(snapshot, nullptr).ok());
  const std::string temp = Temp(snapshot.snapshot_id());
  // 10% is less than the floor.
  EXPECT_EQ(lvm_.GetLv("vg0", temp).size, 1 * kGiB);
  // The origin is written while the copy runs: the COW area fills.
  lvm_.SetCowPercent("vg0", temp, 70);
  const size_t before = runner_.calls().size();
  copier_.Release();
  ASSERT_TRUE(thick_.WaitForCopy(snapshot.snapshot_id(), absl::Seconds(30)));
  EXPECT_EQ(CallsOf("lvextend", before), 1);
  EXPECT_FALSE(thick_.GetSnapshot(snapshot.snapshot_id())->pending_copy());

  // Overflowed: the snapshot can never be made of that instant. It stays
  // pending (never ready with wrong data), and asking for it again is
  // FAILED_PRECONDITION: never a later instant under the same id.
  copier_.Hold();
  const SnapshotRecord lost = Snapshot("lost", source.volume_id(), "bulk");
  ASSERT_TRUE(thick_.CreateSnapshot(lost, nullptr).ok());
  lvm_.Invalidate("vg0", Temp(lost.snapshot_id()));
  copier_.Release();
  ASSERT_TRUE(thick_.WaitForCopy(lost.snapshot_id(), absl::Seconds(30)));
  EXPECT_TRUE(thick_.GetSnapshot(lost.snapshot_id())->pending_copy());
  EXPECT_TRUE(HasTag(lvm_.GetLv("vg0", LvmBackend::LvName(lost.snapshot_id())),
                     "cellar.failed"));
  EXPECT_EQ(thick_
                .CreateFromSource(Record("r", 2 * kGiB, "bulk"),
                                  lost.snapshot_id(), NoFreeze())
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  const std::vector<std::string> lvs_before = Lvs();
  EXPECT_EQ(thick_.CreateSnapshot(lost, nullptr).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Lvs(), lvs_before);
  absl::StatusOr<SnapshotRecord> still = thick_.GetSnapshot(lost.snapshot_id());
  ASSERT_TRUE(still.ok());
  EXPECT_TRUE(still->pending_copy());
  EXPECT_TRUE(still->copy_failed());
  // Deleting it removes both LVs.
  ASSERT_TRUE(thick_.DeleteSnapshot(lost.snapshot_id()).ok());
  EXPECT_FALSE(lvm_.HasLv("vg0", LvmBackend::LvName(lost.snapshot_id())));
  EXPECT_FALSE(lvm_.HasLv("vg0", Temp(lost.snapshot_id())));
}

// A driver that stops mid-copy leaves the state in tags; the next one
// carries every snapshot copy on and removes what nothing needs.
TEST_F(LvmThickCopyTest, ARestartedDriverResumesCopiesFromTags) {
  const VolumeRecord source = Record("src", 64 * kMiB, "bulk");
  ASSERT_TRUE(thick_.Create(source).ok());
  copier_.SetContent(Device(source.volume_id()), "before");
  const SnapshotRecord snapshot = Snapshot("snap", source.volume_id(), "bulk");
  {
    LvmBackend first({"vg0", "", 1 * kGiB, 1.0, {}}, &runner_, &fs_, &copier_);
    copier_.Hold();
    ASSERT_TRUE(first.CreateSnapshot(snapshot, nullptr)->pending_copy());
    copier_.SetContent(Device(source.volume_id()), "after");
    // `first` goes away: its copy stops unfinished.
  }
  copier_.Release();
  EXPECT_TRUE(
      HasTag(lvm_.GetLv("vg0", LvmBackend::LvName(snapshot.snapshot_id())),
             "cellar.copying"));
  // A clone's temporary snapshot whose target was never made.
  ASSERT_EQ(runner_
                .Run(Command{{"lvm", "lvcreate", "--yes", "--snapshot",
                              "--size", "8388608b", "--name", "ct-cv-orphan",
                              "--addtag", "cellar.cow",
                              "vg0/" + LvmBackend::LvName(source.volume_id())}})
                ->exit_code,
            0);
  LvmBackend second({"vg0", "", 1 * kGiB, 1.0, {}}, &runner_, &fs_, &copier_);
  absl::StatusOr<int> resumed = second.ResumeCopies();
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(*resumed, 1);
  EXPECT_FALSE(lvm_.HasLv("vg0", "ct-cv-orphan"));
  ASSERT_TRUE(second.WaitForCopy(snapshot.snapshot_id(), absl::Seconds(30)));
  absl::StatusOr<SnapshotRecord> ready =
      second.GetSnapshot(snapshot.snapshot_id());
  ASSERT_TRUE(ready.ok()) << ready.status();
  EXPECT_FALSE(ready->pending_copy());
  EXPECT_EQ(copier_.Content(Device(snapshot.snapshot_id())), "before");
  EXPECT_FALSE(lvm_.HasLv("vg0", Temp(snapshot.snapshot_id())));
}

// A restore or clone a stopped driver left half-filled was never handed
// out: a restarted driver removes it and its temporary snapshot (its
// caller's retry copies again), and it is never listed as a volume.
TEST_F(LvmThickCopyTest, AHalfFilledCloneIsRemovedAtRestart) {
  const VolumeRecord source = Record("src", 64 * kMiB, "bulk");
  ASSERT_TRUE(thick_.Create(source).ok());
  const VolumeRecord clone = Record("clone", 64 * kMiB, "bulk");
  {
    LvmBackend first({"vg0", "", 1 * kGiB, 1.0, {}}, &runner_, &fs_, &copier_);
    copier_.Hold();
    std::thread copying([&] {
      (void)first.CreateFromSource(clone, source.volume_id(), NoFreeze());
    });
    // Until the copy is under way, with its target tagged as copying.
    for (int i = 0;
         i < 3000 &&
         !(lvm_.HasLv("vg0", LvmBackend::LvName(clone.volume_id())) &&
           HasTag(lvm_.GetLv("vg0", LvmBackend::LvName(clone.volume_id())),
                  "cellar.copying"));
         ++i) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    ASSERT_TRUE(HasTag(lvm_.GetLv("vg0", LvmBackend::LvName(clone.volume_id())),
                       "cellar.copying"));
    EXPECT_EQ(first.List()->size(), 1u);  // only the source
    copier_.FailNext(absl::CancelledError("the driver died"));
    copier_.Release();
    copying.join();
  }
  // As a kill -9 leaves it: the half-filled LV (and maybe its temporary
  // snapshot) with their tags.
  if (!HasTag(lvm_.GetLv("vg0", LvmBackend::LvName(clone.volume_id())),
              "cellar.copying")) {
    GTEST_SKIP() << "the failed copy cleaned up after itself";
  }
  LvmBackend second({"vg0", "", 1 * kGiB, 1.0, {}}, &runner_, &fs_, &copier_);
  ASSERT_TRUE(second.ResumeCopies().ok());
  EXPECT_FALSE(lvm_.HasLv("vg0", LvmBackend::LvName(clone.volume_id())));
  EXPECT_FALSE(lvm_.HasLv("vg0", Temp(clone.volume_id())));
  EXPECT_EQ(second.List()->size(), 1u);
}

// A clone whose copy fails is never handed out half-copied: the call
// fails, nothing is staged, and a retry copies again from a new instant.
TEST_F(LvmThickCopyTest, AFailedCloneCopyIsRetriedWhole) {
  const VolumeRecord source = Record("src", 64 * kMiB, "bulk");
  ASSERT_TRUE(thick_.Create(source).ok());
  copier_.SetContent(Device(source.volume_id()), "v1");
  const VolumeRecord clone = Record("clone", 64 * kMiB, "bulk");
  copier_.FailNext(absl::InternalError("reading /dev/vg0/x at 0: EIO"));
  EXPECT_EQ(thick_.CreateFromSource(clone, source.volume_id(), NoFreeze())
                .status()
                .code(),
            absl::StatusCode::kInternal);
  EXPECT_EQ(thick_.Attach(clone.volume_id()).status().code(),
            absl::StatusCode::kUnavailable);
  absl::StatusOr<VolumeRecord> done =
      thick_.CreateFromSource(clone, source.volume_id(), NoFreeze());
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(copier_.Content(Device(clone.volume_id())), "v1");
  AddDeviceLink(LvmBackend::LvName(clone.volume_id()), 4);
  EXPECT_TRUE(thick_.Attach(clone.volume_id()).ok());
  ASSERT_TRUE(thick_.Detach(clone.volume_id()).ok());
  EXPECT_FALSE(lvm_.HasLv("vg0", Temp(clone.volume_id())));
  EXPECT_TRUE(thick_.Delete(clone.volume_id()).ok());
  EXPECT_TRUE(thick_.Delete(source.volume_id()).ok());
  EXPECT_EQ(Lvs(), std::vector<std::string>{"pool0"});
}

// The COW area grows only into space the VG can give: never into the
// reserve or what other volumes were promised; nor past its origin's size.
TEST_F(LvmThickCopyTest, TheCowAreaGrowsOnlyIntoFreeSpace) {
  const VolumeRecord source = Record("src", 2 * kGiB, "bulk");
  ASSERT_TRUE(thick_.Create(source).ok());
  // Room for the snapshot and its first COW area, and nothing more.
  const uint64_t left = thick_.Capacity()->available_bytes - 3 * kGiB;
  ASSERT_TRUE(thick_.Create(Record("filler", left, "bulk")).ok());
  EXPECT_EQ(thick_.Capacity()->available_bytes, 3 * kGiB);
  copier_.Hold();
  const SnapshotRecord snapshot = Snapshot("snap", source.volume_id(), "bulk");
  ASSERT_TRUE(thick_.CreateSnapshot(snapshot, nullptr).ok());
  EXPECT_EQ(thick_.Capacity()->available_bytes, 0u);
  lvm_.SetCowPercent("vg0", Temp(snapshot.snapshot_id()), 70);
  const size_t before = runner_.calls().size();
  copier_.Release();
  ASSERT_TRUE(thick_.WaitForCopy(snapshot.snapshot_id(), absl::Seconds(30)));
  EXPECT_EQ(CallsOf("lvextend", before), 0);
  // Not grown, not overflowed: the copy still finished.
  EXPECT_FALSE(thick_.GetSnapshot(snapshot.snapshot_id())->pending_copy());
  EXPECT_EQ(thick_.Capacity()->available_bytes, 1 * kGiB);
}

// The COW area: the class's percentage of the origin, but at least the
// floor, and never more than the whole origin needs.
TEST_F(LvmThickCopyTest, TheCowAreaIsAPercentageAboveAFloor) {
  LvmBackendConfig config{"vg0", "", 1 * kGiB, 1.0, {}};
  config.cow_percent = 60;
  LvmBackend sixty(config, &runner_, &fs_, &copier_);
  const VolumeRecord big = Record("big", 2 * kGiB, "bulk");
  const VolumeRecord small = Record("small", 100 * kMiB, "bulk");
  ASSERT_TRUE(sixty.Create(big).ok());
  ASSERT_TRUE(sixty.Create(small).ok());
  copier_.Hold();
  const SnapshotRecord of_big = Snapshot("of-big", big.volume_id(), "bulk");
  const SnapshotRecord of_small =
      Snapshot("of-small", small.volume_id(), "bulk");
  ASSERT_TRUE(sixty.CreateSnapshot(of_big, nullptr).ok());
  ASSERT_TRUE(sixty.CreateSnapshot(of_small, nullptr).ok());
  // 60% of 2 GiB (1228.8 MiB) in 4 MiB extents; all of 100 MiB and its
  // exception table (101.5625 MiB) in extents.
  EXPECT_EQ(lvm_.GetLv("vg0", Temp(of_big.snapshot_id())).size, 1232 * kMiB);
  EXPECT_EQ(lvm_.GetLv("vg0", Temp(of_small.snapshot_id())).size, 104 * kMiB);
  copier_.Release();
  EXPECT_TRUE(sixty.WaitForCopy(of_big.snapshot_id(), absl::Seconds(30)));
  EXPECT_TRUE(sixty.WaitForCopy(of_small.snapshot_id(), absl::Seconds(30)));
}

// What nothing copies from any more goes: at restart, the temporary
// snapshot of a finished copy (the driver stopped before lvremove), and
// with a deleted volume, the temporary snapshot of a clone into it that
// never finished.
TEST_F(LvmThickCopyTest, TemporarySnapshotsNothingNeedsAreRemoved) {
  const VolumeRecord source = Record("src", 64 * kMiB, "bulk");
  ASSERT_TRUE(thick_.Create(source).ok());
  const SnapshotRecord snapshot = Snapshot("snap", source.volume_id(), "bulk");
  const std::string snap_lv = LvmBackend::LvName(snapshot.snapshot_id());
  // The temporary snapshot is held open through every removal attempt.
  copier_.Hold();
  ASSERT_TRUE(thick_.CreateSnapshot(snapshot, nullptr).ok());
  lvm_.SetOpen("vg0", Temp(snapshot.snapshot_id()), true);
  copier_.Release();
  ASSERT_TRUE(thick_.WaitForCopy(snapshot.snapshot_id(), absl::Seconds(30)));
  EXPECT_FALSE(thick_.GetSnapshot(snapshot.snapshot_id())->pending_copy());
  EXPECT_TRUE(lvm_.HasLv("vg0", Temp(snapshot.snapshot_id())));
  lvm_.SetOpen("vg0", Temp(snapshot.snapshot_id()), false);
  LvmBackend restarted({"vg0", "", 1 * kGiB, 1.0, {}}, &runner_, &fs_,
                       &copier_);
  EXPECT_EQ(*restarted.ResumeCopies(), 0);
  EXPECT_FALSE(lvm_.HasLv("vg0", Temp(snapshot.snapshot_id())));
  EXPECT_TRUE(lvm_.HasLv("vg0", snap_lv));

  // A clone whose copy failed, then deleted instead of retried.
  const VolumeRecord clone = Record("clone", 64 * kMiB, "bulk");
  copier_.FailNext(absl::InternalError("reading at 0: EIO"));
  EXPECT_FALSE(
      thick_.CreateFromSource(clone, source.volume_id(), NoFreeze()).ok());
  EXPECT_TRUE(lvm_.HasLv("vg0", Temp(clone.volume_id())));
  ASSERT_TRUE(thick_.Delete(clone.volume_id()).ok());
  EXPECT_FALSE(lvm_.HasLv("vg0", Temp(clone.volume_id())));
  EXPECT_FALSE(lvm_.HasLv("vg0", LvmBackend::LvName(clone.volume_id())));
  // And a clone is refused when its COW area would not fit.
  const uint64_t free_now = thick_.Capacity()->available_bytes;
  EXPECT_EQ(thick_
                .CreateFromSource(Record("c2", free_now - 4 * kMiB, "bulk"),
                                  source.volume_id(), NoFreeze())
                .status()
                .code(),
            absl::StatusCode::kResourceExhausted);
}

// ---------------------------------------------------------------- Thin-pool
// guard

class ThinPoolGuardBackendTest : public LvmBackendTest {
 protected:
  // vg0: 10 GiB; pool0: 2 GiB (data), overprovision 2.
  LvmBackend Guarded(int autoextend, uint64_t max = 0, int create_limit = 0) {
    LvmBackendConfig config;
    config.vg = "vg0";
    config.thin_pool = "pool0";
    config.overprovision = 2.0;
    config.guard.autoextend_percent = autoextend;
    config.guard.step_percent = 25;
    config.guard.max_bytes = max;
    config.guard.create_limit_percent = create_limit;
    return LvmBackend(config, &runner_, &fs_, &copier_);
  }
  uint64_t PoolSize() { return lvm_.GetLv("vg0", "pool0").size; }
};

TEST_F(ThinPoolGuardBackendTest, APoolPastItsThresholdGrowsUpToTheCap) {
  LvmBackend backend = Guarded(80, 3 * kGiB);
  ASSERT_EQ(backend.GuardPool()->data_bytes, 0u);  // 0% used: nothing
  EXPECT_EQ(PoolSize(), 2 * kGiB);
  lvm_.SetPoolUse("vg0", "pool0", 85, 10);
  const size_t from = runner_.calls().size();
  absl::StatusOr<ThinPoolGrowth> growth = backend.GuardPool();
  ASSERT_TRUE(growth.ok()) << growth.status();
  EXPECT_EQ(growth->data_bytes, 512 * kMiB);  // 25% of 2 GiB
  EXPECT_EQ(PoolSize(), 2 * kGiB + 512 * kMiB);
  EXPECT_EQ(CallsOf("lvextend", from), 1);
  // Still above the threshold: the next check grows to the cap, not past.
  lvm_.SetPoolUse("vg0", "pool0", 90, 10);
  ASSERT_TRUE(backend.GuardPool().ok());
  EXPECT_EQ(PoolSize(), 3 * kGiB);
  ASSERT_TRUE(backend.GuardPool().ok());
  EXPECT_EQ(PoolSize(), 3 * kGiB);
  EXPECT_EQ(backend.Stats()->pool.autoextends, 2u);
  // Metadata past its threshold grows the metadata LV.
  lvm_.SetPoolUse("vg0", "pool0", 10, 95);
  const uint64_t metadata = lvm_.GetLv("vg0", "pool0").metadata_size;
  ASSERT_TRUE(backend.GuardPool().ok());
  EXPECT_GT(lvm_.GetLv("vg0", "pool0").metadata_size, metadata);
  EXPECT_EQ(PoolSize(), 3 * kGiB);
  EXPECT_EQ(backend.Stats()->pool.autoextends, 3u);
}

TEST_F(ThinPoolGuardBackendTest, WithoutAutoextendNothingGrows) {
  LvmBackend backend = Guarded(0);
  lvm_.SetPoolUse("vg0", "pool0", 99, 99);
  const size_t from = runner_.calls().size();
  ASSERT_TRUE(backend.GuardPool().ok());
  EXPECT_EQ(CallsOf("lvm", from), 0);
  EXPECT_EQ(PoolSize(), 2 * kGiB);
}

TEST_F(ThinPoolGuardBackendTest, ACreateGrowsThePoolAfterwards) {
  LvmBackend backend = Guarded(50);
  lvm_.SetPoolUse("vg0", "pool0", 60, 5);
  ASSERT_TRUE(backend.Create(Record("a", kGiB, "thin")).ok());
  EXPECT_EQ(PoolSize(), 2 * kGiB + 512 * kMiB);
}

TEST_F(ThinPoolGuardBackendTest, AtCreateLimitNewDataIsRefusedAndNothingMade) {
  LvmBackend backend = Guarded(0, 0, 90);
  const VolumeRecord kept = Record("kept", kGiB, "thin");
  ASSERT_TRUE(backend.Create(kept).ok());
  lvm_.SetPoolUse("vg0", "pool0", 91, 5);
  const std::vector<std::string> before = lvm_.LvNames("vg0");

  absl::StatusOr<VolumeRecord> created =
      backend.Create(Record("new", kMiB, "thin"));
  EXPECT_EQ(created.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(absl::StrContains(created.status().message(), "create-limit"))
      << created.status();
  EXPECT_EQ(backend.Expand(kept.volume_id(), 2 * kGiB).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(
      backend
          .CreateSnapshot(Snapshot("snap", kept.volume_id(), "thin"), nullptr)
          .status()
          .code(),
      absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(backend
                .CreateFromSource(Record("clone", kGiB, "thin"),
                                  kept.volume_id(), NoFreeze())
                .status()
                .code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(lvm_.LvNames("vg0"), before);
  EXPECT_EQ(lvm_.GetLv("vg0", LvmBackend::LvName(kept.volume_id())).size, kGiB);
  // GetCapacity stops placing claims here; the volume itself still works.
  EXPECT_EQ(backend.Capacity()->available_bytes, 0u);
  EXPECT_EQ(backend.Stats()->available_bytes, 0u);
  EXPECT_TRUE(backend.Get(kept.volume_id()).ok());
  // Room again (data deleted): creates go on.
  lvm_.SetPoolUse("vg0", "pool0", 40, 5);
  EXPECT_TRUE(backend.Create(Record("new", kMiB, "thin")).ok());
}

TEST_F(ThinPoolGuardBackendTest, AtCreateLimitAutoextendIsTriedFirst) {
  LvmBackend backend = Guarded(80, 0, 90);
  lvm_.SetPoolUse("vg0", "pool0", 95, 5);  // past both; growth brings it to 76%
  absl::StatusOr<VolumeRecord> created =
      backend.Create(Record("new", kMiB, "thin"));
  EXPECT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(PoolSize(), 2 * kGiB + 512 * kMiB);
}

TEST_F(ThinPoolGuardBackendTest, CapacityIsWhatThePoolCanStillHold) {
  // 2 GiB pool, 75% used, overprovision 2 would allow 4 GiB.
  lvm_.SetPoolUse("vg0", "pool0", 75, 5);
  EXPECT_EQ(Guarded(0).Capacity()->available_bytes, 512 * kMiB);
  // With autoextend up to 3 GiB: 1.5 GiB.
  EXPECT_EQ(Guarded(80, 3 * kGiB).Capacity()->available_bytes, 1536 * kMiB);
  // With autoextend and no cap the overprovision bound is the smaller.
  lvm_.SetPoolUse("vg0", "pool0", 0, 5);
  EXPECT_EQ(Guarded(80).Capacity()->available_bytes, 4 * kGiB);
}

TEST_F(ThinPoolGuardBackendTest, APoolOutOfSpaceMakesItsVolumesTroubled) {
  LvmBackend backend = Guarded(0);
  const VolumeRecord record = Record("a", kGiB, "thin");
  ASSERT_TRUE(backend.Create(record).ok());
  EXPECT_EQ(*backend.VolumeTrouble(record.volume_id()), "");
  lvm_.SetPoolHealth("vg0", "pool0", 'D');
  EXPECT_TRUE(absl::StrContains(*backend.VolumeTrouble(record.volume_id()),
                                "out of data space"));
  lvm_.SetPoolHealth("vg0", "pool0", 'M');
  EXPECT_TRUE(absl::StrContains(*backend.VolumeTrouble(record.volume_id()),
                                "read-only"));
  EXPECT_EQ(backend.VolumeTrouble(Record("nope", kGiB, "thin").volume_id())
                .status()
                .code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace cellar
