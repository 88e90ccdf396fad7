#!/bin/bash
# perfwatchd --run NAME: one scenario in the foreground against the demo
# target, judged by latency_p95.  (a) an open run at 100/s sends what it
# planned and passes; (b) with the target stalling S = 1 s every P = 5 s
# (aligned to the wall clock), a request planned t into a stall waits S - t,
# so over whole periods 20% of the requests wait uniformly in (0, 1 s]: the
# true p95 from the intended start is 750 ms and the p99 950 ms, which the
# run must report within 5%, while the service time's p50 stays small; (c)
# a closed run of the same stalled target reports a far smaller p95, which
# is why the open model is the default; (d) a base URL that refuses
# connections ends quickly with its errors counted and no verdict; (c2) a
# run where more than 5% of the requests time out fails whatever the
# answered ones took; (e) an
# unknown scenario is exit 2 with a clear message.
. "$TOP_SRCDIR/tests/system/lib.sh"

start_target
API=http://127.0.0.1:$API_PORT
REFUSED=$(free_port)

# The database's directory is missing: the runs are not recorded (see
# 051-latency-verdict.sh for runs that are).
cat >"$WORK/run.conf" <<EOF
[daemon]
database = $WORK/missing/perfwatch.db

[scenario steady]
base_url = $API
rate = 100/s
duration = 10s
request = 3 GET /api/items
request = GET /healthz

[scenario closed]
model = closed
base_url = $API
users = 10
think = 100ms
duration = 5s
request = GET /api/items

[scenario timeouts]
base_url = $API
rate = 50/s
duration = 4s
timeout = 200ms
request = GET /api/items

[scenario refused]
base_url = http://127.0.0.1:$REFUSED
rate = 50/s
duration = 2s
timeout = 2s
request = GET /api/items
EOF

"$PERFWATCHD" --config "$WORK/run.conf" --check-config >/dev/null
ok $? "the scenarios pass --check-config"

# run NAME [ARGS...]: sets RC, OUT (the JSON) and ERR (stderr's file).
run() {
        local name=$1; shift
        ERR=$WORK/daemon.run-$name.$RANDOM.log
        OUT=$(timeout 60 "$PERFWATCHD" --config "$WORK/run.conf" --run "$name" --json "$@" 2>"$ERR")
        RC=$?
}
field() { jq -r "$1" <<<"$OUT"; }
# within VALUE WANT PERCENT: |VALUE - WANT| <= WANT * PERCENT / 100
within() { awk -v v="$1" -v w="$2" -v p="$3" 'BEGIN { d = v - w; if (d < 0) d = -d; exit !(d <= w * p / 100) }'; }
below() { awk -v v="$1" -v w="$2" 'BEGIN { exit !(v < w) }'; }

# (a) no stall.
run steady
ok $(( RC != 0 )) "(a) an open run at 100/s against a fast target exits 0 (got $RC)"
n=$(field .requests)
within "$n" 1000 2; ok $? "(a) it sends 1000 +- 2% requests in 10 s (sent $n)"
ok $(( $(field .ok) != n )) "(a) every request is answered ok ($(field .ok))"
p95=$(field .latency_ms.p95)
below "$p95" 50; ok $? "(a) p95 from the intended start is small ($p95 ms)"
[ "$(field '.id, .scenario, .model, .state')" = "$(printf 'null\nsteady\nopen\ncompleted')" ]
ok $? "(a) the run object: id null (not recorded), scenario, model, state completed"
[ "$(field .client)" = own ] && grep -q ' connections opened by the own HTTP/1.1 client$' "$ERR"
ok $? "(a) sent by the own HTTP/1.1 client (base_url is http://127.0.0.1:PORT): $(field .client)"
[ "$(grep -c "^perfwatchd: run not recorded: $WORK/missing/perfwatch.db: " "$ERR")" = 1 ]
ok $? "(a) one line on stderr says the run was not recorded, and why"
[ "$(field '.per_request | keys | join(",")')" = "GET /api/items,GET /healthz" ]
ok $? "(a) figures per request name"
[ "$(field '[.errors.connect, .errors.timeout, .errors.status, .dropped] | join(",")')" = "0,0,0,0" ]
ok $? "(a) no errors, nothing dropped"
grep -q '^ *[0-9]*s  rate .*/s  p95 .*ms  p99 .*ms  errors 0  in flight [0-9]*  dropped 0$' "$ERR"
ok $? "(a) a progress line per second on stderr"
[ "$(grep -c '^ *[0-9]*s  rate' "$ERR")" -ge 9 ]
ok $? "(a) about one per second ($(grep -c '^ *[0-9]*s  rate' "$ERR") lines)"
grep -q 'from the intended start' "$ERR" && grep -q 'latency_p95: .* met$' "$ERR"
ok $? "(a) the summary and the verdict on stderr with --json"

# (b) stall 1 s every 5 s.
curl -sf -X POST "$API/api/stall?d=1s&p=5s" >/dev/null
ok $? "the target stalls 1 s every 5 s"
run steady
ok $(( RC != 1 )) "(b) the stalled run exits 1: p95 above 300 ms (got $RC)"
p95=$(field .latency_ms.p95); p99=$(field .latency_ms.p99); s50=$(field .service_ms.p50)
diag "stall 1s/5s at 100/s: p95 $p95 ms (truth 750), p99 $p99 ms (truth 950), service p50 $s50 ms," \
     "requests $(field .requests)"
within "$p95" 750 5; ok $? "(b) p95 from the intended start $p95 ms is within 5% of the true 750 ms"
within "$p99" 950 5; ok $? "(b) p99 from the intended start $p99 ms is within 5% of the true 950 ms"
below "$s50" 20; ok $? "(b) the service time's p50 stays small ($s50 ms)"
grep -q 'latency_p95: .* is not < 300 ms: not met$' "$ERR"
ok $? "(b) the verdict line says not met"

# (c) the same stalled target, closed model.
run closed
cp95=$(field .latency_ms.p95)
diag "closed model, 10 users, same stall: p95 $cp95 ms, requests $(field .requests)"
awk -v c="$cp95" -v o="$p95" 'BEGIN { exit !(c * 3 < o) }'
ok $? "(c) a closed run of the stalled target reports a far smaller p95 ($cp95 ms against $p95 ms)"
# (c2) half the time stalled, a 200 ms timeout: the answers are fast, but
# the p95 lies among the requests that timed out.
curl -sf -X POST "$API/api/stall?d=1s&p=2s" >/dev/null
run timeouts
t=$(field .errors.timeout)
diag "stall 1s/2s, timeout 200ms: $t timeouts of $(field .requests), answered p95 $(field .latency_ms.p95) ms"
ok $(( RC != 1 )) "(c2) a run where more than 5% time out exits 1 however fast the answers (got $RC)"
grep -q 'latency_p95: not met: .* timed out (more than 5%)' "$ERR"
ok $? "(c2) and says the p95 is beyond the timeout"
curl -sf -X POST "$API/api/stall?d=0" >/dev/null

# (d) nothing listens.
start=$(date +%s)
run refused
took=$(( $(date +%s) - start ))
ok $(( RC != 2 )) "(d) a base_url that refuses connections exits 2: no verdict (got $RC)"
c=$(field .errors.connect)
ok $(( c < 90 )) "(d) its connection errors are counted ($c of $(field .requests))"
ok $(( took > 6 )) "(d) and it ends quickly (${took}s for a 2s scenario)"
grep -q 'no request was answered.*Connection refused' "$ERR"
ok $? "(d) the reason says so: $(grep 'no request' "$ERR")"

# (e) an unknown scenario.
run nope
ok $(( RC != 2 )) "(e) an unknown scenario exits 2 (got $RC)"
grep -q "has no \[scenario nope\] (scenarios: steady, closed, timeouts, refused)" "$ERR"
ok $? "(e) and names the scenarios there are: $(cat "$ERR")"
[ -z "$OUT" ]
ok $? "(e) nothing on stdout"

# --duration shortens; a signal cancels and still prints the partial run.
run steady --duration 2s
within "$(field .requests)" 200 5; ok $? "--duration 2s cuts the 10 s scenario to 200 requests ($(field .requests))"
timeout 60 "$PERFWATCHD" --config "$WORK/run.conf" --run steady --json >"$WORK/int.json" 2>"$WORK/int.err" &
pid=$!
sleep 2
kill -INT "$pid"
wait "$pid"; rc=$?
ok $(( rc != 2 )) "SIGINT cancels the run: exit 2, no verdict (got $rc)"
[ "$(jq -r .state "$WORK/int.json")" = cancelled ] && [ "$(jq -r .requests "$WORK/int.json")" -gt 100 ]
ok $? "and the partial run is printed: state cancelled, $(jq -r .requests "$WORK/int.json") requests"

done_testing
