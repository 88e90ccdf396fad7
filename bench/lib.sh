# Shared by the scripts of bench/ (sourced; it sources tools/lib.sh for
# TOP, say, install_missing and build): the work directory and the exit
# trap that ends every started PID, free loopback ports, the demo target and
# perfwatchd started on 127.0.0.1, readings of /proc, and the awk functions
# that print the footprint scripts' goals.
# shellcheck disable=SC2034 # what it sets is read by the scripts that source it

. "$(dirname "${BASH_SOURCE[0]}")/../tools/lib.sh"

PY=/usr/bin/python3
CLK_TCK=$(getconf CLK_TCK)

bail() { echo "$*" >&2; exit 1; }

# bench_seconds DEFAULT [ARG]: sets SECS to ARG (DEFAULT when empty), a
# positive number of seconds, or ends the script with its usage.
bench_seconds() {
        SECS=${2:-$1}
        case $SECS in
        ''|*[!0-9]*|0) echo "usage: $0 [SECONDS]: \"$SECS\" is not a positive number of seconds" >&2; exit 2 ;;
        esac
}

# bench_binaries: PERFWATCHD and DEMO_TARGET, both prebuilt when both are
# set, else built under build/ without sanitizers.
bench_binaries() {
        [ -n "${PERFWATCHD:-}" ] && [ -n "${DEMO_TARGET:-}" ] && return 0
        say "building perfwatchd and the demo target (build/, no sanitizers)"
        build build || exit 1
        make -C "$TOP/build" tests/target/demo-target >/dev/null || exit 1
        PERFWATCHD=$TOP/build/perfwatchd
        DEMO_TARGET=$TOP/build/tests/target/demo-target
}

# bench_work: creates WORK and ends, on exit, every PID in PIDS (TERM, then
# waits for it).  A script may define cleanup_first (run before, e.g. for
# what GNU time does not pass a signal on to) and cleanup_last (run after).
# KEEP_WORK=1 keeps WORK.
bench_work() {
        WORK=$(mktemp -d /tmp/perfwatch-bench.XXXXXX) || bail "cannot create a work directory under /tmp"
        PIDS=""
        trap cleanup EXIT
        trap 'exit 130' INT TERM
}
cleanup() {
        local p
        ! declare -F cleanup_first >/dev/null || cleanup_first
        for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
        for p in $PIDS; do wait "$p" 2>/dev/null; done
        ! declare -F cleanup_last >/dev/null || cleanup_last
        [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}

# load_average: the machine's 1, 5 and 15 minute load averages, to print
# beside timings (the load scripts' figures move with what else runs).
load_average() { echo "load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"; }

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now_usec() { echo "${EPOCHREALTIME/./}"; }
usec_to_s() { echo "$(($1 / 1000000)).$(printf %06d $(($1 % 1000000)))"; }
wait_for() {    # wait_for SECONDS COMMAND...: polls COMMAND every 0.1 s
        local _
        for _ in $(seq $(($1 * 10))); do "${@:2}" >/dev/null 2>&1 && return 0; sleep 0.1; done
        return 1
}
jget() { curl -s --max-time 5 "$1" | jq -r "$2"; }

# bench_load_binaries: DEMO_TARGET and LOAD_BENCH (tests/load-bench, the
# load engine's hand-run driver), both prebuilt when both are set, else
# built under build/ without sanitizers.
bench_load_binaries() {
        [ -n "${LOAD_BENCH:-}" ] && [ -n "${DEMO_TARGET:-}" ] && return 0
        say "building the demo target and tests/load-bench (build/, no sanitizers)"
        build build || exit 1
        make -C "$TOP/build" tests/target/demo-target tests/load-bench >/dev/null || exit 1
        LOAD_BENCH=$TOP/build/tests/load-bench
        DEMO_TARGET=$TOP/build/tests/target/demo-target
}

# The load scripts pin the server and the client to one core each:
# SERVER_CPU and CLIENT_CPU (default 0 and 1) for taskset.
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}

# start_demo_target [ARGS...]: the demo target on three free loopback ports
# (MEM_PORT, API_PORT, PPROF_PORT; MEM_URL is its /memory), with ARGS;
# sets TARGET_PID and returns once /memory answers.  TARGET_WRAP, when set,
# is a command prefix that execs it (e.g. "env GOMAXPROCS=1 taskset -c 0"),
# so that TARGET_PID is still the target's own PID.
start_demo_target() {
        MEM_PORT=$(free_port) API_PORT=$(free_port) PPROF_PORT=$(free_port)
        MEM_URL=http://127.0.0.1:$MEM_PORT/memory
        # shellcheck disable=SC2086 # TARGET_WRAP is split into words on purpose
        ${TARGET_WRAP:-} "$DEMO_TARGET" -memory "127.0.0.1:$MEM_PORT" -api "127.0.0.1:$API_PORT" \
                -pprof "127.0.0.1:$PPROF_PORT" "$@" >"$WORK/target.log" 2>&1 &
        TARGET_PID=$!
        PIDS="$PIDS $TARGET_PID"
        wait_for 20 curl -sf "$MEM_URL" || bail "demo target did not start: $(cat "$WORK/target.log")"
}

# start_load_server: the server the load scripts measure against, on
# SERVER_CPU, per SERVER (default nginx):
#   nginx  Debian's nginx-light, one worker process (master_process off,
#          so its PID is the worker's), access log off, keep-alive without
#          a request limit, GET /healthz answered from the config (16 bytes
#          of JSON, the demo target's /healthz body); a server much lighter
#          than the clients, so that they, not it, are measured;
#   go     the demo target's API (Go net/http, GOMAXPROCS=1), which other
#          scripts and the tests use.
# Sets BASE (the server's URL), SERVER_PID and SERVER_DESC.
start_load_server() {
        case ${SERVER:=nginx} in
        go)
                TARGET_WRAP="env GOMAXPROCS=1 taskset -c $SERVER_CPU"
                # shellcheck disable=SC2119 # the demo target with no extra flags
                start_demo_target
                BASE=http://127.0.0.1:$API_PORT
                SERVER_PID=$TARGET_PID
                SERVER_DESC="the demo target's API (Go net/http, GOMAXPROCS=1) on CPU $SERVER_CPU"
                ;;
        nginx)
                local port
                port=$(free_port)
                mkdir -p "$WORK/nginx"
                cat >"$WORK/nginx/nginx.conf" <<NGINX
daemon off;
master_process off;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    client_body_temp_path $WORK/nginx;
    proxy_temp_path $WORK/nginx;
    fastcgi_temp_path $WORK/nginx;
    uwsgi_temp_path $WORK/nginx;
    scgi_temp_path $WORK/nginx;
    server {
        listen 127.0.0.1:$port backlog=4096;
        location = /healthz { default_type application/json; return 200 '{"status":"ok"}\n'; }
    }
}
NGINX
                taskset -c "$SERVER_CPU" /usr/sbin/nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" \
                        -e "$WORK/nginx/error.log" >"$WORK/nginx/out.log" 2>&1 &
                SERVER_PID=$!
                PIDS="$PIDS $SERVER_PID"
                BASE=http://127.0.0.1:$port
                wait_for 20 curl -sf "$BASE/healthz" ||
                        bail "nginx did not start: $(cat "$WORK/nginx/out.log" "$WORK/nginx/error.log" 2>/dev/null)"
                SERVER_DESC="nginx ($(/usr/sbin/nginx -v 2>&1 | sed 's|.*/||'), one worker) on CPU $SERVER_CPU"
                ;;
        *)
                bail "SERVER=$SERVER: nginx or go"
                ;;
        esac
}

# perfwatchd_port: PW_PORT, a free loopback port, and PW, perfwatchd's URL.
perfwatchd_port() {
        PW_PORT=$(free_port)
        PW=http://127.0.0.1:$PW_PORT
}

# example_config: WORK/perfwatchd.conf, the shipped example config as a user
# would run it, on WORK's database and PW_PORT, polling MEM_URL every second;
# its pprof_url is dropped, so only /memory is polled (footprint-all.sh
# measures the profiles, PostgreSQL and capacity).
example_config() {
        sed -e "s|^database = .*|database = $WORK/perfwatch.db|" \
            -e "/^pprof_url = /d" \
            -e "s|^listen = .*|listen = 127.0.0.1:$PW_PORT|" \
            -e "s|http://127.0.0.1:9091/memory|$MEM_URL|" \
            -e "s|^memory_interval = .*|memory_interval = 1s|" \
            "$TOP/etc/perfwatchd.conf" >"$WORK/perfwatchd.conf"
}

# start_perfwatchd PROBLEM COMMAND...: perfwatchd on WORK/perfwatchd.conf
# (PW_PID, log in WORK/perfwatchd.log); waits up to 20 s for COMMAND to
# succeed, else prints "PROBLEM:" and the log and ends the script.
start_perfwatchd() {
        "$PERFWATCHD" --config "$WORK/perfwatchd.conf" 2>"$WORK/perfwatchd.log" &
        PW_PID=$!
        PIDS="$PIDS $PW_PID"
        wait_for 20 "${@:2}" || { echo "$1:" >&2; cat "$WORK/perfwatchd.log" >&2; exit 1; }
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

# pw_snapshot: perfwatchd's CPU ticks (pw_t1) and memory now: pw_hwm (peak
# RSS), pw_rss, pw_anon, pw_file, pw_threads and pw_pss; PW_AWK holds them
# as awk -v arguments for FOOTPRINT_AWK's functions.
pw_snapshot() {
        pw_t1=$(cpu_ticks "$PW_PID")
        pw_hwm=$(status_kib "$PW_PID" VmHWM)
        pw_rss=$(status_kib "$PW_PID" VmRSS)
        pw_anon=$(status_kib "$PW_PID" RssAnon)
        pw_file=$(status_kib "$PW_PID" RssFile)
        pw_threads=$(status_kib "$PW_PID" Threads)
        pw_pss=$(awk '$1 == "Pss:" { print $2 }' "/proc/$PW_PID/smaps_rollup" 2>/dev/null)
        PW_AWK=(-v tck="$CLK_TCK" -v pw_hwm="$pw_hwm" -v pw_rss="$pw_rss" -v pw_anon="$pw_anon"
                -v pw_file="$pw_file" -v pw_threads="$pw_threads" -v pw_pss="${pw_pss:-0}")
}

# The footprint scripts' common lines, for an awk program given PW_AWK:
# perfwatchd's memory now, the CPU ratio against the alternative NAME (WHO
# uses Nx the CPU) and the two goals.
FOOTPRINT_AWK='
function verdict(ok) { return ok ? "meets the goal" : "MISSES the goal" }
function pw_memory() {
        printf "perfwatchd RSS now %.1f MiB (anonymous %.1f MiB, files and libraries %.1f MiB), %d threads\n",
                pw_rss / 1024, pw_anon / 1024, pw_file / 1024, pw_threads
        printf "perfwatchd PSS now %.1f MiB (shared library pages divided among their users)\n", pw_pss / 1024
}
function cpu_ratio(pw_cpu, sh_cpu, name, who) {
        if (pw_cpu > 0 && sh_cpu > 0)
                printf "CPU ratio perfwatchd / %s: %.3f (%s uses %.0fx the CPU)\n",
                        name, pw_cpu / sh_cpu, who, sh_cpu / pw_cpu
        else
                printf "CPU ratio: not measurable, under one clock tick (1/%d s); run longer\n", tck
}
function goals(goal_rss, goal_cpu, pw_pct) {
        printf "\ngoal: peak RSS <= %d MiB: %.1f MiB, %s\n", goal_rss / 1024, pw_hwm / 1024,
                verdict(pw_hwm <= goal_rss)
        printf "goal: CPU <= %.1f%% of a core: %.3f%%, %s\n", goal_cpu, pw_pct, verdict(pw_pct <= goal_cpu)
}
'
