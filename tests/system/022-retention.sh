#!/bin/bash
# The daemon applies [daemon] retention: samples older than it are deleted
# soon after start, younger ones and the live series are kept.  The old
# samples are planted with sqlite3 while the daemon is stopped.
. "$TOP_SRCDIR/tests/system/lib.sh"

DB=$WORK/perfwatch.db
sql() { sqlite3 -cmd '.timeout 5000' "$DB" "$@"; }

start_target
write_config "$WORK/pw.conf"
sed -i '/^\[daemon\]/a retention = 1h' "$WORK/pw.conf"
start_daemon "$WORK/pw.conf"
check "SIGTERM stops the first run" stop_daemon

now=$(( $(date +%s) * 1000 ))
check "old samples are planted with sqlite3" sql "
        INSERT INTO series (name) VALUES ('planted');
        WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 100)
        INSERT INTO samples (series_id, ts, value)
                SELECT (SELECT id FROM series WHERE name = 'planted'), $now - 7200000 - n * 1000, n FROM i;
        WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 10)
        INSERT INTO samples (series_id, ts, value)
                SELECT (SELECT id FROM series WHERE name = 'planted'), $now - 1800000 - n * 1000, n FROM i;"
planted() { sql "SELECT count(*) FROM samples WHERE series_id = (SELECT id FROM series WHERE name = 'planted') $1"; }
diag "planted: $(planted "AND ts < $now - 3600000") over 2 h old, $(planted "AND ts >= $now - 3600000") 30 min old"

start_daemon "$WORK/pw.conf"
old_gone() { [ "$(planted "AND ts < $now - 3600000")" = 0 ]; }
check "the samples older than retention = 1h are deleted within 10 s" wait_until 10 old_gone
check "the 10 samples 30 minutes old are kept" test "$(planted "AND ts >= $now - 3600000")" = 10
live() { sql "SELECT count(*) FROM samples WHERE series_id = (SELECT id FROM series WHERE name = 'go.app.Sys')"; }
check "the live series are kept" test "$(live)" -gt 0
check "SIGTERM stops the second run" stop_daemon
done_testing
