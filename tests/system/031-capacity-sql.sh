#!/bin/bash
# [capacity] source = sql against a real PostgreSQL: the user's query is run
# on a connection of its own and its single number becomes aurora.<name>.acu;
# a query answering text, several rows or an error gives up=0 with the reason.
. "$TOP_SRCDIR/tests/system/lib.sh"
. "$TOP_SRCDIR/tests/system/pg-lib.sh"

command -v jq >/dev/null || bail "jq is needed"
SOURCE=aurora.acu

pg_start
pg_psql -c "CREATE TABLE capacity (ts timestamptz NOT NULL DEFAULT clock_timestamp(), acu numeric NOT NULL)" \
        -c "INSERT INTO capacity (acu) VALUES (2)" || bail "cannot create the capacity table"

capacity_config() {     # capacity_config QUERY
        write_config "$WORK/pw.conf" \
                "[postgres main]" "conninfo = $PG_CONNINFO" "interval = 1m" "timeout = 2s" \
                "[capacity acu]" "source = sql" "postgres = main" "interval = 1s" "timeout = 2s" "query = $1"
}
start_target
capacity_config "SELECT acu FROM capacity ORDER BY ts DESC LIMIT 1"
start_daemon "$WORK/pw.conf"

last_acu() { jget "$PW/v1/metrics" '.metrics[] | select(.name == "aurora.acu.acu") | .last'; }
acu_is() { [ "$(last_acu)" = "$1" ]; }
last_error() { jget "$PW/v1/sources" ".sources[] | select(.name == \"$SOURCE\") | .last_error"; }
error_has() { source_up_is "$SOURCE" false && grep -qF -- "$1" <<<"$(last_error)"; }

check "the capacity_sql source comes up" wait_until 15 source_up_is "$SOURCE" true
check "its kind is capacity_sql" \
        test "$(jget "$PW/v1/sources" ".sources[] | select(.name == \"$SOURCE\") | .kind")" = capacity_sql
check "aurora.acu.acu is 2 at first" wait_until 10 acu_is 2
pg_psql -c "INSERT INTO capacity (acu) VALUES (8)"
check "after the table says 8, the series follows" wait_until 10 acu_is 8
pg_psql -c "INSERT INTO capacity (acu) VALUES (16)"
check "after 16, the series follows" wait_until 10 acu_is 16
check "the series holds 2, 8 and 16 in that order" \
        test "$(jget "$PW/v1/series?metric=aurora.acu.acu&from=now-1h" '[.points | sort_by(.[0]) | .[][1]] as $v | ($v | unique) == [2, 8, 16] and $v == ($v | sort)')" = true

reload_with() {         # reload_with QUERY
        capacity_config "$1"
        kill -HUP "$PW_PID"
}

reload_with "SELECT 'abc'"
check "a query returning text gives up=0 with \"not a number: 'abc'\"" wait_until 15 error_has "not a number: 'abc'"
reload_with "SELECT acu FROM capacity"
check "a query returning three rows gives up=0 with 'query returned 3 rows'" \
        wait_until 15 error_has "query returned 3 rows"
reload_with "SELECT acu FROM no_such_table"
check "a failing query gives up=0 with the server's message" \
        wait_until 15 error_has 'relation "no_such_table" does not exist'
reload_with "SELECT acu FROM capacity ORDER BY ts DESC LIMIT 1"
check "with a good query again the source is up" wait_until 20 source_up_is "$SOURCE" true

pg_stop
check "with the server stopped, up=0 with a reason" wait_until 20 source_up_is "$SOURCE" false
check "the API keeps answering" curl -sf --max-time 1 -o /dev/null "$PW/v1/status"
pg_restart
pg_psql -c "INSERT INTO capacity (acu) VALUES (4)"
check "after a restart of the server it reconnects and reads 4" wait_until 30 acu_is 4

check "SIGTERM stops perfwatchd with exit status 0" stop_daemon
done_testing
