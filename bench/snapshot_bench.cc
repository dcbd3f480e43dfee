// Snapshot latency and the bytes a snapshot physically takes, for a 1 GiB
// loop volume holding 10% data (the target: time and space in proportion
// to the data, not to the nominal size).
//
//   bazel run -c opt //bench:snapshot_bench [-- RUNS]     (root)
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "test/platform/loop_test_support.h"
#include "test/testing/csi_client.h"
#include "test/testing/driver_process.h"

namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

uint64_t AllocatedBytes(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::atoi(argv[1]) : 10;
  if (geteuid() != 0) {
    std::fprintf(stderr, "snapshot_bench needs root\n");
    return 1;
  }
  char pattern[] = "/tmp/cellar-snapbench-XXXXXX";
  if (mkdtemp(pattern) == nullptr) return 1;
  const std::string root = pattern;
  const std::string kubelet = root + "/kubelet";
  system(("mkdir -p '" + kubelet + "/plugins/kubernetes.io/csi/s/globalmount'")
             .c_str());
  auto driver = cellar::testing::DriverProcess::Start(
      root + "/data", root + "/csi.sock",
      {"--kubelet-dir=" + kubelet, "--reserve-bytes=0", "--log-level=warn"});
  if (!driver.ok()) {
    std::fprintf(stderr, "%s\n", driver.status().ToString().c_str());
    return 1;
  }
  cellar::testing::CsiClient client((*driver)->channel());
  auto controller = csi::v1::Controller::NewStub((*driver)->channel());
  const auto cap = cellar::testing::Capability("ext4", false);
  const std::string staging =
      kubelet + "/plugins/kubernetes.io/csi/s/globalmount";
  const std::string target =
      kubelet + "/pods/p/volumes/kubernetes.io~csi/s/mount";
  std::string id;
  int failures = 0;
  if (!client.Create("source", cap, 1ll << 30, &id).ok() ||
      !client.Stage(id, staging, cap).ok() ||
      !client.Publish(id, staging, target, cap, false).ok()) {
    std::fprintf(stderr, "could not set up the source volume\n");
    return 1;
  }
  // 10% of the volume: 100 MiB of incompressible data, synced.
  {
    std::mt19937_64 random(42);
    std::vector<uint64_t> block(1 << 17);
    const int fd = open((target + "/data").c_str(), O_WRONLY | O_CREAT, 0644);
    for (int i = 0; i < 100; ++i) {
      for (auto& word : block) word = random();
      if (write(fd, block.data(), 1 << 20) != 1 << 20) ++failures;
    }
    fsync(fd);
    close(fd);
  }
  const std::string image = root + "/data/loop/" + id + ".img";
  std::vector<double> latency;
  uint64_t snapshot_bytes = 0;
  for (int i = 0; i < runs; ++i) {
    csi::v1::CreateSnapshotRequest request;
    request.set_name(absl::StrCat("snap-", i));
    request.set_source_volume_id(id);
    csi::v1::CreateSnapshotResponse response;
    auto context = cellar::testing::Context();
    const auto start = Clock::now();
    if (!controller->CreateSnapshot(context.get(), request, &response).ok()) {
      ++failures;
      continue;
    }
    latency.push_back(Ms(Clock::now() - start));
    snapshot_bytes = AllocatedBytes(
        root + "/data/loop/" + response.snapshot().snapshot_id() + ".snap");
    csi::v1::DeleteSnapshotRequest del;
    del.set_snapshot_id(response.snapshot().snapshot_id());
    csi::v1::DeleteSnapshotResponse deleted;
    auto del_context = cellar::testing::Context();
    if (!controller->DeleteSnapshot(del_context.get(), del, &deleted).ok())
      ++failures;
  }
  std::sort(latency.begin(), latency.end());
  const uint64_t source_bytes = AllocatedBytes(image);
  if (!latency.empty()) {
    std::printf(
        "snapshot of a 1 GiB loop volume with 100 MiB of data, %zu runs:\n"
        "  latency p50 %.1f ms, max %.1f ms (includes freezing the mounted "
        "filesystem)\n"
        "  source image allocates %.1f MiB; each snapshot allocates %.1f MiB "
        "(%.1f%% of the nominal 1024 MiB)\n",
        latency.size(), latency[latency.size() / 2], latency.back(),
        source_bytes / 1048576.0, snapshot_bytes / 1048576.0,
        100.0 * snapshot_bytes / (1ull << 30));
  }
  client.Unpublish(id, target);
  client.Unstage(id, staging);
  client.Delete(id);
  (void)(*driver)->Stop(SIGTERM);
  cellar::CleanUpScratchDir(root);
  if (failures) std::printf("FAILURES: %d\n", failures);
  return failures == 0 ? 0 : 1;
}
