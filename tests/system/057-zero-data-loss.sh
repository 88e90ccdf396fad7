#!/bin/bash
# zero_data_loss judges the lost-write report ("writes" in a run's extra)
# of the latest completed run of scenario crdt, read by the daemon from its
# database: runs written into it with sqlite3 while the daemon runs turn
# the criterion met (nothing lost, 1500 conflicts: ?strict=1 answers 200,
# with the other run criteria turned off), not_met with 3 lost and their
# tokens (JSON, text, 503), not_met again with 12 conflicts, and unknown
# for a run without a report or with a malformed one; a newer cancelled
# run hides nothing.  perfwatchd --run crdt exits by zero_data_loss (by
# both criteria when latency_p95 judges crdt too).
. "$TOP_SRCDIR/tests/system/lib.sh"

start_target
API=http://127.0.0.1:$API_PORT
PW_PORT=$(free_port)
write_config "$WORK/pw.conf" \
        "[scenario crdt]" "base_url = $API" "rate = 1/s" "duration = 1s" "request = GET /api/items" \
        "[criterion latency_p95]" "enabled = no" "[criterion acu_scaling]" "enabled = no"
DB=$WORK/perfwatch.db

# add_run STATE WRITES: a crdt run that ended now, with WRITES (JSON text;
# "" for none) as its extra's writes member; prints its id.
add_run() {
        local now extra
        now=$(( $(date +%s%N) / 1000000 ))
        extra="{}"
        [ -n "$2" ] && extra="{\"writes\":$2}"
        sqlite3 -cmd ".timeout 5000" "$DB" "INSERT INTO runs (scenario, model, state, started_at, ended_at,
                duration_ms, requests, ok, extra) VALUES ('crdt', 'closed', '$1', $now - 600000, $now, 600000,
                120000, 120000, json('$extra')); SELECT last_insert_rowid();"
}
# report LOST UNREAD UNEXPECTED CONFLICTS SOURCE SAMPLE: a "writes" report.
report() {
        printf '{"attempted":120010,"acknowledged":120000,"failed":4,"indeterminate":6,"ok":%d,"lost":%d,' \
                $(( 120000 - $1 - $2 )) "$1"
        printf '"unread":%d,"recovered":2,"unexpected":%d,"duplicates":0,"other_runs":0,"conflicts":%d,' "$2" "$3" "$4"
        printf '"conflicts_source":"%s","documents":5,"documents_read":5,"lost_sample":[%s],"unexpected_sample":[]}' \
                "$5" "$6"
}
lost() { printf '{"token":"5eed0001%s","document":"doc-%s","sent_at":"2026-12-01T18:00:0%s.000Z","sent_ms":%s000}' \
                "$1" "$2" "$2" "$2"; }
zdl() { jget "$PW/v1/criteria/zero_data_loss" "$1"; }
zdl_is() { [ "$(zdl "$1")" = "$2" ]; }     # zdl_is FILTER WANT
text_line() { curl -s "$PW/v1/status?format=text" | grep '^zero_data_loss '; }
strict_is() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$PW/v1/status?strict=1")" = "$1" ]; }

start_daemon "$WORK/pw.conf"
check "memory is met" wait_until 15 state_is memory met
check "no run yet: zero_data_loss unknown, saying so" \
        test "$(zdl '.state + ": " + .reason')" = "unknown: no completed run of scenario crdt"
check "?strict=1 answers 503 while it is unknown" strict_is 503

id=$(add_run completed "$(report 0 0 0 1500 server "")")
check "a completed run that lost nothing with 1500 conflicts: met" wait_until 10 state_is zero_data_loss met
check "judging run $id" test "$(zdl .evidence.run)" = "$id"
check "value 0 (lost), rule <= 0 writes" test "$(zdl '[.value, .op, .threshold, .unit] | join(" ")')" = "0 <= 0 writes"
check "evidence: the counts, the conflicts' source and min_conflicts" \
        test "$(zdl '.evidence | [.acknowledged, .lost, .unexpected, .unread, .recovered, .conflicts,
                .conflicts_source, .min_conflicts, .scenario] | join(",")')" = "120000,0,0,0,2,1500,server,1000,crdt"
check "evidence: the summary" test "$(zdl .evidence.summary)" = \
        "0 of 120000 acknowledged writes lost; 0 unexpected; 0 unread; conflicts 1500 (server)"
check "?strict=1 answers 200 (memory met, the other run criteria off)" strict_is 200
check "?format=text shows it met, 0 writes, <= 0 writes" grep -qE '^zero_data_loss +met +0 writes +<= 0 writes ' <(text_line)
check "with its summary" \
        grep -qF '0 of 120000 acknowledged writes lost; 0 unexpected; 0 unread; conflicts 1500 (server)' <(text_line)

id=$(add_run completed "$(report 3 0 0 1520 server "$(lost 00000003 1),$(lost 00000007 2),$(lost 0000000b 3)")")
check "a run that lost 3: not_met" wait_until 10 state_is zero_data_loss not_met
check "judging run $id, value 3" test "$(zdl '[.evidence.run, .value] | join(" ")')" = "$id 3"
check "evidence: the lost sample's tokens and documents" \
        test "$(zdl '[.evidence.lost_sample[] | .token + "@" + .document] | join(",")')" = \
        "5eed000100000003@doc-1,5eed000100000007@doc-2,5eed00010000000b@doc-3"
check "?format=text shows it not_met, 3 writes" grep -qE '^zero_data_loss +not_met +3 writes +<= 0 writes ' <(text_line)
check "naming the count and the first tokens" \
        grep -qF '3 of 120000 acknowledged writes lost (e.g. 5eed000100000003, 5eed000100000007, 5eed00010000000b); 0 unexpected; 0 unread; conflicts 1520 (server)' <(text_line)
check "?strict=1 answers 503" strict_is 503

cancelled=$(add_run cancelled "$(report 0 0 0 5000 server "")")
sleep 1.2
check "a newer cancelled run (id $cancelled) that lost nothing hides nothing: still not_met on run $id" \
        test "$(zdl '.state + " " + (.evidence.run | tostring)')" = "not_met $id"

id=$(add_run completed "$(report 0 0 0 12 client "")")
check "a run with 12 conflicts: not_met" wait_until 10 zdl_is .evidence.run "$id"
check "saying a stress test that did not stress proves nothing" test "$(zdl '.state + ": " + .evidence.summary')" = \
        "not_met: 0 of 120000 acknowledged writes lost; 0 unexpected; 0 unread; conflicts 12 (client) < min_conflicts 1000: a stress test that did not stress proves nothing"

id=$(add_run completed "$(report 0 5 0 2000 client "")")
check "a run with 5 documents' writes unread: not_met" wait_until 10 zdl_is .evidence.run "$id"
check "naming them" test "$(zdl '.state + ": " + .evidence.summary')" = \
        "not_met: 0 of 120000 acknowledged writes lost; 0 unexpected; 5 unread; conflicts 2000 (client)"

id=$(add_run completed "")
check "a run without a lost-write report: unknown" wait_until 10 state_is zero_data_loss unknown
check "saying its scenario has no write lines" test "$(zdl .reason)" = \
        "run $id of scenario crdt has no lost-write report: its scenario has no write and read lines"
check "?format=text shows the reason" \
        grep -qF "run $id of scenario crdt has no lost-write report" <(text_line)

id=$(add_run completed '{"acknowledged":10,"lost":"none"}')
check "a malformed report: unknown, saying what is wrong" wait_until 10 zdl_is .reason \
        "run $id of scenario crdt has a lost-write report that has no count lost"

id=$(add_run completed "$(report 0 0 0 1000 client "")")
check "a run with exactly min_conflicts 1000 conflicts: met again" wait_until 10 state_is zero_data_loss met
check "?strict=1 answers 200" strict_is 200
stop_daemon; ok $? "the daemon stops cleanly"

# perfwatchd --run crdt exits by zero_data_loss: this crdt has no write
# lines, so no lost-write report and no verdict (2); by both criteria when
# latency_p95 judges crdt too; not judged (0) with zero_data_loss off.
# run CONF: sets RC and LAST (the last line on stderr).
run() {
        local err=$WORK/daemon.run-crdt.$RANDOM.log  # daemon.*: checked by sanitizer_clean
        timeout 60 "$PERFWATCHD" --config "$1" --run crdt >/dev/null 2>"$err"
        RC=$?
        LAST=$(tail -n 1 "$err")
}
CRDT=("[scenario crdt]" "base_url = $API" "rate = 5/s" "duration = 1s" "request = GET /api/items")
write_config "$WORK/run.conf" "${CRDT[@]}" "[criterion latency_p95]" "enabled = no"
run "$WORK/run.conf"
check "--run crdt without a lost-write report exits 2" test "$RC" = 2
check "saying why on the last line" test "$LAST" = \
        "perfwatchd: zero_data_loss: no verdict: the run has no lost-write report: its scenario has no write and read lines"
write_config "$WORK/run.conf" "${CRDT[@]}" "[criterion latency_p95]" "scenario = crdt"
run "$WORK/run.conf"
check "--run crdt judged by both (latency_p95 met, zero_data_loss no verdict) exits 2" test "$RC" = 2
write_config "$WORK/run.conf" "${CRDT[@]}" "[criterion latency_p95]" "scenario = crdt" "threshold = 0.001" \
        "[criterion zero_data_loss]" "enabled = no"
run "$WORK/run.conf"
check "--run crdt with zero_data_loss off is judged by latency_p95 alone: not met, exit 1" test "$RC" = 1
write_config "$WORK/run.conf" "${CRDT[@]}" "[criterion latency_p95]" "scenario = crdt" "threshold = 0.001"
run "$WORK/run.conf"
check "latency_p95 not met and zero_data_loss no verdict: exit 1" test "$RC" = 1
write_config "$WORK/run.conf" "${CRDT[@]}" "[criterion latency_p95]" "enabled = no" \
        "[criterion zero_data_loss]" "enabled = no"
run "$WORK/run.conf"
check "both off: exit 0" test "$RC" = 0
check "saying zero_data_loss was not judged" test "$LAST" = \
        "perfwatchd: zero_data_loss: not judged: turned off (enabled = no); exit 0"
done_testing
