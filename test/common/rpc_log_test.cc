#include "src/common/rpc_log.h"

#include <unistd.h>

#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "csi.grpc.pb.h"
#include "gtest/gtest.h"
#include "spdlog/sinks/ostream_sink.h"
#include "src/common/logging.h"
#include "src/server/server.h"
#include "test/testing/generic_call.h"

namespace cellar {
namespace {

constexpr char kSecret[] = "TOP-SECRET-7f3a9c";

// Fills every string field (and map) of `message` so that handlers get past
// "missing field" checks, and puts kSecret in every csi_secret field.
void Fill(google::protobuf::Message* message, int depth = 0) {
  const auto* descriptor = message->GetDescriptor();
  const auto* reflection = message->GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const auto* field = descriptor->field(i);
    const bool secret = field->options().GetExtension(csi::v1::csi_secret);
    if (field->is_map()) {
      auto* entry = reflection->AddMessage(message, field);
      const auto* key = entry->GetDescriptor()->FindFieldByName("key");
      const auto* value = entry->GetDescriptor()->FindFieldByName("value");
      if (value->cpp_type() !=
          google::protobuf::FieldDescriptor::CPPTYPE_STRING) {
        continue;
      }
      entry->GetReflection()->SetString(entry, key, secret ? kSecret : "k");
      entry->GetReflection()->SetString(entry, value, secret ? kSecret : "v");
    } else if (field->cpp_type() ==
                   google::protobuf::FieldDescriptor::CPPTYPE_STRING &&
               !field->is_repeated()) {
      reflection->SetString(message, field, "vol-1");
    }
  }
}

class RpcLogTest : public ::testing::TestWithParam<spdlog::level::level_enum> {
};

TEST_P(RpcLogTest, SecretsNeverReachTheLog) {
  std::ostringstream log;
  InitLogging(GetParam(), LogFormat::kText,
              std::make_shared<spdlog::sinks::ostream_sink_mt>(log));

  csi::v1::Identity::Service identity;
  csi::v1::Controller::Service controller;
  csi::v1::Node::Service node;
  csi::v1::GroupController::Service group;
  const std::string socket =
      "/tmp/cellar-rpclog-" + std::to_string(getpid()) + ".sock";
  auto server =
      UnixServer::Start(socket, {&identity, &controller, &node, &group});
  ASSERT_TRUE(server.ok()) << server.status();
  auto channel =
      grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials());

  const auto* file = csi::v1::CreateVolumeRequest::descriptor()->file();
  int secret_calls = 0;
  for (int s = 0; s < file->service_count(); ++s) {
    const auto* service = file->service(s);
    for (int m = 0; m < service->method_count(); ++m) {
      const auto* method = service->method(m);
      if (method->client_streaming() || method->server_streaming()) continue;
      std::unique_ptr<google::protobuf::Message> request(
          google::protobuf::MessageFactory::generated_factory()
              ->GetPrototype(method->input_type())
              ->New());
      Fill(request.get());
      if (request->ShortDebugString().find(kSecret) == std::string::npos) {
        continue;
      }
      ++secret_calls;
      const grpc::Status status =
          testing::CallUnary(channel, *method, *request);
      // Unimplemented or implemented, the call must complete.
      (void)status;
    }
  }
  (*server)->Shutdown(absl::Seconds(1));
  spdlog::default_logger()->flush();
  const std::string text = log.str();
  EXPECT_GE(secret_calls, 15);
  EXPECT_EQ(text.find(kSecret), std::string::npos) << text;
  if (GetParam() <= spdlog::level::info) {
    // The calls were logged (one line each), so the absence means something.
    EXPECT_NE(text.find("method=/csi.v1.Node/NodeStageVolume"),
              std::string::npos)
        << text;
  }
  if (GetParam() <= spdlog::level::debug) {
    EXPECT_NE(text.find("[redacted: secrets]"), std::string::npos) << text;
  }
}

class RecordingObserver final : public RpcObserver {
 public:
  void ObserveRpc(absl::string_view method, grpc::StatusCode code,
                  double seconds) override {
    absl::MutexLock lock(&mutex_);
    calls_.push_back(absl::StrCat(method, " ", code));
    EXPECT_GE(seconds, 0);
    EXPECT_LT(seconds, 60);
  }
  std::vector<std::string> calls() {
    absl::MutexLock lock(&mutex_);
    return calls_;
  }

 private:
  absl::Mutex mutex_;
  std::vector<std::string> calls_ ABSL_GUARDED_BY(mutex_);
};

TEST(RpcLogObserverTest, EveryFinishedRpcIsReportedOnceWithItsCode) {
  csi::v1::Identity::Service identity;  // every method UNIMPLEMENTED
  RecordingObserver observer;
  const std::string socket =
      "/tmp/cellar-rpcobs-" + std::to_string(getpid()) + ".sock";
  auto server = UnixServer::Start(socket, {&identity}, &observer);
  ASSERT_TRUE(server.ok()) << server.status();
  auto channel =
      grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials());
  auto stub = csi::v1::Identity::NewStub(channel);
  for (int i = 0; i < 3; ++i) {
    grpc::ClientContext context;
    csi::v1::ProbeResponse response;
    EXPECT_EQ(
        stub->Probe(&context, csi::v1::ProbeRequest(), &response).error_code(),
        grpc::StatusCode::UNIMPLEMENTED);
  }
  (*server)->Shutdown(absl::Seconds(1));
  const std::string expected =
      absl::StrCat("/csi.v1.Identity/Probe ", grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(observer.calls(),
            (std::vector<std::string>{expected, expected, expected}));
}

INSTANTIATE_TEST_SUITE_P(AllLevels, RpcLogTest,
                         ::testing::Values(spdlog::level::trace,
                                           spdlog::level::debug,
                                           spdlog::level::info,
                                           spdlog::level::warn,
                                           spdlog::level::err));

TEST(RequestSubjectTest, PicksTheVolumeOrName) {
  csi::v1::NodeStageVolumeRequest stage;
  stage.set_volume_id("vol-a");
  EXPECT_EQ(RequestSubject(stage), "vol-a");
  csi::v1::CreateVolumeRequest create;
  create.set_name("pvc-b");
  EXPECT_EQ(RequestSubject(create), "pvc-b");
  csi::v1::CreateSnapshotRequest snap;
  snap.set_source_volume_id("vol-c");
  EXPECT_EQ(RequestSubject(snap), "vol-c");
  csi::v1::ProbeRequest probe;
  EXPECT_EQ(RequestSubject(probe), "");
  csi::v1::DeleteVolumeRequest hostile;
  hostile.set_volume_id(std::string("a b\"c\n", 6) + std::string(500, 'x'));
  const std::string subject = RequestSubject(hostile);
  EXPECT_EQ(subject.substr(0, 6), "a?b?c?");
  EXPECT_LE(subject.size(), 170u);
}

}  // namespace
}  // namespace cellar
