// cellar-csi-faulty: the driver over the real platform with each interface
// wrapped in its fault-injecting wrapper, for the crash sweep. Its one flag
// of its own, --fault=crash-after:N or --fault=fail-at:N (taken off before
// the driver parses the rest), arms the plan once the socket answers, so
// start-up repairs are not counted: the Nth side effect after that fails
// with a realistic error, or happens and then the process kills itself
// with SIGKILL, exactly as kill -9 at that instant would. Each injection
// is written to stderr first as "cellar-fault: ...". Test-only: never
// shipped.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "src/driver.h"
#include "src/platform/real_block_copier.h"
#include "src/platform/real_command_runner.h"
#include "src/platform/real_crypt_devices.h"
#include "src/platform/real_filesystem.h"
#include "src/platform/real_fs_tools.h"
#include "src/platform/real_loop_device.h"
#include "src/platform/real_mounter.h"
#include "test/fakes/fault_injection.h"

namespace {

constexpr char kFlag[] = "--fault=";

// "crash-after:N" or "fail-at:N"; false when malformed.
bool ParseFault(const std::string& text, cellar::FaultPlan::Mode* mode,
                int* n) {
  const size_t colon = text.find(':');
  if (colon == std::string::npos) return false;
  const std::string kind = text.substr(0, colon);
  if (kind == "crash-after") {
    *mode = cellar::FaultPlan::Mode::kCrashAfter;
  } else if (kind == "fail-at") {
    *mode = cellar::FaultPlan::Mode::kFailAt;
  } else {
    return false;
  }
  return absl::SimpleAtoi(text.substr(colon + 1), n) && *n > 0;
}

}  // namespace

int main(int argc, char** argv) {
  cellar::FaultPlan::Mode mode = cellar::FaultPlan::Mode::kNone;
  int n = 0;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind(kFlag, 0) == 0) {
      if (!ParseFault(arg.substr(sizeof(kFlag) - 1), &mode, &n)) {
        std::fprintf(stderr, "cellar-csi-faulty: bad %s\n", arg.c_str());
        return 2;
      }
      continue;
    }
    args.push_back(argv[i]);
  }
  args.push_back(nullptr);

  cellar::RealFileSystem real_fs;
  cellar::RealMounter real_mounter;
  cellar::RealCommandRunner real_runner;
  cellar::RealLoopDevices real_loops;
  // The fs tools run their programs (mkfs, resize2fs) themselves: counted
  // once, as fs tool calls, not again as commands.
  cellar::RealFsTools real_fs_tools(&real_runner);
  cellar::RealCryptDevices real_crypt;
  cellar::RealBlockCopier real_copier;

  cellar::FaultPlan plan;
  plan.SetHook(
      [](cellar::FaultPlan::Mode how, int number, const std::string& what) {
        const bool crash = how == cellar::FaultPlan::Mode::kCrashAfter;
        std::fprintf(stderr, "cellar-fault: %s side effect %d: %s\n",
                     crash ? "killed after" : "failed", number, what.c_str());
        std::fflush(stderr);
        if (crash) raise(SIGKILL);
      });
  cellar::FaultyFileSystem fs(&real_fs, &plan);
  cellar::FaultyMounter mounter(&real_mounter, &plan);
  cellar::FaultyCommandRunner runner(&real_runner, &plan);
  cellar::FaultyLoopDevices loops(&real_loops, &plan);
  cellar::FaultyFsTools fs_tools(&real_fs_tools, &plan);
  cellar::FaultyCryptDevices crypt(&real_crypt, &plan);
  cellar::FaultyBlockCopier copier(&real_copier, &plan);
  return cellar::RunDriver(
      static_cast<int>(args.size()) - 1, args.data(),
      {&fs, &mounter, &runner, &loops, &fs_tools, &crypt, &copier},
      [&plan, mode, n] {
        if (mode != cellar::FaultPlan::Mode::kNone) plan.Arm(mode, n);
      });
}
