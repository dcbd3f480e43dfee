#ifndef CELLAR_SRC_METRICS_DRIVER_METRICS_H_
#define CELLAR_SRC_METRICS_DRIVER_METRICS_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "src/common/observers.h"
#include "src/metrics/exposition.h"

namespace cellar {

// The kubernetes-csi name of a gRPC status code, as Go's codes.Code prints
// it ("OK", "InvalidArgument", "DeadlineExceeded", ...): the sidecars'
// csi_sidecar_operations_seconds uses these, so dashboards can join both.
const char* GrpcCodeLabel(grpc::StatusCode code);

// The upper bounds (seconds) of csi_plugin_operations_seconds, the same as
// the kubernetes-csi sidecars' operation histograms.
const std::vector<double>& OperationBuckets();

// The events the driver counts: RPC durations by method and status code,
// refused publishes by rule. Thread-safe; observing costs one mutex and a
// map lookup.
class DriverMetrics final : public RpcObserver, public PolicyObserver {
 public:
  // `refusal_rules`: the rules refusals are counted by, shown from the
  // start (at 0) so a rate over them is defined before the first refusal.
  DriverMetrics(std::string driver_name,
                const std::vector<std::string>& refusal_rules);
  DriverMetrics(const DriverMetrics&) = delete;
  DriverMetrics& operator=(const DriverMetrics&) = delete;

  void ObserveRpc(absl::string_view method, grpc::StatusCode code,
                  double seconds) override;
  void PublishRefused(absl::string_view rule) override;

  // csi_plugin_operations_seconds and cellar_publish_refusals_total, as
  // they stand now (series in a fixed order: sorted by their labels).
  std::vector<MetricFamily> Collect() const;

 private:
  struct Histogram {
    std::vector<uint64_t> counts;
    double sum = 0;
  };
  const std::string driver_name_;
  mutable absl::Mutex mutex_;
  // (method, code label) -> histogram.
  std::map<std::pair<std::string, std::string>, Histogram> operations_
      ABSL_GUARDED_BY(mutex_);
  std::map<std::string, uint64_t> refusals_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace cellar

#endif  // CELLAR_SRC_METRICS_DRIVER_METRICS_H_
