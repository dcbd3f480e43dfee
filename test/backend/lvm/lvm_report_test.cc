#include "src/backend/lvm/lvm_report.h"

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace cellar {
namespace {

// As printed by lvm 2.03.16: `lvs --reportformat json --units b --nosuffix
// -o lv_name,vg_name,lv_size,lv_tags,lv_attr,pool_lv vg0`.
constexpr char kLvs[] = R"({
      "report": [
          {
              "lv": [
                  {"lv_name":"cv-0123", "vg_name":"vg0", "lv_size":"1073741824", "lv_tags":"cellar.volume,cellar.r=CgR2XzEy", "lv_attr":"-wi-ao----", "pool_lv":""},
                  {"lv_name":"pool0", "vg_name":"vg0", "lv_size":"3221225472", "lv_tags":"", "lv_attr":"twi-aotz--", "pool_lv":""},
                  {"lv_name":"thin1", "vg_name":"vg0", "lv_size":"536870912", "lv_tags":"cellar.volume", "lv_attr":"Vwi---tz-k", "pool_lv":"pool0"}
              ]
          }
      ]
      ,
      "log": [
          {"log_seq_num":"1", "log_type":"status", "log_context":"shell", "log_object_type":"cmd", "log_object_name":"", "log_object_id":"", "log_object_group":"", "log_object_group_id":"", "log_message":"success", "log_errno":"0", "log_ret_code":"1"}
      ]
  }
)";

constexpr char kVgs[] = R"({
      "report": [
          {
              "vg": [
                  {"vg_name":"vg0", "vg_size":"8585740288", "vg_free":"4290772992", "vg_extent_size":"4194304"}
              ]
          }
      ]
  }
)";

TEST(LvmReportTest, ParsesLogicalVolumes) {
  auto lvs = ParseLvsReport(kLvs);
  ASSERT_TRUE(lvs.ok()) << lvs.status();
  ASSERT_EQ(lvs->size(), 3u);
  const LogicalVolume& thick = (*lvs)[0];
  EXPECT_EQ(thick.name, "cv-0123");
  EXPECT_EQ(thick.vg, "vg0");
  EXPECT_EQ(thick.size_bytes, 1073741824u);
  EXPECT_EQ(thick.tags,
            (std::vector<std::string>{"cellar.volume", "cellar.r=CgR2XzEy"}));
  EXPECT_TRUE(thick.active());
  EXPECT_TRUE(thick.open());
  EXPECT_FALSE(thick.is_thin_pool());
  EXPECT_TRUE((*lvs)[1].is_thin_pool());
  EXPECT_TRUE((*lvs)[1].zeroes_new_blocks());
  EXPECT_TRUE((*lvs)[1].tags.empty());
  const LogicalVolume& thin = (*lvs)[2];
  EXPECT_EQ(thin.pool, "pool0");
  EXPECT_FALSE(thin.active());
  EXPECT_FALSE(thin.open());
}

TEST(LvmReportTest, PoolZeroingIsBitEightOfTheAttributes) {
  LogicalVolume lv;
  for (const auto& [attr, zeroes] :
       std::vector<std::pair<std::string, bool>>{{"twi-aotz--", true},
                                                 {"twi-aot---", false},
                                                 {"twi---tz--", true},
                                                 {"twi-a-t", false},
                                                 {"", false}}) {
    lv.attr = attr;
    EXPECT_EQ(lv.zeroes_new_blocks(), zeroes) << attr;
  }
}

TEST(LvmReportTest, ParsesVolumeGroups) {
  auto vgs = ParseVgsReport(kVgs);
  ASSERT_TRUE(vgs.ok()) << vgs.status();
  ASSERT_EQ(vgs->size(), 1u);
  EXPECT_EQ((*vgs)[0].name, "vg0");
  EXPECT_EQ((*vgs)[0].size_bytes, 8585740288u);
  EXPECT_EQ((*vgs)[0].free_bytes, 4290772992u);
  EXPECT_EQ((*vgs)[0].extent_bytes, 4194304u);
}

TEST(LvmReportTest, EmptyReportsAndGarbage) {
  auto empty = ParseLvsReport(R"({"report":[{"lv":[]}]})");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  for (const char* bad : {"", "not json", "{\"report\": 3}",
                          R"({"report":[{"lv":[{"lv_size":"12x"}]}]})",
                          R"({"report":[{"vg":[{"vg_free":"-1"}]}]})"}) {
    EXPECT_FALSE(ParseLvsReport(bad).ok() && ParseVgsReport(bad).ok()) << bad;
  }
  EXPECT_EQ(ParseLvsReport(R"({"report":[{"lv":[{"lv_size":"12x"}]}]})")
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

// LVM's stderr (LC_ALL=C) as 2.03 prints it, and what it means for the
// caller. Only a missing LV is NOT_FOUND: anything else that is not there
// (VG, disk, pool) must never read as "already deleted".
TEST(LvmReportTest, FailureTextsMapToCodes) {
  struct Case {
    const char* stderr_text;
    absl::StatusCode code;
    const char* message_part;
  };
  const Case cases[] = {
      {"  Volume group \"vg0\" not found\n  Cannot process volume group vg0\n",
       absl::StatusCode::kUnavailable, "volume group vg0 is not there"},
      {"  Cannot process volume group vg0\n", absl::StatusCode::kUnavailable,
       "volume group vg0 is not there"},
      {"  Volume group \"vg0\" not found\n  Failed to find logical volume "
       "\"vg0/cv-1\"\n",
       absl::StatusCode::kUnavailable, "not gone"},
      {"  WARNING: Couldn't find device with uuid Fz3c-Nb1x.\n  Cannot change "
       "VG vg0 while PVs are missing.\n",
       absl::StatusCode::kUnavailable, "volume group vg0 is not there"},
      {"  Thin pool volume pool0 not found in Volume group vg0.\n",
       absl::StatusCode::kUnavailable, "thin pool vg0/pool0 is not there"},
      {"  Device /dev/loop9 not found.\n", absl::StatusCode::kUnavailable,
       "did not find part of volume group vg0"},
      {"  Failed to find logical volume \"vg0/cv-1\"\n",
       absl::StatusCode::kNotFound, ""},
      {"  Failed to find logical volume \"poolvg/cv-notfound\"\n",
       absl::StatusCode::kNotFound, ""},
      {"  Logical volume cv-1 not found in volume group vg0.\n",
       absl::StatusCode::kNotFound, ""},
      {"  Snapshot origin LV cs-1 not found in Volume group vg0.\n",
       absl::StatusCode::kNotFound, ""},
      {"  Volume group \"vg0\" has insufficient free space (10 extents): 20 "
       "required.\n",
       absl::StatusCode::kResourceExhausted, ""},
      {"  Insufficient suitable allocatable extents for logical volume cv-1\n",
       absl::StatusCode::kResourceExhausted, ""},
      {"  Cannot create new thin volume, free space in thin pool vg0/pool0 "
       "reached threshold.\n",
       absl::StatusCode::kResourceExhausted, ""},
      {"  Logical volume vg0/cv-1 contains a filesystem in use.\n",
       absl::StatusCode::kFailedPrecondition, ""},
      {"  Logical volume vg0/cv-1 in use.\n",
       absl::StatusCode::kFailedPrecondition, ""},
      {"  Internal error: Referenced LV cv-1 not listed in VG vg0.\n",
       absl::StatusCode::kInternal, ""},
      {"", absl::StatusCode::kInternal, ""},
  };
  for (const Case& c : cases) {
    const absl::Status status =
        LvmFailureStatus("vg0", "pool0", c.stderr_text, "lvm: exit 5");
    EXPECT_EQ(status.code(), c.code) << c.stderr_text;
    EXPECT_NE(status.message().find(c.message_part), absl::string_view::npos)
        << status.message();
    EXPECT_NE(status.message().find("lvm: exit 5"), absl::string_view::npos);
  }
}

}  // namespace
}  // namespace cellar
