#!/bin/bash
# The daemon's retention deletes the samples older than `retention` and
# keeps the newer ones.  Old and new samples are put in with sqlite3 before
# the start; a cutoff computed in the wrong unit either deletes nothing
# (seconds, microseconds too small) or everything (too large): both fail.
. "$TOP_SRCDIR/tests/system/lib.sh"

db=$WORK/perfwatch.db
start_target
write_config "$WORK/pw.conf"
sed -i 's/^\[daemon\]$/[daemon]\nretention = 1h/' "$WORK/pw.conf"
start_daemon "$WORK/pw.conf"
check "(setup) a first run creates the database" stop_daemon

now_ms=$(( $(date +%s) * 1000 ))
sqlite3 "$db" "INSERT INTO series (name) VALUES ('t.old.x');
  INSERT INTO samples (series_id, ts, value)
    SELECT (SELECT id FROM series WHERE name = 't.old.x'), $now_ms - 7200000 - value * 1000, value
    FROM (WITH RECURSIVE n(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM n WHERE value < 500)
          SELECT value FROM n);
  INSERT INTO samples (series_id, ts, value)
    SELECT (SELECT id FROM series WHERE name = 't.old.x'), $now_ms - 1800000 - value * 1000, value
    FROM (WITH RECURSIVE n(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM n WHERE value < 300)
          SELECT value FROM n);" || bail "cannot insert the samples"
count() { sqlite3 "file:$db?mode=ro" "SELECT count(*) FROM samples JOIN series ON series.id = series_id
                                       WHERE name = 't.old.x' AND $1"; }
check "(setup) 500 samples 2 h old and 300 of the last 30 min" \
        test "$(count "ts < $now_ms - 3600000")/$(count "ts >= $now_ms - 3600000")" = 500/300

start_daemon "$WORK/pw.conf"
old_gone() { [ "$(count "ts < $now_ms - 3600000")" = 0 ]; }
check "retention deletes every sample older than 1 h" wait_until 15 old_gone
check "and keeps the 300 newer ones" test "$(count "ts >= $now_ms - 3600000")" = 300
check "the polled series are kept too" wait_until 10 state_is memory met
check "SIGTERM stops it with status 0" stop_daemon
done_testing
