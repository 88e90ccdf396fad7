#!/bin/bash
# The sd_notify protocol without systemd: READY=1 once the store and API
# are up, STATUS= with the criteria, RELOADING=1 on SIGHUP, STOPPING=1 on
# SIGTERM, all read from a real NOTIFY_SOCKET.
. "$TOP_SRCDIR/tests/system/lib.sh"

sock=$WORK/notify.sock
msgs=$WORK/notify.txt
$PY "$TOP_SRCDIR/tests/system/notify-listen.py" "$sock" "$msgs" &
PIDS="$PIDS $!"
wait_until 10 test -S "$sock" || bail "notify listener did not start"

start_target
write_config "$WORK/pw.conf"
NOTIFY_SOCKET=$sock start_daemon "$WORK/pw.conf"

check "READY=1 arrives" wait_until 10 grep -q '^READY=1' "$msgs"
check "the API answers once READY=1 was sent" curl -sf -o /dev/null "$PW/v1/status"
check "STATUS= says memory met and 1/1 sources up" \
        wait_until 15 grep -q '^STATUS=.*memory met.*1/1 sources up' "$msgs"
check "STATUS= is exactly the criteria with a data source and the sources (latency_p95, zero_data_loss: no scenario)" \
        grep -qx 'STATUS=latency_p95 unknown, memory met, zero_data_loss unknown; 1/1 sources up' "$msgs"
kill -HUP "$PW_PID"
check "RELOADING=1 arrives on SIGHUP" wait_until 10 grep -q '^RELOADING=1' "$msgs"
check "SIGTERM stops it with status 0" stop_daemon
check "STOPPING=1 arrives on SIGTERM" wait_until 5 grep -q '^STOPPING=1' "$msgs"
diag "$(tr '\n' '|' <"$msgs")"
done_testing
