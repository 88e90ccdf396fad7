#!/bin/bash
# A criterion over a 14-day window of millions of samples does not hold
# the loop: a target polled every 250 ms keeps its gaps within +-20%,
# /v1/status answers at once, and the verdict counts every sample.  The
# samples are written with the sqlite3 CLI into a schema-2 database, so the
# rollups migration backfills them at startup.
# LONG_SAMPLES (default 2000000) sets how many; MEASURE_SECONDS (default
# 15) how long the polls are watched.
. "$TOP_SRCDIR/tests/system/lib.sh"

N=${LONG_SAMPLES:-2000000}
SECONDS_WATCHED=${MEASURE_SECONDS:-15}
DB=$WORK/perfwatch.db
command -v sqlite3 >/dev/null || bail "sqlite3 (the CLI) is needed"

start_target
MEMORY_INTERVAL=250ms write_config "$WORK/pw.conf" \
        "[criterion long]" "series = go.app.Sys" "statistic = max" "op = <" "threshold = 1GiB" \
        "window = 14d" "max_age = 1m" \
        "[criterion typo]" "series = go.app.Sy" "op = <" "threshold = 1GiB"

# A first start creates the schema; then the samples go in behind its back.
start_daemon "$WORK/pw.conf"
stop_daemon || bail "the first run did not stop cleanly"
now_ms=$(( $(date +%s) * 1000 ))
start_ms=$(( now_ms - N * 250 - 120000 ))
t0=$(date +%s.%N)
sqlite3 "$DB" <<EOF || bail "cannot pre-fill $DB"
PRAGMA synchronous = OFF;
INSERT OR IGNORE INTO series (name) VALUES ('go.app.Sys');
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $N - 1)
INSERT INTO samples (series_id, ts, value)
SELECT (SELECT id FROM series WHERE name = 'go.app.Sys'), $start_ms + i * 250, 100000000 + i % 1000 FROM n;
EOF
if [ "$(sqlite3 "$DB" 'PRAGMA user_version')" -ge 3 ]; then
        sqlite3 "$DB" 'DROP TABLE rollups; DROP TABLE IF EXISTS run_histograms; DROP TABLE IF EXISTS runs;
                          PRAGMA user_version = 2' || bail "cannot make $DB schema 2"
fi
diag "pre-filled $N samples in $(echo "$(date +%s.%N) - $t0" | bc) s"

# The migration backfills the rollups before the API answers: allow for it.
t0=$(date +%s.%N)
"$PERFWATCHD" --config "$WORK/pw.conf" >"$WORK/daemon.2.log" 2>&1 &
PW_PID=$!
PIDS="$PIDS $PW_PID"
wait_until 300 curl -sf "$PW/healthz" || { sed 's/^/# /' "$WORK/daemon.2.log" | tail; bail "perfwatchd did not start"; }
diag "startup with the migration: $(echo "$(date +%s.%N) - $t0" | bc) s"
check "the 14d criterion turns met" wait_until 30 state_is long met

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$PW_PID/stat"; }
sleep 2
ticks0=$(cpu_ticks)
from=$(date -u +%Y-%m-%dT%H:%M:%SZ)
: >"$WORK/status-times"
for _ in $(seq $((SECONDS_WATCHED * 2))); do
        curl -s -o /dev/null -w '%{time_total}\n' --max-time 5 "$PW/v1/status" >>"$WORK/status-times"
        sleep 0.5
done
ticks1=$(cpu_ticks)
to=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# The gaps between the target's stored polls, in ms.
curl -s --max-time 10 "$PW/v1/series?metric=go.app.memory.up&from=$from&to=$to" |
        jq -r '.points | [range(1; length) as $i | .[$i][0] - .[$i - 1][0]] | .[]' >"$WORK/gaps"
n_gaps=$(wc -l <"$WORK/gaps")
bad_gaps=$(awk '$1 < 200 || $1 > 300' "$WORK/gaps" | wc -l)
diag "poll gaps: $n_gaps, min $(sort -n "$WORK/gaps" | head -1) ms, max $(sort -n "$WORK/gaps" | tail -1) ms, outside 200-300 ms: $bad_gaps"
diag "/v1/status: max $(sort -n "$WORK/status-times" | tail -1) s over $(wc -l <"$WORK/status-times") requests"
diag "CPU: $(echo "scale=1; ($ticks1 - $ticks0) * 1000 / $(getconf CLK_TCK) / $SECONDS_WATCHED" | bc) ms per second"
diag "evaluation: $(grep -o 'criteria evaluated in [0-9]* us' "$WORK/daemon.2.log" | awk '{ s += $4; n++; if ($4 > m) m = $4 } END { if (n) printf "%d, mean %d us, max %d us", n, s / n, m }')"

check "the target was polled about every 250 ms (at least 80% of the expected polls)" \
        test "$n_gaps" -ge $((SECONDS_WATCHED * 4 * 8 / 10))
check "every poll gap is within 250 ms +-20%" test "$bad_gaps" -eq 0
check "/v1/status always answered within 100 ms" \
        awk '$1 > 0.1 { bad = 1 } END { exit bad }' "$WORK/status-times"
check "the 14d max counts the pre-filled samples (their max is 100000999)" \
        test "$(jget "$PW/v1/criteria/long" .value)" = 100000999
check "and its evidence counts all $N of them" \
        test "$(jget "$PW/v1/criteria/long" ".evidence.samples >= $N")" = true
check "the evidence names the statistic and the window" \
        test "$(jget "$PW/v1/criteria/long" '.evidence.statistic + " " + .evidence.window')" = "max 14d"
check "a criterion over a series nobody stores names the nearest one" \
        test "$(jget "$PW/v1/criteria/typo" '.state + ": " + .reason')" = "unknown: no series named go.app.Sy (nearest known: go.app.Sys)"
check "SIGTERM stops perfwatchd with exit status 0" stop_daemon
done_testing
