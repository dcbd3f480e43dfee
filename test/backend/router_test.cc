// BackendRouter: an id reaches its backend only when it is well formed, of
// the kind asked for, of this node and of a class this node has; every
// other id is NOT_FOUND saying which of these failed.
#include "src/backend/router.h"

#include <map>
#include <string>

#include "gtest/gtest.h"
#include "src/backend/loop/loop_backend.h"
#include "src/common/ids.h"
#include "test/fakes/fake_filesystem.h"
#include "test/fakes/fake_loop_device.h"

namespace cellar {
namespace {

constexpr char kNode[] = "node-1";

class RouterTest : public ::testing::Test {
 protected:
  RouterTest()
      : fast_({"/data/fast", 0, 0}, &fs_, &loops_),
        bulk_({"/data/bulk", 0, 0}, &fs_, &loops_),
        router_(kNode, {{"fast", &fast_}, {"bulk", &bulk_}}) {}

  FakeFileSystem fs_;
  FakeLoopDevices loops_;
  LoopBackend fast_;
  LoopBackend bulk_;
  BackendRouter router_;
};

TEST_F(RouterTest, EachKindReachesTheBackendOfItsClass) {
  for (IdKind kind : {IdKind::kVolume, IdKind::kSnapshot, IdKind::kGroup}) {
    absl::StatusOr<Backend*> fast =
        router_.Find(MakeId(kind, kNode, "fast", "x"), kind);
    ASSERT_TRUE(fast.ok()) << fast.status();
    EXPECT_EQ(*fast, &fast_);
    absl::StatusOr<Backend*> bulk =
        router_.Find(MakeId(kind, kNode, "bulk", "x"), kind);
    ASSERT_TRUE(bulk.ok()) << bulk.status();
    EXPECT_EQ(*bulk, &bulk_);
  }
}

TEST_F(RouterTest, AnotherKindIsNotAnIdOfTheKindAsked) {
  const std::string volume = MakeId(IdKind::kVolume, kNode, "fast", "x");
  const std::string snapshot = MakeId(IdKind::kSnapshot, kNode, "fast", "x");
  const std::string group = MakeId(IdKind::kGroup, kNode, "fast", "x");
  struct Case {
    std::string id;
    IdKind kind;
    std::string message;
  } cases[] = {
      {snapshot, IdKind::kVolume,
       "volume \"" + snapshot + "\" does not exist (not a cellar volume id)"},
      {group, IdKind::kVolume,
       "volume \"" + group + "\" does not exist (not a cellar volume id)"},
      {volume, IdKind::kSnapshot,
       "snapshot \"" + volume + "\" does not exist (not a cellar snapshot id)"},
      {volume, IdKind::kGroup,
       "group snapshot \"" + volume +
           "\" does not exist (not a cellar group snapshot id)"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Backend*> found = router_.Find(c.id, c.kind);
    EXPECT_EQ(found.status().code(), absl::StatusCode::kNotFound) << c.id;
    EXPECT_EQ(found.status().message(), c.message) << c.id;
  }
}

TEST_F(RouterTest, MalformedIdsAreNotFoundAndQuotedSafely) {
  for (const std::string& id :
       {std::string(""), std::string("reallyfakevolumeid"),
        std::string("../../etc/passwd"), std::string("v_node-1_fast_zz"),
        std::string("v_node-1_fast_") + std::string(32, 'A')}) {
    absl::StatusOr<Backend*> found = router_.Find(id, IdKind::kVolume);
    EXPECT_EQ(found.status().code(), absl::StatusCode::kNotFound) << id;
    EXPECT_EQ(found.status().message(),
              "volume \"" + id + "\" does not exist (not a cellar volume id)");
  }
  // Control characters are escaped, and a long id is cut to 128 bytes.
  EXPECT_EQ(
      router_.Find("a\nb\"c", IdKind::kSnapshot).status().message(),
      "snapshot \"a\\nb\\\"c\" does not exist (not a cellar snapshot id)");
  const std::string huge(5000, 'x');
  EXPECT_EQ(router_.Find(huge, IdKind::kVolume).status().message(),
            "volume \"" + std::string(128, 'x') +
                "\" does not exist (not a cellar volume id)");
}

TEST_F(RouterTest, AnotherNodesIdNamesThatNode) {
  const std::string id = MakeId(IdKind::kVolume, "node-2", "fast", "x");
  absl::StatusOr<Backend*> found = router_.Find(id, IdKind::kVolume);
  EXPECT_EQ(found.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(found.status().message(),
            "volume " + id + " belongs to node node-2");
  // A node whose id is hashed is still another node.
  const std::string hashed = MakeId(IdKind::kSnapshot, "Node-1", "fast", "x");
  found = router_.Find(hashed, IdKind::kSnapshot);
  EXPECT_EQ(found.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(found.status().message(),
            "snapshot " + hashed + " belongs to node " + NodeTag("Node-1"));
}

TEST_F(RouterTest, AClassThisNodeLacksIsNamed) {
  const std::string id = MakeId(IdKind::kGroup, kNode, "group", "nightly");
  absl::StatusOr<Backend*> found = router_.Find(id, IdKind::kGroup);
  EXPECT_EQ(found.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(found.status().message(),
            "group snapshot " + id +
                " is in device class group, which this node does not have");
}

TEST_F(RouterTest, AHashedNodeIdRoutesItsOwnIds) {
  // A node id that is not a plain host name is known by its hash.
  const std::string node = "Worker_7.EXAMPLE";
  BackendRouter router(node, {{"fast", &fast_}});
  absl::StatusOr<Backend*> found =
      router.Find(MakeId(IdKind::kVolume, node, "fast", "x"), IdKind::kVolume);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(*found, &fast_);
  // The router's own node-1 ids are not this router's.
  EXPECT_EQ(
      router.Find(MakeId(IdKind::kVolume, kNode, "fast", "x"), IdKind::kVolume)
          .status()
          .code(),
      absl::StatusCode::kNotFound);
}

TEST_F(RouterTest, NoBackendsFindsNothing) {
  BackendRouter empty(kNode, {});
  absl::StatusOr<Backend*> found =
      empty.Find(MakeId(IdKind::kVolume, kNode, "fast", "x"), IdKind::kVolume);
  EXPECT_EQ(found.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(found.status().message().find("device class fast"),
            std::string::npos)
      << found.status().message();
}

}  // namespace
}  // namespace cellar
