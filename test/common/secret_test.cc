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
