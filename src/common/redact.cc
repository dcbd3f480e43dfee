#include "src/common/redact.h"

#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "csi.pb.h"
#include "google/protobuf/text_format.h"

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

namespace {

// The message on one line, without unknown fields: a field a newer CSI
// version adds (and marks secret) must not reach a log through them.
std::string OneLine(const Message& message) {
  google::protobuf::TextFormat::Printer printer;
  printer.SetSingleLineMode(true);
  printer.SetHideUnknownFields(true);
  std::string out;
  printer.PrintToString(message, &out);
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// True when a secret field is set below the top level of `message`.
bool HasNestedSecret(const Message& message, bool top) {
  const Reflection* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    if (IsSecret(field)) {
      if (!top) return true;
      continue;
    }
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (field->is_repeated()) {
      for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
        if (HasNestedSecret(reflection->GetRepeatedMessage(message, field, i),
                            false)) {
          return true;
        }
      }
    } else if (HasNestedSecret(reflection->GetMessage(message, field), false)) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::string RedactedDebugString(const Message& message) {
  std::vector<std::string> names;
  std::string out;
  if (!HasNestedSecret(message, true)) {
    // The usual case (CSI puts secrets at the top of a request): the
    // secret fields are moved aside for the instant of printing, so no copy
    // of a secret is ever made (a copy would be freed unwiped). The message
    // is the handler thread's own and nothing reads it meanwhile.
    Message& original = const_cast<Message&>(message);
    const Reflection* reflection = original.GetReflection();
    std::vector<const FieldDescriptor*> fields, secret;
    reflection->ListFields(original, &fields);
    for (const FieldDescriptor* field : fields) {
      if (IsSecret(field)) {
        secret.push_back(field);
        names.push_back(field->name());
      }
    }
    std::unique_ptr<Message> aside(original.New());
    reflection->SwapFields(&original, aside.get(), secret);
    out = OneLine(original);
    reflection->SwapFields(&original, aside.get(), secret);
  } else {
    std::unique_ptr<Message> copy(message.New());
    copy->CopyFrom(message);
    Redact(copy.get(), &names);
    out = OneLine(*copy);
  }
  if (!names.empty()) {
    absl::StrAppend(&out, out.empty() ? "" : " ",
                    "[redacted: ", absl::StrJoin(names, ","), "]");
  }
  return out;
}

}  // namespace cellar
