#!/bin/bash
# A run never delays the daemon's own work: during a 2000 req/s open-model
# run against the demo target (started through the API; 052 covers
# schedules), the 1 s /memory polls keep every gap between their stored
# times within 1 s +- 20%, and /v1/status, asked five times a second
# through the run, answers each time in under 50 ms.  When the run is
# over, the criteria are evaluated at once.
. "$TOP_SRCDIR/tests/system/lib.sh"

start_target
DB=$WORK/perfwatch.db
sql() { sqlite3 -cmd '.timeout 5000' "$DB" "$@"; }
MEMORY_INTERVAL=1s write_config "$WORK/pw.conf" \
        "[scenario iso]" "base_url = http://127.0.0.1:$API_PORT" "rate = 2000/s" "duration = 10s" \
        "timeout = 2s" "max_inflight = 2000" "request = GET /api/items" \
        "[criterion latency_p95]" "scenario = iso" "threshold = 5s"
# Evaluations once an hour: only the one a finished run asks for can judge it.
sed -i 's/^log_level = debug$/log_level = info/; s/^evaluate_interval = .*/evaluate_interval = 1h/' "$WORK/pw.conf"
TOKEN=tok-$RANDOM$RANDOM-iso
(umask 077; printf '%s\n' "$TOKEN" >"$WORK/token")
sed -i "/^\[daemon\]/a api_token_file = $WORK/token" "$WORK/pw.conf"
start_daemon "$WORK/pw.conf"

running() { [ "$(sql "SELECT count(*) FROM runs WHERE state = 'running'")" = 1 ]; }
check "POST /v1/scenarios/iso/run: 202" test "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST \
        -H "Authorization: Bearer $TOKEN" "$PW/v1/scenarios/iso/run")" = 202
check "the run starts" wait_until 10 running

# /v1/status through the run: at most 30 s of samples.
: >"$WORK/status-times"
for _ in $(seq 150); do
        running || break
        curl -s -o /dev/null --max-time 2 -w '%{time_total} %{http_code}\n' "$PW/v1/status" >>"$WORK/status-times"
        sleep 0.2
done
check "the run is over" wait_until 10 sh -c "! sqlite3 -cmd '.timeout 5000' '$DB' \"SELECT state FROM runs\" | grep -q running"
diag "run: $(sql "SELECT state, requests, ok, dropped, achieved_rps, duration_ms FROM runs")"
check "it completed" test "$(sql "SELECT state FROM runs")" = completed
check "latency_p95 judges it at once (met), not at the next hourly evaluation" wait_until 5 state_is latency_p95 met
check "it sent at least 15000 requests (2000/s for 10 s, against a shared machine)" \
        test "$(sql "SELECT requests >= 15000 FROM runs")" = 1

n=$(wc -l <"$WORK/status-times")
max_status=$(awk 'BEGIN { m = 0 } { if ($1 > m) m = $1 } END { printf "%.1f", m * 1000 }' "$WORK/status-times")
diag "/v1/status: $n answers during the run, the slowest in $max_status ms"
check "/v1/status was asked at least 20 times during the run ($n)" test "$n" -ge 20
check "every answer was 200" test "$(awk '$2 != 200' "$WORK/status-times" | wc -l)" = 0
check "every answer came in under 50 ms (slowest $max_status ms)" \
        awk '$1 >= 0.050 { bad = 1 } END { exit bad }' "$WORK/status-times"

# The polls' stored times (their start) while the run went on, and one either side.
sleep 2
gaps=$(sql "SELECT s.ts FROM samples s JOIN series n ON n.id = s.series_id, runs r
             WHERE n.name = 'go.app.Sys' AND s.ts BETWEEN r.started_at - 1000 AND r.ended_at + 1000 ORDER BY s.ts" |
       awk 'NR > 1 { print $1 - prev } { prev = $1 }')
ng=$(wc -w <<<"$gaps")
min_gap=$(tr ' ' '\n' <<<"$gaps" | sort -n | head -1)
max_gap=$(tr ' ' '\n' <<<"$gaps" | sort -n | tail -1)
diag "/memory polls during the run: $ng gaps, from $min_gap to $max_gap ms"
check "about ten poll gaps cover the run ($ng)" test "$ng" -ge 9
check "every gap is within 1 s +- 20% ($min_gap..$max_gap ms)" test "$min_gap" -ge 800 -a "$max_gap" -le 1200
check "SIGTERM stops the daemon" stop_daemon
done_testing
