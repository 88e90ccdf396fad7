#!/bin/bash
# Scheduled runs in the daemon.  Daemon A has two scenarios, both
# `* * * * *`: at the next minute one of them starts (which one is the
# timers' order) and the other, firing while it runs, is skipped and the
# log names both and the active run; a SIGHUP during the run, with a file
# that no longer has the running scenario, leaves the run going and it
# completes with its figures, histograms and per-second series.  Daemon B,
# at the same minute, runs a scenario whose base_url refuses connections:
# the run ends quickly with its connect errors counted and a reason.
. "$TOP_SRCDIR/tests/system/lib.sh"

start_target
API=http://127.0.0.1:$API_PORT
REFUSED=$(free_port)
DB_A=$WORK/a.db
DB_B=$WORK/b.db
sqla() { sqlite3 -cmd '.timeout 5000' "$DB_A" "$@"; }
sqlb() { sqlite3 -cmd '.timeout 5000' "$DB_B" "$@"; }

scenario() {    # scenario NAME DURATION [SCHEDULE]
        printf '[scenario %s]\nbase_url = %s\nrate = 50/s\nduration = %s\nrequest = GET /api/items\n' "$1" "$API" "$2"
        [ -n "${3:-}" ] && printf 'schedule = %s\n' "$3"
        return 0
}

PORT_A=$(free_port)
write_a() {     # write_a SCENARIO-LINES...
        { printf '[daemon]\ndatabase = %s\nlisten = 127.0.0.1:%s\nflush_interval = 500ms\nlog_level = debug\n' \
                  "$DB_A" "$PORT_A"; printf '%s\n' "$@"; } >"$WORK/a.conf"
}
write_a "$(scenario one 12s '* * * * *')" "$(scenario two 12s '* * * * *')" "$(scenario never 1s '* * * * *')" \
        "enabled = no"
PORT_B=$(free_port)
cat >"$WORK/b.conf" <<EOF
[daemon]
database = $DB_B
listen = 127.0.0.1:$PORT_B
[scenario refused]
base_url = http://127.0.0.1:$REFUSED
rate = 20/s
duration = 3s
timeout = 1s
request = GET /api/items
schedule = * * * * *
EOF

"$PERFWATCHD" --config "$WORK/a.conf" --check-config >/dev/null
ok $? "the scheduled scenarios pass --check-config"

sock=$WORK/notify.sock
msgs=$WORK/notify.txt
$PY "$TOP_SRCDIR/tests/system/notify-listen.py" "$sock" "$msgs" &
PIDS="$PIDS $!"
wait_until 10 test -S "$sock" || bail "notify listener did not start"
NOTIFY_SOCKET=$sock PW_PORT=$PORT_A start_daemon "$WORK/a.conf"; PID_A=$PW_PID; LOG_A=$DAEMON_LOG
PW_PORT=$PORT_B start_daemon "$WORK/b.conf"; PID_B=$PW_PID; LOG_B=$DAEMON_LOG
t0=$(date +%s)

running() { [ "$(sqla "SELECT count(*) FROM runs WHERE state = 'running'")" = 1 ]; }
wait_until 75 running
ok $? "a scheduled run starts within 75 s (after $(( $(date +%s) - t0 )) s)"
RUN=$(sqla "SELECT id || ' ' || scenario FROM runs")
read -r ID NAME <<<"$RUN"
diag "run $ID of $NAME started at $(sqla "SELECT started_at FROM runs")"
OTHER=one; [ "$NAME" = one ] && OTHER=two
check "it starts at a whole minute" \
        test "$(sqla "SELECT (started_at / 1000) % 60 < 2 FROM runs")" = 1
check "the other schedule, firing meanwhile, is skipped and logged naming both and the run" \
        wait_until 5 grep -q "\[scenario $OTHER\] schedule: skipped: run $ID of $NAME is still active (1 skipped so far)" "$LOG_A"
check "the disabled scenario's schedule never fires" \
        test "$(sqla "SELECT count(*) FROM runs WHERE scenario = 'never'")" = 0
check "the log says which schedule started the run" grep -q "run $ID $NAME started by its schedule" "$LOG_A"
check "and so does its row's extra object" test "$(sqla "SELECT extra ->> 'trigger' FROM runs")" = schedule
check "STATUS= says which run is going on and for how long" \
        wait_until 5 grep -q -E "^STATUS=run $ID $NAME [0-9]+s; latency_p95 " "$msgs"

sleep 2
# The running scenario is gone from the file and the other one changed.
write_a "$(scenario "$OTHER" 1s '0 0 1 1 *')"
kill -HUP "$PID_A"
check "the reload is applied during the run" \
        wait_until 10 grep -q "configuration reloaded (0 targets, 0 postgres, 0 capacity, 4 criteria, 1 scenarios)" "$LOG_A"
check "the run is still running after the reload" running

done_run() { [ "$(sqla "SELECT state FROM runs WHERE id = $ID")" != running ]; }
wait_until 20 done_run
ok $? "the run ends by itself"
check "it is completed" test "$(sqla "SELECT state FROM runs WHERE id = $ID")" = completed
check "STATUS= no longer names it" wait_until 5 sh -c "grep '^STATUS=' '$msgs' | tail -n 1 | grep -q '^STATUS=latency_p95 '"
n=$(sqla "SELECT requests FROM runs WHERE id = $ID")
check "it sent 600 +- 2% requests (12 s at 50/s; sent $n)" test "$n" -ge 588 -a "$n" -le 612
check "every one answered ok" test "$(sqla "SELECT ok = requests AND err_connect + err_timeout + err_status = 0 FROM runs WHERE id = $ID")" = 1
check "its duration is about 12 s" test "$(sqla "SELECT duration_ms BETWEEN 11500 AND 13500 FROM runs WHERE id = $ID")" = 1
check "its histograms are stored (latency, service, lateness; and per request)" \
        test "$(sqla "SELECT group_concat(request || ':' || kind, ',') FROM (SELECT * FROM run_histograms WHERE run_id = $ID ORDER BY request, kind)")" = \
        ":latency,:lateness,:service,GET /api/items:latency,GET /api/items:service"
check "no other run happened during it" test "$(sqla "SELECT count(*) FROM runs")" = 1

# The series of each second, written by the next flushes.
series_n() { sqla "SELECT count(*) FROM samples s JOIN series n ON n.id = s.series_id WHERE n.name = 'load.$NAME.$1'"; }
has_series() { [ "$(series_n "$1")" -ge 10 ]; }
for f in rps target_rps ok errors_connect errors_timeout errors_status in_flight dropped p50_ms p95_ms p99_ms; do
        check "series load.$NAME.$f has a sample for each second" wait_until 5 has_series "$f"
done
check "load.$NAME.rps is about 50" \
        test "$(sqla "SELECT count(*) FROM samples s JOIN series n ON n.id = s.series_id WHERE n.name = 'load.$NAME.rps' AND s.value BETWEEN 45 AND 55")" -ge 10
check "and /v1/metrics lists it" wait_until 5 sh -c "curl -sf 'http://127.0.0.1:$PORT_A/v1/metrics?match=load.' | grep -q 'load.$NAME.p95_ms'"

# Daemon B: the refused base_url.  Its run may come a minute after A's (B
# became ready after the minute A's started), so it gets its own 75 s.
refused_done() { [ "$(sqlb "SELECT count(*) FROM runs WHERE state != 'running'")" = 1 ]; }
check "the run against a refused base_url ends" wait_until 75 refused_done
check "it is completed with every request a connect error" \
        test "$(sqlb "SELECT state || ' ' || (err_connect = requests AND requests >= 40) || ' ' || ok FROM runs")" = "completed 1 0"
diag "refused run: $(sqlb "SELECT requests, err_connect, duration_ms, reason FROM runs")"
check "the reason says the connection was refused" \
        grep -q -i "refused\|connect" <<<"$(sqlb "SELECT reason FROM runs")"
check "it took its 3 s, not a hang" test "$(sqlb "SELECT duration_ms < 6000 FROM runs")" = 1

PW_PID=$PID_A; check "SIGTERM stops daemon A" stop_daemon
PW_PID=$PID_B; check "SIGTERM stops daemon B" stop_daemon
done_testing
