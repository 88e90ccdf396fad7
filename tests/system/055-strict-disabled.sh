#!/bin/bash
# A host without Aurora can pass the CI gate: with acu_scaling and
# zero_data_loss turned off (enabled = no), memory met and latency_p95 met
# by a recorded run, `curl -sf /v1/status?strict=1` succeeds; the two are
# listed as disabled (JSON, text, /v1/criteria/NAME) and left out of
# STATUS=.  Turning acu_scaling on again by a reload makes the gate fail
# (503).  perfwatchd --run with latency_p95 turned off runs and reports but
# judges nothing: exit 0 where the same run fails when it is on.
. "$TOP_SRCDIR/tests/system/lib.sh"

sock=$WORK/notify.sock
msgs=$WORK/notify.txt
$PY "$TOP_SRCDIR/tests/system/notify-listen.py" "$sock" "$msgs" &
PIDS="$PIDS $!"
wait_until 10 test -S "$sock" || bail "notify listener did not start"

start_target
API=http://127.0.0.1:$API_PORT
PEAK=("[scenario peak]" "base_url = $API" "rate = 100/s" "duration = 3s" "request = GET /api/items")
LATENCY=("[criterion latency_p95]" "max_age = 10m" "min_requests = 100")
OFF=("[criterion acu_scaling]" "enabled = no" "[criterion zero_data_loss]" "enabled = no")
write_config "$WORK/pw.conf" "${PEAK[@]}" "${LATENCY[@]}" "${OFF[@]}"

# run CONF: perfwatchd --run peak --json; sets RC, OUT (the JSON), ERR.
run() {
        ERR=$WORK/daemon.run-peak.$RANDOM.log  # daemon.*: checked by sanitizer_clean
        OUT=$(timeout 60 "$PERFWATCHD" --config "$1" --run peak --json 2>"$ERR")
        RC=$?
}
status_code() { curl -s -o /dev/null -w '%{http_code}' "$PW/v1/status?strict=1"; }
strict_is() { [ "$(status_code)" = "$1" ]; }

run "$WORK/pw.conf"
diag "run $(jq -r .id <<<"$OUT"): $(jq -r .requests <<<"$OUT") requests, p95 $(jq -r .latency_ms.p95 <<<"$OUT") ms"
ok $(( RC != 0 )) "a 3 s open run at 100/s against the demo target exits 0 (got $RC)"

NOTIFY_SOCKET=$sock start_daemon "$WORK/pw.conf"
check "latency_p95 is met by the recorded run" wait_until 10 state_is latency_p95 met
check "memory is met" wait_until 10 state_is memory met
for c in acu_scaling zero_data_loss; do
        check "$c is listed as disabled" state_is $c disabled
        check "/v1/criteria/$c says disabled, and why" \
                test "$(jget "$PW/v1/criteria/$c" '.state + ": " + .reason')" = "disabled: turned off: enabled = no"
        check "/v1/criteria/$c?format=text shows it disabled" \
                grep -qE "^$c +disabled +- +.*turned off: enabled = no" <(curl -s "$PW/v1/criteria/$c?format=text")
done
check "?format=text lists them disabled and says ok: yes" \
        test "$(curl -s "$PW/v1/status?format=text" | awk '/^ok:/ { print $2 } $2 == "disabled" { print $1 }' |
                tr '\n' ' ')" = "yes acu_scaling zero_data_loss "
curl -sf "127.0.0.1:$PW_PORT/v1/status?strict=1" >"$WORK/strict.json"
ok $? "curl -sf '127.0.0.1:$PW_PORT/v1/status?strict=1' exits 0"
check "with ok true" test "$(jq -r .ok "$WORK/strict.json")" = true
check "STATUS= leaves the disabled ones out" \
        wait_until 10 grep -qx 'STATUS=latency_p95 met, memory met; 1/1 sources up' "$msgs"

# acu_scaling on again: unknown (no [capacity] section), and the gate fails.
write_config "$WORK/pw.conf" "${PEAK[@]}" "${LATENCY[@]}" "[criterion zero_data_loss]" "enabled = no"
kill -HUP "$PW_PID"
check "after a reload turning acu_scaling on, it is unknown" wait_until 10 state_is acu_scaling unknown
check "?strict=1 answers 503" strict_is 503
curl -sf "127.0.0.1:$PW_PORT/v1/status?strict=1" >/dev/null
ok $(( $? == 0 )) "and curl -sf fails"
check "zero_data_loss is still disabled" state_is zero_data_loss disabled

# And off again: the gate passes again.
write_config "$WORK/pw.conf" "${PEAK[@]}" "${LATENCY[@]}" "${OFF[@]}"
kill -HUP "$PW_PID"
check "turned off again by a reload: ?strict=1 answers 200" wait_until 10 strict_is 200
stop_daemon; ok $? "the daemon stops cleanly"

# --run with latency_p95 off: an impossible threshold fails the run when
# on, and is not judged when off.
write_config "$WORK/strict.conf" "${PEAK[@]}" "[criterion latency_p95]" "threshold = 0.001"
run "$WORK/strict.conf"
ok $(( RC != 1 )) "--run with a threshold of 1 us exits 1 (got $RC)"
write_config "$WORK/off.conf" "${PEAK[@]}" "[criterion latency_p95]" "threshold = 0.001" "enabled = no"
run "$WORK/off.conf"
ok $(( RC != 0 )) "the same with latency_p95 turned off exits 0 (got $RC)"
check "saying it was not judged, on the last line" \
        test "$(tail -n 1 "$ERR")" = "perfwatchd: latency_p95: not judged: turned off (enabled = no); exit 0"
check "and still reports the run" test "$(jq -r .state <<<"$OUT")" = completed
done_testing
