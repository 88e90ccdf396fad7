#!/bin/bash
# What watching one Go service costs: perfwatchd polling the demo target's
# /memory every second, against the "shell profiler that curls" users write
# instead (a bash loop: curl | jq | sqlite3, one transaction per poll).  Both
# run at the same time, against the same target, for SECONDS; the script
# prints peak RSS, CPU seconds and CPU as a share of one core for each, and
# the ratio.  Everything listens on 127.0.0.1 and is ended by PID on exit.
#   bench/footprint.sh [SECONDS]     default 60
# PERFWATCHD and DEMO_TARGET, when both set, name prebuilt binaries and skip
# the build.
set -u
. "$(dirname "$0")/lib.sh"

bench_seconds 60 "${1:-}"
GOAL_RSS_KIB=$((12 * 1024))
GOAL_CPU_PCT=0.5

install_missing time || exit 1
bench_binaries
bench_work
# GNU time does not pass a signal on to the loop it measures.
cleanup_first() { [ -n "${SH_PID:-}" ] && pkill -TERM -P "$SH_PID" 2>/dev/null; }

start_demo_target
perfwatchd_port
example_config
source_up() { [ "$(curl -s --max-time 2 "$PW/v1/sources" | jq -r '.sources[0].up')" = true ]; }
start_perfwatchd "perfwatchd is not polling $MEM_URL" source_up

# The alternative, as a script of its own so GNU time can account for it
# and all its children.
cat >"$WORK/shell-profiler.sh" <<'EOF'
#!/bin/bash
# shell-profiler.sh URL DB SECONDS: every second, curl URL and store each
# numeric field of its JSON in SQLite, one transaction per poll.
url=$1 db=$2 secs=$3
sqlite3 "$db" 'PRAGMA journal_mode=WAL;
        CREATE TABLE IF NOT EXISTS samples (ts INTEGER, metric TEXT, value REAL);' >/dev/null
next=${EPOCHREALTIME/./}
end=$((next + secs * 1000000))
while ((next < end)); do
        curl -sf --max-time 5 "$url" |
                jq -r '"BEGIN;",
                       (to_entries[] | select(.value | type == "number") |
                        "INSERT INTO samples VALUES (\(now * 1000 | floor), '"'go.app.\\(.key)'"', \(.value));"),
                       "COMMIT;"' |
                sqlite3 "$db"
        next=$((next + 1000000))
        left=$((next - ${EPOCHREALTIME/./}))
        if ((left > 0)); then
                printf -v frac %06d $((left % 1000000))
                sleep "$((left / 1000000)).$frac"
        fi
done
EOF

say "measuring for $SECS s: perfwatchd and the shell loop, both polling $MEM_URL every 1 s"
pw_t0=$(cpu_ticks "$PW_PID")
t0=$(now_usec)
/usr/bin/time -f '%U %S %M' -o "$WORK/shell.time" \
        bash "$WORK/shell-profiler.sh" "$MEM_URL" "$WORK/shell.db" "$SECS" 2>"$WORK/shell.log" &
SH_PID=$!
PIDS="$PIDS $SH_PID"
wait "$SH_PID"
sh_status=$?
t1=$(now_usec)
pw_snapshot

[ "$sh_status" -eq 0 ] || { echo "the shell loop failed ($sh_status):" >&2; cat "$WORK/shell.log" >&2; exit 1; }

# Samples are flushed once a second: let the last ones reach the store.
sleep 1.5
from=$(usec_to_s "$t0") to=$(usec_to_s "$t1")
pw_samples=$(curl -s "$PW/v1/series?metric=go.app.Sys&from=$from&to=$to" | jq '.points | length')
pw_source=$(curl -s "$PW/v1/sources" | jq -r '.sources[0] | "up=\(.up) polls=\(.polls) failures=\(.failures)"')
sh_samples=$(sqlite3 "$WORK/shell.db" "SELECT count(*) FROM samples WHERE metric = 'go.app.Sys'")
read -r sh_user sh_sys sh_maxrss <"$WORK/shell.time"

awk "${PW_AWK[@]}" -v wall_us=$((t1 - t0)) -v pw_ticks=$((pw_t1 - pw_t0)) \
    -v sh_user="$sh_user" -v sh_sys="$sh_sys" -v sh_maxrss="$sh_maxrss" \
    -v goal_rss="$GOAL_RSS_KIB" -v goal_cpu="$GOAL_CPU_PCT" \
    -v pw_n="$pw_samples" -v sh_n="$sh_samples" -v secs="$SECS" -v pw_src="$pw_source" "$FOOTPRINT_AWK"'
BEGIN {
        wall = wall_us / 1e6
        pw_cpu = pw_ticks / tck; sh_cpu = sh_user + sh_sys
        pw_pct = 100 * pw_cpu / wall; sh_pct = 100 * sh_cpu / wall
        printf "\nwall time %.1f s, %d polls expected from each\n\n", wall, secs
        printf "%-32s %14s %14s\n", "", "perfwatchd", "shell loop"
        printf "%-32s %14d %14d\n", "samples of go.app.Sys stored", pw_n, sh_n
        printf "%-32s %10.1f MiB %10.1f MiB\n", "peak RSS", pw_hwm / 1024, sh_maxrss / 1024
        printf "%-32s %14.2f %14.2f\n", "CPU seconds (user+sys)", pw_cpu, sh_cpu
        printf "%-32s %13.3f%% %13.3f%%\n", "CPU, share of one core", pw_pct, sh_pct
        printf "\nperfwatchd source: %s\n", pw_src
        pw_memory()
        printf "shell loop peak RSS is that of its largest process (GNU time %%M)\n"
        cpu_ratio(pw_cpu, sh_cpu, "shell loop", "the shell loop")
        goals(goal_rss, goal_cpu, pw_pct)
        if (pw_n < secs - 2 || pw_n > secs + 2)
                printf "WARNING: perfwatchd stored %d samples in %d s, not about one a second\n", pw_n, secs
}'
