#!/bin/bash
# Existing Locust suites (model = exec, issue 8) against the demo target:
# (a) perfwatchd --run of a Locust run imports exactly Locust's own request
# count, failure count and 95% (parsed here from its _stats.csv), says
# where its latencies come from, and records the run with its locust
# object; (b) a command that exits 1, (c) one that does not exist and (d)
# one that ignores SIGTERM each fail with a clear reason, (d) with its
# process group gone; (e) one master and two local workers give one
# imported result; (f) in the daemon, a run started through the API lands
# in the runs table and Locust's history as load.NAME.* series, and GET
# /v1/runs/ID shows Locust's figures; (g) perfwatchd stopped during a
# Locust run aborts it and stops Locust's process group.
. "$TOP_SRCDIR/tests/system/lib.sh"

LOCUST=$(command -v locust) || bail "locust is not installed (Debian: python3-locust)"
# The runs' directories (kept after a failed run) go under WORK, and with it.
export TMPDIR=$WORK
start_target
TA=http://127.0.0.1:$API_PORT
DB=$WORK/perfwatch.db
EXAMPLE=$TOP_SRCDIR/etc/examples/locustfile.py
sql() { sqlite3 -cmd '.timeout 5000' "$DB" "$@"; }

# A suite of the test's own: the shipped one's four behaviours, plus reads
# of an item that does not exist (404: Locust failures).
cat >"$WORK/failing.py" <<EOF
import importlib.util
from locust import task, constant
spec = importlib.util.spec_from_file_location("example", "$EXAMPLE")
example = importlib.util.module_from_spec(spec)
spec.loader.exec_module(example)

class FailingUser(example.ItemsUser):
    wait_time = constant(0.05)

    @task(2)
    def missing(self):
        self.client.get("/api/items/999999999", name="GET /api/items/missing")
EOF
mkdir -p "$WORK/a" "$WORK/e"
MPORT=$(free_port)
{
        printf '[daemon]\ndatabase = %s\nlisten = 127.0.0.1:%s\n' "$DB" "$(free_port)"
        printf '[criterion latency_p95]\nenabled = no\n'
        printf '[scenario loc]\nmodel = exec\nduration = 20s\ngrace = 30s\ncsv = %s/a/locust\n' "$WORK"
        printf 'command = %s -f %s --headless -u 10 -r 10 -t 4s --host %s --csv %s/a/locust --exit-code-on-error 0 --only-summary\n' \
                "$LOCUST" "$WORK/failing.py" "$TA" "$WORK"
        printf '[scenario long]\nmodel = exec\nduration = 2m\n'
        printf 'command = %s -f %s --headless -u 2 -r 2 -t 2m --host %s --csv ${run_dir}/locust\n' \
                "$LOCUST" "$EXAMPLE" "$TA"
        printf '[scenario exit1]\nmodel = exec\nduration = 10s\n'
        printf "command = sh -c 'echo working; echo giving up >&2; exit 1'\n"
        printf '[scenario missing]\nmodel = exec\nduration = 10s\ncommand = locust-not-installed -f x.py\n'
        printf '[scenario stubborn]\nmodel = exec\nduration = 1s\ngrace = 1s\n'
        printf "command = sh -c 'trap \"\" TERM; echo \$\$ > %s/stubborn.pid; sleep 1000'\n" "$WORK"
        printf '[scenario dist]\nmodel = exec\nduration = 30s\ngrace = 30s\ncsv = %s/e/locust\n' "$WORK"
        printf "command = sh -c '%s -f %s --worker --master-port %s & %s -f %s --worker --master-port %s & " \
                "$LOCUST" "$EXAMPLE" "$MPORT" "$LOCUST" "$EXAMPLE" "$MPORT"
        printf "exec %s -f %s --master --master-bind-host 127.0.0.1 --master-bind-port %s --expect-workers 2 " \
                "$LOCUST" "$EXAMPLE" "$MPORT"
        printf -- "--headless -u 6 -r 6 -t 4s --host %s --csv %s/e/locust --exit-code-on-error 0 --only-summary'\n" \
                "$TA" "$WORK"
} >"$WORK/run.conf"
"$PERFWATCHD" --config "$WORK/run.conf" --check-config >/dev/null
ok $? "the exec scenarios pass --check-config"

# run NAME: sets RC, OUT (the JSON) and ERR (stderr's file).
run() {
        ERR=$WORK/run-$1.log
        OUT=$(timeout 90 "$PERFWATCHD" --config "$WORK/run.conf" --run "$1" --json 2>"$ERR")
        RC=$?
}
j() { jq -r "$1" <<<"$OUT"; }
# csv FILE COLUMN: COLUMN of FILE's Aggregated row, parsed by Python's csv module.
csv() {
        "$PY" -c 'import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["Name"] == "Aggregated"]
print(rows[-1][sys.argv[2]])' "$1" "$2"
}

# (a) Locust's figures, imported.
run loc
diag "loc: exit $RC, $(j '{state, requests, ok, errors, reason, latency_source} | tostring')"
STATS=$WORK/a/locust_stats.csv
check "(a) a Locust run completes; --run exits 0 (got $RC)" test "$RC" = 0 -a "$(j .state)" = completed
check "(a) Locust wrote its _stats.csv" test -s "$STATS"
REQ=$(csv "$STATS" "Request Count"); FAIL=$(csv "$STATS" "Failure Count"); P95=$(csv "$STATS" "95%")
diag "Locust's CSV: $REQ requests, $FAIL failures, 95% $P95 ms"
check "(a) some requests, some failures ($REQ, $FAIL)" test "$REQ" -gt 20 -a "$FAIL" -gt 0
check "(a) requests = Locust's Request Count" test "$(j .requests)" = "$REQ"
check "(a) status errors = Locust's Failure Count" test "$(j .errors.status)" = "$FAIL"
check "(a) ok = requests - failures" test "$(j .ok)" = "$((REQ - FAIL))"
check "(a) the locust object's 95% = Locust's 95%" \
        test "$(j '.locust.percentiles_ms["95%"]')" = "$(jq -n "$P95")"
check "(a) and its requests and failures" test "$(j '"\(.locust.requests) \(.locust.failures)"')" = "$REQ $FAIL"
check "(a) the run says its latencies are Locust's, closed loop" \
        grep -q "closed loop.*not comparable with an open-model p95" <<<"$(j .latency_source)"
check "(a) no latency of perfwatchd's own" test "$(j .latency_ms.p95)" = null -o "$(j .latency_ms.p95)" = 0
check "(a) latency_p95 does not judge it" grep -q "latency_p95: not judged" "$ERR"
check "(a) Locust's output went to the log, prefixed" grep -q "scenario loc: .*Aggregated" "$ERR"
ID=$(j .id)
check "(a) the runs table holds it: completed, $REQ requests, $FAIL status errors" \
        test "$(sql "SELECT state || ' ' || requests || ' ' || err_status FROM runs WHERE id = $ID")" \
        = "completed $REQ $FAIL"
check "(a) with Locust's figures in its extra.locust" \
        test "$(sql "SELECT json_extract(extra, '\$.locust.requests') FROM runs WHERE id = $ID")" = "$REQ"
check "(a) and model exec" test "$(sql "SELECT model FROM runs WHERE id = $ID")" = exec
# removed_run_dir DIR NAME: DIR is TMPDIR/exec-NAME-XXXXXX, and gone.
removed_run_dir() { case $1 in "$WORK/exec-$2-"??????) test ! -e "$1" ;; *) false ;; esac; }
check "(a) its run directory $(j .locust.run_dir), under TMPDIR, removed after it completed" \
        removed_run_dir "$(j .locust.run_dir)" loc

OUT=$("$PERFWATCHD" --config "$WORK/run.conf" --run loc --duration 1s 2>&1); RC=$?
check "(a) --duration is refused for an exec scenario (exit $RC)" \
        test "$RC" = 2 -a "$OUT" = "perfwatchd: [scenario loc]: --duration does not apply to model = exec: the command's own options (Locust's -t) say how long it runs"

# (b) exit 1
run exit1
check "(b) exit 1: failed, --run exits 2 (got $RC)" test "$RC" = 2 -a "$(j .state)" = failed
check "(b) with the status and the last line: $(j .reason)" \
        test "$(j .reason)" = "the command exited with status 1: giving up"
check "(b) its locust object: exit_status 1" test "$(j .locust.exit_status)" = 1
check "(b) its run directory kept" test "$(j .locust.run_dir_kept)" = true -a -d "$(j .locust.run_dir)"

# (c) not found
run missing
check "(c) a command that does not exist: failed (got $RC)" test "$RC" = 2 -a "$(j .state)" = failed
check "(c) command not found: $(j .reason)" test "$(j .reason)" = "command not found: locust-not-installed"

# (d) SIGTERM ignored: killed after duration 1s + grace 1s, SIGKILL 5s later.
start=$SECONDS
run stubborn
took=$((SECONDS - start))
check "(d) ignoring SIGTERM: failed (got $RC)" test "$RC" = 2 -a "$(j .state)" = failed
check "(d) reason: $(j .reason)" \
        test "$(j .reason)" = "the command did not stop within 1s of its duration 1s; killed (SIGKILL after SIGTERM)"
check "(d) after about 7s (took ${took}s)" test "$took" -ge 6 -a "$took" -le 15
PG=$(cat "$WORK/stubborn.pid" 2>/dev/null)
# A zombie waiting for its reaper is gone: only live members count.
group_gone() { test -n "$PG" && ! ps -e -o pgid=,stat= | awk -v g="$PG" '$1 == g && $2 !~ /^Z/' | grep -q .; }
wait_until 5 group_gone
check "(d) its process group $PG is gone (sh and sleep)" group_gone

# (e) one master, two local workers: one result.
run dist
diag "dist: exit $RC, $(j '{state, requests, reason} | tostring')"
ESTATS=$WORK/e/locust_stats.csv
check "(e) master + 2 workers: completed (got $RC)" test "$RC" = 0 -a "$(j .state)" = completed
check "(e) the master waited for its 2 workers" grep -q "scenario dist: .*2 workers connected" "$ERR"
check "(e) one imported result: Locust's Request Count $(csv "$ESTATS" "Request Count")" \
        test "$(j .requests)" = "$(csv "$ESTATS" "Request Count")" -a "$(j .requests)" -gt 0

# (f) the daemon: a run through the API, its history as series.
TOKEN=tok-$RANDOM$RANDOM
printf '%s\n' "$TOKEN" >"$WORK/token"
chmod 0600 "$WORK/token"
PW_PORT=$(sed -n 's/^listen = 127.0.0.1://p' "$WORK/run.conf")
sed "/^\[daemon\]/a api_token_file = $WORK/token" "$WORK/run.conf" >"$WORK/daemon.conf"
start_daemon "$WORK/daemon.conf"
ID=$(curl -s --max-time 5 -X POST -H "Authorization: Bearer $TOKEN" "$PW/v1/scenarios/loc/run" | jq -r .id)
check "(f) the daemon starts the Locust run (run $ID)" test -n "$ID" -a "$ID" != null
wait_until 60 sh -c "curl -s '$PW/v1/runs/$ID' | jq -e '.state != \"running\"' >/dev/null"
R=$(curl -s "$PW/v1/runs/$ID")
diag "daemon run: $(jq -c '{state, requests, reason}' <<<"$R")"
check "(f) completed, Locust's requests" \
        test "$(jq -r '"\(.state) \(.requests)"' <<<"$R")" = "completed $(csv "$STATS" "Request Count")"
check "(f) its extra.locust holds the 95%" \
        test "$(jq -r '.extra.locust.percentiles_ms["95%"]' <<<"$R")" = "$(jq -n "$(csv "$STATS" "95%")")"
ROWS=$("$PY" -c 'import csv, sys
print(sum(1 for r in csv.DictReader(open(sys.argv[1])) if r["Name"] == "Aggregated"))' "$WORK/a/locust_stats_history.csv")
wait_until 10 sh -c "curl -s '$PW/v1/series?metric=load.loc.rps&from=now-10m' | jq -e '.points | length >= $ROWS' >/dev/null"
FIRST=$(head -2 "$WORK/a/locust_stats_history.csv" | tail -1 | cut -d, -f1)
check "(f) load.loc.rps has one point per history row ($ROWS)" \
        test "$(jget "$PW/v1/series?metric=load.loc.rps&from=now-10m" '.points | length')" = "$ROWS"
check "(f) at the CSV's timestamps (first $FIRST)" \
        test "$(jget "$PW/v1/series?metric=load.loc.rps&from=now-10m" '.points[0][0]')" = "$((FIRST * 1000))"
check "(f) the daemon logged Locust's output with its scenario" grep -q "scenario loc: " "$DAEMON_LOG"
check "(f) GET /v1/runs/$ID shows the locust object and the latency source" \
        test "$(jq -r '"\(.locust.requests) \(.latency_source | test("closed loop"))"' <<<"$R")" = "$(jq -r .requests <<<"$R") true"
TXT=$(curl -s "$PW/v1/runs/$ID?format=text")
diag "$(head -5 <<<"$TXT")"
check "(f) and ?format=text Locust's percentiles" grep -q "Locust's, rounded" <<<"$TXT"

# (g) perfwatchd stopped during a Locust run: the run is aborted, Locust's
# process group stopped with it.
ID=$(curl -s --max-time 5 -X POST -H "Authorization: Bearer $TOKEN" "$PW/v1/scenarios/long/run" | jq -r .id)
wait_until 10 grep -q "scenario long: started .* (pid [0-9]*)" "$DAEMON_LOG"
PG=$(sed -n 's/.*scenario long: started .* (pid \([0-9]*\)).*/\1/p' "$DAEMON_LOG" | head -1)
wait_until 10 grep -q "scenario long: .*Ramping to 2 users\|scenario long: .*All users spawned" "$DAEMON_LOG"
group_running() { test -n "$PG" && ! group_gone; }
check "(g) Locust runs in its own process group $PG" group_running
start=$SECONDS
stop_daemon
diag "stopped in $((SECONDS - start))s"
check "(g) SIGTERM during the run: perfwatchd exits within 15s" test $((SECONDS - start)) -le 15
check "(g) the run is aborted" test "$(sql "SELECT state FROM runs WHERE id = $ID")" = aborted
wait_until 5 group_gone
check "(g) and Locust's process group is gone" group_gone
done_testing
