#include "src/common/redact.h"

#include "csi.pb.h"
#include "gtest/gtest.h"

namespace cellar {
namespace {

constexpr char kSecret[] = "s3cr3t-passphrase-value";

TEST(RedactTest, ClearsSecretMapsAndKeepsTheRest) {
  csi::v1::NodeStageVolumeRequest request;
  request.set_volume_id("vol-1");
  (*request.mutable_secrets())["encryptionPassphrase"] = kSecret;
  (*request.mutable_secrets())[kSecret] = "key-is-secret-too";
  (*request.mutable_volume_context())["fsType"] = "ext4";
  EXPECT_EQ(RedactSecrets(&request), 1);
  EXPECT_TRUE(request.secrets().empty());
  EXPECT_EQ(request.volume_id(), "vol-1");
  EXPECT_EQ(request.volume_context().at("fsType"), "ext4");
}

TEST(RedactTest, DebugStringMarksButNeverShowsSecrets) {
  csi::v1::CreateVolumeRequest request;
  request.set_name("pvc-1");
  (*request.mutable_secrets())[kSecret] = kSecret;
  const std::string text = RedactedDebugString(request);
  EXPECT_EQ(text.find(kSecret), std::string::npos) << text;
  EXPECT_NE(text.find("pvc-1"), std::string::npos) << text;
  EXPECT_NE(text.find("[redacted: secrets]"), std::string::npos) << text;
  // The original is untouched.
  EXPECT_EQ(request.secrets().size(), 1u);
}

TEST(RedactTest, NoSecretNoMarker) {
  csi::v1::ProbeRequest request;
  EXPECT_EQ(RedactedDebugString(request), "");
}

// Every message of the CSI file that has a csi_secret field, set through
// reflection, comes out clean: new secret fields are covered by the
// descriptor walk without code changes.
TEST(RedactTest, EverySecretFieldInTheSpecIsRedacted) {
  const auto* file = csi::v1::CreateVolumeRequest::descriptor()->file();
  int messages_with_secrets = 0;
  for (int i = 0; i < file->message_type_count(); ++i) {
    const auto* descriptor = file->message_type(i);
    std::unique_ptr<google::protobuf::Message> message(
        google::protobuf::MessageFactory::generated_factory()
            ->GetPrototype(descriptor)
            ->New());
    bool has_secret = false;
    for (int f = 0; f < descriptor->field_count(); ++f) {
      const auto* field = descriptor->field(f);
      if (!field->options().GetExtension(csi::v1::csi_secret)) continue;
      has_secret = true;
      ASSERT_TRUE(field->is_map()) << field->full_name();
      auto* entry = message->GetReflection()->AddMessage(message.get(), field);
      const auto* key = entry->GetDescriptor()->FindFieldByName("key");
      const auto* value = entry->GetDescriptor()->FindFieldByName("value");
      entry->GetReflection()->SetString(entry, key, kSecret);
      entry->GetReflection()->SetString(entry, value, kSecret);
    }
    if (!has_secret) continue;
    ++messages_with_secrets;
    const std::string text = RedactedDebugString(*message);
    EXPECT_EQ(text.find(kSecret), std::string::npos)
        << descriptor->full_name() << ": " << text;
  }
  // The spec has secrets on at least these requests: CreateVolume,
  // DeleteVolume, ControllerPublish/Unpublish, ValidateVolumeCapabilities,
  // ListSnapshots, CreateSnapshot, DeleteSnapshot, ControllerExpand,
  // NodeStage, NodePublish, NodeExpand, the group snapshot requests,
  // ControllerModifyVolume, GetSnapshot.
  EXPECT_GE(messages_with_secrets, 15);
}

}  // namespace
}  // namespace cellar

namespace cellar {
namespace {

TEST(RedactTest, DebugStringLeavesTheRequestAsItWas) {
  csi::v1::NodeStageVolumeRequest request;
  request.set_volume_id("v");
  (*request.mutable_secrets())["encryptionPassphrase"] = "do-not-print-me";
  const std::string text = RedactedDebugString(request);
  EXPECT_EQ(text.find("do-not-print-me"), std::string::npos);
  EXPECT_NE(text.find("[redacted: secrets]"), std::string::npos) << text;
  // The secrets were only moved aside for the printing.
  EXPECT_EQ(request.secrets().at("encryptionPassphrase"), "do-not-print-me");
  EXPECT_EQ(request.volume_id(), "v");
}

}  // namespace
}  // namespace cellar

namespace cellar {
namespace {

TEST(RedactTest, UnknownFieldsNeverReachTheLog) {
  csi::v1::NodeStageVolumeRequest request;
  request.set_volume_id("v");
  // A field this driver does not know (a newer spec's secret, say).
  request.GetReflection()->MutableUnknownFields(&request)->AddLengthDelimited(
      111, "UNKNOWN-FIELD-SECRET");
  const std::string text = RedactedDebugString(request);
  EXPECT_EQ(text.find("UNKNOWN-FIELD-SECRET"), std::string::npos) << text;
  EXPECT_NE(text.find("volume_id: \"v\""), std::string::npos) << text;
}

}  // namespace
}  // namespace cellar
