#!/bin/bash
# Builds the validation fuzzer with clang's libFuzzer, AddressSanitizer and
# UndefinedBehaviorSanitizer: the genrule //test/fuzz:validation_fuzz_build
# runs it on the files of :validation_fuzz_inputs.
#   test/fuzz/build_fuzz.sh OUTPUT FILE...
# Every .cc among FILE is compiled, except gRPC's generated stubs (the
# fuzzer calls no service, so it links no gRPC); generated files are found
# by the directories they are in.
set -euo pipefail
out="$1"
shift
sources=()
includes=(-I.)
for file in "$@"; do
  case "$file" in
    bazel-out/*) includes+=("-I$(dirname "$file")") ;;
  esac
  case "$file" in
    *.grpc.pb.cc) ;;
    *.cc) sources+=("$file") ;;
  esac
done

absl_libs=$(ls /usr/lib/x86_64-linux-gnu/libabsl_*.a)
cxx=$(command -v clang++-14 || command -v clang++)
"$cxx" -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined \
  -fno-sanitize-recover=undefined -Wno-deprecated-declarations \
  $(printf '%s\n' "${includes[@]}" | sort -u) "${sources[@]}" \
  -Wl,--start-group -lprotobuf $absl_libs -Wl,--end-group -lcrypto -lpthread \
  -o "$out"
