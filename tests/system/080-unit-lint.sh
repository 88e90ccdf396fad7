#!/bin/bash
# Lints systemd/perfwatchd.service.in and systemd/perfwatchd.socket offline:
# `systemd-analyze verify` must print nothing at all on stderr (it exits 0 on
# mere warnings such as an unknown key), and `systemd-analyze security` must
# rate the service's exposure at 2.0 or lower.
#
# verify insists that ExecStart='s binary exists, so the unit is generated
# from the .in with every @sbindir@/perfwatchd replaced by $PERFWATCHD (the
# built binary) and the other directories by their usual values.  --man=no
# because the man pages named by Documentation= are not installed here.
set -u

: "${TOP_SRCDIR:?TOP_SRCDIR must point at the source tree}"
: "${PERFWATCHD:?PERFWATCHD must point at the built perfwatchd}"

TMP=
N=0
FAILED=0

cleanup() {
        [ -n "$TMP" ] && rm -rf -- "$TMP"
}
trap cleanup EXIT

# ok_if DESCRIPTION COMMAND...: one TAP line for the command's exit status;
# on failure the command's output follows as TAP diagnostics.
ok_if() {
        local desc=$1 out
        shift
        N=$((N + 1))
        if out=$("$@" 2>&1); then
                echo "ok $N - $desc"
        else
                echo "not ok $N - $desc"
                FAILED=1
                printf '%s\n' "$out" | sed 's/^/# /'
        fi
}

# quiet_verify UNIT...: verify must succeed and say nothing on stderr.
quiet_verify() {
        local err
        err=$(systemd-analyze verify --man=no "$@" 2>&1 >/dev/null) || {
                printf '%s\n' "$err"
                return 1
        }
        if [ -n "$err" ]; then
                printf '%s\n' "$err"
                return 1
        fi
}

# low_exposure UNIT: the threshold is in tenths, so 20 means 2.0.  On failure
# shows only the settings that cost points and the total.
low_exposure() {
        local out
        out=$(systemd-analyze security --offline=true --threshold=20 "$1" 2>&1) && return 0
        printf '%s\n' "$out" | grep -e '✗' -e 'Overall' -e "$1"
        return 1
}

generate_units() {
        sed -e "s|@sbindir@/perfwatchd|$PERFWATCHD|g" \
            -e 's|@sbindir@|/usr/sbin|g' \
            -e 's|@sysconfdir@|/etc|g' \
            -e 's|@localstatedir@|/var|g' \
            "$TOP_SRCDIR/systemd/perfwatchd.service.in" >"$TMP/perfwatchd.service" &&
        cp "$TOP_SRCDIR/systemd/perfwatchd.socket" "$TMP/perfwatchd.socket"
}

# has_lines FILE LINE...: every LINE occurs in FILE as a whole line.
has_lines() {
        local file=$1 line rc=0
        shift
        for line in "$@"; do
                grep -q -x -F -e "$line" "$file" || { echo "missing: $line"; rc=1; }
        done
        return $rc
}

no_placeholders_left() {
        ! grep -n '@[a-z_]*@' "$TMP/perfwatchd.service"
}

if ! command -v systemd-analyze >/dev/null 2>&1; then
        echo "1..0 # SKIP systemd-analyze is not installed"
        exit 0
fi
if [ ! -x "$PERFWATCHD" ]; then
        echo "1..0 # SKIP $PERFWATCHD is not built"
        exit 0
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/perfwatch-unit-lint.XXXXXX") || exit 99
generate_units || { echo "Bail out! cannot generate the units in $TMP"; exit 99; }

echo "1..5"
ok_if "the generated service has no @placeholder@ left" no_placeholders_left
ok_if "systemd-analyze verify accepts perfwatchd.service with an empty stderr" \
        quiet_verify "$TMP/perfwatchd.service"
ok_if "systemd-analyze verify accepts perfwatchd.socket (with its service) with an empty stderr" \
        quiet_verify "$TMP/perfwatchd.socket" "$TMP/perfwatchd.service"
ok_if "systemd-analyze security rates perfwatchd.service at exposure 2.0 or lower" \
        low_exposure "$TMP/perfwatchd.service"
ok_if "the service is Type=notify with a watchdog, a reload command and a config check" \
        has_lines "$TMP/perfwatchd.service" 'Type=notify' 'WatchdogSec=30s' \
                "ExecStartPre=$PERFWATCHD --check-config --config /etc/perfwatch/perfwatchd.conf" \
                "ExecStart=$PERFWATCHD --config /etc/perfwatch/perfwatchd.conf" \
                'ExecReload=/bin/kill -HUP $MAINPID'
exit $FAILED
