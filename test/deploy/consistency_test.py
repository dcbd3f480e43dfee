#!/usr/bin/python3
"""Consistency of deploy/ with the binary and with itself.

- Every flag the manifests pass to cellar-csi is listed by the built binary's
  --help, with a value from the listed choices where --help lists them.
- The driver name agrees across the CSIDriver, cellar-csi, the StorageClasses,
  the snapshot classes and the kubelet plugin paths.
- The socket paths agree: the driver's --endpoint, node-driver-registrar's
  --kubelet-registration-path and every sidecar's --csi-address name the same
  socket once resolved through the pod's volumes.
- StorageClasses, images, resources, security contexts, RBAC and the
  kustomizations follow the rules of docs/operations.md.
- Snapshots are distributed: one csi-snapshotter per node with
  --node-deployment and the sidecar's RBAC (group snapshot rules exactly when
  its CSIVolumeGroupSnapshot gate is on), the snapshot classes pass only
  parameters the driver accepts, and the base applies without the snapshot
  CRDs.
- The sidecar versions of docs/operations.md are the pinned images.
- deploy/Dockerfile stays in step with tools/setup.

The checks run over the files as written and, where kubectl is installed,
over the output of `kubectl kustomize` for the base and every overlay.
"""

import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import deploy_manifests as dm  # noqa: E402

# The StorageClass parameters src/controller/parameters.cc accepts; keys
# under csi.storage.k8s.io/ belong to the sidecars and are accepted too.
KNOWN_PARAMETERS = {
    "fsType",
    "allocation",
    "deviceClass",
    "encrypted",
    "volumeRootMode",
    "allowedNamespaces",
    "allowedServiceAccounts",
}
SIDECAR_PREFIX = "csi.storage.k8s.io/"
SNAPSHOT_CLASS_KINDS = ("VolumeSnapshotClass", "VolumeGroupSnapshotClass")
SNAPSHOTTER_IMAGE = "registry.k8s.io/sig-storage/csi-snapshotter"
GROUP_GATE = "CSIVolumeGroupSnapshot"
SIDECAR_REGISTRY = "registry.k8s.io/sig-storage/"

EXPECTED_CSIDRIVER_SPEC = {
    "attachRequired": False,
    "podInfoOnMount": True,
    "fsGroupPolicy": "File",
    "storageCapacity": True,
    "seLinuxMount": True,
    "volumeLifecycleModes": ["Persistent"],
}

HELP_LINE = re.compile(r'^\s+--([a-z0-9][a-z0-9-]*) \((.*)\); default: "(.*)"$')


def binary_help():
    """{flag: (description, default)} from the built cellar-csi --help."""
    binary = os.path.join(dm.ROOT, "src", "cellar-csi")
    if not os.path.exists(binary):
        binary = os.path.join(dm.ROOT, "bazel-bin", "src", "cellar-csi")
    proc = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        raise AssertionError("cellar-csi --help exited %d: %s" % (proc.returncode, proc.stderr))
    flags = {}
    for line in proc.stdout.splitlines():
        m = HELP_LINE.match(line)
        if m:
            flags[m.group(1)] = (m.group(2), m.group(3))
    if len(flags) < 5:
        raise AssertionError("could not read the flags from --help:\n" + proc.stdout)
    return flags


MANIFESTS = dm.Manifests()
HELP = binary_help()


def object_sets():
    """[(label, objects)]: the files as written, then each rendering."""
    sets = [("deploy/ as written", [o for _, _, o in MANIFESTS.objects()])]
    for d in MANIFESTS.deployable_dirs():
        objs = dm.render(d)
        if objs is not None:
            sets.append(("kubectl kustomize " + dm.rel(d), objs))
    return sets


def rendered_sets():
    return object_sets()[1:]


def workloads(objs, kind):
    return [o for o in objs if o.get("kind") == kind]


def where(obj, container=None):
    text = "%s/%s" % (obj.get("kind"), obj.get("metadata", {}).get("name"))
    if container is not None:
        text += " container %s" % container.get("name")
    return text


def help_default(flag):
    return HELP[flag][1] if flag in HELP else None


def cellar_flag(container, flag):
    value = dm.flag_value(container, flag)
    return value if value is not None else help_default(flag)


def patch_args_ops():
    """(patch path, op, target container) for JSON patch ops that add an
    argument to a container's args."""
    out = []
    for path, op in MANIFESTS.json_patch_ops():
        m = re.match(r"^/spec/template/spec/containers/(\d+)/args/(-|\d+)$", op.get("path", ""))
        if op.get("op") in ("add", "replace") and m:
            out.append((path, op, int(m.group(1))))
    return out


def patch_container_ops():
    """(patch path, container) for JSON patch ops that add a container."""
    out = []
    for path, op in MANIFESTS.json_patch_ops():
        if op.get("op") == "add" and re.match(
            r"^/spec/template/spec/(init)?[cC]ontainers/(-|\d+)$", op.get("path", "")
        ):
            out.append((path, op["value"]))
    return out


def base_object(kind, name):
    for _, _, o in MANIFESTS.objects():
        if o.get("kind") == kind and o.get("metadata", {}).get("name") == name:
            return o
    return None


def device_classes(value):
    """Class names of a --device-classes value (the first is the default)."""
    if not value:
        return ["default"]
    return [entry.split("=", 1)[0] for entry in value.split(",") if entry]


class FlagsTest(unittest.TestCase):
    def cellar_arg_lists(self):
        """(where, [args]) of every cellar-csi container and argument patch."""
        out = []
        for label, objs in object_sets():
            for o in objs:
                for c in dm.containers(o):
                    if dm.is_cellar(c):
                        out.append(("%s: %s" % (label, where(o, c)), c.get("args", []) + c.get("command", [])[1:]))
        for path, op, index in patch_args_ops():
            target = MANIFESTS.patch_targets.get(path, {})
            obj = base_object(target.get("kind"), target.get("name"))
            self.assertIsNotNone(obj, "%s: patch target %s not found" % (dm.rel(path), target))
            cs = dm.containers(obj)
            self.assertLess(index, len(cs), "%s: no container %d in %s" % (dm.rel(path), index, where(obj)))
            if dm.is_cellar(cs[index]):
                values = op["value"] if isinstance(op["value"], list) else [op["value"]]
                out.append(("%s (patch of %s)" % (dm.rel(path), where(obj, cs[index])), values))
        return out

    def test_binary_help_lists_flags(self):
        for flag in ("endpoint", "mode", "node-id", "driver-name", "data-dir", "kubelet-dir"):
            self.assertIn(flag, HELP, "cellar-csi --help does not list --%s" % flag)

    def test_every_cellar_flag_exists_in_the_binary(self):
        lists = self.cellar_arg_lists()
        self.assertGreaterEqual(len(lists), 2, "no cellar-csi containers found")
        problems = []
        for place, args in lists:
            for arg in args:
                if not str(arg).startswith("-"):
                    problems.append("%s: %r is not a --flag=value argument" % (place, arg))
                    continue
                flags = dm.parse_flags([arg])
                if not flags:
                    problems.append("%s: cannot parse %r" % (place, arg))
                    continue
                name, _ = flags[0]
                if not str(arg).startswith("--"):
                    problems.append("%s: %r: spell flags with two dashes" % (place, arg))
                if name not in HELP:
                    problems.append("%s: --%s is not a flag of cellar-csi (--help lists: %s)"
                                    % (place, name, ", ".join(sorted(HELP))))
        self.assertEqual(problems, [], "\n".join(problems))

    def test_flag_values_are_among_the_listed_choices(self):
        problems = []
        for place, args in self.cellar_arg_lists():
            for name, value in dm.parse_flags(args):
                if name not in HELP or value is None:
                    continue
                m = re.fullmatch(r"([a-z]+(?:\|[a-z]+)+)", HELP[name][0])
                if m and "$(" not in value and value not in m.group(1).split("|"):
                    problems.append("%s: --%s=%s is not one of %s" % (place, name, value, m.group(1)))
        self.assertEqual(problems, [], "\n".join(problems))

    def test_mode_matches_the_workload(self):
        want = {"DaemonSet": "node", "StatefulSet": "controller"}
        seen = set()
        for label, objs in object_sets():
            for o in objs:
                for c in dm.containers(o):
                    if dm.is_cellar(c) and o["kind"] in want:
                        seen.add(o["kind"])
                        self.assertEqual(dm.flag_value(c, "mode"), want[o["kind"]],
                                         "%s: %s must run --mode=%s" % (label, where(o, c), want[o["kind"]]))
        self.assertEqual(seen, set(want), "expected a node DaemonSet and a controller StatefulSet")

    def test_node_id_comes_from_the_downward_api(self):
        for label, objs in object_sets():
            for o in workloads(objs, "DaemonSet"):
                for c in dm.containers(o):
                    if dm.is_cellar(c):
                        self.assertEqual(dm.flag_value(c, "node-id"), "$(NODE_NAME)",
                                         "%s: %s" % (label, where(o, c)))
                    if dm.is_cellar(c) or c["name"] in ("csi-provisioner", "csi-snapshotter"):
                        self.assertEqual(dm.env_field_ref(c, "NODE_NAME"), "spec.nodeName",
                                         "%s: %s needs NODE_NAME from spec.nodeName" % (label, where(o, c)))

    def test_argument_variables_are_defined(self):
        problems = []
        for label, objs in object_sets():
            for o in objs:
                for c in dm.containers(o):
                    for arg in c.get("args", []) + c.get("command", []):
                        for var in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", str(arg)):
                            if var not in dm.env_names(c):
                                problems.append("%s: %s uses $(%s) but defines no such env"
                                                % (label, where(o, c), var))
        self.assertEqual(problems, [], "\n".join(problems))


class NamesAndPathsTest(unittest.TestCase):
    def test_csidriver_spec(self):
        for label, objs in object_sets():
            drivers = [o for o in objs if o.get("kind") == "CSIDriver"]
            self.assertEqual(len(drivers), 1, "%s: want exactly one CSIDriver" % label)
            d = drivers[0]
            self.assertEqual(d["metadata"]["name"], dm.DRIVER, label)
            self.assertEqual(d["spec"], EXPECTED_CSIDRIVER_SPEC, label)

    def test_driver_name_agrees_everywhere(self):
        problems = []
        for label, objs in object_sets():
            for o in objs:
                kind = o.get("kind")
                if kind == "StorageClass" and o.get("provisioner") != dm.DRIVER:
                    problems.append("%s: %s provisioner %r" % (label, where(o), o.get("provisioner")))
                if kind in SNAPSHOT_CLASS_KINDS and o.get("driver") != dm.DRIVER:
                    problems.append("%s: %s driver %r" % (label, where(o), o.get("driver")))
                for c in dm.containers(o):
                    if dm.is_cellar(c) and cellar_flag(c, "driver-name") != dm.DRIVER:
                        problems.append("%s: %s --driver-name %r" % (label, where(o, c),
                                                                     cellar_flag(c, "driver-name")))
        self.assertEqual(problems, [], "\n".join(problems))

    def check_node_plugin(self, label, ds):
        problems = []
        cs = dm.containers(ds)
        cellar = [c for c in cs if dm.is_cellar(c)]
        if len(cellar) != 1:
            return ["%s: %s: want one cellar-csi container" % (label, where(ds))]
        cellar = cellar[0]
        if dm.pod_spec(ds)["containers"][0] is not cellar:
            problems.append("%s: %s: cellar-csi must be container 0 (patched by index)" % (label, where(ds)))
        kubelet_dir = cellar_flag(cellar, "kubelet-dir")
        plugin_dir = "%s/plugins/%s" % (kubelet_dir, dm.DRIVER)
        socket = plugin_dir + "/csi.sock"
        endpoint = dm.unix_path(cellar_flag(cellar, "endpoint"))
        resolved = dm.resolve_in_pod(ds, cellar, endpoint) if endpoint else None
        if resolved != ("host", socket):
            problems.append("%s: cellar-csi --endpoint %s is %s on the host, want %s"
                            % (label, endpoint, resolved, socket))
        registrars = [c for c in cs if "node-driver-registrar" in c.get("image", "")]
        if len(registrars) != 1:
            problems.append("%s: want one node-driver-registrar" % label)
        for r in registrars:
            if dm.flag_value(r, "kubelet-registration-path") != socket:
                problems.append("%s: registrar --kubelet-registration-path %r, want %s"
                                % (label, dm.flag_value(r, "kubelet-registration-path"), socket))
            reg = dm.resolve_in_pod(ds, r, dm.flag_value(r, "plugin-registration-path") or "/registration")
            if reg != ("host", kubelet_dir + "/plugins_registry"):
                problems.append("%s: registrar's registration dir is %s, want %s/plugins_registry"
                                % (label, reg, kubelet_dir))
        for c in cs:
            if dm.is_cellar(c):
                continue
            address = dm.flag_value(c, "csi-address")
            if address is None:
                problems.append("%s: %s has no --csi-address" % (label, where(ds, c)))
                continue
            got = dm.resolve_in_pod(ds, c, dm.unix_path(address))
            if got != ("host", socket):
                problems.append("%s: %s --csi-address %s is %s on the host, want %s"
                                % (label, where(ds, c), address, got, socket))
        # The kubelet dir and /dev with Bidirectional propagation, the data
        # dir at the same path inside and out.
        for path, wanted in ((kubelet_dir, "Bidirectional"), ("/dev", "Bidirectional"),
                             (cellar_flag(cellar, "data-dir"), None)):
            mounts = [m for m in cellar.get("volumeMounts", []) if m["mountPath"] == path]
            if not mounts:
                problems.append("%s: cellar-csi does not mount %s" % (label, path))
                continue
            if dm.resolve_in_pod(ds, cellar, path) != ("host", path):
                problems.append("%s: %s in cellar-csi is not the host's %s" % (label, path, path))
            if wanted and mounts[0].get("mountPropagation") != wanted:
                problems.append("%s: %s must be mounted with %s propagation" % (label, path, wanted))
        for lvm in ("/run/lvm", "/etc/lvm"):
            if dm.resolve_in_pod(ds, cellar, lvm) != ("host", lvm):
                problems.append("%s: cellar-csi must see the host's %s" % (label, lvm))
        problems += self.check_liveness(label, ds, cellar)
        return problems

    def check_controller(self, label, sts):
        problems = []
        cs = dm.containers(sts)
        cellar = [c for c in cs if dm.is_cellar(c)]
        if len(cellar) != 1:
            return ["%s: %s: want one cellar-csi container" % (label, where(sts))]
        cellar = cellar[0]
        endpoint = dm.unix_path(cellar_flag(cellar, "endpoint"))
        socket = dm.resolve_in_pod(sts, cellar, endpoint) if endpoint else None
        if not socket or socket[0] != "volume":
            problems.append("%s: the controller socket %s must be on a shared pod volume" % (label, endpoint))
        for c in cs:
            if dm.is_cellar(c):
                continue
            address = dm.flag_value(c, "csi-address")
            got = dm.resolve_in_pod(sts, c, dm.unix_path(address)) if address else None
            if got != socket:
                problems.append("%s: %s --csi-address %s is %s, want %s"
                                % (label, where(sts, c), address, got, socket))
        resizers = [c for c in cs if "csi-resizer" in c.get("image", "")]
        if len(resizers) != 1:
            problems.append("%s: want one csi-resizer in %s" % (label, where(sts)))
        for r in resizers:
            if dm.flag_value(r, "leader-election") not in ("", None, "true") or \
                    "leader-election" not in dict(dm.parse_flags(r.get("args", []))):
                problems.append("%s: csi-resizer must run with --leader-election" % label)
        problems += self.check_liveness(label, sts, cellar)
        return problems

    def check_liveness(self, label, obj, cellar):
        """cellar-csi's liveness probe must hit the livenessprobe sidecar."""
        probes = [c for c in dm.containers(obj) if "livenessprobe" in c.get("image", "")]
        if len(probes) != 1:
            return ["%s: %s: want one livenessprobe sidecar" % (label, where(obj))]
        endpoint = dm.flag_value(probes[0], "http-endpoint") or ":" + (dm.flag_value(probes[0], "health-port") or "9808")
        port = int(endpoint.rsplit(":", 1)[1])
        probe = cellar.get("livenessProbe", {}).get("httpGet")
        if not probe:
            return ["%s: cellar-csi in %s has no HTTP liveness probe" % (label, where(obj))]
        target = probe["port"]
        if isinstance(target, str):
            named = [p["containerPort"] for c in dm.containers(obj) for p in c.get("ports", [])
                     if p.get("name") == target]
            target = named[0] if named else None
        if target != port or probe.get("path") != "/healthz":
            return ["%s: cellar-csi's liveness probe (%s %s) does not reach the livenessprobe sidecar on :%d/healthz"
                    % (label, probe.get("path"), probe["port"], port)]
        return []

    def test_node_socket_and_host_paths_agree(self):
        problems = []
        for label, objs in object_sets():
            dss = workloads(objs, "DaemonSet")
            self.assertEqual(len(dss), 1, "%s: want one DaemonSet" % label)
            problems += self.check_node_plugin(label, dss[0])
        self.assertEqual(problems, [], "\n".join(problems))

    def test_controller_socket_paths_agree(self):
        problems = []
        for label, objs in object_sets():
            stss = workloads(objs, "StatefulSet")
            self.assertEqual(len(stss), 1, "%s: want one StatefulSet" % label)
            problems += self.check_controller(label, stss[0])
        self.assertEqual(problems, [], "\n".join(problems))

    def test_patched_containers_use_the_node_socket(self):
        ds = base_object("DaemonSet", "cellar-node")
        cellar = dm.containers(ds)[0]
        socket = dm.resolve_in_pod(ds, cellar, dm.unix_path(cellar_flag(cellar, "endpoint")))
        for path, c in patch_container_ops():
            got = dm.resolve_in_pod(ds, c, dm.unix_path(dm.flag_value(c, "csi-address") or ""))
            self.assertEqual(got, socket, "%s: %s --csi-address does not reach the driver's socket"
                             % (dm.rel(path), c.get("name")))


class StorageClassTest(unittest.TestCase):
    def classes_for_file(self, path):
        """Device classes a StorageClass file can name: the default loop
        class, plus those its component gives the node."""
        names = {"default"}
        component = os.path.dirname(path)
        for patch, op, _ in patch_args_ops():
            if os.path.dirname(patch) == component:
                for name, value in dm.parse_flags([op["value"]]):
                    if name == "device-classes":
                        names = set(device_classes(value))
        return names

    def check(self, label, sc, classes, deployable):
        problems = []
        name = where(sc)
        if sc.get("volumeBindingMode") != "WaitForFirstConsumer":
            problems.append("%s: %s must be WaitForFirstConsumer" % (label, name))
        if sc.get("allowVolumeExpansion") is not True:
            problems.append("%s: %s must allow volume expansion" % (label, name))
        params = sc.get("parameters", {}) or {}
        for key, value in params.items():
            if not isinstance(value, str):
                problems.append("%s: %s parameter %s must be a string" % (label, name, key))
            if key not in KNOWN_PARAMETERS and not key.startswith(SIDECAR_PREFIX):
                problems.append("%s: %s parameter %s is refused by the driver" % (label, name, key))
        for key in ("fsType", SIDECAR_PREFIX + "fstype"):
            if key in params and params[key] not in ("ext4", "xfs"):
                problems.append("%s: %s %s=%s (want ext4 or xfs)" % (label, name, key, params[key]))
        if params.get("allocation", "thin") not in ("thin", "thick"):
            problems.append("%s: %s allocation=%s" % (label, name, params["allocation"]))
        if "volumeRootMode" in params and not re.fullmatch(r"[0-7]{3,4}", params["volumeRootMode"]):
            problems.append("%s: %s volumeRootMode=%s" % (label, name, params["volumeRootMode"]))
        if params.get("deviceClass", "default") not in classes:
            problems.append("%s: %s deviceClass=%s but the node has only %s"
                            % (label, name, params.get("deviceClass"), sorted(classes)))
        if params.get("encrypted", "false") not in ("true", "false"):
            problems.append("%s: %s encrypted=%s" % (label, name, params["encrypted"]))
        if params.get("encrypted") == "true":
            # The key arrives only as a node-stage secret.
            for key in ("node-stage-secret-name", "node-stage-secret-namespace"):
                if not params.get(SIDECAR_PREFIX + key):
                    problems.append("%s: %s is encrypted but names no %s%s" % (label, name, SIDECAR_PREFIX, key))
            if deployable:
                problems.append("%s: %s is encrypted: keep it in deploy/examples, next to the Secret it needs"
                                % (label, name))
        return problems

    def test_storageclasses(self):
        problems = []
        count = 0
        for path, _, o in MANIFESTS.objects():
            if o.get("kind") == "StorageClass":
                count += 1
                deployable = "/examples/" not in path
                problems += self.check(dm.rel(path), o, self.classes_for_file(path), deployable)
        for label, objs in rendered_sets():
            ds = workloads(objs, "DaemonSet")[0]
            cellar = [c for c in dm.containers(ds) if dm.is_cellar(c)][0]
            classes = set(device_classes(dm.flag_value(cellar, "device-classes")))
            for o in objs:
                if o.get("kind") == "StorageClass":
                    problems += self.check(label, o, classes, True)
        self.assertGreaterEqual(count, 5, "want the loop thin, LVM thin, LVM thick, encrypted and restricted classes")
        self.assertEqual(problems, [], "\n".join(problems))

    def test_example_classes_cover_the_issue(self):
        params = [o.get("parameters", {}) for _, _, o in MANIFESTS.objects() if o.get("kind") == "StorageClass"]
        self.assertTrue(any(p.get("encrypted") == "true" and
                            p.get(SIDECAR_PREFIX + "node-stage-secret-name") for p in params),
                        "an encrypted class with a node-stage secret")
        self.assertTrue(any("allowedNamespaces" in p or "allowedServiceAccounts" in p for p in params),
                        "a namespace-restricted class")
        secrets = [o for _, _, o in MANIFESTS.objects() if o.get("kind") == "Secret"]
        self.assertTrue(any("encryptionPassphrase" in (s.get("stringData") or s.get("data") or {})
                            for s in secrets), "an example encryption Secret with encryptionPassphrase")


class PodRulesTest(unittest.TestCase):
    def all_containers(self):
        for label, objs in object_sets():
            for o in objs:
                for c in dm.containers(o):
                    yield label, o, c
        for path, c in patch_container_ops():
            yield dm.rel(path), {"kind": "patch", "metadata": {"name": "DaemonSet"}}, c

    def test_images_are_pinned(self):
        with open(os.path.join(dm.ROOT, "VERSION")) as f:
            version = f.read().strip()
        tags = {}
        problems = []
        for label, o, c in self.all_containers():
            image = c.get("image", "")
            tag = dm.image_tag(image)
            if o.get("kind") == "Pod":
                continue  # examples of workloads
            if dm.is_cellar(c):
                if tag != version:
                    problems.append("%s: %s image %s, want tag %s (VERSION)" % (label, where(o, c), image, version))
                continue
            if not image.startswith(SIDECAR_REGISTRY) or not re.fullmatch(r"v\d+\.\d+\.\d+", tag):
                problems.append("%s: %s image %s is not a released %s*:vX.Y.Z" % (label, where(o, c), image, SIDECAR_REGISTRY))
            tags.setdefault(dm.image_name(image), set()).add(tag)
        for name, seen in tags.items():
            if len(seen) > 1:
                problems.append("%s is pinned to several versions: %s" % (name, sorted(seen)))
        self.assertEqual(problems, [], "\n".join(problems))

    def test_resources_are_set(self):
        problems = []
        for label, o, c in self.all_containers():
            res = c.get("resources", {})
            for part in ("requests", "limits"):
                for what in ("cpu", "memory"):
                    if what not in res.get(part, {}):
                        if o.get("kind") == "Pod" and part == "limits" and what == "cpu":
                            continue
                        problems.append("%s: %s has no %s.%s" % (label, where(o, c), part, what))
        self.assertEqual(problems, [], "\n".join(problems))

    def test_security_contexts(self):
        problems = []
        for label, o, c in self.all_containers():
            sc = c.get("securityContext", {})
            privileged_ok = dm.is_cellar(c) and o.get("kind") == "DaemonSet"
            if sc.get("privileged") and not privileged_ok:
                problems.append("%s: %s must not be privileged" % (label, where(o, c)))
            if privileged_ok:
                if not sc.get("privileged"):
                    problems.append("%s: the node plugin must be privileged" % label)
                continue
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append("%s: %s needs allowPrivilegeEscalation: false" % (label, where(o, c)))
            if sc.get("capabilities", {}).get("drop") != ["ALL"] or sc.get("capabilities", {}).get("add"):
                problems.append("%s: %s must drop all capabilities and add none" % (label, where(o, c)))
            if o.get("kind") != "Pod" and sc.get("readOnlyRootFilesystem") is not True:
                problems.append("%s: %s needs readOnlyRootFilesystem: true" % (label, where(o, c)))
        for label, objs in object_sets():
            for o in objs:
                spec = dm.pod_spec(o)
                if spec is None:
                    continue
                for host in ("hostPID", "hostIPC", "hostNetwork"):
                    if spec.get(host):
                        problems.append("%s: %s sets %s" % (label, where(o), host))
                if o.get("kind") == "StatefulSet":
                    psc = spec.get("securityContext", {})
                    if not psc.get("runAsNonRoot") or not psc.get("runAsUser"):
                        problems.append("%s: the controller must run as a non-root user" % label)
        self.assertEqual(problems, [], "\n".join(problems))


class RbacTest(unittest.TestCase):
    def check(self, label, objs):
        problems = []
        def names(kind, namespaced):
            return {((o["metadata"].get("namespace") if namespaced else None), o["metadata"]["name"])
                    for o in objs if o.get("kind") == kind}
        roles = names("Role", True)
        cluster_roles = names("ClusterRole", False)
        accounts = names("ServiceAccount", True)
        for o in objs:
            kind = o.get("kind")
            if kind in ("RoleBinding", "ClusterRoleBinding"):
                ns = o["metadata"].get("namespace")
                ref = o["roleRef"]
                if ref["kind"] == "Role" and (ns, ref["name"]) not in roles:
                    problems.append("%s: %s refers to a missing Role %s" % (label, where(o), ref["name"]))
                if ref["kind"] == "ClusterRole" and (None, ref["name"]) not in cluster_roles:
                    problems.append("%s: %s refers to a missing ClusterRole %s" % (label, where(o), ref["name"]))
                for s in o.get("subjects", []):
                    if s["kind"] == "ServiceAccount" and (s.get("namespace"), s["name"]) not in accounts:
                        problems.append("%s: %s binds a missing ServiceAccount %s/%s"
                                        % (label, where(o), s.get("namespace"), s["name"]))
            if kind in ("Role", "ClusterRole"):
                for rule in o.get("rules", []):
                    if "*" in rule.get("verbs", []) or "*" in rule.get("resources", []) or "*" in rule.get("apiGroups", []):
                        problems.append("%s: %s grants a wildcard" % (label, where(o)))
                    if "secrets" in rule.get("resources", []):
                        problems.append("%s: %s grants access to secrets" % (label, where(o)))
            spec = dm.pod_spec(o)
            if spec is not None and kind != "Pod":
                sa = (o["metadata"].get("namespace"), spec.get("serviceAccountName"))
                if sa not in accounts:
                    problems.append("%s: %s runs as a missing ServiceAccount %s" % (label, where(o), sa))
        return problems

    def test_bindings_resolve_and_stay_narrow(self):
        problems = []
        for label, objs in rendered_sets() or [("deploy/base as written",
                                                 [o for p, _, o in MANIFESTS.objects() if "/base/" in p])]:
            problems += self.check(label, objs)
        self.assertEqual(problems, [], "\n".join(problems))

    def test_capacity_rules_for_distributed_provisioning(self):
        rules = [r for _, _, o in MANIFESTS.objects() if o.get("kind") in ("Role", "ClusterRole")
                 for r in o.get("rules", [])]
        def granted(group, resource, verb):
            return any(group in r.get("apiGroups", []) and resource in r.get("resources", [])
                       and verb in r.get("verbs", []) for r in rules)
        for verb in ("get", "list", "watch", "create", "update", "patch", "delete"):
            self.assertTrue(granted("storage.k8s.io", "csistoragecapacities", verb), verb)
        self.assertTrue(granted("", "pods", "get"), "pods get (owner of CSIStorageCapacity)")
        for resource in ("nodes", "persistentvolumes", "persistentvolumeclaims"):
            self.assertTrue(granted("", resource, "watch"), resource)
        self.assertTrue(granted("snapshot.storage.k8s.io", "volumesnapshotcontents", "patch"),
                        "csi-snapshotter updates VolumeSnapshotContents")


def flag_set(container, name):
    """True when a boolean flag is on (--name or --name=true)."""
    for flag, value in dm.parse_flags(container.get("args", [])):
        if flag == name:
            return value in (None, "", "true")
    return False


def feature_gates(container):
    """{gate: bool} from --feature-gates=A=true,B=false."""
    out = {}
    for flag, value in dm.parse_flags(container.get("args", [])):
        if flag == "feature-gates" and value:
            for item in value.split(","):
                key, _, v = item.partition("=")
                out[key.strip()] = v.strip().lower() == "true"
    return out


def rules_of_account(objs, namespace, name):
    """Every rule that (Cluster)RoleBindings in objs give namespace/name."""
    roles = {}
    for o in objs:
        if o.get("kind") in ("Role", "ClusterRole"):
            roles[(o["kind"], o["metadata"].get("namespace") if o["kind"] == "Role" else None,
                   o["metadata"]["name"])] = o.get("rules", [])
    out = []
    for o in objs:
        if o.get("kind") not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        if not any(s.get("kind") == "ServiceAccount" and s.get("name") == name
                   and s.get("namespace") == namespace for s in o.get("subjects", [])):
            continue
        ref = o["roleRef"]
        ns = o["metadata"].get("namespace") if ref["kind"] == "Role" else None
        out += roles.get((ref["kind"], ns, ref["name"]), [])
    return out


def grants(rules, group, resource, verb):
    return any(group in r.get("apiGroups", []) and resource in r.get("resources", [])
               and verb in r.get("verbs", []) for r in rules)


class SnapshotsTest(unittest.TestCase):
    """csi-snapshotter runs per node (distributed snapshotting), as the
    driver serves snapshots only in --mode=node."""

    def snapshotters(self, obj):
        return [c for c in dm.containers(obj) if dm.image_name(c.get("image", "")) == SNAPSHOTTER_IMAGE]

    def test_one_snapshotter_per_node_in_node_deployment_mode(self):
        problems = []
        for label, objs in object_sets():
            for ds in workloads(objs, "DaemonSet"):
                snaps = self.snapshotters(ds)
                if len(snaps) != 1:
                    problems.append("%s: %s has %d csi-snapshotter containers, want 1"
                                    % (label, where(ds), len(snaps)))
                for c in snaps:
                    if not flag_set(c, "node-deployment"):
                        problems.append("%s: %s needs --node-deployment" % (label, where(ds, c)))
                    if flag_set(c, "leader-election"):
                        problems.append("%s: %s: --leader-election is refused with --node-deployment"
                                        % (label, where(ds, c)))
            # The controller serves no snapshots (--mode=controller): a
            # snapshotter there would exit at start.
            for o in objs:
                if o.get("kind") != "DaemonSet" and self.snapshotters(o):
                    problems.append("%s: %s runs csi-snapshotter; it belongs in the node DaemonSet"
                                    % (label, where(o)))
        self.assertEqual(problems, [], "\n".join(problems))

    def test_snapshotter_rbac_matches_its_mode_and_gates(self):
        problems = []
        for label, objs in rendered_sets() or [("deploy/ as written", [o for _, _, o in MANIFESTS.objects()])]:
            for ds in workloads(objs, "DaemonSet"):
                for c in self.snapshotters(ds):
                    account = dm.pod_spec(ds).get("serviceAccountName")
                    rules = rules_of_account(objs, ds["metadata"].get("namespace"), account)
                    need = [("", "events", "create"), ("", "events", "patch")]
                    need += [("snapshot.storage.k8s.io", "volumesnapshotclasses", v)
                             for v in ("get", "list", "watch")]
                    need += [("snapshot.storage.k8s.io", "volumesnapshotcontents", v)
                             for v in ("get", "list", "watch", "update", "patch")]
                    need += [("snapshot.storage.k8s.io", "volumesnapshotcontents/status", v)
                             for v in ("update", "patch")]
                    group = feature_gates(c).get(GROUP_GATE, False)
                    group_rules = [("groupsnapshot.storage.k8s.io", "volumegroupsnapshotclasses", v)
                                   for v in ("get", "list", "watch")]
                    group_rules += [("groupsnapshot.storage.k8s.io", "volumegroupsnapshotcontents", v)
                                    for v in ("get", "list", "watch", "update", "patch")]
                    group_rules += [("groupsnapshot.storage.k8s.io", "volumegroupsnapshotcontents/status", v)
                                    for v in ("update", "patch")]
                    if group:
                        need += group_rules
                        if flag_set(c, "node-deployment"):
                            problems.append(
                                "%s: %s enables %s with --node-deployment: the v8.4.0 snapshot-controller "
                                "does not label VolumeGroupSnapshotContents with a node, so no node's "
                                "sidecar would see one (revisit when the sidecar version changes)"
                                % (label, where(ds, c), GROUP_GATE))
                    elif any("groupsnapshot.storage.k8s.io" in r.get("apiGroups", []) for r in rules):
                        problems.append("%s: %s is granted groupsnapshot rules but runs without %s"
                                        % (label, account, GROUP_GATE))
                    for g, res, verb in need:
                        if not grants(rules, g, res, verb):
                            problems.append("%s: %s lacks %s %s/%s for csi-snapshotter"
                                            % (label, account, verb, g or "core", res))
                    # The snapshot-controller creates and deletes contents.
                    for verb in ("create", "delete", "deletecollection"):
                        if grants(rules, "snapshot.storage.k8s.io", "volumesnapshotcontents", verb):
                            problems.append("%s: %s may %s volumesnapshotcontents" % (label, account, verb))
        self.assertEqual(problems, [], "\n".join(problems))

    def test_snapshot_classes_pass_only_parameters_the_driver_accepts(self):
        problems = []
        count = 0
        for label, objs in object_sets():
            for o in objs:
                if o.get("kind") not in SNAPSHOT_CLASS_KINDS:
                    continue
                count += 1
                for key in (o.get("parameters") or {}):
                    # CreateSnapshot and CreateVolumeGroupSnapshot refuse
                    # every other key with INVALID_ARGUMENT.
                    if not key.startswith(SIDECAR_PREFIX):
                        problems.append("%s: %s parameter %s is refused by the driver" % (label, where(o), key))
                    # The node service account cannot read secrets.
                    elif "secret" in key:
                        problems.append("%s: %s names a secret (%s) the sidecar may not read"
                                        % (label, where(o), key))
        self.assertGreaterEqual(count, 2, "want a VolumeSnapshotClass and a VolumeGroupSnapshotClass")
        self.assertEqual(problems, [], "\n".join(problems))

    def test_base_applies_without_snapshot_crds_and_an_overlay_adds_the_class(self):
        base = [o for p, _, o in MANIFESTS.objects() if os.sep + "base" + os.sep in p]
        self.assertEqual([where(o) for o in base if o.get("kind") in SNAPSHOT_CLASS_KINDS], [],
                         "deploy/base must apply on clusters without the snapshot CRDs")
        if dm.kubectl() is None:
            self.skipTest("kubectl is not installed; renderings are not checked")
        with_class = []
        for d in MANIFESTS.deployable_dirs():
            kinds = {o.get("kind") for o in dm.render(d)}
            if os.path.basename(d) == "base":
                self.assertFalse(kinds & set(SNAPSHOT_CLASS_KINDS), "kubectl kustomize deploy/base")
            if "VolumeSnapshotClass" in kinds:
                with_class.append(dm.rel(d))
            self.assertNotIn("VolumeGroupSnapshotClass", kinds,
                             "%s: group snapshots are not wired in this deployment" % dm.rel(d))
        self.assertTrue(with_class, "no overlay adds the VolumeSnapshotClass")


class DocsTest(unittest.TestCase):
    def test_operations_guide_lists_the_pinned_sidecars(self):
        guide = os.path.join(dm.source_tree_root(), "docs", "operations.md")
        self.assertTrue(os.path.exists(guide), "docs/operations.md not found at %s" % guide)
        with open(guide, encoding="utf-8") as f:
            text = f.read()
        pinned = {}
        for _, objs in object_sets():
            for o in objs:
                for c in dm.containers(o):
                    image = c.get("image", "")
                    if image.startswith(SIDECAR_REGISTRY):
                        pinned[dm.image_name(image).rsplit("/", 1)[1]] = dm.image_tag(image)
        self.assertIn("csi-snapshotter", pinned)
        problems = []
        for name, tag in sorted(pinned.items()):
            if not re.search(r"^\| %s \| %s \|" % (re.escape(name), re.escape(tag)), text, re.M):
                problems.append("docs/operations.md has no sidecar table row \"| %s | %s |\"" % (name, tag))
        self.assertEqual(problems, [], "\n".join(problems))


class LayoutTest(unittest.TestCase):
    def test_every_document_parses_as_an_object(self):
        for path, docs in MANIFESTS.docs.items():
            self.assertTrue(docs, "%s is empty" % dm.rel(path))
            if path in MANIFESTS.patches:
                continue
            for i, d in enumerate(docs):
                self.assertIsInstance(d, dict, "%s document %d" % (dm.rel(path), i))
                self.assertIn("apiVersion", d, "%s document %d" % (dm.rel(path), i))
                self.assertIn("kind", d, "%s document %d" % (dm.rel(path), i))

    def test_kustomizations_reference_existing_files_and_cover_deploy(self):
        used = set()
        for path, refs in MANIFESTS.references.items():
            for ref in refs:
                self.assertTrue(os.path.exists(ref), "%s refers to missing %s" % (dm.rel(path), dm.rel(ref)))
                used.add(ref)
        for path in MANIFESTS.docs:
            if is_example(path) or dm.is_kustomization(path):
                continue
            self.assertIn(path, used, "%s is in no kustomization (put examples in deploy/examples)"
                          % dm.rel(path))
        self.assertIn(os.path.join(dm.DEPLOY, "base"), [os.path.dirname(p) for p in MANIFESTS.kustomizations])

    def test_kustomize_renders_every_kustomization(self):
        if dm.kubectl() is None:
            self.skipTest("kubectl is not installed; renderings are not checked")
        dirs = MANIFESTS.deployable_dirs()
        self.assertGreaterEqual(len(dirs), 2)
        for d in dirs:
            objs = dm.render(d)
            self.assertTrue(objs, dm.rel(d))
            for o in objs:
                if o.get("kind") not in ("Namespace", "CSIDriver", "ClusterRole", "ClusterRoleBinding",
                                         "StorageClass", "VolumeSnapshotClass", "VolumeGroupSnapshotClass"):
                    self.assertEqual(o["metadata"].get("namespace"), "cellar-system",
                                     "%s: %s" % (dm.rel(d), where(o)))

    def test_dockerfile_is_in_step_with_setup(self):
        setup = os.path.join(dm.source_tree_root(), "tools", "setup")
        self.assertTrue(os.path.exists(setup), "tools/setup not found at %s" % setup)
        with open(setup) as f:
            text = f.read()
        m = re.search(r"packages=\((.*?)\n\)", text, re.S)
        self.assertIsNotNone(m, "no packages=( ... ) list in tools/setup")
        sections, current = {}, None
        for line in m.group(1).splitlines():
            line = line.strip()
            if line.startswith("#"):
                current = line.lstrip("# ").split(":")[0].split()[0]
                continue
            sections.setdefault(current, []).extend(line.split())
        with open(os.path.join(dm.DEPLOY, "Dockerfile")) as f:
            docker = f.read()
        stages = re.split(r"^FROM ", docker, flags=re.M)[1:]
        self.assertEqual(len(stages), 2, "want a build stage and a runtime stage")
        def installed(stage):
            text = stage.replace("\\\n", " ")
            out = set()
            for cmd in re.findall(r"apt-get install ([^&\n]*)", text):
                out.update(w for w in cmd.split() if not w.startswith("-"))
            return out
        build, runtime = installed(stages[0]), installed(stages[1])
        self.assertIn("build", sections, "tools/setup has no '# build' section")
        self.assertIn("run", sections, "tools/setup has no '# run' section")
        self.assertEqual(set(sections["build"]) - build, set(),
                         "build packages of tools/setup missing from the Dockerfile's build stage")
        self.assertEqual(set(sections["run"]) - runtime, set(),
                         "run packages of tools/setup missing from the Dockerfile's runtime stage")
        for pkg in ("lvm2", "cryptsetup-bin", "e2fsprogs", "xfsprogs", "util-linux"):
            self.assertIn(pkg, runtime)
        self.assertRegex(stages[0], r"^debian:12\b")
        self.assertRegex(stages[1], r"^debian:12-slim\b")
        self.assertRegex(stages[1], r"\nUSER [1-9]")


def is_example(path):
    return os.sep + "examples" + os.sep in path


if __name__ == "__main__":
    dm.run_tests("deploy consistency", sys.modules[__name__])
