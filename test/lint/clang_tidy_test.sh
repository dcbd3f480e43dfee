#!/bin/bash
# Runs clang-tidy-14 with the repository's .clang-tidy over every source file
# the driver is built from (:driver_sources); any finding fails the test.
# First, the checks must fire on testdata/lint_bait.cc, so that a broken
# configuration (or a clang-tidy that checks nothing) cannot pass.
set -uo pipefail
cd "${TEST_SRCDIR}/${TEST_WORKSPACE}"
tidy=$(command -v clang-tidy-14 || command -v clang-tidy) || {
  echo "clang-tidy-14 is not installed (tools/setup installs it)" >&2
  exit 1
}
flags=(-- -std=c++17 -I. -Iproto -DFMT_HEADER_ONLY)

bait=$("$tidy" --quiet test/lint/testdata/lint_bait.cc "${flags[@]}" 2>&1)
for check in google-explicit-constructor bugprone-use-after-move; do
  if ! grep -q "\[$check" <<<"$bait"; then
    echo "clang-tidy did not report $check on the bait file:" >&2
    echo "$bait" >&2
    exit 1
  fi
done

mapfile -t sources < <(find -L src -name '*.cc' | sort)
if ((${#sources[@]} < 40)); then
  echo "only ${#sources[@]} sources found under src/: the file list is wrong" >&2
  exit 1
fi
log=$(mktemp)
printf '%s\n' "${sources[@]}" |
  xargs -P2 -I{} "$tidy" --quiet {} "${flags[@]}" >"$log" 2>&1
rc=$?
findings=$(grep -c ': \(warning\|error\): ' "$log")
if ((rc != 0 || findings != 0)); then
  grep -v '^[0-9]* warnings\? \(and [0-9]* errors\? \)\?generated\.$' "$log" >&2
  echo "clang-tidy: $findings findings in ${#sources[@]} files" >&2
  exit 1
fi
echo "clang-tidy: ${#sources[@]} files, no findings"
