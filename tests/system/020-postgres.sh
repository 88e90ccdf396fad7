#!/bin/bash
# A real PostgreSQL polled through libpq's asynchronous API: its statistics
# become pg.main.* series, pgbench load raises the commit rate, a stopped
# server gives up=0 and a reconnect, and a frozen one (SIGSTOP) times out
# without delaying the /memory polls or the API.
. "$TOP_SRCDIR/tests/system/lib.sh"
. "$TOP_SRCDIR/tests/system/pg-lib.sh"

PGBENCH=$(command -v pgbench || echo "$PG_BINDIR/pgbench")
[ -x "$PGBENCH" ] || { echo "1..0 # SKIP pgbench not found"; exit 0; }

pg_start
start_target
# The password is not needed (trust) but must never be shown.
write_config "$WORK/pw.conf" "[postgres main]" "conninfo = $PG_CONNINFO password=hush-hush" \
        "interval = 1s" "timeout = 2s"
start_daemon "$WORK/pw.conf"

src() { jget "$PW/v1/sources" ".sources[] | select(.name==\"$1\") | $2"; }
last() { jget "$PW/v1/metrics" ".metrics[] | select(.name==\"$1\") | .last"; }
is_number() { [[ $1 =~ ^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$ ]]; }
has_series() { is_number "$(last "$1")"; }
num_cmp() { awk "BEGIN { exit !(($1) $2 ($3)) }" </dev/null; }  # num_cmp EXPR OP EXPR
now_s() { date +%s.%N; }
series_max() {          # series_max METRIC FROM [TO]
        jget "$PW/v1/series?metric=$1&from=$2&to=${3:-now}" '[.points[][1]] | max'
}
# The largest gap, in ms, between consecutive stored points of METRIC.
series_max_gap() {      # series_max_gap METRIC FROM TO
        jget "$PW/v1/series?metric=$1&from=$2&to=$3" \
                '[.points[][0]] | [range(1; length) as $i | .[$i] - .[$i - 1]] | max'
}
api_fast() {            # api_fast: 20 requests, each under 100 ms
        local slow=0 t
        for _ in $(seq 20); do
                t=$(curl -s -o /dev/null -w '%{time_total}' "$PW/v1/sources")
                num_cmp "$t" '<' 0.1 || { slow=$((slow + 1)); diag "slow answer: ${t}s"; }
        done
        return "$slow"
}

# --- statistics of a healthy server
check "the source pg.main comes up" wait_until 15 source_up_is pg.main true
check "pg.main is of kind postgres" test "$(src pg.main .kind)" = postgres
url=$(src pg.main .url)
diag "url: $url"
url_is_public() { [[ $1 == *"port=$PGPORT"* && $1 != *hush-hush* && $1 != *password* ]]; }
check "the source's url is the conninfo without its password" url_is_public "$url"

check "pg.main.numbackends is recorded" wait_until 10 has_series pg.main.numbackends
missing=""
for c in numbackends xact_commit xact_rollback blks_read blks_hit tup_returned tup_fetched tup_inserted \
        tup_updated tup_deleted conflicts temp_files temp_bytes deadlocks database_size_bytes \
        max_connections replication_lag_seconds connections.active connections.idle \
        connections.idle_in_transaction connections.idle_in_transaction_aborted \
        connections.fastpath_function_call connections.disabled connections.total; do
        has_series "pg.main.$c" || missing="$missing $c"
done
[ -z "$missing" ] || diag "missing:$missing"
ok "$([ -z "$missing" ]; echo $?)" "every statistic is a series pg.main.<column>"
check "pg.main.max_connections matches SHOW max_connections" \
        test "$(last pg.main.max_connections)" = "$(pg_psql -c 'SHOW max_connections')"
check "pg.main.database_size_bytes is above 0" num_cmp "$(last pg.main.database_size_bytes)" '>' 0
check "pg.main.replication_lag_seconds is 0 on a primary" test "$(last pg.main.replication_lag_seconds)" = 0
check "connections.active counts the poll's own session" num_cmp "$(last pg.main.connections.active)" '>=' 1
check "pg.main.xact_commit_rate appears from the second poll" wait_until 10 has_series pg.main.xact_commit_rate
ratio_ok() { has_series pg.main.cache_hit_ratio && num_cmp "$(last pg.main.cache_hit_ratio)" '<=' 1; }
check "pg.main.cache_hit_ratio is a ratio" wait_until 10 ratio_ok
server_version_known() { [ "$(src pg.main .server_version)" != null ]; }
check "server_version is shown in /v1/sources" wait_until 10 server_version_known
check "server_version is the server's own" \
        test "$(src pg.main .server_version)" = "$(pg_psql -c 'SHOW server_version')"
check "aurora_version() was tried and the server found not to be Aurora" \
        wait_until 10 grep -q "server is not Aurora" "$DAEMON_LOG"
check "aurora_version is null for a plain PostgreSQL" test "$(src pg.main .aurora_version)" = null

# --- load
sleep 3
idle=$(series_max pg.main.xact_commit_rate now-4s)
diag "idle xact_commit_rate (max over 4 s): $idle"
inserted_before=$(last pg.main.tup_inserted)
pgbench() {            # pgbench LOG ARGS...
        local log=$1; shift
        "$PGBENCH" -h 127.0.0.1 -p "$PGPORT" -U postgres "$@" postgres >"$WORK/$log" 2>&1
}
check "pgbench -i initialises its tables" pgbench pgbench-init.log -i -q
inserted_grew() { num_cmp "$(last pg.main.tup_inserted)" '>=' "$inserted_before + 100000"; }
check "pg.main.tup_inserted grows by pgbench's 100000 accounts" wait_until 10 inserted_grew
t0=$(now_s)
check "pgbench -T 5 -c 4 runs" pgbench pgbench.log -T 5 -c 4 -j 2
sleep 3
busy=$(series_max pg.main.xact_commit_rate "$t0")
diag "xact_commit_rate during pgbench (max): $busy/s; $(grep -E '^tps' "$WORK/pgbench.log")"
check "the commit rate under pgbench exceeds 10x the idle rate" num_cmp "$busy" '>' "10 * $idle"
check "the commit rate under pgbench exceeds 100/s" num_cmp "$busy" '>' 100

# --- a stopped server
check "pg_ctl stop -m fast stops the server" pg_stop fast
check "the source goes down once the server is stopped" wait_until 10 source_up_is pg.main false
err=$(src pg.main .last_error)
diag "last_error: $err"
check "the reason names the lost connection" grep -Eqi 'connect|terminat|lost' <<<"$err"
check "20 requests with the server down each answer in under 100 ms" api_fast
no_libpq_noise() { ! grep -Eq '^(ERROR|FATAL|WARNING): ' "$DAEMON_LOG"; }
check "the server's goodbye went to the log, not raw to stderr" no_libpq_noise
pg_restart
check "the source reconnects once the server is back" wait_until 90 source_up_is pg.main true

# --- a frozen server: every process of the cluster stopped
polls_before=$(src go.app.memory .polls)
t_stop=$(now_s)
pg_signal STOP
timed_out() { [ "$(src pg.main .up)" = false ] && grep -q 'timed out' <<<"$(src pg.main .last_error)"; }
check "the poll of a frozen server times out" wait_until 10 timed_out
elapsed=$(awk -v a="$t_stop" -v b="$(now_s)" 'BEGIN { printf "%.1f", b - a }')
diag "timed out after ${elapsed}s: $(src pg.main .last_error)"
check "it times out within timeout + interval (+1 s slack)" num_cmp "$elapsed" '<=' 4
check "20 requests with the server frozen each answer in under 100 ms" api_fast
sleep 3
check "the daemon is still running" kill -0 "$PW_PID"
t_end=$(now_s)
pg_signal CONT
polls_after=$(src go.app.memory .polls)
diag "go.app.memory polls while frozen: $((polls_after - polls_before)) in ${elapsed}s + 3s"
check "the /memory source kept polling" num_cmp "$polls_after - $polls_before" '>=' 8
sleep 2                 # a flush interval, so the window's samples are stored
gap=$(series_max_gap go.app.Sys "$t_stop" "$t_end")
diag "largest gap between go.app.Sys samples while frozen: ${gap} ms"
check "go.app.Sys samples stayed ~500 ms apart (no gap over 700 ms)" num_cmp "$gap" '<=' 700
check "the source recovers once the server resumes" wait_until 90 source_up_is pg.main true
done_testing
