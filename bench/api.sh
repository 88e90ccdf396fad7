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
. "$(dirname "$0")/lib.sh"

bench_seconds 10 "${1:-}"
GOAL_RPS=50000
CONNS=32

install_missing wrk || exit 1
bench_binaries
bench_work

start_demo_target
GO_HEALTHZ=http://127.0.0.1:$API_PORT/healthz
perfwatchd_port
example_config
memory_met() { [ "$(curl -s --max-time 2 "$PW/v1/criteria/memory" | jq -r .state)" = met ]; }
start_perfwatchd "perfwatchd: criterion memory never met" memory_met

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
