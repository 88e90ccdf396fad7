#!/bin/bash
# The daemon applies [daemon] retention: samples older than it are deleted
# soon after start, younger ones and the live series are kept.  The old
# samples are planted with sqlite3 while the daemon is stopped.  Load runs
# go the same way, with their histograms.
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
check "old and new runs with histograms are planted too" sql "
        INSERT INTO runs (id, scenario, model, state, started_at, ended_at) VALUES
                (1, 'peak', 'open', 'completed', $now - 7200000, $now - 7100000),
                (2, 'peak', 'open', 'aborted', $now - 7000000, $now - 6900000),
                (3, 'peak', 'open', 'completed', $now - 1800000, $now - 1700000);
        INSERT INTO run_histograms (run_id, request, kind, data) VALUES
                (1, '', 'latency', x'00'), (1, '', 'service', x'00'), (1, 'GET /', 'latency', x'00'),
                (2, '', 'latency', x'00'), (3, '', 'latency', x'00'), (3, '', 'service', x'00');"
planted() { sql "SELECT count(*) FROM samples WHERE series_id = (SELECT id FROM series WHERE name = 'planted') $1"; }
diag "planted: $(planted "AND ts < $now - 3600000") over 2 h old, $(planted "AND ts >= $now - 3600000") 30 min old"

start_daemon "$WORK/pw.conf"
old_gone() { [ "$(planted "AND ts < $now - 3600000")" = 0 ]; }
check "the samples older than retention = 1h are deleted within 10 s" wait_until 10 old_gone
check "the 10 samples 30 minutes old are kept" test "$(planted "AND ts >= $now - 3600000")" = 10
runs_gone() { [ "$(sql 'SELECT count(*) FROM runs WHERE id IN (1, 2)')" = 0 ]; }
check "the runs started over 1 h ago are deleted too" wait_until 10 runs_gone
check "with their histograms" test "$(sql 'SELECT count(*) FROM run_histograms WHERE run_id IN (1, 2)')" = 0
check "the run 30 minutes old and its 2 histograms are kept" \
        test "$(sql 'SELECT count(*) FROM runs WHERE id = 3') $(sql 'SELECT count(*) FROM run_histograms')" = "1 2"
live() { sql "SELECT count(*) FROM samples WHERE series_id = (SELECT id FROM series WHERE name = 'go.app.Sys')"; }
check "the live series are kept" test "$(live)" -gt 0
check "SIGTERM stops the second run" stop_daemon
done_testing
