#!/bin/bash
# The lost-write check through perfwatchd --run NAME --json against the
# demo target's /docs documents (issue 8): (a) 1000 users writing to 5
# documents without think time lose nothing, ok == acknowledged, and the
# conflicts are the target's own count; the verdict is in the run's JSON,
# its text summary and its row's extra.writes; (b) with the target dropping
# 1% of acknowledged writes, lost is exactly its dropped count and the
# lost sample is among its dropped writes; (c) stalled writes past the
# timeout are recovered; (d) an invented element is one unexpected; (e) a
# run stopped by SIGINT is not read back and says so.  zero_data_loss
# judges (a) and (b) for real: --run exits by it (0 met, 1 not_met), and a
# daemon on the runs' database shows the same verdict for the same run.
. "$TOP_SRCDIR/tests/system/lib.sh"

start_target -doc-seed 7
API=http://127.0.0.1:$API_PORT
DB=$WORK/perfwatch.db
sql() { sqlite3 -cmd '.timeout 5000' "$DB" "$@"; }
stat() { jget "$API/docs/stats" "$1"; }
faults() { curl -sf -X POST "$API/docs/faults?$1&reset=1" >/dev/null || bail "cannot set faults $1"; }

# scenario NAME USERS DURATION TIMEOUT [EXTRA...]
scenario() {
        printf '[scenario %s]\nmodel = closed\nbase_url = %s\nusers = %s\nduration = %s\ntimeout = %s\n' \
                "$1" "$API" "$2" "$3" "$4"
        printf 'write = POST /docs/${doc} {"token":"${token}"}\ndocuments = 5\nread = GET /docs/${doc}\n'
        printf 'read_after = 500ms\n'
        shift 4
        local line
        for line in "$@"; do echo "$line"; done
}
# config FILE ZDL_SCENARIO: the scenarios, with zero_data_loss judging
# ZDL_SCENARIO's runs; 100 conflicts are enough for these short runs (the
# clean one's server count is some 600: 3 s of merges every 50 ms).
config() {
        {
                printf '[daemon]\ndatabase = %s\nlisten = 127.0.0.1:%s\nevaluate_interval = 500ms\n' "$DB" "$PW_PORT"
                printf '[criterion latency_p95]\nenabled = no\n[criterion acu_scaling]\nenabled = no\n'
                printf '[criterion zero_data_loss]\nscenario = %s\nmin_conflicts = 100\n' "$2"
                scenario clean 1000 3s 10s "conflicts_from = /docs/stats /conflicts"
                scenario drop 100 2s 5s
                scenario stall 50 2s 1s
                scenario invent 20 1s 5s "conflicts_from = /docs/stats /conflicts"
                scenario long 20 30s 5s
        } >"$1"
}
config "$WORK/run.conf" clean
config "$WORK/drop.conf" drop
"$PERFWATCHD" --config "$WORK/run.conf" --check-config >/dev/null
ok $? "the scenarios pass --check-config"

# run NAME [CONFIG]: sets RC, OUT (the JSON) and ERR (stderr's file).
run() {
        ERR=$WORK/run-$1.log
        OUT=$(timeout 60 "$PERFWATCHD" --config "${2:-$WORK/run.conf}" --run "$1" --json 2>"$ERR")
        RC=$?
}
w() { jq -r ".writes$1" <<<"$OUT"; }
zdl() { jget "$PW/v1/criteria/zero_data_loss" "$1"; }

# (a) clean, 1000 users.
faults "drop=0"
run clean
diag "clean: $(jq -c '.writes | del(.lost_sample, .unexpected_sample)' <<<"$OUT")"
check "(a) a 1000-user run completes and exits 0 (got $RC)" test "$RC" = 0 -a "$(jq -r .state <<<"$OUT")" = completed
check "(a) many writes ($(w .attempted))" test "$(w .attempted)" -ge 2000
check "(a) every request was a write" test "$(w .attempted)" = "$(jq -r .requests <<<"$OUT")"
check "(a) all acknowledged" test "$(w .acknowledged)" = "$(w .attempted)"
check "(a) ok == acknowledged" test "$(w .ok)" = "$(w .acknowledged)"
check "(a) lost 0, unexpected 0, unread 0" test "$(w '| [.lost, .unexpected, .unread] | join(",")')" = 0,0,0
check "(a) read back, 5 documents" test "$(w '| [.read_back, .documents_read] | join(",")')" = true,5
check "(a) conflicts are the server's" test "$(w .conflicts_source)" = server
check "(a) conflicts > 0 ($(w .conflicts)) and the target's count" \
        test "$(w .conflicts)" -gt 0 -a "$(w .conflicts)" = "$(stat .conflicts)"
check "(a) the book took about 6 bytes a write ($(w .book_bytes) bytes)" \
        test "$(w .book_bytes)" -le $(( $(w .attempted) * 6 + 16384 * 6 + 4096 ))
id=$(jq -r .id <<<"$OUT")
check "(a) the run's row holds the verdict in extra.writes" \
        test "$(sql "SELECT extra ->> '\$.writes.ok' || ',' || (extra ->> '\$.writes.lost') FROM runs WHERE id = $id")" = "$(w .ok),0"
check "(a) the text summary shows it" grep -q "^  read back 5/5 documents: $(w .ok) ok, 0 lost, 0 unexpected" "$ERR"
check "(a) and which conflict count" grep -q "^  conflicts: $(w .conflicts) (the server's count)" "$ERR"
check "(a) --run says zero_data_loss is met" grep -qxF "perfwatchd: zero_data_loss: met: 0 of $(w .acknowledged) \
acknowledged writes lost; 0 unexpected; 0 unread; conflicts $(w .conflicts) (server)" "$ERR"
start_daemon "$WORK/run.conf"
check "(a) a daemon on that database: zero_data_loss met" wait_until 10 state_is zero_data_loss met
check "(a) judging run $id" test "$(zdl .evidence.run)" = "$id"
check "(a) with its counts" test "$(zdl '.evidence | [.acknowledged, .lost, .conflicts, .conflicts_source] |
        join(",")')" = "$(w .acknowledged),0,$(w .conflicts),server"
stop_daemon

# (b) the target drops 1% of acknowledged writes.
faults "drop=0.01"
run drop "$WORK/drop.conf"
dropped=$(stat .dropped)
diag "drop: $(jq -c '.writes | del(.lost_sample, .unexpected_sample)' <<<"$OUT"), target dropped $dropped"
check "(b) the target dropped some ($dropped)" test "$dropped" -gt 0
check "(b) lost == the target's dropped count" test "$(w .lost)" = "$dropped"
check "(b) conflicts are the client's without conflicts_from" test "$(w .conflicts_source)" = client
jget "$API/docs/stats?dropped=1" '.dropped_writes[].token' | sort >"$WORK/dropped"
w '.lost_sample[].token' | sort >"$WORK/sample"
check "(b) the lost sample is among the target's dropped writes" \
        test -s "$WORK/sample" -a -z "$(comm -23 "$WORK/sample" "$WORK/dropped")"
check "(b) the stored run has them too" \
        test "$(sql "SELECT extra ->> '\$.writes.lost' FROM runs WHERE id = $(jq -r .id <<<"$OUT")")" = "$dropped"
check "(b) --run exits 1: zero_data_loss not met (got $RC)" test "$RC" = 1
check "(b) saying how many were lost" \
        grep -q "^perfwatchd: zero_data_loss: not met: $dropped of $(w .acknowledged) acknowledged writes lost (e.g. " "$ERR"
id=$(jq -r .id <<<"$OUT")
start_daemon "$WORK/drop.conf"
check "(b) a daemon on that database: zero_data_loss not_met" wait_until 10 state_is zero_data_loss not_met
check "(b) judging run $id" test "$(zdl .evidence.run)" = "$id"
check "(b) value = lost = the target's dropped count" \
        test "$(zdl .value)" = "$dropped" -a "$(zdl .evidence.lost)" = "$dropped"
check "(b) its lost sample is among the target's dropped writes" \
        test -n "$(zdl '.evidence.lost_sample[0].token')" -a \
        -z "$(zdl '.evidence.lost_sample[].token' | sort | comm -23 - "$WORK/dropped")"
stop_daemon

# (c) 5% of writes stalled 3 s, timeout 1 s: applied, yet indeterminate.
faults "drop=0&stall=3s&stall_fraction=0.05"
run stall
stalled=$(stat .stalled)
diag "stall: $(jq -c '.writes | del(.lost_sample, .unexpected_sample)' <<<"$OUT"), target stalled $stalled"
check "(c) the target stalled some ($stalled)" test "$stalled" -gt 0
check "(c) recovered == the target's stalled count" test "$(w .recovered)" = "$stalled"
check "(c) lost 0, ok == acknowledged" test "$(w .lost)" = 0 -a "$(w .ok)" = "$(w .acknowledged)"

# (d) one invented element.
faults "stall=0&invent=1"
run invent
check "(d) unexpected == 1" test "$(w .unexpected)" = 1
check "(d) named in the sample" test "$(w '.unexpected_sample[0]')" = invented-7-1

# (e) SIGINT during the load: cancelled, not read back.
faults "invent=0"
timeout 60 "$PERFWATCHD" --config "$WORK/run.conf" --run long --json >"$WORK/long.json" 2>"$WORK/run-long.log" &
pid=$!
PIDS="$PIDS $pid"
sleep 2
kill -INT "$pid"
wait "$pid"
OUT=$(cat "$WORK/long.json")
check "(e) a run stopped by SIGINT is cancelled" test "$(jq -r .state <<<"$OUT")" = cancelled
check "(e) and not read back" test "$(w .read_back),$(w .documents_read)" = false,0
check "(e) the summary says so" grep -q "not read back" "$WORK/run-long.log"
done_testing
