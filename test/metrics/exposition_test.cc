// The Prometheus text format: HELP/TYPE lines, escaping, histogram buckets,
// value formatting, and refusal of what the format cannot carry.
#include "src/metrics/exposition.h"

#include <cmath>
#include <limits>

#include "gtest/gtest.h"

namespace cellar {
namespace {

TEST(ExpositionTest, GaugeWithHelpTypeAndLabels) {
  MetricFamily family;
  family.name = "cellar_vg_free_bytes";
  family.help = "Unallocated space.";
  family.samples = {{{{"vg", "vg0"}}, 4294967296.0}, {{}, 1.5}};
  absl::StatusOr<std::string> text = RenderExposition({family});
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text,
            "# HELP cellar_vg_free_bytes Unallocated space.\n"
            "# TYPE cellar_vg_free_bytes gauge\n"
            "cellar_vg_free_bytes{vg=\"vg0\"} 4294967296\n"
            "cellar_vg_free_bytes 1.5\n");
}

TEST(ExpositionTest, EscapesLabelValuesAndHelp) {
  MetricFamily family;
  family.name = "x_total";
  family.type = MetricType::kCounter;
  family.help = "back\\slash and\nnewline \"quotes stay\"";
  family.samples = {{{{"a", "q\"uote\\back\nline"}, {"b", "{}=,"}}, 3}};
  absl::StatusOr<std::string> text = RenderExposition({family});
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text,
            "# HELP x_total back\\\\slash and\\nnewline \"quotes stay\"\n"
            "# TYPE x_total counter\n"
            "x_total{a=\"q\\\"uote\\\\back\\nline\",b=\"{}=,\"} 3\n");
}

TEST(ExpositionTest, HistogramBucketsAreCumulativeAndEndWithInf) {
  MetricFamily family;
  family.name = "op_seconds";
  family.help = "h";
  family.type = MetricType::kHistogram;
  family.bounds = {0.1, 1, 2.5};
  HistogramSample series;
  series.labels = {{"method_name", "/csi.v1.Node/NodeStageVolume"}};
  series.bucket_counts = {2, 0, 3, 1};  // one above 2.5
  series.sum = 7.25;
  family.histograms = {series};
  absl::StatusOr<std::string> text = RenderExposition({family});
  ASSERT_TRUE(text.ok()) << text.status();
  const std::string l = "{method_name=\"/csi.v1.Node/NodeStageVolume\"";
  EXPECT_EQ(*text,
            "# HELP op_seconds h\n# TYPE op_seconds histogram\n"
            "op_seconds_bucket" +
                l +
                ",le=\"0.1\"} 2\n"
                "op_seconds_bucket" +
                l +
                ",le=\"1\"} 2\n"
                "op_seconds_bucket" +
                l +
                ",le=\"2.5\"} 5\n"
                "op_seconds_bucket" +
                l +
                ",le=\"+Inf\"} 6\n"
                "op_seconds_sum" +
                l +
                "} 7.25\n"
                "op_seconds_count" +
                l + "} 6\n");
}

TEST(ExpositionTest, FormatsSpecialAndFractionalValues) {
  EXPECT_EQ(FormatMetricValue(0), "0");
  EXPECT_EQ(FormatMetricValue(-3), "-3");
  EXPECT_EQ(FormatMetricValue(0.1), "0.1");
  EXPECT_EQ(FormatMetricValue(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(FormatMetricValue(1e20), "1e+20");
  EXPECT_EQ(FormatMetricValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatMetricValue(-std::numeric_limits<double>::infinity()),
            "-Inf");
  EXPECT_EQ(FormatMetricValue(std::nan("")), "NaN");
}

TEST(ExpositionTest, RefusesWhatTheFormatCannotCarry) {
  auto gauge = [](std::string name, MetricLabels labels) {
    MetricFamily family;
    family.name = std::move(name);
    family.samples = {{std::move(labels), 1}};
    return family;
  };
  for (const MetricFamily& bad :
       {gauge("", {}), gauge("9lives", {}), gauge("has-dash", {}),
        gauge("ok", {{"bad-label", "v"}}), gauge("ok", {{"__reserved", "v"}}),
        gauge("ok", {{"a", "1"}, {"a", "2"}}), gauge("ok", {{"a:b", "v"}})}) {
    EXPECT_EQ(RenderExposition({bad}).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad.name;
  }
  EXPECT_TRUE(
      RenderExposition({gauge("name:with_colon", {{"_a1", "v"}})}).ok());
  // One name twice.
  EXPECT_FALSE(RenderExposition({gauge("a", {}), gauge("a", {})}).ok());

  MetricFamily histogram;
  histogram.name = "h";
  histogram.type = MetricType::kHistogram;
  histogram.bounds = {1, 1};
  HistogramSample series;
  series.bucket_counts = {0, 0, 0};
  histogram.histograms = {series};
  EXPECT_FALSE(RenderExposition({histogram}).ok());  // bounds not ascending
  histogram.bounds = {1, 2};
  histogram.histograms[0].bucket_counts = {0, 0};
  EXPECT_FALSE(RenderExposition({histogram}).ok());  // counts do not match
  histogram.histograms[0].bucket_counts = {0, 0, 0};
  histogram.histograms[0].labels = {{"le", "1"}};
  EXPECT_FALSE(RenderExposition({histogram}).ok());  // le is the format's
  histogram.histograms[0].labels = {};
  EXPECT_TRUE(RenderExposition({histogram}).ok());
}

}  // namespace
}  // namespace cellar
