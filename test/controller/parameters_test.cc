#include "src/controller/parameters.h"

#include "gtest/gtest.h"

namespace cellar {
namespace {

google::protobuf::Map<std::string, std::string> Params(
    std::initializer_list<std::pair<const std::string, std::string>> list) {
  google::protobuf::Map<std::string, std::string> out;
  for (const auto& [k, v] : list) out[k] = v;
  return out;
}

TEST(ParametersTest, DefaultsWhenEmpty) {
  auto params = ParseVolumeParameters({});
  ASSERT_TRUE(params.ok());
  EXPECT_EQ(params->allocation, Allocation::kThin);
  EXPECT_EQ(params->fs_type, "");
  EXPECT_FALSE(params->encrypted);
}

TEST(ParametersTest, AcceptsKnownKeysAndSidecarKeys) {
  auto params = ParseVolumeParameters(Params({
      {"fsType", "xfs"},
      {"allocation", "thick"},
      {"deviceClass", "fast-1"},
      {"encrypted", "false"},
      {"allowedNamespaces", "team-a, team-b"},
      {"allowedServiceAccounts", "team-a/builder"},
      {"csi.storage.k8s.io/pvc/namespace", "team-a"},
      {"csi.storage.k8s.io/pvc/name", "data"},
      {"csi.storage.k8s.io/pv/name", "pvc-123"},
  }));
  ASSERT_TRUE(params.ok()) << params.status();
  EXPECT_EQ(params->fs_type, "xfs");
  EXPECT_EQ(params->allocation, Allocation::kThick);
  EXPECT_EQ(params->device_class, "fast-1");
  EXPECT_EQ(params->pvc_namespace, "team-a");
  EXPECT_EQ(params->allowed_namespaces,
            (std::vector<std::string>{"team-a", "team-b"}));
  EXPECT_EQ(params->allowed_service_accounts,
            std::vector<std::string>{"team-a/builder"});
}

TEST(ParametersTest, RejectsWithThePreciseKey) {
  struct Case {
    std::string key, value, expect;
  } cases[] = {
      {"fstype", "ext4", "unknown parameter \"fstype\""},
      {"fsType", "btrfs", "fsType"},
      {"allocation", "fat", "allocation"},
      {"deviceClass", "UPPER", "deviceClass"},
      {"deviceClass", "../etc", "deviceClass"},
      {"encrypted", "yes", "encrypted"},
      {"allowedNamespaces", "Bad_NS", "allowedNamespaces"},
      {"allowedServiceAccounts", "nosa", "allowedServiceAccounts"},
      {"csi.storage.k8s.io/pvc/namespace", "../x", "pvc/namespace"},
      {std::string("nul\0key", 7), "x", "unknown parameter"},
  };
  for (const Case& c : cases) {
    auto params = ParseVolumeParameters(Params({{c.key, c.value}}));
    ASSERT_FALSE(params.ok()) << c.key;
    EXPECT_EQ(params.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(params.status().message().find(c.expect), std::string::npos)
        << params.status();
  }
}

TEST(ParametersTest, KubernetesNames) {
  EXPECT_TRUE(IsValidKubernetesName("default"));
  EXPECT_TRUE(IsValidKubernetesName("team-a.b"));
  EXPECT_FALSE(IsValidKubernetesName(""));
  EXPECT_FALSE(IsValidKubernetesName("-a"));
  EXPECT_FALSE(IsValidKubernetesName("a-"));
  EXPECT_FALSE(IsValidKubernetesName("A"));
  EXPECT_FALSE(IsValidKubernetesName("a/b"));
  EXPECT_FALSE(IsValidKubernetesName(std::string(254, 'a')));
}

}  // namespace
}  // namespace cellar
