#include "test/backend/lvm/fake_lvm.h"

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

}  // namespace

void FakeLvm::AddVg(const std::string& name, uint64_t size, uint64_t extent) {
  absl::MutexLock lock(&mu_);
  vgs_[name] = Vg{size, extent};
}

void FakeLvm::AddThinPool(const std::string& vg, const std::string& name,
                          uint64_t size) {
  absl::MutexLock lock(&mu_);
  Lv lv;
  lv.vg = vg;
  lv.size = size;
  lv.thin_pool = true;
  lvs_[vg + "/" + name] = lv;
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
  uint64_t used = 0;
  for (const auto& [key, lv] : lvs_) {
    if (lv.vg == vg && lv.pool.empty()) used += lv.size;
  }
  return it->second.size - used;
}

std::function<absl::StatusOr<CommandResult>(const Command&)> FakeLvm::Handler() {
  return [this](const Command& command) -> absl::StatusOr<CommandResult> {
    return Run(command.argv);
  };
}

CommandResult FakeLvm::Run(const std::vector<std::string>& argv) {
  if (argv.size() < 2) return Exit(3, "", "no command");
  const std::string& verb = argv[1];
  const std::string target = argv.back();
  if (verb == "vgs") {
    uint64_t free = VgFree(target);
    absl::MutexLock lock(&mu_);
    auto it = vgs_.find(target);
    if (it == vgs_.end()) {
      return Exit(5, "", absl::StrCat("  Volume group \"", target,
                                      "\" not found\n"));
    }
    return Exit(0, absl::StrCat(
                       "  {\n      \"report\": [\n          {\n"
                       "              \"vg\": [\n                  "
                       "{\"vg_name\":\"", target, "\", \"vg_size\":\"",
                       it->second.size, "\", \"vg_free\":\"", free,
                       "\", \"vg_extent_size\":\"", it->second.extent,
                       "\"}\n              ]\n          }\n      ]\n  }\n"));
  }
  absl::MutexLock lock(&mu_);
  if (verb == "lvs") {
    if (vgs_.count(target) == 0) {
      return Exit(5, "", absl::StrCat("  Volume group \"", target,
                                      "\" not found\n"));
    }
    std::vector<std::string> rows;
    for (const auto& [key, lv] : lvs_) {
      if (lv.vg != target) continue;
      const std::string name = key.substr(key.find('/') + 1);
      std::string attr = lv.thin_pool ? "twi-a-tz--"
                         : lv.pool.empty() ? "-wi-------"
                                           : "Vwi---tz--";
      if (!lv.active) attr[4] = '-';
      if (lv.active) attr[4] = 'a';
      if (lv.open) attr[5] = 'o';
      rows.push_back(absl::StrCat(
          "{\"lv_name\":\"", name, "\", \"vg_name\":\"", lv.vg,
          "\", \"lv_size\":\"", lv.size, "\", \"lv_tags\":\"",
          absl::StrJoin(lv.tags, ","), "\", \"lv_attr\":\"", attr,
          "\", \"pool_lv\":\"", lv.pool, "\"}"));
    }
    return Exit(0, absl::StrCat("  {\n      \"report\": [\n          {\n"
                                "              \"lv\": [\n",
                                absl::StrJoin(rows, ",\n"),
                                "\n              ]\n          }\n      ]\n  }\n"));
  }
  if (verb == "lvcreate") {
    std::string name, pool, vg = target;
    uint64_t size = 0;
    std::vector<std::string> tags;
    for (size_t i = 2; i + 1 < argv.size(); ++i) {
      if (argv[i] == "--name") name = argv[++i];
      else if (argv[i] == "--size" || argv[i] == "--virtualsize") size = Bytes(argv[++i]);
      else if (argv[i] == "--thinpool") pool = argv[++i];
      else if (argv[i] == "--addtag") tags.push_back(argv[++i]);
    }
    if (lvs_.count(vg + "/" + name)) {
      return Exit(5, "", absl::StrCat("  Logical Volume \"", name,
                                      "\" already exists in volume group\n"));
    }
    if (pool.empty()) {
      uint64_t used = 0;
      for (const auto& [key, lv] : lvs_) {
        if (lv.vg == vg && lv.pool.empty()) used += lv.size;
      }
      if (used + size > vgs_[vg].size) {
        return Exit(5, "", absl::StrCat("  Volume group \"", vg,
                                        "\" has insufficient free space\n"));
      }
    }
    Lv lv;
    lv.vg = vg;
    lv.size = size;
    lv.pool = pool;
    lv.tags = tags;
    lv.active = pool.empty();  // thin LVs: like -k, the caller activates
    lvs_[vg + "/" + name] = lv;
    return Exit(0, absl::StrCat("  Logical volume \"", name, "\" created.\n"));
  }
  auto it = lvs_.find(target);
  if (it == lvs_.end()) {
    return Exit(5, "", absl::StrCat("  Failed to find logical volume \"",
                                    target, "\"\n"));
  }
  if (verb == "lvremove") {
    if (it->second.open) {
      return Exit(5, "", "  Logical volume contains a filesystem in use.\n");
    }
    lvs_.erase(it);
    return Exit(0);
  }
  if (verb == "lvextend") {
    for (size_t i = 2; i + 1 < argv.size(); ++i) {
      if (argv[i] == "--size") it->second.size = Bytes(argv[i + 1]);
    }
    return Exit(0);
  }
  if (verb == "lvchange") {
    for (size_t i = 2; i + 1 < argv.size(); ++i) {
      if (argv[i] == "--activate") {
        if (argv[i + 1] == "n" && it->second.open) {
          return Exit(5, "", "  Logical volume in use.\n");
        }
        it->second.active = argv[i + 1] == "y";
      }
    }
    return Exit(0);
  }
  return Exit(3, "", absl::StrCat("unknown command ", verb));
}

}  // namespace cellar::testing
