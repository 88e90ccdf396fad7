#!/bin/bash
# A target that goes away: up drops to 0 with a reason, memory turns unknown
# after max_age, the API keeps answering fast; the target comes back: up 1.
. "$TOP_SRCDIR/tests/system/lib.sh"

start_target
write_config "$WORK/pw.conf" "[criterion memory]" "max_age = 3s"
start_daemon "$WORK/pw.conf"
check "memory is met while the target answers" wait_until 15 state_is memory met

stop_target
check "the source goes down once the target is killed" wait_until 10 source_up_is go.app.memory false
err=$(jget "$PW/v1/sources" '.sources[] | select(.name=="go.app.memory") | .last_error')
diag "last_error: $err"
check "the reason names the connection problem" grep -qi 'connect' <<<"$err"
up_series_last() { jget "$PW/v1/metrics" '.metrics[] | select(.name=="go.app.memory.up") | .last'; }
up_series_is() { [ "$(up_series_last)" = "$1" ]; }
check "the up series records 0 (within a flush interval)" wait_until 5 up_series_is 0
check "memory turns unknown once the newest sample is older than max_age" \
        wait_until 15 state_is memory unknown
check "the unknown reason mentions max_age" \
        grep -q max_age <<<"$(jget "$PW/v1/criteria/memory" .reason)"

slow=0
for i in $(seq 20); do
        t=$(curl -s -o /dev/null -w '%{time_total}' "$PW/v1/status")
        awk -v t="$t" 'BEGIN { exit !(t < 0.1) }' || { slow=$((slow + 1)); diag "slow answer: ${t}s"; }
done
ok $slow "20 status requests with the target down each answer in under 100 ms"

start_target
check "the source is up again once the target is back" wait_until 120 source_up_is go.app.memory true
check "memory is met again" wait_until 15 state_is memory met
done_testing
