#!/bin/bash
# Proves the test VM (run_in_vm.sh) works for what cellar's LVM and dm-crypt
# tests need, in one guest boot: thick and thin LVs, a thin snapshot, ext4 and
# xfs, LUKS2 format/open/close, removal, and the results share.
#
#   test/vm/smoke_test.sh            on the host (or as //test/vm:vm_smoke_test)
#   test/vm/smoke_test.sh --inside   the checks themselves, run in the guest
#
# Environment: CELLAR_VM_SMOKE_TIMEOUT (seconds for the whole guest run).
set -euo pipefail
self="$(readlink -f "${BASH_SOURCE[0]}")"
here="$(dirname "$self")"

if [[ "${1:-}" != --inside ]]; then
  # ---------------------------------------------------------------- host side
  if [[ -n "${TEST_UNDECLARED_OUTPUTS_DIR:-}" ]]; then
    results="$TEST_UNDECLARED_OUTPUTS_DIR/vm-results"; keep=1
  else
    results="$(mktemp -d "${TMPDIR:-/tmp}/cellar-vm-smoke.XXXXXX")"; keep=0
  fi
  mkdir -p "$results"
  ((keep)) || trap 'rm -rf "$results"' EXIT
  start=$SECONDS
  rc=0
  # The guest sees the host's root but not its /tmp (a fresh tmpfs there),
  # and a checkout may live under /tmp: run a copy kept in the shared
  # results directory.
  cp "$self" "$results/smoke_inside.sh"
  "$here/run_in_vm.sh" --timeout "${CELLAR_VM_SMOKE_TIMEOUT:-420}" --results "$results" \
    --env CELLAR_SMOKE_MARK=passed-through -- \
    /bin/bash -c 'exec /bin/bash "$CELLAR_VM_RESULTS/smoke_inside.sh" --inside' || rc=$?
  echo "smoke: guest run exited $rc after $((SECONDS - start))s"
  if [[ -f "$results/layout.txt" ]]; then
    echo "---- device layout seen in the guest ($results/layout.txt)"
    cat "$results/layout.txt"
  fi
  if ((rc != 0)); then
    echo "smoke: FAILED (exit status $rc)"
    exit 1
  fi
  if [[ "$(cat "$results/result.txt" 2>/dev/null)" != "SMOKE OK" ]]; then
    echo "smoke: FAILED: the guest exited 0 but wrote no 'SMOKE OK' to the results share"
    exit 1
  fi
  echo "smoke: PASSED"
  exit 0
fi

# ------------------------------------------------------------- inside the VM
step() { echo "smoke: -- $*"; }
fail() { echo "smoke: FAILED: $*"; exit 1; }
: "${CELLAR_VM_RESULTS:?not in the VM}" "${CELLAR_VM_VG:?}" "${CELLAR_VM_VG2:?}" "${CELLAR_VM_THINPOOL:?}"
[[ "${CELLAR_SMOKE_MARK:-}" == passed-through ]] || fail "--env variable not passed to the command"
[[ -n "${LVM_SYSTEM_DIR:-}" && -f "$LVM_SYSTEM_DIR/lvm.conf" ]] || fail "LVM_SYSTEM_DIR not set up"
layout="$CELLAR_VM_RESULTS/layout.txt"
: > "$layout"
vg="$CELLAR_VM_VG" vg2="$CELLAR_VM_VG2"
work=/tmp/smoke
mkdir -p "$work/mnt"

step "environment"
env | grep -E '^(CELLAR_VM|LVM_SYSTEM_DIR)' | sort
vgs -o vg_name,vg_size,vg_free,pv_count
lvs -o lv_name,vg_name,lv_attr,lv_size,pool_lv "$vg" "$vg2"
lvs "$CELLAR_VM_THINPOOL" >/dev/null || fail "no thin pool $CELLAR_VM_THINPOOL"

describe() {  # PATH: how the device path looks (symlink or node, target)
  local p="$1"
  if [[ -L "$p" ]]; then
    echo "$p: symlink -> $(readlink "$p")"
  elif [[ -b "$p" ]]; then
    echo "$p: block device node"
  else
    echo "$p: MISSING"
  fi
}

# fs_cycle DEV FSTYPE LABEL: mkfs, mount, write, verify, umount
fs_cycle() {
  local dev="$1" fstype="$2" label="$3"
  case "$fstype" in
    ext4) mkfs.ext4 -q -F "$dev" ;;
    xfs) mkfs.xfs -q -f "$dev" ;;
  esac
  mount -t "$fstype" "$dev" "$work/mnt"
  dd if=/dev/urandom of="$work/mnt/data" bs=1M count=8 status=none conv=fsync
  (cd "$work/mnt" && sha256sum data) > "$work/$label.sum"
  umount "$work/mnt"
  mount -t "$fstype" -o ro "$dev" "$work/mnt"
  (cd "$work/mnt" && sha256sum --quiet -c "$work/$label.sum") || fail "$label: data differs after remount"
  umount "$work/mnt"
  echo "smoke: $label: $fstype on $dev: mkfs, mount, write, remount, verify, umount ok"
}

step "thick LV in $vg"
lvcreate -q -L 256M -n smoke-thick "$vg"
describe "/dev/$vg/smoke-thick" | tee -a "$layout"
describe "/dev/mapper/$vg-smoke--thick" | tee -a "$layout"
[[ -b "/dev/$vg/smoke-thick" ]] || fail "/dev/$vg/smoke-thick is not a block device"
fs_cycle "/dev/$vg/smoke-thick" ext4 thick

step "thin LV in $CELLAR_VM_THINPOOL"
lvcreate -q -V 1G -T "$CELLAR_VM_THINPOOL" -n smoke-thin
describe "/dev/$vg/smoke-thin" | tee -a "$layout"
fs_cycle "/dev/$vg/smoke-thin" ext4 thin

step "thin snapshot of smoke-thin"
lvcreate -q -s -n smoke-snap "$vg/smoke-thin"
lvchange -q -ay -K "$vg/smoke-snap"
describe "/dev/$vg/smoke-snap" | tee -a "$layout"
mount -o ro "/dev/$vg/smoke-snap" "$work/mnt"
(cd "$work/mnt" && sha256sum --quiet -c "$work/thin.sum") || fail "snapshot data differs"
umount "$work/mnt"

step "xfs on a thin LV"
lvcreate -q -V 512M -T "$CELLAR_VM_THINPOOL" -n smoke-xfs
fs_cycle "/dev/$vg/smoke-xfs" xfs xfs

step "LUKS2 on a thick LV in $vg2"
lvcreate -q -L 128M -n smoke-crypt "$vg2"
head -c 64 /dev/urandom > "$work/key"
cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
  --key-file "$work/key" "/dev/$vg2/smoke-crypt"
cryptsetup luksDump "/dev/$vg2/smoke-crypt" > "$work/dump"
grep -q '^Version:[[:space:]]*2$' "$work/dump" || fail "not LUKS2"
cryptsetup open --key-file "$work/key" "/dev/$vg2/smoke-crypt" smoke-crypt
describe /dev/mapper/smoke-crypt | tee -a "$layout"
fs_cycle /dev/mapper/smoke-crypt ext4 luks
cryptsetup close smoke-crypt
[[ ! -e /dev/mapper/smoke-crypt ]] || fail "/dev/mapper/smoke-crypt still there after close"
cryptsetup open --key-file "$work/key" "/dev/$vg2/smoke-crypt" smoke-crypt
mount -o ro /dev/mapper/smoke-crypt "$work/mnt"
(cd "$work/mnt" && sha256sum --quiet -c "$work/luks.sum") || fail "LUKS data differs after reopen"
umount "$work/mnt"

{
  echo "--- all smoke LVs active, LUKS mapping open:"
  ls -l /dev/mapper "/dev/$vg" /dev/dm-*
  dmsetup info -c -o name,major,minor
  [[ -e /dev/disk ]] || echo "(no /dev/disk: no by-id/by-uuid links without udev)"
} >> "$layout" 2>&1
cryptsetup close smoke-crypt

step "lvremove"
lvremove -q -y "$vg/smoke-snap" "$vg/smoke-thin" "$vg/smoke-xfs" "$vg/smoke-thick" "$vg2/smoke-crypt"
for p in "/dev/$vg/smoke-thick" "/dev/$vg/smoke-thin" "/dev/mapper/$vg-smoke--thick" "/dev/$vg2/smoke-crypt"; do
  [[ ! -e "$p" && ! -L "$p" ]] || fail "$p still exists after lvremove"
done
[[ -z "$(lvs --noheadings -S 'lv_name=~^smoke' "$vg" "$vg2")" ]] || fail "smoke LVs left"
lvs -o lv_name,lv_attr,lv_size,data_percent "$vg" "$vg2"

echo "SMOKE OK" > "$CELLAR_VM_RESULTS/result.txt"
echo "smoke: all checks passed in the guest"
