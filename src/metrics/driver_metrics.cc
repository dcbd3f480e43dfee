#include "src/metrics/driver_metrics.h"

#include <algorithm>

namespace cellar {

const char* GrpcCodeLabel(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "Canceled";
    case grpc::StatusCode::UNKNOWN:
      return "Unknown";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "InvalidArgument";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DeadlineExceeded";
    case grpc::StatusCode::NOT_FOUND:
      return "NotFound";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "AlreadyExists";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PermissionDenied";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "ResourceExhausted";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FailedPrecondition";
    case grpc::StatusCode::ABORTED:
      return "Aborted";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OutOfRange";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "Unimplemented";
    case grpc::StatusCode::INTERNAL:
      return "Internal";
    case grpc::StatusCode::UNAVAILABLE:
      return "Unavailable";
    case grpc::StatusCode::DATA_LOSS:
      return "DataLoss";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "Unauthenticated";
    default:
      return "Unknown";
  }
}

const std::vector<double>& OperationBuckets() {
  static const auto* const kBuckets = new std::vector<double>{
      0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 25, 50, 120, 300, 600};
  return *kBuckets;
}

DriverMetrics::DriverMetrics(std::string driver_name,
                             const std::vector<std::string>& refusal_rules)
    : driver_name_(std::move(driver_name)) {
  absl::MutexLock lock(&mutex_);
  for (const std::string& rule : refusal_rules) refusals_[rule] = 0;
}

void DriverMetrics::ObserveRpc(absl::string_view method, grpc::StatusCode code,
                               double seconds) {
  const std::vector<double>& bounds = OperationBuckets();
  // Bucket i holds (bounds[i-1], bounds[i]]; the last one what is above all.
  const size_t bucket = static_cast<size_t>(
      std::lower_bound(bounds.begin(), bounds.end(), seconds) - bounds.begin());
  absl::MutexLock lock(&mutex_);
  Histogram& histogram =
      operations_[{std::string(method), GrpcCodeLabel(code)}];
  if (histogram.counts.empty()) histogram.counts.assign(bounds.size() + 1, 0);
  ++histogram.counts[bucket];
  histogram.sum += seconds;
}

void DriverMetrics::PublishRefused(absl::string_view rule) {
  absl::MutexLock lock(&mutex_);
  ++refusals_[std::string(rule)];
}

std::vector<MetricFamily> DriverMetrics::Collect() const {
  MetricFamily operations;
  operations.name = "csi_plugin_operations_seconds";
  operations.help =
      "Duration of CSI operations by method and gRPC status code.";
  operations.type = MetricType::kHistogram;
  operations.bounds = OperationBuckets();
  MetricFamily refusals;
  refusals.name = "cellar_publish_refusals_total";
  refusals.help = "Publishes the access policy refused, by rule.";
  refusals.type = MetricType::kCounter;
  absl::MutexLock lock(&mutex_);
  for (const auto& [key, histogram] : operations_) {
    HistogramSample series;
    series.labels = {{"driver_name", driver_name_},
                     {"method_name", key.first},
                     {"grpc_status_code", key.second}};
    series.bucket_counts = histogram.counts;
    series.sum = histogram.sum;
    operations.histograms.push_back(std::move(series));
  }
  for (const auto& [rule, count] : refusals_) {
    refusals.samples.push_back({{{"rule", rule}}, static_cast<double>(count)});
  }
  return {std::move(operations), std::move(refusals)};
}

}  // namespace cellar
