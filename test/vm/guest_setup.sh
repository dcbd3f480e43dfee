#!/bin/bash
# Runs INSIDE the test VM (see run_in_vm.sh), as root, chrooted into the
# host's root filesystem (read-only 9p): loads the kernel modules, prepares an
# LVM environment that works without udev and with a read-only /etc, then
# runs the requested command and records its exit status.
#
# COMMAND gets these variables:
#   CELLAR_VM=1
#   CELLAR_VM_RESULTS   /run/cellar-vm/results, writable, shared with the host
#   CELLAR_VM_KERNEL    the guest kernel's release (uname -r)
#   LVM_SYSTEM_DIR      /run/cellar-vm/lvm: lvm.conf for this environment
# and unless --no-lvm:
#   CELLAR_VM_VG        cellarvg, on CELLAR_VM_PV (a loop device over a sparse
#                       file of --disk-size, default 8G, in guest memory)
#   CELLAR_VM_THINPOOL  cellarvg/pool0, a thin pool of --thinpool-size (3G);
#                       the rest of cellarvg is free for thick LVs
#   CELLAR_VM_VG2       cellarvg2, on CELLAR_VM_PV2 (--disk2-size, 4G), empty
#   CELLAR_VM_PV, CELLAR_VM_PV2, CELLAR_VM_DISK_DIR (the tmpfs holding the
#                       sparse files)
# plus DM_DISABLE_UDEV=1, HOME=/tmp, TMPDIR=/tmp, LANG=C.UTF-8, a standard
# PATH, and any --env NAME=VALUE.
# Data written to LVs occupies guest memory (tmpfs); LVM is set to issue
# discards, so removing an LV gives the memory back.
set -uo pipefail
ctl=/run/cellar-vm/ctl
status_file=$ctl/status
# shellcheck source=/dev/null
source "$ctl/config"
[[ "${CELLAR_VM_DEBUG:-0}" == 1 ]] && set -x

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp TMPDIR=/tmp LANG=C.UTF-8
export CELLAR_VM=1 CELLAR_VM_RESULTS=/run/cellar-vm/results
export CELLAR_VM_KERNEL="$(uname -r)"
# No udev runs here: libdevmapper (LVM, cryptsetup, dmsetup) creates the
# /dev/mapper nodes itself. Say so explicitly rather than relying on it
# noticing that /run/udev/control is missing.
export DM_DISABLE_UDEV=1

setup_failed() {
  echo "cellar-vm: SETUP FAILED: $*"
  echo 125 > "$status_file"
  exit 125
}
up() { cut -d' ' -f1 /proc/uptime; }

# --- kernel modules -------------------------------------------------------
# Everything LVM (thin, snapshots), dm-crypt (LUKS2 with aes-xts-plain64 and
# the kernel crypto user API libcryptsetup uses), loop and the filesystems
# need. The kernel's own autoloading also works (it is pointed at the host's
# modprobe through the chroot), but loading up front avoids surprises.
required=(dm_mod dm_crypt dm_snapshot dm_thin_pool dm_bufio dm_persistent_data
          loop ext4 xfs xts aesni_intel algif_skcipher algif_hash)
optional=(dm_integrity dm_mirror dm_raid dm_zero essiv sha256_ssse3 crc32c_intel
          crc32_pclmul cbc ecb sha256_generic aes_generic af_alg)
modprobe -a "${required[@]}" || setup_failed "modprobe -a ${required[*]}"
modprobe -q -a "${optional[@]}" 2>/dev/null || true
[[ -e /dev/mapper/control ]] || setup_failed "no /dev/mapper/control after loading dm_mod"
echo "cellar-vm: modules loaded at $(up)s"

ip link set lo up 2>/dev/null || busybox ip link set lo up 2>/dev/null || true

# --- LVM without udev, with a read-only /etc -------------------------------
export LVM_SYSTEM_DIR=/run/cellar-vm/lvm
mkdir -p "$LVM_SYSTEM_DIR"/{lock,archive,backup,profile} /run/lvm /run/lock /run/cryptsetup
cat > "$LVM_SYSTEM_DIR/lvm.conf" <<'EOF'
# cellar test VM: no udev, no daemons, read-only /etc; only loop devices.
config {
    checks = 1
}
devices {
    dir = "/dev"
    scan = [ "/dev" ]
    obtain_device_list_from_udev = 0
    external_device_info_source = "none"
    use_devicesfile = 0
    hints = "none"
    scan_lvs = 0
    filter = [ "a|^/dev/loop[0-9]+$|", "r|.*|" ]
    global_filter = [ "a|^/dev/loop[0-9]+$|", "r|.*|" ]
    multipath_component_detection = 0
    md_component_detection = 0
    fw_raid_component_detection = 0
    issue_discards = 1
    write_cache_state = 0
}
activation {
    udev_sync = 0
    udev_rules = 0
    verify_udev_operations = 0
    monitoring = 0
}
global {
    locking_dir = "/run/cellar-vm/lvm/lock"
    use_lvmlockd = 0
    use_lvmpolld = 0
    notify_dbus = 0
    event_activation = 0
}
backup {
    # Backups go to tmpfs (cheap) only to keep LVM from warning on every
    # change that the metadata update is not backed up.
    backup = 1
    archive = 0
    backup_dir = "/run/cellar-vm/lvm/backup"
    archive_dir = "/run/cellar-vm/lvm/archive"
}
log {
    verbose = 0
    syslog = 0
}
EOF

if [[ "$CELLAR_VM_SETUP_LVM" == 1 ]]; then
  export CELLAR_VM_DISK_DIR=/run/cellar-vm/disks
  mkdir -p "$CELLAR_VM_DISK_DIR"
  # Its own tmpfs so a test that fills it gets ENOSPC rather than the OOM killer.
  mount -t tmpfs -o size=75%,mode=700 cellar-disks "$CELLAR_VM_DISK_DIR" || setup_failed "tmpfs for disks"
  truncate -s "$CELLAR_VM_DISK_SIZE" "$CELLAR_VM_DISK_DIR/pv1.img" || setup_failed "truncate pv1"
  truncate -s "$CELLAR_VM_DISK2_SIZE" "$CELLAR_VM_DISK_DIR/pv2.img" || setup_failed "truncate pv2"
  CELLAR_VM_PV=$(losetup -f --show "$CELLAR_VM_DISK_DIR/pv1.img") || setup_failed "losetup pv1"
  CELLAR_VM_PV2=$(losetup -f --show "$CELLAR_VM_DISK_DIR/pv2.img") || setup_failed "losetup pv2"
  export CELLAR_VM_PV CELLAR_VM_PV2
  export CELLAR_VM_VG=cellarvg CELLAR_VM_VG2=cellarvg2
  export CELLAR_VM_THINPOOL=cellarvg/pool0
  # One lvm process for all four commands (each process start costs ~0.1-1 s
  # under emulation); its shell does not report failures, so check after.
  printf '%s\n' \
    "pvcreate -q $CELLAR_VM_PV $CELLAR_VM_PV2" \
    "vgcreate -q $CELLAR_VM_VG $CELLAR_VM_PV" \
    "vgcreate -q $CELLAR_VM_VG2 $CELLAR_VM_PV2" \
    "lvcreate -q --type thin-pool -L $CELLAR_VM_THINPOOL_SIZE -n pool0 $CELLAR_VM_VG" |
    lvm >/tmp/cellar-vm-lvm-setup.log 2>&1
  lvs "$CELLAR_VM_THINPOOL" "$CELLAR_VM_VG2" >>/tmp/cellar-vm-lvm-setup.log 2>&1 ||
    { cat /tmp/cellar-vm-lvm-setup.log; setup_failed "creating the volume groups"; }
  echo "cellar-vm: $CELLAR_VM_VG on $CELLAR_VM_PV ($CELLAR_VM_DISK_SIZE) with thin pool $CELLAR_VM_THINPOOL ($CELLAR_VM_THINPOOL_SIZE), $CELLAR_VM_VG2 on $CELLAR_VM_PV2 ($CELLAR_VM_DISK2_SIZE); ready at $(up)s"
fi

# --- the command ----------------------------------------------------------
for e in "${CELLAR_VM_EXTRA_ENV[@]}"; do export "$e"; done
cd "$CELLAR_VM_CWD" 2>/dev/null || cd /
echo "cellar-vm: running: ${CELLAR_VM_CMD[*]}"
echo "<4>cellar-vm: command starts" > /dev/kmsg
"${CELLAR_VM_CMD[@]}" </dev/null
rc=$?
echo "$rc" > "$status_file"
if ((rc != 0)); then
  # The console shows only critical kernel messages (loglevel=3): on failure,
  # show the kernel's errors and warnings too, minus the known noise of loop
  # devices over tmpfs refusing WRITE_ZEROES (callers fall back to writing).
  echo "cellar-vm: command exited $rc; kernel errors and warnings since it started:"
  dmesg --level=emerg,alert,crit,err,warn 2>/dev/null | sed -n '/cellar-vm: command starts/,$p' |
    grep -v -e 'op 0x9:(WRITE_ZEROES)' -e 'blk_print_req_error: .* callbacks suppressed' | tail -n 60
fi
sync
exit "$rc"
