#!/bin/bash
# The load engine's memory over a long run: tests/load-bench sends GET PATH
# (default /healthz) to the demo target's API at RATE requests per second
# (default 2000) for SECONDS (default 600), and its RSS (VmRSS of
# /proc/PID/status) is sampled every second.  Prints the RSS at a few
# points, the growth after the warm-up (the first minute; half the run when
# it is shorter than two minutes) and the goal: under 1 MiB.  Then the
# histogram's record cost, from bench/histogram.sh (N values, default
# 20M).  The server (Go net/http, GOMAXPROCS=1) runs on one core (taskset
# -c SERVER_CPU), load-bench on the other (CLIENT_CPU).  Everything listens
# on 127.0.0.1 and is ended by PID on exit.
#   bench/load-soak.sh [SECONDS] [N]     defaults 600 and 20000000
# RATE, PATH_ (the request path), SERVER_CPU and CLIENT_CPU from the
# environment; LOAD_BENCH and DEMO_TARGET, when both set, name prebuilt
# binaries and skip the build.
set -u
. "$(dirname "$0")/lib.sh"

bench_seconds 600 "${1:-}"
N=${2:-20000000}
RATE=${RATE:-2000}
REQ_PATH=${PATH_:-/healthz}
GOAL_GROWTH_KIB=1024
WARMUP=$((SECS >= 120 ? 60 : SECS / 2))

install_missing || exit 1
bench_load_binaries
bench_work

TARGET_WRAP="env GOMAXPROCS=1 taskset -c $SERVER_CPU"
start_demo_target
BASE=http://127.0.0.1:$API_PORT
curl -sf -o /dev/null "$BASE$REQ_PATH" || bail "GET $BASE$REQ_PATH does not answer 2xx"

load_average
say "load-bench $BASE $REQ_PATH $RATE $SECS on CPU $CLIENT_CPU; RSS every second (warm-up ${WARMUP} s)"
taskset -c "$CLIENT_CPU" "$LOAD_BENCH" "$BASE" "$REQ_PATH" "$RATE" "$SECS" >"$WORK/load-bench.txt" 2>&1 &
LB_PID=$!
PIDS="$PIDS $LB_PID"
# One sample per second, "SECOND RSS_KIB", bounded by the run's length.
t0=$(now_usec)
for s in $(seq 0 $((SECS + 30))); do
        rss=$(status_kib "$LB_PID" VmRSS 2>/dev/null) || break
        [ -n "$rss" ] || break
        echo "$s $rss" >>"$WORK/rss.txt"
        next=$((t0 + (s + 1) * 1000000 - $(now_usec)))
        [ "$next" -le 0 ] || sleep "$(usec_to_s "$next")"
done
wait "$LB_PID" || { echo "load-bench failed:" >&2; cat "$WORK/load-bench.txt" >&2; exit 1; }
PIDS=${PIDS/ $LB_PID/}
sed 's/^/    /' "$WORK/load-bench.txt"

echo
awk -v warm="$WARMUP" -v secs="$SECS" -v goal="$GOAL_GROWTH_KIB" '
{ t[NR] = $1; r[NR] = $2; if ($1 <= warm) { base = $2; bt = $1 } }
END {
        step = secs >= 600 ? 60 : (secs >= 60 ? 10 : 1)
        line = "RSS (MiB) at second:"
        for (i = 1; i <= NR; i++)
                if (t[i] % step == 0 || i == NR)
                        line = line sprintf(" %d:%.2f", t[i], r[i] / 1024)
        print line
        max = base
        for (i = 1; i <= NR; i++) if (t[i] > bt && r[i] > max) { max = r[i] }
        printf "%d samples; RSS at %d s (end of warm-up) %.2f MiB, last %.2f MiB, highest after it %.2f MiB\n",
                NR, bt, base / 1024, r[NR] / 1024, max / 1024
        printf "growth after the warm-up: %d KiB to the end, %d KiB to the highest\n", r[NR] - base, max - base
        printf "\ngoal: RSS growth after the warm-up < %d KiB: %d KiB, %s\n", goal, max - base,
                (max - base < goal ? "meets the goal" : "MISSES the goal")
}' "$WORK/rss.txt"

echo
say "histogram record cost: bench/histogram.sh $N 100000"
"$TOP/bench/histogram.sh" "$N" 100000 >"$WORK/histogram.txt" 2>&1 ||
        { echo "bench/histogram.sh failed:" >&2; cat "$WORK/histogram.txt" >&2; exit 1; }
grep -E '^(values recorded|record):' "$WORK/histogram.txt"
echo "after the run: $(load_average)"
