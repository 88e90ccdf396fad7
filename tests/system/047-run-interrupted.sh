#!/bin/bash
# A load run left `running` in the store (the daemon was killed with -9
# while it ran) is marked aborted at the next start, keeping the figures of
# its last update; a finished run is left as it was.  The rows are planted
# with sqlite3 while the daemon is stopped.
. "$TOP_SRCDIR/tests/system/lib.sh"

DB=$WORK/perfwatch.db
sql() { sqlite3 -cmd '.timeout 5000' "$DB" "$@"; }

start_target
write_config "$WORK/pw.conf"
start_daemon "$WORK/pw.conf"
check "SIGTERM stops the first start" stop_daemon

now=$(( $(date +%s) * 1000 ))
check "an interrupted run and a completed one are planted" sql "
        INSERT INTO runs (id, scenario, model, state, started_at, duration_ms, requests, ok) VALUES
                (7, 'peak', 'open', 'running', $now - 60000, 15000, 1500, 1490);
        INSERT INTO runs (id, scenario, model, state, started_at, ended_at, duration_ms, reason) VALUES
                (8, 'spike', 'open', 'completed', $now - 600000, $now - 300000, 300000, '');"

start_daemon "$WORK/pw.conf"
check "the interrupted run is aborted at start" test "$(sql 'SELECT state FROM runs WHERE id = 7')" = aborted
check "it ends at its last update (start + 15 s)" \
        test "$(sql 'SELECT ended_at - started_at FROM runs WHERE id = 7')" = 15000
check "its figures are those of that update" \
        test "$(sql 'SELECT requests, ok FROM runs WHERE id = 7')" = "1500|1490"
check "the reason says it was interrupted" \
        grep -q "^interrupted: perfwatchd stopped before the run ended" <<<"$(sql 'SELECT reason FROM runs WHERE id = 7')"
check "the log says how many runs were marked aborted" \
        grep -q "store $DB: 1 run interrupted by the last stop marked aborted" "$DAEMON_LOG"
check "the completed run is untouched" \
        test "$(sql 'SELECT state, ended_at FROM runs WHERE id = 8')" = "completed|$(( now - 300000 ))"
check "SIGTERM stops the second start" stop_daemon
done_testing
