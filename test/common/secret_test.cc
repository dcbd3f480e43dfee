#include "src/common/secret.h"

#include <string>
#include <utility>

#include "csi.pb.h"
#include "gtest/gtest.h"

namespace cellar {
namespace {

TEST(SecretBytesTest, HoldsTheBytesAndMovesWithoutCopying) {
  SecretBytes short_key("k3y");  // would sit inline in a std::string
  const char* buffer = short_key.data();
  EXPECT_EQ(short_key.view(), "k3y");
  SecretBytes moved(std::move(short_key));
  // The same heap buffer changed hands: no second copy of the bytes exists.
  EXPECT_EQ(moved.data(), buffer);
  EXPECT_EQ(moved.view(), "k3y");
  EXPECT_TRUE(short_key.empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(short_key.data(), nullptr);
  SecretBytes assigned;
  assigned = std::move(moved);
  EXPECT_EQ(assigned.data(), buffer);
  EXPECT_EQ(assigned.size(), 3u);
}

TEST(SecretBytesTest, EmptyAndBinaryContents) {
  SecretBytes none;
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(none.size(), 0u);
  EXPECT_EQ(none.data(), nullptr);
  EXPECT_EQ(none.view(), "");

  SecretBytes blank("");
  EXPECT_TRUE(blank.empty());
  EXPECT_EQ(blank.size(), 0u);
  EXPECT_EQ(blank.view(), "");

  // Key material is bytes, not text: NULs and high bytes are kept exactly.
  const std::string raw("\0k\xff\0y\x80", 6);
  SecretBytes binary(raw);
  EXPECT_FALSE(binary.empty());
  EXPECT_EQ(binary.size(), 6u);
  EXPECT_EQ(binary.view(), raw);
  EXPECT_EQ(std::string(binary.data(), binary.size()), raw);
}

TEST(SecretBytesTest, MoveAssignmentReplacesAndSelfMoveKeeps) {
  SecretBytes held("old-passphrase");
  SecretBytes incoming("new");
  const char* incoming_buffer = incoming.data();
  held = std::move(incoming);
  EXPECT_EQ(held.view(), "new");
  EXPECT_EQ(held.size(), 3u);
  EXPECT_EQ(held.data(), incoming_buffer);
  EXPECT_TRUE(incoming.empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(incoming.data(), nullptr);

  // Assigning an empty secret leaves an empty one.
  held = SecretBytes();
  EXPECT_TRUE(held.empty());
  EXPECT_EQ(held.data(), nullptr);

  SecretBytes self("same");
  const char* self_buffer = self.data();
  SecretBytes& alias = self;
  self = std::move(alias);
  EXPECT_EQ(self.view(), "same");
  EXPECT_EQ(self.data(), self_buffer);

  // A moved-from secret can be given new bytes.
  incoming = SecretBytes("again");
  EXPECT_EQ(incoming.view(), "again");
}

TEST(SecretBytesTest, WipeStringOfAnEmptyString) {
  std::string empty;
  WipeString(&empty);
  EXPECT_TRUE(empty.empty());
  std::string cleared = "was here";
  cleared.clear();  // size 0, bytes still in the buffer
  WipeString(&cleared);
  EXPECT_TRUE(cleared.empty());
  for (size_t i = 0; i < std::string("was here").size(); ++i) {
    EXPECT_EQ(cleared.data()[i], '\0') << i;
  }
}

TEST(SecretBytesTest, WipeSecretMapEmptiesEveryEntry) {
  google::protobuf::Map<std::string, std::string> secrets;
  secrets["a"] = std::string(200, 'k');
  secrets["b"] = "";
  secrets["c"] = "short";
  WipeSecretMap(&secrets);
  EXPECT_TRUE(secrets.empty());
  // An empty map stays empty.
  WipeSecretMap(&secrets);
  EXPECT_TRUE(secrets.empty());
}

TEST(SecretBytesTest, WipeStringClearsInlineAndSpareBytes) {
  std::string inline_text = "short";
  WipeString(&inline_text);
  EXPECT_TRUE(inline_text.empty());
  // The inline buffer itself holds no byte of the old text.
  const std::string old = "short";
  for (size_t i = 0; i < old.size(); ++i)
    EXPECT_EQ(inline_text.data()[i], '\0');

  std::string shrunk(100, 's');
  shrunk.resize(10);
  WipeString(&shrunk);
  EXPECT_TRUE(shrunk.empty());
  for (size_t i = 0; i < 100; ++i) EXPECT_EQ(shrunk.data()[i], '\0') << i;
}

TEST(SecretBytesTest, WipeRequestSecretsEmptiesTheMap) {
  csi::v1::NodeStageVolumeRequest request;
  (*request.mutable_secrets())["encryptionPassphrase"] = std::string(44, 'k');
  (*request.mutable_secrets())["other"] = "x";
  request.set_volume_id("v");
  WipeRequestSecrets(&request);
  EXPECT_TRUE(request.secrets().empty());
  EXPECT_EQ(request.volume_id(), "v");
}

}  // namespace
}  // namespace cellar
