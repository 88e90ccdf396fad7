#!/bin/bash
# perfwatchd --run spike exits by acu_scaling when a [capacity] source is
# configured: it polls the CloudWatch stand-in itself during the run and
# through the settle time (period = 1s, so max_gap is 3 s; lookback = 5s,
# so the lag allowed is 5s + interval 1s + timeout 2s = 8s), judges the
# window [start, start + 5s] (scale_up_within = 5s, settle = 2s after a 2 s
# run) and hangs it on the run.  (a) a ramp 2 -> 16: exit 0, the line with
# the exact time to the peak, extra.acu_window met in the database and in
# GET /v1/runs/ID, and in --json; (b) stuck at 2: exit 1 naming the peak 2;
# (c) CloudWatch lagging ten minutes: a progress line, then exit 2 at the
# window's end + 8 s, naming the part missing; (d) the suite quick,spike
# exits 1 when spike's capacity is stuck and 0 when it ramps; (e) without
# [capacity] --run spike says acu_scaling is not judged and exits by
# latency_p95; (f) SIGINT while waiting: exit 2 with the reason; (g) a
# database that cannot be opened: exit 2, saying so.
. "$TOP_SRCDIR/tests/system/lib.sh"

command -v jq >/dev/null || bail "jq is needed"
command -v sqlite3 >/dev/null || bail "sqlite3 is needed"
$PY -c 'import botocore.auth' 2>/dev/null || { echo "1..0 # SKIP python3-botocore not installed"; exit 0; }

AKID=AKIDRUNACU
SECRET='run/acu+key'
start_standin "$AKID" "$SECRET"
control() { curl -sf -X POST "$CW/_control?$1" >/dev/null; }

start_target
API=http://127.0.0.1:$API_PORT
SCEN=(
        "[scenario spike]" "base_url = $API" "rate = 20/s" "duration = 2s" "request = GET /api/items"
        "[scenario quick]" "base_url = $API" "rate = 20/s" "duration = 1s" "request = GET /api/items"
        "[criterion latency_p95]" "enabled = no"
        "[criterion zero_data_loss]" "enabled = no"
        "[criterion acu_scaling]" "settle = 2s" "scale_up_within = 5s" "max_age = 10m"
)
CONF=(
        "[capacity aurora]" "source = cloudwatch" "region = eu-west-1" "cluster = app-cluster"
        "endpoint = $CW" "credentials_file = $WORK/credentials" "interval = 1s" "timeout = 2s"
        "period = 1s" "lookback = 5s" "${SCEN[@]}"
)
write_config "$WORK/pw.conf" "${CONF[@]}"

RUNS=0
hms() { date -u -d "@$(($1 / 1000))" +%T; }
# dur MS: as units_format_duration() writes it ("3s862ms", "4s", "0s").
dur() {
        local s=$(($1 / 1000)) m=$(($1 % 1000)) t=""
        [ "$s" -gt 0 ] && t=${s}s
        [ "$m" -gt 0 ] && t=$t${m}ms
        echo "${t:-0s}"
}
# run NAMES: perfwatchd --run NAMES --json; sets RC, OUT, ERR, and for
# the last run ID, S, END (ms), T0 (S's whole second), E (the window's end).
run() {
        ERR=$WORK/daemon.run.$((++RUNS)).log
        OUT=$(timeout 90 "$PERFWATCHD" --config "$WORK/pw.conf" --run "$1" --json 2>"$ERR"); RC=$?
        ID=$(sqlite3 "$WORK/perfwatch.db" "SELECT max(id) FROM runs")
        IFS='|' read -r S END <<<"$(sqlite3 "$WORK/perfwatch.db" "SELECT started_at, ended_at FROM runs WHERE id = $ID")"
        T0=$((S / 1000))
        E=$((END + 2000 > S + 5000 ? END + 2000 : S + 5000))
        diag "run $ID: $S .. $END (window to $E), exit $RC"
        sed 's/^/#   /' "$ERR" | grep -E 'acu_scaling|suite:' | head -20
}
hung() { sqlite3 "$WORK/perfwatch.db" "SELECT extra FROM runs WHERE id = $ID" | jq -r "${1:-.}"; }
# now_plus N: the epoch second N seconds from now.
now_plus() { echo $(($(date +%s) + $1)); }

# (a) 2 ACU until T, then 4, 8 and 16 a second each.
T=$(now_plus 2)
control "capacity=2,4,8,16@1&start=$T&before=2&after=16"
run spike
peak_ms=$(((T + 3) * 1000 - S))
check "(a) a ramp 2 -> 16 within 5s: exit 0" test "$RC" = 0
want="perfwatchd: acu_scaling: met: 2 -> 16 ACU, peak after $(dur $peak_ms) (scale_to 16 within 5s)"
check "(a) the line: $want" grep -qxF "$want" "$ERR"
check "(a) --json carries the window: met, $peak_ms ms to the peak" \
        test "$(jq -r '.acu_window | [.state, (.time_to_peak_s * 1000 | round), .start_acu, .peak_acu] | map(tostring) | join(",")' <<<"$OUT")" = "met,$peak_ms,2,16"
check "(a) the window hangs on run $ID as extra.acu_window" \
        test "$(hung '.acu_window | [.state, (.time_to_peak_s * 1000 | round)] | map(tostring) | join(",")')" = "met,$peak_ms"
check "(a) the capacity polled is in the database: 16 ACU from $((T + 3))000 ms" \
        test "$(sqlite3 "$WORK/perfwatch.db" "SELECT count(*) FROM samples s JOIN series n ON n.id = s.series_id WHERE n.name = 'aurora.aurora.acu' AND s.ts = $(((T + 3) * 1000)) AND s.value = 16")" = 1
check "(a) latency_p95 is off: no \"exit 0\" claim while acu_scaling judges" \
        grep -qxF "perfwatchd: latency_p95: not judged: turned off (enabled = no)" "$ERR"
A_ID=$ID

# (b) stuck at 2.
control "stuck=2"
run spike
check "(b) stuck at 2 ACU: exit 1" test "$RC" = 1
want="perfwatchd: acu_scaling: not met: did not reach 16 ACU within 5s of the run's start: the peak was 2 ACU at $(hms $((T0 * 1000))) (0s after the start)"
check "(b) the line names the peak 2: $want" grep -qF "$want" "$ERR"
check "(b) the window hangs on run $ID: not_met, too_slow" \
        test "$(hung '.acu_window | .state + "," + .cause')" = "not_met,too_slow"

# (c) CloudWatch ten minutes late: nothing arrives before the wait's end.
control "capacity=2,16@1&start=$(now_plus 2)&before=2&after=16&lag=600"
started=$(date +%s%3N)
run spike
took=$(($(date +%s%3N) - started))
until=$((E + 8000))
check "(c) no datapoint in the window: exit 2" test "$RC" = 2
check "(c) a progress line: waiting up to $(hms $until)" \
        grep -qF "perfwatchd: acu_scaling: waiting for capacity data up to $(hms $until) (CloudWatch lags): " "$ERR"
# The data reach the points of run (b) only, or none at all.
want="perfwatchd: acu_scaling: no verdict: run $ID of scenario spike: no capacity datapoint between $(hms "$S") and $(hms "$E"): "
line=$(grep -F "acu_scaling: no verdict" "$ERR")
check "(c) the line names the part missing: $want..." grep -qF "$want" <<<"$line"
check "(c) and when the wait ended: (waited until $(hms $until))" grep -qE "(the data reach [0-9:]{8} only|no capacity data at all) \(waited until $(hms $until)\)$" <<<"$line"
check "(c) it waited until the window's end + 8 s ($took ms in all)" test "$took" -ge $((until - S)) -a "$took" -lt $((until - S + 15000))
check "(c) --json: the window unknown, no_points" \
        test "$(jq -r '.acu_window | .state + "," + .cause' <<<"$OUT")" = "unknown,no_points"
check "(c) nothing hangs on run $ID" test "$(hung '.acu_window // "none"')" = none
control "lag=0"

# (d) the suite: quick (latency_p95 off: met) then spike.
control "stuck=2"
run quick,spike
check "(d) quick,spike with spike stuck at 2: exit 1" test "$RC" = 1
check "(d) the suite line says spike is not met" grep -qxF "perfwatchd: suite: quick met, spike not met: exit 1" "$ERR"
check "(d) --json: the spike run's window is not_met" test "$(jq -r '.[1].acu_window.state' <<<"$OUT")" = not_met
control "capacity=2,16@1&start=$(now_plus 3)&before=2&after=16"
run quick,spike
check "(d) quick,spike with spike ramping: exit 0" test "$RC" = 0
check "(d) the suite line says both are met" grep -qxF "perfwatchd: suite: quick met, spike met: exit 0" "$ERR"
check "(d) quick is not judged by acu_scaling" test "$(grep -c "acu_scaling: met" "$ERR")" = 1

# (e) without [capacity]: as before, by latency_p95.
write_config "$WORK/nocap.conf" "${SCEN[@]:0:10}" "[criterion latency_p95]" "threshold = 5000" \
        "[criterion zero_data_loss]" "enabled = no"
ERR=$WORK/daemon.nocap.log
timeout 60 "$PERFWATCHD" --config "$WORK/nocap.conf" --run spike >/dev/null 2>"$ERR"; rc=$?
check "(e) no [capacity]: acu_scaling is not judged, said on stderr" \
        grep -qxF "perfwatchd: acu_scaling: not judged: no [capacity] source" "$ERR"
check "(e) and the exit is latency_p95's: 0" test "$rc" = 0
grep -q "latency_p95: .* met" "$ERR"; ok $? "(e) latency_p95 judged the run"

# (f) SIGINT while waiting for capacity data.
control "lag=600"
ERR=$WORK/daemon.sigint.log
"$PERFWATCHD" --config "$WORK/pw.conf" --run spike >/dev/null 2>"$ERR" &
pid=$!
check "(f) waiting for capacity data" wait_until 20 grep -q "waiting for capacity data" "$ERR"
kill -INT $pid
wait $pid; rc=$?
check "(f) SIGINT: exit 2" test "$rc" = 2
check "(f) saying why" grep -qxF "perfwatchd: acu_scaling: no verdict: Interrupt while waiting for capacity data" "$ERR"
control "lag=0"

# (g) a database that cannot be opened: no capacity stored, no verdict.
sed "s|^database = .*|database = $WORK/missing/dir/pw.db|" "$WORK/pw.conf" >"$WORK/nodb.conf"
ERR=$WORK/daemon.nodb.log
timeout 60 "$PERFWATCHD" --config "$WORK/nodb.conf" --run spike >/dev/null 2>"$ERR"; rc=$?
check "(g) a database that cannot be opened: exit 2" test "$rc" = 2
check "(g) saying where the capacity could not go" \
        grep -qF "perfwatchd: acu_scaling: cannot store the capacity: $WORK/missing/dir/pw.db: " "$ERR"
check "(g) and that acu_scaling has no verdict" \
        grep -qxF "perfwatchd: acu_scaling: no verdict: the capacity was not polled (see above)" "$ERR"

# GET /v1/runs/ID shows the window terminal mode hung on run (a).
start_daemon "$WORK/pw.conf"
check "(a) GET /v1/runs/$A_ID: extra.acu_window met" \
        test "$(jget "$PW/v1/runs/$A_ID" '.extra.acu_window.state')" = met
stop_daemon; ok $? "the daemon stops cleanly"
done_testing
