#!/bin/bash
# How fast perfwatchd's API answers: wrk with one thread and 32 keep-alive
# connections on GET /v1/status, then, in the same run, the same wrk on the
# demo target's GET /memory (Go net/http, a JSON answer of similar size) and
# on its GET /healthz (Go net/http, a tiny JSON answer).  Prints requests/s
# and latency of each and the ratios.  Everything listens on 127.0.0.1 and
# is ended by PID on exit.
#   bench/api.sh [SECONDS]     seconds per wrk run, default 10
# PERFWATCHD and DEMO_TARGET, when both set, name prebuilt binaries and skip
# the build.
set -u
. "$(dirname "$0")/../tools/lib.sh"

SECS=${1:-10}
case $SECS in
''|*[!0-9]*|0) echo "usage: $0 [SECONDS]: \"$SECS\" is not a positive number of seconds" >&2; exit 2 ;;
esac
GOAL_RPS=50000
CONNS=32

install_missing wrk || exit 1
if [ -z "${PERFWATCHD:-}" ] || [ -z "${DEMO_TARGET:-}" ]; then
        say "building perfwatchd and the demo target (build/, no sanitizers)"
        build build || exit 1
        make -C "$TOP/build" tests/target/demo-target >/dev/null || exit 1
        PERFWATCHD=$TOP/build/perfwatchd
        DEMO_TARGET=$TOP/build/tests/target/demo-target
fi

WORK=$(mktemp -d /tmp/perfwatch-bench.XXXXXX)
PIDS=""
cleanup() {
        local p
        for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
        for p in $PIDS; do wait "$p" 2>/dev/null; done
        [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() {    # wait_for SECONDS COMMAND...: polls COMMAND every 0.1 s
        local i
        for i in $(seq $(($1 * 10))); do "${@:2}" >/dev/null 2>&1 && return 0; sleep 0.1; done
        return 1
}
status_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

MEM_PORT=$(free_port) API_PORT=$(free_port) PPROF_PORT=$(free_port) PW_PORT=$(free_port)
MEM_URL=http://127.0.0.1:$MEM_PORT/memory
GO_HEALTHZ=http://127.0.0.1:$API_PORT/healthz
PW=http://127.0.0.1:$PW_PORT

"$DEMO_TARGET" -memory "127.0.0.1:$MEM_PORT" -api "127.0.0.1:$API_PORT" \
        -pprof "127.0.0.1:$PPROF_PORT" >"$WORK/target.log" 2>&1 &
TARGET_PID=$!
PIDS="$PIDS $TARGET_PID"
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
memory_met() { [ "$(curl -s --max-time 2 "$PW/v1/criteria/memory" | jq -r .state)" = met ]; }
wait_for 20 memory_met || { echo "perfwatchd: criterion memory never met:" >&2; cat "$WORK/perfwatchd.log" >&2; exit 1; }

# keep_alive URL: curl fetches URL twice in one invocation; the second
# request must reuse the first connection.
keep_alive() {
        if curl -sv -o /dev/null -o /dev/null "$1" "$1" 2>&1 | grep -q 'Re-using existing connection'; then
                echo "$1: keep-alive (curl re-used the connection)"
        else
                echo "$1: NO keep-alive (curl opened a new connection)"
                return 1
        fi
}
say "checking keep-alive and answer sizes"
ka=0
keep_alive "$PW/v1/status" || ka=1
keep_alive "$MEM_URL" || ka=1
keep_alive "$GO_HEALTHZ" || ka=1
for u in "$PW/v1/status" "$MEM_URL" "$GO_HEALTHZ"; do
        echo "$u: $(curl -s -o /dev/null -w '%{http_code}, %{size_download}' "$u") bytes"
done

# bench NAME URL: one wrk run; leaves wrk's report in WORK/NAME.wrk.
bench() {
        say "wrk -t1 -c$CONNS -d${SECS}s --latency $2"
        timeout $((SECS + 30)) wrk -t1 -c"$CONNS" -d"${SECS}s" --latency "$2" >"$WORK/$1.wrk" 2>&1 ||
                { echo "wrk on $2 failed:" >&2; cat "$WORK/$1.wrk" >&2; exit 1; }
        sed 's/^/    /' "$WORK/$1.wrk"
}
bench perfwatchd "$PW/v1/status"
pw_hwm=$(status_kib "$PW_PID" VmHWM)
bench go-memory "$MEM_URL"
bench go-healthz "$GO_HEALTHZ"

# wrk_summary FILE: requests/s, latency avg, p50, p99, max and the number of
# failed requests (non-2xx answers plus socket errors).
wrk_summary() {
        awk '/^Requests\/sec:/ { rps = $2 }
             $1 == "Latency" && NF >= 4 { avg = $2; max = $4 }
             $1 == "50%" { p50 = $2 }
             $1 == "99%" { p99 = $2 }
             /Non-2xx or 3xx responses:/ { bad += $NF }
             /Socket errors:/ { gsub(",", ""); bad += $4 + $6 + $8 + $10 }
             END { print rps, avg, p50, p99, max, bad + 0 }' "$1"
}
read -r pw_rps pw_avg pw_p50 pw_p99 pw_max pw_bad < <(wrk_summary "$WORK/perfwatchd.wrk")
read -r gm_rps gm_avg gm_p50 gm_p99 gm_max gm_bad < <(wrk_summary "$WORK/go-memory.wrk")
read -r gh_rps gh_avg gh_p50 gh_p99 gh_max gh_bad < <(wrk_summary "$WORK/go-healthz.wrk")

echo
printf '%-36s %12s %10s %10s %10s %10s %8s\n' "wrk -t1 -c$CONNS, ${SECS} s each" req/s "lat avg" p50 p99 max errors
printf '%-36s %12.0f %10s %10s %10s %10s %8d\n' "perfwatchd GET /v1/status" \
        "$pw_rps" "$pw_avg" "$pw_p50" "$pw_p99" "$pw_max" "$pw_bad"
printf '%-36s %12.0f %10s %10s %10s %10s %8d\n' "Go net/http GET /memory (demo target)" \
        "$gm_rps" "$gm_avg" "$gm_p50" "$gm_p99" "$gm_max" "$gm_bad"
printf '%-36s %12.0f %10s %10s %10s %10s %8d\n' "Go net/http GET /healthz (demo)" \
        "$gh_rps" "$gh_avg" "$gh_p50" "$gh_p99" "$gh_max" "$gh_bad"
echo
awk -v pw="$pw_rps" -v gm="$gm_rps" -v gh="$gh_rps" -v goal="$GOAL_RPS" -v hwm="$pw_hwm" \
    -v bad=$((pw_bad + gm_bad + gh_bad)) -v ka="$ka" 'BEGIN {
        printf "ratio perfwatchd /v1/status / Go /memory:  %.2f\n", pw / gm
        printf "ratio perfwatchd /v1/status / Go /healthz: %.2f\n", pw / gh
        printf "perfwatchd peak RSS after the run: %.1f MiB\n", hwm / 1024
        printf "goal: >= %d req/s on /v1/status: %.0f req/s, %s\n", goal, pw,
                (pw >= goal ? "meets the goal" : "MISSES the goal")
        if (bad) print "WARNING: some requests failed (see errors above)"
        if (ka) print "WARNING: a server did not keep the connection alive"
}'
