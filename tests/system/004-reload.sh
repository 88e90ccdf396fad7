#!/bin/bash
# SIGHUP: a broken config keeps the running one and logs why; a good one
# is applied.
. "$TOP_SRCDIR/tests/system/lib.sh"

start_target
write_config "$WORK/pw.conf"
start_daemon "$WORK/pw.conf"
check "memory is met" wait_until 15 state_is memory met

cp "$WORK/pw.conf" "$WORK/good.conf"
printf '[target app]\nmemory_interval = 5q\n' >"$WORK/pw.conf"
kill -HUP "$PW_PID"
check "the broken config's error is logged with file, line and key" \
        wait_until 10 grep -q "pw.conf:2: \[target app\] memory_interval" "$DAEMON_LOG"
check "the daemon says it keeps the running configuration" \
        grep -q "keeping the running configuration" "$DAEMON_LOG"
check "the daemon is still running" kill -0 "$PW_PID"
check "the old config keeps serving: memory still met" state_is memory met
check "the old source is still polled" wait_until 5 source_up_is go.app.memory true

# A second target polling /memory leaves the memory criterion without a
# series to watch: refused until [criterion memory] names one.
cp "$WORK/good.conf" "$WORK/pw.conf"
printf '[target second]\nmemory_url = %s\nmemory_interval = 500ms\n' "$MEM_URL" >>"$WORK/pw.conf"
kill -HUP "$PW_PID"
check "a second /memory target without a memory series is refused, at its header" \
        wait_until 10 grep -q "pw.conf:11: \[target second\]: a second target polling /memory" "$DAEMON_LOG"
printf '[criterion memory]\nseries = go.second.Sys\n' >>"$WORK/pw.conf"
kill -HUP "$PW_PID"
check "a good config is applied: the new target's source appears and is up" \
        wait_until 10 source_up_is go.second.memory true
check "the reload is logged" grep -q "configuration reloaded" "$DAEMON_LOG"
memory_series_is() {
        [ "$(jget "$PW/v1/status" '.criteria[] | select(.name == "memory") | .evidence.series')" = "$1" ]
}
check "memory watches the series [criterion memory] names" wait_until 5 memory_series_is go.second.Sys

# A config without sources is valid (the API keeps answering) but polls
# nothing: the reload says so.
printf '[daemon]\ndatabase = %s\nlisten = 127.0.0.1:%s\n' "$WORK/perfwatch.db" "$PW_PORT" >"$WORK/pw.conf"
kill -HUP "$PW_PID"
check "reloading to a config without sources warns that nothing will be polled" \
        wait_until 10 grep -q "pw.conf: configuration has no sources: nothing will be polled" "$DAEMON_LOG"
check "SIGTERM stops it with status 0" stop_daemon
done_testing
