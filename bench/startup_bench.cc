// Prints cellar-csi's start-up time (process start until the socket answers
// a Probe) and its resident memory when idle and after 200 RPCs; then the
// same with the metrics endpoint on (--metrics-address), and the time of a
// scrape of /metrics (the first, which reads the storage, and the next
// ones, which find it cached for 2 s).
//
//   bazel run -c opt //bench:startup_bench [-- RUNS]
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "test/testing/driver_process.h"
#include "test/testing/http_get.h"

namespace {

using cellar::testing::Context;
using cellar::testing::DriverProcess;

long RssKiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

double Percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  const size_t index =
      std::min(values.size() - 1, static_cast<size_t>(p * values.size()));
  return values[index];
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::atoi(argv[1]) : 20;
  char pattern[] = "/tmp/cellar-bench-XXXXXX";
  if (mkdtemp(pattern) == nullptr) return 1;
  const std::string root = pattern;
  const std::string data = root + "/data";
  const std::string sock = root + "/csi.sock";

  std::vector<double> startup_ms;
  long idle_kib = 0, busy_kib = 0;
  for (int i = 0; i < runs; ++i) {
    const auto start = std::chrono::steady_clock::now();
    auto driver = DriverProcess::Start(data, sock, {"--log-level=warn"});
    if (!driver.ok()) {
      std::fprintf(stderr, "start failed: %s\n",
                   driver.status().ToString().c_str());
      return 1;
    }
    startup_ms.push_back(std::chrono::duration<double, std::milli>(
                             std::chrono::steady_clock::now() - start)
                             .count());
    if (i == runs - 1) {
      absl::SleepFor(absl::Milliseconds(1500));
      idle_kib = RssKiB((*driver)->pid());
      for (int call = 0; call < 200; ++call) {
        csi::v1::ProbeResponse probe;
        csi::v1::GetPluginInfoResponse info;
        (*driver)->identity().Probe(Context().get(), {}, &probe);
        (*driver)->identity().GetPluginInfo(Context().get(), {}, &info);
      }
      busy_kib = RssKiB((*driver)->pid());
    }
    (void)(*driver)->Stop(SIGTERM);
  }
  std::printf(
      "cellar-csi start-up (spawn -> Probe answered), %d runs: "
      "p50 %.1f ms, p99 %.1f ms, max %.1f ms (target < 100 ms)\n",
      runs, Percentile(startup_ms, 0.5), Percentile(startup_ms, 0.99),
      *std::max_element(startup_ms.begin(), startup_ms.end()));
  std::printf(
      "cellar-csi RSS: idle %.1f MiB, after 400 calls %.1f MiB "
      "(target idle < 15 MiB)\n",
      idle_kib / 1024.0, busy_kib / 1024.0);

  // The metrics endpoint: same calls, plus scrapes.
  auto driver = DriverProcess::Start(
      data, sock, {"--log-level=info", "--metrics-address=127.0.0.1:0"});
  if (!driver.ok()) {
    std::fprintf(stderr, "start failed: %s\n",
                 driver.status().ToString().c_str());
    return 1;
  }
  const std::string log = (*driver)->ReadLog();
  const size_t at = log.find("(port ");
  const int port =
      at == std::string::npos ? 0 : std::atoi(log.c_str() + at + 6);
  absl::SleepFor(absl::Milliseconds(1500));
  const long metrics_idle_kib = RssKiB((*driver)->pid());
  for (int call = 0; call < 200; ++call) {
    csi::v1::ProbeResponse probe;
    csi::v1::GetPluginInfoResponse info;
    (*driver)->identity().Probe(Context().get(), {}, &probe);
    (*driver)->identity().GetPluginInfo(Context().get(), {}, &info);
  }
  auto scrape_ms = [port] {
    const auto start = std::chrono::steady_clock::now();
    const std::string reply = cellar::testing::HttpGet(port, "/metrics");
    const double ms = std::chrono::duration<double, std::milli>(
                          std::chrono::steady_clock::now() - start)
                          .count();
    return reply.rfind("HTTP/1.1 200", 0) == 0 ? ms : -1.0;
  };
  const double cold_ms = scrape_ms();
  std::vector<double> cached_ms;
  for (int i = 0; i < 50; ++i) cached_ms.push_back(scrape_ms());
  absl::SleepFor(absl::Milliseconds(2100));
  const double cold_again_ms = scrape_ms();
  const long metrics_busy_kib = RssKiB((*driver)->pid());
  (void)(*driver)->Stop(SIGTERM);
  std::printf(
      "with --metrics-address: RSS idle %.1f MiB (+%.2f), after 400 "
      "calls and 52 scrapes %.1f MiB (+%.2f) (target: at most +1 MiB)\n",
      metrics_idle_kib / 1024.0, (metrics_idle_kib - idle_kib) / 1024.0,
      metrics_busy_kib / 1024.0, (metrics_busy_kib - busy_kib) / 1024.0);
  std::printf(
      "scrape of /metrics (loop class): storage read %.2f ms and %.2f "
      "ms, cached p50 %.2f ms, p90 %.2f ms\n",
      cold_ms, cold_again_ms, Percentile(cached_ms, 0.5),
      Percentile(cached_ms, 0.9));
  const std::string cmd = "rm -rf '" + root + "'";
  return system(cmd.c_str()) == 0 ? 0 : 1;
}
