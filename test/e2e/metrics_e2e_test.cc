// The real binary with --metrics-address, scraped with curl after a loop
// lifecycle: the operation histogram counted every RPC by method and code,
// a refused publish is counted by rule, the class gauges follow the
// volumes, the endpoint answers nothing but GET /metrics, and no volume,
// namespace or pod name reaches the page.
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <regex>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "src/common/units.h"
#include "test/platform/loop_test_support.h"
#include "test/testing/csi_client.h"
#include "test/testing/driver_process.h"
#include "test/testing/e2e_fixture.h"
#include "test/testing/shell.h"

namespace cellar {
namespace {

using testing::Shell;

class MetricsE2eTest : public testing::E2eFixture {
 protected:
  MetricsE2eTest() : Fixture("cellar-metrics") {}

  std::string SkipReason() override {
    std::string why = Fixture::SkipReason();
    if (why.empty() && Shell("command -v curl").empty()) why = "needs curl";
    return why;
  }

  void SetUp() override {
    Fixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_NO_FATAL_FAILURE(
        StartDriver({"--node-id=metrics-node", "--reserve-bytes=0",
                     "--metrics-address=127.0.0.1:0"}));
    std::smatch match;
    const std::string log = driver_->ReadLog();
    ASSERT_TRUE(
        std::regex_search(log, match, std::regex("\\(port ([0-9]+)\\)")))
        << log;
    port_ = match[1];
  }

  // curl's status code and body for `method` on `path`.
  std::string Curl(const std::string& method, const std::string& path,
                   std::string* body = nullptr) {
    const std::string file = root_ + "/scrape";
    const std::string code = Shell(absl::StrCat(
        "curl -s --path-as-is -o '", file, "' -w '%{http_code}' -X ", method,
        " http://127.0.0.1:", port_, path));
    if (body != nullptr) *body = Shell("cat '" + file + "'");
    return code;
  }

  // The value of the series `series` (name and labels, exactly as
  // printed), or -1 when the page has none.
  static double Value(const std::string& page, const std::string& series) {
    const std::string key = "\n" + series + " ";
    const size_t at = page.find(key);
    if (at == std::string::npos) return -1;
    return std::stod(page.substr(at + key.size()));
  }

  static std::string Count(const std::string& method, const std::string& code) {
    return absl::StrCat(
        "csi_plugin_operations_seconds_count{driver_name=\"cellar.csi.io\","
        "method_name=\"",
        method, "\",grpc_status_code=\"", code, "\"}");
  }

  std::string port_;
};

TEST_F(MetricsE2eTest, ALifecycleIsCountedByMethodAndCode) {
  const auto cap = testing::Capability("ext4", false);
  std::string id;
  ASSERT_TRUE(client_
                  ->CreateWithParameters(
                      "pvc-secret-claim", cap, 64 * kMiB,
                      {{"csi.storage.k8s.io/pvc/namespace", "tenant-ns-a"}},
                      &id)
                  .ok());
  // Same name, other size: ALREADY_EXISTS.
  std::string other;
  EXPECT_EQ(
      client_->Create("pvc-secret-claim", cap, 128 * kMiB, &other).error_code(),
      grpc::StatusCode::ALREADY_EXISTS);
  const std::string staging =
      kubelet_ + "/plugins/kubernetes.io/csi/cellar/pvc/globalmount";
  ASSERT_EQ(Shell("mkdir -p '" + staging + "' && echo ok"), "ok\n");
  ASSERT_TRUE(client_->Stage(id, staging, cap).ok());
  // A pod of another namespace is refused.
  const std::string target =
      kubelet_ + "/pods/uid-b/volumes/kubernetes.io~csi/pvc/mount";
  csi::v1::NodePublishVolumeRequest publish;
  publish.set_volume_id(id);
  publish.set_staging_target_path(staging);
  publish.set_target_path(target);
  *publish.mutable_volume_capability() = cap;
  (*publish.mutable_volume_context())["csi.storage.k8s.io/pod.namespace"] =
      "tenant-ns-b";
  (*publish.mutable_volume_context())["csi.storage.k8s.io/pod.name"] =
      "secret-pod-name";
  csi::v1::NodePublishVolumeResponse response;
  EXPECT_EQ(driver_->node()
                .NodePublishVolume(testing::Context().get(), publish, &response)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  // While the volume exists the class shows it.
  std::string page;
  ASSERT_EQ(Curl("GET", "/metrics", &page), "200");
  page = "\n" + page;
  EXPECT_EQ(
      Value(page, "cellar_device_class_volumes{device_class=\"default\"}"), 1)
      << page;
  EXPECT_EQ(
      Value(page,
            "cellar_device_class_allocated_bytes{device_class=\"default\"}"),
      64.0 * kMiB);

  ASSERT_TRUE(client_->Unstage(id, staging).ok());
  ASSERT_TRUE(client_->Delete(id).ok());
  ASSERT_TRUE(client_->Delete(id).ok());

  ASSERT_EQ(Curl("GET", "/metrics", &page), "200");
  page = "\n" + page;
  EXPECT_EQ(Value(page, Count("/csi.v1.Controller/CreateVolume", "OK")), 1)
      << page;
  EXPECT_EQ(
      Value(page, Count("/csi.v1.Controller/CreateVolume", "AlreadyExists")),
      1);
  EXPECT_EQ(Value(page, Count("/csi.v1.Node/NodeStageVolume", "OK")), 1);
  EXPECT_EQ(
      Value(page, Count("/csi.v1.Node/NodePublishVolume", "PermissionDenied")),
      1);
  EXPECT_EQ(Value(page, Count("/csi.v1.Node/NodeUnstageVolume", "OK")), 1);
  EXPECT_EQ(Value(page, Count("/csi.v1.Controller/DeleteVolume", "OK")), 2);
  EXPECT_GE(Value(page, Count("/csi.v1.Identity/Probe", "OK")), 1);
  // The +Inf bucket holds every call; the sum is a duration.
  EXPECT_EQ(
      Value(
          page,
          "csi_plugin_operations_seconds_bucket{driver_name=\"cellar.csi.io\","
          "method_name=\"/csi.v1.Controller/DeleteVolume\","
          "grpc_status_code=\"OK\",le=\"+Inf\"}"),
      2);
  EXPECT_GT(
      Value(page,
            "csi_plugin_operations_seconds_sum{driver_name=\"cellar.csi.io\","
            "method_name=\"/csi.v1.Node/NodeStageVolume\","
            "grpc_status_code=\"OK\"}"),
      0);
  EXPECT_EQ(Value(page, "cellar_publish_refusals_total{rule=\"namespace\"}"),
            1);
  EXPECT_EQ(
      Value(page, "cellar_publish_refusals_total{rule=\"no_pod_identity\"}"),
      0);
  // Storage was read again after 2 s at most: the volume is gone.
  sleep(3);
  ASSERT_EQ(Curl("GET", "/metrics", &page), "200");
  page = "\n" + page;
  EXPECT_EQ(
      Value(page, "cellar_device_class_volumes{device_class=\"default\"}"), 0);
  EXPECT_GT(Value(page, "process_resident_memory_bytes"), 1 << 20);
  EXPECT_GT(Value(page, "process_open_fds"), 3);
  EXPECT_TRUE(absl::StrContains(page, "\ncellar_build_info{version=\""));
  // No tenant's name anywhere.
  for (const std::string& secret :
       {std::string("tenant-ns-a"), std::string("tenant-ns-b"),
        std::string("secret-pod-name"), std::string("pvc-secret-claim"), id}) {
    EXPECT_FALSE(absl::StrContains(page, secret)) << secret;
  }
}

TEST_F(MetricsE2eTest, OnlyGetOfMetricsIsServed) {
  EXPECT_EQ(Curl("GET", "/metrics"), "200");
  EXPECT_EQ(Curl("POST", "/metrics"), "405");
  EXPECT_EQ(Curl("PUT", "/metrics"), "405");
  EXPECT_EQ(Curl("GET", "/"), "404");
  EXPECT_EQ(Curl("GET", "/metrics/../data/csi.sock"), "404");
  EXPECT_EQ(Curl("GET", "/debug/pprof"), "404");
  // The driver still answers over its socket.
  csi::v1::ProbeResponse probe;
  EXPECT_TRUE(
      driver_->identity()
          .Probe(testing::Context().get(), csi::v1::ProbeRequest(), &probe)
          .ok());
}

}  // namespace
}  // namespace cellar
