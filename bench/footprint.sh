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
. "$(dirname "$0")/../tools/lib.sh"

SECS=${1:-60}
case $SECS in
''|*[!0-9]*|0) echo "usage: $0 [SECONDS]: \"$SECS\" is not a positive number of seconds" >&2; exit 2 ;;
esac
GOAL_RSS_KIB=$((12 * 1024))
GOAL_CPU_PCT=0.5

install_missing time || exit 1
if [ -z "${PERFWATCHD:-}" ] || [ -z "${DEMO_TARGET:-}" ]; then
        say "building perfwatchd and the demo target (build/, no sanitizers)"
        build build || exit 1
        make -C "$TOP/build" tests/target/demo-target >/dev/null || exit 1
        PERFWATCHD=$TOP/build/perfwatchd
        DEMO_TARGET=$TOP/build/tests/target/demo-target
fi
CLK_TCK=$(getconf CLK_TCK)

WORK=$(mktemp -d /tmp/perfwatch-bench.XXXXXX)
PIDS=""
cleanup() {
        local p
        # GNU time does not pass a signal on to the loop it measures.
        [ -n "${SH_PID:-}" ] && pkill -TERM -P "$SH_PID" 2>/dev/null
        for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
        for p in $PIDS; do wait "$p" 2>/dev/null; done
        [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now_usec() { echo "${EPOCHREALTIME/./}"; }
wait_for() {    # wait_for SECONDS COMMAND...: polls COMMAND every 0.1 s
        local i
        for i in $(seq $(($1 * 10))); do "${@:2}" >/dev/null 2>&1 && return 0; sleep 0.1; done
        return 1
}

# cpu_ticks PID: utime+stime of PID itself.  The fields are counted after
# the last ')' because the command name may hold spaces.
cpu_ticks() {
        local s f
        s=$(<"/proc/$1/stat") || return 1
        read -r -a f <<<"${s##*) }"
        echo $((f[11] + f[12]))
}
status_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

MEM_PORT=$(free_port) API_PORT=$(free_port) PPROF_PORT=$(free_port) PW_PORT=$(free_port)
MEM_URL=http://127.0.0.1:$MEM_PORT/memory
PW=http://127.0.0.1:$PW_PORT

"$DEMO_TARGET" -memory "127.0.0.1:$MEM_PORT" -api "127.0.0.1:$API_PORT" \
        -pprof "127.0.0.1:$PPROF_PORT" >"$WORK/target.log" 2>&1 &
PIDS="$PIDS $!"
wait_for 20 curl -sf "$MEM_URL" || { echo "demo target did not start: $(cat "$WORK/target.log")" >&2; exit 1; }

# The shipped example config, as a user would run it, polling every second.
sed -e "s|^database = .*|database = $WORK/perfwatch.db|" \
    -e "s|^listen = .*|listen = 127.0.0.1:$PW_PORT|" \
    -e "s|http://127.0.0.1:9091/memory|$MEM_URL|" \
    -e "s|^memory_interval = .*|memory_interval = 1s|" \
    "$TOP/etc/perfwatchd.conf" >"$WORK/perfwatchd.conf"
"$PERFWATCHD" --config "$WORK/perfwatchd.conf" 2>"$WORK/perfwatchd.log" &
PW_PID=$!
PIDS="$PIDS $PW_PID"
source_up() { [ "$(curl -s --max-time 2 "$PW/v1/sources" | jq -r '.sources[0].up')" = true ]; }
wait_for 20 source_up || { echo "perfwatchd is not polling $MEM_URL:" >&2; cat "$WORK/perfwatchd.log" >&2; exit 1; }

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
pw_t1=$(cpu_ticks "$PW_PID")
pw_hwm=$(status_kib "$PW_PID" VmHWM)
pw_rss=$(status_kib "$PW_PID" VmRSS)
pw_anon=$(status_kib "$PW_PID" RssAnon)
pw_file=$(status_kib "$PW_PID" RssFile)
pw_threads=$(status_kib "$PW_PID" Threads)
pw_pss=$(awk '$1 == "Pss:" { print $2 }' "/proc/$PW_PID/smaps_rollup" 2>/dev/null)

[ "$sh_status" -eq 0 ] || { echo "the shell loop failed ($sh_status):" >&2; cat "$WORK/shell.log" >&2; exit 1; }

# Samples are flushed once a second: let the last ones reach the store.
sleep 1.5
from=$((t0 / 1000000)).$(printf %06d $((t0 % 1000000)))
to=$((t1 / 1000000)).$(printf %06d $((t1 % 1000000)))
pw_samples=$(curl -s "$PW/v1/series?metric=go.app.Sys&from=$from&to=$to" | jq '.points | length')
pw_source=$(curl -s "$PW/v1/sources" | jq -r '.sources[0] | "up=\(.up) polls=\(.polls) failures=\(.failures)"')
sh_samples=$(sqlite3 "$WORK/shell.db" "SELECT count(*) FROM samples WHERE metric = 'go.app.Sys'")
read -r sh_user sh_sys sh_maxrss <"$WORK/shell.time"

awk -v wall_us=$((t1 - t0)) -v tck="$CLK_TCK" -v pw_ticks=$((pw_t1 - pw_t0)) \
    -v pw_hwm="$pw_hwm" -v pw_rss="$pw_rss" -v pw_anon="$pw_anon" -v pw_file="$pw_file" \
    -v pw_threads="$pw_threads" -v pw_pss="${pw_pss:-0}" -v sh_user="$sh_user" -v sh_sys="$sh_sys" \
    -v sh_maxrss="$sh_maxrss" -v goal_rss="$GOAL_RSS_KIB" -v goal_cpu="$GOAL_CPU_PCT" \
    -v pw_n="$pw_samples" -v sh_n="$sh_samples" -v secs="$SECS" -v pw_src="$pw_source" '
function verdict(ok) { return ok ? "meets the goal" : "MISSES the goal" }
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
        printf "perfwatchd RSS now %.1f MiB (anonymous %.1f MiB, files and libraries %.1f MiB), %d threads\n",
                pw_rss / 1024, pw_anon / 1024, pw_file / 1024, pw_threads
        printf "perfwatchd PSS now %.1f MiB (shared library pages divided among their users)\n", pw_pss / 1024
        printf "shell loop peak RSS is that of its largest process (GNU time %%M)\n"
        if (pw_cpu > 0 && sh_cpu > 0)
                printf "CPU ratio perfwatchd / shell loop: %.3f (the shell loop uses %.0fx the CPU)\n",
                        pw_cpu / sh_cpu, sh_cpu / pw_cpu
        else
                printf "CPU ratio: not measurable, under one clock tick (1/%d s); run longer\n", tck
        printf "\ngoal: peak RSS <= %d MiB: %.1f MiB, %s\n", goal_rss / 1024, pw_hwm / 1024,
                verdict(pw_hwm <= goal_rss)
        printf "goal: CPU <= %.1f%% of a core: %.3f%%, %s\n", goal_cpu, pw_pct, verdict(pw_pct <= goal_cpu)
        if (pw_n < secs - 2 || pw_n > secs + 2)
                printf "WARNING: perfwatchd stored %d samples in %d s, not about one a second\n", pw_n, secs
}'
