#!/usr/bin/python3
"""Every manifest under deploy/ parses as YAML and every Kubernetes object
in it matches the Kubernetes object schemas.

Schemas: the npm package kubernetes-models (version pinned in
test/deploy/package.json and package-lock.json), whose validators are JSON
Schema compiled with ajv from the Kubernetes OpenAPI spec (1.33 for 4.5.1).
tools/setup installs it with `npm ci` into deploy_manifests.NPM_DIR, outside
the source tree; the test itself never touches the network. Fields the
schema does not define fail too (like kubectl's strict field validation).

Objects checked: every document of deploy/ (base, components, examples),
the containers that JSON patches add (if any), and, where kubectl is
installed, the output of `kubectl kustomize` for the base and every overlay.
VolumeSnapshotClass and VolumeGroupSnapshotClass are CRDs
(external-snapshotter) with no schema in that package and none can be
fetched here: their metadata is checked against the ObjectMeta schema and
the rest of their shape by hand, field by field (as the v8.4.0 CRDs define
them), as documented in docs/operations.md.
"""

import copy
import filecmp
import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import deploy_manifests as dm  # noqa: E402

HERE = os.path.join(dm.ROOT, "test", "deploy")
MODULES = os.path.join(dm.NPM_DIR, "node_modules")
MANIFESTS = dm.Manifests()

# Custom resources: checked by shape only (see the module docstring). Both
# classes have the same fields in the external-snapshotter v8.4.0 CRDs.
_CLASS_SHAPE = {
    "required": {"driver": str, "deletionPolicy": str},
    "optional": {"parameters": dict},
    "enums": {"deletionPolicy": ("Delete", "Retain")},
}
CRD_SHAPES = {
    ("snapshot.storage.k8s.io/v1", "VolumeSnapshotClass"): _CLASS_SHAPE,
    ("groupsnapshot.storage.k8s.io/v1beta2", "VolumeGroupSnapshotClass"): _CLASS_SHAPE,
}


def node():
    return shutil.which("node") or "/usr/bin/node"


def validate(items):
    """Runs validate_schemas.mjs over [(id, as, value)]; returns {id: result}."""
    payload = {
        "modules": MODULES,
        "items": [{"id": i, "as": a, "value": v} for i, a, v in items],
    }
    proc = subprocess.run(
        [node(), os.path.join(HERE, "validate_schemas.mjs")],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode != 0:
        raise AssertionError("validate_schemas.mjs failed:\n" + proc.stderr)
    return {r["id"]: r for r in json.loads(proc.stdout)}


def describe(result):
    parts = list(result["errors"])
    parts += ["unknown field %s" % u for u in result["unknown"]]
    return "; ".join(parts)


class SchemaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        lock = os.path.join(HERE, "package-lock.json")
        installed = os.path.join(dm.NPM_DIR, "installed-lock.json")
        if not os.path.isdir(os.path.join(MODULES, "kubernetes-models")):
            raise AssertionError(
                "kubernetes-models is not installed in %s: run tools/setup" % dm.NPM_DIR)
        if not os.path.exists(installed) or not filecmp.cmp(lock, installed, shallow=False):
            raise AssertionError("%s is not the install of test/deploy/package-lock.json: run tools/setup"
                                 % dm.NPM_DIR)

    def kube_objects(self):
        """(id, object) of every Kubernetes object to check."""
        out = []
        for path, i, o in MANIFESTS.objects():
            out.append(("%s#%d %s/%s" % (dm.rel(path), i, o.get("kind"), o.get("metadata", {}).get("name")), o))
        for d in MANIFESTS.deployable_dirs():
            objs = dm.render(d)
            for i, o in enumerate(objs or []):
                out.append(("kubectl kustomize %s #%d %s/%s" % (dm.rel(d), i, o.get("kind"),
                                                              o.get("metadata", {}).get("name")), o))
        return out

    def test_every_object_matches_its_kubernetes_schema(self):
        items, crds = [], []
        for ident, o in self.kube_objects():
            if (o.get("apiVersion"), o.get("kind")) in CRD_SHAPES:
                crds.append((ident, o))
            else:
                items.append((ident, "object", o))
        self.assertGreaterEqual(len(items), 15)
        results = validate(items)
        problems = ["%s: %s" % (i, describe(r)) for i, r in results.items() if not r["ok"]]
        self.assertEqual(problems, [], "\n".join(problems))

    def test_patched_containers_and_args_match_the_schema(self):
        items, args = [], 0
        for path, op in MANIFESTS.json_patch_ops():
            if op.get("op") == "add" and op.get("path", "").endswith(("/containers/-", "/initContainers/-")):
                items.append(("%s %s" % (dm.rel(path), op["path"]), "container", op["value"]))
            elif op.get("path", "").rsplit("/", 2)[-2:-1] == ["args"]:
                args += 1
                self.assertIsInstance(op.get("value"), str, "%s: args take strings" % dm.rel(path))
        # The LVM component appends --device-classes; containers added by
        # patches (none today: csi-snapshotter is in the base) are checked
        # against the Container schema.
        self.assertTrue(items or args, "no JSON patch adds a container or an argument")
        if items:
            results = validate(items)
            problems = ["%s: %s" % (i, describe(r)) for i, r in results.items() if not r["ok"]]
            self.assertEqual(problems, [], "\n".join(problems))

    def test_custom_resources_have_the_crd_shape(self):
        found = 0
        kinds = set()
        meta = []
        problems = []
        for ident, o in self.kube_objects():
            shape = CRD_SHAPES.get((o.get("apiVersion"), o.get("kind")))
            if shape is None:
                continue
            found += 1
            kinds.add(o.get("kind"))
            meta.append((ident, "objectmeta", o.get("metadata", {})))
            allowed = {"apiVersion", "kind", "metadata"} | set(shape["required"]) | set(shape["optional"])
            for key in o:
                if key not in allowed:
                    problems.append("%s: unknown field %s" % (ident, key))
            for key, typ in list(shape["required"].items()) + list(shape["optional"].items()):
                if key in o and not isinstance(o[key], typ):
                    problems.append("%s: %s must be a %s" % (ident, key, typ.__name__))
                elif key not in o and key in shape["required"]:
                    problems.append("%s: %s is required" % (ident, key))
            for key, values in shape["enums"].items():
                if key in o and o[key] not in values:
                    problems.append("%s: %s=%r, want one of %s" % (ident, key, o[key], values))
            for key, value in (o.get("parameters") or {}).items():
                if not isinstance(value, str):
                    problems.append("%s: parameter %s must be a string" % (ident, key))
        self.assertEqual(kinds, {"VolumeSnapshotClass", "VolumeGroupSnapshotClass"},
                         "expected a VolumeSnapshotClass and a VolumeGroupSnapshotClass example")
        results = validate(meta)
        problems += ["%s metadata: %s" % (i, describe(r)) for i, r in results.items() if not r["ok"]]
        self.assertEqual(problems, [], "\n".join(problems))

    def test_kustomization_files_have_the_expected_shape(self):
        known = {
            "Kustomization": ("kustomize.config.k8s.io/v1beta1",
                              {"apiVersion", "kind", "namespace", "labels", "resources", "components",
                               "patches", "images"}),
            "Component": ("kustomize.config.k8s.io/v1alpha1",
                          {"apiVersion", "kind", "resources", "patches", "images"}),
        }
        for path, k in MANIFESTS.kustomizations.items():
            self.assertIn(k.get("kind"), known, dm.rel(path))
            api, keys = known[k["kind"]]
            self.assertEqual(k.get("apiVersion"), api, dm.rel(path))
            self.assertEqual(set(k) - keys, set(), "%s: unexpected keys" % dm.rel(path))

    def test_the_validator_catches_broken_objects(self):
        """The schema check is not vacuous: a typo, a wrong type, a missing
        required field and an unknown kind all fail."""
        ds = copy.deepcopy(next(o for _, _, o in MANIFESTS.objects() if o.get("kind") == "DaemonSet"))
        typo = copy.deepcopy(ds)
        typo["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][1]["mountPropogation"] = \
            typo["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][1].pop("mountPropagation")
        wrong_type = copy.deepcopy(ds)
        wrong_type["spec"]["template"]["spec"]["containers"][0]["args"] = "--mode=node"
        missing = copy.deepcopy(ds)
        del missing["spec"]["template"]["spec"]["containers"][0]["name"]
        unknown_kind = {"apiVersion": "storage.k8s.io/v1", "kind": "CSIDrivers", "metadata": {"name": "x"}}
        bad_driver = {"apiVersion": "storage.k8s.io/v1", "kind": "CSIDriver", "metadata": {"name": "x"},
                      "spec": {"attachRequired": "false"}}
        results = validate([("good", "object", ds), ("typo", "object", typo),
                            ("wrong_type", "object", wrong_type), ("missing", "object", missing),
                            ("unknown_kind", "object", unknown_kind), ("bad_driver", "object", bad_driver)])
        self.assertTrue(results["good"]["ok"], describe(results["good"]))
        for name in ("typo", "wrong_type", "missing", "unknown_kind", "bad_driver"):
            self.assertFalse(results[name]["ok"], name)
        self.assertIn("/spec/template/spec/containers/0/volumeMounts/1/mountPropogation",
                      results["typo"]["unknown"])


if __name__ == "__main__":
    dm.run_tests("deploy schemas", sys.modules[__name__])
