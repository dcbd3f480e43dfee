#include "src/driver.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <map>
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
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "csi.grpc.pb.h"
#include "spdlog/spdlog.h"
#include "src/backend/device_classes.h"
#include "src/backend/loop/loop_backend.h"
#include "src/backend/lvm/lvm_backend.h"
#include "src/common/cli.h"
#include "src/common/ids.h"
#include "src/common/logging.h"
#include "src/common/periodic.h"
#include "src/common/status_macros.h"
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
          "gRPC endpoint, unix:///absolute/path. Default: "
          "unix://<data-dir>/csi.sock");
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

// What --mode names: which parts of the driver run in this process.
enum class DriverMode { kAll, kController, kNode };

constexpr struct {
  absl::string_view name;
  DriverMode mode;
} kModes[] = {
    {"all", DriverMode::kAll},
    {"controller", DriverMode::kController},
    {"node", DriverMode::kNode},
};

absl::string_view ModeName(DriverMode mode) {
  for (const auto& entry : kModes) {
    if (entry.mode == mode) return entry.name;
  }
  return "?";
}

// What the command line asks for, checked.
struct DriverOptions {
  DriverMode mode = DriverMode::kAll;
  // Every mode but --mode=controller holds this node's volumes.
  bool local_storage() const { return mode != DriverMode::kController; }
  std::string driver_name;
  std::string node_id;
  std::string data_dir;
  std::string socket_path;
  std::string kubelet_dir;
  std::string metrics_address;  // empty: no endpoint
  std::string device_classes;   // never empty: the embedded default filled in
  uint64_t default_reserve = 0;
  uint64_t default_volume_bytes = 1;
  int64_t max_volumes_per_node = 0;
  absl::Duration shutdown_grace;
};

// The flags' values, checked one by one (once they are parsed).
absl::StatusOr<DriverOptions> CheckOptions() {
  DriverOptions options;
  const std::string mode = absl::GetFlag(FLAGS_mode);
  const auto* named =
      std::find_if(std::begin(kModes), std::end(kModes),
                   [&](const auto& m) { return m.name == mode; });
  if (named == std::end(kModes)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown --mode \"", mode, "\" (want all, controller or node)"));
  }
  options.mode = named->mode;
  // CSI: at most 63 characters, domain-name style. It also names the
  // driver on the metrics page, which must stay valid text.
  options.driver_name = absl::GetFlag(FLAGS_driver_name);
  if (!IsValidDriverName(options.driver_name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--driver-name \"", absl::CEscape(options.driver_name),
        "\" is not a CSI driver name (at most 63 letters, digits, dashes and "
        "dots, starting and ending with a letter or digit)"));
  }
  options.node_id = absl::GetFlag(FLAGS_node_id);
  if (options.node_id.empty()) options.node_id = HostName();
  if (options.node_id.empty()) {
    return absl::InvalidArgumentError(
        "--node-id is empty and the host name is unknown");
  }
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  if (options.data_dir.empty() || options.data_dir[0] != '/') {
    return absl::InvalidArgumentError("--data-dir must be absolute");
  }
  std::string endpoint = absl::GetFlag(FLAGS_endpoint);
  if (endpoint.empty()) {
    endpoint = absl::StrCat("unix://", options.data_dir, "/csi.sock");
  }
  absl::StatusOr<std::string> socket_path = ParseUnixEndpoint(endpoint);
  if (!socket_path.ok()) return socket_path.status();
  options.socket_path = *socket_path;
  options.kubelet_dir = absl::GetFlag(FLAGS_kubelet_dir);
  if (absl::Status s = CheckConfinedPath(options.kubelet_dir + "/x",
                                         options.kubelet_dir, "--kubelet-dir");
      !s.ok() || options.kubelet_dir == "/") {
    return absl::InvalidArgumentError(
        "--kubelet-dir must be an absolute, normalised path other than /");
  }
  options.metrics_address = absl::GetFlag(FLAGS_metrics_address);
  if (!options.metrics_address.empty()) {
    ABSL_RETURN_IF_ERROR(ParseHttpAddress(options.metrics_address).status());
  }
  // With no --device-classes the embedded default is one loop class,
  // "default", with its images under <data-dir>/loop.
  options.device_classes = absl::GetFlag(FLAGS_device_classes);
  if (options.device_classes.empty()) {
    options.device_classes =
        absl::StrCat(kDefaultClass, "=loop:", options.data_dir, "/loop");
  }
  options.default_reserve = static_cast<uint64_t>(
      std::max<int64_t>(0, absl::GetFlag(FLAGS_reserve_bytes)));
  options.default_volume_bytes = static_cast<uint64_t>(
      std::max<int64_t>(1, absl::GetFlag(FLAGS_default_volume_size)));
  options.max_volumes_per_node = absl::GetFlag(FLAGS_max_volumes_per_node);
  options.shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  return options;
}

// Parses and checks the flags and starts logging. OK with `*help_shown`
// set when --help was answered; INVALID_ARGUMENT naming the flag otherwise.
absl::StatusOr<DriverOptions> ParseCommandLine(int argc, char** argv,
                                               bool* help_shown) {
  constexpr char kUsage[] =
      "cellar-csi: CSI driver for node-local volumes (loop, LVM, LUKS2).\n"
      "Usage: cellar-csi [--flag=value ...]";
  absl::SetProgramUsageMessage(kUsage);
  std::vector<std::string> args =
      NormalizeFlagArgs(std::vector<std::string>(argv, argv + argc));
  *help_shown = false;
  for (const std::string& arg : args) {
    if (arg == "--help" || arg == "-help" || arg == "-h") {
      std::fputs(FlagHelp(kUsage, "src/driver.cc").c_str(), stdout);
      *help_shown = true;
      return DriverOptions{};
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
        !(absl::StartsWith(name, "no") &&
          absl::FindCommandLineFlag(name.substr(2)) != nullptr)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown flag --", DashedFlagName(name), " (see --help)"));
    }
  }
  std::vector<char*> arg_pointers;
  for (std::string& arg : args) arg_pointers.push_back(arg.data());
  absl::ParseCommandLine(static_cast<int>(arg_pointers.size()),
                         arg_pointers.data());

  auto level = ParseLogLevel(absl::GetFlag(FLAGS_log_level));
  if (!level.ok()) return level.status();
  auto format = ParseLogFormat(absl::GetFlag(FLAGS_log_format));
  if (!format.ok()) return format.status();
  InitLogging(*level, *format);
  return CheckOptions();
}

// The process-wide settings made before any other thread exists.
absl::Status PrepareProcess(const DriverOptions& options,
                            sigset_t* stop_signals) {
  // Signals are taken by one thread with sigwait; block them first so
  // every thread inherits the mask.
  sigemptyset(stop_signals);
  sigaddset(stop_signals, SIGTERM);
  sigaddset(stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // The process holds encryption keys while it stages volumes: no core
  // dump of it, and no ptrace attach by other processes of the same user.
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    return absl::ErrnoToStatus(errno, "prctl(PR_SET_DUMPABLE)");
  }
  if (mkdir(options.data_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::ErrnoToStatus(errno, absl::StrCat("mkdir ", options.data_dir));
  }
  return absl::OkStatus();
}

// The device classes' backends, in the order given.
struct Backends {
  std::vector<std::unique_ptr<Backend>> owned;
  std::map<std::string, Backend*> by_class;
  std::vector<LvmBackend*> guarded_pools;  // thin classes with autoextend
  std::string default_class;
};

absl::StatusOr<std::unique_ptr<Backend>> MakeLoopBackend(
    const DeviceClassSpec& spec, uint64_t reserve, const Platform& platform) {
  ABSL_RETURN_IF_ERROR(platform.fs->MakeDirs(spec.directory, 0700));
  // Resolved once, so image paths match the kernel's loop backing files.
  ABSL_ASSIGN_OR_RETURN(std::string resolved,
                        platform.fs->RealPath(spec.directory));
  LoopBackendConfig config;
  config.directory = resolved;
  config.reserve_bytes = reserve;
  config.overprovision = spec.overprovision_set ? spec.overprovision : 0;
  return std::make_unique<LoopBackend>(config, platform.fs, platform.loops);
}

// An LVM class's backend, with what a stopped driver left repaired: after
// a reboot the node's LVs are inactive (ours are activated), and snapshot
// copies left unfinished go on in the background.
std::unique_ptr<LvmBackend> MakeLvmBackend(const DeviceClassSpec& spec,
                                           uint64_t reserve,
                                           const Platform& platform) {
  LvmBackendConfig config;
  config.vg = spec.vg;
  config.thin_pool = spec.pool;
  config.reserve_bytes = spec.kind == DeviceClassKind::kLvm ? reserve : 0;
  config.overprovision = spec.overprovision;
  if (const char* dir = getenv("LVM_SYSTEM_DIR")) {
    config.lvm_env.push_back(absl::StrCat("LVM_SYSTEM_DIR=", dir));
  }
  if (spec.cow_percent_set) config.cow_percent = spec.cow_percent;
  if (spec.copy_bandwidth_set) {
    config.copy_bytes_per_second = spec.copy_bytes_per_second;
  }
  config.guard.autoextend_percent = spec.autoextend_percent;
  config.guard.step_percent = spec.autoextend_step_percent;
  config.guard.max_bytes = spec.autoextend_max_bytes;
  config.guard.create_limit_percent = spec.create_limit_percent;
  auto lvm = std::make_unique<LvmBackend>(config, platform.runner, platform.fs,
                                          platform.copier);
  absl::StatusOr<int> activated = lvm->ActivateAll();
  if (!activated.ok()) {
    spdlog::warn("device class {}: cannot activate volumes: {}", spec.name,
                 activated.status().message());
  } else if (*activated > 0) {
    spdlog::info("device class {}: activated {} volumes", spec.name,
                 *activated);
  }
  absl::StatusOr<int> resumed = lvm->ResumeCopies();
  if (!resumed.ok()) {
    spdlog::warn("device class {}: cannot resume snapshot copies: {}",
                 spec.name, resumed.status().message());
  } else if (*resumed > 0) {
    spdlog::info("device class {}: resumed {} snapshot copies", spec.name,
                 *resumed);
  }
  return lvm;
}

absl::StatusOr<Backends> MakeBackends(const DriverOptions& options,
                                      const Platform& platform) {
  ABSL_ASSIGN_OR_RETURN(std::vector<DeviceClassSpec> classes,
                        ParseDeviceClasses(options.device_classes));
  Backends backends;
  backends.default_class = classes[0].name;
  // The controller alone reaches no node storage.
  if (!options.local_storage()) return backends;
  for (const DeviceClassSpec& spec : classes) {
    const uint64_t reserve =
        spec.reserve_set ? spec.reserve_bytes : options.default_reserve;
    if (spec.kind == DeviceClassKind::kLoop) {
      ABSL_ASSIGN_OR_RETURN(std::unique_ptr<Backend> loop,
                            MakeLoopBackend(spec, reserve, platform));
      backends.owned.push_back(std::move(loop));
    } else {
      std::unique_ptr<LvmBackend> lvm = MakeLvmBackend(spec, reserve, platform);
      if (lvm->guards_pool()) backends.guarded_pools.push_back(lvm.get());
      backends.owned.push_back(std::move(lvm));
    }
    backends.by_class[spec.name] = backends.owned.back().get();
  }
  return backends;
}

// Thin pools with autoextend are checked every few seconds (and after each
// allocation): nothing else grows them when no dmeventd runs. Null when
// no class asks for it.
std::unique_ptr<PeriodicTask> StartPoolGuard(
    const std::vector<LvmBackend*>& pools) {
  if (pools.empty()) return nullptr;
  auto check_pools = [pools] {
    for (LvmBackend* pool : pools) {
      if (absl::Status s = pool->GuardPool().status(); !s.ok()) {
        spdlog::warn("thin pool check: {}", std::string(s.message()));
      }
    }
  };
  check_pools();
  return std::make_unique<PeriodicTask>(absl::Seconds(5),
                                        std::move(check_pools));
}

IdentityConfig MakeIdentityConfig(const DriverOptions& options) {
  IdentityConfig config;
  config.driver_name = options.driver_name;
  config.vendor_version = kCellarVersion;
  config.capabilities.push_back(ServiceCapability(
      csi::v1::PluginCapability::Service::CONTROLLER_SERVICE));
  config.capabilities.push_back(ServiceCapability(
      csi::v1::PluginCapability::Service::VOLUME_ACCESSIBILITY_CONSTRAINTS));
  if (options.local_storage()) {
    config.capabilities.push_back(ServiceCapability(
        csi::v1::PluginCapability::Service::GROUP_CONTROLLER_SERVICE));
  }
  config.capabilities.push_back(
      ExpansionCapability(csi::v1::PluginCapability::VolumeExpansion::ONLINE));
  config.capabilities.push_back(
      ExpansionCapability(csi::v1::PluginCapability::VolumeExpansion::OFFLINE));
  return config;
}

// Probe's answer: ready when every class is.
absl::Status AllReady(const std::map<std::string, Backend*>& backends) {
  for (const auto& [name, backend] : backends) {
    absl::Status ready = backend->Ready();
    if (!ready.ok()) {
      return absl::UnavailableError(
          absl::StrCat("device class ", name, ": ", ready.message()));
    }
  }
  return absl::OkStatus();
}

// A driver killed while a snapshot held a filesystem frozen has that
// filesystem thawed here. Without local storage nothing is frozen (the
// null Freezer).
std::unique_ptr<Freezer> MakeFreezer(const DriverOptions& options,
                                     const Platform& platform) {
  if (!options.local_storage()) return std::make_unique<Freezer>();
  auto freezer = std::make_unique<Freezer>(
      FreezerDeps{platform.mounter, platform.fs_tools, platform.fs,
                  absl::StrCat(options.data_dir, "/frozen")});
  if (absl::Status s = freezer->ThawLeftovers(); !s.ok()) {
    spdlog::warn("thawing what a stopped driver left frozen: {}", s.ToString());
  }
  return freezer;
}

ControllerConfig MakeControllerConfig(const DriverOptions& options,
                                      const Backends& backends) {
  ControllerConfig config;
  config.node_id = options.node_id;
  config.local_storage = options.local_storage();
  config.default_volume_bytes = options.default_volume_bytes;
  config.default_class = backends.default_class;
  return config;
}

NodeConfig MakeNodeConfig(const DriverOptions& options) {
  NodeConfig config;
  config.node_id = options.node_id;
  config.kubelet_dir = options.kubelet_dir;
  config.max_volumes_per_node = options.max_volumes_per_node;
  return config;
}

NodeDeps MakeNodeDeps(const Platform& platform, PolicyObserver* observer) {
  NodeDeps deps;
  deps.fs = platform.fs;
  deps.mounter = platform.mounter;
  deps.fs_tools = platform.fs_tools;
  deps.loops = platform.loops;
  deps.crypt = platform.crypt;
  deps.policy_observer = observer;
  return deps;
}

// The CSI services over the backends, sharing one set of volume locks.
class DriverServices final {
 public:
  DriverServices(const DriverOptions& options, const Platform& platform,
                 const Backends& backends, Freezer* freezer,
                 DriverMetrics* metrics)
      : by_class_(backends.by_class),
        identity_(MakeIdentityConfig(options),
                  [this] { return AllReady(by_class_); }),
        controller_(MakeControllerConfig(options, backends), by_class_, &locks_,
                    freezer, platform.clock),
        node_(MakeNodeConfig(options), MakeNodeDeps(platform, metrics),
              by_class_, &locks_),
        group_controller_(options.node_id, &controller_) {}
  DriverServices(const DriverServices&) = delete;
  DriverServices& operator=(const DriverServices&) = delete;

  // What --mode serves: the Node and GroupController services only where
  // the node's storage is.
  std::vector<grpc::Service*> ForMode(DriverMode mode) {
    std::vector<grpc::Service*> services = {&identity_, &controller_};
    if (mode != DriverMode::kController) {
      services.push_back(&node_);
      services.push_back(&group_controller_);
    }
    return services;
  }

 private:
  const std::map<std::string, Backend*> by_class_;
  VolumeLocks locks_;
  IdentityService identity_;
  ControllerService controller_;
  NodeService node_;
  GroupControllerService group_controller_;
};

// The metrics endpoint and what it reads.
struct MetricsEndpoint {
  std::unique_ptr<MetricsCollector> collector;
  std::unique_ptr<HttpServer> server;
};

absl::StatusOr<MetricsEndpoint> StartMetrics(
    const DriverOptions& options, absl::Time start_time, DriverMetrics* metrics,
    const std::map<std::string, Backend*>& backends, FileSystem* fs) {
  MetricsConfig config;
  config.version = kCellarVersion;
  config.start_time = start_time;
  config.count_mappings = options.local_storage();
  std::vector<MetricsClass> classes;
  for (const auto& [name, backend] : backends) {
    classes.push_back({name, backend->kind(), backend});
  }
  MetricsEndpoint endpoint;
  endpoint.collector = std::make_unique<MetricsCollector>(
      config, metrics, std::move(classes), fs);
  MetricsCollector* collector = endpoint.collector.get();
  absl::StatusOr<std::unique_ptr<HttpServer>> started = StartRealHttpServer(
      options.metrics_address, [collector](const HttpRequest& request) {
        return ServeMetrics(request,
                            [collector] { return collector->Render(); });
      });
  if (!started.ok()) return started.status();
  endpoint.server = *std::move(started);
  spdlog::info("metrics at http://{}/metrics (port {})",
               options.metrics_address, endpoint.server->port());
  return endpoint;
}

// Serves `services` until SIGTERM or SIGINT, then lets in-flight calls
// finish within the grace.
absl::Status Serve(const DriverOptions& options,
                   const std::vector<grpc::Service*>& services,
                   RpcObserver* observer, sigset_t* stop_signals,
                   const std::function<void()>& on_serving) {
  auto server = UnixServer::Start(options.socket_path, services, observer);
  if (!server.ok()) return server.status();
  spdlog::info("cellar-csi {} serving mode={} node={} endpoint=unix://{}",
               kCellarVersion, std::string(ModeName(options.mode)),
               options.node_id, options.socket_path);
  if (on_serving) on_serving();
  const absl::Duration grace = options.shutdown_grace;
  UnixServer* raw_server = server->get();
  std::thread signal_thread([stop_signals, raw_server, grace] {
    int signal_number = 0;
    sigwait(stop_signals, &signal_number);
    spdlog::info("received signal {}, shutting down (grace {})", signal_number,
                 absl::FormatDuration(grace));
    raw_server->Shutdown(grace);
  });
  (*server)->Wait();
  signal_thread.join();
  return absl::OkStatus();
}

}  // namespace

int RunDriver(int argc, char** argv, const Platform& platform,
              const std::function<void()>& on_serving) {
  const absl::Time start_time = absl::Now();
  bool help_shown = false;
  absl::StatusOr<DriverOptions> options =
      ParseCommandLine(argc, argv, &help_shown);
  if (!options.ok()) return Fail(options.status());
  if (help_shown) return 0;
  sigset_t stop_signals;
  if (absl::Status s = PrepareProcess(*options, &stop_signals); !s.ok()) {
    return Fail(s);
  }
  // First of the start-up repairs: a pod's filesystem left frozen blocks
  // its writers now, and a class that fails to start must not keep it so.
  std::unique_ptr<Freezer> freezer = MakeFreezer(*options, platform);
  // Counted only when someone can read them.
  std::unique_ptr<DriverMetrics> metrics;
  if (!options->metrics_address.empty()) {
    metrics =
        std::make_unique<DriverMetrics>(options->driver_name, PublishRules());
  }
  absl::StatusOr<Backends> backends = MakeBackends(*options, platform);
  if (!backends.ok()) return Fail(backends.status());
  std::unique_ptr<PeriodicTask> pool_guard =
      StartPoolGuard(backends->guarded_pools);
  DriverServices services(*options, platform, *backends, freezer.get(),
                          metrics.get());
  // The metrics endpoint first: a bad address fails the start before the
  // socket answers anyone.
  MetricsEndpoint endpoint;
  if (metrics != nullptr) {
    absl::StatusOr<MetricsEndpoint> started = StartMetrics(
        *options, start_time, metrics.get(), backends->by_class, platform.fs);
    if (!started.ok()) return Fail(started.status());
    endpoint = *std::move(started);
  }
  absl::Status served = Serve(*options, services.ForMode(options->mode),
                              metrics.get(), &stop_signals, on_serving);
  endpoint.server.reset();
  pool_guard.reset();
  if (!served.ok()) return Fail(served);
  spdlog::info("stopped");
  spdlog::default_logger()->flush();
  return 0;
}

}  // namespace cellar
