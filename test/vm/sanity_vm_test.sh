#!/bin/bash
# Runs the conformance mirror (test/e2e:sanity_e2e_test, csi-sanity's checks
# in C++) inside the qemu guest against LVM device classes: thin (the pool
# the guest sets up) and, with SANITY_VM_CLASSES, any other list. Fails when
# a check fails in any class or the guest ran none. Under `bazel test` the
# guest suites' JUnit files become this target's result.
set -euo pipefail
here="$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"
if [[ -n "${TEST_SRCDIR:-}" ]]; then
  base="$TEST_SRCDIR/${TEST_WORKSPACE:-cellar}"
else
  base="$(cd "$here/../.." && pwd)/bazel-bin"
fi
suite="$(readlink -f "$base/test/e2e/sanity_e2e_test")"
driver="$(readlink -f "$base/src/cellar-csi")"
[[ -x "$suite" && -x "$driver" ]] || { echo "build //test/e2e:sanity_e2e_test first"; exit 1; }
# name=device-classes pairs; the guest's VG is cellarvg with pool0.
classes=("${SANITY_VM_CLASSES:-thin=default=lvm-thin:cellarvg/pool0?overprovision=100}")
results="$(mktemp -d "${TEST_TMPDIR:-/tmp}/cellar-sanity-vm.XXXXXX")"
trap 'rm -rf "$results"' EXIT
# One guest boot runs every class in turn.
script="$results/run.sh"
{
  echo 'set -u; rc=0'
  for entry in "${classes[@]}"; do
    name="${entry%%=*}"; value="${entry#*=}"
    printf 'CELLAR_SANITY_DEVICE_CLASSES=%q %q --gtest_output=xml:/run/cellar-vm/results/%s.xml || rc=1\n' \
      "$value" "$suite" "$name"
  done
  echo 'exit $rc'
} > "$script"
rc=0
"$here/run_in_vm.sh" --timeout "${CELLAR_VM_SANITY_TIMEOUT:-1800}" --mem 2048 \
  --results "$results" --env CELLAR_CSI_BINARY="$driver" -- \
  /bin/bash /run/cellar-vm/results/run.sh || rc=$?
echo "sanity_vm_test: guest exited $rc"
total_ran=0
merged="$results/merged.xml"
echo '<?xml version="1.0" encoding="UTF-8"?>' > "$merged"
tests=0; failures=0; errors=0; disabled=0
for entry in "${classes[@]}"; do
  name="${entry%%=*}"
  xml="$results/$name.xml"
  if [[ ! -s "$xml" ]]; then
    echo "sanity_vm_test: class $name wrote no results"
    exit $((rc == 0 ? 1 : rc))
  fi
  attr() { grep -m1 -o "<testsuites [^>]*>" "$xml" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*' || echo 0; }
  t=$(attr tests); f=$(attr failures); e=$(attr errors); d=$(attr disabled)
  s=$(grep -c '<skipped' "$xml" || true)
  echo "sanity_vm_test: class $name: $t checks, $((t - d - s - f - e)) passed, $s skipped, $((f + e)) failed"
  tests=$((tests + t)); failures=$((failures + f)); errors=$((errors + e)); disabled=$((disabled + d))
  total_ran=$((total_ran + t - d - s))
done
if ((total_ran <= 0)); then
  echo "sanity_vm_test: the guest ran no check"
  exit 1
fi
if [[ -n "${XML_OUTPUT_FILE:-}" ]]; then
  # One <testsuites> holding every class's suites, with the totals.
  {
    echo '<?xml version="1.0" encoding="UTF-8"?>'
    echo "<testsuites tests=\"$tests\" failures=\"$failures\" disabled=\"$disabled\" errors=\"$errors\" name=\"sanity_vm\">"
    for entry in "${classes[@]}"; do
      sed -n '/<testsuite /,/<\/testsuite>/p' "$results/${entry%%=*}.xml"
    done
    echo '</testsuites>'
  } > "$XML_OUTPUT_FILE"
fi
exit $rc
