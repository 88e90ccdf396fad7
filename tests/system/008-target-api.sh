#!/bin/bash
# The demo target's own HTTP API, which tools/demo shows and load scenarios
# will drive: items are listed, created, read and updated; unknown items
# are 404 and bodies that are not JSON 400; the stall switch holds requests
# for D every P.
. "$TOP_SRCDIR/tests/system/lib.sh"

start_target
A=http://127.0.0.1:$API_PORT
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

check "GET /healthz answers ok" test "$(jget "$A/healthz" .status)" = ok
check "the list starts empty" test "$(jget "$A/api/items" length)" = 0
check "POST /api/items creates an item: 201" \
        test "$(code -X POST -d '{"name":"widget"}' "$A/api/items")" = 201
check "the new item has id 1" test "$(jget "$A/api/items/1" .id)" = 1
check "GET /api/items/1 returns what was posted" test "$(jget "$A/api/items/1" .data.name)" = widget
check "PUT /api/items/1 replaces its data: 200" \
        test "$(code -X PUT -d '{"name":"gadget"}' "$A/api/items/1")" = 200
check "GET /api/items/1 returns the update" test "$(jget "$A/api/items/1" .data.name)" = gadget
check "POST /api/items creates a second item" \
        test "$(curl -s -X POST -d '[1,2]' "$A/api/items" | jq -r .id)" = 2
check "the list holds both, in id order" test "$(jget "$A/api/items" '[.[].id] | join(",")')" = 1,2
check "GET of an unknown item is 404" test "$(code "$A/api/items/99")" = 404
check "PUT of an unknown item is 404" test "$(code -X PUT -d '{}' "$A/api/items/99")" = 404
check "PUT does not create the unknown item" test "$(jget "$A/api/items" length)" = 2
check "a body that is not JSON is 400" test "$(code -X POST -d 'not json' "$A/api/items")" = 400
check "PUT with a body that is not JSON is 400" test "$(code -X PUT -d '{' "$A/api/items/1")" = 400
check "DELETE is refused: 405" test "$(code -X DELETE "$A/api/items/1")" = 405

# The stall switch: every API request arriving during the first D of each
# wall-clock period P waits until D has passed.
check "POST /api/stall sets a stall of 600ms every 1s" \
        test "$(curl -s -X POST "$A/api/stall?d=600ms&p=1s" | jq -r '.stall + " " + .period')" = "600ms 1s"
check "a stall as long as its period is refused: 400" test "$(code -X POST "$A/api/stall?d=1s&p=1s")" = 400
check "a stall that is not a duration is refused: 400" test "$(code -X POST "$A/api/stall?d=lots")" = 400
# Wait until 20 ms into a period: a request sent then waits about 580 ms.
phase_ms=$(( $(date +%s%N) / 1000000 % 1000 ))
sleep "0.$(printf '%03d' $(( (1020 - phase_ms) % 1000 )))"
t=$(curl -s -o /dev/null -w '%{time_total}' "$A/healthz")
diag "a request 20 ms into the stall took $t s"
check "a request arriving 20 ms into a 600 ms stall waits until it ends" \
        awk -v t="$t" 'BEGIN { exit !(t > 0.45 && t < 0.7) }'
check "d=0 turns the stall off" test "$(curl -s -X POST "$A/api/stall?d=0" | jq -r .stall)" = 0s
t=$(curl -s -o /dev/null -w '%{time_total}' "$A/healthz")
check "then requests are not held: $t s" awk -v t="$t" 'BEGIN { exit !(t < 0.2) }'
"$DEMO_TARGET" -stall 2s -stall-period 1s >/dev/null 2>&1
check "-stall longer than -stall-period is refused at start" test $? = 2
done_testing
