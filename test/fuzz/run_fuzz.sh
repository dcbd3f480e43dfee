#!/bin/bash
# Builds the validation fuzzer with clang's libFuzzer, AddressSanitizer and
# UndefinedBehaviorSanitizer, and runs it for a bounded time over the corpus
# kept in the repository. Fails on any crash, leak or sanitizer report.
#   test/fuzz/run_fuzz.sh [SECONDS]   (from the workspace, or as a Bazel test)
set -euo pipefail
seconds="${1:-${FUZZ_SECONDS:-30}}"

# Under `bazel test` the sources are in the runfiles tree.
if [[ -n "${TEST_SRCDIR:-}" ]]; then
  cd "$TEST_SRCDIR/${TEST_WORKSPACE:-cellar}"
  gen=proto
  out="$TEST_TMPDIR"
else
  cd "$(dirname "$0")/../.."
  bazel build //proto:csi_codegen //proto:volume_record_codegen >/dev/null
  gen=bazel-bin/proto
  out=$(mktemp -d)
fi

absl_libs=$(ls /usr/lib/x86_64-linux-gnu/libabsl_*.a)
cxx=$(command -v clang++-14 || command -v clang++)
"$cxx" -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined \
  -fno-sanitize-recover=undefined -Wno-deprecated-declarations \
  -I. -I"$gen" \
  test/fuzz/validation_fuzz.cc src/common/ids.cc src/common/capability.cc \
  src/controller/parameters.cc src/node/paths.cc src/platform/mountinfo.cc \
  src/node/access_policy.cc "$gen/csi.pb.cc" "$gen/volume_record.pb.cc" \
  -Wl,--start-group -lprotobuf $absl_libs -Wl,--end-group -lcrypto -lpthread \
  -o "$out/validation_fuzz"

corpus="$out/corpus"
mkdir -p "$corpus"
cp test/fuzz/corpus/* "$corpus/"
"$out/validation_fuzz" -max_total_time="$seconds" -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 "$corpus"
echo "fuzz: no crash in ${seconds}s"
