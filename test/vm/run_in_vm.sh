#!/bin/bash
# Runs one command as root inside a qemu guest whose kernel has device-mapper,
# so LVM and dm-crypt can be tested on hosts whose own kernel has neither.
#
#   test/vm/run_in_vm.sh [OPTIONS] -- COMMAND [ARGS...]
#
# The guest boots Debian's own kernel (linux-image-amd64, under /boot) with a
# tiny busybox initramfs built here and cached, mounts the host's root
# filesystem read-only over 9p and chroots into it, so COMMAND and every path
# in it are host paths: a binary just built in the work tree runs as is.
# Inside: devtmpfs on /dev (+ /dev/pts, /dev/shm), /proc, /sys, empty tmpfs on
# /tmp and /run (so the host's /tmp is NOT visible: keep inputs elsewhere, or
# in the --results directory), no udev, loopback network up, the
# device-mapper, loop, filesystem and crypto modules loaded, and (unless
# --no-lvm) two volume groups on loop devices over sparse files in guest
# memory. test/vm/guest_setup.sh does that part; see it for the variables
# COMMAND gets (CELLAR_VM_RESULTS, CELLAR_VM_VG, CELLAR_VM_THINPOOL, ...).
# COMMAND runs in the host's current directory, with stdin from /dev/null and
# stdout/stderr on the guest console, which is streamed to this script's
# stdout.
#
# Exit status: COMMAND's exit status in the guest; 125 when the guest set-up
# (modules, LVM) failed before COMMAND ran; 124 on time-out; 126 when the
# guest could not be started or gave no status (boot failure, panic).
#
# Options:
#   --timeout SECONDS   whole run, boot included (default 600); qemu is killed
#   --mem MB            guest memory (default 2048)
#   --disk-size SIZE    sparse file under the first VG (default 8G)
#   --disk2-size SIZE   sparse file under the second VG (default 4G)
#   --thinpool-size SZ  size of the thin pool cellarvg/pool0 (default 3G)
#   --results DIR       host directory shared writable as $CELLAR_VM_RESULTS
#                       (created if missing, kept). Default: a temporary
#                       directory, removed at the end.
#   --env NAME=VALUE    extra variable for COMMAND (repeatable)
#   --no-lvm            skip the loop devices and volume groups
#
# Environment: CELLAR_VM_DEBUG=1 (trace the guest set-up), CELLAR_VM_KERNEL
# (path of a vmlinuz, default the newest /boot/vmlinuz-* with modules
# installed), CELLAR_VM_CACHE (initramfs cache directory, default
# /tmp/cellar-vm-cache), CELLAR_VM_QEMU (qemu binary), CELLAR_VM_ROOT_CACHE
# (9p cache mode of the host root in the guest: "loose", the default, makes
# programs start several times faster than "none", but a host file changed
# while the guest runs may be seen stale), CELLAR_VM_APPEND (extra kernel
# command line).
#
# Nothing is created on the host but temporary files: loop devices, volume
# groups and mounts all live inside the guest and vanish with it.
set -uo pipefail

die_setup() { echo "run_in_vm: $*" >&2; exit 126; }

timeout_s=600
mem_mb=2048
disk_size=8G
disk2_size=4G
thinpool_size=3G
results_dir=""
setup_lvm=1
extra_env=()
while (($#)); do
  case "$1" in
    --timeout) timeout_s="${2:?}"; shift 2 ;;
    --timeout=*) timeout_s="${1#*=}"; shift ;;
    --mem) mem_mb="${2:?}"; shift 2 ;;
    --mem=*) mem_mb="${1#*=}"; shift ;;
    --disk-size) disk_size="${2:?}"; shift 2 ;;
    --disk-size=*) disk_size="${1#*=}"; shift ;;
    --disk2-size) disk2_size="${2:?}"; shift 2 ;;
    --disk2-size=*) disk2_size="${1#*=}"; shift ;;
    --thinpool-size) thinpool_size="${2:?}"; shift 2 ;;
    --thinpool-size=*) thinpool_size="${1#*=}"; shift ;;
    --results) results_dir="${2:?}"; shift 2 ;;
    --results=*) results_dir="${1#*=}"; shift ;;
    --env) extra_env+=("${2:?}"); shift 2 ;;
    --env=*) extra_env+=("${1#*=}"); shift ;;
    --no-lvm) setup_lvm=0; shift ;;
    --) shift; break ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die_setup "unknown option '$1' (see --help; put the command after --)" ;;
  esac
done
(($#)) || die_setup "no command given: run_in_vm.sh [OPTIONS] -- COMMAND [ARGS...]"
[[ "$timeout_s" =~ ^[0-9]+$ && "$timeout_s" -gt 0 ]] || die_setup "bad --timeout '$timeout_s'"
[[ "$mem_mb" =~ ^[0-9]+$ && "$mem_mb" -ge 256 ]] || die_setup "bad --mem '$mem_mb'"
for e in "${extra_env[@]}"; do
  [[ "$e" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die_setup "bad --env '$e' (want NAME=VALUE)"
done
[[ $EUID -eq 0 ]] || die_setup "must run as root (qemu shares / with security_model=none)"

here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
guest_setup="$here/guest_setup.sh"
[[ -r "$guest_setup" ]] || die_setup "missing $guest_setup"
qemu="${CELLAR_VM_QEMU:-qemu-system-x86_64}"
command -v "$qemu" >/dev/null || die_setup "$qemu not found (run tools/setup: package qemu-system-x86)"
busybox=/bin/busybox
[[ -x "$busybox" ]] || die_setup "busybox not found (run tools/setup: package busybox-static)"
if ldd "$busybox" >/dev/null 2>&1; then die_setup "$busybox is not static (install busybox-static)"; fi

# --- the guest kernel: Debian's, not the host's running one -----------------
if [[ -n "${CELLAR_VM_KERNEL:-}" ]]; then
  kernel="$CELLAR_VM_KERNEL"
  kver="$(basename "$kernel")"; kver="${kver#vmlinuz-}"
else
  kernel=""
  while read -r v; do
    if [[ -r "/boot/vmlinuz-$v" && -r "/lib/modules/$v/modules.dep" ]]; then
      kernel="/boot/vmlinuz-$v"; kver="$v"
    fi
  done < <(ls /boot 2>/dev/null | sed -n 's/^vmlinuz-//p' | sort -V)
fi
[[ -n "$kernel" && -r "$kernel" ]] || die_setup "no kernel under /boot with modules in /lib/modules (run tools/setup: package linux-image-amd64)"
moddir="/lib/modules/$kver"
[[ -r "$moddir/modules.dep" ]] || die_setup "no modules for guest kernel $kver in $moddir"

# --- initramfs: busybox + the modules needed to mount the 9p root ----------
# Built on first use and whenever an input changes (kernel, busybox, modules,
# the /init below), into a content-addressed cache file.
read -r -d '' init_script <<'INIT'
#!/bin/busybox sh
# cellar test VM: mount the host's root over 9p and run the set-up in it.
export PATH=/bin
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
fail() { echo "CELLAR_VM_BOOT_FAILED: $*"; poweroff -f; sleep 5; echo o > /proc/sysrq-trigger; }
mount -t proc proc /proc
mount -t sysfs sysfs /sys
for m in $(cat /modules.list); do
  insmod "/modules/$m" || fail "insmod $m"
done
r=/newroot
mkdir -p $r
o=trans=virtio,version=9p2000.L,msize=512000
rootopts=$o,ro
for w in $(cat /proc/cmdline); do
  case "$w" in cellar.rootcache=*) rootopts="$rootopts,cache=${w#*=}" ;; esac
done
mount -t 9p -o $rootopts hostroot $r || fail "cannot mount the host root over 9p"
mount -t devtmpfs devtmpfs $r/dev || fail "mount /dev"
mkdir -p $r/dev/pts $r/dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts $r/dev/pts
mount -t tmpfs -o mode=1777 shm $r/dev/shm
mount -t proc proc $r/proc || fail "mount /proc"
mount -t sysfs sysfs $r/sys || fail "mount /sys"
mount -t tmpfs -o mode=1777 tmpfs $r/tmp || fail "mount /tmp"
mount -t tmpfs -o mode=755 tmpfs $r/run || fail "mount /run"
mkdir -p $r/run/cellar-vm/ctl $r/run/cellar-vm/results
mount -t 9p -o $o cellarctl $r/run/cellar-vm/ctl || fail "mount control share"
mount -t 9p -o $o cellarresults $r/run/cellar-vm/results || fail "mount results share"
# The kernel runs its module loader from this root, not the chroot's: send it
# to the host's modprobe, which knows the guest kernel's modules.
printf '#!/bin/sh\nexec chroot %s /sbin/modprobe "$@"\n' $r > /bin/modprobe-chroot
chmod 755 /bin/modprobe-chroot
echo /bin/modprobe-chroot > /proc/sys/kernel/modprobe
echo "CELLAR_VM_BOOTED at $(cut -d' ' -f1 /proc/uptime)s"
chroot $r /bin/bash /run/cellar-vm/ctl/guest_setup.sh </dev/null
rc=$?
[ -f $r/run/cellar-vm/ctl/status ] || echo $rc > $r/run/cellar-vm/ctl/status
echo "CELLAR_VM_EXIT=$rc"
sync
umount $r/run/cellar-vm/results $r/run/cellar-vm/ctl 2>/dev/null
poweroff -f
sleep 5
echo o > /proc/sysrq-trigger
INIT

initrd_modules=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci
                netfs fscache 9pnet 9pnet_virtio 9p)
# Resolve names to files (in load order) through modules.dep.
mod_files=()
declare -A seen=()
add_module() {  # name
  local name="$1" line path deps d
  line="$(grep -E "(^|/)${name//_/[_-]}\.ko(\.[a-z]+)?:" "$moddir/modules.dep" | head -1)"
  if [[ -z "$line" ]]; then
    # Built into the kernel: nothing to load.
    grep -qE "/${name//_/[_-]}\.ko$" "$moddir/modules.builtin" && return 0
    die_setup "module $name not found for kernel $kver"
  fi
  path="${line%%:*}"; deps="${line#*:}"
  [[ -n "${seen[$path]:-}" ]] && return 0
  for d in $deps; do add_module "$(basename "${d%%.ko*}")"; done
  [[ -n "${seen[$path]:-}" ]] && return 0
  seen[$path]=1
  mod_files+=("$path")
}
for m in "${initrd_modules[@]}"; do add_module "$m"; done

cache_dir="${CELLAR_VM_CACHE:-/tmp/cellar-vm-cache}"
mkdir -p "$cache_dir" || die_setup "cannot create cache dir $cache_dir"
key="$( {
  echo "v1 $kver"; printf '%s\n' "$init_script"
  stat -L -c '%n %s %Y' "$busybox" "${mod_files[@]/#/$moddir/}"
} | sha256sum | cut -c1-16)"
initrd="$cache_dir/initramfs-$kver-$key.cpio.gz"
if [[ ! -s "$initrd" ]]; then
  echo "run_in_vm: building $initrd" >&2
  build="$(mktemp -d "$cache_dir/build.XXXXXX")" || die_setup "mktemp failed"
  (
    set -e
    mkdir -p "$build/root"/{bin,dev,proc,sys,modules}
    cp "$busybox" "$build/root/bin/busybox"
    for a in $("$busybox" --list); do
      [[ "$a" == busybox ]] || ln -s busybox "$build/root/bin/$a"
    done
    : > "$build/root/modules.list"
    for f in "${mod_files[@]}"; do
      cp "$moddir/$f" "$build/root/modules/"
      basename "$f" >> "$build/root/modules.list"
    done
    printf '%s\n' "$init_script" > "$build/root/init"
    chmod 755 "$build/root/init"
    (cd "$build/root" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 > "$build/initrd"
    mv -f "$build/initrd" "$initrd"
  ) || { rm -rf "$build"; die_setup "failed to build the initramfs"; }
  rm -rf "$build"
  # Drop stale images of other inputs.
  find "$cache_dir" -maxdepth 1 -name 'initramfs-*.cpio.gz' ! -newer "$initrd" ! -name "$(basename "$initrd")" -mmin +60 -delete 2>/dev/null
fi

# --- per-run directory: control share, results share, console log ----------
run_dir=""
keep_results=1
qemu_pid=""
reader_pid=""
cleanup() {
  if [[ -n "$qemu_pid" ]] && kill -0 "$qemu_pid" 2>/dev/null; then
    kill -TERM "$qemu_pid" 2>/dev/null
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$qemu_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$qemu_pid" 2>/dev/null
    wait "$qemu_pid" 2>/dev/null
  fi
  if [[ -n "$reader_pid" ]]; then
    kill "$reader_pid" 2>/dev/null; wait "$reader_pid" 2>/dev/null
  fi
  [[ -n "$run_dir" ]] && rm -rf "$run_dir"
  ((keep_results)) || [[ -z "$results_dir" ]] || rm -rf "$results_dir"
}
trap cleanup EXIT
trap 'echo "run_in_vm: interrupted, stopping the guest" >&2; exit 130' INT
trap 'echo "run_in_vm: terminated, stopping the guest" >&2; exit 143' TERM

run_dir="$(mktemp -d "${TMPDIR:-/tmp}/cellar-vm-run.XXXXXX")" || die_setup "mktemp failed"
mkdir -p "$run_dir/ctl"
if [[ -z "$results_dir" ]]; then
  results_dir="$run_dir/results"; keep_results=0
fi
mkdir -p "$results_dir" || die_setup "cannot create results dir $results_dir"
results_dir="$(cd "$results_dir" && pwd)"
cp "$guest_setup" "$run_dir/ctl/guest_setup.sh"
{
  echo "# written by run_in_vm.sh"
  printf 'CELLAR_VM_SETUP_LVM=%q\n' "$setup_lvm"
  printf 'CELLAR_VM_DISK_SIZE=%q\n' "$disk_size"
  printf 'CELLAR_VM_DISK2_SIZE=%q\n' "$disk2_size"
  printf 'CELLAR_VM_THINPOOL_SIZE=%q\n' "$thinpool_size"
  printf 'CELLAR_VM_CWD=%q\n' "$PWD"
  printf 'CELLAR_VM_DEBUG=%q\n' "${CELLAR_VM_DEBUG:-0}"
  printf 'CELLAR_VM_EXTRA_ENV=(%s)\n' "$( ((${#extra_env[@]})) && printf '%q ' "${extra_env[@]}")"
  printf 'CELLAR_VM_CMD=(%s)\n' "$(printf '%q ' "$@")"
} > "$run_dir/ctl/config"
console_log="$run_dir/console.log"

# The console goes through a FIFO to a reader that drops the serial line's
# carriage returns, so this script's stdout reads like a plain log.
mkfifo "$run_dir/console.fifo"
sed -u 's/\r$//' < "$run_dir/console.fifo" &
reader_pid=$!

start=$(date +%s.%N)
# setpriv --pdeathsig: qemu dies with this script even if it is SIGKILLed.
# stdin from /dev/null: no raw terminal, and Ctrl-C reaches qemu and us.
setpriv --pdeathsig KILL -- "$qemu" \
  -accel tcg,thread=multi -cpu max -smp 2 -m "$mem_mb" \
  -nodefaults -no-user-config -display none -no-reboot \
  -chardev "stdio,id=con0,signal=off,logfile=$console_log" -serial chardev:con0 \
  -kernel "$kernel" -initrd "$initrd" \
  -append "console=ttyS0 panic=-1 quiet loglevel=3 mitigations=off cryptomgr.notests cellar.rootcache=${CELLAR_VM_ROOT_CACHE:-loose} ${CELLAR_VM_APPEND:-}" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  -virtfs "local,path=$run_dir/ctl,mount_tag=cellarctl,security_model=none,multidevs=remap" \
  -virtfs "local,path=$results_dir,mount_tag=cellarresults,security_model=none,multidevs=remap" \
  </dev/null >"$run_dir/console.fifo" &
qemu_pid=$!

timed_out=0
deadline=$((SECONDS + timeout_s))
while kill -0 "$qemu_pid" 2>/dev/null; do
  if ((SECONDS >= deadline)); then
    timed_out=1
    echo "run_in_vm: TIMEOUT after ${timeout_s}s, killing qemu (pid $qemu_pid)" >&2
    kill -TERM "$qemu_pid" 2>/dev/null
    sleep 2
    kill -KILL "$qemu_pid" 2>/dev/null
    break
  fi
  sleep 0.5
done
wait "$qemu_pid"
qemu_rc=$?
qemu_pid=""
wait "$reader_pid" 2>/dev/null
reader_pid=""
elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN{printf "%.1f", e-s}')

if ((timed_out)); then
  exit 124
fi
status=""
[[ -r "$run_dir/ctl/status" ]] && status="$(tr -dc '0-9' < "$run_dir/ctl/status")"
if [[ -z "$status" ]]; then
  status="$(tr -d '\r' < "$console_log" 2>/dev/null | sed -n 's/^CELLAR_VM_EXIT=\([0-9]*\)$/\1/p' | tail -1)"
fi
if [[ -z "$status" ]]; then
  reason="the guest gave no exit status (qemu exit code $qemu_rc)"
  ((qemu_rc > 128)) && reason="qemu was killed by signal $((qemu_rc - 128))"
  if grep -q 'Kernel panic' "$console_log" 2>/dev/null; then
    reason="the guest kernel panicked"
  elif grep -q 'CELLAR_VM_BOOT_FAILED' "$console_log" 2>/dev/null; then
    reason="the guest failed to boot: $(grep -a -o 'CELLAR_VM_BOOT_FAILED.*' "$console_log" | tail -1 | tr -d '\r')"
  elif ! grep -q 'CELLAR_VM_BOOTED' "$console_log" 2>/dev/null; then
    reason="the guest did not boot (qemu exit code $qemu_rc)"
  fi
  echo "run_in_vm: FAILED: $reason after ${elapsed}s" >&2
  exit 126
fi
echo "run_in_vm: guest exit status $status after ${elapsed}s" >&2
exit "$status"
