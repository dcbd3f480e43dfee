#!/bin/bash
# Runs the validation fuzzer (//test/fuzz:validation_fuzz, built by
# build_fuzz.sh with clang's libFuzzer, AddressSanitizer and
# UndefinedBehaviorSanitizer) for a bounded time over the corpus kept in the
# repository. Fails on any crash, leak or sanitizer report.
#   test/fuzz/run_fuzz.sh [SECONDS]   (from the workspace, or as a Bazel test)
set -euo pipefail
seconds="${1:-${FUZZ_SECONDS:-30}}"

# Under `bazel test` the fuzzer and the corpus are in the runfiles tree.
if [[ -n "${TEST_SRCDIR:-}" ]]; then
  cd "$TEST_SRCDIR/${TEST_WORKSPACE:-cellar}"
  fuzzer=test/fuzz/validation_fuzz
  out="$TEST_TMPDIR"
else
  cd "$(dirname "$0")/../.."
  bazel build //test/fuzz:validation_fuzz >/dev/null
  fuzzer=bazel-bin/test/fuzz/validation_fuzz
  out=$(mktemp -d)
fi

corpus="$out/corpus"
mkdir -p "$corpus"
cp test/fuzz/corpus/* "$corpus/"
"$fuzzer" -max_total_time="$seconds" -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 "$corpus"
echo "fuzz: no crash in ${seconds}s"
