// The binary's own behaviour: Identity, reflection, socket handling,
// signals, and the one-line-per-RPC log.
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iostream>

#include "gtest/gtest.h"
#include "src/version.h"
#include "test/testing/driver_process.h"
#include "test/testing/e2e_fixture.h"

namespace cellar {
namespace {

using testing::Context;
using testing::DriverProcess;

// Each test starts its own drivers over the fixture's scratch directory.
class ServerE2eTest : public testing::E2eFixture {
 protected:
  ServerE2eTest() : Fixture("cellar-e2e") {}

  // Neither root nor loop devices: the server alone.
  std::string SkipReason() override { return ""; }

  void SetUp() override {
    Fixture::SetUp();
    if (HasFatalFailure()) return;
    data_dir_ = root_ + "/data";
    socket_ = root_ + "/csi.sock";
  }

  void TearDown() override {
    Fixture::TearDown();
    // Whatever the drivers left there (sockets, logs, data) came away.
    EXPECT_NE(access(root_.c_str(), F_OK), 0) << root_ << " left behind";
  }

  std::string data_dir_, socket_;
};

TEST_F(ServerE2eTest, IdentityAnswers) {
  auto driver = DriverProcess::Start(data_dir_, socket_, {});
  ASSERT_TRUE(driver.ok()) << driver.status();
  csi::v1::GetPluginInfoResponse info;
  ASSERT_TRUE(
      (*driver)->identity().GetPluginInfo(Context().get(), {}, &info).ok());
  EXPECT_EQ(info.name(), "cellar.csi.io");
  EXPECT_EQ(info.vendor_version(), kCellarVersion);

  csi::v1::GetPluginCapabilitiesResponse caps;
  ASSERT_TRUE((*driver)
                  ->identity()
                  .GetPluginCapabilities(Context().get(), {}, &caps)
                  .ok());
  bool controller = false;
  for (const auto& cap : caps.capabilities()) {
    if (cap.service().type() ==
        csi::v1::PluginCapability::Service::CONTROLLER_SERVICE) {
      controller = true;
    }
  }
  EXPECT_TRUE(controller);

  csi::v1::ProbeResponse probe;
  ASSERT_TRUE((*driver)->identity().Probe(Context().get(), {}, &probe).ok());
  EXPECT_TRUE(probe.ready().value());
}

TEST_F(ServerE2eTest, DriverNameFlag) {
  auto driver =
      DriverProcess::Start(data_dir_, socket_, {"--driver-name=other.csi.io"});
  ASSERT_TRUE(driver.ok()) << driver.status();
  csi::v1::GetPluginInfoResponse info;
  ASSERT_TRUE(
      (*driver)->identity().GetPluginInfo(Context().get(), {}, &info).ok());
  EXPECT_EQ(info.name(), "other.csi.io");
}

TEST_F(ServerE2eTest, ReflectionListsTheServicesOfEachMode) {
  struct Case {
    const char* mode;
    bool node;
  } cases[] = {{"all", true}, {"node", true}, {"controller", false}};
  for (const Case& c : cases) {
    auto driver = DriverProcess::Start(data_dir_, socket_,
                                       {std::string("--mode=") + c.mode});
    ASSERT_TRUE(driver.ok()) << driver.status();
    auto services = (*driver)->ListServices();
    ASSERT_TRUE(services.ok()) << services.status();
    auto has = [&](const std::string& name) {
      return std::find(services->begin(), services->end(), name) !=
             services->end();
    };
    EXPECT_TRUE(has("csi.v1.Identity")) << c.mode;
    EXPECT_TRUE(has("csi.v1.Controller")) << c.mode;
    EXPECT_EQ(has("csi.v1.Node"), c.node) << c.mode;
    EXPECT_TRUE(has("grpc.reflection.v1alpha.ServerReflection")) << c.mode;
    auto stopped = (*driver)->Stop(SIGTERM);
    ASSERT_TRUE(stopped.ok());
  }
}

TEST_F(ServerE2eTest, SocketIsOwnerOnly) {
  auto driver = DriverProcess::Start(data_dir_, socket_, {});
  ASSERT_TRUE(driver.ok()) << driver.status();
  struct stat st;
  ASSERT_EQ(lstat(socket_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(ServerE2eTest, SigtermStopsCleanlyAndRemovesTheSocket) {
  for (int signal_number : {SIGTERM, SIGINT}) {
    auto driver = DriverProcess::Start(data_dir_, socket_, {});
    ASSERT_TRUE(driver.ok()) << driver.status();
    auto status = (*driver)->Stop(signal_number);
    ASSERT_TRUE(status.ok()) << status.status();
    EXPECT_TRUE(WIFEXITED(*status));
    EXPECT_EQ(WEXITSTATUS(*status), 0);
    EXPECT_NE(access(socket_.c_str(), F_OK), 0) << "socket left behind";
  }
}

TEST_F(ServerE2eTest, StaleSocketIsReplaced) {
  // A socket bound by a process that is gone: nobody listens.
  ASSERT_EQ(mkdir(data_dir_.c_str(), 0700), 0);
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  close(fd);
  auto driver = DriverProcess::Start(data_dir_, socket_, {});
  ASSERT_TRUE(driver.ok()) << driver.status();
  EXPECT_NE((*driver)->ReadLog().find("removed stale socket"),
            std::string::npos);
}

TEST_F(ServerE2eTest, LiveSocketIsNotStolen) {
  auto first = DriverProcess::Start(data_dir_, socket_, {});
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string log = root_ + "/second.log";
  auto status = testing::RunToExit(
      testing::DriverBinaryPath(),
      {"--data-dir=" + data_dir_, "--endpoint=unix://" + socket_}, log);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_NE(WEXITSTATUS(*status), 0);
  std::ifstream in(log);
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("another server is listening"), std::string::npos)
      << text;
  // The first server still answers.
  csi::v1::ProbeResponse probe;
  EXPECT_TRUE((*first)->identity().Probe(Context().get(), {}, &probe).ok());
}

TEST_F(ServerE2eTest, ShutdownLeavesANewerServersSocketAlone) {
  // The first server's socket is removed and a second server claims the
  // path (an operator restarting the driver by hand, a rolled DaemonSet).
  auto first = DriverProcess::Start(data_dir_, socket_, {});
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(unlink(socket_.c_str()), 0);
  auto second = DriverProcess::Start(data_dir_ + "2", socket_, {});
  ASSERT_TRUE(second.ok()) << second.status();
  // The first stops: the socket at the path is not its own any more.
  auto stopped = (*first)->Stop(SIGTERM);
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_EQ(access(socket_.c_str(), F_OK), 0)
      << "newer server's socket removed";
  csi::v1::ProbeResponse probe;
  EXPECT_TRUE((*second)->identity().Probe(Context().get(), {}, &probe).ok());
  ASSERT_TRUE((*second)->Stop(SIGTERM).ok());
  EXPECT_NE(access(socket_.c_str(), F_OK), 0) << "own socket left behind";
}

TEST_F(ServerE2eTest, NonSocketFileIsNeverRemoved) {
  ASSERT_EQ(mkdir(data_dir_.c_str(), 0700), 0);
  { std::ofstream(socket_) << "precious"; }
  auto status = testing::RunToExit(
      testing::DriverBinaryPath(),
      {"--data-dir=" + data_dir_, "--endpoint=unix://" + socket_},
      root_ + "/log");
  ASSERT_TRUE(status.ok());
  EXPECT_NE(WEXITSTATUS(*status), 0);
  std::ifstream in(socket_);
  std::string text;
  in >> text;
  EXPECT_EQ(text, "precious");
}

TEST_F(ServerE2eTest, BadFlagsFailWithAMessage) {
  struct Case {
    std::vector<std::string> args;
    const char* expect;
  } cases[] = {
      {{"--mode=everything"}, "unknown --mode"},
      {{"--log-level=loud"}, "unknown log level"},
      {{"--log-format=xml"}, "unknown log format"},
      {{"--endpoint=tcp://0.0.0.0:1"}, "is not unix:///absolute/path"},
      {{"--no-such-flag=1"}, "no-such-flag"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"--data-dir=" + data_dir_};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const std::string log = root_ + "/bad.log";
    unlink(log.c_str());
    auto status = testing::RunToExit(testing::DriverBinaryPath(), args, log);
    ASSERT_TRUE(status.ok());
    EXPECT_TRUE(WIFEXITED(*status));
    EXPECT_NE(WEXITSTATUS(*status), 0) << c.args[0];
    std::ifstream in(log);
    std::string text((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
    EXPECT_NE(text.find(c.expect), std::string::npos) << text;
  }
}

TEST_F(ServerE2eTest, EveryRpcIsLoggedOnceWithCode) {
  auto driver = DriverProcess::Start(data_dir_, socket_, {"--log-format=json"});
  ASSERT_TRUE(driver.ok()) << driver.status();
  csi::v1::GetPluginInfoResponse info;
  ASSERT_TRUE(
      (*driver)->identity().GetPluginInfo(Context().get(), {}, &info).ok());
  ASSERT_TRUE((*driver)->Stop(SIGTERM).ok());
  const std::string log = (*driver)->ReadLog();
  size_t count = 0;
  for (size_t at = log.find("GetPluginInfo"); at != std::string::npos;
       at = log.find("GetPluginInfo", at + 1)) {
    ++count;
  }
  EXPECT_EQ(count, 1u) << log;
  EXPECT_NE(log.find("method=/csi.v1.Identity/GetPluginInfo volume=- "
                     "duration_ms="),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("code=OK\"}"), std::string::npos) << log;
}

TEST_F(ServerE2eTest, HelpListsDashedFlags) {
  const std::string log = root_ + "/help.log";
  auto status =
      testing::RunToExit(testing::DriverBinaryPath(), {"--help"}, log);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(WEXITSTATUS(*status), 0);
  std::ifstream in(log);
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  for (const char* flag :
       {"--endpoint", "--mode", "--node-id", "--driver-name", "--data-dir",
        "--kubelet-dir", "--log-level", "--log-format"}) {
    EXPECT_NE(text.find(std::string(flag) + " ("), std::string::npos) << flag;
  }
}

}  // namespace
}  // namespace cellar
