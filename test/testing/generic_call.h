#ifndef CELLAR_TEST_TESTING_GENERIC_CALL_H_
#define CELLAR_TEST_TESTING_GENERIC_CALL_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace cellar::testing {

// Calls the unary method `method` (a descriptor of a csi.v1 service method)
// with `request`; parses the reply into `response` when non-null. Blocks.
grpc::Status CallUnary(const std::shared_ptr<grpc::Channel>& channel,
                       const google::protobuf::MethodDescriptor& method,
                       const google::protobuf::Message& request,
                       google::protobuf::Message* response = nullptr);

}  // namespace cellar::testing

#endif  // CELLAR_TEST_TESTING_GENERIC_CALL_H_
