#!/bin/bash
# What running a Locust suite through perfwatchd (model = exec) costs,
# against running it directly: the same command line (the shipped
# etc/examples/locustfile.py, USERS users spawned at RATE a second, for
# SECONDS, against the demo target's items API) once from this script under
# GNU time, once as a run of perfwatchd's daemon started through its API
# (POST /v1/scenarios/locust/run with the token).  For each: Locust's own
# Requests/s, request and failure counts and 95% from its _stats.csv
# Aggregated row, and Locust's CPU seconds (direct: user + system from GNU
# time; through perfwatchd: the growth of perfwatchd's cutime + cstime,
# which take in the child it reaped), then the ratios perfwatchd / direct,
# which should be about 1; also perfwatchd's own CPU over its run (logging
# Locust's output, importing its CSV) and that perfwatchd imported
# exactly Locust's counts and 95% (its run's --csv is a fixed path under
# the work directory, so the file outlives the run).  RUNS pairs (default
# 2), direct first, then the mean ratios.  Everything listens on 127.0.0.1 and is ended by PID on exit.
#   bench/locust-exec.sh [SECONDS]    seconds of load per run, default 60
# USERS (default 100), RATE (default 20) and RUNS from the environment;
# PERFWATCHD and DEMO_TARGET, when both set, name prebuilt binaries.
set -u
. "$(dirname "$0")/lib.sh"

bench_seconds 60 "${1:-}"
USERS=${USERS:-100}
RATE=${RATE:-20}
RUNS=${RUNS:-2}
LOCUST=/usr/bin/locust
LOCUSTFILE=$TOP/etc/examples/locustfile.py

install_missing python3-locust time || exit 1
bench_binaries
bench_work

start_demo_target
BASE=http://127.0.0.1:$API_PORT
curl -sf -o /dev/null "$BASE/api/items" || bail "GET $BASE/api/items does not answer 2xx"

# The command, as the shipped [scenario locust] writes it; CSV is its --csv.
locust_args() {
        echo "-f $LOCUSTFILE --headless -u $USERS -r $RATE -t ${SECS}s --host $BASE --csv $1 --exit-code-on-error 0"
}

perfwatchd_port
mkdir -p "$WORK/pw"      # perfwatchd's run writes its CSV there, kept for the comparison
(umask 077; head -c 24 /dev/urandom | base64 >"$WORK/api-token")
TOKEN=$(cat "$WORK/api-token")
cat >"$WORK/perfwatchd.conf" <<EOF
[daemon]
database = $WORK/perfwatch.db
listen = 127.0.0.1:$PW_PORT
api_token_file = $WORK/api-token

[criterion latency_p95]
enabled = no
[criterion acu_scaling]
enabled = no
[criterion zero_data_loss]
enabled = no

[scenario locust]
model = exec
command = $LOCUST $(locust_args "$WORK/pw/locust")
csv = $WORK/pw/locust
duration = ${SECS}s
grace = 30s
EOF
"$PERFWATCHD" --check-config --config "$WORK/perfwatchd.conf" >/dev/null ||
        bail "the config does not pass --check-config: $("$PERFWATCHD" --check-config --config "$WORK/perfwatchd.conf" 2>&1)"
start_perfwatchd "perfwatchd did not start" curl -sf "$PW/healthz"

# aggregated PREFIX: "Requests/s requests failures p95" of PREFIX_stats.csv.
aggregated() {
        awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) { gsub("\"", "", $i); c[$i] = i }; next }
                { gsub("\"", "") } $c["Name"] == "Aggregated" {
                        print $c["Requests/s"], $c["Request Count"], $c["Failure Count"], $c["95%"] }' "$1_stats.csv"
}

# run_direct N / run_perfwatchd N: one Locust run each; set RPS, REQS,
# FAILS, P95, CPU (Locust's seconds) and WALL.
run_direct() {
        local out=$WORK/direct-$1 t0
        t0=$(now_usec)
        # shellcheck disable=SC2046 # the arguments are split into words on purpose
        timeout $((SECS + 90)) /usr/bin/time -f '%U %S' -o "$out.time" \
                "$LOCUST" $(locust_args "$out") >"$out.log" 2>&1 ||
                { echo "locust failed:" >&2; tail "$out.log" >&2; exit 1; }
        WALL=$(( ($(now_usec) - t0) / 1000 ))
        read -r RPS REQS FAILS P95 < <(aggregated "$out")
        CPU=$(tail -n 1 "$out.time" | awk '{ printf "%.2f", $1 + $2 }')
}
# child_ticks PID: cutime + cstime of PID (its reaped children's CPU).
child_ticks() {
        local s f
        s=$(<"/proc/$1/stat") || return 1
        read -r -a f <<<"${s##*) }"
        echo $((f[13] + f[14]))
}
run_perfwatchd() {
        local c0 p0 id r st t0
        c0=$(child_ticks "$PW_PID") p0=$(cpu_ticks "$PW_PID") t0=$(now_usec)
        id=$(curl -s --max-time 5 -X POST -H "Authorization: Bearer $TOKEN" "$PW/v1/scenarios/locust/run" | jq -r '.id // empty')
        [ -n "$id" ] || bail "perfwatchd did not start the run: $(tail -3 "$WORK/perfwatchd.log")"
        for _ in $(seq $((SECS + 90))); do
                sleep 1
                st=$(jget "$PW/v1/runs/$id" .state)
                [ "$st" = running ] || break
        done
        WALL=$(( ($(now_usec) - t0) / 1000 ))
        r=$(curl -s --max-time 5 "$PW/v1/runs/$id")
        [ "$(jq -r .state <<<"$r")" = completed ] || bail "run $id: $(jq -c '{state, reason}' <<<"$r")"
        CPU=$(awk -v t="$(( $(child_ticks "$PW_PID") - c0 ))" -v h="$CLK_TCK" 'BEGIN { printf "%.2f", t / h }')
        PW_CPU=$(awk -v t="$(( $(cpu_ticks "$PW_PID") - p0 ))" -v h="$CLK_TCK" 'BEGIN { printf "%.2f", t / h }')
        read -r RPS REQS FAILS P95 < <(aggregated "$WORK/pw/locust")
        # What perfwatchd imported from that CSV and recorded as the run.
        IMPORTED=$(jq -r '"\(.extra.locust.requests) \(.extra.locust.failures) \(.extra.locust.percentiles_ms["95%"])"' <<<"$r")
        PW_REQS=$(jq -r .requests <<<"$r")
        RUN_ID=$id
}

load_average
say "Locust ($(dpkg-query -W -f='${Version}' python3-locust)): $USERS users at $RATE/s, ${SECS} s, etc/examples/locustfile.py against the demo target; $RUNS run(s) each way"
: >"$WORK/ratios"
printf '%-4s %-22s %9s %9s %6s %8s %8s %8s\n' run how req/s requests fails "p95 ms" "CPU s" "wall s"
for run in $(seq "$RUNS"); do
        run_direct "$run"
        printf '%-4s %-22s %9.2f %9d %6d %8s %8.2f %8.1f\n' "$run" "locust directly" "$RPS" "$REQS" "$FAILS" "$P95" "$CPU" "$(awk -v w="$WALL" 'BEGIN { print w / 1000 }')"
        d_rps=$RPS d_p95=$P95 d_cpu=$CPU
        run_perfwatchd "$run"
        printf '%-4s %-22s %9.2f %9d %6d %8s %8.2f %8.1f\n' "$run" "through perfwatchd" "$RPS" "$REQS" "$FAILS" "$P95" "$CPU" "$(awk -v w="$WALL" 'BEGIN { print w / 1000 }')"
        echo "     perfwatchd's own CPU over run $RUN_ID: $PW_CPU s; it imported requests, failures, p95: $IMPORTED (Locust's CSV: $REQS $FAILS $P95)"
        [ "$IMPORTED" = "$REQS $FAILS $P95" ] && [ "$PW_REQS" = "$REQS" ] ||
                echo "WARNING: perfwatchd's run ($PW_REQS requests; imported $IMPORTED) differs from Locust's CSV ($REQS $FAILS $P95)"
        awk -v r1="$d_rps" -v r2="$RPS" -v p1="$d_p95" -v p2="$P95" -v c1="$d_cpu" -v c2="$CPU" 'BEGIN {
                printf "     ratios perfwatchd / direct: req/s %.3f, p95 %.3f, Locust CPU %s\n",
                        r2 / r1, p2 / p1, (c1 > 0 ? sprintf("%.3f", c2 / c1) : "-")
                print r2 / r1, p2 / p1, (c1 > 0 ? c2 / c1 : 1) >> "'"$WORK/ratios"'"
        }'
done
echo
awk '{ for (k = 1; k <= 3; k++) { s[k] += $k } } END {
        printf "mean ratios perfwatchd / direct over %d pair(s): req/s %.3f, p95 %.3f, Locust CPU %.3f (goal: about 1)\n",
                NR, s[1] / NR, s[2] / NR, s[3] / NR }' "$WORK/ratios"
echo "(p95 is Locust's own, rounded as Locust rounds it; the two runs are not simultaneous)"
echo "after the run: $(load_average)"
