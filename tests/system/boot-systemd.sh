#!/bin/bash
# Boots a throwaway systemd for the system tests: systemd runs as PID 1 of new
# PID, mount, UTS, IPC and cgroup namespaces, on an overlay of the host's /
# whose writes go to a tmpfs and vanish with it.  The network namespace is
# the host's, so the test reaches units on 127.0.0.1 directly.
#
# Sourced by a test, it provides:
#   boot_sd_unavailable         prints why it cannot run here (status 0) or
#                               nothing (status 1)
#   boot_sd_start STAGING       copies the tree STAGING (e.g. STAGING/usr/sbin/X,
#                               STAGING/etc/systemd/system/X.service) over the
#                               overlay and boots; returns once the system is up
#   boot_sd CMD...              runs CMD inside (systemctl, journalctl...)
#   boot_sd_stop                powers off, waits, removes the scratch dir
#   BOOT_SD_DIR                 scratch dir; console.log holds the boot output
# Executed as `boot-systemd.sh --inner STAGING DIR` it is that PID 1 until it
# execs systemd.
#
# Host units that cannot work in such a container are masked.

BOOT_SD_SELF=${BASH_SOURCE[0]}
BOOT_SD_DIR=
BOOT_SD_UNSHARE_PID=
BOOT_SD_PID=
BOOT_SD_TIMEOUT=${BOOT_SD_TIMEOUT:-60}

BOOT_SD_MASK="postgresql.service prometheus.service prometheus-node-exporter.service
smartmontools.service e2scrub_reap.service systemd-timesyncd.service
openipmi.service console-getty.service"

# ------------------------------------------------------------- on the host

boot_sd_unavailable() {
        if [ "$(id -u)" != 0 ]; then
                echo "needs root to create namespaces"
        elif ! command -v unshare >/dev/null || ! command -v nsenter >/dev/null; then
                echo "unshare or nsenter (util-linux) is missing"
        elif [ ! -x /lib/systemd/systemd ]; then
                echo "/lib/systemd/systemd is missing"
        elif ! grep -qw overlay /proc/filesystems && ! modprobe -q overlay 2>/dev/null; then
                echo "the kernel has no overlayfs"
        elif ! unshare --pid --fork --mount --uts --ipc --cgroup true 2>/dev/null; then
                echo "unshare cannot create PID/mount/UTS/IPC/cgroup namespaces here"
        else
                return 1
        fi
        return 0
}

# is_gone PID: the process has exited (a zombie counts as gone).
boot_sd_is_gone() {
        local state
        state=$(sed -e 's/^.*) //' -e 's/ .*//' "/proc/$1/stat" 2>/dev/null) || return 0
        [ "$state" = Z ] || [ "$state" = X ]
}

# wait_gone PID SECONDS
boot_sd_wait_gone() {
        local i
        for ((i = 0; i < $2 * 10; i++)); do
                boot_sd_is_gone "$1" && return 0
                sleep 0.1
        done
        return 1
}

# The namespace's PID 1 is the only child of the unshare process.
boot_sd_find_init() {
        local i
        for ((i = 0; i < 50; i++)); do
                BOOT_SD_PID=$(cat "/proc/$BOOT_SD_UNSHARE_PID/task/$BOOT_SD_UNSHARE_PID/children" 2>/dev/null)
                BOOT_SD_PID=${BOOT_SD_PID%% *}
                [ -n "$BOOT_SD_PID" ] && return 0
                boot_sd_is_gone "$BOOT_SD_UNSHARE_PID" && break
                sleep 0.1
        done
        echo "boot-systemd: the namespace's init did not appear; see $BOOT_SD_DIR/console.log" >&2
        return 1
}

boot_sd() {
        timeout 60 nsenter -t "$BOOT_SD_PID" -m -p -u -i -C -r -w "$@"
}

# Waits until the boot finished; "degraded" is accepted (a host unit that
# fails here is not the test's business) but its failed units are listed.
boot_sd_wait_running() {
        local i state
        for ((i = 0; i < BOOT_SD_TIMEOUT * 5; i++)); do
                boot_sd_is_gone "$BOOT_SD_PID" && break
                state=$(boot_sd systemctl is-system-running 2>/dev/null)
                case $state in
                running) return 0 ;;
                degraded)
                        boot_sd systemctl --failed --no-legend --plain | sed 's/^/# failed in the container: /'
                        return 0 ;;
                esac
                sleep 0.2
        done
        echo "boot-systemd: systemd is not running after ${BOOT_SD_TIMEOUT}s (state: ${state:-none})" >&2
        tail -n 30 "$BOOT_SD_DIR/console.log" | sed 's/^/# console: /' >&2
        return 1
}

boot_sd_start() {
        local staging=$1
        BOOT_SD_DIR=$(mktemp -d "${TMPDIR:-/tmp}/boot-systemd.XXXXXX") || return 1
        mkdir "$BOOT_SD_DIR/mnt" && : >"$BOOT_SD_DIR/console.log" || return 1
        setsid unshare --pid --fork --mount --uts --ipc --cgroup --kill-child \
                bash "$BOOT_SD_SELF" --inner "$staging" "$BOOT_SD_DIR" \
                </dev/null >>"$BOOT_SD_DIR/console.log" 2>&1 &
        BOOT_SD_UNSHARE_PID=$!
        boot_sd_find_init && boot_sd_wait_running
}

# Powers off cleanly when possible; otherwise SIGKILL to the namespace's
# init, which takes every process of the namespace with it.
boot_sd_stop() {
        if [ -n "$BOOT_SD_PID" ] && ! boot_sd_is_gone "$BOOT_SD_PID"; then
                boot_sd systemctl poweroff --no-block >/dev/null 2>&1
                boot_sd_wait_gone "$BOOT_SD_PID" 15 || kill -KILL "$BOOT_SD_PID" 2>/dev/null
        fi
        if [ -n "$BOOT_SD_UNSHARE_PID" ]; then
                boot_sd_wait_gone "$BOOT_SD_UNSHARE_PID" 5 || kill -KILL "$BOOT_SD_UNSHARE_PID" 2>/dev/null
                wait "$BOOT_SD_UNSHARE_PID" 2>/dev/null
        fi
        # The mounts lived in the dead mount namespace; only empty dirs and
        # the console log are left on the host.
        [ -n "$BOOT_SD_DIR" ] && rm -rf -- "$BOOT_SD_DIR"
        BOOT_SD_PID= BOOT_SD_UNSHARE_PID= BOOT_SD_DIR=
}

# ------------------------------------------- inside, as the namespace's PID 1

inner_dev() {
        local root=$1 d
        mount -t tmpfs -o mode=755,nosuid dev "$root/dev" || return 1
        for d in null zero full random urandom tty; do
                touch "$root/dev/$d" && mount --bind "/dev/$d" "$root/dev/$d" || return 1
        done
        mkdir -p "$root/dev/pts" "$root/dev/shm" &&
        mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$root/dev/pts" &&
        ln -s pts/ptmx "$root/dev/ptmx" &&
        touch "$root/dev/console" &&
        mount --bind "$BOOT_SD_DIR/console.log" "$root/dev/console"
}

inner_mask() {
        local root=$1 unit
        for unit in $BOOT_SD_MASK; do
                ln -sf /dev/null "$root/etc/systemd/system/$unit"
        done
}

inner_overlay() {
        local m=$BOOT_SD_DIR/mnt
        mount -t tmpfs -o mode=700 scratch "$m" &&
        mkdir "$m/upper" "$m/work" "$m/root" &&
        mount -t overlay -o "lowerdir=/,upperdir=$m/upper,workdir=$m/work" overlay "$m/root"
}

# pivot_root, not chroot: the kernel refuses user namespaces under chroot,
# and DynamicUser=/PrivateUsers= units would fail with 217/USER.
inner_main() {
        local staging=$1 root
        BOOT_SD_DIR=$2
        root=$BOOT_SD_DIR/mnt/root
        mount --make-rprivate / &&
        inner_overlay &&
        inner_dev "$root" &&
        cp -a "$staging/." "$root/" &&
        inner_mask "$root" &&
        mount -t proc proc "$root/proc" &&
        mkdir -p "$root/.oldroot" &&
        cd "$root" &&
        pivot_root . .oldroot &&
        umount -l /.oldroot || { echo "boot-systemd: cannot set the container up" >&2; exit 1; }
        export container=other
        exec /lib/systemd/systemd --system --unit=multi-user.target
}

if [ "${1:-}" = --inner ]; then
        inner_main "$2" "$3"
fi
