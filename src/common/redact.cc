#include "src/common/redact.h"

#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "csi.pb.h"

namespace cellar {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

bool IsSecret(const FieldDescriptor* field) {
  return field->options().GetExtension(csi::v1::csi_secret);
}

int Redact(Message* message, std::vector<std::string>* names) {
  const Reflection* reflection = message->GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(*message, &fields);
  int cleared = 0;
  for (const FieldDescriptor* field : fields) {
    if (IsSecret(field)) {
      reflection->ClearField(message, field);
      if (names != nullptr) names->push_back(field->name());
      ++cleared;
      continue;
    }
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (field->is_repeated()) {
      const int n = reflection->FieldSize(*message, field);
      for (int i = 0; i < n; ++i) {
        cleared += Redact(reflection->MutableRepeatedMessage(message, field, i),
                          names);
      }
    } else {
      cleared += Redact(reflection->MutableMessage(message, field), names);
    }
  }
  return cleared;
}

}  // namespace

int RedactSecrets(Message* message) { return Redact(message, nullptr); }

std::string RedactedDebugString(const Message& message) {
  std::unique_ptr<Message> copy(message.New());
  copy->CopyFrom(message);
  std::vector<std::string> names;
  Redact(copy.get(), &names);
  std::string out = copy->ShortDebugString();
  if (!names.empty()) {
    absl::StrAppend(&out, out.empty() ? "" : " ", "[redacted: ",
                    absl::StrJoin(names, ","), "]");
  }
  return out;
}

}  // namespace cellar
