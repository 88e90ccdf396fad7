#!/bin/bash
# perfwatchd under a real systemd: the shipped units, hardening included,
# installed into a throwaway container (boot-systemd.sh) and driven with
# systemctl, against a demo target running on the host.  No network
# namespace, so the host's curl reaches the units on 127.0.0.1.
#
# Covers: start (ExecStartPre config check, Type=notify readiness), the API
# answering from inside the sandbox, reload keeping the main process, a broken
# config refused on reload and on start, a clean stop, and socket activation
# through perfwatchd.socket on another port.

. "${TOP_SRCDIR:?set by the test harness (make check)}/tests/system/lib.sh"
. "$TOP_SRCDIR/tests/system/boot-systemd.sh"

CONF=/etc/perfwatch/perfwatchd.conf

if reason=$(boot_sd_unavailable); then
        echo "1..0 # SKIP $reason"
        exit 0
fi
[ -x "$PERFWATCHD" ] || bail "$PERFWATCHD is not built"
[ -x "$DEMO_TARGET" ] || bail "$DEMO_TARGET is not built"

# The container is powered off before lib.sh's cleanup ends the target.  If
# the test is killed outright, unshare --kill-child still takes the container
# down with it.
trap "trap '' INT TERM HUP; boot_sd_stop; cleanup" EXIT
trap 'exit 130' INT TERM HUP

# ------------------------------------------------------------- the install

# stage_units DIR: the units as `make install` would write them, the socket
# moved to SOCKET_PORT so that it cannot collide with the plain service.
stage_units() {
        local unitdir=$1/etc/systemd/system
        mkdir -p "$unitdir" &&
        sed -e 's|@sbindir@|/usr/sbin|g' -e 's|@sysconfdir@|/etc|g' \
            -e 's|@localstatedir@|/var|g' \
            "$TOP_SRCDIR/systemd/perfwatchd.service.in" >"$unitdir/perfwatchd.service" &&
        sed -e "s|^ListenStream=.*|ListenStream=127.0.0.1:$SOCKET_PORT|" \
            "$TOP_SRCDIR/systemd/perfwatchd.socket" >"$unitdir/perfwatchd.socket"
}

# good_config: one demo target polled every second; the database is left at
# its default, the state directory the unit provides.
good_config() {
        printf '%s\n' "[daemon]" "listen = 127.0.0.1:$SERVICE_PORT" "" \
                "[target demo]" "memory_url = $MEM_URL" "memory_interval = 1s"
}

broken_config() {
        printf '%s\n' "[daemon]" "listen = nonsense" "no_such_key = 1" "" \
                "[target demo]" "memory_interval = -1"
}

# A sanitized build (configure --enable-sanitizers) runs with leak checking
# off: LeakSanitizer needs ptrace, which the unit's sandbox rightly forbids;
# the other system tests check leaks.  Any other report still lands in the
# journal and fails lib.sh's sanitizer check.
stage_sanitizer_dropin() {
        local unit dir
        grep -q -F __asan_init "$PERFWATCHD" || return 0
        diag "sanitized build: LeakSanitizer is off inside the units' sandbox"
        for unit in perfwatchd perfwatchd-locust; do
                dir=$1/etc/systemd/system/$unit.service.d
                mkdir -p "$dir" &&
                printf '%s\n' "[Service]" "Environment=ASAN_OPTIONS=detect_leaks=0" \
                        "Environment=UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1" >"$dir/sanitizers.conf" ||
                        return 1
        done
}

# stage_locust_unit DIR: perfwatchd-locust.service, the shipped unit's
# sandbox running `perfwatchd --run loc` once: the shipped example Locust
# suite (model = exec) against the demo target on the host.
stage_locust_unit() {
        local unitdir=$1/etc/systemd/system
        sed -e 's|^Type=notify$|Type=oneshot|' -e '/^NotifyAccess=/d' -e '/^WatchdogSec=/d' \
            -e '/^ExecStartPre=/d' -e '/^ExecReload=/d' -e '/^Restart/d' -e '/^StartLimit/d' \
            -e 's|^ExecStart=\(.*\)$|ExecStart=\1 --run loc|' \
            "$unitdir/perfwatchd.service" >"$unitdir/perfwatchd-locust.service" &&
        grep -q '^ExecStart=.* --run loc$' "$unitdir/perfwatchd-locust.service" &&
        install -m 0644 "$TOP_SRCDIR/etc/examples/locustfile.py" "$1/etc/perfwatch/locustfile.py"
}

locust_config() {
        good_config
        printf '%s\n' "" "[scenario loc]" "model = exec" "duration = 20s" "grace = 10s" \
                "csv = \${run_dir}/locust" \
                "command = locust -f /etc/perfwatch/locustfile.py --headless -u 10 -r 10 -t 4s --host http://127.0.0.1:$API_PORT --csv \${run_dir}/locust --exit-code-on-error 0"
}

stage() {                # stage DIR: the tree copied over the container's /
        local dir=$1
        mkdir -p "$dir/usr/sbin" "$dir/etc/perfwatch" &&
        install -m 0755 "$PERFWATCHD" "$dir/usr/sbin/perfwatchd" &&
        stage_units "$dir" &&
        stage_locust_unit "$dir" &&
        stage_sanitizer_dropin "$dir" &&
        good_config >"$dir$CONF" &&
        chmod 0644 "$dir$CONF"
}

# ------------------------------------------------------------- observations

unit_prop() {           # unit_prop UNIT PROPERTY
        boot_sd systemctl show -P "$2" "$1"
}

unit_state_is() {       # unit_state_is UNIT STATE
        [ "$(boot_sd systemctl is-active "$1")" = "$2" ]
}

# status_ok PORT: /v1/status answers 200 with a "criteria" member.
status_ok() {
        local body
        body=$(curl -s --max-time 20 -w '\n%{http_code}' "http://127.0.0.1:$1/v1/status") || return 1
        [ "${body##*$'\n'}" = 200 ] && printf '%s' "${body%$'\n'*}" | jq -e 'has("criteria")' >/dev/null
}

# demo_polled: the daemon reached the demo target from inside the sandbox.
demo_polled() {
        [ "$(jget "http://127.0.0.1:$SERVICE_PORT/v1/sources" \
                ".sources[] | select(.url == \"$MEM_URL\") | .up")" = true ]
}

# answered_by_daemon PORT: the very first connection, which starts the
# service, gets a full status: the daemon publishes its first snapshot
# before it serves the socket.
answered_by_daemon() {
        curl -sf --max-time 20 "http://127.0.0.1:$1/v1/status" | jq -e 'has("criteria")' >/dev/null
}

# mark_journal: later journal queries only see messages logged after this.
mark_journal() {
        JOURNAL_CURSOR=$(boot_sd journalctl -q -n 0 --show-cursor | sed -n 's/^-- cursor: //p')
}

journal() {             # journal UNIT [OPTIONS...]: the unit's messages since the mark
        local unit=$1
        shift
        boot_sd journalctl -q --no-pager ${JOURNAL_CURSOR:+--after-cursor="$JOURNAL_CURSOR"} \
                -u "$unit" -o short-monotonic "$@"
}

journal_has() {         # journal_has UNIT EXTENDED-REGEX
        journal "$1" | grep -q -E -e "$2"
}

error_names_conf() {
        journal perfwatchd.service -p err | grep -q -F perfwatchd.conf
}

# A clean run: no failed result, no error-priority message from the daemon.
ran_clean() {
        local unit=$1 failures
        failures=$(journal "$unit" | grep -E -e "Failed with result|Main process exited, code=(killed|dumped)" \
                -e "status=[1-9][0-9]*/" -e "[Ww]atchdog timeout" -e "Scheduled restart job")
        [ -z "$failures" ] || { printf '%s\n' "$failures" | sed 's/^/# /'; return 1; }
        [ "$(unit_prop "$unit" Result)" = success ] &&
        [ "$(unit_prop "$unit" NRestarts)" = 0 ] &&
        [ -z "$(journal "$unit" -p err)" ]
}

write_conf_inside() {   # write_conf_inside < CONTENT
        boot_sd tee "$CONF" >/dev/null
}

# ------------------------------------------------------------- the steps

test_start() {
        mark_journal
        # NB: the unit's LoadCredential= source is absent: its SetCredential=
        # stand-in must keep the start from failing.  (This container's
        # systemd hands units an empty credentials directory whatever they
        # load, so the token's way through a credential is not tested here.)
        check "the token file of LoadCredential= is absent" boot_sd test ! -e /etc/perfwatch/api-token
        check "systemctl start perfwatchd succeeds" boot_sd systemctl start perfwatchd
        check "perfwatchd.service is active" unit_state_is perfwatchd.service active
        check "GET /v1/status answers 200 with criteria" status_ok "$SERVICE_PORT"
        check "the sandboxed daemon polls the demo target on the host" wait_until 15 demo_polled
}

# still_running MAINPID: active, and with that same main process.
still_running() {
        unit_state_is perfwatchd.service active &&
        [ "$(unit_prop perfwatchd.service MainPID)" = "$1" ]
}

test_reload() {
        local pid
        pid=$(unit_prop perfwatchd.service MainPID)
        check "systemctl reload perfwatchd succeeds" boot_sd systemctl reload perfwatchd
        check "the journal shows the reload" wait_until 10 journal_has perfwatchd.service "Reloaded perfwatchd"
        check "the daemon logs that it reloaded" journal_has perfwatchd.service "perfwatchd\[[0-9]+\]: .*[Rr]eload"
        check "after the reload the service is active with the same main process" still_running "$pid"
        check "and still answers" status_ok "$SERVICE_PORT"
}

test_stop() {
        check "systemctl stop perfwatchd succeeds" boot_sd systemctl stop perfwatchd
        check "perfwatchd.service is inactive after stop" unit_state_is perfwatchd.service inactive
        check "the journal of the run shows no failure and no error" ran_clean perfwatchd.service
}

# The check in ExecStartPre refuses a broken config before the daemon
# starts, and says which file is wrong.
test_bad_start() {
        mark_journal
        broken_config | write_conf_inside
        ! boot_sd systemctl start perfwatchd 2>/dev/null
        ok $? "systemctl start refuses a broken config"
        check "the journal names the broken file" journal_has perfwatchd.service "perfwatchd\.conf"
        # Stop the restarts that Restart=on-failure scheduled.
        boot_sd systemctl stop perfwatchd >/dev/null 2>&1
        boot_sd systemctl reset-failed perfwatchd >/dev/null 2>&1
        good_config | write_conf_inside
}

test_socket() {
        mark_journal
        check "systemctl enable --now perfwatchd.socket succeeds" \
                boot_sd systemctl --quiet enable --now perfwatchd.socket
        check "the service waits for the first connection" unit_state_is perfwatchd.service inactive
        check "the first connection to the socket is answered by perfwatchd" answered_by_daemon "$SOCKET_PORT"
        # NB: READY=1 goes out once the API is up, so systemd may still say
        # "activating" when the first answer arrives.
        check "the connection started perfwatchd.service" \
                wait_until 10 unit_state_is perfwatchd.service active
        check "GET /v1/status on the socket's port answers 200 with criteria" wait_until 10 status_ok "$SOCKET_PORT"
        check "systemctl stop of socket and service succeeds" \
                boot_sd systemctl stop perfwatchd.socket perfwatchd.service
        check "the socket-activated run shows no failure and no error" ran_clean perfwatchd.service
}

# A failed SIGHUP reload keeps the old config and the service.  Last but one:
# the reload's error would spoil the checks for a clean run.
test_bad_reload() {
        local pid
        boot_sd systemctl start perfwatchd
        pid=$(unit_prop perfwatchd.service MainPID)
        mark_journal
        broken_config | write_conf_inside
        boot_sd systemctl reload perfwatchd
        check "a reload with a broken config logs an error naming the file" \
                wait_until 10 error_names_conf
        check "and keeps the service active with the same main process" still_running "$pid"
        check "and serving" status_ok "$SERVICE_PORT"
        boot_sd systemctl stop perfwatchd
        good_config | write_conf_inside
}

# A Locust suite (model = exec) run by perfwatchd under the shipped unit's
# sandbox: Locust needs /proc/stat (psutil), which ProcSubset=pid hid.
test_exec() {
        local db=/var/lib/private/perfwatch/perfwatch.db row
        mark_journal
        locust_config | write_conf_inside
        check "perfwatchd --run loc (a Locust suite) succeeds under the unit's sandbox" \
                boot_sd systemctl start perfwatchd-locust.service
        journal perfwatchd-locust.service -o cat | grep -E 'Scenario loc|requests|Error' | sed 's/^/# /'
        row=$(boot_sd sqlite3 "$db" "SELECT state, requests FROM runs WHERE scenario = 'loc'")
        check "the run is recorded as completed with Locust's requests imported ($row)" \
                test "${row%%|*}" = completed -a "${row##*|}" -gt 0
        # Locust's own lines (see load-exec.c): no traceback, no Python error.
        check "Locust said nothing about an error" \
                eval "! journal perfwatchd-locust.service -o cat | grep -E '^scenario loc: .*(Traceback|Error)'"
        good_config | write_conf_inside
}

# The daemon's messages are kept in WORK for lib.sh's sanitizer check.
save_journal() {
        boot_sd journalctl -b -q --no-pager -u perfwatchd.service -u perfwatchd-locust.service -o cat \
                >"$WORK/daemon.journal.log" 2>&1
}

# ------------------------------------------------------------- main

start_target
SERVICE_PORT=$(free_port)
SOCKET_PORT=$(free_port)
while [ "$SOCKET_PORT" = "$SERVICE_PORT" ]; do SOCKET_PORT=$(free_port); done
STAGE=$WORK/stage
stage "$STAGE" || bail "cannot stage the install in $STAGE"
boot_sd_start "$STAGE" || bail "systemd did not boot in the container"
diag "systemd booted in the container (PID $BOOT_SD_PID on the host)"

test_start
test_reload
test_stop
test_socket
test_bad_reload
test_bad_start
test_exec
save_journal
done_testing
