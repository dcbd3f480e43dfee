#include "src/metrics/exposition.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace cellar {
namespace {

bool ValidName(absl::string_view name, bool allow_colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        c == '_' || (allow_colon && c == ':');
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

void AppendEscaped(absl::string_view text, bool quote, std::string* out) {
  for (const char c : text) {
    if (c == '\\') {
      out->append("\\\\");
    } else if (c == '\n') {
      out->append("\\n");
    } else if (quote && c == '"') {
      out->append("\\\"");
    } else {
      out->push_back(c);
    }
  }
}

absl::Status CheckLabels(const MetricFamily& family,
                         const MetricLabels& labels) {
  std::set<std::string> seen;
  for (const auto& [name, value] : labels) {
    if (!ValidName(name, /*allow_colon=*/false) ||
        absl::StartsWith(name, "__") ||
        (family.type == MetricType::kHistogram && name == "le")) {
      return absl::InvalidArgumentError(absl::StrCat("metric ", family.name,
                                                     ": label name \"", name,
                                                     "\" is not allowed"));
    }
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "metric ", family.name, ": label \"", name, "\" given twice"));
    }
  }
  return absl::OkStatus();
}

// `name{labels[,extra]} value\n`.
void AppendSeries(absl::string_view name, const MetricLabels& labels,
                  absl::string_view extra_name, absl::string_view extra_value,
                  double value, std::string* out) {
  out->append(name.data(), name.size());
  if (!labels.empty() || !extra_name.empty()) {
    out->push_back('{');
    bool first = true;
    auto add = [&](absl::string_view label, absl::string_view text) {
      if (!first) out->push_back(',');
      first = false;
      out->append(label.data(), label.size());
      out->append("=\"");
      AppendEscaped(text, /*quote=*/true, out);
      out->push_back('"');
    };
    for (const auto& [label, text] : labels) add(label, text);
    if (!extra_name.empty()) add(extra_name, extra_value);
    out->push_back('}');
  }
  out->push_back(' ');
  out->append(FormatMetricValue(value));
  out->push_back('\n');
}

const char* TypeName(MetricType type) {
  switch (type) {
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kCounter:
      return "counter";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

std::string FormatMetricValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  // The shortest of %.15g..%.17g that reads back as the same double.
  char buffer[32];
  for (int precision = 15; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof(buffer), "%.*g", precision, value);
    if (std::strtod(buffer, nullptr) == value) break;
  }
  return buffer;
}

absl::StatusOr<std::string> RenderExposition(
    const std::vector<MetricFamily>& families) {
  std::string out;
  std::set<std::string> names;
  for (const MetricFamily& family : families) {
    if (!ValidName(family.name, /*allow_colon=*/true)) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", family.name, "\" is not a metric name"));
    }
    if (!names.insert(family.name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("metric ", family.name, " given twice"));
    }
    out.append("# HELP ").append(family.name).push_back(' ');
    AppendEscaped(family.help, /*quote=*/false, &out);
    out.append("\n# TYPE ")
        .append(family.name)
        .append(" ")
        .append(TypeName(family.type))
        .push_back('\n');
    if (family.type != MetricType::kHistogram) {
      for (const MetricSample& sample : family.samples) {
        if (absl::Status s = CheckLabels(family, sample.labels); !s.ok()) {
          return s;
        }
        AppendSeries(family.name, sample.labels, "", "", sample.value, &out);
      }
      continue;
    }
    for (size_t i = 0; i < family.bounds.size(); ++i) {
      if (std::isnan(family.bounds[i]) ||
          (i > 0 && !(family.bounds[i] > family.bounds[i - 1]))) {
        return absl::InvalidArgumentError(absl::StrCat(
            "histogram ", family.name, ": bounds are not ascending"));
      }
    }
    const std::string bucket = family.name + "_bucket";
    for (const HistogramSample& series : family.histograms) {
      if (absl::Status s = CheckLabels(family, series.labels); !s.ok()) {
        return s;
      }
      if (series.bucket_counts.size() != family.bounds.size() + 1) {
        return absl::InvalidArgumentError(absl::StrCat(
            "histogram ", family.name, ": ", series.bucket_counts.size(),
            " bucket counts for ", family.bounds.size(), " bounds"));
      }
      uint64_t cumulative = 0;
      for (size_t i = 0; i < family.bounds.size(); ++i) {
        cumulative += series.bucket_counts[i];
        AppendSeries(bucket, series.labels, "le",
                     FormatMetricValue(family.bounds[i]),
                     static_cast<double>(cumulative), &out);
      }
      cumulative += series.bucket_counts.back();
      AppendSeries(bucket, series.labels, "le", "+Inf",
                   static_cast<double>(cumulative), &out);
      AppendSeries(family.name + "_sum", series.labels, "", "", series.sum,
                   &out);
      AppendSeries(family.name + "_count", series.labels, "", "",
                   static_cast<double>(cumulative), &out);
    }
  }
  return out;
}

}  // namespace cellar
