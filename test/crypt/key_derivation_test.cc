#include "src/crypt/key_derivation.h"

#include "gtest/gtest.h"

namespace cellar {
namespace {

constexpr char kVolume[] = "v_node-1_default_0123456789abcdef0123456789abcdef";

TEST(KeyDerivationTest, MatchesAnIndependentHkdf) {
  // openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt key:material-1
  //   -kdfopt salt:cellar.csi.io/luks2-passphrase/v1 -kdfopt info:<volume>
  //   HKDF
  auto passphrase = DeriveVolumePassphrase(SecretBytes("material-1"), kVolume);
  ASSERT_TRUE(passphrase.ok());
  EXPECT_EQ(passphrase->view(),
            "6a06bb65ca532663ad40d45b67be06bafdd0280b08856223b35d68b85f553ca4");
}

TEST(KeyDerivationTest, OnePassphrasePerVolumeAndMaterial) {
  auto a = DeriveVolumePassphrase(SecretBytes("material-1"), kVolume);
  auto b = DeriveVolumePassphrase(
      SecretBytes("material-1"),
      "v_node-1_default_0123456789abcdef0123456789abcdee");
  auto c = DeriveVolumePassphrase(SecretBytes("material-2"), kVolume);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_NE(a->view(), b->view());
  EXPECT_NE(a->view(), c->view());
  EXPECT_EQ(a->size(), 64u);
  // The material never shows through.
  EXPECT_EQ(a->view().find("material"), absl::string_view::npos);
}

TEST(KeyDerivationTest, EmptyMaterialIsRefused) {
  EXPECT_EQ(DeriveVolumePassphrase(SecretBytes(""), kVolume).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SecretBytesTest, MovesLeaveNothingBehind) {
  SecretBytes a("hunter2");
  SecretBytes b(std::move(a));
  EXPECT_TRUE(a.empty());  // NOLINT: checking the moved-from state
  EXPECT_EQ(b.view(), "hunter2");
  SecretBytes c;
  c = std::move(b);
  EXPECT_TRUE(b.empty());  // NOLINT
  EXPECT_EQ(c.view(), "hunter2");
}

}  // namespace
}  // namespace cellar
