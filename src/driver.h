#ifndef CELLAR_SRC_DRIVER_H_
#define CELLAR_SRC_DRIVER_H_

#include <functional>

#include "src/platform/block_copier.h"
#include "src/platform/clock.h"
#include "src/platform/command_runner.h"
#include "src/platform/crypt_devices.h"
#include "src/platform/filesystem.h"
#include "src/platform/fs_tools.h"
#include "src/platform/loop_device.h"
#include "src/platform/mounter.h"

namespace cellar {

// Every OS side effect the driver makes goes through one of these (none
// owned). main builds the real ones; a test build may wrap them.
struct Platform {
  FileSystem* fs = nullptr;
  Mounter* mounter = nullptr;
  CommandRunner* runner = nullptr;
  LoopDevices* loops = nullptr;
  FsTools* fs_tools = nullptr;
  CryptDevices* crypt = nullptr;
  BlockCopier* copier = nullptr;
  Clock* clock = nullptr;  // null: the system's clock
};

// The whole driver: parses the command line (the flags of driver.cc), builds
// the device classes and services over `platform`, serves until SIGTERM or
// SIGINT. `on_serving`, when set, runs once the socket answers (after every
// start-up repair). Returns the process exit status: 0 after a clean stop,
// 2 for bad flags or a failed start (the reason on stderr). Call once per
// process.
int RunDriver(int argc, char** argv, const Platform& platform,
              const std::function<void()>& on_serving = nullptr);

}  // namespace cellar

#endif  // CELLAR_SRC_DRIVER_H_
