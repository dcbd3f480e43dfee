#include "src/driver.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <algorithm>
#include <map>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "csi.grpc.pb.h"
#include "spdlog/spdlog.h"
#include "src/common/cli.h"
#include "src/common/ids.h"
#include "src/common/logging.h"
#include "src/common/periodic.h"
#include "src/backend/device_classes.h"
#include "src/backend/loop/loop_backend.h"
#include "src/backend/lvm/lvm_backend.h"
#include "src/controller/controller_service.h"
#include "src/controller/group_controller_service.h"
#include "src/identity/identity_service.h"
#include "src/metrics/driver_metrics.h"
#include "src/metrics/metrics_collector.h"
#include "src/node/access_policy.h"
#include "src/node/node_service.h"
#include "src/node/paths.h"
#include "src/platform/real_http_server.h"
#include "src/server/server.h"
#include "src/version.h"

ABSL_FLAG(std::string, endpoint, "",
          "gRPC endpoint, unix:///absolute/path. Default: unix://<data-dir>/csi.sock");
ABSL_FLAG(std::string, mode, "all",
          "Services to run: all (Identity+Controller+Node), controller "
          "(Identity+Controller), node (Identity+Controller+Node for volumes "
          "on this node)");
ABSL_FLAG(std::string, node_id, "", "This node's id. Default: the host name");
ABSL_FLAG(std::string, driver_name, "cellar.csi.io", "CSI driver name");
ABSL_FLAG(std::string, data_dir, "/var/lib/cellar",
          "Directory for the driver's own state and the default loop images");
ABSL_FLAG(std::string, kubelet_dir, "/var/lib/kubelet",
          "Kubelet root directory; staging and target paths must lie inside");
ABSL_FLAG(std::string, log_level, "info", "trace|debug|info|warn|error");
ABSL_FLAG(std::string, log_format, "text", "text|json");
ABSL_FLAG(std::string, device_classes, "",
          "Comma-separated NAME=KIND:ARGS[?OPT=VAL&...] device classes, the "
          "first being the default: loop:DIR, lvm:VG, lvm-thin:VG/POOL; "
          "options reserve=BYTES (loop, lvm), overprovision=RATIO (loop, "
          "lvm-thin), snapshot-cow=PCT and copy-bandwidth=BYTES (lvm), "
          "autoextend=PCT, autoextend-step=PCT, autoextend-max=BYTES and "
          "create-limit=PCT (lvm-thin). "
          "Default: default=loop:<data-dir>/loop");
ABSL_FLAG(int64_t, default_volume_size, 1ll << 30,
          "Bytes given to a volume whose request names no size");
ABSL_FLAG(int64_t, reserve_bytes, 1ll << 30,
          "Bytes of the loop image directory's filesystem never given to "
          "volumes");
ABSL_FLAG(int64_t, max_volumes_per_node, 0,
          "Reported by NodeGetInfo; 0 means no limit");
ABSL_FLAG(std::string, metrics_address, "",
          "Serve Prometheus metrics at http://HOST:PORT/metrics (HOST an IP "
          "address, [IPv6] or empty for every interface, e.g. :9808). "
          "Default: no metrics endpoint");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "On SIGTERM/SIGINT, how long in-flight RPCs may run before they "
          "are cancelled");

namespace cellar {
namespace {

constexpr char kDefaultClass[] = "default";

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "cellar-csi: %s\n", status.ToString().c_str());
  return 2;
}

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "";
  return name;
}

}  // namespace

int RunDriver(int argc, char** argv, const Platform& platform,
              const std::function<void()>& on_serving) {
  const absl::Time start_time = absl::Now();
  constexpr char kUsage[] =
      "cellar-csi: CSI driver for node-local volumes (loop, LVM, LUKS2).\n"
      "Usage: cellar-csi [--flag=value ...]";
  absl::SetProgramUsageMessage(kUsage);
  std::vector<std::string> args =
      NormalizeFlagArgs(std::vector<std::string>(argv, argv + argc));
  for (const std::string& arg : args) {
    if (arg == "--help" || arg == "-help" || arg == "-h") {
      std::fputs(FlagHelp(kUsage, "src/driver.cc").c_str(), stdout);
      return 0;
    }
    if (arg == "--") break;
  }
  // Name unknown flags the way the user spelt them (with dashes).
  for (size_t i = 1; i < args.size() && args[i] != "--"; ++i) {
    const std::string& arg = args[i];
    if (arg.size() < 2 || arg[0] != '-') continue;
    std::string name = arg.substr(arg[1] == '-' ? 2 : 1);
    name = name.substr(0, name.find('='));
    if (absl::FindCommandLineFlag(name) == nullptr &&
        !(name.rfind("no", 0) == 0 &&
          absl::FindCommandLineFlag(name.substr(2)) != nullptr)) {
      return Fail(absl::InvalidArgumentError(
          absl::StrCat("unknown flag --", DashedFlagName(name),
                       " (see --help)")));
    }
  }
  std::vector<char*> arg_pointers;
  for (std::string& arg : args) arg_pointers.push_back(arg.data());
  absl::ParseCommandLine(static_cast<int>(arg_pointers.size()),
                         arg_pointers.data());

  auto level = ParseLogLevel(absl::GetFlag(FLAGS_log_level));
  if (!level.ok()) return Fail(level.status());
  auto format = ParseLogFormat(absl::GetFlag(FLAGS_log_format));
  if (!format.ok()) return Fail(format.status());
  InitLogging(*level, *format);

  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode != "all" && mode != "controller" && mode != "node") {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "unknown --mode \"", mode, "\" (want all, controller or node)")));
  }
  // CSI: at most 63 characters, domain-name style. It also names the
  // driver on the metrics page, which must stay valid text.
  const std::string driver_name = absl::GetFlag(FLAGS_driver_name);
  if (!IsValidDriverName(driver_name)) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "--driver-name \"", absl::CEscape(driver_name),
        "\" is not a CSI driver name (at most 63 letters, digits, dashes and "
        "dots, starting and ending with a letter or digit)")));
  }
  std::string node_id = absl::GetFlag(FLAGS_node_id);
  if (node_id.empty()) node_id = HostName();
  if (node_id.empty()) {
    return Fail(absl::InvalidArgumentError("--node-id is empty and the host "
                                           "name is unknown"));
  }
  const std::string data_dir = absl::GetFlag(FLAGS_data_dir);
  if (data_dir.empty() || data_dir[0] != '/') {
    return Fail(absl::InvalidArgumentError("--data-dir must be absolute"));
  }
  std::string endpoint = absl::GetFlag(FLAGS_endpoint);
  if (endpoint.empty()) endpoint = absl::StrCat("unix://", data_dir, "/csi.sock");
  auto socket_path = ParseUnixEndpoint(endpoint);
  if (!socket_path.ok()) return Fail(socket_path.status());

  // Signals are taken by one thread with sigwait; block them before any
  // other thread exists so every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // The process holds encryption keys while it stages volumes: no core
  // dump of it, and no ptrace attach by other processes of the same user.
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    return Fail(absl::ErrnoToStatus(errno, "prctl(PR_SET_DUMPABLE)"));
  }

  if (mkdir(data_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Fail(absl::ErrnoToStatus(errno, absl::StrCat("mkdir ", data_dir)));
  }

  const std::string kubelet_dir = absl::GetFlag(FLAGS_kubelet_dir);
  if (absl::Status s = CheckConfinedPath(kubelet_dir + "/x", kubelet_dir,
                                         "--kubelet-dir");
      !s.ok() || kubelet_dir == "/") {
    return Fail(absl::InvalidArgumentError(
        "--kubelet-dir must be an absolute, normalised path other than /"));
  }
  const bool local_storage = mode != "controller";
  const std::string metrics_address = absl::GetFlag(FLAGS_metrics_address);
  if (!metrics_address.empty()) {
    if (absl::Status s = ParseHttpAddress(metrics_address).status(); !s.ok()) {
      return Fail(s);
    }
  }
  // Counted only when someone can read them.
  std::unique_ptr<DriverMetrics> metrics;
  if (!metrics_address.empty()) {
    metrics = std::make_unique<DriverMetrics>(driver_name, PublishRules());
  }

  // Device classes. With no --device-classes the embedded default is one
  // loop class, "default", with its images under <data-dir>/loop.
  std::string classes_text = absl::GetFlag(FLAGS_device_classes);
  if (classes_text.empty()) {
    classes_text = absl::StrCat(kDefaultClass, "=loop:", data_dir, "/loop");
  }
  absl::StatusOr<std::vector<DeviceClassSpec>> classes =
      ParseDeviceClasses(classes_text);
  if (!classes.ok()) return Fail(classes.status());
  const uint64_t default_reserve = static_cast<uint64_t>(
      std::max<int64_t>(0, absl::GetFlag(FLAGS_reserve_bytes)));
  std::vector<std::string> lvm_env;
  if (const char* dir = getenv("LVM_SYSTEM_DIR")) {
    lvm_env.push_back(absl::StrCat("LVM_SYSTEM_DIR=", dir));
  }
  std::map<std::string, Backend*> backends;
  std::vector<LvmBackend*> guarded_pools;  // thin classes with autoextend
  std::vector<std::unique_ptr<Backend>> owned_backends;
  std::string default_class = (*classes)[0].name;
  for (const DeviceClassSpec& spec : *classes) {
    if (!local_storage) break;  // the controller reaches no node storage
    const uint64_t reserve = spec.reserve_set ? spec.reserve_bytes : default_reserve;
    if (spec.kind == DeviceClassKind::kLoop) {
      if (absl::Status s = platform.fs->MakeDirs(spec.directory, 0700); !s.ok()) {
        return Fail(s);
      }
      // Resolved once, so image paths match the kernel's loop backing files.
      absl::StatusOr<std::string> resolved = platform.fs->RealPath(spec.directory);
      if (!resolved.ok()) return Fail(resolved.status());
      LoopBackendConfig loop_config;
      loop_config.directory = *resolved;
      loop_config.reserve_bytes = reserve;
      loop_config.overprovision = spec.overprovision_set ? spec.overprovision : 0;
      owned_backends.push_back(
          std::make_unique<LoopBackend>(loop_config, platform.fs, platform.loops));
    } else {
      LvmBackendConfig lvm_config;
      lvm_config.vg = spec.vg;
      lvm_config.thin_pool = spec.pool;
      lvm_config.reserve_bytes = spec.kind == DeviceClassKind::kLvm ? reserve : 0;
      lvm_config.overprovision = spec.overprovision;
      lvm_config.lvm_env = lvm_env;
      if (spec.cow_percent_set) lvm_config.cow_percent = spec.cow_percent;
      if (spec.copy_bandwidth_set) {
        lvm_config.copy_bytes_per_second = spec.copy_bytes_per_second;
      }
      lvm_config.guard.autoextend_percent = spec.autoextend_percent;
      lvm_config.guard.step_percent = spec.autoextend_step_percent;
      lvm_config.guard.max_bytes = spec.autoextend_max_bytes;
      lvm_config.guard.create_limit_percent = spec.create_limit_percent;
      auto lvm =
          std::make_unique<LvmBackend>(lvm_config, platform.runner, platform.fs,
                                       platform.copier);
      // After a reboot the node's LVs are inactive: bring back ours.
      absl::StatusOr<int> activated = lvm->ActivateAll();
      if (!activated.ok()) {
        spdlog::warn("device class {}: cannot activate volumes: {}", spec.name,
                     activated.status().message());
      } else if (*activated > 0) {
        spdlog::info("device class {}: activated {} volumes", spec.name,
                     *activated);
      }
      // Copies a stopped driver left unfinished go on in the background.
      absl::StatusOr<int> resumed = lvm->ResumeCopies();
      if (!resumed.ok()) {
        spdlog::warn("device class {}: cannot resume snapshot copies: {}",
                     spec.name, resumed.status().message());
      } else if (*resumed > 0) {
        spdlog::info("device class {}: resumed {} snapshot copies", spec.name,
                     *resumed);
      }
      if (lvm->guards_pool()) guarded_pools.push_back(lvm.get());
      owned_backends.push_back(std::move(lvm));
    }
    backends[spec.name] = owned_backends.back().get();
  }
  VolumeLocks locks;
  // Thin pools with autoextend are checked every few seconds (and after
  // each allocation): nothing else grows them when no dmeventd runs.
  std::unique_ptr<PeriodicTask> pool_guard;
  if (!guarded_pools.empty()) {
    auto check_pools = [guarded_pools] {
      for (LvmBackend* pool : guarded_pools) {
        if (absl::Status s = pool->GuardPool().status(); !s.ok()) {
          spdlog::warn("thin pool check: {}", std::string(s.message()));
        }
      }
    };
    check_pools();
    pool_guard =
        std::make_unique<PeriodicTask>(absl::Seconds(5), std::move(check_pools));
  }

  IdentityConfig identity_config;
  identity_config.driver_name = driver_name;
  identity_config.vendor_version = kCellarVersion;
  identity_config.capabilities.push_back(ServiceCapability(
      csi::v1::PluginCapability::Service::CONTROLLER_SERVICE));
  identity_config.capabilities.push_back(ServiceCapability(
      csi::v1::PluginCapability::Service::VOLUME_ACCESSIBILITY_CONSTRAINTS));
  if (local_storage) {
    identity_config.capabilities.push_back(ServiceCapability(
        csi::v1::PluginCapability::Service::GROUP_CONTROLLER_SERVICE));
  }
  identity_config.capabilities.push_back(ExpansionCapability(
      csi::v1::PluginCapability::VolumeExpansion::ONLINE));
  identity_config.capabilities.push_back(ExpansionCapability(
      csi::v1::PluginCapability::VolumeExpansion::OFFLINE));
  IdentityService identity(identity_config, [&backends]() -> absl::Status {
    for (const auto& [name, backend] : backends) {
      absl::Status ready = backend->Ready();
      if (!ready.ok()) {
        return absl::UnavailableError(
            absl::StrCat("device class ", name, ": ", ready.message()));
      }
    }
    return absl::OkStatus();
  });

  ControllerConfig controller_config;
  controller_config.node_id = node_id;
  controller_config.local_storage = local_storage;
  controller_config.default_volume_bytes = static_cast<uint64_t>(
      std::max<int64_t>(1, absl::GetFlag(FLAGS_default_volume_size)));
  controller_config.default_class = default_class;
  // Freezes nothing without local storage. With it, a driver killed while
  // a snapshot held a filesystem frozen has that filesystem thawed now.
  std::unique_ptr<Freezer> freezer = std::make_unique<Freezer>();
  if (local_storage) {
    freezer = std::make_unique<Freezer>(
        FreezerDeps{platform.mounter, platform.fs_tools, platform.fs,
                    absl::StrCat(data_dir, "/frozen")});
    if (absl::Status s = freezer->ThawLeftovers(); !s.ok()) {
      spdlog::warn("thawing what a stopped driver left frozen: {}", s.ToString());
    }
  }
  ControllerService controller(controller_config, backends, &locks, freezer.get());

  NodeConfig node_config;
  node_config.node_id = node_id;
  node_config.kubelet_dir = kubelet_dir;
  node_config.max_volumes_per_node = absl::GetFlag(FLAGS_max_volumes_per_node);
  NodeDeps node_deps;
  node_deps.fs = platform.fs;
  node_deps.mounter = platform.mounter;
  node_deps.fs_tools = platform.fs_tools;
  node_deps.loops = platform.loops;
  node_deps.crypt = platform.crypt;
  node_deps.policy_observer = metrics.get();
  NodeService node(node_config, node_deps, backends, &locks);

  GroupControllerService group_controller(node_id, &controller);

  std::vector<grpc::Service*> services = {&identity, &controller};
  if (mode != "controller") {
    services.push_back(&node);
    services.push_back(&group_controller);
  }

  // The metrics endpoint first: a bad address fails the start before
  // the socket answers anyone.
  std::unique_ptr<MetricsCollector> collector;
  std::unique_ptr<HttpServer> metrics_server;
  if (metrics != nullptr) {
    MetricsConfig metrics_config;
    metrics_config.version = kCellarVersion;
    metrics_config.start_time = start_time;
    metrics_config.count_mappings = local_storage;
    std::vector<MetricsClass> metrics_classes;
    for (const auto& [name, backend] : backends) {
      metrics_classes.push_back({name, backend->kind(), backend});
    }
    collector = std::make_unique<MetricsCollector>(
        metrics_config, metrics.get(), std::move(metrics_classes), platform.fs);
    MetricsCollector* raw_collector = collector.get();
    absl::StatusOr<std::unique_ptr<HttpServer>> started = StartRealHttpServer(
        metrics_address, [raw_collector](const HttpRequest& request) {
          return ServeMetrics(request, [raw_collector] {
            return raw_collector->Render();
          });
        });
    if (!started.ok()) return Fail(started.status());
    metrics_server = *std::move(started);
    spdlog::info("metrics at http://{}/metrics (port {})", metrics_address,
                 metrics_server->port());
  }

  auto server = UnixServer::Start(*socket_path, services, metrics.get());
  if (!server.ok()) return Fail(server.status());

  spdlog::info("cellar-csi {} serving mode={} node={} endpoint=unix://{}",
               kCellarVersion, mode, node_id, *socket_path);
  if (on_serving) on_serving();

  const absl::Duration grace = absl::GetFlag(FLAGS_shutdown_grace);
  UnixServer* raw_server = server->get();
  std::thread signal_thread([&stop_signals, raw_server, grace] {
    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    spdlog::info("received signal {}, shutting down (grace {})", signal_number,
                 absl::FormatDuration(grace));
    raw_server->Shutdown(grace);
  });
  (*server)->Wait();
  signal_thread.join();
  metrics_server.reset();
  pool_guard.reset();
  server->reset();
  spdlog::info("stopped");
  spdlog::default_logger()->flush();
  return 0;
}

}  // namespace cellar
