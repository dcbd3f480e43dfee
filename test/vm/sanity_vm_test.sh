#!/bin/bash
# Runs the conformance mirror (test/e2e:sanity_e2e_test, csi-sanity's checks
# in C++) inside the qemu guest against LVM device classes, all in one guest
# boot: the lvm-thin class plain (thin) and encrypted (thin-enc), or, with
# SANITY_VM_CLASSES, any other list. Fails when a check fails in any class or
# the guest ran none. Under `bazel test` the guest suites' JUnit files become
# this target's result.
#
# SANITY_VM_CLASSES holds space-separated entries
#   NAME=DEVICE_CLASSES[;VOLUME_PARAMETERS[;SECRETS]]
# NAME        names the class in the results ([A-Za-z0-9_.-]+);
# DEVICE_CLASSES   the driver's --device-classes (the guest's VG is cellarvg
#             with the thin pool pool0, and cellarvg2);
# VOLUME_PARAMETERS  k=v,... : the StorageClass parameters every CreateVolume
#             carries (csi-sanity's --csi.testvolumeparameters);
# SECRETS     Field.key=value,... : csi-sanity's --csi.secrets, Field one of
#             its secret fields (NodeStageVolumeSecret, CreateVolumeSecret,
#             ...); a value may hold '=' but not ',', ';' or a space.
# Each class's parameters and secrets reach the guest as the YAML files
# csi-sanity would be given (the secrets file mode 0600).
# SANITY_VM_FILTER, when set, is the guest suites' --gtest_filter (e.g.
# '*Snapshot*:*Source*' for the snapshot and clone checks only).
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
thin='default=lvm-thin:cellarvg/pool0?overprovision=100'
if [[ -n "${SANITY_VM_CLASSES:-}" ]]; then
  read -r -a classes <<< "$SANITY_VM_CLASSES"
else
  # The encryption key material: 32 random bytes, base64 (44 bytes), fresh
  # for each run, as README's `head -c 32 /dev/urandom | base64`.
  passphrase="$(head -c 32 /dev/urandom | base64)"
  classes=(
    "thin=$thin"
    "thin-enc=$thin;encrypted=true;NodeStageVolumeSecret.encryptionPassphrase=$passphrase"
  )
fi
((${#classes[@]})) || { echo "sanity_vm_test: no class"; exit 1; }
results="$(mktemp -d "${TEST_TMPDIR:-/tmp}/cellar-sanity-vm.XXXXXX")"
trap 'rm -rf "$results"' EXIT
guest_results=/run/cellar-vm/results

# yaml_string S: S as a double-quoted YAML scalar.
yaml_string() {
  local s="${1//\\/\\\\}"
  printf '"%s"' "${s//\"/\\\"}"
}

names=()
script="$results/run.sh"
{
  echo 'set -u; rc=0'
  for entry in "${classes[@]}"; do
    name="${entry%%=*}"
    rest="${entry#*=}"
    if [[ "$entry" != *=* || ! "$name" =~ ^[A-Za-z0-9_.-]+$ ]]; then
      echo "sanity_vm_test: bad entry '${entry%%;*}...': want NAME=DEVICE_CLASSES[;VOLUME_PARAMETERS[;SECRETS]]" >&2
      exit 1
    fi
    IFS=';' read -r device_classes parameters secrets extra <<< "$rest"
    if [[ -n "${extra:-}" ]]; then
      echo "sanity_vm_test: class $name: more than three ';' fields" >&2
      exit 1
    fi
    env=(CELLAR_SANITY_DEVICE_CLASSES="$device_classes")
    if [[ -n "${parameters:-}" ]]; then
      file="$name.parameters.yaml"
      IFS=, read -r -a pairs <<< "$parameters"
      for pair in "${pairs[@]}"; do
        [[ "$pair" == ?*=* ]] || { echo "sanity_vm_test: class $name: parameter '$pair' is not k=v" >&2; exit 1; }
        printf '%s: %s\n' "$(yaml_string "${pair%%=*}")" "$(yaml_string "${pair#*=}")"
      done > "$results/$file"
      env+=(CELLAR_SANITY_VOLUME_PARAMETERS="$guest_results/$file")
    fi
    if [[ -n "${secrets:-}" ]]; then
      file="$name.secrets.yaml"
      IFS=, read -r -a pairs <<< "$secrets"
      declare -A fields=()
      for pair in "${pairs[@]}"; do
        if [[ ! "$pair" =~ ^([A-Za-z]+)\.([^=]+)=(.*)$ ]]; then
          echo "sanity_vm_test: class $name: secret '${pair%%=*}=...' is not Field.key=value" >&2
          exit 1
        fi
        fields[${BASH_REMATCH[1]}]+="  $(yaml_string "${BASH_REMATCH[2]}"): $(yaml_string "${BASH_REMATCH[3]}")"$'\n'
      done
      (umask 077; for field in "${!fields[@]}"; do printf '%s:\n%s' "$field" "${fields[$field]}"; done > "$results/$file")
      unset fields
      env+=(CELLAR_SANITY_SECRETS="$guest_results/$file")
    fi
    printf 'echo %q; env' "sanity_vm_test: class $name"
    printf ' %q' "${env[@]}"
    printf ' %q --gtest_output=xml:%q' "$suite" "$guest_results/$name.xml"
    if [[ -n "${SANITY_VM_FILTER:-}" ]]; then printf ' %q' "--gtest_filter=$SANITY_VM_FILTER"; fi
    printf ' || rc=1\n'
    names+=("$name")
  done
  echo 'exit $rc'
} > "$script"
rc=0
# Each class takes 10-20 minutes in the guest (TCG).
"$here/run_in_vm.sh" --timeout "${CELLAR_VM_SANITY_TIMEOUT:-$((1500 * ${#names[@]}))}" --mem 2048 \
  --results "$results" --env CELLAR_CSI_BINARY="$driver" -- \
  /bin/bash "$guest_results/run.sh" || rc=$?
echo "sanity_vm_test: guest exited $rc"
total_ran=0
merged="$results/merged.xml"
echo '<?xml version="1.0" encoding="UTF-8"?>' > "$merged"
tests=0; failures=0; errors=0; disabled=0
for name in "${names[@]}"; do
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
  # One <testsuites> holding every class's suites (each suite named after
  # its class), with the totals.
  {
    echo '<?xml version="1.0" encoding="UTF-8"?>'
    echo "<testsuites tests=\"$tests\" failures=\"$failures\" disabled=\"$disabled\" errors=\"$errors\" name=\"sanity_vm\">"
    for name in "${names[@]}"; do
      sed -n '/<testsuite /,/<\/testsuite>/p' "$results/$name.xml" |
        sed "s/<testsuite name=\"\([^\"]*\)\"/<testsuite name=\"$name.\1\"/"
    done
    echo '</testsuites>'
  } > "$XML_OUTPUT_FILE"
fi
exit $rc
