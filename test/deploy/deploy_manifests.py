"""Shared helpers for the tests of deploy/: finding and parsing the manifests,
rendering the kustomizations, walking pods, and a unittest runner that writes
the JUnit XML Bazel and tools/test read.

YAML is parsed with PyYAML (Debian's python3-yaml); the tests run under
/usr/bin/python3, which tools/setup provides with it.
"""

import copy
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
from xml.sax.saxutils import quoteattr

import yaml

WORKSPACE = os.environ.get("TEST_WORKSPACE", "cellar")

# Where tools/setup installs the npm packages of test/deploy/package.json
# (outside the source tree, so Bazel never walks node_modules).
NPM_DIR = "/var/cache/cellar/deploy-test-npm"

DRIVER = "cellar.csi.io"
CELLAR_CONTAINER = "cellar-csi"
POD_KINDS = ("DaemonSet", "StatefulSet", "Deployment", "Pod")


def runfiles_root():
    """The workspace root as the test sees it: the runfiles tree under
    Bazel, the source tree when run by hand."""
    base = os.environ.get("TEST_SRCDIR") or os.environ.get("RUNFILES_DIR")
    if base and os.path.isdir(os.path.join(base, WORKSPACE)):
        return os.path.join(base, WORKSPACE)
    return os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


ROOT = runfiles_root()
DEPLOY = os.path.join(ROOT, "deploy")


def source_tree_root():
    """The real source tree, found through a data file's symlink. Used only
    for files Bazel cannot hand to this package (tools/setup)."""
    real = os.path.realpath(os.path.join(DEPLOY, "Dockerfile"))
    return os.path.dirname(os.path.dirname(real))


def rel(path):
    return os.path.relpath(path, ROOT)


# ------------------------------------------------------------------ files


def yaml_files():
    """Every YAML file under deploy/, sorted."""
    out = []
    for dirpath, _, names in os.walk(DEPLOY, followlinks=True):
        for name in names:
            if name.endswith((".yaml", ".yml")):
                out.append(os.path.join(dirpath, name))
    return sorted(out)


def load_yaml_documents(path):
    """All non-empty documents of a YAML file; raises on a parse error."""
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def is_kustomization(path):
    return os.path.basename(path) in ("kustomization.yaml", "kustomization.yml")


class Manifests:
    """The files under deploy/, classified by how the kustomizations use
    them: kustomization files, patches, and full Kubernetes objects."""

    def __init__(self):
        self.docs = {}  # path -> [documents]
        for path in yaml_files():
            self.docs[path] = load_yaml_documents(path)
        self.kustomizations = {p: d[0] for p, d in self.docs.items() if is_kustomization(p)}
        self.patches = set()
        self.patch_targets = {}  # patch path -> kustomize target selector
        self.references = {}  # path -> [referenced paths]
        for path, k in self.kustomizations.items():
            base = os.path.dirname(path)
            refs = []
            for entry in k.get("resources", []) + k.get("components", []):
                refs.append(os.path.normpath(os.path.join(base, entry)))
            for patch in k.get("patches", []):
                if "path" in patch:
                    target = os.path.normpath(os.path.join(base, patch["path"]))
                    refs.append(target)
                    self.patches.add(target)
                    self.patch_targets[target] = patch.get("target", {})
            self.references[path] = refs

    def object_files(self):
        return [p for p in self.docs if not is_kustomization(p) and p not in self.patches]

    def objects(self):
        """(path, index, object) for every full object in deploy/."""
        for path in self.object_files():
            for i, doc in enumerate(self.docs[path]):
                yield path, i, doc

    def json_patch_ops(self):
        """(path, op) for every JSON 6902 operation of every patch file."""
        for path in sorted(self.patches):
            docs = self.docs.get(path, [])
            if len(docs) == 1 and isinstance(docs[0], list):
                for op in docs[0]:
                    yield path, op

    def deployable_dirs(self):
        """Directories whose kustomization is a Kustomization (renderable on
        its own), as opposed to a Component."""
        return sorted(
            os.path.dirname(p)
            for p, k in self.kustomizations.items()
            if k.get("kind", "Kustomization") == "Kustomization"
        )


# ------------------------------------------------------------------ kustomize


def kubectl():
    return shutil.which("kubectl") or (
        "/usr/bin/kubectl" if os.access("/usr/bin/kubectl", os.X_OK) else None
    )


_render_cache = {}


def render(kustomization_dir):
    """Renders a kustomization with `kubectl kustomize` (the real kustomize,
    no cluster needed) from a plain copy of deploy/ (kustomize refuses files
    that resolve outside the tree, which runfiles symlinks do). Returns the
    objects, or None when kubectl is not installed."""
    tool = kubectl()
    if tool is None:
        return None
    if kustomization_dir in _render_cache:
        return copy.deepcopy(_render_cache[kustomization_dir])
    tmp = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
    copy_root = os.path.join(tmp, "deploy")
    shutil.copytree(DEPLOY, copy_root, symlinks=False)
    target = os.path.join(copy_root, os.path.relpath(kustomization_dir, DEPLOY))
    env = dict(os.environ, HOME=tmp, KUBECONFIG=os.path.join(tmp, "none"))
    proc = subprocess.run(
        [tool, "kustomize", target], capture_output=True, text=True, env=env, timeout=60
    )
    shutil.rmtree(tmp, ignore_errors=True)
    if proc.returncode != 0:
        raise AssertionError(
            "kubectl kustomize %s failed:\n%s" % (rel(kustomization_dir), proc.stderr)
        )
    objs = [d for d in yaml.safe_load_all(proc.stdout) if d is not None]
    _render_cache[kustomization_dir] = objs
    return copy.deepcopy(objs)


# ------------------------------------------------------------------ pods


def pod_spec(obj):
    if obj.get("kind") == "Pod":
        return obj.get("spec", {})
    if obj.get("kind") in POD_KINDS:
        return obj.get("spec", {}).get("template", {}).get("spec", {})
    return None


def containers(obj):
    spec = pod_spec(obj)
    if spec is None:
        return []
    return list(spec.get("initContainers", [])) + list(spec.get("containers", []))


def is_cellar(container):
    image = container.get("image", "")
    return container.get("name") == CELLAR_CONTAINER or image_name(image).endswith("cellar-csi")


def image_name(image):
    """The image reference without its tag or digest."""
    image = image.split("@", 1)[0]
    slash = image.rfind("/")
    colon = image.rfind(":")
    return image[:colon] if colon > slash else image


def image_tag(image):
    image = image.split("@", 1)[0]
    slash = image.rfind("/")
    colon = image.rfind(":")
    return image[colon + 1 :] if colon > slash else ""


FLAG_RE = re.compile(r"^--?([A-Za-z0-9][A-Za-z0-9_.-]*)(?:=(.*))?$", re.S)


def parse_flags(args):
    """[(name, value-or-None)] for each --flag / --flag=value argument."""
    out = []
    for arg in args:
        m = FLAG_RE.match(str(arg))
        if m:
            out.append((m.group(1), m.group(2)))
    return out


def flag_value(container, name):
    for flag, value in parse_flags(container.get("args", []) + container.get("command", [])):
        if flag == name:
            return value
    return None


def env_names(container):
    return {e["name"] for e in container.get("env", []) if "name" in e}


def env_field_ref(container, name):
    for e in container.get("env", []):
        if e.get("name") == name:
            return e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
    return None


def resolve_in_pod(obj, container, path):
    """Maps a path inside `container` to where it lives outside the pod:
    ("host", host path) through a hostPath volume, ("volume", name, path
    inside the volume) through another volume, or None."""
    volumes = {v["name"]: v for v in pod_spec(obj).get("volumes", [])}
    best = None
    for mount in container.get("volumeMounts", []):
        mp = mount["mountPath"].rstrip("/") or "/"
        if path == mp or path.startswith(mp + "/") or mp == "/":
            if best is None or len(mp) > len(best[0]):
                best = (mp, mount)
    if best is None:
        return None
    mp, mount = best
    rest = path[len(mp) :].lstrip("/")
    rest = os.path.join(mount.get("subPath", ""), rest) if mount.get("subPath") else rest
    volume = volumes.get(mount["name"])
    if volume is None:
        return ("missing-volume", mount["name"])
    if "hostPath" in volume:
        return ("host", os.path.normpath(os.path.join(volume["hostPath"]["path"], rest)))
    return ("volume", mount["name"], rest)


def unix_path(endpoint):
    if endpoint is None:
        return None
    if endpoint.startswith("unix://"):
        return endpoint[len("unix://") :]
    return endpoint


# ------------------------------------------------------------------ runner


class _Result(unittest.TextTestResult):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.cases = []
        self._start = 0.0

    def startTest(self, test):
        self._start = time.time()
        super().startTest(test)

    def _record(self, test, outcome, detail=""):
        self.cases.append((test, outcome, detail, time.time() - self._start))

    def addSuccess(self, test):
        super().addSuccess(test)
        self._record(test, "pass")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._record(test, "failure", self._exc_info_to_string(err, test))

    def addError(self, test, err):
        super().addError(test, err)
        self._record(test, "error", self._exc_info_to_string(err, test))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._record(test, "skip", reason)


def run_tests(suite_name, module):
    """Runs the unittest cases of `module`, writes JUnit XML to
    $XML_OUTPUT_FILE (counted by tools/test) and exits non-zero on failure."""
    suite = unittest.defaultTestLoader.loadTestsFromModule(module)
    runner = unittest.TextTestRunner(stream=sys.stderr, verbosity=2, resultclass=_Result)
    result = runner.run(suite)
    failures = sum(1 for c in result.cases if c[1] == "failure")
    errors = sum(1 for c in result.cases if c[1] == "error")
    skipped = sum(1 for c in result.cases if c[1] == "skip")
    total = len(result.cases)
    out = os.environ.get("XML_OUTPUT_FILE")
    if out:
        lines = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            "<testsuites tests=\"%d\" failures=\"%d\" disabled=\"%d\" errors=\"%d\" name=%s>"
            % (total, failures, skipped, errors, quoteattr(suite_name)),
            "  <testsuite name=%s tests=\"%d\" failures=\"%d\" disabled=\"%d\" skipped=\"%d\" errors=\"%d\">"
            % (quoteattr(suite_name), total, failures, skipped, skipped, errors),
        ]
        for test, outcome, detail, seconds in result.cases:
            name = test.id().split(".")[-1]
            cls = test.id().rsplit(".", 1)[0]
            lines.append(
                "    <testcase name=%s classname=%s time=\"%.3f\">"
                % (quoteattr(name), quoteattr(cls), seconds)
            )
            if outcome in ("failure", "error"):
                lines.append(
                    "      <%s message=%s>%s</%s>"
                    % (
                        outcome,
                        quoteattr(detail.strip().splitlines()[-1] if detail.strip() else outcome),
                        _xml_text(detail),
                        outcome,
                    )
                )
            elif outcome == "skip":
                lines.append("      <skipped message=%s/>" % quoteattr(detail))
            lines.append("    </testcase>")
        lines += ["  </testsuite>", "</testsuites>", ""]
        with open(out, "w", encoding="utf-8") as f:
            f.write("\n".join(lines))
    passed = total - failures - errors - skipped
    print("%s: %d passed, %d failed, %d skipped" % (suite_name, passed, failures + errors, skipped))
    sys.exit(0 if result.wasSuccessful() else 1)


def _xml_text(text):
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    )
