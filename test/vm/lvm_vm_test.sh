#!/bin/bash
# Runs the LVM and dm-crypt end-to-end suite (test/e2e:vm_e2e_test) inside
# the qemu guest, against the freshly built cellar-csi, and fails when a
# guest test fails or the guest times out.
set -euo pipefail
here="$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"
if [[ -n "${TEST_SRCDIR:-}" ]]; then
  base="$TEST_SRCDIR/${TEST_WORKSPACE:-cellar}"
else
  base="$(cd "$here/../.." && pwd)/bazel-bin"
fi
suite="$(readlink -f "$base/test/e2e/vm_e2e_test")"
driver="$(readlink -f "$base/src/cellar-csi")"
[[ -x "$suite" && -x "$driver" ]] || { echo "build //test/e2e:vm_e2e_test first"; exit 1; }
rc=0
"$here/run_in_vm.sh" --timeout "${CELLAR_VM_E2E_TIMEOUT:-1500}" --mem 2048 \
  --env CELLAR_CSI_BINARY="$driver" -- "$suite" "$@" || rc=$?
echo "lvm_vm_test: guest suite exited $rc"
exit $rc
