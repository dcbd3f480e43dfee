// Hostile and broken input against the real binary: every request an
// attacker or a buggy client might send gets a precise CSI code, the process
// stays up, and no refused request creates, mounts or deletes anything.
#include <dirent.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "src/common/units.h"
#include "test/platform/loop_test_support.h"
#include "test/testing/csi_client.h"
#include "test/testing/driver_process.h"
#include "test/testing/e2e_fixture.h"
#include "test/testing/mount_table.h"

namespace cellar {
namespace {

using testing::Context;
using Mode = csi::v1::VolumeCapability::AccessMode;

// Everything observable that a request could change: files under the
// scratch directory, mounts under it, loop devices backed by it.
std::set<std::string> Snapshot(const std::string& root) {
  std::set<std::string> out;
  std::function<void(const std::string&)> walk = [&](const std::string& dir) {
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) return;
    while (dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      const std::string path = dir + "/" + name;
      if (path.size() > 4 && path.substr(path.size() - 4) == ".log") continue;
      struct stat st;
      if (lstat(path.c_str(), &st) != 0) continue;
      // Kind, mode, size and, for small files, the content itself: a
      // request that rewrote or truncated a file changes this line.
      std::string line = absl::StrCat("file ", path, " mode=", st.st_mode,
                                      " size=", st.st_size);
      if (S_ISREG(st.st_mode) && st.st_size <= 4096) {
        std::ifstream in(path, std::ios::binary);
        absl::StrAppend(
            &line, " content=",
            absl::CEscape(std::string(std::istreambuf_iterator<char>(in),
                                      std::istreambuf_iterator<char>())));
      } else if (S_ISREG(st.st_mode)) {
        absl::StrAppend(&line, " blocks=", st.st_blocks,
                        " mtime=", st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec);
      }
      out.insert(line);
      if (S_ISDIR(st.st_mode)) walk(path);
    }
    closedir(d);
  };
  walk(root);
  for (const MountEntry& m : testing::MountTable()) {
    if (absl::StrContains(m.mount_point, root) ||
        absl::StrContains(m.root, root) || absl::StrContains(m.source, root)) {
      out.insert(absl::StrCat("mount ", m.mount_point, " ", m.root, " ",
                              m.major, ":", m.minor, " ", m.mount_options));
    }
  }
  RealLoopDevices loops;
  auto list = loops.List();
  if (list.ok()) {
    for (const auto& info : *list) {
      if (info.backing_file.find(root) != std::string::npos) {
        out.insert("loop " + info.device + " " + info.backing_file);
      }
    }
  }
  return out;
}

class HostileE2eTest : public testing::E2eFixture {
 protected:
  HostileE2eTest() : Fixture("cellar-hostile") {}

  void SetUp() override {
    Fixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    outside_ = root_ + "/outside";
    ASSERT_EQ(mkdir(outside_.c_str(), 0750), 0);
    ASSERT_EQ(mkdir((kubelet_ + "/pods").c_str(), 0750), 0);
    // Canaries where a path-traversal id would land from the image dir.
    for (const char* name : {"victim.img", "victim.json", "victim.snap"}) {
      std::ofstream(outside_ + "/" + name) << "canary " << name;
    }
    // A symlink inside the kubelet dir that leads outside it.
    ASSERT_EQ(symlink(outside_.c_str(), (kubelet_ + "/pods/evil").c_str()), 0);
    ASSERT_NO_FATAL_FAILURE(
        StartDriver({"--node-id=hostile-node", "--reserve-bytes=0"}));
    // A canary volume, staged and published, that must survive everything.
    cap_ = testing::Capability("ext4", false);
    staging_ = kubelet_ + "/plugins/kubernetes.io/csi/canary/globalmount";
    target_ = kubelet_ + "/pods/uid-1/volumes/kubernetes.io~csi/canary/mount";
    ASSERT_EQ(system(("mkdir -p " + staging_).c_str()), 0);
    ASSERT_TRUE(client_->Create("canary", cap_, 64 * kMiB, &canary_).ok());
    ASSERT_TRUE(client_->Stage(canary_, staging_, cap_).ok());
    ASSERT_TRUE(client_->Publish(canary_, staging_, target_, cap_, false).ok());
    { std::ofstream(target_ + "/data") << "precious"; }
  }

  // NodePublishVolume as kubelet sends it for a pod of namespace `ns`
  // (podInfoOnMount), plus `extra` volume-context keys a PV's author chose.
  grpc::Status PublishAs(const std::string& id, const std::string& staging,
                         const std::string& target, const std::string& ns,
                         const std::map<std::string, std::string>& extra = {}) {
    csi::v1::NodePublishVolumeRequest request;
    request.set_volume_id(id);
    request.set_staging_target_path(staging);
    request.set_target_path(target);
    *request.mutable_volume_capability() = cap_;
    auto& context = *request.mutable_volume_context();
    context["csi.storage.k8s.io/pod.namespace"] = ns;
    context["csi.storage.k8s.io/pod.name"] = "pod-" + ns;
    context["csi.storage.k8s.io/pod.uid"] = "uid-" + ns;
    context["csi.storage.k8s.io/serviceAccount.name"] = "default";
    for (const auto& [key, value] : extra) context[key] = value;
    csi::v1::NodePublishVolumeResponse response;
    return driver_->node().NodePublishVolume(Context().get(), request,
                                             &response);
  }

  std::string outside_, staging_, target_, canary_;
  csi::v1::VolumeCapability cap_;
};

const std::string kHuge(64 * 1024, 'x');
const std::string kNul("a\0b", 3);
const std::string kNonUtf8("\xff\xfe\xc0\x80", 4);

TEST_F(HostileE2eTest, EveryRequestGetsAPreciseCodeAndChangesNothing) {
  auto& ctl = driver_->controller();
  auto& node = driver_->node();
  struct Case {
    std::string what;
    grpc::StatusCode want;
    std::function<grpc::Status()> call;
  };
  std::vector<Case> cases;
  auto create = [&](std::function<void(csi::v1::CreateVolumeRequest*)> f) {
    return [&, f] {
      csi::v1::CreateVolumeRequest r;
      r.set_name("hostile");
      *r.add_volume_capabilities() = cap_;
      r.mutable_capacity_range()->set_required_bytes(16 * kMiB);
      f(&r);
      csi::v1::CreateVolumeResponse resp;
      return ctl.CreateVolume(Context().get(), r, &resp);
    };
  };
  using SC = grpc::StatusCode;
  cases.push_back({"create: empty name", SC::INVALID_ARGUMENT,
                   create([](auto* r) { r->clear_name(); })});
  cases.push_back({"create: 64 KiB name", SC::INVALID_ARGUMENT,
                   create([](auto* r) { r->set_name(kHuge); })});
  cases.push_back({"create: no capabilities", SC::INVALID_ARGUMENT,
                   create([](auto* r) { r->clear_volume_capabilities(); })});
  cases.push_back(
      {"create: unknown access mode", SC::INVALID_ARGUMENT, create([](auto* r) {
         r->mutable_volume_capabilities(0)->mutable_access_mode()->set_mode(
             static_cast<Mode::Mode>(12345));
       })});
  cases.push_back(
      {"create: negative size", SC::INVALID_ARGUMENT, create([](auto* r) {
         r->mutable_capacity_range()->set_required_bytes(-1);
       })});
  cases.push_back(
      {"create: negative limit", SC::INVALID_ARGUMENT, create([](auto* r) {
         r->mutable_capacity_range()->set_limit_bytes(-5);
       })});
  cases.push_back(
      {"create: overflowing size", SC::OUT_OF_RANGE, create([](auto* r) {
         r->mutable_capacity_range()->set_required_bytes(LLONG_MAX);
       })});
  cases.push_back(
      {"create: required > limit", SC::OUT_OF_RANGE, create([](auto* r) {
         r->mutable_capacity_range()->set_required_bytes(2 * kMiB);
         r->mutable_capacity_range()->set_limit_bytes(kMiB);
       })});
  cases.push_back({"create: bigger than the disk", SC::RESOURCE_EXHAUSTED,
                   create([](auto* r) {
                     r->mutable_capacity_range()->set_required_bytes(1ll << 60);
                   })});
  cases.push_back(
      {"create: unknown parameter", SC::INVALID_ARGUMENT,
       create([](auto* r) { (*r->mutable_parameters())["x"] = "1"; })});
  cases.push_back(
      {"create: NUL in parameter key", SC::INVALID_ARGUMENT,
       create([](auto* r) { (*r->mutable_parameters())[kNul] = "1"; })});
  cases.push_back(
      {"create: fsType injection", SC::INVALID_ARGUMENT, create([](auto* r) {
         (*r->mutable_parameters())["fsType"] = "ext4 -O ^has_journal";
       })});
  cases.push_back({"create: deviceClass traversal", SC::INVALID_ARGUMENT,
                   create([](auto* r) {
                     (*r->mutable_parameters())["deviceClass"] = "../../etc";
                   })});
  cases.push_back(
      {"create: mount flag with comma", SC::INVALID_ARGUMENT,
       create([](auto* r) {
         r->mutable_volume_capabilities(0)->mutable_mount()->add_mount_flags(
             "ro,suid");
       })});
  cases.push_back(
      {"create: mount flag =-injection", SC::INVALID_ARGUMENT,
       create([](auto* r) {
         r->mutable_volume_capabilities(0)->mutable_mount()->add_mount_flags(
             "context=x,dev");
       })});
  cases.push_back(
      {"create: fs type with path", SC::INVALID_ARGUMENT, create([](auto* r) {
         r->mutable_volume_capabilities(0)->mutable_mount()->set_fs_type(
             "../../bin/sh");
       })});
  cases.push_back({"create: group id not numeric", SC::INVALID_ARGUMENT,
                   create([](auto* r) {
                     r->mutable_volume_capabilities(0)
                         ->mutable_mount()
                         ->set_volume_mount_group("0;rm");
                   })});
  cases.push_back({"create: odd secrets, bad size", SC::INVALID_ARGUMENT,
                   create([](auto* r) {
                     (*r->mutable_secrets())[""] = kNul;
                     (*r->mutable_secrets())[kHuge] = "";
                     r->mutable_capacity_range()->set_required_bytes(-1);
                   })});

  for (const std::string& id :
       {std::string("../../etc/passwd"), std::string("/etc/shadow"), kHuge,
        kNul, std::string("v_hostile-node_default_../../../../tmp/x"),
        // Would reach the canary files in outside_ from the image dir.
        std::string("../../outside/victim"),
        std::string("v_hostile-node_default_/../../../outside/victim"),
        std::string(
            "s_hostile-node_default_00000000000000000000000000000000")}) {
    cases.push_back({"delete: id " + id.substr(0, 40), SC::OK, [&, id] {
                       csi::v1::DeleteVolumeRequest r;
                       r.set_volume_id(id);
                       csi::v1::DeleteVolumeResponse resp;
                       return ctl.DeleteVolume(Context().get(), r, &resp);
                     }});
    cases.push_back(
        {"validate: id " + id.substr(0, 40), SC::NOT_FOUND, [&, id] {
           csi::v1::ValidateVolumeCapabilitiesRequest r;
           r.set_volume_id(id);
           *r.add_volume_capabilities() = cap_;
           csi::v1::ValidateVolumeCapabilitiesResponse resp;
           return ctl.ValidateVolumeCapabilities(Context().get(), r, &resp);
         }});
    cases.push_back({"stage: id " + id.substr(0, 40), SC::NOT_FOUND, [&, id] {
                       return client_->Stage(id, staging_ + "2", cap_);
                     }});
    cases.push_back({"expand: id " + id.substr(0, 40), SC::NOT_FOUND, [&, id] {
                       csi::v1::ControllerExpandVolumeRequest r;
                       r.set_volume_id(id);
                       r.mutable_capacity_range()->set_required_bytes(kMiB);
                       csi::v1::ControllerExpandVolumeResponse resp;
                       return ctl.ControllerExpandVolume(Context().get(), r,
                                                         &resp);
                     }});
  }
  for (const std::string& token :
       {std::string("../"), kHuge, std::string("v_x"), kNul,
        std::string(
            "s_hostile-node_default_00000000000000000000000000000000")}) {
    cases.push_back(
        {"list: token " + token.substr(0, 20), SC::ABORTED, [&, token] {
           csi::v1::ListVolumesRequest r;
           r.set_starting_token(token);
           csi::v1::ListVolumesResponse resp;
           return ctl.ListVolumes(Context().get(), r, &resp);
         }});
  }
  cases.push_back({"list: negative max", SC::INVALID_ARGUMENT, [&] {
                     csi::v1::ListVolumesRequest r;
                     r.set_max_entries(-3);
                     csi::v1::ListVolumesResponse resp;
                     return ctl.ListVolumes(Context().get(), r, &resp);
                   }});
  cases.push_back({"capacity: bad parameter", SC::INVALID_ARGUMENT, [&] {
                     csi::v1::GetCapacityRequest r;
                     (*r.mutable_parameters())["allocation"] = "infinite";
                     csi::v1::GetCapacityResponse resp;
                     return ctl.GetCapacity(Context().get(), r, &resp);
                   }});
  cases.push_back({"expand: negative", SC::INVALID_ARGUMENT, [&] {
                     csi::v1::ControllerExpandVolumeRequest r;
                     r.set_volume_id(canary_);
                     r.mutable_capacity_range()->set_required_bytes(-1);
                     csi::v1::ControllerExpandVolumeResponse resp;
                     return ctl.ControllerExpandVolume(Context().get(), r,
                                                       &resp);
                   }});

  // Paths: outside, relative, traversal, doubled slashes, NUL, symlinks.
  const std::vector<std::string> bad_paths = {
      "/etc",
      "relative/mount",
      kubelet_,
      kubelet_ + "/",
      kubelet_ + "/../outside",
      kubelet_ + "/pods/../../outside",
      kubelet_ + "//pods/x",
      kubelet_ + "/pods/x/",
      kubelet_ + "/pods/./x",
      kubelet_ + "/pods/" + kNul,
      kubelet_ + "/pods/evil/mount",
      kubelet_ + "/pods/evil",
      kubelet_ + "/" + kHuge,
  };
  for (const std::string& path : bad_paths) {
    const std::string label = path.substr(0, 60);
    cases.push_back({"stage: path " + label, SC::INVALID_ARGUMENT, [&, path] {
                       return client_->Stage(canary_, path, cap_);
                     }});
    cases.push_back(
        {"publish: target " + label, SC::INVALID_ARGUMENT, [&, path] {
           return client_->Publish(canary_, staging_, path, cap_, false);
         }});
    cases.push_back({"unpublish: target " + label, SC::INVALID_ARGUMENT,
                     [&, path] { return client_->Unpublish(canary_, path); }});
    cases.push_back({"unstage: path " + label, SC::INVALID_ARGUMENT,
                     [&, path] { return client_->Unstage(canary_, path); }});
    // The volume exists but cannot be at such a path: NOT_FOUND (CSI).
    cases.push_back({"stats: path " + label, SC::NOT_FOUND, [&, path] {
                       csi::v1::NodeGetVolumeStatsRequest r;
                       r.set_volume_id(canary_);
                       r.set_volume_path(path);
                       csi::v1::NodeGetVolumeStatsResponse resp;
                       return node.NodeGetVolumeStats(Context().get(), r,
                                                      &resp);
                     }});
    cases.push_back(
        {"node expand: path " + label, SC::INVALID_ARGUMENT, [&, path] {
           csi::v1::NodeExpandVolumeRequest r;
           r.set_volume_id(canary_);
           r.set_volume_path(path);
           csi::v1::NodeExpandVolumeResponse resp;
           return node.NodeExpandVolume(Context().get(), r, &resp);
         }});
  }
  cases.push_back({"publish: mount flag injection", SC::INVALID_ARGUMENT, [&] {
                     auto cap = cap_;
                     cap.mutable_mount()->add_mount_flags("nosuid,suid");
                     return client_->Publish(canary_, staging_,
                                             kubelet_ + "/pods/u9/v/mount", cap,
                                             false);
                   }});
  cases.push_back(
      {"publish: multi-node mode", SC::INVALID_ARGUMENT, [&] {
         return client_->Publish(
             canary_, staging_, kubelet_ + "/pods/u9/v/mount",
             testing::Capability("ext4", false, Mode::MULTI_NODE_MULTI_WRITER),
             false);
       }});
  cases.push_back(
      {"stage: odd secrets and no capability", SC::INVALID_ARGUMENT, [&] {
         csi::v1::NodeStageVolumeRequest r;
         r.set_volume_id(canary_);
         r.set_staging_target_path(staging_);
         (*r.mutable_secrets())[kNul] = kHuge;
         csi::v1::NodeStageVolumeResponse resp;
         return node.NodeStageVolume(Context().get(), r, &resp);
       }});

  const std::set<std::string> before = Snapshot(root_);
  for (const Case& c : cases) {
    const grpc::Status status = c.call();
    EXPECT_EQ(status.error_code(), c.want)
        << c.what << ": " << status.error_message();
  }
  // Non-UTF-8 in a string field: refused before it reaches a handler.
  {
    csi::v1::DeleteVolumeRequest r;
    r.set_volume_id(kNonUtf8);
    csi::v1::DeleteVolumeResponse resp;
    const grpc::Status status = ctl.DeleteVolume(Context().get(), r, &resp);
    EXPECT_NE(status.error_code(), grpc::StatusCode::UNAVAILABLE)
        << "the process must stay up";
  }
  EXPECT_EQ(Snapshot(root_), before) << "a refused request changed something";

  // Still up, and the canary is intact.
  csi::v1::ProbeResponse probe;
  ASSERT_TRUE(driver_->identity().Probe(Context().get(), {}, &probe).ok());
  EXPECT_TRUE(probe.ready().value());
  std::ifstream in(target_ + "/data");
  std::string text;
  in >> text;
  EXPECT_EQ(text, "precious");
  // Nothing was made or mounted outside the kubelet dir through the
  // symlink, and the canaries are as they were (Snapshot compared them).
  DIR* dir = opendir(outside_.c_str());
  ASSERT_NE(dir, nullptr);
  int entries = 0;
  while (dirent* e = readdir(dir)) entries += e->d_name[0] != '.';
  closedir(dir);
  EXPECT_EQ(entries, 3);
  EXPECT_GE(cases.size(), 100u);
}

}  // namespace
}  // namespace cellar

namespace cellar {
namespace {

// Through the real binary: a volume created for a claim in team-a cannot be
// published into a pod of team-b, whatever the volume context claims, and
// the refusal is logged with the pod's identity.
TEST_F(HostileE2eTest, AnotherNamespaceCannotPublishABoundVolume) {
  csi::v1::CreateVolumeRequest create;
  create.set_name("team-a-data");
  *create.add_volume_capabilities() = cap_;
  create.mutable_capacity_range()->set_required_bytes(64 * kMiB);
  (*create.mutable_parameters())["csi.storage.k8s.io/pvc/namespace"] = "team-a";
  (*create.mutable_parameters())["csi.storage.k8s.io/pvc/name"] = "data";
  csi::v1::CreateVolumeResponse created;
  ASSERT_TRUE(driver_->controller()
                  .CreateVolume(Context().get(), create, &created)
                  .ok());
  const std::string id = created.volume().volume_id();
  const std::string staging =
      kubelet_ + "/plugins/kubernetes.io/csi/bound/globalmount";
  ASSERT_EQ(system(("mkdir -p " + staging).c_str()), 0);
  ASSERT_TRUE(client_->Stage(id, staging, cap_).ok());

  auto publish = [&](const std::string& ns, const std::string& target,
                     bool forge) {
    if (!forge) return PublishAs(id, staging, target, ns);
    return PublishAs(id, staging, target, ns,
                     {{"csi.storage.k8s.io/pvc/namespace", "team-a"},
                      {"namespace", "team-a"},
                      {"boundNamespace", "team-a"}});
  };
  const std::string thief_target =
      kubelet_ + "/pods/uid-b/volumes/kubernetes.io~csi/x/mount";
  EXPECT_EQ(publish("team-b", thief_target, false).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(publish("team-b", thief_target, true).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(access(thief_target.c_str(), F_OK), 0)
      << "refusal created a target";
  // No pod identity at all.
  csi::v1::NodePublishVolumeRequest bare;
  bare.set_volume_id(id);
  bare.set_staging_target_path(staging);
  bare.set_target_path(thief_target);
  *bare.mutable_volume_capability() = cap_;
  csi::v1::NodePublishVolumeResponse response;
  EXPECT_EQ(driver_->node()
                .NodePublishVolume(Context().get(), bare, &response)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // The owner's pod is admitted.
  const std::string owner_target =
      kubelet_ + "/pods/uid-a/volumes/kubernetes.io~csi/x/mount";
  ASSERT_TRUE(publish("team-a", owner_target, false).ok());
  const std::string log = driver_->ReadLog();
  EXPECT_NE(log.find("publish refused"), std::string::npos);
  EXPECT_NE(log.find("team-b/pod-team-b (uid uid-team-b"), std::string::npos);
  EXPECT_NE(log.find("published volume=" + id), std::string::npos);
  ASSERT_TRUE(client_->Unpublish(id, owner_target).ok());
  EXPECT_NE(driver_->ReadLog().find("pod-uid=uid-a"), std::string::npos);
  ASSERT_TRUE(client_->Unstage(id, staging).ok());
  ASSERT_TRUE(client_->Delete(id).ok());
}

// ---------------------------------------------------------------- Copies
// A snapshot, restore or clone never admits a pod its source would refuse.

TEST_F(HostileE2eTest, CopiesKeepTheirOwner) {
  auto& ctl = driver_->controller();
  std::string source;
  ASSERT_TRUE(client_
                  ->CreateWithParameters(
                      "owned", cap_, 32 * kMiB,
                      {{"csi.storage.k8s.io/pvc/namespace", "team-a"}}, &source)
                  .ok());
  const std::string staging =
      kubelet_ + "/plugins/kubernetes.io/csi/owned/globalmount";
  const std::string owner_target =
      kubelet_ + "/pods/uid-a/volumes/kubernetes.io~csi/o/mount";
  ASSERT_TRUE(client_->Stage(source, staging, cap_).ok());
  auto publish = [&](const std::string& id, const std::string& staging_path,
                     const std::string& ns, const std::string& target) {
    return PublishAs(id, staging_path, target, ns);
  };
  ASSERT_TRUE(publish(source, staging, "team-a", owner_target).ok());
  { std::ofstream(owner_target + "/secret") << "team-a's data"; }
  ASSERT_TRUE(client_->Unpublish(source, owner_target).ok());

  auto snapshot = [&](const std::string& name, const std::string& ns,
                      std::string* id) {
    csi::v1::CreateSnapshotRequest request;
    request.set_name(name);
    request.set_source_volume_id(source);
    if (!ns.empty()) {
      (*request.mutable_parameters())
          ["csi.storage.k8s.io/volumesnapshot/namespace"] = ns;
    }
    csi::v1::CreateSnapshotResponse response;
    grpc::Status status =
        ctl.CreateSnapshot(Context().get(), request, &response);
    if (id != nullptr) *id = response.snapshot().snapshot_id();
    return status;
  };
  auto list_snapshots = [&] {
    csi::v1::ListSnapshotsRequest request;
    csi::v1::ListSnapshotsResponse response;
    EXPECT_TRUE(ctl.ListSnapshots(Context().get(), request, &response).ok());
    return response.entries_size();
  };
  auto list_volumes = [&] {
    csi::v1::ListVolumesRequest request;
    csi::v1::ListVolumesResponse response;
    EXPECT_TRUE(ctl.ListVolumes(Context().get(), request, &response).ok());
    return response.entries_size();
  };
  // A hand-made VolumeSnapshotContent in team-b naming team-a's handle.
  const int snapshots_before = list_snapshots();
  EXPECT_EQ(snapshot("stolen", "team-b", nullptr).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(list_snapshots(), snapshots_before);
  std::string snap;
  ASSERT_TRUE(snapshot("legit", "team-a", &snap).ok());

  auto create_from = [&](const std::string& name, bool from_snapshot,
                         const std::map<std::string, std::string>& params,
                         std::string* id) {
    csi::v1::CreateVolumeRequest request;
    request.set_name(name);
    *request.add_volume_capabilities() = cap_;
    request.mutable_capacity_range()->set_required_bytes(32 * kMiB);
    for (const auto& [k, v] : params) (*request.mutable_parameters())[k] = v;
    if (from_snapshot) {
      request.mutable_volume_content_source()
          ->mutable_snapshot()
          ->set_snapshot_id(snap);
    } else {
      request.mutable_volume_content_source()->mutable_volume()->set_volume_id(
          source);
    }
    csi::v1::CreateVolumeResponse response;
    grpc::Status status = ctl.CreateVolume(Context().get(), request, &response);
    if (id != nullptr) *id = response.volume().volume_id();
    return status;
  };
  const int volumes_before = list_volumes();
  const std::set<std::string> files_before = Snapshot(root_ + "/data");
  for (bool from_snapshot : {true, false}) {
    // For another namespace, or widening the allow lists: refused, and
    // nothing is created.
    EXPECT_EQ(
        create_from("thief", from_snapshot,
                    {{"csi.storage.k8s.io/pvc/namespace", "team-b"}}, nullptr)
            .error_code(),
        grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(create_from("widen", from_snapshot,
                          {{"csi.storage.k8s.io/pvc/namespace", "team-a"},
                           {"allowedNamespaces", "team-b"}},
                          nullptr)
                  .error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(
        create_from("widen-sa", from_snapshot,
                    {{"allowedServiceAccounts", "team-b/default"}}, nullptr)
            .error_code(),
        grpc::StatusCode::PERMISSION_DENIED);
  }
  EXPECT_EQ(list_volumes(), volumes_before);
  EXPECT_EQ(Snapshot(root_ + "/data"), files_before);

  // No namespace at all (a hand-made PV-less create): the copy inherits the
  // source's owner, so team-b still cannot mount it; team-a can.
  for (bool from_snapshot : {true, false}) {
    std::string copy;
    ASSERT_TRUE(create_from(from_snapshot ? "restore" : "clone", from_snapshot,
                            {}, &copy)
                    .ok());
    const std::string copy_staging =
        kubelet_ + "/plugins/kubernetes.io/csi/copy-" + copy + "/globalmount";
    ASSERT_TRUE(client_->Stage(copy, copy_staging, cap_).ok());
    const std::string thief_target =
        kubelet_ + "/pods/uid-b/volumes/kubernetes.io~csi/c/mount";
    EXPECT_EQ(publish(copy, copy_staging, "team-b", thief_target).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_NE(access(thief_target.c_str(), F_OK), 0);
    const std::string target =
        kubelet_ + "/pods/uid-a/volumes/kubernetes.io~csi/c/mount";
    ASSERT_TRUE(publish(copy, copy_staging, "team-a", target).ok());
    std::string data;
    std::getline(std::ifstream(target + "/secret"), data);
    EXPECT_EQ(data, "team-a's data");
    ASSERT_TRUE(client_->Unpublish(copy, target).ok());
    ASSERT_TRUE(client_->Unstage(copy, copy_staging).ok());
    ASSERT_TRUE(client_->Delete(copy).ok());
  }
  csi::v1::DeleteSnapshotRequest delete_snapshot;
  delete_snapshot.set_snapshot_id(snap);
  csi::v1::DeleteSnapshotResponse deleted;
  ASSERT_TRUE(
      ctl.DeleteSnapshot(Context().get(), delete_snapshot, &deleted).ok());
  ASSERT_TRUE(client_->Unstage(source, staging).ok());
  ASSERT_TRUE(client_->Delete(source).ok());
}

// ---------------------------------------------------------------- Node calls
// A node call acts only on what shows the volume, inside kubelet's layout.

TEST_F(HostileE2eTest, NodeCallsTouchOnlyTheVolumesOwn) {
  auto canary_intact = [&] {
    std::string data;
    std::getline(std::ifstream(target_ + "/data"), data);
    return data == "precious";
  };
  std::string other;
  ASSERT_TRUE(client_->Create("intruder", cap_, 32 * kMiB, &other).ok());

  // A tmpfs (another driver's mount) at a staging path: publishing a volume
  // from it would hand a pod whatever it holds.
  const std::string fake_staging =
      kubelet_ + "/plugins/kubernetes.io/csi/fake/globalmount";
  ASSERT_EQ(system(("mkdir -p " + fake_staging).c_str()), 0);
  ASSERT_EQ(mount("tmpfs", fake_staging.c_str(), "tmpfs", 0, "size=1m"), 0);
  { std::ofstream(fake_staging + "/planted") << "x"; }
  const std::string thief_target =
      kubelet_ + "/pods/uid-9/volumes/kubernetes.io~csi/t/mount";
  EXPECT_EQ(client_->Publish(canary_, fake_staging, thief_target, cap_, false)
                .error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(client_->Publish(other, fake_staging, thief_target, cap_, false)
                .error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  // The canary's own staging path, named for another volume.
  EXPECT_EQ(
      client_->Publish(other, staging_, thief_target, cap_, false).error_code(),
      grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(access(thief_target.c_str(), F_OK), 0);
  // Unstage/unpublish of another volume at the canary's paths, and of the
  // canary at the tmpfs: refused, every mount stays.
  EXPECT_EQ(client_->Unpublish(other, target_).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(client_->Unstage(other, staging_).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(client_->Unstage(canary_, fake_staging).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(canary_intact());
  EXPECT_EQ(access((fake_staging + "/planted").c_str(), F_OK), 0);
  ASSERT_EQ(umount(fake_staging.c_str()), 0);

  // A target that is kubelet's or a pod's directory with files in it, not
  // a mount of the volume: left as it is.
  const std::string pod_dir =
      kubelet_ + "/pods/uid-7/volumes/kubernetes.io~csi/x/mount";
  ASSERT_EQ(system(("mkdir -p " + pod_dir).c_str()), 0);
  { std::ofstream(pod_dir + "/kept") << "kept"; }
  EXPECT_TRUE(client_->Unpublish(other, pod_dir).ok());
  EXPECT_EQ(access((pod_dir + "/kept").c_str(), F_OK), 0);

  // Outside kubelet's layout: refused whatever the id.
  for (const std::string& path :
       {kubelet_ + "/pki/kubelet.key", kubelet_ + "/plugins_registry/x",
        kubelet_ + "/pod-resources/kubelet.sock", kubelet_ + "/podsx"}) {
    EXPECT_EQ(client_->Stage(other, path, cap_).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT)
        << path;
    EXPECT_EQ(
        client_->Publish(canary_, staging_, path, cap_, false).error_code(),
        grpc::StatusCode::INVALID_ARGUMENT)
        << path;
    EXPECT_EQ(client_->Unpublish(canary_, path).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT)
        << path;
  }
  EXPECT_EQ(
      client_
          ->Stage(other, kubelet_ + "/pods/uid-1/volumes/kubernetes.io~csi/s/x",
                  cap_)
          .error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);

  // The tenant names, on its own filesystem, the file the driver uses for
  // block volumes, as a non-empty directory: unstage neither removes it nor
  // is blocked by it.
  ASSERT_EQ(mkdir((target_ + "/cellar-block-device").c_str(), 0755), 0);
  { std::ofstream(target_ + "/cellar-block-device/mine") << "tenant"; }
  ASSERT_TRUE(client_->Unpublish(canary_, target_).ok());
  ASSERT_TRUE(client_->Unstage(canary_, staging_).ok());
  ASSERT_TRUE(client_->Stage(canary_, staging_, cap_).ok());
  std::string kept;
  std::getline(std::ifstream(staging_ + "/cellar-block-device/mine"), kept);
  EXPECT_EQ(kept, "tenant");
  EXPECT_EQ(access((staging_ + "/data").c_str(), F_OK), 0);
  ASSERT_TRUE(client_->Delete(other).ok());
}

TEST_F(HostileE2eTest, ShortEncryptionKeysAreRefusedBeforeAnythingIsAttached) {
  std::string id;
  ASSERT_TRUE(client_
                  ->CreateWithParameters("enc", cap_, 32 * kMiB,
                                         {{"encrypted", "true"}}, &id)
                  .ok());
  const std::set<std::string> before = Snapshot(root_);
  const std::string staging =
      kubelet_ + "/plugins/kubernetes.io/csi/enc/globalmount";
  const grpc::Status status = client_->StageWithSecrets(
      id, staging, cap_, {{"encryptionPassphrase", "hunter2-hunter2"}});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("encryptionPassphrase"),
            std::string::npos);
  EXPECT_EQ(Snapshot(root_), before);
  EXPECT_EQ(driver_->ReadLog().find("hunter2"), std::string::npos);
  ASSERT_TRUE(client_->Delete(id).ok());
}

// ---------------------------------------------------------------- Old bytes
// No new volume shows bytes a deleted one wrote (loop images are new sparse
// files; the guest tier proves the same for LVM).

TEST_F(HostileE2eTest, ANewVolumeNeverShowsADeletedVolumesBytes) {
  const csi::v1::VolumeCapability block = testing::Capability("", true);
  const int64_t size = 8 * kMiB;
  const std::string staging =
      kubelet_ + "/plugins/kubernetes.io/csi/old/globalmount";
  const std::string target =
      kubelet_ + "/plugins/kubernetes.io/csi/volumeDevices/publish/old/uid-o";
  auto cycle = [&](const std::string& name, bool write) {
    std::string id;
    EXPECT_TRUE(client_->Create(name, block, size, &id).ok());
    EXPECT_TRUE(client_->Stage(id, staging, block).ok());
    EXPECT_TRUE(client_->Publish(id, staging, target, block, false).ok());
    std::string seen;
    {
      std::fstream device(target,
                          std::ios::in | std::ios::out | std::ios::binary);
      seen.assign(size, '\0');
      device.read(seen.data(), size);
      if (write) {
        device.seekp(0);
        const std::string pattern(size, 'S');
        device.write(pattern.data(), size);
        device.flush();
      }
    }
    EXPECT_TRUE(client_->Unpublish(id, target).ok());
    EXPECT_TRUE(client_->Unstage(id, staging).ok());
    EXPECT_TRUE(client_->Delete(id).ok());
    return seen;
  };
  const std::string zeros(size, '\0');
  EXPECT_EQ(cycle("first", true), zeros);
  // The same name (so the same id and image path) and another name.
  EXPECT_EQ(cycle("first", false), zeros);
  EXPECT_EQ(cycle("second", false), zeros);
}

// ---------------------------------------------------------------- Failures
// A stage that fails leaves nothing attached.

TEST_F(HostileE2eTest, AFailedStageLeavesNoLoopDeviceBehind) {
  std::string id;
  ASSERT_TRUE(client_->Create("mislabelled", cap_, 32 * kMiB, &id).ok());
  // The image holds something other than the volume's ext4 (swap): the
  // driver must refuse to reformat it, and undo its attach.
  std::string image;
  for (const std::string& file : Snapshot(root_ + "/data")) {
    if (file.find(id + ".img ") != std::string::npos) {
      image = file.substr(5, file.find(" mode=") - 5);
    }
  }
  ASSERT_FALSE(image.empty());
  ASSERT_EQ(system(("mkswap '" + image + "' >/dev/null 2>&1").c_str()), 0);
  const std::string staging =
      kubelet_ + "/plugins/kubernetes.io/csi/mislabelled/globalmount";
  ASSERT_EQ(system(("mkdir -p " + staging).c_str()), 0);
  EXPECT_EQ(client_->Stage(id, staging, cap_).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  for (const std::string& entry : Snapshot(root_)) {
    const bool attached =
        entry.rfind("loop ", 0) == 0 && entry.find(image) != std::string::npos;
    EXPECT_FALSE(attached) << "left attached: " << entry;
  }
  ASSERT_TRUE(client_->Delete(id).ok());
}

// ---------------------------------------------------------------- Review
// Attacks a hostile review found, each kept as a test.

// An emptyDir subPath named like a loop device is not that device: it
// neither blocks the volume's unstage nor gets unmounted for it.
TEST_F(HostileE2eTest, AFileNamedLikeTheDeviceIsNotTheDevice) {
  const csi::v1::VolumeCapability block = testing::Capability("", true);
  std::string id;
  ASSERT_TRUE(client_->Create("blockvictim", block, 16 * kMiB, &id).ok());
  const std::string staging =
      kubelet_ + "/plugins/kubernetes.io/csi/blockvictim/globalmount";
  ASSERT_EQ(system(("mkdir -p " + staging).c_str()), 0);
  ASSERT_TRUE(client_->Stage(id, staging, block).ok());
  // Which loop device the victim got.
  std::string device;
  for (const MountEntry& m : testing::MountTable()) {
    if (absl::StrContains(m.mount_point, staging + "/cellar-block-device")) {
      device = m.root;  // "/loopN"
    }
  }
  ASSERT_FALSE(device.empty());
  // Another pod's emptyDir (tmpfs) with a file of that name bound as a
  // subPath, as kubelet would make it.
  const std::string empty_dir =
      kubelet_ + "/pods/uid-c/volumes/kubernetes.io~empty-dir/cache";
  const std::string sub_path = kubelet_ + "/pods/uid-c/volume-subpaths/c/0";
  ASSERT_EQ(system(("mkdir -p " + empty_dir + " " +
                    sub_path.substr(0, sub_path.rfind('/')))
                       .c_str()),
            0);
  ASSERT_EQ(mount("tmpfs", empty_dir.c_str(), "tmpfs", 0, "size=1m"), 0);
  { std::ofstream(empty_dir + device) << ""; }
  { std::ofstream(sub_path) << ""; }
  ASSERT_EQ(mount((empty_dir + device).c_str(), sub_path.c_str(), nullptr,
                  MS_BIND, nullptr),
            0);
  // Unpublishing the victim at the subPath leaves kubelet's mount alone
  // (the path is not a CSI volume's at all).
  EXPECT_EQ(client_->Unpublish(id, sub_path).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // The subPath does not count as a publish of the victim.
  EXPECT_TRUE(client_->Unstage(id, staging).ok());
  EXPECT_TRUE(client_->Delete(id).ok());
  EXPECT_EQ(umount(sub_path.c_str()), 0) << "kubelet's subPath mount was lost";
  EXPECT_EQ(umount(empty_dir.c_str()), 0);
}

// Paths inside another volume's filesystem are never staging paths or
// targets, and stats do not tell what exists in there.
TEST_F(HostileE2eTest, NothingIsNamedThroughAnotherVolume) {
  std::string other;
  ASSERT_TRUE(client_->Create("nested", cap_, 32 * kMiB, &other).ok());
  const csi::v1::VolumeCapability block = testing::Capability("", true);
  std::string other_block;
  ASSERT_TRUE(client_->Create("nested-b", block, 16 * kMiB, &other_block).ok());
  // The canary's tenant made these on its filesystem.
  ASSERT_EQ(mkdir((staging_ + "/app").c_str(), 0755), 0);
  { std::ofstream(staging_ + "/app/cellar-block-device") << ""; }
  { std::ofstream(staging_ + "/app/secret.txt") << "s"; }
  const std::set<std::string> before = Snapshot(staging_);
  EXPECT_EQ(client_->Stage(other, staging_ + "/app", cap_).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(
      client_->Stage(other_block, staging_ + "/app/zz", block).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(client_->Unstage(other_block, staging_ + "/app").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(client_->Publish(canary_, staging_, target_ + "/app/x", cap_, false)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Snapshot(staging_), before);
  // Stats through the canary's mount: one answer whatever exists there.
  auto stats = [&](const std::string& path) {
    csi::v1::NodeGetVolumeStatsRequest request;
    request.set_volume_id(other);
    request.set_volume_path(path);
    csi::v1::NodeGetVolumeStatsResponse response;
    return driver_->node().NodeGetVolumeStats(Context().get(), request,
                                              &response);
  };
  const grpc::Status exists = stats(target_ + "/app/secret.txt");
  const grpc::Status missing = stats(target_ + "/app/nothing-here");
  EXPECT_EQ(exists.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND);
  // NodeExpand of another volume at the canary's path grows nothing.
  csi::v1::NodeExpandVolumeRequest expand;
  expand.set_volume_id(other);
  expand.set_volume_path(target_);
  expand.mutable_capacity_range()->set_required_bytes(128 * kMiB);
  csi::v1::NodeExpandVolumeResponse expanded;
  EXPECT_FALSE(driver_->node()
                   .NodeExpandVolume(Context().get(), expand, &expanded)
                   .ok());
  csi::v1::ControllerGetVolumeRequest get;
  get.set_volume_id(other);
  csi::v1::ControllerGetVolumeResponse got;
  ASSERT_TRUE(driver_->controller()
                  .ControllerGetVolume(Context().get(), get, &got)
                  .ok());
  EXPECT_EQ(got.volume().capacity_bytes(), 32 * kMiB);
  // An id this node never made removes no one's empty directory.
  const std::string empty =
      kubelet_ + "/pods/uid-v/volumes/kubernetes.io~csi/x/mount";
  ASSERT_EQ(system(("mkdir -p " + empty).c_str()), 0);
  EXPECT_TRUE(
      client_
          ->Unpublish("v_hostile-node_default_" + std::string(32, 'f'), empty)
          .ok());
  EXPECT_TRUE(client_->Unpublish("whatever", empty).ok());
  EXPECT_EQ(access(empty.c_str(), F_OK), 0);
  ASSERT_TRUE(client_->Delete(other).ok());
  ASSERT_TRUE(client_->Delete(other_block).ok());
}

// A volume id that carries a line break cannot forge a log line.
TEST_F(HostileE2eTest, LogLinesCannotBeForged) {
  const std::string forged =
      "x\n2099-01-01T00:00:00.000000Z info published volume=v target=/evil";
  (void)client_->Unpublish(forged, kubelet_ + "/pods/nothing/here");
  const std::string log = driver_->ReadLog();
  EXPECT_EQ(log.find("\n2099-01-01T00:00:00.000000Z"), std::string::npos);
}

}  // namespace
}  // namespace cellar
