#ifndef CELLAR_SRC_METRICS_METRICS_COLLECTOR_H_
#define CELLAR_SRC_METRICS_METRICS_COLLECTOR_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/backend/backend.h"
#include "src/metrics/driver_metrics.h"
#include "src/metrics/exposition.h"
#include "src/platform/filesystem.h"
#include "src/platform/http_server.h"

namespace cellar {

// A device class whose storage the metrics show.
struct MetricsClass {
  std::string name;
  std::string kind;            // "loop", "lvm", "lvm-thin"
  Backend* backend = nullptr;  // not owned
};

struct MetricsConfig {
  std::string version;
  // When the process started, wall clock.
  absl::Time start_time;
  // Storage figures are read at most this often (a burst of scrapes runs
  // `lvm` once); process figures and counters on every scrape.
  absl::Duration storage_max_age = absl::Seconds(2);
  // Count open LUKS mappings of the driver (node side only).
  bool count_mappings = false;
};

// Everything /metrics shows, read when scraped. Labels name device
// classes, VGs and pools only: never a volume, namespace, pod or claim.
// Thread-safe; concurrent scrapes share one storage read.
class MetricsCollector final {
 public:
  // `driver`, `fs` and the classes' backends are not owned.
  MetricsCollector(MetricsConfig config, const DriverMetrics* driver,
                   std::vector<MetricsClass> classes, FileSystem* fs,
                   std::function<absl::Time()> now = absl::Now);
  MetricsCollector(const MetricsCollector&) = delete;
  MetricsCollector& operator=(const MetricsCollector&) = delete;

  // Every family, in a fixed order.
  std::vector<MetricFamily> Collect();
  // Collect() in the text exposition format.
  absl::StatusOr<std::string> Render();

 private:
  std::vector<MetricFamily> StorageFamilies();
  std::vector<MetricFamily> ProcessFamilies();

  const MetricsConfig config_;
  const DriverMetrics* const driver_;
  const std::vector<MetricsClass> classes_;
  FileSystem* const fs_;
  const std::function<absl::Time()> now_;
  absl::Mutex storage_mutex_;
  absl::Time storage_read_at_ ABSL_GUARDED_BY(storage_mutex_) =
      absl::InfinitePast();
  std::vector<MetricFamily> storage_ ABSL_GUARDED_BY(storage_mutex_);
};

// The /metrics endpoint over `render`: GET /metrics is 200 with the text
// (500 if rendering fails); any other method there 405 (Allow: GET); any
// other path 404. Pure apart from calling `render`.
HttpResponse ServeMetrics(
    const HttpRequest& request,
    const std::function<absl::StatusOr<std::string>()>& render);

}  // namespace cellar

#endif  // CELLAR_SRC_METRICS_METRICS_COLLECTOR_H_
