#!/bin/bash
# A scheduled run cut short.  Two daemons, each with its own database, run
# the same 30 s scenario at the next minute (each its own next minute: one
# may become ready just after the minute turns); a few seconds in, daemon C
# gets SIGTERM: its run ends `aborted` with its partial figures, its
# histograms and a reason, and the daemon exits at once and cleanly; daemon
# D gets kill -9: when it starts again, the run it left `running` is marked
# aborted with the figures of its last update.
. "$TOP_SRCDIR/tests/system/lib.sh"

start_target
API=http://127.0.0.1:$API_PORT

write() {       # write NAME: WORK/NAME.conf with its database WORK/NAME.db
        cat >"$WORK/$1.conf" <<EOF
[daemon]
database = $WORK/$1.db
listen = 127.0.0.1:$2
flush_interval = 500ms
[scenario long]
base_url = $API
rate = 50/s
duration = 30s
timeout = 2s
request = GET /api/items
schedule = * * * * *
EOF
}
sqlc() { sqlite3 -cmd '.timeout 5000' "$WORK/c.db" "$@"; }
sqld() { sqlite3 -cmd '.timeout 5000' "$WORK/d.db" "$@"; }

PORT_C=$(free_port); write c "$PORT_C"
PORT_D=$(free_port); write d "$PORT_D"
PW_PORT=$PORT_C start_daemon "$WORK/c.conf"; PID_C=$PW_PID; LOG_C=$DAEMON_LOG
PW_PORT=$PORT_D start_daemon "$WORK/d.conf"; PID_D=$PW_PID

# running_for SQL-FN SECONDS: a run has been running that long.
running_for() { [ "$($1 "SELECT count(*) FROM runs WHERE state = 'running' AND duration_ms >= $2 * 1000")" = 1 ]; }
check "daemon C's scheduled run is 3 s in within 75 s" wait_until 75 running_for sqlc 3

# SIGTERM: the exit must not wait for the run's 30 s.
kill -TERM "$PID_C"
t0=$(date +%s%N)
for _ in $(seq 100); do kill -0 "$PID_C" 2>/dev/null || break; sleep 0.1; done
wait "$PID_C"; rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
ok $rc "daemon C exits 0 after SIGTERM during a run"
check "within 5 s ($ms ms)" test "$ms" -lt 5000
diag "run at SIGTERM: $(sqlc "SELECT id, state, duration_ms, requests, ok, aborted, reason FROM runs")"
check "its run is aborted" test "$(sqlc "SELECT state FROM runs")" = aborted
check "with the reason" test "$(sqlc "SELECT reason FROM runs")" = "aborted: perfwatchd was stopped during the run"
check "keeping its partial figures (more than 100 requests, all but the aborted answered ok)" \
        test "$(sqlc "SELECT requests > 100 AND ok + aborted = requests AND ok > 100 FROM runs")" = 1
check "ended before its 30 s" test "$(sqlc "SELECT ended_at - started_at BETWEEN 3000 AND 10000 FROM runs")" = 1
check "its histograms are stored, the latency one counting its answers" \
        test "$(sqlc "SELECT count(*) FROM run_histograms")" = 5
check "the log says it stopped the run" grep -q "run 1 long: stopping it" "$LOG_C"
check "and that it ended aborted" grep -q "run 1 long aborted: " "$LOG_C"
check "the per-second series up to the stop are written" \
        test "$(sqlc "SELECT count(*) >= 3 FROM samples s JOIN series n ON n.id = s.series_id WHERE n.name = 'load.long.ok'")" = 1

# kill -9: the row stays running until the next start.  D's run may come a
# minute after C's (D became ready after the minute C's started), so it is
# waited for on its own.
check "daemon D's scheduled run is 3 s in within 75 s" wait_until 75 running_for sqld 3
kill -KILL "$PID_D"
wait "$PID_D" 2>/dev/null
before=$(sqld "SELECT state || ' ' || requests FROM runs")
diag "run after kill -9: $before"
check "after kill -9 the run is left running, with its last update's figures" \
        test "$(sqld "SELECT state = 'running' AND requests > 100 FROM runs")" = 1
PW_PORT=$PORT_D start_daemon "$WORK/d.conf"
check "the next start marks it aborted" test "$(sqld "SELECT state FROM runs WHERE id = 1")" = aborted
check "keeping the figures of its last update" \
        test "$(sqld "SELECT 'aborted ' || requests FROM runs WHERE id = 1")" = "aborted ${before#running }"
check "and says it was interrupted" \
        grep -q "^interrupted: perfwatchd stopped before the run ended" <<<"$(sqld "SELECT reason FROM runs WHERE id = 1")"
check "the log counts it" grep -q "1 run interrupted by the last stop marked aborted" "$DAEMON_LOG"
check "SIGTERM stops daemon D" stop_daemon
done_testing
