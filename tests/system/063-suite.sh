#!/bin/bash
# perfwatchd --run A,B: a suite.  (a) a target whose /memory is down fails
# the pre-flight, naming it, exit 2, and no load request reaches the
# service nor is a run recorded; (b) a base_url that refuses fails the
# pre-flight naming its scenario; (c) an unknown name is exit 2 before
# anything, with "did you mean"; (d) two passing scenarios run in order,
# both recorded in order, each shortened by --duration, exit 0, and
# --json prints an array; (e) one of them answering 404 makes the suite
# exit 1 and the suite line says which; (f) --no-preflight runs the
# suite of (a) anyway; (g) SIGINT ends the suite.
. "$TOP_SRCDIR/tests/system/lib.sh"

start_target
API=http://127.0.0.1:$API_PORT
DEAD=$(free_port)

# A service that counts what reaches it: one line per request, its path.
COUNT_PORT=$(free_port)
SEEN=$WORK/seen.log
: >"$SEEN"
$PY "$TOP_SRCDIR/tests/system/count-requests.py" "$COUNT_PORT" "$SEEN" >"$WORK/counter.log" 2>&1 &
PIDS="$PIDS $!"
wait_until 20 curl -sf "http://127.0.0.1:$COUNT_PORT/ready" || bail "the counting service did not start"
: >"$SEEN"

# conf FILE DATABASE MEMORY_URL SCENARIO_LINES...
conf() {
        local f=$1 db=$2 mem=$3; shift 3
        {
                printf '[daemon]\ndatabase = %s\n\n[target app]\nmemory_url = %s\ntimeout = 2s\n' "$db" "$mem"
                local line
                for line in "$@"; do echo "$line"; done
        } >"$f"
}
scenario() {    # scenario NAME BASE_URL PATH
        printf '\n[scenario %s]\nbase_url = %s\nrate = 20/s\nduration = 30s\ntimeout = 2s\nrequest = GET %s\n' "$1" "$2" "$3"
}
# suite CONFIG LIST [ARGS...]: sets RC, OUT (stdout) and ERR (stderr's file).
suite() {
        local f=$1 list=$2; shift 2
        ERR=$WORK/daemon.suite.$RANDOM.log
        OUT=$(timeout 90 "$PERFWATCHD" --config "$f" --run "$list" --duration 2s "$@" 2>"$ERR")
        RC=$?
}
runs() { sqlite3 "$1" "SELECT scenario FROM runs ORDER BY id" | paste -sd, -; }
show() { sed 's/^/#   /' "$ERR" | head -40; }

# (a) the target's /memory is down.
conf "$WORK/a.conf" "$WORK/a.db" "http://127.0.0.1:$DEAD/memory" \
        "$(scenario one "http://127.0.0.1:$COUNT_PORT" /api/items)" \
        "$(scenario two "http://127.0.0.1:$COUNT_PORT" /api/items)"
suite "$WORK/a.conf" one,two
ok $(( RC != 2 )) "(a) a target that is down: exit 2 (got $RC)"
grep -q "^perfwatchd: pre-flight: target app /memory http://127.0.0.1:$DEAD/memory: failed: .*" "$ERR"
ok $? "(a) the pre-flight line names the target and says why"
grep -q "^perfwatchd: pre-flight: scenario one base_url http://127.0.0.1:$COUNT_PORT/: ok (HTTP 200, [0-9]* ms)$" "$ERR"
ok $? "(a) the other checks still run and say ok"
grep -q "^perfwatchd: pre-flight: database $WORK/a.db: ok (" "$ERR"
ok $? "(a) the database check passes"
grep -q "^perfwatchd: suite: 1 pre-flight check failed: nothing was run: exit 2$" "$ERR"
ok $? "(a) the suite stops with the reason"
[ "$(paste -sd" " "$SEEN")" = "/ /" ]
ok $? "(a) no load request reached the service: only the pre-flight GET / of each scenario ($(paste -sd' ' "$SEEN"))"
[ "$(sqlite3 "$WORK/a.db" 'SELECT count(*) FROM runs')" = 0 ]
ok $? "(a) no run is recorded"
! grep -q "starting\|rate .*p95" "$ERR"
ok $? "(a) no run started"

# (b) a base_url that refuses connections.
conf "$WORK/b.conf" "$WORK/b.db" "$MEM_URL" "$(scenario one "$API" /api/items)" \
        "$(scenario gone "http://127.0.0.1:$DEAD" /api/items)"
suite "$WORK/b.conf" one,gone
ok $(( RC != 2 )) "(b) a base_url that refuses: exit 2 (got $RC)"
grep -q "^perfwatchd: pre-flight: scenario gone base_url http://127.0.0.1:$DEAD/: failed: .*" "$ERR"
ok $? "(b) the pre-flight line names the scenario"
grep -q "^perfwatchd: pre-flight: target app /memory $MEM_URL: ok (HTTP 200, [0-9]* ms)$" "$ERR" &&
        grep -q "^perfwatchd: pre-flight: scenario one base_url $API/: ok (HTTP [0-9]*, [0-9]* ms)$" "$ERR"
ok $? "(b) the target and the scenario that answers pass (any HTTP status does)"
[ "$(sqlite3 "$WORK/b.db" 'SELECT count(*) FROM runs')" = 0 ]
ok $? "(b) no run is recorded"

# (b2) a target whose /memory answers 404, a [postgres] that does not
# connect and a database that cannot be opened: each named.
conf "$WORK/b2.conf" "$WORK/missing/b2.db" "$API/nope" "$(scenario one "$API" /api/items)" \
        "$(printf '\n[postgres main]\nconninfo = host=127.0.0.1 port=%s dbname=x user=x\n' "$DEAD")"
suite "$WORK/b2.conf" one,one
ok $(( RC != 2 )) "(b2) /memory 404, a [postgres] down, a database that cannot open: exit 2 (got $RC)"
grep -q "^perfwatchd: pre-flight: target app /memory $API/nope: failed: HTTP 404, not 200$" "$ERR"
ok $? "(b2) a /memory that answers 404 fails: it must answer 200"
grep -q "^perfwatchd: pre-flight: postgres main: failed: .*127.0.0.1.*$DEAD" "$ERR"
ok $? "(b2) the pre-flight line names the [postgres] section and says why"
grep -q "^perfwatchd: pre-flight: database $WORK/missing/b2.db: failed: .*" "$ERR"
ok $? "(b2) the pre-flight line names the database and says why"
[ "$(grep -c "pre-flight: scenario one base_url" "$ERR")" = 1 ]
ok $? "(b2) a scenario named twice is checked once"
grep -q "^perfwatchd: suite: 3 pre-flight checks failed: nothing was run: exit 2$" "$ERR"
ok $? "(b2) the suite line counts the three"

# (c) an unknown name.
conf "$WORK/c.conf" "$WORK/c.db" "$MEM_URL" "$(scenario quick "$API" /api/items)" \
        "$(scenario missing "$API" /nope)"
suite "$WORK/c.conf" quick,quik
ok $(( RC != 2 )) "(c) an unknown name: exit 2 (got $RC)"
grep -q "^perfwatchd: $WORK/c.conf has no \[scenario quik\], did you mean \"quick\"? (scenarios: quick, missing)$" "$ERR"
ok $? "(c) the error names it, with did you mean"
! grep -q "pre-flight" "$ERR" && [ ! -e "$WORK/c.db" ]
ok $? "(c) before anything: no pre-flight, no database"
suite "$WORK/c.conf" quick,
ok $(( RC != 2 )) "(c) an empty name: exit 2 (got $RC)"
grep -q "^perfwatchd: --run \"quick,\": name 2 of 2 is empty$" "$ERR"
ok $? "(c) and says so"

"$PERFWATCHD" --config "$WORK/c.conf" --no-preflight >/dev/null 2>"$ERR"; RC=$?
ok $(( RC != 2 )) "(c) --no-preflight without --run is a usage error (got $RC)"
grep -q "^perfwatchd: --duration and --json go with --run NAME, as --no-preflight with a list. " "$ERR"
ok $? "(c) and says so"

# (d) two short passing scenarios, in order.
conf "$WORK/d.conf" "$WORK/d.db" "$MEM_URL" "$(scenario second "$API" /api/items)" \
        "$(scenario first "$API" /api/items)" "$(scenario notfound "$API" /nope)"
suite "$WORK/d.conf" first,second --json
ok $(( RC != 0 )) "(d) a passing suite exits 0 (got $RC)"
[ "$(runs "$WORK/d.db")" = "first,second" ]
ok $? "(d) both runs recorded, in the order given ($(runs "$WORK/d.db"))"
[ "$(sqlite3 "$WORK/d.db" "SELECT group_concat(state) FROM runs")" = "completed,completed" ]
ok $? "(d) both completed"
d=$(sqlite3 "$WORK/d.db" "SELECT max(duration_ms) FROM runs")
[ "$d" -ge 1900 ] && [ "$d" -le 4000 ]
ok $? "(d) --duration 2s shortens each run of 30s (longest $d ms)"
[ "$(jq -r 'map(.scenario) | join(",")' <<<"$OUT")" = "first,second" ] &&
        [ "$(jq -r 'map(.id) | join(",")' <<<"$OUT")" = "$(sqlite3 "$WORK/d.db" 'SELECT group_concat(id) FROM runs')" ]
ok $? "(d) --json prints an array of the two run objects, with their ids"
grep -q "^perfwatchd: suite: first met, second met: exit 0$" "$ERR"
ok $? "(d) the suite line"
grep -q "^perfwatchd: suite: 2/2 second: met$" "$ERR"
ok $? "(d) a verdict line per scenario"

# (e) one of them answers 404.
suite "$WORK/d.conf" first,notfound,second
ok $(( RC != 1 )) "(e) a suite with a 404 scenario exits 1 (got $RC)"
grep -q "^perfwatchd: suite: first met, notfound not met, second met: exit 1$" "$ERR"
ok $? "(e) the suite line says which"
[ "$(runs "$WORK/d.db")" = "first,second,first,notfound,second" ]
ok $? "(e) the three runs recorded in order after those of (d)"
[ "$(grep -c "^  recorded as run [0-9]* in $WORK/d.db$" <<<"$OUT")" = 3 ]
ok $? "(e) without --json, the three summaries on stdout, each with its run id"

# (f) --no-preflight: the suite of (a) runs against the counting service.
: >"$SEEN"
suite "$WORK/a.conf" one,two --no-preflight
ok $(( RC != 0 )) "(f) --no-preflight runs the suite whose target is down (got $RC)"
grep -q "^perfwatchd: pre-flight: skipped (--no-preflight)$" "$ERR" && ! grep -q "pre-flight: target" "$ERR"
ok $? "(f) and says the checks were skipped"
[ "$(runs "$WORK/a.db")" = "one,two" ]
ok $? "(f) both runs recorded"
n=$(grep -c '^/api/items$' "$SEEN")
[ "$n" -ge 60 ] && [ "$n" -le 100 ]
ok $? "(f) the load reached the service ($n requests, 2 x 2 s at 20/s)"

# (g) SIGINT during the first run cancels it and ends the suite.
ERR=$WORK/daemon.suite-int.log
"$PERFWATCHD" --config "$WORK/d.conf" --run first,second --duration 20s >/dev/null 2>"$ERR" &
pid=$!
PIDS="$PIDS $pid"
wait_until 20 grep -q '^ *[0-9]*s  rate' "$ERR"
kill -INT "$pid"
wait_until 20 sh -c "! kill -0 $pid"
wait "$pid"; RC=$?
ok $(( RC != 2 )) "(g) SIGINT during a run ends the suite with exit 2 (got $RC)"
grep -q "^perfwatchd: suite: first no verdict, second not run: exit 2$" "$ERR"
ok $? "(g) the suite line says the rest was not run"
[ "$(sqlite3 "$WORK/d.db" "SELECT scenario || ' ' || state FROM runs ORDER BY id DESC LIMIT 1")" = "first cancelled" ]
ok $? "(g) the cancelled run is recorded, and no other after it"

done_testing
