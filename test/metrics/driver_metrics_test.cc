// The operation histogram and the refusal counter: buckets (upper bounds
// inclusive), kubernetes-csi code names, series per method and code.
#include "src/metrics/driver_metrics.h"

#include "gtest/gtest.h"

namespace cellar {
namespace {

const HistogramSample* Find(const MetricFamily& family,
                            const std::string& method,
                            const std::string& code) {
  for (const HistogramSample& series : family.histograms) {
    if (series.labels[1].second == method && series.labels[2].second == code) {
      return &series;
    }
  }
  return nullptr;
}

TEST(DriverMetricsTest, CountsEachRpcInItsBucketByMethodAndCode) {
  DriverMetrics metrics("cellar.csi.io", {});
  const std::string create = "/csi.v1.Controller/CreateVolume";
  metrics.ObserveRpc(create, grpc::StatusCode::OK, 0.05);
  metrics.ObserveRpc(create, grpc::StatusCode::OK, 0.1);  // le 0.1 inclusive
  metrics.ObserveRpc(create, grpc::StatusCode::OK, 0.2);
  metrics.ObserveRpc(create, grpc::StatusCode::OK, 1000);  // above 600
  metrics.ObserveRpc(create, grpc::StatusCode::INVALID_ARGUMENT, 0.001);
  metrics.ObserveRpc("/csi.v1.Node/NodeStageVolume",
                     grpc::StatusCode::DEADLINE_EXCEEDED, 3);

  const std::vector<MetricFamily> families = metrics.Collect();
  ASSERT_EQ(families.size(), 2u);
  const MetricFamily& ops = families[0];
  EXPECT_EQ(ops.name, "csi_plugin_operations_seconds");
  EXPECT_EQ(ops.type, MetricType::kHistogram);
  EXPECT_EQ(ops.bounds, OperationBuckets());
  ASSERT_EQ(ops.histograms.size(), 3u);
  const HistogramSample* ok = Find(ops, create, "OK");
  ASSERT_NE(ok, nullptr);
  EXPECT_EQ(ok->labels[0], (std::pair<std::string, std::string>(
                               "driver_name", "cellar.csi.io")));
  ASSERT_EQ(ok->bucket_counts.size(), OperationBuckets().size() + 1);
  EXPECT_EQ(ok->bucket_counts[0], 2u);  // 0.05 and 0.1
  EXPECT_EQ(ok->bucket_counts[1], 1u);  // 0.2
  EXPECT_EQ(ok->bucket_counts.back(), 1u);
  EXPECT_DOUBLE_EQ(ok->sum, 1000.35);
  ASSERT_NE(Find(ops, create, "InvalidArgument"), nullptr);
  const HistogramSample* stage =
      Find(ops, "/csi.v1.Node/NodeStageVolume", "DeadlineExceeded");
  ASSERT_NE(stage, nullptr);
  EXPECT_EQ(stage->bucket_counts[5], 1u);  // (2.5, 5]
  EXPECT_TRUE(RenderExposition(families).ok());
}

TEST(DriverMetricsTest, RefusalsByRuleStartAtZero) {
  DriverMetrics metrics("d", {"namespace", "service_account"});
  metrics.PublishRefused("namespace");
  metrics.PublishRefused("namespace");
  const MetricFamily refusals = metrics.Collect()[1];
  EXPECT_EQ(refusals.name, "cellar_publish_refusals_total");
  EXPECT_EQ(refusals.type, MetricType::kCounter);
  ASSERT_EQ(refusals.samples.size(), 2u);
  EXPECT_EQ(refusals.samples[0].labels[0].second, "namespace");
  EXPECT_EQ(refusals.samples[0].value, 2);
  EXPECT_EQ(refusals.samples[1].labels[0].second, "service_account");
  EXPECT_EQ(refusals.samples[1].value, 0);
}

TEST(DriverMetricsTest, CodeLabelsAreTheKubernetesCsiNames) {
  EXPECT_STREQ(GrpcCodeLabel(grpc::StatusCode::OK), "OK");
  EXPECT_STREQ(GrpcCodeLabel(grpc::StatusCode::CANCELLED), "Canceled");
  EXPECT_STREQ(GrpcCodeLabel(grpc::StatusCode::RESOURCE_EXHAUSTED),
               "ResourceExhausted");
  EXPECT_STREQ(GrpcCodeLabel(grpc::StatusCode::FAILED_PRECONDITION),
               "FailedPrecondition");
  EXPECT_STREQ(GrpcCodeLabel(static_cast<grpc::StatusCode>(99)), "Unknown");
}

}  // namespace
}  // namespace cellar
