#!/bin/bash
# Profiles tied to a run (issue 8, point 8): a run of a scenario with
# `target = app` started through the API gets, in its extra.profiles, a heap
# profile taken before it started and one after it ended, a CPU profile
# taken after its ramp-up, each openable by go tool pprof from
# /v1/profiles/ID, and the /memory figures polled right before and after.
# A run cancelled during its ramp-up has no CPU profile and says why; one
# stopped by SIGTERM still records its profiles, saying which were cut.  With the
# target's pprof and /memory ports closed the run still completes,
# extra.profiles says why each capture failed, and the memory figures are
# the store's newest, saying why the run's own /memory poll failed.
# A run's CPU profile due while the target's periodic one records waits
# for it, and the periodic one due meanwhile is skipped and counted.  A
# profiles object the store refuses is counted in /v1/status's store
# object and said in STATUS= with the reason.
. "$TOP_SRCDIR/tests/system/lib.sh"

command -v go >/dev/null || bail "go is not installed (go tool pprof is needed)"
export PPROF_TMPDIR=$WORK HOME=$WORK GOCACHE=$WORK/gocache GOFLAGS=-mod=mod GOPROXY=off

TOKEN=tok-$RANDOM$RANDOM-prof
TF=$WORK/api-token
printf '%s\n' "$TOKEN" >"$TF"
chmod 0600 "$TF"

start_target
TA=http://127.0.0.1:$API_PORT
# run_config FILE PPROF_URL [CPU_INTERVAL CPU_SECONDS]: the periodic
# collectors off, or only the CPU one on (with the target's cpu_seconds).
run_config() {
        local cpu=("cpu_interval = 0")
        [ -z "${3:-}" ] || cpu=("cpu_interval = $3" "cpu_seconds = $4")
        write_config "$1" "pprof_url = $2" "heap_interval = 0" "goroutine_interval = 0" "${cpu[@]}" \
                "[scenario prof]" "model = closed" "base_url = $TA" "users = 4" "think = 20ms" "ramp_up = 1s" \
                "duration = 4s" "timeout = 2s" "request = GET /api/items" "target = app" "cpu_seconds = 2s"
        sed -i "/^\[daemon\]/a api_token_file = $TF" "$1"
}
sql() { sqlite3 -cmd '.timeout 5000' "$WORK/perfwatch.db" "$@"; }
start_run() {
        curl -s --max-time 5 -X POST -H "Authorization: Bearer $TOKEN" "$PW/v1/scenarios/prof/run" | jq -r .id
}
has_profiles() { [ "$(jget "$PW/v1/runs/$1" '.extra.profiles != null')" = true ]; }

run_config "$WORK/pw.conf" "http://127.0.0.1:$PPROF_PORT/debug/pprof"
start_daemon "$WORK/pw.conf"

ID=$(start_run)
check "the run started through the API ($ID)" grep -qE '^[0-9]+$' <<<"$ID"
check "its profiles are recorded within 20 s" wait_until 20 has_profiles "$ID"
R=$(curl -s --max-time 5 "$PW/v1/runs/$ID")
P=$(jq -c .extra.profiles <<<"$R")
diag "extra.profiles: $P"
check "the run completed" test "$(jq -r .state <<<"$R")" = completed
check "no capture failed" test "$(jq -r '.errors // {} | length' <<<"$P")" = 0
check "the target and cpu_seconds are named" test "$(jq -r '"\(.target) \(.cpu_seconds)"' <<<"$P")" = "app 2"
HB=$(jq -r .heap_before <<<"$P")
HA=$(jq -r .heap_after <<<"$P")
CPU=$(jq -r .cpu <<<"$P")
check "heap_before, heap_after and cpu are three profile ids" \
        test "$(printf '%s\n' "$HB" "$HA" "$CPU" | grep -E '^[0-9]+$' | sort -u | wc -l)" = 3
check "of kinds heap, heap, cpu of target app" \
        test "$(sql "SELECT group_concat(target || ':' || kind, ' ') FROM (SELECT * FROM profiles WHERE id IN ($HB, $HA, $CPU) ORDER BY id)")" \
        = "app:heap app:cpu app:heap"
START=$(sql "SELECT started_at FROM runs WHERE id = $ID")
END=$(sql "SELECT ended_at FROM runs WHERE id = $ID")
TB=$(sql "SELECT ts FROM profiles WHERE id = $HB")
TA2=$(sql "SELECT ts FROM profiles WHERE id = $HA")
TC=$(sql "SELECT ts || ' ' || duration_ms FROM profiles WHERE id = $CPU")
diag "run $START..$END, heap_before at $TB, heap_after at $TA2, cpu at/for $TC"
check "heap_before was taken no later than the run's start" test "$TB" -le "$START"
check "heap_after was taken no earlier than the run's end" test "$TA2" -ge "$END"
check "the CPU profile began after the 1 s ramp-up" test "${TC% *}" -ge $((START + 1000))
check "and lasted about its 2 s" test "${TC#* }" -ge 1900 -a "${TC#* }" -lt 4000
for what in heap_before heap_after cpu; do
        id=$(jq -r ".$what" <<<"$P")
        timeout 60 go tool pprof -top "$PW/v1/profiles/$id" >"$WORK/$what.txt" 2>"$WORK/$what.err"
        ok $? "go tool pprof -top opens $what (/v1/profiles/$id)"
        grep -q 'flat%' "$WORK/$what.txt" || sed 's/^/# /' "$WORK/$what.err"
done
timeout 60 go tool pprof -top -diff_base "$PW/v1/profiles/$HB" "$PW/v1/profiles/$HA" >"$WORK/diff.txt" \
        2>"$WORK/diff.err"
ok $? "go tool pprof -diff_base compares heap_before with heap_after"
T=$(curl -s --max-time 5 "$PW/v1/runs/$ID?format=text")
check "the run's text names its profiles" \
        grep -qxF "Profiles of app: heap_before $HB cpu $CPU heap_after $HA" <<<"$T"
check "and the heap diff command" \
        grep -qxF "Heap diff: go tool pprof -top -diff_base /v1/profiles/$HB /v1/profiles/$HA" <<<"$T"
check "and Sys and HeapAlloc before and after" grep -qE '^Memory of app: Sys [0-9]+ -> [0-9]+ HeapAlloc [0-9]+ -> [0-9]+$' <<<"$T"
AT_B=$(jq -r '.memory_before.at | fromdateiso8601' <<<"$P")
AT_A=$(jq -r '.memory_after.at | fromdateiso8601' <<<"$P")
check "memory_before was polled no later than the run's start" test "$AT_B" -le $((START / 1000))
check "memory_after was polled no earlier than the run's end (its own poll, not a stored sample)" \
        test "$AT_A" -ge $((END / 1000))
check "memory_after counts the run's allocations: TotalAlloc grew" \
        test "$(jq -r '.memory_after.TotalAlloc > .memory_before.TotalAlloc' <<<"$P")" = true
FIELDS=$(jq -r '.memory_before | keys - ["at"] | map("go.app." + .) | sort | join(" ")' <<<"$P")
SERIES=$(curl -s --max-time 5 "$PW/v1/metrics?match=go.app." |
        jq -r '[.metrics[].name | select(startswith("go.app.memory.") | not)] | sort | join(" ")')
check "memory_before's fields are the names of the /memory poller's series go.app.* ($(wc -w <<<"$FIELDS"))" \
        test "$FIELDS" = "$SERIES"
for m in memory_before memory_after; do
        check "$m carries Sys and HeapAlloc as numbers, with its time" \
                test "$(jq -r ".$m | [(.Sys | type), (.HeapAlloc | type), (.at | type)] | join(\" \")" <<<"$P")" \
                = "number number string"
        check "$m's Sys is above 1 MiB" test "$(jq -r ".$m.Sys > 1048576" <<<"$P")" = true
done

# ------------------------------------------------------------ cancelled during its ramp-up
ID=$(start_run)
curl -s -o /dev/null --max-time 5 -X POST -H "Authorization: Bearer $TOKEN" "$PW/v1/runs/$ID/cancel"
check "a run cancelled during its ramp-up gets its profiles within 20 s" wait_until 20 has_profiles "$ID"
P=$(curl -s --max-time 5 "$PW/v1/runs/$ID" | jq -c .extra.profiles)
diag "extra.profiles: $(jq -c 'del(.memory_before, .memory_after)' <<<"$P")"
check "it has no CPU profile, and says why" \
        test "$(jq -r '"\(.cpu) \(.errors.cpu)"' <<<"$P")" = "null the run ended before its ramp-up was over"
check "but both heap profiles" test "$(jq -r '[.heap_before, .heap_after] | map(type) | join(" ")' <<<"$P")" \
        = "number number"

# ------------------------------------------------------------ SIGTERM during a run
ID=$(start_run)
sleep 0.5
stop_daemon
diag "after SIGTERM: $(sql "SELECT json_extract(extra, '$.profiles.errors') FROM runs WHERE id = $ID")"
check "a run stopped by SIGTERM still records its profiles, the after-heap failing with the reason" \
        test "$(sql "SELECT state || ' ' || json_extract(extra, '$.profiles.errors.heap_after') FROM runs WHERE id = $ID")" \
        = "aborted perfwatchd stopped before the capture ended"
check "and its CPU profile ended before ramp-up" \
        test "$(sql "SELECT json_extract(extra, '$.profiles.errors.cpu') FROM runs WHERE id = $ID")" \
        = "the run ended before its ramp-up was over"

# ------------------------------------------------------------ pprof down
NPROF=$(sql 'SELECT count(*) FROM profiles')
CLOSED=$(free_port)
run_config "$WORK/down.conf" "http://127.0.0.1:$CLOSED/debug/pprof"
# /memory down too: the figures come from the store (the first daemon's samples).
sed -i "s|^memory_url = .*|memory_url = http://127.0.0.1:$CLOSED/memory|" "$WORK/down.conf"
start_daemon "$WORK/down.conf"
ID=$(start_run)
check "a run against a target whose pprof port is closed started ($ID)" grep -qE '^[0-9]+$' <<<"$ID"
check "its profiles are recorded within 20 s" wait_until 20 has_profiles "$ID"
R=$(curl -s --max-time 5 "$PW/v1/runs/$ID")
P=$(jq -c .extra.profiles <<<"$R")
diag "extra.profiles: $P"
check "the run itself completed" test "$(jq -r .state <<<"$R")" = completed
check "no profile id" test "$(jq -r '[.heap_before, .heap_after, .cpu] | map(tostring) | join(" ")' <<<"$P")" \
        = "null null null"
for what in heap_before heap_after cpu; do
        check "errors.$what says the connection failed" \
                grep -q '^connect failed' <<<"$(jq -r ".errors.$what" <<<"$P")"
done
check "the run's text says why each profile is missing" \
        grep -qxF "Profiles of app: heap_before failed (connect failed: Connection refused) cpu failed (connect failed: Connection refused) heap_after failed (connect failed: Connection refused)" \
        <<<"$(curl -s --max-time 5 "$PW/v1/runs/$ID?format=text")"
for m in memory_before memory_after; do
        check "$m: the store's newest figures, saying why the poll failed" \
                test "$(jq -r ".$m | [(.Sys | type), .from, (.poll_error | startswith(\"connect failed\"))] | join(\" \")" <<<"$P")" \
                = "number store true"
done
check "and no profile was stored" test "$(sql 'SELECT count(*) FROM profiles')" = "$NPROF"
stop_daemon

# ------------------------------------------------------------ a periodic CPU profile recording
# The target's periodic CPU profile records 9 s of every 10 s, the first
# beginning within 5 s of the start: the run started 5.5 s after the start
# finds it recording when its ramp-up ends, waits for its end instead of
# failing with Go's "cpu profiling already in use", and the periodic
# profile due during the run's is skipped and counted.
run_config "$WORK/turns.conf" "http://127.0.0.1:$PPROF_PORT/debug/pprof" 10s 9s
start_daemon "$WORK/turns.conf"
sleep 5.5
ID=$(start_run)
check "a run started while the periodic CPU profile records ($ID)" grep -qE '^[0-9]+$' <<<"$ID"
check "its profiles are recorded within 30 s" wait_until 30 has_profiles "$ID"
P=$(curl -s --max-time 5 "$PW/v1/runs/$ID" | jq -c 'del(.extra.profiles.memory_before, .extra.profiles.memory_after) | .extra.profiles')
diag "extra.profiles: $P"
check "no capture of the run failed" test "$(jq -r '.errors // {} | length' <<<"$P")" = 0
CPU=$(jq -r .cpu <<<"$P")
check "the run has its CPU profile ($CPU)" grep -qE '^[0-9]+$' <<<"$CPU"
check "the log says it waited for the periodic one" \
        grep -q "a periodic CPU profile is recording: the run's CPU profile waits for its end" "$DAEMON_LOG"
check "and that it started once that one ended" \
        grep -qE "the periodic CPU profile ended after [0-9]+ ms: the run's CPU profile starts" "$DAEMON_LOG"
PER=$(sql "SELECT ts || ' ' || duration_ms FROM profiles WHERE kind = 'cpu' AND id < $CPU ORDER BY id DESC LIMIT 1")
RUNCPU=$(sql "SELECT ts || ' ' || duration_ms FROM profiles WHERE id = $CPU")
diag "periodic CPU profile at/for $PER; the run's at/for $RUNCPU"
check "the periodic profile it waited for was stored, whole (about 9 s)" \
        test "${PER#* }" -ge 8900 -a "${PER#* }" -lt 11000
check "the run's began no earlier than its end" test "${RUNCPU% *}" -ge $(( ${PER% *} + ${PER#* } - 2 ))
check "and lasted about its 2 s" test "${RUNCPU#* }" -ge 1900 -a "${RUNCPU#* }" -lt 4000
SRC=$(curl -s --max-time 5 "$PW/v1/sources" | jq -c '.sources[] | select(.name == "go.app.cpu")')
diag "go.app.cpu: $SRC"
check "the periodic profile due during the run's was skipped, and counted once" \
        test "$(jq -r .cpu_skipped_for_runs <<<"$SRC")" = 1
check "the periodic collector never failed (no \"already in use\")" \
        test "$(jq -r '"\(.failures) \(.last_error)"' <<<"$SRC")" = "0 null"
check "neither did any capture say so in the log" sh -c "! grep -q 'already in use' '$DAEMON_LOG'"
stop_daemon

# ------------------------------------------------------------ the store refuses the profiles object
# As a full disk would, for this one write: the run is recorded, its
# profiles object is not, and that is counted and said, not only logged.
sql "CREATE TRIGGER refuse_profiles BEFORE UPDATE OF extra ON runs WHEN json_extract(NEW.extra, '\$.profiles') IS NOT NULL BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
sock=$WORK/notify.sock
msgs=$WORK/notify.txt
$PY "$TOP_SRCDIR/tests/system/notify-listen.py" "$sock" "$msgs" &
PIDS="$PIDS $!"
wait_until 10 test -S "$sock" || bail "notify listener did not start"
NOTIFY_SOCKET=$sock start_daemon "$WORK/pw.conf"
none_refused() { [ "$(jget "$PW/v1/status" '"\(.store.run_extras_failed) \(.store.run_extra_error)"')" = "0 null" ]; }
check "/v1/status counts no unrecorded run object at start (once the store's health is published)" \
        wait_until 10 none_refused
ID=$(start_run)
check "a run whose profiles the store refuses started ($ID)" grep -qE '^[0-9]+$' <<<"$ID"
refused() { [ "$(jget "$PW/v1/status" '.store.run_extras_failed')" = 1 ]; }
check "the refusal is counted in /v1/status within 20 s" wait_until 20 refused
S=$(curl -s --max-time 5 "$PW/v1/status")
diag "store: $(jq -c .store <<<"$S")"
check "with the run, the key and the database's words" \
        test "$(jq -r .store.run_extra_error <<<"$S")" = "run $ID profiles: refused by the test"
check "and its time" jq -e '.store.run_extra_failed_at | test("^20.*Z$")' <<<"$S"
check "the run itself completed, without profiles" \
        test "$(jget "$PW/v1/runs/$ID" '"\(.state) \(.extra.profiles)"')" = "completed null"
check "STATUS= says so with the reason" wait_until 10 grep -qF \
        "STATUS=store $WORK/perfwatch.db: 1 refused writes of run objects, the last: run $ID profiles: refused by the test; " \
        "$msgs"
check "so does the text table's store line" \
        grep -qE "^store $WORK/perfwatch.db: writing \([0-9]+ queued, 0 dropped since start\); 1 refused writes of run objects, the last: run $ID profiles: refused by the test$" \
        <<<"$(curl -s "$PW/v1/status?format=text" | tail -n 1)"
check "and the log" grep -q "run $ID: cannot record its profiles" "$DAEMON_LOG"
stop_daemon
done_testing
