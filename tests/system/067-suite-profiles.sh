#!/bin/bash
# Profiles tied to a run in terminal mode (issue 8, point 8): perfwatchd
# --run prof,plain where [scenario prof] has `target = app`.  (a) prof's
# run gets a heap profile before it, one after it and a CPU profile during
# it (cut to what --duration leaves after the ramp-up), each openable by go
# tool pprof, and the /memory figures before and after, in its stored
# extra.profiles, its --json object and its text summary; plain gets none,
# and starts only once prof's profiles are written.  (b) A target whose
# pprof port is closed: null ids, each with its reason, and the suite's
# verdict unchanged.  (c) SIGINT while waiting for captures that hang:
# the wait stops, what is in is written, and the suite ends there.
. "$TOP_SRCDIR/tests/system/lib.sh"

command -v go >/dev/null || bail "go is not installed (go tool pprof is needed)"
export PPROF_TMPDIR=$WORK HOME=$WORK GOCACHE=$WORK/gocache GOFLAGS=-mod=mod GOPROXY=off

start_target
API=http://127.0.0.1:$API_PORT
PPROF=http://127.0.0.1:$PPROF_PORT/debug/pprof

# conf FILE DATABASE PPROF_URL [TARGET_TIMEOUT]
conf() {
        {
                printf '[daemon]\ndatabase = %s\n\n' "$2"
                printf '[target app]\nmemory_url = %s\npprof_url = %s\ntimeout = %s\n\n' "$MEM_URL" "$3" "${4:-2s}"
                printf '[scenario prof]\nmodel = closed\nbase_url = %s\nusers = 4\nthink = 20ms\nramp_up = 1s\n' "$API"
                printf 'duration = 30s\ntimeout = 2s\nrequest = GET /api/items\ntarget = app\ncpu_seconds = 10s\n\n'
                printf '[scenario plain]\nbase_url = %s\nrate = 20/s\nduration = 30s\ntimeout = 2s\n' "$API"
                printf 'request = GET /api/items\n'
        } >"$1"
}
# suite CONFIG [ARGS...]: prof,plain shortened to 4 s, --json; sets RC,
# OUT (stdout) and ERR (stderr's file).
suite() {
        local f=$1; shift
        ERR=$WORK/suite.$RANDOM.log
        OUT=$(timeout 120 "$PERFWATCHD" --config "$f" --run prof,plain --duration 4s --json "$@" 2>"$ERR")
        RC=$?
}
show() { sed 's/^/#   /' "$ERR" | grep -v '^#   *[0-9]*s  rate' | head -60; }

# ------------------------------------------------------------ (a) the profiles
DB=$WORK/a.db
conf "$WORK/a.conf" "$DB" "$PPROF"
suite "$WORK/a.conf"
sql() { sqlite3 -cmd '.timeout 5000' "$DB" "$@"; }
ok $(( RC != 0 )) "(a) the suite passes: exit 0 (got $RC)" || show
check "(a) the suite line" grep -qx "perfwatchd: suite: prof met, plain met: exit 0" "$ERR"
ID=$(jq -r '.[0].id' <<<"$OUT")
ID2=$(jq -r '.[1].id' <<<"$OUT")
P=$(jq -c '.[0].profiles' <<<"$OUT")
diag "prof's profiles (--json): $P"
check "(a) the runs are recorded ($ID, $ID2)" \
        test "$(sql 'SELECT group_concat(id || scenario) FROM (SELECT * FROM runs ORDER BY id)')" = "${ID}prof,${ID2}plain"
check "(a) --json's profiles are the run's stored extra.profiles" \
        test "$(jq -cS . <<<"$P")" = "$(sql "SELECT json_extract(extra, '\$.profiles') FROM runs WHERE id = $ID" | jq -cS .)"
check "(a) no capture failed" test "$(jq -r '.errors // {} | length' <<<"$P")" = 0
check "(a) the target, and cpu_seconds cut to what --duration 4s leaves after the 1 s ramp-up" \
        test "$(jq -r '"\(.target) \(.cpu_seconds)"' <<<"$P")" = "app 3"
HB=$(jq -r .heap_before <<<"$P")
HA=$(jq -r .heap_after <<<"$P")
CPU=$(jq -r .cpu <<<"$P")
check "(a) heap_before, heap_after and cpu are three profile ids" \
        test "$(printf '%s\n' "$HB" "$HA" "$CPU" | grep -E '^[0-9]+$' | sort -u | wc -l)" = 3
kinds() { for id in "$@"; do sql "SELECT target || ':' || kind FROM profiles WHERE id = $id"; done | paste -sd' '; }
check "(a) of kinds heap, heap, cpu of target app" test "$(kinds "$HB" "$HA" "$CPU")" = "app:heap app:heap app:cpu"
START=$(sql "SELECT started_at FROM runs WHERE id = $ID")
END=$(sql "SELECT ended_at FROM runs WHERE id = $ID")
TB=$(sql "SELECT ts FROM profiles WHERE id = $HB")
TA=$(sql "SELECT ts FROM profiles WHERE id = $HA")
TC=$(sql "SELECT ts || ' ' || duration_ms FROM profiles WHERE id = $CPU")
diag "run $START..$END, heap_before at $TB, heap_after at $TA, cpu at/for $TC"
check "(a) heap_before was taken no later than the run's start" test "$TB" -le "$START"
check "(a) heap_after was taken no earlier than the run's end" test "$TA" -ge "$END"
check "(a) the CPU profile began after the 1 s ramp-up" test "${TC% *}" -ge $((START + 1000))
check "(a) and lasted about its 3 s" test "${TC#* }" -ge 2900 -a "${TC#* }" -lt 5000
for what in heap_before heap_after cpu; do
        id=$(jq -r ".$what" <<<"$P")
        sql "SELECT writefile('$WORK/$what.pb.gz', data) FROM profiles WHERE id = $id" >/dev/null
        timeout 60 go tool pprof -top "$WORK/$what.pb.gz" >"$WORK/$what.txt" 2>"$WORK/$what.err"
        ok $? "(a) go tool pprof -top opens $what (profile $id, read from the store)"
        grep -q 'flat%' "$WORK/$what.txt" || sed 's/^/# /' "$WORK/$what.err"
done
timeout 60 go tool pprof -top -diff_base "$WORK/heap_before.pb.gz" "$WORK/heap_after.pb.gz" >"$WORK/diff.txt" \
        2>"$WORK/diff.err"
ok $? "(a) go tool pprof -diff_base compares heap_before with heap_after"
AT_B=$(jq -r '.memory_before.at | fromdateiso8601' <<<"$P")
AT_A=$(jq -r '.memory_after.at | fromdateiso8601' <<<"$P")
check "(a) memory_before was polled no later than the run's start" test "$AT_B" -le $((START / 1000))
check "(a) memory_after was polled no earlier than the run's end" test "$AT_A" -ge $((END / 1000))
for m in memory_before memory_after; do
        check "(a) $m carries Sys and HeapAlloc as numbers above 0, with its time" \
                test "$(jq -r ".$m | [.Sys > 0, .HeapAlloc > 0, (.at | type)] | map(tostring) | join(\" \")" <<<"$P")" \
                = "true true string"
done
check "(a) memory_after counts the run's allocations: TotalAlloc grew" \
        test "$(jq -r '.memory_after.TotalAlloc > .memory_before.TotalAlloc' <<<"$P")" = true
check "(a) the summary names the profiles as GET /v1/runs/ID?format=text does" \
        grep -qxF "Profiles of app: heap_before $HB cpu $CPU heap_after $HA" "$ERR"
check "(a) and the heap diff command" \
        grep -qxF "Heap diff: go tool pprof -top -diff_base /v1/profiles/$HB /v1/profiles/$HA" "$ERR"
check "(a) and Sys and HeapAlloc before and after" \
        grep -qE '^Memory of app: Sys [0-9]+ -> [0-9]+ HeapAlloc [0-9]+ -> [0-9]+$' "$ERR"
check "(a) plain's run object has no profiles" test "$(jq -r '.[1] | has("profiles")' <<<"$OUT")" = false
check "(a) nor has its stored run" test "$(sql "SELECT json_type(extra, '\$.profiles') IS NULL FROM runs WHERE id = $ID2")" = 1
check "(a) one summary names profiles, one waits for them" \
        test "$(grep -c '^Profiles of ' "$ERR") $(grep -c "waiting for the run's profiles" "$ERR")" = "1 1"
START2=$(sql "SELECT started_at FROM runs WHERE id = $ID2")
check "(a) plain started once prof's heap_after was in (at $TA, plain at $START2)" test "$START2" -gt "$TA"
check "(a) no profile was stored but the three" test "$(sql 'SELECT count(*) FROM profiles')" = 3

# ------------------------------------------------------------ (b) pprof down
CLOSED=$(free_port)
DB=$WORK/b.db
conf "$WORK/b.conf" "$DB" "http://127.0.0.1:$CLOSED/debug/pprof"
suite "$WORK/b.conf"
ok $(( RC != 0 )) "(b) a target whose pprof port is closed: the suite still passes, exit 0 (got $RC)" || show
check "(b) the suite line is unchanged" grep -qx "perfwatchd: suite: prof met, plain met: exit 0" "$ERR"
P=$(jq -c '.[0].profiles' <<<"$OUT")
ID=$(jq -r '.[0].id' <<<"$OUT")
diag "prof's profiles (--json): $P"
check "(b) no profile id" test "$(jq -r '[.heap_before, .heap_after, .cpu] | map(tostring) | join(" ")' <<<"$P")" \
        = "null null null"
for what in heap_before heap_after cpu; do
        check "(b) errors.$what says the connection failed" \
                grep -q '^connect failed' <<<"$(jq -r ".errors.$what" <<<"$P")"
done
check "(b) as does the stored run" \
        test "$(sql "SELECT json_extract(extra, '\$.profiles.errors.heap_before') FROM runs WHERE id = $ID")" \
        = "$(jq -r .errors.heap_before <<<"$P")"
check "(b) the summary says why each profile is missing" \
        grep -qxF "Profiles of app: heap_before failed (connect failed: Connection refused) cpu failed (connect failed: Connection refused) heap_after failed (connect failed: Connection refused)" \
        "$ERR"
check "(b) the /memory figures are still there" \
        test "$(jq -r '[.memory_before.Sys, .memory_after.Sys] | map(type) | join(" ")' <<<"$P")" = "number number"
check "(b) and no profile was stored" test "$(sql 'SELECT count(*) FROM profiles')" = 0

# ------------------------------------------------------------ (c) SIGINT while waiting
# A pprof port that accepts and never answers, with a target timeout of
# 60 s: the captures are still in flight when the run ends.
HANG_PORT=$(free_port)
$PY - "$HANG_PORT" >"$WORK/hang.log" 2>&1 <<'PYEOF' &
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
held = []
while len(held) < 100:
    held.append(s.accept()[0])
PYEOF
PIDS="$PIDS $!"
wait_until 20 $PY -c "import socket; socket.create_connection(('127.0.0.1', $HANG_PORT), 1)" ||
        bail "the hanging pprof service did not start"
DB=$WORK/c.db
conf "$WORK/c.conf" "$DB" "http://127.0.0.1:$HANG_PORT/debug/pprof" 60s
ERR=$WORK/suite-int.log
"$PERFWATCHD" --config "$WORK/c.conf" --run prof,plain --duration 3s >/dev/null 2>"$ERR" &
pid=$!
PIDS="$PIDS $pid"
check "(c) the terminal waits for the profiles once the run is over" \
        wait_until 30 grep -q "^perfwatchd: \[target app\]: waiting for the run's profiles$" "$ERR"
T0=$(date +%s)
kill -INT "$pid"
wait_until 20 sh -c "! kill -0 $pid"
wait "$pid"; RC=$?
check "(c) SIGINT ends the wait at once (in $(( $(date +%s) - T0 )) s, not the 60 s timeout)" \
        test $(( $(date +%s) - T0 )) -le 10
ok $(( RC != 2 )) "(c) and the suite, with exit 2 (got $RC)" || show
check "(c) saying what it did" \
        grep -qx "perfwatchd: \[target app\]: Interrupt while waiting for the run's profiles: recording those taken" "$ERR"
check "(c) the suite line says the rest was not run" \
        grep -qx "perfwatchd: suite: prof met, plain not run: exit 2" "$ERR"
E=$(sql "SELECT json_extract(extra, '\$.profiles.errors') FROM runs WHERE scenario = 'prof'")
diag "errors: $E"
for what in heap_before cpu heap_after; do
        check "(c) the stored run says $what was cut" \
                test "$(jq -r ".$what" <<<"$E")" = "perfwatchd stopped before the capture ended"
done
check "(c) the memory figures were written" \
        test "$(sql "SELECT json_type(extra, '\$.profiles.memory_after.Sys') FROM runs WHERE scenario = 'prof'")" = real
check "(c) and plain did not run" test "$(sql 'SELECT group_concat(scenario) FROM runs')" = prof

done_testing
