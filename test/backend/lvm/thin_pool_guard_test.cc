// The thin-pool guard as pure functions of (pool report, VG report,
// options): when and by how much to grow, the cap, a full VG, the spare
// metadata LV, create-limit, pool health and the room GetCapacity reports.
#include "src/backend/lvm/thin_pool_guard.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace cellar {
namespace {

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kGiB = 1ull << 30;

LogicalVolume Pool(uint64_t size, double data, uint64_t meta_size = 8 * kMiB,
                   double meta = 10) {
  LogicalVolume pool;
  pool.name = "pool0";
  pool.attr = "twi-aotz--";
  pool.size_bytes = size;
  pool.data_percent = data;
  pool.metadata_bytes = meta_size;
  pool.metadata_percent = meta;
  return pool;
}

VolumeGroup Vg(uint64_t free, uint64_t extent = 4 * kMiB) {
  VolumeGroup vg;
  vg.name = "vg0";
  vg.size_bytes = 100 * kGiB;
  vg.free_bytes = free;
  vg.extent_bytes = extent;
  return vg;
}

ThinPoolGuardOptions Options(int at, int step = 20, uint64_t max = 0,
                             int limit = 0) {
  ThinPoolGuardOptions options;
  options.autoextend_percent = at;
  options.step_percent = step;
  options.max_bytes = max;
  options.create_limit_percent = limit;
  return options;
}

TEST(ThinPoolGuardTest, GrowthTable) {
  struct Case {
    const char* what;
    LogicalVolume pool;
    VolumeGroup vg;
    ThinPoolGuardOptions options;
    uint64_t data;
    uint64_t metadata;
  };
  const Case cases[] = {
      {"off", Pool(kGiB, 99), Vg(10 * kGiB), Options(0), 0, 0},
      {"below the threshold", Pool(kGiB, 79.9), Vg(10 * kGiB), Options(80), 0,
       0},
      {"at the threshold: 20% of 1 GiB, rounded up to 4 MiB extents",
       Pool(kGiB, 80), Vg(10 * kGiB), Options(80), 208 * kMiB, 0},
      {"a tiny step is at least one extent", Pool(kGiB, 90), Vg(10 * kGiB),
       Options(80, 1), 12 * kMiB, 0},
      {"the cap bounds the step", Pool(kGiB, 95), Vg(10 * kGiB),
       Options(80, 50, kGiB + 100 * kMiB), 100 * kMiB, 0},
      {"at the cap nothing grows", Pool(2 * kGiB, 95), Vg(10 * kGiB),
       Options(80, 50, 2 * kGiB), 0, 0},
      {"the VG's free extents bound it", Pool(kGiB, 95), Vg(50 * kMiB),
       Options(80), 48 * kMiB, 0},
      {"a full VG grows nothing", Pool(kGiB, 99), Vg(3 * kMiB), Options(80), 0,
       0},
      {"metadata alone", Pool(kGiB, 10, 8 * kMiB, 85), Vg(10 * kGiB),
       Options(80), 0, 4 * kMiB},
      {"both: metadata takes twice its step (the spare)",
       Pool(kGiB, 90, 100 * kMiB, 90), Vg(208 * kMiB + 2 * 20 * kMiB),
       Options(80), 208 * kMiB, 20 * kMiB},
      {"both, the VG short: metadata first, data gets the rest",
       Pool(kGiB, 90, 100 * kMiB, 90), Vg(208 * kMiB + 20 * kMiB), Options(80),
       188 * kMiB, 20 * kMiB},
      {"a huge pool's data growth does not starve its metadata",
       Pool(1024 * kGiB, 95, kGiB, 95), Vg(100 * kGiB), Options(80),
       100 * kGiB - 2 * 208 * kMiB, 208 * kMiB},
      {"metadata at LVM's limit", Pool(kGiB, 10, kMaxThinMetadataBytes, 99),
       Vg(100 * kGiB), Options(80), 0, 0},
      {"an unreported use (-1) is no use", Pool(kGiB, -1, 8 * kMiB, -1),
       Vg(10 * kGiB), Options(1), 0, 0},
  };
  for (const Case& c : cases) {
    const ThinPoolGrowth growth = DecideThinPoolGrowth(c.pool, c.vg, c.options);
    EXPECT_EQ(growth.data_bytes, c.data) << c.what << ": " << growth.why;
    EXPECT_EQ(growth.metadata_bytes, c.metadata)
        << c.what << ": " << growth.why;
    EXPECT_EQ(growth.data_bytes % (4 * kMiB), 0u) << c.what;
    EXPECT_EQ(growth.metadata_bytes % (4 * kMiB), 0u) << c.what;
  }
  // The decision says why, also when it cannot act.
  EXPECT_TRUE(absl::StrContains(
      DecideThinPoolGrowth(Pool(kGiB, 99), Vg(0), Options(80)).why,
      "no more room"));
  EXPECT_TRUE(
      absl::StrContains(DecideThinPoolGrowth(Pool(2 * kGiB, 95), Vg(kGiB),
                                             Options(80, 20, 2 * kGiB))
                            .why,
                        "cap"));
}

TEST(ThinPoolGuardTest, CreateLimit) {
  EXPECT_EQ(CreateLimitReason(Pool(kGiB, 99), Options(80)), "");  // off
  EXPECT_EQ(CreateLimitReason(Pool(kGiB, 89.99, 8 * kMiB, 10),
                              Options(80, 20, 0, 90)),
            "");
  EXPECT_TRUE(absl::StrContains(
      CreateLimitReason(Pool(kGiB, 90), Options(80, 20, 0, 90)),
      "data is 90.00%"));
  EXPECT_TRUE(absl::StrContains(
      CreateLimitReason(Pool(kGiB, 5, 8 * kMiB, 95), Options(0, 20, 0, 90)),
      "metadata is 95.00%"));
}

TEST(ThinPoolGuardTest, Health) {
  LogicalVolume pool = Pool(kGiB, 100);
  EXPECT_EQ(ThinPoolTrouble(pool), "");
  pool.attr = "twi-aotzD-";
  EXPECT_TRUE(absl::StrContains(ThinPoolTrouble(pool), "out of data space"));
  pool.attr = "twi-aotzM-";
  EXPECT_TRUE(absl::StrContains(ThinPoolTrouble(pool), "read-only"));
  pool.attr = "twi-aotzF-";
  EXPECT_TRUE(absl::StrContains(ThinPoolTrouble(pool), "failed"));
  pool.attr = "twi";
  EXPECT_EQ(ThinPoolTrouble(pool), "");
}

TEST(ThinPoolGuardTest, RoomCountsWhatAutoextendMayStillAdd) {
  // 1 GiB pool 75% used: 256 MiB left without autoextend.
  EXPECT_EQ(ThinPoolRoom(Pool(kGiB, 75), Vg(10 * kGiB), Options(0)),
            256 * kMiB);
  // With autoextend up to 2 GiB: 1.25 GiB.
  EXPECT_EQ(
      ThinPoolRoom(Pool(kGiB, 75), Vg(10 * kGiB), Options(80, 20, 2 * kGiB)),
      kGiB + 256 * kMiB);
  // Without a cap the VG bounds it.
  EXPECT_EQ(ThinPoolRoom(Pool(kGiB, 75), Vg(kGiB), Options(80)),
            kGiB + 256 * kMiB);
  // A pool already past its cap gets no more, and keeps its own room.
  EXPECT_EQ(ThinPoolRoom(Pool(2 * kGiB, 50), Vg(kGiB), Options(80, 20, kGiB)),
            kGiB);
  EXPECT_EQ(ThinPoolRoom(Pool(kGiB, 100), Vg(0), Options(80)), 0u);
}

}  // namespace
}  // namespace cellar
