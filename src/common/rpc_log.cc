#include "src/common/rpc_log.h"

#include <chrono>
#include <string>

#include "spdlog/spdlog.h"
#include "src/common/command_tally.h"
#include "src/common/logging.h"
#include "src/common/redact.h"

namespace cellar {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using grpc::experimental::InterceptionHookPoints;
using grpc::experimental::InterceptorBatchMethods;

const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "INVALID_CODE";
  }
}

class RpcLogInterceptor final : public grpc::experimental::Interceptor {
 public:
  RpcLogInterceptor(const char* method, RpcObserver* observer)
      : method_(method != nullptr ? method : "?"),
        observer_(observer),
        start_(std::chrono::steady_clock::now()) {}

  void Intercept(InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_MESSAGE)) {
      // The handler runs next, on this thread: its commands from here on.
      ResetCommandTally();
      const auto* request =
          static_cast<const Message*>(methods->GetRecvMessage());
      if (request != nullptr) {
        subject_ = RequestSubject(*request);
        if (spdlog::should_log(spdlog::level::debug)) {
          spdlog::debug("rpc request method={} body={{{}}}", method_,
                        RedactedDebugString(*request));
        }
      }
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_MESSAGE) &&
        spdlog::should_log(spdlog::level::debug)) {
      const auto* response =
          static_cast<const Message*>(methods->GetSendMessage());
      if (response != nullptr) {
        spdlog::debug("rpc response method={} body={{{}}}", method_,
                      RedactedDebugString(*response));
      }
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_STATUS)) {
      const grpc::Status status = methods->GetSendStatus();
      const double ms = std::chrono::duration<double, std::milli>(
                            std::chrono::steady_clock::now() - start_)
                            .count();
      const grpc::StatusCode code = status.error_code();
      if (observer_ != nullptr) observer_->ObserveRpc(method_, code, ms / 1000);
      const bool severe = code == grpc::StatusCode::INTERNAL ||
                          code == grpc::StatusCode::UNKNOWN ||
                          code == grpc::StatusCode::DATA_LOSS;
      const std::string commands = CommandTallyText();
      if (status.ok()) {
        spdlog::info(
            "rpc method={} volume={} duration_ms={:.3f} commands={} code=OK",
            method_, subject_.empty() ? "-" : subject_, ms, commands);
      } else {
        spdlog::log(severe ? spdlog::level::warn : spdlog::level::info,
                    "rpc method={} volume={} duration_ms={:.3f} commands={} "
                    "code={} message=\"{}\"",
                    method_, subject_.empty() ? "-" : subject_, ms, commands,
                    CodeName(code), status.error_message());
      }
    }
    methods->Proceed();
  }

 private:
  const std::string method_;
  RpcObserver* const observer_;
  const std::chrono::steady_clock::time_point start_;
  std::string subject_;
};

class RpcLogInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RpcLogInterceptorFactory(RpcObserver* observer)
      : observer_(observer) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new RpcLogInterceptor(info->method(), observer_);
  }

 private:
  RpcObserver* const observer_;
};

}  // namespace

std::string RequestSubject(const Message& request) {
  const auto* descriptor = request.GetDescriptor();
  const auto* reflection = request.GetReflection();
  for (const char* name :
       {"volume_id", "snapshot_id", "source_volume_id", "name"}) {
    const FieldDescriptor* field = descriptor->FindFieldByName(name);
    if (field == nullptr || field->is_repeated() ||
        field->cpp_type() != FieldDescriptor::CPPTYPE_STRING) {
      continue;
    }
    std::string value = reflection->GetString(request, field);
    if (value.empty()) continue;
    // Ids are validated later; keep the log line bounded and printable.
    constexpr size_t kMaxLogged = 160;
    if (value.size() > kMaxLogged) value = value.substr(0, kMaxLogged) + "...";
    for (char& c : value) {
      const unsigned char u = static_cast<unsigned char>(c);
      if (u < 0x21 || u > 0x7e || c == '"') c = '?';
    }
    return value;
  }
  return "";
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeRpcLogInterceptorFactory(RpcObserver* observer) {
  return std::make_unique<RpcLogInterceptorFactory>(observer);
}

}  // namespace cellar
