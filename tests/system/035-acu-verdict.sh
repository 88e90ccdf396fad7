#!/bin/bash
# acu_scaling judges the capacity around recorded spike runs: perfwatchd
# --run spike records a short run in the daemon's database, the CloudWatch
# stand-in is scripted with a capacity shape from the run's start (one
# datapoint a second, period = 1s, so max_gap is 3 s), and the daemon,
# started afterwards, reads and judges the window [start, start + 5s]
# (scale_up_within = 5s, settle = 2s after a 2 s run).  (a) a ramp 2 -> 16
# is met with the exact time to the peak; (b) stuck at 2 is not_met naming
# the peak 2, and met once a reload lowers scale_to to 2; (c) 20 ACU is
# not_met, above max_acu; (d) CloudWatch lagging ten minutes leaves no
# datapoint in the window: unknown, saying until when data may come, and
# met once the lag is gone and the datapoints arrive.
. "$TOP_SRCDIR/tests/system/lib.sh"

command -v jq >/dev/null || bail "jq is needed"
command -v sqlite3 >/dev/null || bail "sqlite3 is needed"
$PY -c 'import botocore.auth' 2>/dev/null || { echo "1..0 # SKIP python3-botocore not installed"; exit 0; }

AKID=AKIDACUVERDICT
SECRET='acu/verdict+key'
start_standin "$AKID" "$SECRET"
control() { curl -sf -X POST "$CW/_control?$1" >/dev/null; }

start_target
API=http://127.0.0.1:$API_PORT
CONF=(
        "[capacity aurora]" "source = cloudwatch" "region = eu-west-1" "cluster = app-cluster"
        "endpoint = $CW" "credentials_file = $WORK/credentials" "interval = 1s" "timeout = 2s"
        "period = 1s" "lookback = 2m"
        "[scenario spike]" "base_url = $API" "rate = 20/s" "duration = 2s" "request = GET /api/items"
        "[criterion latency_p95]" "enabled = no"
        "[criterion zero_data_loss]" "enabled = no"
        "[criterion acu_scaling]" "settle = 2s" "scale_up_within = 5s" "max_age = 10m"
)
write_config "$WORK/pw.conf" "${CONF[@]}"
# The runs are recorded with acu_scaling off: terminal mode would judge
# the capacity itself (066), and here the daemon does, afterwards.
write_config "$WORK/run.conf" "${CONF[@]/settle = 2s/enabled = no}"

# run: perfwatchd --run spike with the daemon stopped; sets ID, S and END
# (ms), T0 (S's whole second) and E (the window's end, ms).  The second's
# wait first keeps the previous daemon's last datapoint out of the window.
run() {
        local out
        sleep 1.1
        out=$(timeout 60 "$PERFWATCHD" --config "$WORK/run.conf" --run spike --json 2>>"$WORK/daemon.runs.log")
        ok $? "perfwatchd --run spike records a run"
        ID=$(jq -r .id <<<"$out")
        IFS='|' read -r S END <<<"$(sqlite3 "$WORK/perfwatch.db" "SELECT started_at, ended_at FROM runs WHERE id = $ID")"
        T0=$((S / 1000))
        E=$((END + 2000 > S + 5000 ? END + 2000 : S + 5000))
        diag "run $ID: $S .. $END (window to $E)"
}
acu() { jget "$PW/v1/criteria/acu_scaling" "$1"; }
hms() { date -u -d "@$(($1 / 1000))" +%T; }
# dur MS: as units_format_duration() writes it ("3s862ms", "4s", "0s").
dur() {
        local s=$(($1 / 1000)) m=$(($1 % 1000)) t=""
        [ "$s" -gt 0 ] && t=${s}s
        [ "$m" -gt 0 ] && t=$t${m}ms
        echo "${t:-0s}"
}
judged() { # judged STATE: the daemon answers STATE for the latest run
        [ "$(acu '.state + "/" + ((.evidence.run // 0) | tostring)')" = "$1/$ID" ] ||
                { [ "$1" = unknown ] && [ "$(acu .state)" = unknown ] && acu .reason | grep -q "^run $ID "; }
}

# (a) 2 ACU until the second after the start, then 4, 8 and 16.
run
control "capacity=2,4,8,16@1&start=$((T0 + 2))&before=2&after=16"
start_daemon "$WORK/pw.conf"
check "(a) a ramp 2 -> 16 within 5s: met" wait_until 20 judged met
peak_ms=$(((T0 + 5) * 1000 - S))
check "(a) its value is the peak, 16 ACU" test "$(acu .value)/$(acu .unit)" = "16/ACU"
check "(a) evidence: run $ID of spike, series aurora.aurora.acu" \
        test "$(acu '.evidence | [.run, .scenario, .series] | join(",")')" = "$ID,spike,aurora.aurora.acu"
check "(a) time to peak: $peak_ms ms, from the run's start to the first 16" \
        test "$(acu '.evidence.time_to_peak_s * 1000 | round')" = "$peak_ms"
check "(a) the same to scale_to" test "$(acu '.evidence.time_to_scale_to_s * 1000 | round')" = "$peak_ms"
want="run $ID: start 2 ACU ($(hms $((T0 * 1000))), before the run), peak 16 ACU at $(hms $(((T0 + 5) * 1000))) ($(dur $peak_ms) after the start), 16 ACU after $(dur $peak_ms), range 2-16 ACU over"
check "(a) the summary: $want ..." grep -qF "$want" <<<"$(acu .evidence.summary)"
check "(a) the verdict says when 16 was reached" grep -qF "reached 16 ACU $(dur $peak_ms) after the run's start (at $(hms $(((T0 + 5) * 1000))))" <<<"$(acu .evidence.verdict)"
first=$(((T0 * 1000)))
check "(a) evidence: the points judged, from the start point at ${first} ms to the window's end, every second" \
        test "$(acu '.evidence | [.points[0][0], .points[0][1], (.points | length) == .points_used, .points_cut,
                ([.points[1:][][0]] | all(. >= '"$S"' and . <= '"$((E + 0))"'))] | map(tostring) | join(",")')" = "$first,2,true,false,true"
check "(a) 16 ACU in the points from $((T0 + 5))000 ms on" \
        test "$(acu '[.evidence.points[] | select(.[0] >= '"$(((T0 + 5) * 1000))"') | .[1]] | unique | map(tostring) | join(",")')" = 16
check "(a) ?format=text shows the summary" \
        grep -qE "^acu_scaling +met +16 ACU +- +run $ID: start 2 ACU" <<<"$(curl -s "$PW/v1/status?format=text")"
runwin() { curl -s "$PW/v1/runs/$ID" | jq -r "$1"; }
acu_hung() {
        test "$(runwin '.extra.acu_window | [.state, (.time_to_peak_s * 1000 | round)] | map(tostring) | join(",")')" = "met,$peak_ms"
}
check "(a) the judged window hangs on run $ID: extra.acu_window met, $peak_ms ms to the peak" wait_until 10 acu_hung
check "(a) and its text says so" grep -qF "Capacity (acu_scaling): met: " <<<"$(curl -s "$PW/v1/runs/$ID?format=text")"
stop_daemon; ok $? "(a) the daemon stops cleanly"

# (b) stuck at 2.
run
control "stuck=2"
start_daemon "$WORK/pw.conf"
check "(b) stuck at 2 ACU: not_met" wait_until 20 judged not_met
check "(b) its value is the peak, 2 ACU" test "$(acu .value)" = 2
check "(b) the verdict names the peak 2" grep -qF "did not reach 16 ACU within 5s of the run's start: the peak was 2 ACU at $(hms $((T0 * 1000))) (0s after the start)" <<<"$(acu .evidence.verdict)"
check "(b) the summary says never 16" grep -qF "peak 2 ACU at $(hms $((T0 * 1000))) (0s after the start), never 16 ACU, range 2-2 ACU" <<<"$(acu .evidence.summary)"
write_config "$WORK/pw.conf" "${CONF[@]}" "scale_to = 2"
kill -HUP "$PW_PID"
check "(b) a reload lowering scale_to to 2: met" wait_until 10 judged met
check "(b) reached at the start" test "$(acu '.evidence.time_to_scale_to_s')" = 0
write_config "$WORK/pw.conf" "${CONF[@]}"
stop_daemon; ok $? "(b) the daemon stops cleanly"

# (c) 20 ACU, above max_acu.
run
control "capacity=2,8,20,16@1&start=$((T0 + 1))&before=2&after=16"
start_daemon "$WORK/pw.conf"
check "(c) 20 ACU during the run: not_met" wait_until 20 judged not_met
check "(c) its value is the peak, 20 ACU" test "$(acu .value)" = 20
check "(c) the verdict names the point above max_acu" \
        test "$(acu .evidence.verdict)" = "20 ACU at $(hms $(((T0 + 3) * 1000))) is above max_acu 16"
check "(c) and when" test "$(acu .evidence.violation_at)" = "$(date -u -d "@$((T0 + 3))" +%Y-%m-%dT%H:%M:%SZ)"
stop_daemon; ok $? "(c) the daemon stops cleanly"

# (d) CloudWatch ten minutes late: nothing covers the run yet.
run
control "capacity=2,16@1&start=$((T0 + 1))&before=2&after=16&lag=600"
start_daemon "$WORK/pw.conf"
want="run $ID of scenario spike: no capacity datapoint between $(hms "$S") and $(hms "$E"): "
check "(d) no datapoint in the window: unknown" wait_until 20 judged unknown
check "(d) the reason: $want ..." grep -qF "$want" <<<"$(acu .reason)"
check "(d) saying until when data may still arrive: lookback 2m + interval 1s + timeout 2s after the window" \
        grep -qF "; data may still arrive until $(hms $((E + 123000)))" <<<"$(acu .reason)"
check "(d) ?strict=1 answers 503" \
        test "$(curl -s -o /dev/null -w '%{http_code}' "$PW/v1/status?strict=1")" = 503
control "lag=0"
check "(d) once the datapoints arrive: met" wait_until 20 judged met
check "(d) 16 ACU one to two seconds after the start" \
        test "$(acu '.evidence.time_to_peak_s * 1000 | round')" = $(((T0 + 2) * 1000 - S))
stop_daemon; ok $? "(d) the daemon stops cleanly"
done_testing
