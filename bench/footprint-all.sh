#!/bin/bash
# What watching the whole service costs: perfwatchd polling one Go target
# (/memory every 1 s, heap and goroutine profiles every 60 s, a 10 s CPU
# profile every 5 min), one PostgreSQL (every 5 s, under a light pgbench
# load) and one CloudWatch capacity source (every 60 s, against
# tests/cloudwatch-standin.py), against the pile of scripts it replaces
# doing the same polling: bash loops of curl, jq, psql and sqlite3.  Both
# run at the same time, against the same services, for SECONDS; the script
# prints peak RSS, CPU seconds and CPU as a share of one core for each, the
# ratio, what each collected, and the goals.  Everything listens on
# 127.0.0.1 and is ended by PID on exit; the PostgreSQL cluster is stopped
# with pg_ctl -m immediate and its directory removed.
#   bench/footprint-all.sh [SECONDS]     default 300
# PERFWATCHD and DEMO_TARGET, when both set, name prebuilt binaries and skip
# the build.  KEEP_WORK=1 keeps the work directory and the cluster's.
set -u
. "$(dirname "$0")/lib.sh"

bench_seconds 300 "${1:-}"
GOAL_RSS_KIB=$((12 * 1024))
GOAL_CPU_PCT=0.5
# The pile's first CPU profile waits this long: Go serves one CPU profile at
# a time, and perfwatchd takes its first within 5 s of its start.
PILE_CPU_OFFSET=30

install_missing time || exit 1
bench_binaries
bench_work
# tests/system/pg-lib.sh: PG_BINDIR, pg_start, pg_psql, pg_cleanup (stops
# with -m immediate, removes the cluster's directory unless KEEP_WORK).
. "$TOP/tests/system/pg-lib.sh"

# GNU time passes no signal on to the pile: end its whole process group
# (its own, see below).
cleanup_first() { [ -n "${PILE_PID:-}" ] && kill -TERM -- "-$PILE_PID" 2>/dev/null; }
cleanup_last() { pg_cleanup; }

# ------------------------------------------------------------ the service
say "starting the demo target (leaking 256 KiB/s up to 64 MiB), PostgreSQL and the CloudWatch stand-in"
start_demo_target -leak 256KiB -leak-limit 64MiB
PPROF_URL=http://127.0.0.1:$PPROF_PORT/debug/pprof
perfwatchd_port
CW_PORT=$(free_port)
CW_URL=http://127.0.0.1:$CW_PORT

pg_start
PGBENCH=$(command -v pgbench || echo "$PG_BINDIR/pgbench")
"$PGBENCH" -h 127.0.0.1 -p "$PGPORT" -U postgres -i -q postgres >"$WORK/pgbench-init.log" 2>&1 ||
        bail "pgbench -i failed: $(cat "$WORK/pgbench-init.log")"

AKID=AKIDPERFWATCHBENCH
SECRET='bench/Secret+Key:0123456789abcdef'
(umask 077 && printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$AKID" "$SECRET" \
        >"$WORK/aws-credentials")
chmod 600 "$WORK/aws-credentials"
STANDIN_ACCESS_KEY=$AKID STANDIN_SECRET=$SECRET \
        $PY "$TOP/tests/cloudwatch-standin.py" "$CW_PORT" --region eu-west-1 >"$WORK/standin.log" 2>&1 &
PIDS="$PIDS $!"
wait_for 10 curl -sf "$CW_URL/_stats" || bail "the CloudWatch stand-in did not start: $(cat "$WORK/standin.log")"

# ------------------------------------------------------------ perfwatchd
# The shipped example config's [daemon] and criteria, with the three
# sources of the figure.
cat >"$WORK/perfwatchd.conf" <<EOF
[daemon]
database = $WORK/perfwatch.db
listen = 127.0.0.1:$PW_PORT
retention = 14d
flush_interval = 1s
evaluate_interval = 1s
log_level = info

[target app]
memory_url = $MEM_URL
memory_interval = 1s
timeout = 5s
max_body = 1MiB
pprof_url = $PPROF_URL
heap_interval = 60s
goroutine_interval = 60s
cpu_interval = 5m
cpu_seconds = 10s

[postgres main]
conninfo = $PG_CONNINFO
interval = 5s
timeout = 5s

[capacity aurora]
source = cloudwatch
region = eu-west-1
cluster = app-cluster
endpoint = $CW_URL
credentials_file = $WORK/aws-credentials
period = 1m
lookback = 10m
interval = 60s
timeout = 10s

[criterion memory]
series = go.app.Sys
threshold = 512MiB
window = 1h
max_age = 5m

[criterion heap_avg]
series = go.app.HeapInuse
statistic = avg
op = <
threshold = 256MiB
window = 10m
max_age = 5m
EOF
SOURCES="go.app.memory go.app.heap go.app.goroutine go.app.cpu pg.main aurora.aurora"

pw_start=$(now_usec)
start_perfwatchd "perfwatchd did not start" curl -sf "$PW/healthz"

# ------------------------------------------------------------ the pile
# What users run instead, as one script so that GNU time accounts for it
# and every child: one bash loop per kind of poll, on the same beats.
cat >"$WORK/shell-pile.sh" <<'EOF'
#!/bin/bash
# shell-pile.sh SECONDS DIR MEM_URL PPROF_URL PG_CONNINFO CW_URL CREDENTIALS CPU_OFFSET
#   every 1 s:    curl MEM_URL | jq | sqlite3 (every numeric field, one transaction)
#   every 60 s:   curl the heap and goroutine profiles into DIR/profiles
#   every 300 s:  curl a 10 s CPU profile into DIR/profiles (from CPU_OFFSET s on,
#                 when it ends within SECONDS)
#   every 5 s:    psql pg_stat_database | sqlite3 (every numeric column)
#   every 60 s:   curl --aws-sigv4 GetMetricData (ACU, 10 min back) | jq | sqlite3
secs=$1 dir=$2 mem_url=$3 pprof=$4 conninfo=$5 cw=$6 creds=$7 cpu_offset=$8
db=$dir/pile.db
mkdir -p "$dir/profiles"
# The loops write one database at the same time: wait for its lock.
sqlite3() { command sqlite3 -cmd '.timeout 5000' "$@"; }
sqlite3 "$db" 'PRAGMA journal_mode=WAL;
        CREATE TABLE IF NOT EXISTS samples (ts INTEGER, metric TEXT, value REAL);
        CREATE TABLE IF NOT EXISTS capacity (ts INTEGER, metric TEXT, value REAL,
                                             PRIMARY KEY (ts, metric));' >/dev/null
start=${EPOCHREALTIME/./}
end=$((start + secs * 1000000))

every() {       # every PERIOD OFFSET COMMAND...: COMMAND at start+OFFSET, then every PERIOD s, until end
        local period=$(($1 * 1000000)) next=$((start + $2 * 1000000)) left frac
        shift 2
        while ((next < end)); do
                left=$((next - ${EPOCHREALTIME/./}))
                if ((left > 0)); then
                        printf -v frac %06d $((left % 1000000))
                        sleep "$((left / 1000000)).$frac"
                fi
                "$@"
                next=$((next + period))
        done
}

poll_memory() {
        curl -sf --max-time 5 "$mem_url" |
                jq -r '"BEGIN;",
                       (to_entries[] | select(.value | type == "number") |
                        "INSERT INTO samples VALUES (\(now * 1000 | floor), '"'go.app.\\(.key)'"', \(.value));"),
                       "COMMIT;"' |
                sqlite3 "$db"
}

poll_profiles() {
        local ts=${EPOCHREALTIME/./} kind
        for kind in heap goroutine; do
                curl -sf --max-time 30 -o "$dir/profiles/$kind-$ts.pb.gz" "$pprof/$kind"
        done
}

poll_cpu() {
        # One that would outlast the window is not started.
        ((${EPOCHREALTIME/./} + 10000000 <= end)) || return 0
        curl -sf --max-time 40 -o "$dir/profiles/cpu-${EPOCHREALTIME/./}.pb.gz" "$pprof/profile?seconds=10"
}

PG_SQL="SELECT format('INSERT INTO samples VALUES (%s, %L, %s);',
                      (extract(epoch FROM now()) * 1000)::bigint, 'pg.main.' || key, value)
        FROM pg_stat_database d, jsonb_each(to_jsonb(d)) AS j(key, value)
        WHERE d.datname = current_database() AND jsonb_typeof(value) = 'number'"
poll_pg() {
        { echo "BEGIN;"; psql "$conninfo" -X -A -t -q -c "$PG_SQL"; echo "COMMIT;"; } | sqlite3 "$db"
}

key=$(awk -F' *= *' '$1 == "aws_access_key_id" { print $2 }' "$creds")
secret=$(awk -F' *= *' '$1 == "aws_secret_access_key" { print $2 }' "$creds")
poll_capacity() {
        local now body q
        now=$(date +%s)
        q='{"Id":"%s","MetricStat":{"Metric":{"Namespace":"AWS/RDS","MetricName":"%s","Dimensions":[{"Name":"DBClusterIdentifier","Value":"app-cluster"}]},"Period":60,"Stat":"Average"},"ReturnData":true}'
        # shellcheck disable=SC2059 # q is the template of one query
        body="{\"StartTime\":$((now - 600)),\"EndTime\":$now,\"MetricDataQueries\":[$(printf "$q" acu ServerlessDatabaseCapacity),$(printf "$q" util ACUUtilization)]}"
        curl -sf --max-time 10 --aws-sigv4 aws:amz:eu-west-1:monitoring -u "$key:$secret" \
                -H 'Content-Type: application/x-amz-json-1.0' \
                -H 'X-Amz-Target: GraniteServiceVersion20100801.GetMetricData' --data "$body" "$cw/" |
                jq -r '"BEGIN;",
                       (.MetricDataResults[] | .Id as $id | [.Timestamps, .Values] | transpose[] |
                        "INSERT OR REPLACE INTO capacity VALUES (\(.[0] * 1000), '"'aurora.aurora.\\(\$id)'"', \(.[1]));"),
                       "COMMIT;"' |
                sqlite3 "$db"
}

every 1 0 poll_memory &
every 60 0 poll_profiles &
every 300 "$cpu_offset" poll_cpu &
every 5 0 poll_pg &
every 60 0 poll_capacity &
wait
# The window is SECONDS long whichever beat fired last.
left=$((end - ${EPOCHREALTIME/./}))
((left <= 0)) || sleep "$((left / 1000000)).$(printf %06d $((left % 1000000)))"
EOF

say "measuring for $SECS s: perfwatchd and the shell pile, both polling the target, PostgreSQL and CloudWatch"
"$PGBENCH" -h 127.0.0.1 -p "$PGPORT" -U postgres -n -c 1 -j 1 -R 20 -T "$SECS" postgres \
        >"$WORK/pgbench.log" 2>&1 &
PGB_PID=$!
PIDS="$PIDS $PGB_PID"
pw_t0=$(cpu_ticks "$PW_PID")
t0=$(now_usec)
# setsid: the pile gets a process group of its own (GNU time's PID), which
# cleanup can end as a whole on an interrupt.
setsid /usr/bin/time -f '%U %S %M %e' -o "$WORK/pile.time" \
        bash "$WORK/shell-pile.sh" "$SECS" "$WORK/pile" "$MEM_URL" "$PPROF_URL" "$PG_CONNINFO" "$CW_URL" \
        "$WORK/aws-credentials" "$PILE_CPU_OFFSET" 2>"$WORK/pile.log" &
PILE_PID=$!

all_up() {
        local s
        for s in $SOURCES; do
                [ "$(jget "$PW/v1/sources" ".sources[] | select(.name == \"$s\") | .up")" = true ] || return 1
        done
}
# Every source is up once its first poll succeeded: the CPU profile's within
# 5 + 10 s of the start.
wait_for 30 all_up || { echo "perfwatchd's sources are not all up after 30 s:" >&2;
        jget "$PW/v1/sources" '.sources[] | "\(.name) up=\(.up) \(.last_error // "")"' >&2; exit 1; }
say "every source of perfwatchd is up; waiting for the end of the window"

wait "$PILE_PID"
pile_status=$?
t1=$(now_usec)
PILE_PID=""
pw_snapshot
pw_total_ticks=$pw_t1
[ "$pile_status" -eq 0 ] || { echo "the shell pile failed ($pile_status):" >&2; cat "$WORK/pile.log" >&2; exit 1; }
wait "$PGB_PID"
pgbench_tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$WORK/pgbench.log")

# ------------------------------------------------------------ what each collected
# Profiles count from perfwatchd's start (its first ones may come before
# the pile's) to the end of the window (a poll may fall just after it).
sleep 1.5               # one flush interval: the window's last samples reach the store
from=$(usec_to_s "$t0") to=$(usec_to_s "$t1") pw_from=$(usec_to_s "$pw_start")
count_series() {        # count_series METRIC FROM TO
        jget "$PW/v1/series?metric=$1&from=$2&to=$3" '.points | length'
}
pw_sys=$(count_series go.app.Sys "$from" "$to")
pw_commit=$(count_series pg.main.xact_commit "$from" "$to")
pw_acu=$(count_series aurora.aurora.acu now-1h now)
profiles=""
for kind in heap goroutine cpu; do
        n=$(jget "$PW/v1/profiles?kind=$kind&from=$pw_from&to=$to&limit=1000" '.profiles | length')
        p=$(find "$WORK/pile/profiles" -name "$kind-*.pb.gz" -size +0 -exec gzip -t {} \; -print 2>/dev/null | wc -l)
        profiles="$profiles $kind $n $p"
done
pw_bytes=$(jget "$PW/v1/profiles?from=$pw_from&to=$to&limit=1000" '[.profiles[].bytes] | add // 0')
pile_sql() { sqlite3 "$WORK/pile/pile.db" "$1"; }
pile_sys=$(pile_sql "SELECT count(*) FROM samples WHERE metric = 'go.app.Sys'")
pile_commit=$(pile_sql "SELECT count(*) FROM samples WHERE metric = 'pg.main.xact_commit'")
pile_acu=$(pile_sql "SELECT count(*) FROM capacity WHERE metric = 'aurora.aurora.acu'")
sources=$(jget "$PW/v1/sources" '.sources[] | "  \(.name): up=\(.up) polls=\(.polls) failures=\(.failures)"')
down=$(jget "$PW/v1/sources" '[.sources[] | select(.up != true) | .name] | join(" ")')
read -r pile_user pile_sys_cpu pile_maxrss _ <"$WORK/pile.time"

echo
echo "perfwatchd's sources at the end of the window:"
echo "$sources"
awk "${PW_AWK[@]}" -v wall_us=$((t1 - t0)) -v pw_ticks=$((pw_t1 - pw_t0)) -v pw_all="$pw_total_ticks" \
    -v sh_user="$pile_user" -v sh_sys="$pile_sys_cpu" -v sh_maxrss="$pile_maxrss" \
    -v goal_rss="$GOAL_RSS_KIB" -v goal_cpu="$GOAL_CPU_PCT" \
    -v pw_sys="$pw_sys" -v sh_sys_n="$pile_sys" -v pw_commit="$pw_commit" -v sh_commit="$pile_commit" \
    -v pw_acu="$pw_acu" -v sh_acu="$pile_acu" -v profiles="$profiles" -v pw_bytes="$pw_bytes" \
    -v down="$down" -v tps="${pgbench_tps:-?}" -v cpu_offset="$PILE_CPU_OFFSET" \
    -v pile_errors="$(grep -vc '^$' "$WORK/pile.log")" "$FOOTPRINT_AWK"'
function row(label, a, b) { printf "%-38s %14s %14s\n", label, a, b }
BEGIN {
        wall = wall_us / 1e6
        pw_cpu = pw_ticks / tck; sh_cpu = sh_user + sh_sys
        pw_pct = 100 * pw_cpu / wall; sh_pct = 100 * sh_cpu / wall
        n = split(profiles, p, " ")
        printf "\nwall time %.1f s; pgbench -R 20 ran %s tps meanwhile\n\n", wall,
                tps == "?" ? tps : sprintf("%.1f", tps)
        row("", "perfwatchd", "shell pile")
        row("samples of go.app.Sys (1 s)", pw_sys, sh_sys_n)
        row("samples of pg.main.xact_commit (5 s)", pw_commit, sh_commit)
        row("datapoints of aurora.aurora.acu", pw_acu, sh_acu)
        for (i = 1; i <= n; i += 3)
                row("profiles stored: " p[i], p[i + 1], p[i + 2])
        row("peak RSS", sprintf("%.1f MiB", pw_hwm / 1024), sprintf("%.1f MiB", sh_maxrss / 1024))
        row("CPU seconds (user+sys)", sprintf("%.2f", pw_cpu), sprintf("%.2f", sh_cpu))
        row("CPU, share of one core", sprintf("%.3f%%", pw_pct), sprintf("%.3f%%", sh_pct))
        printf "\n"
        pw_memory()
        printf "perfwatchd CPU since its start (with start-up): %.2f s; profiles hold %.0f KiB\n",
                pw_all / tck, pw_bytes / 1024
        printf "shell pile peak RSS is that of its largest process (GNU time %%M); its first CPU profile\n"
        printf "waits %d s (Go serves one CPU profile at a time)\n", cpu_offset
        cpu_ratio(pw_cpu, sh_cpu, "shell pile", "the pile")
        goals(goal_rss, goal_cpu, pw_pct)
        if (pile_errors > 0)
                printf "WARNING: the shell pile wrote %d lines of errors (pile.log; KEEP_WORK=1 keeps it)\n",
                        pile_errors
        if (down != "")
                printf "WARNING: perfwatchd sources not up at the end: %s\n", down
        if (pw_sys < wall - 2 || pw_sys > wall + 2)
                printf "WARNING: perfwatchd stored %d go.app.Sys samples in %.1f s, not about one a second\n", pw_sys, wall
        if (pw_commit < int(wall / 5) - 1)
                printf "WARNING: perfwatchd stored %d pg.main.xact_commit samples in %.1f s, fewer than one per 5 s\n",
                        pw_commit, wall
}'
