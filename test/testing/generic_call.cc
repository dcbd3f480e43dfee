#include "test/testing/generic_call.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>

#include <future>

namespace cellar::testing {

grpc::Status CallUnary(const std::shared_ptr<grpc::Channel>& channel,
                       const google::protobuf::MethodDescriptor& method,
                       const google::protobuf::Message& request,
                       google::protobuf::Message* response) {
  grpc::GenericStub stub(channel);
  std::string bytes;
  request.SerializeToString(&bytes);
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request_buffer(&slice, 1);
  grpc::ByteBuffer response_buffer;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(60));
  std::promise<grpc::Status> done;
  const std::string path =
      "/" + method.service()->full_name() + "/" + method.name();
  stub.UnaryCall(&context, path, grpc::StubOptions(), &request_buffer,
                 &response_buffer,
                 [&done](grpc::Status status) { done.set_value(status); });
  grpc::Status status = done.get_future().get();
  if (status.ok() && response != nullptr) {
    std::vector<grpc::Slice> slices;
    response_buffer.Dump(&slices);
    std::string out;
    for (const auto& s : slices) {
      out.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    response->ParseFromString(out);
  }
  return status;
}

}  // namespace cellar::testing
