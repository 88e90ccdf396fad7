#!/bin/bash
# kill -9 loses at most the uncommitted batch: every sample committed before
# the kill is still there after a restart on the same database.
. "$TOP_SRCDIR/tests/system/lib.sh"

start_target
MEMORY_INTERVAL=200ms write_config "$WORK/pw.conf"
start_daemon "$WORK/pw.conf"
check "samples are being stored" wait_until 15 state_is memory met
sleep 2

db=$WORK/perfwatch.db
count_before=$(sqlite3 "file:$db?mode=ro" 'SELECT count(*) FROM samples')
newest_before=$(sqlite3 "file:$db?mode=ro" 'SELECT max(ts) FROM samples')
kill -KILL "$PW_PID"
wait "$PW_PID" 2>/dev/null
diag "committed before kill: $count_before samples, newest $newest_before"
check "samples were committed before the kill" test "$count_before" -gt 10

count_after=$(sqlite3 "$db" 'SELECT count(*) FROM samples')
check "after kill -9 the database still has every committed sample" test "$count_after" -ge "$count_before"
check "the database passes integrity_check" test "$(sqlite3 "$db" 'PRAGMA integrity_check')" = ok

start_daemon "$WORK/pw.conf"
from=$(( newest_before / 1000 - 3600 ))
to=$(( newest_before / 1000 + 1 ))
n=$(jget "$PW/v1/series?metric=go.app.Sys&from=$from&to=$to" '.points | length')
want=$(sqlite3 "$db" "SELECT count(*) FROM samples JOIN series ON series.id = series_id WHERE name = 'go.app.Sys' AND ts <= $newest_before")
check "the restarted daemon serves every pre-kill point of go.app.Sys ($want)" test "$n" -ge "$want"
check "SIGTERM stops it with status 0" stop_daemon
done_testing
