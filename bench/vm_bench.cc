// LVM and dm-crypt figures, measured inside the qemu guest of test/vm (only
// ratios mean anything under emulation):
//  - lifecycle latency of thick and thin LVM volumes through the driver,
//    next to one bash script per lifecycle doing the same work by hand
//    (record tag, zeroing a thick LV, blkid probe, mkfs, mount, bind,
//    remount, undo, deactivate, remove), p50 and p90;
//  - stage latency added by encryption (format + open on first stage, open
//    on later ones);
//  - sequential write throughput through dm-crypt vs the same kind of
//    device unencrypted;
//  - what zeroing a new thick LV costs (blkdiscard --zeroout by hand, and a
//    thick create through the driver next to a bare lvcreate);
//  - thick snapshots next to thin ones (see SnapshotFigures).
//
//   bench/run_vm_bench.sh [RUNS [SECTION...]]
// SECTION: lifecycle, zeroing, encryption, snapshots (default: all).
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "test/platform/loop_test_support.h"
#include "test/testing/csi_client.h"
#include "test/testing/driver_process.h"
#include "test/testing/shell.h"

namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

double Pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

double P50(std::vector<double> v) { return Pct(std::move(v), 0.5); }

bool Sh(const std::string& command) { return system(command.c_str()) == 0; }

using cellar::testing::Shell;

// One bash process running `script`, as an operator's script would run.
bool RunScript(const std::string& script) {
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

std::string Env(const char* name) {
  const char* v = getenv(name);
  return v ? v : "";
}

// MB/s of writing `bytes` sequentially with O_DIRECT to `device`.
double WriteThroughput(const std::string& device, size_t bytes) {
  const int fd = open(device.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
  if (fd < 0) return 0;
  constexpr size_t kChunk = 1 << 20;
  void* buffer = nullptr;
  if (posix_memalign(&buffer, 4096, kChunk) != 0) return 0;
  memset(buffer, 0x5a, kChunk);
  const auto start = Clock::now();
  size_t done = 0;
  while (done < bytes) {
    if (pwrite(fd, buffer, kChunk, static_cast<off_t>(done)) !=
        static_cast<ssize_t>(kChunk)) {
      break;
    }
    done += kChunk;
  }
  fsync(fd);
  const double seconds =
      std::chrono::duration<double>(Clock::now() - start).count();
  close(fd);
  free(buffer);
  return done / 1048576.0 / seconds;
}

bool Ready(cellar::testing::DriverProcess& driver, const std::string& id) {
  csi::v1::ListSnapshotsRequest request;
  request.set_snapshot_id(id);
  csi::v1::ListSnapshotsResponse response;
  return driver.controller()
             .ListSnapshots(cellar::testing::Context().get(), request,
                            &response)
             .ok() &&
         response.entries_size() == 1 &&
         response.entries(0).snapshot().ready_to_use();
}

// Polls Ready until `id` is ready; false after `limit`.
bool WaitReady(cellar::testing::DriverProcess& driver, const std::string& id,
               std::chrono::seconds limit = std::chrono::seconds(600)) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (Ready(driver, id)) return true;
    usleep(50 * 1000);
  }
  return false;
}

grpc::Status TakeSnapshot(cellar::testing::DriverProcess& driver,
                          const std::string& name, const std::string& source,
                          csi::v1::Snapshot* snapshot) {
  csi::v1::CreateSnapshotRequest request;
  request.set_name(name);
  request.set_source_volume_id(source);
  csi::v1::CreateSnapshotResponse response;
  grpc::Status status = driver.controller().CreateSnapshot(
      cellar::testing::Context().get(), request, &response);
  *snapshot = response.snapshot();
  return status;
}

bool DropSnapshot(cellar::testing::DriverProcess& driver,
                  const std::string& id) {
  csi::v1::DeleteSnapshotRequest request;
  request.set_snapshot_id(id);
  csi::v1::DeleteSnapshotResponse response;
  return driver.controller()
      .DeleteSnapshot(cellar::testing::Context().get(), request, &response)
      .ok();
}

// Thick snapshots next to thin ones:
//  - time to the CreateSnapshot answer of a mounted ext4 volume holding
//    128 MiB of data (thin: the whole snapshot; thick: the COW snapshot
//    under the freeze, answered ready_to_use false);
//  - thick: time from the answer to ready_to_use true, per GiB of data the
//    filesystem uses, at the default copy bandwidth (128 MiB/s) and, on the
//    second VG, unbounded, next to dd copying as many bytes between two
//    bare LVs there;
//  - the origin's sequential O_DIRECT write throughput while a copy from it
//    runs (a 512 MiB block volume, copied whole), as a ratio to an idle one,
//    next to the same ratio with a bare COW snapshot and no copy.
// Returns the number of failed calls.
int SnapshotFigures(cellar::testing::DriverProcess& driver,
                    cellar::testing::CsiClient& client,
                    const std::string& kubelet, int runs,
                    const std::string& vg2) {
  const bool have_vg2 = !vg2.empty();
  int failures = 0;
  const int n = std::max(1, std::min(runs, 3));
  const auto fs_cap = cellar::testing::Capability("ext4", false);
  std::vector<std::string> classes = {"thin", "thick"};
  if (have_vg2) classes.push_back("unbounded");
  std::printf(
      "snapshots of a mounted 256 MiB ext4 volume with 128 MiB of "
      "data, %d runs, p50:\n",
      n);
  for (const std::string& cls : classes) {
    std::vector<double> answer_ms, ready_s, ready_s_per_gib;
    for (int i = 0; i < n; ++i) {
      const std::string name = absl::StrCat("snap-", cls, i);
      const std::string staging =
          kubelet + "/plugins/kubernetes.io/csi/" + name + "/globalmount";
      const std::string target =
          kubelet + "/pods/p/volumes/kubernetes.io~csi/" + name + "/mount";
      Sh("mkdir -p '" + staging + "'");
      std::string id;
      if (!client
               .CreateWithParameters(name, fs_cap, 256 << 20,
                                     {{"deviceClass", cls}}, &id)
               .ok() ||
          !client.Stage(id, staging, fs_cap).ok() ||
          !client.Publish(id, staging, target, fs_cap, false).ok() ||
          !Sh("head -c 128M /dev/urandom > '" + target + "/data' && sync")) {
        ++failures;
        continue;
      }
      // What the filesystem uses (data and metadata), for the per-GiB rate.
      const std::string df =
          Shell("df -B1 --output=used '" + target + "' | tail -1");
      const double used_gib = std::atof(df.c_str()) / (1 << 30);
      csi::v1::Snapshot snapshot;
      auto start = Clock::now();
      const bool taken = TakeSnapshot(driver, name, id, &snapshot).ok();
      answer_ms.push_back(Ms(Clock::now() - start));
      failures += !taken;
      if (taken && cls != "thin") {
        failures += snapshot.ready_to_use();  // a thick copy cannot be done yet
        if (WaitReady(driver, snapshot.snapshot_id())) {
          const double seconds =
              std::chrono::duration<double>(Clock::now() - start).count();
          ready_s.push_back(seconds);
          ready_s_per_gib.push_back(seconds / used_gib);
        } else {
          ++failures;
        }
      }
      failures += !DropSnapshot(driver, snapshot.snapshot_id());
      failures += !client.Unpublish(id, target).ok() ||
                  !client.Unstage(id, staging).ok() || !client.Delete(id).ok();
    }
    if (cls == "thin") {
      std::printf("  thin       answer %8.1f ms (ready at once)\n",
                  P50(answer_ms));
    } else {
      // The fixed steps (zeroing, dumpe2fs, tag updates, removing the COW
      // snapshot) weigh on a small volume: both figures are printed.
      std::printf(
          "  %-10s answer %8.1f ms (ready_to_use false), ready after "
          "%.1f s, %.2f s per GiB used%s\n",
          cls.c_str(), P50(answer_ms), P50(ready_s), P50(ready_s_per_gib),
          cls == "thick" ? " (copy-bandwidth 128 MiB/s)"
                         : " (copy-bandwidth unbounded)");
    }
  }

  // The floor under the unbounded figure: the same bytes copied by dd,
  // O_DIRECT, between two bare LVs of the second VG.
  if (have_vg2) {
    std::vector<double> dd_s_per_gib;
    for (int i = 0; i < n; ++i) {
      const std::string a = "/dev/" + vg2 + "/bench-dd-a";
      const std::string b = "/dev/" + vg2 + "/bench-dd-b";
      if (!Sh("lvcreate -q -y -W n -Z n -L 256m -n bench-dd-a " + vg2 +
              " >/dev/null 2>&1 && lvcreate -q -y -W n -Z n -L 256m -n "
              "bench-dd-b " +
              vg2 +
              " >/dev/null 2>&1 && head -c 128M "
              "/dev/urandom | dd of=" +
              a + " bs=1M oflag=direct status=none")) {
        ++failures;
      } else {
        auto start = Clock::now();
        failures +=
            !Sh("dd if=" + a + " of=" + b +
                " bs=1M count=128 iflag=direct oflag=direct status=none "
                "&& sync");
        const double seconds =
            std::chrono::duration<double>(Clock::now() - start).count();
        dd_s_per_gib.push_back(seconds * 8);  // 128 MiB
      }
      failures += !Sh("lvremove -q -y " + vg2 + "/bench-dd-a " + vg2 +
                      "/bench-dd-b >/dev/null");
    }
    std::printf(
        "  by hand: dd of 128 MiB, O_DIRECT 1 MiB, LV to LV: %.2f s "
        "per GiB\n",
        P50(dd_s_per_gib));
  }

  // The origin's writes while its copy runs.
  const auto block_cap = cellar::testing::Capability("", true);
  std::vector<double> ratios;
  int still_copying = 0;
  for (int i = 0; i < n; ++i) {
    const std::string name = absl::StrCat("origin", i);
    const std::string staging =
        kubelet + "/plugins/kubernetes.io/csi/" + name + "/globalmount";
    const std::string target =
        kubelet + "/pods/p/volumes/kubernetes.io~csi/" + name + "/dev";
    Sh("mkdir -p '" + staging + "'");
    std::string id;
    if (!client
             .CreateWithParameters(name, block_cap, 512 << 20,
                                   {{"deviceClass", "thick"}}, &id)
             .ok() ||
        !client.Stage(id, staging, block_cap).ok() ||
        !client.Publish(id, staging, target, block_cap, false).ok()) {
      ++failures;
      continue;
    }
    const double idle = WriteThroughput(target, 64 << 20);
    csi::v1::Snapshot snapshot;
    failures += !TakeSnapshot(driver, name, id, &snapshot).ok();
    const double busy = WriteThroughput(target, 64 << 20);
    still_copying += !Ready(driver, snapshot.snapshot_id());
    if (idle > 0 && busy > 0) ratios.push_back(busy / idle);
    failures += !WaitReady(driver, snapshot.snapshot_id());
    failures += !DropSnapshot(driver, snapshot.snapshot_id());
    failures += !client.Unpublish(id, target).ok() ||
                !client.Unstage(id, staging).ok() || !client.Delete(id).ok();
  }
  std::printf(
      "  origin write throughput during its copy (512 MiB thick block "
      "volume, 64 MiB O_DIRECT): %.2f of idle (copy still running at "
      "the end in %d of %d runs)\n",
      P50(ratios), still_copying, n);
  // What dm-snapshot's copy-on-write costs alone: the same writes to a
  // bare LV with a bare COW snapshot of it and no copy running.
  if (have_vg2) {
    std::vector<double> bare;
    for (int i = 0; i < n; ++i) {
      const std::string lv = "/dev/" + vg2 + "/bench-origin";
      if (!Sh("lvcreate -q -y -W n -Z n -L 512m -n bench-origin " + vg2 +
              " >/dev/null 2>&1")) {
        ++failures;
        continue;
      }
      const double idle = WriteThroughput(lv, 64 << 20);
      failures += !Sh("lvcreate -q -y -s -L 600m -n bench-cow " + vg2 +
                      "/bench-origin >/dev/null 2>&1");
      const double busy = WriteThroughput(lv, 64 << 20);
      if (idle > 0 && busy > 0) bare.push_back(busy / idle);
      failures += !Sh("lvremove -q -y " + vg2 + "/bench-cow " + vg2 +
                      "/bench-origin >/dev/null 2>&1");
    }
    std::printf(
        "  by hand: the same writes with a bare COW snapshot and no "
        "copy: %.2f of idle\n",
        P50(bare));
  }
  return failures;
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::atoi(argv[1]) : 5;
  // Sections to run (all when none is named): lifecycle zeroing encryption
  // snapshots.
  std::set<std::string> sections(argv + std::min(argc, 2), argv + argc);
  auto want = [&](const std::string& name) {
    return sections.empty() || sections.count(name) > 0;
  };
  std::string vg = Env("CELLAR_VM_VG");
  std::string pool = Env("CELLAR_VM_THINPOOL");
  if (pool.find('/') != std::string::npos)
    pool = pool.substr(pool.find('/') + 1);
  const std::string vg2 = Env("CELLAR_VM_VG2");
  if (vg.empty()) {
    std::fprintf(stderr, "vm_bench runs inside the test/vm guest\n");
    return 1;
  }
  char pattern[] = "/tmp/cellar-vmbench-XXXXXX";
  if (mkdtemp(pattern) == nullptr) return 1;
  const std::string root = pattern;
  const std::string kubelet = root + "/kubelet";
  Sh("mkdir -p '" + kubelet + "'");
  auto driver = cellar::testing::DriverProcess::Start(
      root + "/data", root + "/csi.sock",
      {"--kubelet-dir=" + kubelet,
       "--device-classes=thin=lvm-thin:" + vg + "/" + pool +
           ",thick=lvm:" + vg + "?reserve=0" +
           (vg2.empty()
                ? std::string()
                : ",unbounded=lvm:" + vg2 + "?reserve=0&copy-bandwidth=0"),
       "--log-level=warn"},
      absl::Seconds(120));
  if (!driver.ok()) {
    std::fprintf(stderr, "%s\n", driver.status().ToString().c_str());
    return 1;
  }
  cellar::testing::CsiClient client((*driver)->channel());
  int failures = 0;
  const auto fs_cap = cellar::testing::Capability("ext4", false);
  const std::string mkfs =
      "mkfs.ext4 -q -F -E nodiscard,lazy_itable_init=1,lazy_journal_init=1 ";

  if (want("lifecycle")) {
    std::printf(
        "LVM lifecycle (create, stage, publish, unpublish, unstage, "
        "delete) of a 256 MiB ext4 volume, %d runs, ms:\n",
        runs);
    for (const std::string cls : {"thick", "thin"}) {
      std::vector<double> driver_ms, hand_ms;
      for (int i = 0; i < runs; ++i) {
        const std::string name = absl::StrCat(cls, i);
        const std::string staging =
            kubelet + "/plugins/kubernetes.io/csi/" + name + "/globalmount";
        const std::string target =
            kubelet + "/pods/p/volumes/kubernetes.io~csi/" + name + "/mount";
        Sh("mkdir -p '" + staging + "'");
        std::string id;
        auto start = Clock::now();
        bool ok = client
                      .CreateWithParameters(name, fs_cap, 256 << 20,
                                            {{"deviceClass", cls}}, &id)
                      .ok() &&
                  client.Stage(id, staging, fs_cap).ok() &&
                  client.Publish(id, staging, target, fs_cap, false).ok() &&
                  client.Unpublish(id, target).ok() &&
                  client.Unstage(id, staging).ok() && client.Delete(id).ok();
        driver_ms.push_back(Ms(Clock::now() - start));
        failures += !ok;
        // By hand, as a careful operator's script would do the same work: one
        // bash process, each tool run directly: the LV with a record tag
        // (zeroed whole, as the driver must for thick LVs), a blkid probe
        // before mkfs, mount, bind, remount nosuid,nodev, undo, deactivate,
        // remove.
        const std::string lv = vg + "/hand" + std::to_string(i);
        const std::string dir = root + "/hand";
        const std::string create =
            cls == "thick"
                ? "lvm lvcreate -q -y -n hand" + std::to_string(i) +
                      " -L 256m -W y -Z y --addtag cellar.r=x " + vg +
                      " >/dev/null; blkdiscard --zeroout /dev/" + lv + "; "
                : "lvm lvcreate -q -y -n hand" + std::to_string(i) +
                      " -V 256m --thinpool " + pool + " --addtag cellar.r=x " +
                      vg + " >/dev/null; ";
        const std::string script =
            "set -e; " + create + "mkdir -p " + dir + "/s " + dir + "/t; " +
            "[ -z \"$(blkid -p -o value -s TYPE /dev/" + lv + ")\" ] && " +
            mkfs + "/dev/" + lv + "; " + "mount -o nosuid,nodev /dev/" + lv +
            " " + dir + "/s; " + "mount --bind " + dir + "/s " + dir + "/t; " +
            "mount -o remount,bind,nosuid,nodev " + dir + "/t; " + "umount " +
            dir + "/t; umount " + dir + "/s; " + "lvm lvchange -q -an " + lv +
            "; lvm lvremove -q -y " + lv + " >/dev/null";
        start = Clock::now();
        ok = RunScript(script);
        hand_ms.push_back(Ms(Clock::now() - start));
        failures += !ok;
      }
      std::printf(
          "  %-5s driver p50 %8.1f p90 %8.1f   by hand p50 %8.1f p90 %8.1f   "
          "ratio p50 %.2fx\n",
          cls.c_str(), P50(driver_ms), Pct(driver_ms, 0.9), P50(hand_ms),
          Pct(hand_ms, 0.9), P50(driver_ms) / P50(hand_ms));
    }
  }

  // Zeroing new thick LVs: 512 MiB (the guest's disks live in its memory,
  // and zeroes written to them take memory until lvremove discards them).
  if (want("zeroing")) {
    constexpr int kMiBs = 512;
    const int zero_runs = std::min(runs, 3);
    std::vector<double> zero_ms, create_ms, lvcreate_ms;
    for (int i = 0; i < zero_runs; ++i) {
      const std::string lv = vg + "/zero" + std::to_string(i);
      const std::string make =
          absl::StrCat("lvm lvcreate -q -y -n zero", i, " -L ", kMiBs,
                       "m -W y -Z y ", vg, " >/dev/null");
      auto start = Clock::now();
      bool ok = Sh(make);
      lvcreate_ms.push_back(Ms(Clock::now() - start));
      start = Clock::now();
      ok = ok && Sh("blkdiscard --zeroout /dev/" + lv);
      zero_ms.push_back(Ms(Clock::now() - start));
      ok = Sh("lvm lvremove -q -y " + lv + " >/dev/null") && ok;
      failures += !ok;
      std::string id;
      start = Clock::now();
      ok = client
               .CreateWithParameters(absl::StrCat("zeroed", i),
                                     cellar::testing::Capability("", true),
                                     static_cast<int64_t>(kMiBs) << 20,
                                     {{"deviceClass", "thick"}}, &id)
               .ok();
      create_ms.push_back(Ms(Clock::now() - start));
      failures += !ok || !client.Delete(id).ok();
    }
    const double per_gib = 1024.0 / kMiBs / 1000.0;
    std::printf(
        "zeroing a new thick LV (%d MiB, %d runs, p50):\n"
        "  blkdiscard --zeroout:         %8.2f s/GiB\n"
        "  driver thick create:          %8.2f s/GiB (lvcreate alone %.2f "
        "s/GiB)\n",
        kMiBs, zero_runs, P50(zero_ms) * per_gib, P50(create_ms) * per_gib,
        P50(lvcreate_ms) * per_gib);
  }

  if (want("encryption")) {
    std::printf("encryption (thin LVM, 256 MiB, %d runs, p50 ms):\n", runs);
    const auto block_cap = cellar::testing::Capability("", true);
    std::vector<double> plain_stage, first_stage, later_stage;
    double plain_mbs = 0, crypt_mbs = 0;
    for (int i = 0; i < runs; ++i) {
      for (bool encrypted : {false, true}) {
        const std::string name = absl::StrCat(encrypted ? "enc" : "plain", i);
        const std::string staging =
            kubelet + "/plugins/kubernetes.io/csi/" + name + "/globalmount";
        const std::string target =
            kubelet + "/pods/p/volumes/kubernetes.io~csi/" + name + "/dev";
        Sh("mkdir -p '" + staging + "'");
        std::map<std::string, std::string> params = {{"deviceClass", "thin"}};
        if (encrypted) params["encrypted"] = "true";
        const std::map<std::string, std::string> secrets =
            encrypted
                ? std::map<std::string, std::string>{{"encryptionPassphrase",
                                                      "bench-key-bench-key-"
                                                      "bench-key-bench-key-01"}}
                : std::map<std::string, std::string>{};
        std::string id;
        if (!client
                 .CreateWithParameters(name, block_cap, 256 << 20, params, &id)
                 .ok()) {
          ++failures;
          continue;
        }
        auto start = Clock::now();
        failures +=
            !client.StageWithSecrets(id, staging, block_cap, secrets).ok();
        (encrypted ? first_stage : plain_stage)
            .push_back(Ms(Clock::now() - start));
        if (encrypted) {
          failures += !client.Unstage(id, staging).ok();
          start = Clock::now();
          failures +=
              !client.StageWithSecrets(id, staging, block_cap, secrets).ok();
          later_stage.push_back(Ms(Clock::now() - start));
        }
        failures += !client.Publish(id, staging, target, block_cap, false).ok();
        if (i == 0) {
          (encrypted ? crypt_mbs : plain_mbs) =
              WriteThroughput(target, 128 << 20);
        }
        failures += !client.Unpublish(id, target).ok();
        failures += !client.Unstage(id, staging).ok();
        failures += !client.Delete(id).ok();
      }
    }
    std::printf("  stage, unencrypted:            %8.1f\n", P50(plain_stage));
    std::printf("  stage, encrypted, first (format + open): %8.1f (+%.1f)\n",
                P50(first_stage), P50(first_stage) - P50(plain_stage));
    std::printf("  stage, encrypted, later (open):          %8.1f (+%.1f)\n",
                P50(later_stage), P50(later_stage) - P50(plain_stage));
    std::printf(
        "  sequential O_DIRECT write, 128 MiB: plain %.1f MB/s, dm-crypt "
        "%.1f MB/s, ratio %.2f\n",
        plain_mbs, crypt_mbs, plain_mbs > 0 ? crypt_mbs / plain_mbs : 0);
  }

  if (want("snapshots")) {
    failures += SnapshotFigures(**driver, client, kubelet, runs, vg2);
  }
  (void)(*driver)->Stop(SIGTERM);
  cellar::CleanUpScratchDir(root);
  if (failures) std::printf("FAILURES: %d\n", failures);
  return failures == 0 ? 0 : 1;
}
