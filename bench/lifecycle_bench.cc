// Lifecycle latency of cellar-csi on the loop backend, next to the same
// steps done by hand in the same run, and wall time of parallel lifecycles.
//
//   bazel run -c opt //bench:lifecycle_bench [-- RUNS]     (root)
//
// One lifecycle: create, stage, publish, unpublish, unstage, delete of a
// 1 GiB volume (ext4, xfs or raw block). By hand: truncate, losetup
// --direct-io=on, mkfs with the driver's options, mount, bind mount,
// umount x2, losetup -d, rm, each as its own process, as an operator's
// script would run them.
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
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

bool Sh(const std::string& command) {
  return system(command.c_str()) == 0;
}

struct Bench {
  std::string root, kubelet;
  std::unique_ptr<testing::DriverProcess> driver;
  std::unique_ptr<testing::CsiClient> client;
};

bool DriverLifecycle(Bench& b, const std::string& name,
                     const std::string& kind) {
  const bool block = kind == "block";
  const auto cap = testing::Capability(block ? "" : kind, block);
  const std::string staging = b.kubelet + "/plugins/" + name + "/globalmount";
  const std::string target = b.kubelet + "/pods/p/volumes/" + name + "/mount";
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

bool HandLifecycle(const std::string& root, const std::string& name,
                   const std::string& kind) {
  const std::string image = root + "/hand-" + name + ".img";
  const std::string staging = root + "/hand-" + name + "-stage";
  const std::string target = root + "/hand-" + name + "-target";
  const std::string dev_file = root + "/hand-" + name + ".dev";
  bool ok = Sh("truncate -s 1G '" + image + "'") &&
            Sh("losetup --direct-io=on -f --show '" + image + "' > '" +
               dev_file + "'");
  const std::string dev = "$(cat '" + dev_file + "')";
  if (kind == "block") {
    ok = ok && Sh("touch '" + target + "'") &&
         Sh("mount --bind " + dev + " '" + target + "'") &&
         Sh("umount '" + target + "'");
  } else {
    const std::string mkfs =
        kind == "ext4"
            ? "mkfs.ext4 -q -F -E nodiscard,lazy_itable_init=1,lazy_journal_init=1 "
            : "mkfs.xfs -q -K ";
    ok = ok && Sh("mkdir -p '" + staging + "' '" + target + "'") &&
         Sh(mkfs + dev) &&
         Sh("mount -o nosuid,nodev " + dev + " '" + staging + "'") &&
         Sh("mount --bind '" + staging + "' '" + target + "'") &&
         Sh("umount '" + target + "'") && Sh("umount '" + staging + "'");
  }
  ok = Sh("losetup -d " + dev) && ok;
  ok = Sh("rm -rf '" + image + "' '" + staging + "' '" + target + "' '" +
          dev_file + "'") &&
       ok;
  return ok;
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
              "driver p99", "hand p50", "hand p99", "ratio");
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
                Percentile(driver_ms, 0.99), h50, Percentile(hand_ms, 0.99),
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
