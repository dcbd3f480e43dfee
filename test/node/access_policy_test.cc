#include "src/node/access_policy.h"

#include "gtest/gtest.h"

namespace cellar {
namespace {

google::protobuf::Map<std::string, std::string> PodContext(
    const std::string& ns, const std::string& sa = "default") {
  google::protobuf::Map<std::string, std::string> context;
  context["csi.storage.k8s.io/pod.namespace"] = ns;
  context["csi.storage.k8s.io/pod.name"] = "web-0";
  context["csi.storage.k8s.io/pod.uid"] = "1234-abcd";
  context["csi.storage.k8s.io/serviceAccount.name"] = sa;
  return context;
}

VolumeRecord Bound(const std::string& ns) {
  VolumeRecord record;
  record.set_volume_id("v_n_default_00000000000000000000000000000000");
  record.set_bound_namespace(ns);
  return record;
}

TEST(AccessPolicyTest, UnboundVolumesAdmitEveryone) {
  VolumeRecord record;
  EXPECT_TRUE(CheckPublishAllowed(record, PodIdentity()).ok());
  EXPECT_TRUE(
      CheckPublishAllowed(record, PodIdentityFromContext(PodContext("x")))
          .ok());
}

TEST(AccessPolicyTest, BoundNamespace) {
  const VolumeRecord record = Bound("team-a");
  EXPECT_TRUE(
      CheckPublishAllowed(record, PodIdentityFromContext(PodContext("team-a")))
          .ok());
  absl::Status other =
      CheckPublishAllowed(record, PodIdentityFromContext(PodContext("team-b")));
  EXPECT_EQ(other.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(other.message().find("team-b/web-0"), std::string::npos) << other;
  EXPECT_NE(other.message().find("bound to namespace \"team-a\""),
            std::string::npos);
  // No pod identity at all on a bound volume.
  EXPECT_EQ(CheckPublishAllowed(record, PodIdentity()).code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(AccessPolicyTest, ForgedContextKeysDoNotCount) {
  const VolumeRecord record = Bound("team-a");
  // A hand-made PV claims the right namespace under every other key.
  google::protobuf::Map<std::string, std::string> context =
      PodContext("team-b");
  context["namespace"] = "team-a";
  context["csi.storage.k8s.io/pvc/namespace"] = "team-a";
  context["csi.storage.k8s.io/pod.namespace "] = "team-a";
  context["CSI.STORAGE.K8S.IO/POD.NAMESPACE"] = "team-a";
  context["bound_namespace"] = "team-a";
  EXPECT_EQ(CheckPublishAllowed(record, PodIdentityFromContext(context)).code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(AccessPolicyTest, AllowedNamespacesWiden) {
  VolumeRecord record = Bound("team-a");
  record.add_allowed_namespaces("team-b");
  EXPECT_TRUE(
      CheckPublishAllowed(record, PodIdentityFromContext(PodContext("team-b")))
          .ok());
  EXPECT_FALSE(
      CheckPublishAllowed(record, PodIdentityFromContext(PodContext("team-c")))
          .ok());
}

TEST(AccessPolicyTest, AllowedServiceAccountsAreExact) {
  VolumeRecord record = Bound("team-a");
  record.add_allowed_service_accounts("team-a/db");
  record.add_allowed_service_accounts("ops/backup");
  EXPECT_TRUE(CheckPublishAllowed(
                  record, PodIdentityFromContext(PodContext("team-a", "db")))
                  .ok());
  EXPECT_TRUE(CheckPublishAllowed(
                  record, PodIdentityFromContext(PodContext("ops", "backup")))
                  .ok());
  // Same namespace, other account: narrowed away.
  EXPECT_EQ(CheckPublishAllowed(
                record, PodIdentityFromContext(PodContext("team-a", "web")))
                .code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(AccessPolicyTest, ARefusalNamesItsRule) {
  VolumeRecord record = Bound("team-a");
  std::string rule = "unset";
  EXPECT_TRUE(CheckPublishAllowed(
                  record, PodIdentityFromContext(PodContext("team-a")), &rule)
                  .ok());
  EXPECT_EQ(rule, "unset");  // untouched when admitted
  EXPECT_FALSE(CheckPublishAllowed(record, PodIdentity(), &rule).ok());
  EXPECT_EQ(rule, "no_pod_identity");
  EXPECT_FALSE(CheckPublishAllowed(
                   record, PodIdentityFromContext(PodContext("team-b")), &rule)
                   .ok());
  EXPECT_EQ(rule, "namespace");
  record.add_allowed_service_accounts("team-a/db");
  EXPECT_FALSE(CheckPublishAllowed(
                   record, PodIdentityFromContext(PodContext("team-a")), &rule)
                   .ok());
  EXPECT_EQ(rule, "service_account");
  EXPECT_EQ(PublishRules(),
            (std::vector<std::string>{"no_pod_identity", "service_account",
                                      "namespace"}));
}

TEST(AccessPolicyTest, PodUidFromTargetPath) {
  EXPECT_EQ(PodUidFromTargetPath("/var/lib/kubelet/pods/1234-abcd/volumes/"
                                 "kubernetes.io~csi/pvc-1/mount"),
            "1234-abcd");
  EXPECT_EQ(PodUidFromTargetPath("/var/lib/kubelet/plugins/x"), "");
}

TEST(AccessPolicyTest, PolicyForCopy) {
  AccessPolicy open;
  AccessPolicy source;
  source.bound_namespace = "a";
  source.allowed_namespaces = {"c"};
  AccessPolicy asked;
  // Unrestricted source: the request's own policy.
  asked.bound_namespace = "b";
  EXPECT_EQ(PolicyForCopy(open, asked, "s")->bound_namespace, "b");
  // Restricted: inherits when nothing is asked; an admitted request gets
  // its own, narrower policy.
  absl::StatusOr<AccessPolicy> inherited =
      PolicyForCopy(source, AccessPolicy(), "s");
  ASSERT_TRUE(inherited.ok());
  EXPECT_EQ(inherited->bound_namespace, "a");
  EXPECT_EQ(inherited->allowed_namespaces, std::vector<std::string>{"c"});
  for (const std::string& ns : {"a", "c"}) {
    AccessPolicy request;
    request.bound_namespace = ns;
    absl::StatusOr<AccessPolicy> copy = PolicyForCopy(source, request, "s");
    ASSERT_TRUE(copy.ok()) << ns;
    EXPECT_EQ(copy->bound_namespace, ns);
    EXPECT_TRUE(copy->allowed_namespaces.empty());
  }
  // Refused: another namespace, or lists wider than the source's.
  AccessPolicy other;
  other.bound_namespace = "b";
  EXPECT_EQ(PolicyForCopy(source, other, "s").status().code(),
            absl::StatusCode::kPermissionDenied);
  AccessPolicy wide;
  wide.allowed_namespaces = {"b"};
  EXPECT_EQ(PolicyForCopy(source, wide, "s").status().code(),
            absl::StatusCode::kPermissionDenied);
  AccessPolicy wide_sa;
  wide_sa.allowed_service_accounts = {"b/default"};
  EXPECT_EQ(PolicyForCopy(source, wide_sa, "s").status().code(),
            absl::StatusCode::kPermissionDenied);
  AccessPolicy narrow_sa;
  narrow_sa.allowed_service_accounts = {"c/default"};
  EXPECT_TRUE(PolicyForCopy(source, narrow_sa, "s").ok());
  // A source restricted to service accounts admits only their namespaces.
  AccessPolicy by_sa;
  by_sa.bound_namespace = "a";
  by_sa.allowed_service_accounts = {"d/backup"};
  EXPECT_FALSE(by_sa.AdmitsNamespace("a"));
  EXPECT_TRUE(by_sa.AdmitsNamespace("d"));
  AccessPolicy other_sa;
  other_sa.allowed_service_accounts = {"d/other"};
  EXPECT_EQ(PolicyForCopy(by_sa, other_sa, "s").status().code(),
            absl::StatusCode::kPermissionDenied);
  // A copy for the accounts' namespace stays bound by the accounts: never
  // every pod of "d".
  AccessPolicy in_d;
  in_d.bound_namespace = "d";
  absl::StatusOr<AccessPolicy> copy_d = PolicyForCopy(by_sa, in_d, "s");
  ASSERT_TRUE(copy_d.ok());
  EXPECT_EQ(copy_d->allowed_service_accounts,
            std::vector<std::string>{"d/backup"});
  VolumeRecord record;
  SetPolicy(*copy_d, &record);
  PodIdentity other_pod;
  other_pod.namespace_name = "d";
  other_pod.service_account = "default";
  EXPECT_EQ(CheckPublishAllowed(record, other_pod).code(),
            absl::StatusCode::kPermissionDenied);
  other_pod.service_account = "backup";
  EXPECT_TRUE(CheckPublishAllowed(record, other_pod).ok());
}

}  // namespace
}  // namespace cellar
