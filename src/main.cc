// cellar-csi: the cellar CSI driver. Builds the real platform
// implementations (only here) and runs the driver over them.
#include "src/driver.h"
#include "src/platform/clock.h"
#include "src/platform/real_block_copier.h"
#include "src/platform/real_command_runner.h"
#include "src/platform/real_crypt_devices.h"
#include "src/platform/real_filesystem.h"
#include "src/platform/real_fs_tools.h"
#include "src/platform/real_loop_device.h"
#include "src/platform/real_mounter.h"

int main(int argc, char** argv) {
  cellar::RealFileSystem fs;
  cellar::RealMounter mounter;
  cellar::RealCommandRunner runner;
  cellar::RealLoopDevices loops;
  cellar::RealFsTools fs_tools(&runner);
  cellar::RealCryptDevices crypt;
  cellar::RealBlockCopier copier;
  cellar::RealClock clock;
  return cellar::RunDriver(
      argc, argv,
      {&fs, &mounter, &runner, &loops, &fs_tools, &crypt, &copier, &clock});
}
