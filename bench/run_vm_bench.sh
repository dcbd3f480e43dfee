#!/bin/bash
# Builds and runs bench/vm_bench.cc inside the qemu guest of test/vm.
#   bench/run_vm_bench.sh [RUNS [SECTION...]]  (sections: see vm_bench.cc)
set -euo pipefail
cd "$(dirname "$0")/.."
bazel build -c opt //bench:vm_bench //src:cellar-csi >/dev/null
exec test/vm/run_in_vm.sh --timeout 1800 \
  --env CELLAR_CSI_BINARY="$(readlink -f bazel-bin/src/cellar-csi)" \
  -- "$(readlink -f bazel-bin/bench/vm_bench)" "${1:-5}" "${@:2}"
