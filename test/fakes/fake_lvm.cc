#include "test/fakes/fake_lvm.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace cellar::testing {
namespace {

CommandResult Exit(int code, std::string out = "", std::string err = "") {
  CommandResult result;
  result.exit_code = code;
  result.stdout_data = std::move(out);
  result.stderr_data = std::move(err);
  return result;
}

uint64_t Bytes(const std::string& text) {
  absl::string_view digits = text;
  absl::ConsumeSuffix(&digits, "b");
  uint64_t value = 0;
  (void)absl::SimpleAtoi(digits, &value);
  return value;
}

// What LVM 2.03 prints (exit code 5) for a command naming a VG it cannot
// find, e.g. `lvs vg0` or `lvremove vg0/lv` while vg0's disk is detached.
CommandResult VgNotFound(const std::string& vg) {
  return Exit(5, "",
              absl::StrCat("  Volume group \"", vg, "\" not found\n",
                           "  Cannot process volume group ", vg, "\n"));
}

bool Has(const std::vector<std::string>& argv, const std::string& arg) {
  return std::find(argv.begin(), argv.end(), arg) != argv.end();
}

}  // namespace

void FakeLvm::AddVg(const std::string& name, uint64_t size, uint64_t extent) {
  absl::MutexLock lock(&mu_);
  vgs_[name] = Vg{size, extent, false};
}

void FakeLvm::AddThinPool(const std::string& vg, const std::string& name,
                          uint64_t size, bool zero_new_blocks) {
  absl::MutexLock lock(&mu_);
  Lv lv;
  lv.vg = vg;
  lv.size = size;
  lv.thin_pool = true;
  lv.zero_new_blocks = zero_new_blocks;
  lvs_[vg + "/" + name] = lv;
}

void FakeLvm::SetVgMissing(const std::string& vg, bool missing) {
  absl::MutexLock lock(&mu_);
  vgs_[vg].missing = missing;
}

void FakeLvm::FailNext(const std::string& command,
                       const std::string& stderr_text) {
  absl::MutexLock lock(&mu_);
  failures_[command] = stderr_text;
}

bool FakeLvm::TakeFailure(const std::string& command,
                          std::string* stderr_text) {
  auto it = failures_.find(command);
  if (it == failures_.end()) return false;
  *stderr_text = it->second;
  failures_.erase(it);
  return true;
}

void FakeLvm::SetOpen(const std::string& vg, const std::string& lv, bool open) {
  absl::MutexLock lock(&mu_);
  lvs_[vg + "/" + lv].open = open;
}

void FakeLvm::SetActive(const std::string& vg, const std::string& lv,
                        bool active) {
  absl::MutexLock lock(&mu_);
  lvs_[vg + "/" + lv].active = active;
}

void FakeLvm::SetCowPercent(const std::string& vg, const std::string& lv,
                            double percent) {
  absl::MutexLock lock(&mu_);
  lvs_[vg + "/" + lv].cow_percent = percent;
}

void FakeLvm::SetPoolUse(const std::string& vg, const std::string& pool,
                         double data_percent, double metadata_percent) {
  absl::MutexLock lock(&mu_);
  Lv& lv = lvs_[vg + "/" + pool];
  lv.pool_data_percent = data_percent;
  lv.metadata_percent = metadata_percent;
}

void FakeLvm::SetPoolHealth(const std::string& vg, const std::string& pool,
                            char health) {
  absl::MutexLock lock(&mu_);
  lvs_[vg + "/" + pool].health = health;
}

void FakeLvm::SetMissingPvs(const std::string& vg, uint64_t count) {
  absl::MutexLock lock(&mu_);
  vgs_[vg].missing_pvs = count;
}

void FakeLvm::OnCowSnapshot(
    std::function<void(const std::string&, const std::string&)> hook) {
  absl::MutexLock lock(&mu_);
  on_cow_ = std::move(hook);
}

void FakeLvm::Invalidate(const std::string& vg, const std::string& lv) {
  absl::MutexLock lock(&mu_);
  lvs_[vg + "/" + lv].invalid = true;
}

std::vector<std::string> FakeLvm::LvNames(const std::string& vg) const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> names;
  for (const auto& [key, lv] : lvs_) {
    if (lv.vg == vg) names.push_back(key.substr(key.find('/') + 1));
  }
  return names;
}

bool FakeLvm::HasLv(const std::string& vg, const std::string& lv) const {
  absl::MutexLock lock(&mu_);
  return lvs_.count(vg + "/" + lv) != 0;
}

FakeLvm::Lv FakeLvm::GetLv(const std::string& vg, const std::string& lv) const {
  absl::MutexLock lock(&mu_);
  auto it = lvs_.find(vg + "/" + lv);
  return it == lvs_.end() ? Lv() : it->second;
}

uint64_t FakeLvm::VgFree(const std::string& vg) const {
  absl::MutexLock lock(&mu_);
  auto it = vgs_.find(vg);
  if (it == vgs_.end()) return 0;
  return it->second.size - Used(vg);
}

uint64_t FakeLvm::Used(const std::string& vg) const {
  uint64_t used = 0;
  for (const auto& [key, lv] : lvs_) {
    if (lv.vg == vg && lv.pool.empty()) used += lv.size + 2 * lv.metadata_grown;
  }
  return used;
}

std::function<absl::StatusOr<CommandResult>(const Command&)>
FakeLvm::Handler() {
  return [this](const Command& command) -> absl::StatusOr<CommandResult> {
    return Run(command.argv);
  };
}

std::function<absl::StatusOr<CommandResult>(const Command&)>
FakeLvm::BlkdiscardHandler() {
  return [this](const Command& command) -> absl::StatusOr<CommandResult> {
    return Blkdiscard(command.argv);
  };
}

CommandResult FakeLvm::Blkdiscard(const std::vector<std::string>& argv) {
  absl::MutexLock lock(&mu_);
  std::string err;
  if (TakeFailure("blkdiscard", &err)) return Exit(1, "", err);
  const std::string& device = argv.back();
  absl::string_view path = device;
  auto it = lvs_.end();
  if (absl::ConsumePrefix(&path, "/dev/")) {
    it = lvs_.find(std::string(path));
  }
  if (it == lvs_.end() || vgs_[it->second.vg].missing || !it->second.active) {
    return Exit(1, "",
                absl::StrCat("blkdiscard: cannot open ", device,
                             ": No such file or directory\n"));
  }
  if (it->second.open) {
    return Exit(1, "",
                absl::StrCat("blkdiscard: cannot open ", device,
                             ": Device or resource busy\n"));
  }
  // A plain discard may leave the old bytes readable; only zeroout clears.
  if (Has(argv, "--zeroout") || Has(argv, "-z")) {
    it->second.stale = false;
    zeroed_extents_.insert(it->second.extents.begin(),
                           it->second.extents.end());
  }
  return Exit(0);
}

CommandResult FakeLvm::Run(const std::vector<std::string>& argv) {
  if (argv.size() < 2) return Exit(3, "", "no command");
  const std::string& verb = argv[1];
  std::string target = argv.back();
  std::vector<std::string> pv_ranges;  // lvextend's allocatable extents
  if (verb == "lvextend") {
    std::vector<std::string> positional;
    for (size_t i = 2; i < argv.size(); ++i) {
      if (argv[i] == "--size" || argv[i] == "--poolmetadatasize") {
        ++i;
      } else if (!absl::StartsWith(argv[i], "-")) {
        positional.push_back(argv[i]);
      }
    }
    if (!positional.empty()) {
      target = positional[0];
      pv_ranges.assign(positional.begin() + 1, positional.end());
    }
  }
  const std::string target_vg = target.substr(0, target.find('/'));
  absl::MutexLock lock(&mu_);
  std::string err;
  if (TakeFailure(verb, &err)) return Exit(5, "", err);
  auto vg_it = vgs_.find(target_vg);
  if (vg_it == vgs_.end() || vg_it->second.missing)
    return VgNotFound(target_vg);
  if (verb == "vgs") {
    const uint64_t used = Used(target);
    return Exit(
        0, absl::StrCat("  {\n      \"report\": [\n          {\n"
                        "              \"vg\": [\n                  "
                        "{\"vg_name\":\"",
                        target, "\", \"vg_size\":\"", vg_it->second.size,
                        "\", \"vg_free\":\"", vg_it->second.size - used,
                        "\", \"vg_extent_size\":\"", vg_it->second.extent,
                        "\", \"vg_missing_pv_count\":\"",
                        vg_it->second.missing_pvs,
                        "\"}\n              ]\n          }\n      ]\n  }\n"));
  }
  if (verb == "lvs" && Has(argv, "seg_pe_ranges")) {
    auto it = lvs_.find(target);
    if (it == lvs_.end()) {
      return Exit(
          5, "",
          absl::StrCat("  Failed to find logical volume \"", target, "\"\n"));
    }
    std::string out;
    for (const std::string& range : it->second.extents) {
      absl::StrAppend(&out, "  ", range, "\n");
    }
    return Exit(0, out);
  }
  if (verb == "lvs") {
    std::vector<std::string> rows;
    for (const auto& [key, lv] : lvs_) {
      if (lv.vg != target) continue;
      const std::string name = key.substr(key.find('/') + 1);
      bool is_origin = false;
      for (const auto& [other_key, other] : lvs_) {
        is_origin = is_origin || (other.vg == lv.vg && other.origin == name);
      }
      std::string attr = lv.thin_pool         ? "twi-a-tz--"
                         : !lv.origin.empty() ? "swi-a-s---"
                         : lv.pool.empty()    ? "-wi-------"
                                              : "Vwi---tz--";
      if (is_origin) attr[0] = 'o';
      if (lv.thin_pool && !lv.zero_new_blocks) attr[7] = '-';
      if (lv.thin_pool) attr[8] = lv.health;
      attr[4] = lv.active ? 'a' : '-';
      if (lv.open) attr[5] = 'o';
      std::string percent;
      if (!lv.origin.empty() && lv.active) {
        percent = absl::StrCat(lv.cow_percent);
      }
      if (lv.invalid) {
        attr[0] = 'S';
        attr[4] = 'I';
        percent = "100.00";
      }
      std::string pool_fields;
      if (lv.thin_pool) {
        percent = absl::StrCat(lv.pool_data_percent);
        pool_fields =
            absl::StrCat(", \"lv_metadata_size\":\"", lv.metadata_size,
                         "\", \"metadata_percent\":\"", lv.metadata_percent,
                         "\", \"chunk_size\":\"", lv.chunk, "\"");
      }
      rows.push_back(absl::StrCat(
          "{\"lv_name\":\"", name, "\", \"vg_name\":\"", lv.vg,
          "\", \"lv_size\":\"", lv.size, "\", \"lv_tags\":\"",
          absl::StrJoin(lv.tags, ","), "\", \"lv_attr\":\"", attr,
          "\", \"pool_lv\":\"", lv.pool, "\", \"origin\":\"", lv.origin,
          "\", \"data_percent\":\"", percent, "\"", pool_fields, "}"));
    }
    return Exit(0,
                absl::StrCat("  {\n      \"report\": [\n          {\n"
                             "              \"lv\": [\n",
                             absl::StrJoin(rows, ",\n"),
                             "\n              ]\n          }\n      ]\n  }\n"));
  }
  if (verb == "lvcreate") {
    std::string name, pool;
    uint64_t size = 0;
    std::vector<std::string> tags;
    const bool snapshot = Has(argv, "--snapshot");
    bool skip_activation = snapshot;
    for (size_t i = 2; i + 1 < argv.size(); ++i) {
      if (argv[i] == "--name")
        name = argv[++i];
      else if (argv[i] == "--size" || argv[i] == "--virtualsize")
        size = Bytes(argv[++i]);
      else if (argv[i] == "--thinpool")
        pool = argv[++i];
      else if (argv[i] == "--addtag")
        tags.push_back(argv[++i]);
      else if (argv[i] == "--setactivationskip")
        skip_activation = argv[++i] == "y";
    }
    const std::string vg = target_vg;
    if (lvs_.count(vg + "/" + name)) {
      return Exit(
          5, "",
          absl::StrCat("  Logical Volume \"", name,
                       "\" already exists in volume group \"", vg, "\"\n"));
    }
    bool stale = false;
    std::string cow_origin;
    if (snapshot) {
      auto origin = lvs_.find(target);
      if (origin == lvs_.end()) {
        return Exit(
            5, "",
            absl::StrCat("  Snapshot origin LV ", target.substr(vg.size() + 1),
                         " not found in Volume group ", vg, ".\n"));
      }
      pool = origin->second.pool;
      if (pool.empty()) {
        // A COW snapshot of a thick LV: its size is the COW area's.
        if (size == 0 || Used(vg) + size > vg_it->second.size) {
          return Exit(5, "",
                      absl::StrCat("  Volume group \"", vg,
                                   "\" has insufficient free space\n"));
        }
        cow_origin = target.substr(vg.size() + 1);
      } else {
        size = origin->second.size;
      }
    } else if (!pool.empty()) {
      auto it = lvs_.find(vg + "/" + pool);
      if (it == lvs_.end() || !it->second.thin_pool) {
        return Exit(5, "",
                    absl::StrCat("  Thin pool volume ", pool,
                                 " not found in Volume group ", vg, ".\n"));
      }
    } else {
      if (Used(vg) + size > vg_it->second.size) {
        return Exit(5, "",
                    absl::StrCat("  Volume group \"", vg,
                                 "\" has insufficient free space\n"));
      }
      stale = true;  // extents of deleted LVs come back as they were
    }
    Lv lv;
    lv.vg = vg;
    lv.size = size;
    lv.pool = pool;
    lv.tags = tags;
    lv.stale = stale;
    lv.origin = cow_origin;
    if (!snapshot && pool.empty()) {
      const uint64_t count =
          (size + vg_it->second.extent - 1) / vg_it->second.extent;
      lv.extents.push_back(absl::StrCat("/dev/fakepv:", next_extent_, "-",
                                        next_extent_ + count - 1));
      next_extent_ += count;
    }
    // Thin LVs: like -k, the caller activates.
    lv.active =
        snapshot ? (cow_origin.empty() ? !skip_activation : lvs_[target].active)
                 : pool.empty();
    lvs_[vg + "/" + name] = lv;
    if (!cow_origin.empty() && on_cow_) on_cow_(target, vg + "/" + name);
    return Exit(0, absl::StrCat("  Logical volume \"", name, "\" created.\n"));
  }
  auto it = lvs_.find(target);
  if (it == lvs_.end()) {
    return Exit(
        5, "",
        absl::StrCat("  Failed to find logical volume \"", target, "\"\n"));
  }
  if (verb == "lvremove") {
    if (it->second.open) {
      return Exit(5, "",
                  absl::StrCat("  Logical volume ", target,
                               " contains a filesystem in use.\n"));
    }
    // Only an LV never handed out (still tagged as being zeroed, like the
    // scratch LV of an expansion) leaves its zeroed extents zero.
    const std::vector<std::string>& tags = it->second.tags;
    if (std::find(tags.begin(), tags.end(), "cellar.zeroing") == tags.end()) {
      for (const std::string& range : it->second.extents) {
        zeroed_extents_.erase(range);
      }
    }
    // With --yes LVM takes an origin's COW snapshots with it.
    const std::string removed_vg = it->second.vg;
    const std::string removed = target.substr(target.find('/') + 1);
    lvs_.erase(it);
    for (auto snap = lvs_.begin(); snap != lvs_.end();) {
      if (snap->second.vg == removed_vg && snap->second.origin == removed) {
        snap = lvs_.erase(snap);
      } else {
        ++snap;
      }
    }
    return Exit(0);
  }
  if (verb == "lvextend") {
    for (size_t i = 2; i + 1 < argv.size(); ++i) {
      if (argv[i] == "--poolmetadatasize" && it->second.thin_pool) {
        absl::string_view size = argv[i + 1];
        if (!absl::ConsumePrefix(&size, "+"))
          return Exit(3, "", "  bad size\n");
        const uint64_t more = Bytes(std::string(size));
        // The spare metadata LV grows with it.
        if (Used(it->second.vg) + 2 * more > vgs_[it->second.vg].size) {
          return Exit(5, "", "  Insufficient free space\n");
        }
        Lv& pool = it->second;
        pool.metadata_percent = pool.metadata_percent *
                                static_cast<double>(pool.metadata_size) /
                                static_cast<double>(pool.metadata_size + more);
        pool.metadata_size += more;
        pool.metadata_grown += more;
        continue;
      }
      if (argv[i] != "--size") continue;
      absl::string_view size = argv[i + 1];
      if (absl::ConsumePrefix(&size, "+")) {
        const uint64_t more = Bytes(std::string(size));
        if (it->second.pool.empty() &&
            Used(it->second.vg) + more > vgs_[it->second.vg].size) {
          return Exit(5, "", "  Insufficient free space\n");
        }
        // A grown pool or COW area is less full.
        if (it->second.thin_pool) {
          it->second.pool_data_percent =
              it->second.pool_data_percent *
              static_cast<double>(it->second.size) /
              static_cast<double>(it->second.size + more);
        }
        if (!it->second.origin.empty() && it->second.size + more > 0) {
          it->second.cow_percent = it->second.cow_percent *
                                   static_cast<double>(it->second.size) /
                                   static_cast<double>(it->second.size + more);
        }
        it->second.size += more;
      } else {
        it->second.size = Bytes(argv[i + 1]);
      }
    }
    if (it->second.pool.empty()) {
      // Extents LVM picks itself, or named ones not zeroed before, may
      // hold what a deleted LV wrote.
      bool zeroed = !pv_ranges.empty();
      for (const std::string& range : pv_ranges) {
        zeroed = zeroed && zeroed_extents_.erase(range) == 1;
        it->second.extents.push_back(range);
      }
      if (!zeroed) it->second.stale = true;
    }
    return Exit(0);
  }
  if (verb == "lvchange") {
    std::vector<std::string>& tags = it->second.tags;
    for (size_t i = 2; i + 1 < argv.size(); ++i) {
      if (argv[i] == "--activate") {
        if (argv[i + 1] == "n" && it->second.open) {
          return Exit(5, "",
                      absl::StrCat("  Logical volume ", target, " in use.\n"));
        }
        it->second.active = argv[i + 1] == "y";
      } else if (argv[i] == "--addtag") {
        if (std::find(tags.begin(), tags.end(), argv[i + 1]) == tags.end()) {
          tags.push_back(argv[i + 1]);
        }
      } else if (argv[i] == "--deltag") {
        tags.erase(std::remove(tags.begin(), tags.end(), argv[i + 1]),
                   tags.end());
      }
    }
    return Exit(0);
  }
  return Exit(3, "", absl::StrCat("unknown command ", verb));
}

}  // namespace cellar::testing
