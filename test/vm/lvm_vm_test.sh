#!/bin/bash
# Runs the LVM and dm-crypt end-to-end suite (test/e2e:vm_e2e_test) inside
# the qemu guest, against the freshly built cellar-csi. Fails when a guest
# test fails, the guest times out, or the guest ran no test at all (every
# one skipped counts as none). Under `bazel test` the guest suite's own
# JUnit XML becomes this target's result, so each guest test counts as
# itself.
set -euo pipefail
here="$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"
if [[ -n "${TEST_SRCDIR:-}" ]]; then
  base="$TEST_SRCDIR/${TEST_WORKSPACE:-cellar}"
else
  base="$(cd "$here/../.." && pwd)/bazel-bin"
fi
# CELLAR_VM_SUITE: another e2e binary of test/e2e to run in the guest.
suite_name="${CELLAR_VM_SUITE:-vm_e2e_test}"
suite="$(readlink -f "$base/test/e2e/$suite_name")"
driver="$(readlink -f "$base/src/cellar-csi")"
[[ -x "$suite" && -x "$driver" ]] || { echo "build //test/e2e:$suite_name first"; exit 1; }
extra=()
faulty="$base/test/e2e/cellar-csi-faulty"
[[ -x "$faulty" ]] && extra+=(--env CELLAR_CSI_FAULTY_BINARY="$(readlink -f "$faulty")")
[[ -n "${CELLAR_SWEEP_MODES:-}" ]] && extra+=(--env CELLAR_SWEEP_MODES="$CELLAR_SWEEP_MODES")
results="$(mktemp -d "${TEST_TMPDIR:-/tmp}/cellar-vm-results.XXXXXX")"
trap 'rm -rf "$results"' EXIT
rc=0
"$here/run_in_vm.sh" --timeout "${CELLAR_VM_E2E_TIMEOUT:-1500}" --mem 2048 \
  --results "$results" --env CELLAR_CSI_BINARY="$driver" "${extra[@]}" -- \
  "$suite" --gtest_output=xml:/run/cellar-vm/results/vm_e2e.xml "$@" || rc=$?
echo "lvm_vm_test: guest suite exited $rc"
xml="$results/vm_e2e.xml"
if [[ ! -s "$xml" ]]; then
  echo "lvm_vm_test: the guest wrote no test results"
  exit $((rc == 0 ? 1 : rc))
fi
attr() { grep -m1 -o "<testsuites [^>]*>" "$xml" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*' || echo 0; }
tests=$(attr tests)
disabled=$(attr disabled)
skipped=$(grep -c '<skipped' "$xml" || true)
ran=$((tests - disabled - skipped))
echo "lvm_vm_test: $tests guest tests, $ran ran, $skipped skipped"
if ((ran <= 0)); then
  echo "lvm_vm_test: the guest ran no test"
  exit 1
fi
# Bazel takes a test's own JUnit file when it writes one.
[[ -n "${XML_OUTPUT_FILE:-}" ]] && cp "$xml" "$XML_OUTPUT_FILE"
exit $rc
