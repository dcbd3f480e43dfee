#ifndef CELLAR_SRC_METRICS_EXPOSITION_H_
#define CELLAR_SRC_METRICS_EXPOSITION_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace cellar {

// Label name and value pairs, in the order they are printed.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// One value of a gauge or counter.
struct MetricSample {
  MetricLabels labels;
  double value = 0;
};

// One histogram series: counts per bucket (not cumulative; bucket i counts
// observations in (bounds[i-1], bounds[i]], the last one those above the
// highest bound), the sum and the number of observations.
struct HistogramSample {
  MetricLabels labels;
  std::vector<uint64_t> bucket_counts;  // bounds.size() + 1 entries
  double sum = 0;
};

enum class MetricType { kGauge, kCounter, kHistogram };

// A metric family: one name, one HELP text, one type, any number of series.
struct MetricFamily {
  std::string name;
  std::string help;
  MetricType type = MetricType::kGauge;
  std::vector<MetricSample> samples;  // gauges and counters
  std::vector<double> bounds;         // histograms: upper bounds, ascending
  std::vector<HistogramSample> histograms;
};

// The content type of RenderExposition's output.
inline constexpr char kExpositionContentType[] =
    "text/plain; version=0.0.4; charset=utf-8";

// Renders `families` in the Prometheus text exposition format 0.0.4: for
// each family a `# HELP` and a `# TYPE` line, then its series (histograms as
// cumulative `_bucket{le=...}` series ending with `le="+Inf"`, then `_sum`
// and `_count`). Label values are escaped (backslash, double quote, line
// feed), HELP texts too (backslash, line feed). INVALID_ARGUMENT when a
// metric or label name is not a valid Prometheus name, a name appears twice,
// a label is reserved (`le` on a histogram, a `__` prefix), or a histogram's
// bounds are not strictly ascending or its counts do not match them. Pure.
absl::StatusOr<std::string> RenderExposition(
    const std::vector<MetricFamily>& families);

// A sample value as the format writes it: integers without a fraction,
// "+Inf", "-Inf", "NaN", otherwise the shortest text that reads back exactly.
std::string FormatMetricValue(double value);

}  // namespace cellar

#endif  // CELLAR_SRC_METRICS_EXPOSITION_H_
