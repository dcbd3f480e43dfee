#include "test/testing/e2e_fixture.h"

#include <stdlib.h>
#include <unistd.h>

#include <iostream>

namespace cellar::testing {

std::string WhyNoRootWithLoopDevices() {
  if (geteuid() != 0 || access("/dev/loop-control", F_OK) != 0) {
    return "needs root and loop devices";
  }
  return "";
}

std::string MakeScratchDir(const std::string& prefix) {
  std::string pattern = "/tmp/" + prefix + "-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp " << pattern << ": " << strerror(errno);
    return "";
  }
  return pattern;
}

void DumpDriverLog(const DriverProcess& driver, size_t tail_bytes) {
  const std::string log = driver.ReadLog();
  if (tail_bytes == 0 || log.size() <= tail_bytes) {
    std::cerr << "driver log:\n" << log;
  } else {
    std::cerr << "driver log, its last " << tail_bytes << " bytes:\n"
              << log.substr(log.size() - tail_bytes);
  }
}

}  // namespace cellar::testing
