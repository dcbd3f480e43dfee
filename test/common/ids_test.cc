// Ids: the CSI driver name rule (what GetPluginInfo reports and the
// metrics page labels with), node tags, device class names, and the exact
// form of every id made and accepted.
#include "src/common/ids.h"

#include <string>

#include "gtest/gtest.h"

namespace cellar {
namespace {

TEST(IdsTest, DriverNames) {
  for (const char* good : {"cellar.csi.io", "a", "A9", "x-y.z", "0.0"}) {
    EXPECT_TRUE(IsValidDriverName(good)) << good;
  }
  const std::string long_name(64, 'a');
  for (const std::string& bad :
       {std::string(""), std::string("-a"), std::string("a-"),
        std::string(".a"), std::string("a_b"), std::string("a b"),
        std::string("a\"b"), std::string("a\nb"), std::string("a\rb"),
        std::string("caf\xc3\xa9"), std::string("\xff"), long_name}) {
    EXPECT_FALSE(IsValidDriverName(bad)) << bad;
  }
  EXPECT_TRUE(IsValidDriverName(std::string(63, 'a')));
}

TEST(IdsTest, Sha256HexIsTheLowercaseDigest) {
  EXPECT_EQ(Sha256Hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(IdsTest, NodeTagKeepsAPlainHostNameAndHashesTheRest) {
  for (const std::string& kept :
       {std::string("node-1"), std::string("a"), std::string("10.0.0.7"),
        std::string("a.b-c"), std::string(40, 'n')}) {
    EXPECT_EQ(NodeTag(kept), kept);
  }
  // Upper case, '_', a leading '-', more than 40 characters, empty: "-" and
  // the first 16 hex digits of the SHA-256 of the node id.
  EXPECT_EQ(NodeTag("Node_1"), "-8a937c95b229d7cf");
  EXPECT_EQ(NodeTag(""), "-e3b0c44298fc1c14");
  for (const std::string& hashed :
       {std::string("-node"), std::string("Node"), std::string("a_b"),
        std::string("a b"), std::string("a/b"), std::string(41, 'n')}) {
    const std::string tag = NodeTag(hashed);
    EXPECT_EQ(tag, "-" + Sha256Hex(hashed).substr(0, 16)) << hashed;
  }
}

TEST(IdsTest, DeviceClassNames) {
  for (const std::string& good :
       {std::string("default"), std::string("a"), std::string("fast-1"),
        std::string("0"), std::string("-"), std::string(24, 'c')}) {
    EXPECT_TRUE(IsValidDeviceClass(good)) << good;
  }
  for (const std::string& bad :
       {std::string(""), std::string("Fast"), std::string("a_b"),
        std::string("a.b"), std::string("a/b"), std::string("a b"),
        std::string(25, 'c')}) {
    EXPECT_FALSE(IsValidDeviceClass(bad)) << bad;
  }
}

// The unique part must never change between versions: a create retried
// after an upgrade has to find the volume the older driver made.
TEST(IdsTest, MakeIdIsStableAndSeparatesKindsNodesAndClasses) {
  EXPECT_EQ(MakeId(IdKind::kVolume, "node-1", "default", "pvc-1"),
            "v_node-1_default_f0a0adc42702e8089d70969322dc7044");
  EXPECT_EQ(MakeId(IdKind::kSnapshot, "node-1", "default", "pvc-1"),
            "s_node-1_default_937e3cc5b9667572ad49623db1c11aa7");
  EXPECT_EQ(MakeId(IdKind::kGroup, "Node_1", "group", "nightly"),
            "g_-8a937c95b229d7cf_group_d160c7406e956a2a1baddb5027dca049");
  const std::string base = MakeId(IdKind::kVolume, "node-1", "default", "x");
  EXPECT_EQ(MakeId(IdKind::kVolume, "node-1", "default", "x"), base);
  const std::string unique = ParseId(base)->unique;
  for (const std::string& other :
       {MakeId(IdKind::kVolume, "node-1", "default", "y"),
        MakeId(IdKind::kSnapshot, "node-1", "default", "x"),
        MakeId(IdKind::kVolume, "node-2", "default", "x"),
        MakeId(IdKind::kVolume, "node-1", "fast", "x")}) {
    absl::StatusOr<ParsedId> parsed = ParseId(other);
    ASSERT_TRUE(parsed.ok()) << other << ": " << parsed.status();
    EXPECT_NE(parsed->unique, unique) << other;
  }
}

TEST(IdsTest, FormatAndParseRoundTrip) {
  ParsedId id;
  id.kind = IdKind::kSnapshot;
  id.node_tag = "-0123456789abcdef";
  id.device_class = "fast";
  id.unique = std::string(32, 'e');
  const std::string text = FormatId(id);
  EXPECT_EQ(text, "s_-0123456789abcdef_fast_" + std::string(32, 'e'));
  absl::StatusOr<ParsedId> parsed = ParseId(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->kind, IdKind::kSnapshot);
  EXPECT_EQ(parsed->node_tag, "-0123456789abcdef");
  EXPECT_EQ(parsed->device_class, "fast");
  EXPECT_EQ(parsed->unique, std::string(32, 'e'));

  for (IdKind kind : {IdKind::kVolume, IdKind::kSnapshot, IdKind::kGroup}) {
    const std::string made = MakeId(kind, "Some.Host_Name", "default", "seed");
    absl::StatusOr<ParsedId> back = ParseId(made);
    ASSERT_TRUE(back.ok()) << made << ": " << back.status();
    EXPECT_EQ(back->kind, kind);
    EXPECT_EQ(back->node_tag, NodeTag("Some.Host_Name"));
    EXPECT_EQ(back->device_class, "default");
    EXPECT_EQ(FormatId(*back), made);
  }
  // The longest id: a 40-character node, a 24-character class.
  const std::string longest =
      MakeId(IdKind::kVolume, std::string(40, 'n'), std::string(24, 'c'), "");
  EXPECT_EQ(longest.size(), 100u);
  EXPECT_EQ(longest.size(), kMaxIdLength);
  // One byte more is not an id of this driver.
  EXPECT_FALSE(ParseId(longest + "0").ok());
  EXPECT_TRUE(ParseId(longest).ok());
}

TEST(IdsTest, ParseIdRefusesEverythingElseWithTheReason) {
  const std::string hex(32, 'a');
  struct Case {
    std::string text;
    std::string message;
  } cases[] = {
      {"", "empty id"},
      {std::string(101, 'v'), "id is 101 bytes, longer than 100"},
      {"v_node_default", "id is not of the form K_NODE_CLASS_UNIQUE"},
      {"v_node_default_" + hex + "_x",
       "id is not of the form K_NODE_CLASS_UNIQUE"},
      {"v_no_de_default_" + hex, "id is not of the form K_NODE_CLASS_UNIQUE"},
      {"x_node_default_" + hex, "id kind is not v, s or g"},
      {"V_node_default_" + hex, "id kind is not v, s or g"},
      {"vv_node_default_" + hex, "id kind is not v, s or g"},
      {"_node_default_" + hex, "id kind is not v, s or g"},
      {"v__default_" + hex, "id has an invalid node part"},
      {"v_Node_default_" + hex, "id has an invalid node part"},
      {"v_-node_default_" + hex, "id has an invalid node part"},
      {"v_" + std::string(41, 'n') + "_default_" + hex,
       "id has an invalid node part"},
      // A hash tag is "-" and exactly 16 lowercase hex digits.
      {"v_-0123456789abcde_default_" + hex, "id has an invalid node part"},
      {"v_-0123456789ABCDEF_default_" + hex, "id has an invalid node part"},
      {"v_-0123456789abcdef0_default_" + hex, "id has an invalid node part"},
      {"v_node__" + hex, "id has an invalid device class part"},
      {"v_node_Default_" + hex, "id has an invalid device class part"},
      {"v_node_a.b_" + hex, "id has an invalid device class part"},
      {"v_node_" + std::string(25, 'c') + "_" + hex,
       "id has an invalid device class part"},
      {"v_node_default_", "id has an invalid unique part"},
      {"v_node_default_" + std::string(31, 'a'),
       "id has an invalid unique part"},
      {"v_node_default_" + std::string(33, 'a'),
       "id has an invalid unique part"},
      {"v_node_default_" + std::string(32, 'A'),
       "id has an invalid unique part"},
      {"v_node_default_" + std::string(31, 'a') + "g",
       "id has an invalid unique part"},
      {"v_node_default_../../../../etc/passwd_x",
       "id is not of the form K_NODE_CLASS_UNIQUE"},
      {"v_node_default_" + std::string(30, 'a') + "/.",
       "id has an invalid unique part"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<ParsedId> parsed = ParseId(c.text);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument)
        << c.text;
    EXPECT_EQ(parsed.status().message(), c.message) << c.text;
  }
  // 100 bytes is not too long in itself: the node part is what is wrong.
  const std::string long_node =
      "v_" + std::string(43, 'n') + "_" + std::string(21, 'c') + "_" + hex;
  ASSERT_EQ(long_node.size(), 100u);
  EXPECT_EQ(ParseId(long_node).status().message(),
            "id has an invalid node part");
  EXPECT_TRUE(ParseId("g_-0123456789abcdef_group_" + hex).ok());
}

TEST(IdsTest, CryptMappingNameUsesTheUniquePart) {
  const std::string id = MakeId(IdKind::kVolume, "node-1", "default", "pvc-1");
  EXPECT_EQ(CryptMappingName(id), "cellar-f0a0adc42702e8089d70969322dc7044");
  // Not an id: still a fixed-length name of safe characters, from a digest.
  EXPECT_EQ(CryptMappingName("not-an-id"),
            "cellar-4e60bf522c63daf90c048a963f1114ab");
  EXPECT_EQ(CryptMappingName(std::string(500, '/')).size(), 7u + 32u);
}

}  // namespace
}  // namespace cellar
