// The collector over real backends on fakes: what each family shows, that
// a burst of scrapes reads the storage once, that shared VGs and pools
// appear once, that no volume or tenant name reaches a label, and the
// endpoint's answers by method and path.
#include "src/metrics/metrics_collector.h"

#include <map>
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "src/backend/loop/loop_backend.h"
#include "src/backend/lvm/lvm_backend.h"
#include "src/common/ids.h"
#include "test/fakes/fake_block_copier.h"
#include "test/fakes/fake_command_runner.h"
#include "test/fakes/fake_filesystem.h"
#include "test/fakes/fake_loop_device.h"
#include "test/fakes/fake_lvm.h"

namespace cellar {
namespace {

constexpr uint64_t kGiB = 1ull << 30;

VolumeRecord Record(const std::string& cls, const std::string& name,
                    uint64_t bytes) {
  VolumeRecord record;
  record.set_volume_id(MakeId(IdKind::kVolume, "n", cls, name));
  record.set_name(name);
  record.set_capacity_bytes(static_cast<int64_t>(bytes));
  record.set_allocation("thin");
  record.set_fs_type("ext4");
  record.set_bound_namespace("tenant-secret-ns");
  return record;
}

// "name{labels}" -> value, from the rendered text.
std::map<std::string, double> Parse(const std::string& text) {
  std::map<std::string, double> out;
  size_t at = 0;
  while (at < text.size()) {
    const size_t end = text.find('\n', at);
    const std::string line = text.substr(at, end - at);
    at = end + 1;
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

class MetricsCollectorTest : public ::testing::Test {
 protected:
  MetricsCollectorTest()
      : thick_({"vg0", "", kGiB, 1.0, {}}, &runner_, &fs_, &copier_),
        thin_({"vg0", "pool0", 0, 2.0, {}}, &runner_, &fs_, &copier_),
        loop_({"/data/loop", kGiB, 1.5}, &fs_, &loops_),
        driver_("cellar.csi.io", {"namespace"}) {
    lvm_.AddVg("vg0", 10 * kGiB);
    lvm_.AddThinPool("vg0", "pool0", 2 * kGiB);
    runner_.SetHandler("lvm", lvm_.Handler());
    runner_.SetHandler("blkdiscard", lvm_.BlkdiscardHandler());
    EXPECT_TRUE(fs_.MakeDirs("/data/loop", 0700).ok());
    FsStats stats;
    stats.total_bytes = 10 * kGiB;
    stats.free_bytes = 8 * kGiB;
    stats.available_bytes = 8 * kGiB;
    fs_.SetFsStats(stats);
    fs_.AddFile("/proc/self/statm", "1000 300 50 10 0 200 0\n");
    EXPECT_TRUE(fs_.MakeDirs("/proc/self/fd", 0700).ok());
    for (const char* fd :
         {"/proc/self/fd/0", "/proc/self/fd/1", "/proc/self/fd/7"}) {
      fs_.AddFile(fd);
    }
    EXPECT_TRUE(fs_.MakeDirs("/dev/mapper", 0755).ok());
    fs_.AddFile("/dev/mapper/control");
    fs_.AddFile("/dev/mapper/cellar-abc");
    fs_.AddFile("/dev/mapper/vg0-other");
  }

  MetricsCollector Collector(absl::Time* now) {
    MetricsConfig config;
    config.version = "1.2.3";
    config.start_time = absl::FromUnixSeconds(1700000000);
    config.count_mappings = true;
    return MetricsCollector(config, &driver_,
                            {{"thick", "lvm", &thick_},
                             {"thin", "lvm-thin", &thin_},
                             {"loop", "loop", &loop_}},
                            &fs_, [now] { return *now; });
  }

  int LvmRuns() const {
    int runs = 0;
    for (const Command& call : runner_.calls()) runs += call.argv[0] == "lvm";
    return runs;
  }

  testing::FakeLvm lvm_;
  FakeCommandRunner runner_;
  FakeFileSystem fs_;
  FakeBlockCopier copier_;
  FakeLoopDevices loops_;
  LvmBackend thick_;
  LvmBackend thin_;
  LoopBackend loop_;
  DriverMetrics driver_;
};

TEST_F(MetricsCollectorTest, ShowsEachClassVgPoolAndProcess) {
  ASSERT_TRUE(thick_.Create(Record("thick", "a", kGiB)).ok());
  ASSERT_TRUE(thin_.Create(Record("thin", "b", 3 * kGiB)).ok());
  ASSERT_TRUE(thin_.Create(Record("thin", "c", kGiB)).ok());
  ASSERT_TRUE(loop_.Create(Record("loop", "d", 2 * kGiB)).ok());
  lvm_.SetPoolUse("vg0", "pool0", 81.5, 12.25);
  lvm_.SetMissingPvs("vg0", 1);
  driver_.ObserveRpc("/csi.v1.Controller/CreateVolume", grpc::StatusCode::OK,
                     0.3);
  driver_.PublishRefused("namespace");

  absl::Time now = absl::FromUnixSeconds(1700000100);
  MetricsCollector collector = Collector(&now);
  absl::StatusOr<std::string> text = collector.Render();
  ASSERT_TRUE(text.ok()) << text.status();
  const std::map<std::string, double> m = Parse(*text);
  auto at = [&m](const std::string& key) {
    auto it = m.find(key);
    EXPECT_NE(it, m.end()) << key;
    return it == m.end() ? -1 : it->second;
  };
  // Thick: the VG minus the reserve; one volume of 1 GiB.
  EXPECT_EQ(at("cellar_device_class_up{device_class=\"thick\"}"), 1);
  EXPECT_EQ(at("cellar_device_class_capacity_bytes{device_class=\"thick\",kind="
               "\"lvm\"}"),
            9.0 * kGiB);
  EXPECT_EQ(at("cellar_device_class_volumes{device_class=\"thick\"}"), 1);
  EXPECT_EQ(at("cellar_device_class_allocated_bytes{device_class=\"thick\"}"),
            1.0 * kGiB);
  // Thin: 2 GiB pool x 2.0; 4 GiB promised, 0 left.
  EXPECT_EQ(at("cellar_device_class_capacity_bytes{device_class=\"thin\",kind="
               "\"lvm-thin\"}"),
            4.0 * kGiB);
  EXPECT_EQ(at("cellar_device_class_available_bytes{device_class=\"thin\"}"),
            0);
  EXPECT_EQ(at("cellar_device_class_volumes{device_class=\"thin\"}"), 2);
  EXPECT_EQ(at("cellar_thin_pool_size_bytes{pool=\"vg0/pool0\"}"), 2.0 * kGiB);
  EXPECT_EQ(at("cellar_thin_pool_data_used_ratio{pool=\"vg0/pool0\"}"), 0.815);
  EXPECT_EQ(at("cellar_thin_pool_metadata_used_ratio{pool=\"vg0/pool0\"}"),
            0.1225);
  EXPECT_EQ(at("cellar_thin_pool_metadata_size_bytes{pool=\"vg0/pool0\"}"),
            4 << 20);
  EXPECT_EQ(at("cellar_thin_pool_chunk_size_bytes{pool=\"vg0/pool0\"}"),
            64 << 10);
  EXPECT_EQ(at("cellar_thin_pool_virtual_bytes{pool=\"vg0/pool0\"}"),
            4.0 * kGiB);
  // The VG both LVM classes share appears once.
  EXPECT_EQ(at("cellar_vg_size_bytes{vg=\"vg0\"}"), 10.0 * kGiB);
  EXPECT_EQ(at("cellar_vg_missing_pvs{vg=\"vg0\"}"), 1);
  EXPECT_EQ(at("cellar_vg_free_bytes{vg=\"vg0\"}"),
            static_cast<double>(lvm_.VgFree("vg0")));
  EXPECT_EQ(absl::StrContains(*text, "cellar_vg_size_bytes{vg=\"vg0\"} ") &&
                text->find("cellar_vg_size_bytes{vg=\"vg0\"} ") ==
                    text->rfind("cellar_vg_size_bytes{vg=\"vg0\"} "),
            true);
  // Loop: 9 GiB after the reserve x 1.5; one image of 2 GiB.
  EXPECT_EQ(at("cellar_device_class_capacity_bytes{device_class=\"loop\",kind="
               "\"loop\"}"),
            13.5 * kGiB);
  EXPECT_EQ(at("cellar_loop_image_fs_size_bytes{device_class=\"loop\"}"),
            10.0 * kGiB);
  EXPECT_EQ(at("cellar_loop_image_fs_free_bytes{device_class=\"loop\"}"),
            8.0 * kGiB);
  EXPECT_EQ(at("cellar_loop_promised_bytes{device_class=\"loop\"}"),
            2.0 * kGiB);
  // Process and driver.
  EXPECT_EQ(at("process_resident_memory_bytes"), 300.0 * sysconf(_SC_PAGESIZE));
  EXPECT_EQ(at("process_open_fds"), 3);
  EXPECT_EQ(at("process_start_time_seconds"), 1700000000);
  EXPECT_EQ(at("cellar_build_info{version=\"1.2.3\"}"), 1);
  EXPECT_EQ(at("cellar_luks_open_mappings"), 1);
  EXPECT_EQ(at("cellar_publish_refusals_total{rule=\"namespace\"}"), 1);
  EXPECT_EQ(
      at("csi_plugin_operations_seconds_count{driver_name=\"cellar.csi.io\","
         "method_name=\"/csi.v1.Controller/CreateVolume\","
         "grpc_status_code=\"OK\"}"),
      1);
  // Tenants stay out: no volume name, id or namespace in any label.
  for (const std::string& secret :
       {std::string("tenant-secret-ns"), Record("thin", "b", 0).volume_id(),
        std::string("cv-")}) {
    EXPECT_FALSE(absl::StrContains(*text, secret)) << secret;
  }
}

TEST_F(MetricsCollectorTest, ABurstOfScrapesReadsTheStorageOnce) {
  absl::Time now = absl::FromUnixSeconds(1000);
  MetricsCollector collector = Collector(&now);
  ASSERT_TRUE(collector.Render().ok());
  const int first = LvmRuns();
  EXPECT_GT(first, 0);
  now += absl::Seconds(1);
  ASSERT_TRUE(collector.Render().ok());
  ASSERT_TRUE(collector.Render().ok());
  EXPECT_EQ(LvmRuns(), first);
  // Counters are fresh on every scrape even while storage is cached.
  driver_.PublishRefused("namespace");
  EXPECT_TRUE(
      absl::StrContains(*collector.Render(),
                        "cellar_publish_refusals_total{rule=\"namespace\"} 1"));
  now += absl::Seconds(2);
  ASSERT_TRUE(collector.Render().ok());
  EXPECT_EQ(LvmRuns(), 2 * first);
}

TEST_F(MetricsCollectorTest, AClassWhoseStorageIsGoneIsDownNotAnError) {
  lvm_.SetVgMissing("vg0", true);
  absl::Time now = absl::FromUnixSeconds(1000);
  MetricsCollector collector = Collector(&now);
  absl::StatusOr<std::string> text = collector.Render();
  ASSERT_TRUE(text.ok()) << text.status();
  const std::map<std::string, double> m = Parse(*text);
  EXPECT_EQ(m.at("cellar_device_class_up{device_class=\"thick\"}"), 0);
  EXPECT_EQ(m.at("cellar_device_class_up{device_class=\"thin\"}"), 0);
  EXPECT_EQ(m.at("cellar_device_class_up{device_class=\"loop\"}"), 1);
  EXPECT_EQ(m.count("cellar_vg_size_bytes{vg=\"vg0\"}"), 0u);
}

TEST(ServeMetricsTest, OnlyGetOfMetrics) {
  int renders = 0;
  auto render = [&renders]() -> absl::StatusOr<std::string> {
    ++renders;
    return std::string("x 1\n");
  };
  HttpResponse ok = ServeMetrics({"GET", "/metrics"}, render);
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "x 1\n");
  EXPECT_EQ(ok.content_type, kExpositionContentType);
  for (const char* method : {"POST", "PUT", "DELETE", "HEAD", "OPTIONS"}) {
    HttpResponse refused = ServeMetrics({method, "/metrics"}, render);
    EXPECT_EQ(refused.status, 405) << method;
    EXPECT_EQ(refused.allow, "GET");
  }
  for (const char* path : {"/", "/metrics/", "/metricsx", "/debug", ""}) {
    EXPECT_EQ(ServeMetrics({"GET", path}, render).status, 404) << path;
  }
  EXPECT_EQ(renders, 1);  // refused requests render nothing
  HttpResponse failed = ServeMetrics({"GET", "/metrics"}, [] {
    return absl::StatusOr<std::string>(absl::InternalError("boom"));
  });
  EXPECT_EQ(failed.status, 500);
  EXPECT_FALSE(absl::StrContains(failed.body, "boom"));
}

}  // namespace
}  // namespace cellar
