#!/bin/bash
# A [suite] in the daemon: (a) POST /v1/suites/pair/run runs its two
# scenarios in order against the demo target, each recorded with
# extra.suite and extra.trigger; GET /v1/suites shows it completed with
# both run ids in order, its pre-flight checks and the combined verdict
# (latency_p95 judges the first scenario); 409 for a second POST, and for
# a scenario's POST, while it is active; (b) a suite whose second
# scenario's base_url is down fails its pre-flight: no run row, the live
# service saw only the pre-flight's GET /, the reason in GET /v1/suites,
# the log and STATUS=; (c) a base_url that never answers holds the
# pre-flight for its 3 s timeout while /v1/status still answers in
# milliseconds; (d) cancelling the active run ends the suite cancelled;
# (e) 404 for an unknown suite, 401 without the token; ?format=text;
# SIGTERM during a suite's run ends both aborted, during a waiting
# pre-flight check the suite (within the check's timeout); STATUS= names
# the running suite and a failure's reason; (g) a suite's schedule
# and a scenario's due at the same minute: one starts, the other is
# skipped and counted, and a second daemon's suite alone runs by its
# schedule at that minute, to completion; (f) --check-config names bad [suite] lines with
# FILE:LINE.
. "$TOP_SRCDIR/tests/system/lib.sh"

TOKEN=tok-$RANDOM$RANDOM-suite
TF=$WORK/api-token
printf '%s\n' "$TOKEN" >"$TF"
chmod 0600 "$TF"

start_target
TA=http://127.0.0.1:$API_PORT
DEAD=$(free_port)

# A service that counts what reaches it: one line per request, its path.
COUNT_PORT=$(free_port)
SEEN=$WORK/seen.log
$PY "$TOP_SRCDIR/tests/system/count-requests.py" "$COUNT_PORT" "$SEEN" >"$WORK/counter.log" 2>&1 &
PIDS="$PIDS $!"
wait_until 20 curl -sf "http://127.0.0.1:$COUNT_PORT/ready" || bail "the counting service did not start"
: >"$SEEN"

# A black hole: it listens (the kernel completes the handshake) but never
# reads nor answers, so a request to it waits for its timeout.
HOLE_PORT=$(free_port)
$PY - "$HOLE_PORT" >"$WORK/hole.log" 2>&1 <<'PYEOF' &
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(64)
time.sleep(600)
PYEOF
PIDS="$PIDS $!"
wait_until 10 $PY -c "import socket,sys; socket.create_connection(('127.0.0.1', $HOLE_PORT), 1)" ||
        bail "the black hole did not start"

write_config "$WORK/pw.conf" \
        "[scenario one]" "base_url = $TA" "rate = 100/s" "duration = 3s" "timeout = 2s" "request = GET /api/items" \
        "[scenario two]" "base_url = $TA" "rate = 50/s" "duration = 2s" "timeout = 2s" "request = GET /api/items" \
        "[scenario long]" "base_url = $TA" "rate = 20/s" "duration = 60s" "timeout = 2s" "request = GET /api/items" \
        "[scenario live]" "base_url = http://127.0.0.1:$COUNT_PORT" "rate = 20/s" "duration = 2s" "request = GET /load" \
        "[scenario dead]" "base_url = http://127.0.0.1:$DEAD" "rate = 20/s" "duration = 2s" "request = GET /load" \
        "[scenario hole]" "base_url = http://127.0.0.1:$HOLE_PORT" "rate = 20/s" "duration = 2s" "request = GET /" \
        "[suite pair]" "scenarios = one, two" \
        "[suite down]" "scenarios = live, dead" \
        "[suite slow]" "scenarios = hole" \
        "[suite cancel]" "scenarios = long, one" "preflight = no" \
        "[criterion latency_p95]" "scenario = one" "min_requests = 100" "max_age = 10m"
sed -i "/^\[daemon\]/a api_token_file = $TF" "$WORK/pw.conf"
sock=$WORK/notify.sock
msgs=$WORK/notify.txt
$PY "$TOP_SRCDIR/tests/system/notify-listen.py" "$sock" "$msgs" &
PIDS="$PIDS $!"
wait_until 10 test -S "$sock" || bail "notify listener did not start"
NOTIFY_SOCKET=$sock start_daemon "$WORK/pw.conf"
sql() { sqlite3 -cmd '.timeout 5000' "$WORK/perfwatch.db" "$@"; }
post() {        # post PATH [TOKEN]: the status of a POST
        curl -s -o "$WORK/post.body" -w '%{http_code}' --max-time 5 -X POST \
                ${2:+-H "Authorization: Bearer $2"} "$PW$1"
}
suite() { jget "$PW/v1/suites" ".suites[] | select(.name == \"$1\") | $2"; }
suite_is() { [ "$(suite "$1" .last_run.state)" = "$2" ]; }
suite_over() { local s; s=$(suite "$1" .last_run.state); [ -n "$s" ] && [ "$s" != running ] && [ "$s" != null ]; }

# --- (e) the token and unknown names
check "POST /v1/suites/pair/run without a token: 401" test "$(post /v1/suites/pair/run)" = 401
check "an unknown suite: 404" test "$(post /v1/suites/nope/run "$TOKEN")" = 404
check "and the 404 says so" test "$(jq -r .error.message "$WORK/post.body")" = 'suite "nope" is not configured'
check "no run was started" test "$(sql 'SELECT count(*) FROM runs')" = 0
check "GET /v1/suites lists the four suites in file order" \
        test "$(jget "$PW/v1/suites" '[.suites[].name] | join(",")')" = "pair,down,slow,cancel"
check "each with its scenarios, no schedule, no last run" \
        test "$(suite pair '"\(.scenarios | join(",")) \(.schedule) \(.next_run_at) \(.runs_skipped) \(.last_run)"')" \
        = "one,two null null 0 null"

# --- (a) a passing suite
H=$(curl -si --max-time 5 -X POST -H "Authorization: Bearer $TOKEN" "$PW/v1/suites/pair/run" | tr -d '\r')
diag "$(head -1 <<<"$H")"
check "POST /v1/suites/pair/run: 202" grep -q '^HTTP/1.1 202' <<<"$H"
check "with Location: /v1/suites/pair" grep -qix 'Location: /v1/suites/pair' <<<"$H"
check "a second POST while it is active: 409" test "$(post /v1/suites/pair/run "$TOKEN")" = 409
check "a scenario's POST while it is active: 409" test "$(post /v1/scenarios/two/run "$TOKEN")" = 409
check "saying a suite is active" grep -q 'suite' <<<"$(jq -r .error.message "$WORK/post.body")"
check "GET /v1/suites/pair says running" test "$(jget "$PW/v1/suites/pair" .last_run.state)" = running
check "the suite ends within 30 s" wait_until 30 suite_over pair
J=$(jget "$PW/v1/suites" '.suites[] | select(.name == "pair") | .last_run')
diag "$(jq -c '{state, reason, run_ids, verdict, preflight: .preflight.state}' <<<"$J")"
check "it completed" test "$(jq -r .state <<<"$J")" = completed
IDS=$(sql "SELECT group_concat(id) FROM (SELECT id FROM runs ORDER BY id)")
ORDER=$(sql "SELECT group_concat(scenario) FROM (SELECT scenario FROM runs ORDER BY id)")
check "two runs recorded, one then two ($ORDER)" test "$ORDER" = "one,two"
check "both completed" test "$(sql "SELECT group_concat(state) FROM (SELECT state FROM runs ORDER BY id)")" \
        = "completed,completed"
check "run_ids are the runs' ids in order ($IDS)" test "$(jq -r '.run_ids | join(",")' <<<"$J")" = "$IDS"
ID1=${IDS%%,*}
ID2=${IDS##*,}
check "each run's extra names the suite, its place and trigger" \
        test "$(jget "$PW/v1/runs/$ID2" '"\(.extra.suite.name) \(.extra.suite.position)/\(.extra.suite.of) \(.extra.trigger)"')" \
        = "pair 2/2 api"
check "with the suite's start time, the same for both" \
        test "$(jget "$PW/v1/runs/$ID1" .extra.suite.started_at)" = "$(jget "$PW/v1/runs/$ID2" .extra.suite.started_at)"
check "which is the suite's started_at" test "$(jget "$PW/v1/runs/$ID1" .extra.suite.started_at)" \
        = "$(jq -r .started_at <<<"$J")"
check "its pre-flight passed: the target's /memory and one base_url per scenario (same URL: two checks)" \
        test "$(jq -r '"\(.preflight.state) \([.preflight.checks[].ok] | join(","))"' <<<"$J")" = "passed true,true,true"
check "the pre-flight names what it checked" \
        test "$(jq -r '.preflight.checks[1].check' <<<"$J")" = "scenario one base_url $TA/"
verdict_met() { [ "$(suite pair '.last_run.verdict + " " + .last_run.scenarios[0].verdict')" = "met met" ]; }
check "combined verdict met: latency_p95 judged run $ID1 met" wait_until 10 verdict_met
J=$(jget "$PW/v1/suites" '.suites[] | select(.name == "pair") | .last_run')
check "scenario one: latency_p95 met about run $ID1" \
        test "$(jq -r '.scenarios[0] | "\(.name) \(.run) \(.state) \(.criteria[0].name) \(.criteria[0].state) \(.criteria[0].run)"' <<<"$J")" \
        = "one $ID1 completed latency_p95 met $ID1"
check "scenario two: no criterion judges it, no verdict" \
        test "$(jq -r '.scenarios[1] | "\(.name) \(.run) \(.verdict) \(.criteria | length)"' <<<"$J")" = "two $ID2 null 0"
check "STATUS= named the suite and its scenario while it ran" grep -qE '^STATUS=suite pair [12]/2 (one|two); run [0-9]+ ' "$msgs"
T=$(curl -s --max-time 5 "$PW/v1/suites?format=text")
diag "$(head -3 <<<"$T")"
check "?format=text: a table row with the run ids and the verdict" \
        grep -qE "^pair +- +- +completed +$IDS +met +0 +-$" <<<"$T"

# --- (b) the pre-flight fails: nothing is run
N=$(sql 'SELECT count(*) FROM runs')
: >"$SEEN"
check "POST /v1/suites/down/run: 202" test "$(post /v1/suites/down/run "$TOKEN")" = 202
check "the suite ends within 15 s" wait_until 15 suite_over down
J=$(jget "$PW/v1/suites" '.suites[] | select(.name == "down") | .last_run')
diag "$(jq -c '{state, reason, verdict}' <<<"$J")"
check "it failed" test "$(jq -r .state <<<"$J")" = failed
check "with the check's reason" grep -q "^pre-flight: 1 check failed, nothing was run: scenario dead base_url http://127.0.0.1:$DEAD/: .*[Cc]onnect" <<<"$(jq -r .reason <<<"$J")"
check "the failed check in preflight.checks" \
        test "$(jq -r '.preflight | "\(.state) \(.checks[2].ok) \(.checks[2].reason | type)"' <<<"$J")" = "failed false string"
check "no run row" test "$(sql 'SELECT count(*) FROM runs')" = "$N"
check "no run ids, combined verdict unknown" test "$(jq -r '"\(.run_ids | length) \(.verdict)"' <<<"$J")" = "0 unknown"
check "the live service saw only the pre-flight's GET / ($(paste -sd' ' "$SEEN"))" test "$(paste -sd' ' "$SEEN")" = "/"
check "the log says why" grep -q "suite down failed: pre-flight: 1 check failed" "$DAEMON_LOG"
check "and the log names the check" grep -q "suite down: pre-flight: scenario dead base_url .*: failed: " "$DAEMON_LOG"
check "and STATUS= says it" wait_until 5 grep -q "^STATUS=suite down failed: pre-flight: 1 check failed, nothing was run: scenario dead base_url" "$msgs"

# --- (c) the pre-flight waits for a black hole; the loop does not
check "POST /v1/suites/slow/run: 202" test "$(post /v1/suites/slow/run "$TOKEN")" = 202
worst=0
for i in $(seq 15); do
        ms=$(curl -s -o /dev/null -w '%{time_total}' --max-time 5 "$PW/v1/status" | awk '{ printf "%d", $1 * 1000 }')
        [ "$ms" -gt "$worst" ] && worst=$ms
        sleep 0.1
done
running=$(suite slow .last_run.state)
diag "slowest /v1/status during the pre-flight: $worst ms (suite $running)"
check "the pre-flight is still waiting after 2 s (its timeout is 3 s)" test "$running" = running
check "/v1/status answers within 100 ms during it ($worst ms)" test "$worst" -lt 100
check "STATUS-like: GET /v1/suites shows the pre-flight running" \
        test "$(suite slow .last_run.preflight.state)" = running
check "it ends failed within 10 s" wait_until 10 suite_is slow failed
check "with the timeout as reason" grep -qi "timed out\|timeout" <<<"$(suite slow .last_run.reason)"

# --- (d) cancel the active run of a suite
N=$(sql 'SELECT count(*) FROM runs')
check "POST /v1/suites/cancel/run (preflight = no): 202" test "$(post /v1/suites/cancel/run "$TOKEN")" = 202
first_run() { [ "$(suite cancel '.last_run.run_ids | length')" = 1 ]; }
check "its first run starts at once" wait_until 5 first_run
RID=$(suite cancel '.last_run.run_ids[0]')
check "its pre-flight was skipped" test "$(suite cancel .last_run.preflight.state)" = skipped
check "POST /v1/runs/$RID/cancel: 202" test "$(post "/v1/runs/$RID/cancel" "$TOKEN")" = 202
check "the suite ends cancelled within 10 s" wait_until 10 suite_is cancel cancelled
check "saying which run, and that the rest did not run" \
        test "$(suite cancel .last_run.reason)" = "run $RID of long was cancelled; the scenarios after it did not run"
check "one run row only" test "$(sql 'SELECT count(*) FROM runs')" = "$((N + 1))"
check "the scenario after it has no run" test "$(suite cancel '.last_run.scenarios[1] | "\(.run) \(.verdict)"')" = "null unknown"
check "a scenario's POST works again once the suite is over" test "$(post /v1/scenarios/two/run "$TOKEN")" = 202

# --- SIGTERM during a suite's run: the run and the suite end aborted
started() { [ "$(post /v1/suites/cancel/run "$TOKEN")" = 202 ]; }
check "the suite starts again once that run is over" wait_until 10 started
check "its first run starts at once" wait_until 5 first_run
RID=$(suite cancel '.last_run.run_ids[0]')
sleep 1
stop_daemon
ok $? "perfwatchd exits 0 at SIGTERM during the suite"
check "the run ended aborted" test "$(sql "SELECT state FROM runs WHERE id = $RID")" = aborted
check "and the log says the suite was aborted, and why" \
        grep -q "suite cancel aborted: run $RID of long was aborted: perfwatchd was stopped; the scenarios after it did not run" "$DAEMON_LOG"

# --- SIGTERM during a pre-flight check that waits: the daemon waits for
# the check's thread (bounded by the check's 3 s timeout), the suite ends
# aborted, and no run starts.
NOTIFY_SOCKET=$sock start_daemon "$WORK/pw.conf"
N=$(sql 'SELECT count(*) FROM runs')
check "POST /v1/suites/slow/run after a restart: 202" test "$(post /v1/suites/slow/run "$TOKEN")" = 202
sleep 0.5
t0=$(date +%s%N)
stop_daemon
ok $? "perfwatchd exits 0 at SIGTERM during the pre-flight"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "within the check's timeout and a margin ($ms ms)" test "$ms" -lt 6000
check "the log says the suite was aborted during its checks" \
        grep -q "suite slow aborted: perfwatchd was stopped during the pre-flight checks" "$DAEMON_LOG"
check "no run started" test "$(sql 'SELECT count(*) FROM runs')" = "$N"

# --- (g) schedules: a suite and a scenario both due at the next minute.
# Whichever fires first starts; the other finds it active, is skipped
# and counted (a scenario's schedule during a suite, or a suite's during
# a run).
write_config "$WORK/sched.conf" \
        "[scenario tick]" "base_url = $TA" "rate = 20/s" "duration = 5s" "timeout = 2s" "request = GET /api/items" \
        "schedule = * * * * *" \
        "[scenario one]" "base_url = $TA" "rate = 50/s" "duration = 5s" "timeout = 2s" "request = GET /api/items" \
        "[suite every]" "scenarios = one" "schedule = * * * * *"
rm -f "$WORK/perfwatch.db"*
# Daemon B, on a database and port of its own, has the suite alone on
# that schedule: it runs by its schedule at the same minute (one minute's
# wait for both cases).
PORT_B=$(free_port)
sed -e "s|^database = .*|database = $WORK/b.db|" -e "s|^listen = .*|listen = 127.0.0.1:$PORT_B|" \
    -e '/^\[scenario tick\]/,/^\[/ s/^schedule = .*/;&/' "$WORK/sched.conf" >"$WORK/b.conf"
PW_PORT=$PORT_B start_daemon "$WORK/b.conf"; PID_B=$PW_PID; PW_B=$PW
start_daemon "$WORK/sched.conf"
before=$(date +%s)
next=$(suite every .next_run_at)
after=$(date +%s)
# NB: a minute may turn between the two clock reads.
check "the suite's next_run_at is the next minute ($next)" \
        grep -qxE "$(( (before / 60 + 1) * 60 ))|$(( (after / 60 + 1) * 60 ))" <<<"$(date -d "$next" +%s)"
fired() { [ "$(sql 'SELECT count(*) FROM runs')" -ge 1 ]; }
check "one of them starts at the minute" wait_until 70 fired
sleep 1
first=$(sql "SELECT scenario || ' ' || (extra ->> 'trigger') || ' ' || coalesce(extra ->> '\$.suite.name', '-') FROM runs ORDER BY id LIMIT 1")
skips="$(suite every .runs_skipped) $(jget "$PW/v1/scenarios" '.scenarios[] | select(.name == "tick") | .runs_skipped')"
diag "first run: $first; skipped (suite, scenario): $skips"
case $first in
"one schedule every") want="0 1" ;;
"tick schedule -") want="1 0" ;;
*) want="?" ;;
esac
check "the first run is the suite's (one, extra.suite every) or the scenario's, by its schedule" test "$want" != "?"
check "and the other was skipped and counted ($skips)" test "$skips" = "$want"
check "only one run started" test "$(sql 'SELECT count(*) FROM runs')" = 1
check "the log says why it was skipped" grep -qE "\[(suite every|scenario tick)\] schedule: skipped: (suite every|run [0-9]+) is (still )?active" "$DAEMON_LOG"
# A reload without the scenario's schedule keeps the suite's skip count.
sed 's/^schedule = \* \* \* \* \*$/;&/; /^\[suite every\]/,$ s/^;schedule/schedule/' "$WORK/sched.conf" >"$WORK/sched2.conf"
cp "$WORK/sched2.conf" "$WORK/sched.conf"
kill -HUP "$PW_PID"
unscheduled() { [ "$(jget "$PW/v1/scenarios" '.scenarios[] | select(.name == "tick") | .schedule')" = null ]; }
check "after a reload the scenario has no schedule" wait_until 10 unscheduled
check "and the suite keeps its skip count ($want)" test "$(suite every .runs_skipped)" = "${want%% *}"
stop_daemon
ok $? "perfwatchd exits 0 at SIGTERM"
# Daemon B: the suite alone ran by its schedule at that minute.
by_schedule() { [ "$(jget "$PW_B/v1/suites" '.suites[] | select(.name == "every") | .last_run.trigger + " " + .last_run.state')" = "schedule completed" ]; }
check "(B) the suite runs by its schedule at the minute, to completion" wait_until 30 by_schedule
SID=$(jget "$PW_B/v1/suites" '.suites[] | select(.name == "every") | .last_run.run_ids[0]')
check "(B) its run ($SID) says so in its extra" \
        test "$(sqlite3 -cmd '.timeout 5000' "$WORK/b.db" "SELECT (extra ->> 'trigger') || ' ' || (extra ->> '\$.suite.name') || ' ' || scenario FROM runs WHERE id = $SID")" \
        = "schedule every one"
kill -TERM "$PID_B"
wait "$PID_B"
ok $? "(B) perfwatchd exits 0 at SIGTERM"

# --- (f) --check-config
printf '[scenario peak]\nbase_url = %s\nrate = 1/s\nduration = 1s\nrequest = GET /\n[suite seed]\nscenarios = peak, paek\nschedule = 0 25 * * *\npreflight = maybe\n' \
        "$TA" >"$WORK/bad.conf"
out=$("$PERFWATCHD" --check-config --config "$WORK/bad.conf" 2>&1); rc=$?
diag "$out"
check "--check-config of bad [suite] lines exits 1" test "$rc" = 1
check "an unknown scenario, FILE:LINE, with did you mean" \
        grep -qF "$WORK/bad.conf:7: [suite seed] scenarios: no [scenario paek] section, did you mean \"peak\"? (one of: peak)" <<<"$out"
check "a bad cron expression, FILE:LINE" grep -qF "$WORK/bad.conf:8: [suite seed] schedule: \"0 25 * * *\" hour: 25 is out of range 0-23" <<<"$out"
check "a bad boolean, FILE:LINE" grep -qF "$WORK/bad.conf:9: [suite seed] preflight: \"maybe\"" <<<"$out"

sanitizer_clean
done_testing
