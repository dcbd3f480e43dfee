#include "src/backend/lvm/thin_pool_guard.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace cellar {
namespace {

uint64_t RoundUp(uint64_t bytes, uint64_t unit) {
  return (bytes + unit - 1) / unit * unit;
}

// Use as the report gives it; an unreported figure (-1) counts as 0.
double Use(double percent) { return std::max(0.0, percent); }

uint64_t DataCap(const ThinPoolGuardOptions& options) {
  return options.max_bytes > 0 ? options.max_bytes : UINT64_MAX;
}

}  // namespace

ThinPoolGrowth DecideThinPoolGrowth(const LogicalVolume& pool,
                                    const VolumeGroup& vg,
                                    const ThinPoolGuardOptions& options) {
  ThinPoolGrowth growth;
  if (options.autoextend_percent <= 0) return growth;
  const uint64_t extent = std::max<uint64_t>(vg.extent_bytes, 512);
  uint64_t free = vg.free_bytes / extent * extent;
  // `copies`: the metadata LV has a spare of the same size (pmspare) that
  // LVM grows with it, so its growth takes twice the extents.
  auto grow = [&](const char* what, double percent, uint64_t size, uint64_t cap,
                  uint64_t copies, uint64_t* out) {
    if (Use(percent) < options.autoextend_percent) return;
    uint64_t step = RoundUp(
        std::max<uint64_t>(
            static_cast<uint64_t>(std::ceil(static_cast<double>(size) *
                                            options.step_percent / 100.0)),
            1),
        extent);
    std::string note;
    if (size >= cap) {
      step = 0;
      note = absl::StrCat("at its cap of ", cap, " bytes");
    } else if (size + step > cap) {
      step = (cap - size) / extent * extent;
      note = "up to its cap";
    }
    if (step * copies > free) {
      step = free / copies / extent * extent;
      note = "the volume group has no more room";
    }
    *out = step;
    free -= step * copies;
    absl::StrAppend(&growth.why, growth.why.empty() ? "" : "; ", what, " ",
                    absl::StrFormat("%.2f", Use(percent)), "% used (threshold ",
                    options.autoextend_percent, "%): ",
                    step > 0 ? absl::StrCat("grow by ", step, " bytes")
                             : std::string("cannot grow"),
                    note.empty() ? "" : ", ", note);
  };
  // Metadata first: a pool out of metadata goes read-only (and needs
  // thin_repair), far worse than one out of data, and its growth is small.
  if (pool.metadata_bytes > 0) {
    grow("metadata", pool.metadata_percent, pool.metadata_bytes,
         kMaxThinMetadataBytes, 2, &growth.metadata_bytes);
  }
  grow("data", pool.data_percent, pool.size_bytes, DataCap(options), 1,
       &growth.data_bytes);
  return growth;
}

std::string CreateLimitReason(const LogicalVolume& pool,
                              const ThinPoolGuardOptions& options) {
  if (options.create_limit_percent <= 0) return "";
  for (auto [what, percent] :
       {std::make_pair("data", pool.data_percent),
        std::make_pair("metadata", pool.metadata_percent)}) {
    if (Use(percent) >= options.create_limit_percent) {
      return absl::StrCat("its ", what, " is ",
                          absl::StrFormat("%.2f", Use(percent)),
                          "% used, at or above create-limit ",
                          options.create_limit_percent, "%");
    }
  }
  return "";
}

std::string ThinPoolTrouble(const LogicalVolume& pool) {
  // lv_attr bit 9 of a thin pool: (D) out of data space, (M) metadata read
  // only, (F) failed.
  if (pool.attr.size() < 9) return "";
  switch (pool.attr[8]) {
    case 'D':
      return "its thin pool is out of data space";
    case 'M':
      return "its thin pool's metadata is read-only";
    case 'F':
      return "its thin pool has failed";
    default:
      return "";
  }
}

uint64_t ThinPoolRoom(const LogicalVolume& pool, const VolumeGroup& vg,
                      const ThinPoolGuardOptions& options) {
  uint64_t size = pool.size_bytes;
  if (options.autoextend_percent > 0) {
    const uint64_t reachable = size + vg.free_bytes;
    size = std::max(size, std::min(reachable, DataCap(options)));
  }
  const uint64_t used = static_cast<uint64_t>(
      static_cast<double>(pool.size_bytes) * Use(pool.data_percent) / 100.0);
  return size > used ? size - used : 0;
}

}  // namespace cellar
