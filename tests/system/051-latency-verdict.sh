#!/bin/bash
# latency_p95 judges recorded runs: perfwatchd --run records its run in
# the [daemon] database, and the daemon on that database judges the latest
# completed run of scenario peak.  (a) a run against the demo target
# stalling 1 s every 5 s exits 1, and the daemon then shows latency_p95
# not_met with the very p95 the run printed and its id as evidence,
# ?strict=1 answering 503; (b) a run without the stall, made while the
# daemon runs, turns it met with the new run's id; (c) a run with fewer
# requests than min_requests makes it unknown; (d) a database that cannot
# be written costs one line on stderr, not the verdict; (e) a run whose
# requests fail fast (a quarter answered 404) is not_met, not met.
. "$TOP_SRCDIR/tests/system/lib.sh"

start_target
API=http://127.0.0.1:$API_PORT
PW_PORT=$(free_port)
write_config "$WORK/pw.conf" \
        "[scenario peak]" "base_url = $API" "rate = 200/s" "duration = 6s" "request = GET /api/items" \
        "[criterion latency_p95]" "max_age = 10m"

# run [ARGS...]: perfwatchd --run peak --json; sets RC, OUT (the JSON), ERR.
run() {
        ERR=$WORK/daemon.run-peak.$RANDOM.log  # daemon.*: checked by sanitizer_clean
        OUT=$(timeout 60 "$PERFWATCHD" --config "${CONF:-$WORK/pw.conf}" --run peak --json "$@" 2>"$ERR")
        RC=$?
}
field() { jq -r "$1" <<<"$OUT"; }
lat() { jget "$PW/v1/criteria/latency_p95" "$1"; }
# same_ms A B: A and B are the same number of ms, to the microsecond.
same_ms() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d < 0.0005) }'; }

# (a) stalled.
curl -sf -X POST "$API/api/stall?d=1s&p=5s" >/dev/null
ok $? "the target stalls 1 s every 5 s"
run
id1=$(field .id); p95=$(field .latency_ms.p95); n1=$(field .requests)
diag "stalled run: id $id1, $n1 requests, p95 $p95 ms, service p95 $(field .service_ms.p95) ms"
ok $(( RC != 1 )) "(a) the stalled run exits 1 (got $RC)"
[[ $id1 =~ ^[0-9]+$ ]]; ok $? "(a) its JSON carries the id it was recorded as ($id1)"
grep -q "recorded as run $id1 in $WORK/perfwatch.db" "$ERR"; ok $? "(a) the summary says it was recorded"
[ "$(sqlite3 "$WORK/perfwatch.db" "SELECT state, requests FROM runs WHERE id = $id1")" = "completed|$n1" ]
ok $? "(a) the database holds it completed with its $n1 requests"
[ "$(sqlite3 "$WORK/perfwatch.db" "SELECT group_concat(request || ':' || kind, ',') FROM (SELECT request, kind
     FROM run_histograms WHERE run_id = $id1 ORDER BY request, kind)")" = \
  ":latency,:lateness,:service,GET /api/items:latency,GET /api/items:service" ]
ok $? "(a) with the whole run's and the request's histograms"

start_daemon "$WORK/pw.conf"
check "(a) the daemon judges it: latency_p95 not_met" wait_until 10 state_is latency_p95 not_met
v=$(lat .value)
same_ms "$v" "$p95"; ok $? "(a) its value is the p95 the run printed ($v ms, printed $p95 ms)"
[ "$(lat '.evidence | [.run, .scenario, .requests] | join(",")')" = "$id1,peak,$n1" ]
ok $? "(a) evidence: run $id1, scenario peak, $n1 requests"
check "(a) evidence: the service-time p95 and when the run ended" \
        test "$(lat '.evidence | (.service_p95_ms | type) + "," + (.ended_at | test("Z$") | tostring)')" = "number,true"
check "(a) ?strict=1 answers 503" \
        test "$(curl -s -o /dev/null -w '%{http_code}' "$PW/v1/status?strict=1")" = 503

# (b) no stall, while the daemon runs.
curl -sf -X POST "$API/api/stall?d=0" >/dev/null
run
id2=$(field .id)
diag "unstalled run: id $id2, $(field .requests) requests, p95 $(field .latency_ms.p95) ms"
ok $(( RC != 0 )) "(b) the run without the stall exits 0 (got $RC)"
ok $(( id2 <= id1 )) "(b) and is recorded as a new run ($id2)"
check "(b) after an evaluation latency_p95 is met" wait_until 10 state_is latency_p95 met
check "(b) judging the new run" test "$(lat .evidence.run)" = "$id2"
same_ms "$(lat .value)" "$(field .latency_ms.p95)"; ok $? "(b) with its p95 ($(lat .value) ms)"

# (c) too few requests.
run --duration 2s
id3=$(field .id); n3=$(field .requests)
check "(c) a run of $n3 requests (< min_requests 1000) makes it unknown" wait_until 10 state_is latency_p95 unknown
check "(c) saying why" test "$(lat .reason)" = \
        "latest completed run of scenario peak (run $id3) has $n3 requests (min_requests 1000)"

# (e) a quarter of the requests answered 404: fast, yet not a working service.
sed 's|^request = GET /api/items$|request = 3 GET /api/items\nrequest = 1 GET /api/none|' "$WORK/pw.conf" >"$WORK/fail.conf"
CONF=$WORK/fail.conf run
id5=$(field .id); n5=$(field .requests); f5=$(field .errors.status)
diag "failing run: id $id5, $n5 requests, $f5 status errors, p95 $(field .latency_ms.p95) ms"
ok $(( RC != 1 )) "(e) a run with $f5 of $n5 requests answered 404 exits 1 (got $RC)"
grep -q "^perfwatchd: latency_p95: not met: $f5 of $n5 requests failed (.*more than 5%)" "$ERR"
ok $? "(e) saying why: $(grep 'latency_p95' "$ERR")"
check "(e) the daemon shows latency_p95 not_met" wait_until 10 state_is latency_p95 not_met
check "(e) for that run, with its $f5 failures" test "$(lat .evidence.run)/$(lat .evidence.failed)" = "$id5/$f5"
check "(e) and the reason in its summary" test "$(lat .evidence.summary)" = \
        "run $id5: $f5 of $n5 requests failed ($(awk -v f="$f5" -v n="$n5" 'BEGIN { printf "%.1f", 100 * f / n }')%, more than 5%): the p95 of the others does not show a working service"
stop_daemon; ok $? "the daemon stops cleanly"

# (d) a foreign file as database.
sqlite3 "$WORK/foreign.db" "CREATE TABLE accounts (id INTEGER)"
sed "s|^database = .*|database = $WORK/foreign.db|" "$WORK/pw.conf" >"$WORK/foreign.conf"
CONF=$WORK/foreign.conf run --duration 1s
ok $(( RC != 0 )) "(d) a run that cannot be recorded keeps its verdict as exit status (got $RC)"
grep -q "^perfwatchd: run not recorded: $WORK/foreign.db: " "$ERR"
ok $? "(d) one line says so: $(grep 'not recorded' "$ERR")"
[ "$(field .id)" = null ]; ok $? "(d) its JSON id is null"
[ "$(sqlite3 "$WORK/foreign.db" "SELECT group_concat(name) FROM sqlite_master")" = accounts ]
ok $? "(d) the foreign file is left alone"
done_testing
