#include "src/metrics/metrics_collector.h"

#include <unistd.h>

#include <map>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "spdlog/spdlog.h"
#include "src/common/logging.h"

namespace cellar {
namespace {

MetricFamily Family(std::string name, std::string help,
                    MetricType type = MetricType::kGauge) {
  MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = type;
  return family;
}

void Add(MetricFamily* family, MetricLabels labels, double value) {
  family->samples.push_back({std::move(labels), value});
}

// The storage families, one group per kind of storage, each made with its
// help text and filled from one BackendStats at a time.

// What every device class reports.
struct DeviceClassFamilies {
  MetricFamily up = Family(
      "cellar_device_class_up",
      "1 when the device class's storage could be read at the last scrape.");
  MetricFamily capacity =
      Family("cellar_device_class_capacity_bytes",
             "All the space the device class manages (after its reserve; thin: "
             "pool size times the overprovision ratio).");
  MetricFamily available = Family(
      "cellar_device_class_available_bytes",
      "Space the device class can still give to new volumes (as GetCapacity "
      "reports it).");
  MetricFamily allocated =
      Family("cellar_device_class_allocated_bytes",
             "Space promised to the device class's volumes and snapshots.");
  MetricFamily volumes =
      Family("cellar_device_class_volumes", "Volumes of the device class.");
  MetricFamily snapshots =
      Family("cellar_device_class_snapshots", "Snapshots of the device class.");

  // Everything but `up`, which is added whether or not Stats() answered.
  void AddStats(const MetricsClass& device_class, const BackendStats& stats) {
    const MetricLabels labels = {{"device_class", device_class.name}};
    Add(&capacity,
        {{"device_class", device_class.name}, {"kind", device_class.kind}},
        static_cast<double>(stats.capacity_bytes));
    Add(&available, labels, static_cast<double>(stats.available_bytes));
    Add(&allocated, labels, static_cast<double>(stats.allocated_bytes));
    Add(&volumes, labels, static_cast<double>(stats.volumes));
    Add(&snapshots, labels, static_cast<double>(stats.snapshots));
  }
};

struct VgFamilies {
  MetricFamily size =
      Family("cellar_vg_size_bytes", "Size of the volume group.");
  MetricFamily free =
      Family("cellar_vg_free_bytes", "Unallocated space of the volume group.");
  MetricFamily missing = Family(
      "cellar_vg_missing_pvs", "Physical volumes of the volume group missing.");

  void AddStats(const VgStats& vg) {
    const MetricLabels labels = {{"vg", vg.name}};
    Add(&size, labels, static_cast<double>(vg.size_bytes));
    Add(&free, labels, static_cast<double>(vg.free_bytes));
    Add(&missing, labels, static_cast<double>(vg.missing_pvs));
  }
};

struct ThinPoolFamilies {
  MetricFamily size =
      Family("cellar_thin_pool_size_bytes", "Data size of the thin pool.");
  MetricFamily data = Family("cellar_thin_pool_data_used_ratio",
                             "Share of the thin pool's data space used.");
  MetricFamily meta_size = Family("cellar_thin_pool_metadata_size_bytes",
                                  "Size of the thin pool's metadata.");
  MetricFamily meta = Family("cellar_thin_pool_metadata_used_ratio",
                             "Share of the thin pool's metadata used.");
  MetricFamily chunk = Family("cellar_thin_pool_chunk_size_bytes",
                              "Chunk size of the thin pool.");
  MetricFamily virtual_bytes =
      Family("cellar_thin_pool_virtual_bytes",
             "Virtual sizes of the thin volumes in the pool, summed.");
  MetricFamily autoextends = Family(
      "cellar_thin_pool_autoextends_total",
      "Growths of the thin pool's data or metadata by this driver process.",
      MetricType::kCounter);

  void AddStats(const ThinPoolStats& pool) {
    const MetricLabels labels = {{"pool", pool.name}};
    Add(&size, labels, static_cast<double>(pool.size_bytes));
    Add(&data, labels, pool.data_percent / 100);
    Add(&meta_size, labels, static_cast<double>(pool.metadata_bytes));
    Add(&meta, labels, pool.metadata_percent / 100);
    Add(&chunk, labels, static_cast<double>(pool.chunk_bytes));
    Add(&virtual_bytes, labels, static_cast<double>(pool.virtual_bytes));
    Add(&autoextends, labels, static_cast<double>(pool.autoextends));
  }
};

// The filesystem under a loop device class's images.
struct ImageFsFamilies {
  MetricFamily size =
      Family("cellar_loop_image_fs_size_bytes",
             "Size of the filesystem holding a loop device class's images.");
  MetricFamily free =
      Family("cellar_loop_image_fs_free_bytes",
             "Space the driver may still write on that filesystem.");
  MetricFamily promised =
      Family("cellar_loop_promised_bytes",
             "Sizes of a loop device class's images (volumes and snapshots), "
             "summed; sparse images may take less.");

  void AddStats(const MetricLabels& labels, const ImageFsStats& image_fs) {
    Add(&size, labels, static_cast<double>(image_fs.size_bytes));
    Add(&free, labels, static_cast<double>(image_fs.free_bytes));
    Add(&promised, labels, static_cast<double>(image_fs.promised_bytes));
  }
};

struct StorageFamilySet {
  DeviceClassFamilies device_class;
  VgFamilies vg;
  ThinPoolFamilies pool;
  ImageFsFamilies image_fs;

  // The families in their fixed order, without those that have no sample:
  // kinds of storage no class has (no VG on a loop-only node) show nothing.
  std::vector<MetricFamily> NonEmpty() && {
    MetricFamily* const ordered[] = {&device_class.up,
                                     &device_class.capacity,
                                     &device_class.available,
                                     &device_class.allocated,
                                     &device_class.volumes,
                                     &device_class.snapshots,
                                     &vg.size,
                                     &vg.free,
                                     &vg.missing,
                                     &pool.size,
                                     &pool.data,
                                     &pool.meta_size,
                                     &pool.meta,
                                     &pool.chunk,
                                     &pool.virtual_bytes,
                                     &pool.autoextends,
                                     &image_fs.size,
                                     &image_fs.free,
                                     &image_fs.promised};
    std::vector<MetricFamily> out;
    for (MetricFamily* family : ordered) {
      if (!family->samples.empty()) out.push_back(std::move(*family));
    }
    return out;
  }
};

}  // namespace

MetricsCollector::MetricsCollector(MetricsConfig config,
                                   const DriverMetrics* driver,
                                   std::vector<MetricsClass> classes,
                                   FileSystem* fs,
                                   std::function<absl::Time()> now)
    : config_(std::move(config)),
      driver_(driver),
      classes_(std::move(classes)),
      fs_(fs),
      now_(std::move(now)) {}

std::vector<MetricFamily> MetricsCollector::StorageFamilies() {
  absl::MutexLock lock(&storage_mutex_);
  const absl::Time now = now_();
  if (now - storage_read_at_ < config_.storage_max_age) return storage_;

  StorageFamilySet families;
  // Two classes may share a VG or a pool: each appears once.
  std::set<std::string> vgs_seen;
  std::set<std::string> pools_seen;
  for (const MetricsClass& device_class : classes_) {
    absl::StatusOr<BackendStats> stats = device_class.backend->Stats();
    const MetricLabels labels = {{"device_class", device_class.name}};
    Add(&families.device_class.up, labels, stats.ok() ? 1 : 0);
    if (!stats.ok()) {
      spdlog::debug("metrics: device class {}: {}", device_class.name,
                    stats.status().message());
      continue;
    }
    families.device_class.AddStats(device_class, *stats);
    if (stats->has_vg && vgs_seen.insert(stats->vg.name).second) {
      families.vg.AddStats(stats->vg);
    }
    if (stats->has_pool && pools_seen.insert(stats->pool.name).second) {
      families.pool.AddStats(stats->pool);
    }
    if (stats->has_image_fs) {
      families.image_fs.AddStats(labels, stats->image_fs);
    }
  }
  storage_ = std::move(families).NonEmpty();
  storage_read_at_ = now;
  return storage_;
}

std::vector<MetricFamily> MetricsCollector::ProcessFamilies() {
  std::vector<MetricFamily> out;
  MetricFamily build = Family("cellar_build_info",
                              "Always 1; the label names the driver version.");
  Add(&build, {{"version", config_.version}}, 1);
  out.push_back(std::move(build));
  MetricFamily start = Family("process_start_time_seconds",
                              "Start time of the process since the epoch.");
  Add(&start, {},
      absl::ToDoubleSeconds(config_.start_time - absl::UnixEpoch()));
  out.push_back(std::move(start));
  // statm's second field: resident pages.
  if (absl::StatusOr<std::string> statm = fs_->ReadFile("/proc/self/statm");
      statm.ok()) {
    std::vector<absl::string_view> fields =
        absl::StrSplit(*statm, ' ', absl::SkipWhitespace());
    uint64_t pages = 0;
    if (fields.size() > 1 && absl::SimpleAtoi(fields[1], &pages)) {
      MetricFamily rss = Family("process_resident_memory_bytes",
                                "Resident memory of the process.");
      Add(&rss, {}, static_cast<double>(pages * sysconf(_SC_PAGESIZE)));
      out.push_back(std::move(rss));
    }
  }
  if (absl::StatusOr<std::vector<std::string>> fds =
          fs_->ListDir("/proc/self/fd");
      fds.ok()) {
    MetricFamily open_fds =
        Family("process_open_fds", "Open file descriptors of the process.");
    Add(&open_fds, {}, static_cast<double>(fds->size()));
    out.push_back(std::move(open_fds));
  }
  if (config_.count_mappings) {
    // The driver names its LUKS mappings "cellar-<id>" (CryptMappingName).
    uint64_t mappings = 0;
    if (absl::StatusOr<std::vector<std::string>> names =
            fs_->ListDir("/dev/mapper");
        names.ok()) {
      for (const std::string& name : *names) {
        if (absl::StartsWith(name, "cellar-")) ++mappings;
      }
    }
    MetricFamily open =
        Family("cellar_luks_open_mappings",
               "Open dm-crypt mappings of the driver's volumes.");
    Add(&open, {}, static_cast<double>(mappings));
    out.push_back(std::move(open));
  }
  return out;
}

std::vector<MetricFamily> MetricsCollector::Collect() {
  std::vector<MetricFamily> out = driver_->Collect();
  for (MetricFamily& family : StorageFamilies())
    out.push_back(std::move(family));
  for (MetricFamily& family : ProcessFamilies())
    out.push_back(std::move(family));
  return out;
}

absl::StatusOr<std::string> MetricsCollector::Render() {
  return RenderExposition(Collect());
}

HttpResponse ServeMetrics(
    const HttpRequest& request,
    const std::function<absl::StatusOr<std::string>()>& render) {
  HttpResponse response;
  if (request.path != "/metrics") {
    response.status = 404;
    response.body = "not found; metrics are at /metrics\n";
    return response;
  }
  if (request.method != "GET") {
    response.status = 405;
    response.allow = "GET";
    response.body = "only GET\n";
    return response;
  }
  absl::StatusOr<std::string> text = render();
  if (!text.ok()) {
    spdlog::warn("metrics: {}", text.status().message());
    response.status = 500;
    response.body = "cannot render metrics\n";
    return response;
  }
  response.content_type = kExpositionContentType;
  response.body = *std::move(text);
  return response;
}

}  // namespace cellar
