#!/bin/bash
# The PostgreSQL rates and the cache-hit ratio are derived from the right
# counters: a known number of rollbacks (then of commits) run with psql, and
# every stored xact_rollback_rate, xact_commit_rate and cache_hit_ratio
# sample is checked against the deltas of the stored raw counters of the
# same polls (rate = delta / seconds between polls; ratio = hits / (hits +
# reads)).  A rollback rate computed from the commit counters, a rate per
# millisecond or an inverted ratio all fail here.
. "$TOP_SRCDIR/tests/system/lib.sh"
. "$TOP_SRCDIR/tests/system/pg-lib.sh"

N=1000          # transactions per burst

pg_start
start_target
write_config "$WORK/pw.conf" "[postgres main]" "conninfo = $PG_CONNINFO" "interval = 1s" "timeout = 2s"
start_daemon "$WORK/pw.conf"

last() { jget "$PW/v1/metrics" ".metrics[] | select(.name==\"pg.main.$1\") | .last"; }
has_series() { [[ $(last "$1") =~ ^[0-9] ]]; }
num_cmp() { awk "BEGIN { exit !(($1) $2 ($3)) }" </dev/null; }  # num_cmp EXPR OP EXPR
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
points() { curl -s --max-time 5 "$PW/v1/series?metric=pg.main.$1&from=$2&to=now" | jq -c '.points'; }

# derived COUNTER DERIVED FROM_MS [hits|rate]: one line per DERIVED sample
# from FROM_MS on: "got want delta", want computed from the stored counters of the same two polls.  For
# "rate", COUNTER's delta per second; for "hits", the ratio blks_hit delta /
# (blks_hit delta + blks_read delta).
derived() {
        local from a b
        # The counters from a poll earlier: the first sample's previous poll.
        from=$(awk -v ms="$3" 'BEGIN { printf "%.3f", (ms - 1500) / 1000 }')
        a=$(points "$1" "$from")
        if [ "$4" = hits ]; then b=$(points blks_read "$from"); else b='[]'; fi
        jq -n -r --argjson a "$a" --argjson b "$b" --argjson d "$(points "$2" "$from")" \
                --arg kind "$4" --argjson t0 "$3" '
                def deltas($p): [range(1; $p | length) as $i
                        | {key: ($p[$i][0] | tostring),
                           value: {dv: ($p[$i][1] - $p[$i - 1][1]), dt: (($p[$i][0] - $p[$i - 1][0]) / 1000)}}]
                        | from_entries;
                deltas($a) as $da | deltas($b) as $db
                | $d[] | select(.[0] >= $t0) | (.[0] | tostring) as $ts | select($da[$ts] != null)
                | if $kind == "hits" then
                        select($db[$ts] != null)
                        | [.[1], ($da[$ts].dv / ($da[$ts].dv + $db[$ts].dv)), $da[$ts].dv]
                  else [.[1], ($da[$ts].dv / $da[$ts].dt), $da[$ts].dv] end
                | @tsv'
}

# matches FILE TOLERANCE: every "got want ..." line agrees within TOLERANCE
# (relative, plus the same absolute), and there is at least one line.
matches() {
        awk -v tol="$2" '{ n++; d = $1 - $2; if (d < 0) d = -d
                           if (d > tol * ($2 < 0 ? -$2 : $2) + tol) { bad++; print "# got " $1 ", want " $2 } }
                         END { exit !(n > 0 && bad == 0) }' "$1"
}

max_col() { awk -v c="$2" 'n == 0 || $c > m { m = $c; n = 1 } END { print m + 0 }' "$1"; }
# got_at_max_delta FILE: the derived value of the poll whose counter moved most.
got_at_max_delta() { awk 'n == 0 || $3 > m { m = $3; g = $1; n = 1 } END { print g + 0 }' "$1"; }

# burst KIND: N transactions ending in KIND (COMMIT or ROLLBACK) in one session.
burst() {
        local i
        for i in $(seq "$N"); do echo "BEGIN; SELECT 1; $1;"; done >"$WORK/burst.sql"
        pg_psql -f "$WORK/burst.sql" >/dev/null
}

# grown_by SERIES BEFORE AT_LEAST: the stored counter reached BEFORE + AT_LEAST.
grown_by() { num_cmp "$(last "$1")" '>=' "$2 + $3"; }

check "the source pg.main comes up" wait_until 15 source_up_is pg.main true
check "the rates appear from the second poll" wait_until 10 has_series xact_rollback_rate
check "the cache-hit ratio appears" wait_until 10 has_series cache_hit_ratio

# --- rollbacks only
t0=$(now_ms)
before=$(last xact_rollback)
check "psql runs $N transactions that roll back" burst ROLLBACK
check "pg.main.xact_rollback grows by the $N rollbacks" wait_until 10 grown_by xact_rollback "$before" "$N"
sleep 2.5                       # the next poll's rates, and a flush
derived xact_rollback xact_rollback_rate "$t0" rate >"$WORK/rollback.tsv"
derived xact_commit xact_commit_rate "$t0" rate >"$WORK/commit.tsv"
diag "xact_rollback_rate (got/want per poll):" $(awk '{ printf "%s/%s ", $1, $2 }' <"$WORK/rollback.tsv")
diag "xact_commit_rate (got/want per poll):" $(awk '{ printf "%s/%s ", $1, $2 }' <"$WORK/commit.tsv")
check "each xact_rollback_rate is the rollback counter's delta per second" matches "$WORK/rollback.tsv" 0.05
check "each xact_commit_rate is the commit counter's delta per second" matches "$WORK/commit.tsv" 0.05
check "the rollback rate peaks above $N/5 per second" num_cmp "$(max_col "$WORK/rollback.tsv" 1)" '>' "$N / 5"
check "the commit rate stays under 50/s while only rollbacks run" \
        num_cmp "$(max_col "$WORK/commit.tsv" 1)" '<' 50

# --- commits only
t0=$(now_ms)
before=$(last xact_commit)
check "psql runs $N transactions that commit" burst COMMIT
check "pg.main.xact_commit grows by the $N commits" wait_until 10 grown_by xact_commit "$before" "$N"
sleep 2.5
derived xact_rollback xact_rollback_rate "$t0" rate >"$WORK/rollback.tsv"
derived xact_commit xact_commit_rate "$t0" rate >"$WORK/commit.tsv"
diag "xact_rollback_rate (got/want per poll):" $(awk '{ printf "%s/%s ", $1, $2 }' <"$WORK/rollback.tsv")
diag "xact_commit_rate (got/want per poll):" $(awk '{ printf "%s/%s ", $1, $2 }' <"$WORK/commit.tsv")
check "each xact_commit_rate is the commit counter's delta per second" matches "$WORK/commit.tsv" 0.05
check "each xact_rollback_rate is the rollback counter's delta per second" matches "$WORK/rollback.tsv" 0.05
check "the commit rate peaks above $N/5 per second" num_cmp "$(max_col "$WORK/commit.tsv" 1)" '>' "$N / 5"
check "the rollback rate stays under 1/s while only commits run" \
        num_cmp "$(max_col "$WORK/rollback.tsv" 1)" '<' 1

# --- repeated reads of a small table: nearly all hits
check "a small table is created" pg_psql -c 'CREATE TABLE small AS SELECT g AS id FROM generate_series(1, 100) g'
pg_psql -c 'SELECT count(*) FROM small' >/dev/null     # now in shared buffers
sleep 1.5
t0=$(now_ms)
before=$(last blks_hit)
for _ in $(seq "$N"); do echo "SELECT count(*) FROM small;"; done >"$WORK/reads.sql"
check "psql reads the table $N times" pg_psql -f "$WORK/reads.sql" -o /dev/null
check "pg.main.blks_hit grows by at least $N" wait_until 10 grown_by blks_hit "$before" "$N"
sleep 2.5
derived blks_hit cache_hit_ratio "$t0" hits >"$WORK/ratio.tsv"
diag "cache_hit_ratio (got/want per poll):" $(awk '{ printf "%s/%s ", $1, $2 }' <"$WORK/ratio.tsv")
check "each cache_hit_ratio is hits / (hits + reads) of its poll" matches "$WORK/ratio.tsv" 0.000001
in_unit_range() { awk '$1 < 0 || $1 > 1 { bad = 1 } END { exit bad + 0 }' "$1"; }
check "every cache_hit_ratio is in [0, 1]" in_unit_range "$WORK/ratio.tsv"
check "the poll that saw the repeated reads has a ratio above 0.9" \
        num_cmp "$(got_at_max_delta "$WORK/ratio.tsv")" '>' 0.9
done_testing
