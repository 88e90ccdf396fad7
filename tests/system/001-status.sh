#!/bin/bash
# The spine end to end: the demo target's /memory is polled, stored, and the
# memory criterion answers met, then not_met once the target leaks past a
# lowered threshold; the API's routes, errors and text format.
. "$TOP_SRCDIR/tests/system/lib.sh"

start_target
write_config "$WORK/pw.conf"
start_daemon "$WORK/pw.conf"

check "memory turns met once samples arrive" wait_until 15 state_is memory met
check "status lists the four built-in criteria in order" \
        test "$(jget "$PW/v1/status" '[.criteria[].name] | join(",")')" = "latency_p95,memory,acu_scaling,zero_data_loss"
check "latency_p95 is unknown without a [scenario peak], saying how to turn it off" \
        test "$(jget "$PW/v1/status" '.criteria[] | select(.name=="latency_p95") | .state + "/" + .reason')" = \
        "unknown/no [scenario peak] is configured: add one, name another with scenario =, or turn latency_p95 off with enabled = no"
check "acu_scaling is unknown without a [capacity] section, saying so" \
        test "$(jget "$PW/v1/status" '.criteria[] | select(.name=="acu_scaling") | .state + "/" + .reason')" = \
        "unknown/no [capacity] section: nothing measures the capacity (add one, or turn acu_scaling off with enabled = no)"
check "zero_data_loss is unknown without a [scenario crdt], saying how to turn it off" \
        test "$(jget "$PW/v1/status" '.criteria[] | select(.name=="zero_data_loss") | .state + "/" + .reason')" = \
        "unknown/no [scenario crdt] is configured: add one, name another with scenario =, or turn zero_data_loss off with enabled = no"
check "memory evidence names the series go.app.Sys" \
        test "$(jget "$PW/v1/criteria/memory" .evidence.series)" = go.app.Sys
check "memory threshold defaults to 512 MiB" \
        test "$(jget "$PW/v1/criteria/memory" .threshold)" = 536870912
check "ok is false while criteria are unknown" test "$(jget "$PW/v1/status" .ok)" = false
check "?strict=1 answers 503 when not every criterion is met" \
        test "$(curl -s -o /dev/null -w '%{http_code}' "$PW/v1/status?strict=1")" = 503
check "a bare ?strict (no value) is strict too" \
        test "$(curl -s -o /dev/null -w '%{http_code}' "$PW/v1/status?strict")" = 503
check "?strict=0 is not strict" \
        test "$(curl -s -o /dev/null -w '%{http_code}' "$PW/v1/status?strict=0")" = 200
check "evaluated_at is an ISO 8601 UTC time" \
        grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$' <<<"$(jget "$PW/v1/status" .evaluated_at)"

# Series and metrics.
check "the source go.app.memory is up" test "$(source_up go.app.memory)" = true
check "/v1/metrics lists go.app.Sys with its last value" \
        test "$(jget "$PW/v1/metrics" '.metrics[] | select(.name=="go.app.Sys") | .last > 0')" = true
check "/v1/metrics lists the source's up series" \
        test "$(jget "$PW/v1/metrics" '.metrics[] | select(.name=="go.app.memory.up") | .last')" = 1
points() { jget "$PW/v1/series?metric=go.app.Sys&from=now-1h" '.points | length'; }
at_least_3_points() { [ "$(points)" -ge 3 ]; }
check "/v1/series returns the stored points of go.app.Sys" wait_until 10 at_least_3_points
check "/v1/series with from after to is a 400" \
        test "$(curl -s -o /dev/null -w '%{http_code}' "$PW/v1/series?metric=go.app.Sys&from=now&to=now-1h")" = 400
check "/v1/series without metric is a 400 with a JSON error" \
        test "$(jget "$PW/v1/series" .error.code)" != null
check "/v1/series of an unknown metric is a 404" \
        test "$(curl -s -o /dev/null -w '%{http_code}' "$PW/v1/series?metric=no.such")" = 404
check "an unknown criterion is a 404" \
        test "$(curl -s -o /dev/null -w '%{http_code}' "$PW/v1/criteria/nope")" = 404
check "an unknown path is a 404 with a JSON error" \
        test "$(jget "$PW/v1/nope" .error.code)" != null
check "a path that is not UTF-8 is still a 404 with a JSON error" \
        test "$(curl -s -o /dev/null -w '%{http_code}' "$PW/v1/nope%ff")" = 404 -a "$(jget "$PW/v1/nope%ff" .error.code)" = not_found
check "a query value that is not UTF-8 is a 400 with a JSON error" \
        test "$(jget "$PW/v1/status?format=%ff" .error.code)" = bad_request
check "POST on /v1/status is a 405 with an Allow header" \
        grep -qi '^allow: .*GET' <<<"$(curl -s -D - -o /dev/null -X POST "$PW/v1/status")"
# text_state NAME: the STATE column of NAME's row in the status table.
text_state() { curl -s "$PW/v1/status?format=text" | awk -v n="$1" '$1 == n { print $2 }'; }
check "?format=text gives a table with memory's row in state met (not not_met)" \
        test "$(text_state memory)" = met
# Evaluations run every 500 ms and change the table: a few tries, bounded.
same_table() {
        local i a b
        for i in 1 2 3 4 5; do
                a=$(curl -s -H 'Accept: text/plain' "$PW/v1/status")
                b=$(curl -s "$PW/v1/status?format=text")
                [ -n "$a" ] && [ "$a" = "$b" ] && return 0
        done
        return 1
}
check "Accept: text/plain gives the same table as ?format=text" same_table
check "?strict=1&format=text answers 503 while criteria are unknown" \
        test "$(curl -s -o /dev/null -w '%{http_code}' "$PW/v1/status?strict=1&format=text")" = 503
check "/healthz answers 200" curl -sf -o /dev/null "$PW/healthz"

# Lower the threshold just above the current Sys, then leak 32 MiB/s.
sys=$(jget "$PW/v1/criteria/memory" .value)
write_config "$WORK/pw.conf" "[criterion memory]" "threshold = $((sys + 64 * 1024 * 1024))" "window = 1m" "max_age = 5s"
kill -HUP "$PW_PID"
check "after the reload, memory is still met below the lowered threshold" wait_until 10 state_is memory met
target_control "leak?rate=32MiB"
check "with the target leaking, memory turns not_met" wait_until 20 state_is memory not_met
check "?strict=1 answers 503 while memory is not met" \
        test "$(curl -s -o /dev/null -w '%{http_code}' "$PW/v1/status?strict=1")" = 503
check "?strict=1&format=text answers 503 while memory is not met" \
        test "$(curl -s -o /dev/null -w '%{http_code}' "$PW/v1/status?strict=1&format=text")" = 503
check "the text table shows memory as not_met" test "$(text_state memory)" = not_met
check "?strict=0&format=text answers 200 while memory is not met" \
        test "$(curl -s -o /dev/null -w '%{http_code}' "$PW/v1/status?strict=0&format=text")" = 200
check "the not_met value is above the threshold" \
        test "$(jget "$PW/v1/criteria/memory" '.value > .threshold')" = true
target_control "leak?rate=0"

check "SIGTERM stops perfwatchd with exit status 0" stop_daemon
done_testing
