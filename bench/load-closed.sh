#!/bin/bash
# The load engine's closed-loop maximum on one core, against wrk and Locust.
# The server runs on one core (taskset -c SERVER_CPU): nginx, one worker
# (SERVER=nginx, the default: wrk makes some 80-90k req/s against it, more
# than twice what the engine can, so the clients are what is measured), or
# the demo target's API (SERVER=go: Go net/http, GOMAXPROCS=1, which holds
# every client near 35-40k req/s).  On the other core (taskset -c
# CLIENT_CPU), one after the other for SECONDS each and with the same number
# of connections (USERS, default 50), no think time:
#   - perfwatch's engine: tests/load-bench URL PATH users:USERS SECONDS
#   - wrk -t1 -cUSERS
#   - Locust FastHttpUser, USERS users, constant(0) wait, one process,
#     --headless
# on GET PATH (default /healthz).  Prints each one's requests/s, failures
# and CPU seconds (the whole process, from GNU time), and the ratios
# engine/wrk and engine/Locust of that run; RUNS runs (default 3), then the
# min/median/max of each ratio and the issue's bars.  Everything listens on
# 127.0.0.1 and is ended by PID on exit.
#   bench/load-closed.sh [SECONDS]    seconds per client, default 10
# USERS, RUNS, PATH_ (the request path), SERVER, SERVER_CPU and CLIENT_CPU
# from the environment; LOAD_BENCH and DEMO_TARGET, when both set, name prebuilt
# binaries and skip the build.
set -u
. "$(dirname "$0")/lib.sh"

bench_seconds 10 "${1:-}"
USERS=${USERS:-50}
RUNS=${RUNS:-3}
REQ_PATH=${PATH_:-/healthz}
LOCUST=/usr/bin/locust
BAR_WRK=0.5
BAR_LOCUST=5

install_missing wrk python3-locust time $([ "${SERVER:-nginx}" = nginx ] && echo nginx-light) || exit 1
bench_load_binaries
bench_work

start_load_server
curl -sf -o /dev/null "$BASE$REQ_PATH" || bail "GET $BASE$REQ_PATH does not answer 2xx"
PIN=(taskset -c "$CLIENT_CPU")
TIMED=(/usr/bin/time -f '%U %S')

cat >"$WORK/locustfile.py" <<PY
from locust import FastHttpUser, constant, task


class Bench(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self):
        self.client.get("$REQ_PATH")
PY

# cpu_of FILE: the user + system seconds GNU time wrote as the last line.
cpu_of() { tail -n 1 "$1" | awk '{ printf "%.2f", $1 + $2 }'; }

# run_engine N, run_wrk N, run_locust N: one client for SECS on CLIENT_CPU;
# each sets RPS, REQS, FAILS and CPU (seconds) and leaves its report in WORK.
run_engine() {
        local out=$WORK/engine-$1.txt
        timeout $((SECS + 60)) "${TIMED[@]}" -o "$out.time" "${PIN[@]}" \
                "$LOAD_BENCH" "$BASE" "$REQ_PATH" "users:$USERS" "$SECS" >"$out" 2>&1 ||
                { echo "load-bench failed:" >&2; cat "$out" >&2; exit 1; }
        RPS=$(awk '$1 == "achieved" { sub("/s", "", $2); print $2 }' "$out")
        read -r REQS FAILS < <(awk '$1 == "sent" { print $2, $2 - $4 }' "$out")
        CPU=$(cpu_of "$out.time")
}
run_wrk() {
        local out=$WORK/wrk-$1.txt
        timeout $((SECS + 60)) "${TIMED[@]}" -o "$out.time" "${PIN[@]}" \
                wrk -t1 -c"$USERS" -d"${SECS}s" "$BASE$REQ_PATH" >"$out" 2>&1 ||
                { echo "wrk failed:" >&2; cat "$out" >&2; exit 1; }
        RPS=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
        read -r REQS FAILS < <(awk '/ requests in / { n = $1 }
                /Non-2xx or 3xx responses:/ { bad += $NF }
                /Socket errors:/ { gsub(",", ""); bad += $4 + $6 + $8 + $10 }
                END { print n, bad + 0 }' "$out")
        CPU=$(cpu_of "$out.time")
}
run_locust() {
        local out=$WORK/locust-$1
        timeout $((SECS + 60)) "${TIMED[@]}" -o "$out.time" "${PIN[@]}" \
                "$LOCUST" -f "$WORK/locustfile.py" --headless --only-summary --loglevel WARNING \
                -u "$USERS" -r "$USERS" -t "${SECS}s" --host "$BASE" --csv "$out" >"$out.txt" 2>&1 ||
                { echo "locust failed:" >&2; cat "$out.txt" >&2; exit 1; }
        read -r RPS REQS FAILS < <(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
                $c["Name"] == "Aggregated" { print $c["Requests/s"], $c["Request Count"], $c["Failure Count"] }' \
                "${out}_stats.csv")
        CPU=$(cpu_of "$out.time")
}

load_average
say "server: $SERVER_DESC; clients on CPU $CLIENT_CPU," \
        "$USERS connections, GET $REQ_PATH, ${SECS} s each, $RUNS runs"
: >"$WORK/ratios"
printf '%-4s %-22s %10s %10s %6s %8s %12s\n' run client req/s requests fails "CPU s" "req/CPU s"
for run in $(seq "$RUNS"); do
        for c in engine wrk locust; do
                "run_$c" "$run"
                printf '%-4s %-22s %10.0f %10d %6d %8.2f %12.0f\n' "$run" \
                        "$c" "$RPS" "$REQS" "$FAILS" "$CPU" "$(awk -v n="$REQS" -v c="$CPU" 'BEGIN { print (c > 0 ? n / c : 0) }')"
                [ "$FAILS" = 0 ] || echo "WARNING: $c had $FAILS failed requests in run $run"
                eval "rps_$c=\$RPS cpu_$c=\$CPU n_$c=\$REQS"
        done
        # shellcheck disable=SC2154 # set by the eval above
        awk -v e="$rps_engine" -v w="$rps_wrk" -v l="$rps_locust" \
            -v ee="$(awk -v n="$n_engine" -v c="$cpu_engine" 'BEGIN { print (c > 0 ? n / c : 0) }')" \
            -v we="$(awk -v n="$n_wrk" -v c="$cpu_wrk" 'BEGIN { print (c > 0 ? n / c : 0) }')" \
            -v le="$(awk -v n="$n_locust" -v c="$cpu_locust" 'BEGIN { print (c > 0 ? n / c : 0) }')" 'BEGIN {
                if (we == 0 || le == 0) { we = le = ee = 1 }    # no CPU tick: ratios of 1, not a division by 0
        printf "     ratios: engine/wrk %.2f, engine/locust %.2f (per CPU second: %.2f, %.2f)\n",
                        e / w, e / l, ee / we, ee / le
                print e / w, e / l, ee / we, ee / le >> "'"$WORK/ratios"'"
        }'
done

echo
awk -v bw="$BAR_WRK" -v bl="$BAR_LOCUST" -v runs="$RUNS" '
function stats(col, name,    i, n, v, t) {
        n = 0
        for (i = 1; i <= NR; i++) v[++n] = r[i, col]
        for (i = 2; i <= n; i++)        # insertion sort: n is small
                for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
        med = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
        printf "%-32s min %.2f  median %.2f  max %.2f\n", name, v[1], med, v[n]
        return med
}
{ for (k = 1; k <= 4; k++) r[NR, k] = $k }
END {
        printf "ratios over %d runs (requests/s of one run each):\n", NR
        mw = stats(1, "engine / wrk")
        ml = stats(2, "engine / Locust FastHttpUser")
        stats(3, "engine / wrk per CPU second")
        stats(4, "engine / Locust per CPU second")
        printf "\nbar: >= %.1fx wrk: median %.2fx, %s\n", bw, mw, (mw >= bw ? "meets the bar" : "MISSES the bar")
        printf "bar: >= %.0fx Locust FastHttpUser: median %.2fx, %s\n", bl, ml, (ml >= bl ? "meets the bar" : "MISSES the bar")
}' "$WORK/ratios"
echo "after the run: $(load_average)"
