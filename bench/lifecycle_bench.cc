// Lifecycle latency of cellar-csi on the loop backend, next to the same
// steps done by hand in the same run, and wall time of parallel lifecycles.
//
//   bazel run -c opt //bench:lifecycle_bench [-- RUNS]     (root)
//
// One lifecycle: create, stage, publish, unpublish, unstage, delete of a
// 1 GiB volume (ext4, xfs or raw block). By hand: one bash script per
// lifecycle doing the same work (record written durably, image, losetup
// --direct-io=on, blkid probe, mkfs with the driver's options, mount, bind,
// remount nosuid,nodev, umount x2, losetup -d, rm), each tool run directly.
// Figures are p50 and p90 over the runs (20 by default).
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "test/platform/loop_test_support.h"
#include "test/testing/csi_client.h"
#include "test/testing/driver_process.h"

namespace cellar {
namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

bool Sh(const std::string& command) { return system(command.c_str()) == 0; }

struct Bench {
  std::string root, kubelet;
  std::unique_ptr<testing::DriverProcess> driver;
  std::unique_ptr<testing::CsiClient> client;
};

bool DriverLifecycle(Bench& b, const std::string& name,
                     const std::string& kind) {
  const bool block = kind == "block";
  const auto cap = testing::Capability(block ? "" : kind, block);
  const std::string staging =
      b.kubelet + "/plugins/kubernetes.io/csi/" + name + "/globalmount";
  const std::string target =
      b.kubelet + "/pods/p/volumes/kubernetes.io~csi/" + name + "/mount";
  if (!Sh("mkdir -p '" + staging + "'")) return false;
  std::string id;
  auto check = [&](const grpc::Status& status, const char* step) {
    if (!status.ok()) {
      std::fprintf(stderr, "%s %s: %s\n", name.c_str(), step,
                   status.error_message().c_str());
    }
    return status.ok();
  };
  return check(b.client->Create(name, cap, 1ll << 30, &id), "create") &&
         check(b.client->Stage(id, staging, cap), "stage") &&
         check(b.client->Publish(id, staging, target, cap, false), "publish") &&
         check(b.client->Unpublish(id, target), "unpublish") &&
         check(b.client->Unstage(id, staging), "unstage") &&
         check(b.client->Delete(id), "delete");
}

// The same lifecycle as a careful operator's script: one bash process per
// lifecycle running each tool directly, doing the work the driver does (the
// record written durably beside the image, a blkid probe before mkfs, the
// bind remounted nosuid,nodev, everything undone in order).
bool HandLifecycle(const std::string& root, const std::string& name,
                   const std::string& kind) {
  const std::string base = root + "/hand-" + name;
  std::string mkfs;
  if (kind == "ext4") {
    mkfs =
        "mkfs.ext4 -q -F -E nodiscard,lazy_itable_init=1,lazy_journal_init=1 "
        "\"$dev\"";
  } else if (kind == "xfs") {
    mkfs = "mkfs.xfs -q -K \"$dev\"";
  }
  const std::string mount_steps =
      kind == "block" ? "touch \"$t\"; mount --bind \"$dev\" \"$t\"; "
                        "mount -o remount,bind,nosuid \"$t\"; umount \"$t\"; "
                      : "mkdir -p \"$s\" \"$t\"; "
                        "[ -z \"$(blkid -p -o value -s TYPE \"$dev\")\" ] && " +
                            mkfs +
                            "; "
                            "mount -o nosuid,nodev \"$dev\" \"$s\"; "
                            "mount --bind \"$s\" \"$t\"; "
                            "mount -o remount,bind,nosuid,nodev \"$t\"; "
                            "umount \"$t\"; umount \"$s\"; ";
  const std::string script =
      "set -e; b='" + base +
      "'; s=\"$b-stage\"; t=\"$b-target\"; "
      // create: the record durably, then the sparse image
      "echo '{}' > \"$b.json.tmp\"; sync \"$b.json.tmp\"; "
      "mv \"$b.json.tmp\" \"$b.json\"; sync -f \"$b.json\"; "
      "truncate -s 1G \"$b.img\"; "
      // stage and publish, then undo
      "dev=$(losetup --direct-io=on -f --show \"$b.img\"); " +
      mount_steps +
      "losetup -d \"$dev\"; "
      // delete
      "rm -f \"$b.img\" \"$b.json\"; rm -rf \"$s\" \"$t\"";
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/bash", "bash", "-c", script.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return false;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace
}  // namespace cellar

int main(int argc, char** argv) {
  using namespace cellar;
  const int runs = argc > 1 ? std::atoi(argv[1]) : 20;
  if (geteuid() != 0) {
    std::fprintf(stderr, "lifecycle_bench needs root\n");
    return 1;
  }
  char pattern[] = "/tmp/cellar-lifecycle-XXXXXX";
  if (mkdtemp(pattern) == nullptr) return 1;
  Bench b;
  b.root = pattern;
  b.kubelet = b.root + "/kubelet";
  Sh("mkdir -p '" + b.kubelet + "'");
  auto driver = cellar::testing::DriverProcess::Start(
      b.root + "/data", b.root + "/csi.sock",
      {"--kubelet-dir=" + b.kubelet, "--reserve-bytes=0", "--log-level=warn"});
  if (!driver.ok()) {
    std::fprintf(stderr, "%s\n", driver.status().ToString().c_str());
    return 1;
  }
  b.driver = *std::move(driver);
  b.client = std::make_unique<cellar::testing::CsiClient>(b.driver->channel());

  int failures = 0;
  std::printf("lifecycle of a 1 GiB volume, %d runs each (ms)\n", runs);
  std::printf("%-6s %10s %10s %10s %10s %8s\n", "kind", "driver p50",
              "driver p90", "hand p50", "hand p90", "ratio p50");
  for (const std::string kind : {"ext4", "xfs", "block"}) {
    std::vector<double> driver_ms, hand_ms;
    for (int i = 0; i < runs; ++i) {
      // Alternate so drift on a noisy machine hits both sides alike.
      auto start = Clock::now();
      if (!DriverLifecycle(b, absl::StrCat(kind, "-", i), kind)) ++failures;
      driver_ms.push_back(Ms(Clock::now() - start));
      start = Clock::now();
      if (!HandLifecycle(b.root, absl::StrCat(kind, "-", i), kind)) ++failures;
      hand_ms.push_back(Ms(Clock::now() - start));
    }
    const double d50 = Percentile(driver_ms, 0.5);
    const double h50 = Percentile(hand_ms, 0.5);
    std::printf("%-6s %10.1f %10.1f %10.1f %10.1f %7.2fx\n", kind.c_str(), d50,
                Percentile(driver_ms, 0.9), h50, Percentile(hand_ms, 0.9),
                d50 / h50);
  }

  std::printf("parallel lifecycles (ext4, 1 GiB each), wall time:\n");
  for (int n : {1, 8, 64}) {
    const auto start = Clock::now();
    std::vector<std::thread> threads;
    std::atomic<int> failed{0};
    for (int i = 0; i < n; ++i) {
      threads.emplace_back([&, i] {
        if (!DriverLifecycle(b, absl::StrCat("par", n, "-", i), "ext4")) {
          ++failed;
        }
      });
    }
    for (auto& t : threads) t.join();
    failures += failed.load();
    std::printf("  %2d volumes: %8.1f ms\n", n, Ms(Clock::now() - start));
  }
  (void)b.driver->Stop(SIGTERM);
  b.client.reset();
  b.driver.reset();
  CleanUpScratchDir(b.root);
  if (failures != 0) std::printf("FAILED lifecycles: %d\n", failures);
  return failures == 0 ? 0 : 1;
}
