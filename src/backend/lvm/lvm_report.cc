#include "src/backend/lvm/lvm_report.h"

#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/json_util.h"
#include "lvm_report.pb.h"
#include "src/common/status_macros.h"

namespace cellar {
namespace {

absl::StatusOr<cellar::lvm::v1::Report> Parse(absl::string_view json) {
  cellar::lvm::v1::Report report;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto status = google::protobuf::util::JsonStringToMessage(std::string(json),
                                                            &report, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not an LVM JSON report: ", status.message().ToString()));
  }
  return report;
}

absl::Status Number(const std::string& text, const char* what, uint64_t* out) {
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

// `Volume group "NAME" not found`, as vg_read and process_each_* print it.
bool SaysVgNotFound(absl::string_view text) {
  constexpr absl::string_view kOpen = "volume group \"";
  for (size_t at = text.find(kOpen); at != absl::string_view::npos;
       at = text.find(kOpen, at + 1)) {
    const size_t close = text.find('"', at + kOpen.size());
    if (close == absl::string_view::npos) return false;
    if (absl::StartsWith(text.substr(close + 1), " not found")) return true;
  }
  return false;
}

}  // namespace

LvmFailureKind ClassifyLvmFailure(absl::string_view stderr_text) {
  const std::string text = absl::AsciiStrToLower(stderr_text);
  auto says = [&text](absl::string_view words) {
    return absl::StrContains(text, words);
  };
  // Order matters: a missing VG is also reported with the LV it was asked
  // about, and LV names may contain any of these words.
  if (SaysVgNotFound(text) || says("cannot process volume group") ||
      says("no volume groups found") ||
      says("couldn't find device with uuid") || says("pvs are missing") ||
      says("missing physical volume")) {
    return LvmFailureKind::kVgMissing;
  }
  if ((says("thin pool") || says("pool lv") || says("pool volume")) &&
      (says("not found") || says("unable to find") || says("failed to find"))) {
    return LvmFailureKind::kPoolMissing;
  }
  if (says("insufficient free space") || says("insufficient suitable") ||
      says("free space in thin pool") || says("not enough free space") ||
      says("cannot create new thin volume")) {
    return LvmFailureKind::kNoSpace;
  }
  if (says("failed to find logical volume") ||
      (says("logical volume") && says("not found in volume group")) ||
      (says("snapshot origin lv") && says("not found")) ||
      says("couldn't find origin volume")) {
    return LvmFailureKind::kLvMissing;
  }
  if (says("in use") || says("is open") || says("busy") ||
      says("remove open logical volume")) {
    return LvmFailureKind::kBusy;
  }
  if (says("not found") || says("does not exist") ||
      says("no such file or directory")) {
    return LvmFailureKind::kSomethingMissing;
  }
  return LvmFailureKind::kOther;
}

absl::Status LvmFailureStatus(absl::string_view vg, absl::string_view pool,
                              absl::string_view stderr_text,
                              absl::string_view what) {
  switch (ClassifyLvmFailure(stderr_text)) {
    case LvmFailureKind::kLvMissing:
      return absl::NotFoundError(what);
    case LvmFailureKind::kVgMissing:
      return absl::UnavailableError(absl::StrCat(
          "volume group ", vg,
          " is not there (are all its disks attached?); its volumes are "
          "unreachable, not gone: ",
          what));
    case LvmFailureKind::kPoolMissing:
      return absl::UnavailableError(absl::StrCat(
          "thin pool ", vg, "/", pool.empty() ? "?" : pool,
          " is not there; its volumes are unreachable, not gone: ", what));
    case LvmFailureKind::kSomethingMissing:
      return absl::UnavailableError(
          absl::StrCat("LVM did not find part of volume group ", vg,
                       " (a disk or pool not there yet?): ", what));
    case LvmFailureKind::kNoSpace:
      return absl::ResourceExhaustedError(what);
    case LvmFailureKind::kBusy:
      return absl::FailedPreconditionError(what);
    case LvmFailureKind::kOther:
      break;
  }
  return absl::InternalError(what);
}

absl::StatusOr<std::vector<LogicalVolume>> ParseLvsReport(
    absl::string_view json) {
  ABSL_ASSIGN_OR_RETURN(cellar::lvm::v1::Report report, Parse(json));
  std::vector<LogicalVolume> out;
  for (const auto& section : report.report()) {
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
      lv.origin = row.origin();
      for (auto [text, what, field] :
           {std::make_tuple(&row.data_percent(), "data_percent",
                            &lv.data_percent),
            std::make_tuple(&row.metadata_percent(), "metadata_percent",
                            &lv.metadata_percent)}) {
        if (!text->empty() && !absl::SimpleAtod(*text, field)) {
          return absl::InvalidArgumentError(
              absl::StrCat("LVM report: bad ", what, " \"", *text, "\""));
        }
      }
      for (auto [text, what, field] :
           {std::make_tuple(&row.lv_metadata_size(), "lv_metadata_size",
                            &lv.metadata_bytes),
            std::make_tuple(&row.chunk_size(), "chunk_size",
                            &lv.chunk_bytes)}) {
        ABSL_RETURN_IF_ERROR(Number(*text, what, field));
      }
      out.push_back(std::move(lv));
    }
  }
  return out;
}

absl::StatusOr<std::vector<VolumeGroup>> ParseVgsReport(
    absl::string_view json) {
  ABSL_ASSIGN_OR_RETURN(cellar::lvm::v1::Report report, Parse(json));
  std::vector<VolumeGroup> out;
  for (const auto& section : report.report()) {
    for (const auto& row : section.vg()) {
      VolumeGroup vg;
      vg.name = row.vg_name();
      for (auto [text, what, field] :
           {std::make_tuple(&row.vg_size(), "vg_size", &vg.size_bytes),
            std::make_tuple(&row.vg_free(), "vg_free", &vg.free_bytes),
            std::make_tuple(&row.vg_extent_size(), "vg_extent_size",
                            &vg.extent_bytes),
            std::make_tuple(&row.vg_missing_pv_count(), "vg_missing_pv_count",
                            &vg.missing_pvs)}) {
        ABSL_RETURN_IF_ERROR(Number(*text, what, field));
      }
      out.push_back(std::move(vg));
    }
  }
  return out;
}

}  // namespace cellar
