#ifndef CELLAR_TEST_BACKEND_LVM_FAKE_LVM_H_
#define CELLAR_TEST_BACKEND_LVM_FAKE_LVM_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "src/platform/command_runner.h"

namespace cellar::testing {

// A stateful stand-in for the `lvm` tool: volume groups, thick LVs, thin
// pools and thin LVs, answering lvs/vgs with JSON reports shaped like
// LVM 2.03's and changing state on lvcreate/lvremove/lvextend/lvchange.
// Install with FakeCommandRunner::SetHandler("lvm", fake.Handler()).
class FakeLvm final {
 public:
  struct Lv {
    std::string vg;
    uint64_t size = 0;
    std::vector<std::string> tags;
    std::string pool;
    bool thin_pool = false;
    bool active = true;
    bool open = false;
  };

  void AddVg(const std::string& name, uint64_t size, uint64_t extent = 4 << 20);
  void AddThinPool(const std::string& vg, const std::string& name,
                   uint64_t size);
  void SetOpen(const std::string& vg, const std::string& lv, bool open);
  void SetActive(const std::string& vg, const std::string& lv, bool active);
  bool HasLv(const std::string& vg, const std::string& lv) const;
  Lv GetLv(const std::string& vg, const std::string& lv) const;
  uint64_t VgFree(const std::string& vg) const;

  // The handler for FakeCommandRunner.
  std::function<absl::StatusOr<CommandResult>(const Command&)> Handler();

 private:
  CommandResult Run(const std::vector<std::string>& argv);

  struct Vg {
    uint64_t size = 0;
    uint64_t extent = 0;
  };
  mutable absl::Mutex mu_;
  std::map<std::string, Vg> vgs_;
  std::map<std::string, Lv> lvs_;  // key "vg/lv"
};

}  // namespace cellar::testing

#endif  // CELLAR_TEST_BACKEND_LVM_FAKE_LVM_H_
