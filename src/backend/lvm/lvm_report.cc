#include "src/backend/lvm/lvm_report.h"

#include <tuple>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/json_util.h"
#include "lvm_report.pb.h"

namespace cellar {
namespace {

absl::StatusOr<cellar::lvm::v1::Report> Parse(absl::string_view json) {
  cellar::lvm::v1::Report report;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto status = google::protobuf::util::JsonStringToMessage(
      std::string(json), &report, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not an LVM JSON report: ", status.message().ToString()));
  }
  return report;
}

absl::Status Number(const std::string& text, const char* what,
                    uint64_t* out) {
  if (text.empty()) {
    *out = 0;
    return absl::OkStatus();
  }
  if (!absl::SimpleAtoi(text, out)) {
    return absl::InvalidArgumentError(
        absl::StrCat("LVM report: bad ", what, " \"", text, "\""));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<LogicalVolume>> ParseLvsReport(
    absl::string_view json) {
  absl::StatusOr<cellar::lvm::v1::Report> report = Parse(json);
  if (!report.ok()) return report.status();
  std::vector<LogicalVolume> out;
  for (const auto& section : report->report()) {
    for (const auto& row : section.lv()) {
      LogicalVolume lv;
      lv.name = row.lv_name();
      lv.vg = row.vg_name();
      if (absl::Status s = Number(row.lv_size(), "lv_size", &lv.size_bytes);
          !s.ok()) {
        return s;
      }
      for (absl::string_view tag :
           absl::StrSplit(row.lv_tags(), ',', absl::SkipEmpty())) {
        lv.tags.emplace_back(tag);
      }
      lv.attr = row.lv_attr();
      lv.pool = row.pool_lv();
      out.push_back(std::move(lv));
    }
  }
  return out;
}

absl::StatusOr<std::vector<VolumeGroup>> ParseVgsReport(
    absl::string_view json) {
  absl::StatusOr<cellar::lvm::v1::Report> report = Parse(json);
  if (!report.ok()) return report.status();
  std::vector<VolumeGroup> out;
  for (const auto& section : report->report()) {
    for (const auto& row : section.vg()) {
      VolumeGroup vg;
      vg.name = row.vg_name();
      for (auto [text, what, field] :
           {std::make_tuple(&row.vg_size(), "vg_size", &vg.size_bytes),
            std::make_tuple(&row.vg_free(), "vg_free", &vg.free_bytes),
            std::make_tuple(&row.vg_extent_size(), "vg_extent_size",
                            &vg.extent_bytes)}) {
        if (absl::Status s = Number(*text, what, field); !s.ok()) return s;
      }
      out.push_back(std::move(vg));
    }
  }
  return out;
}

}  // namespace cellar
