#!/bin/bash
# The lost-write check at scale: the shipped crdt scenario (1000 users, 5
# shared documents, think 500ms..1500ms, 9 writes in 10 requests, the
# server's conflict count) for DURATION (default 10m, its shipped length)
# against the demo target, run by perfwatchd's daemon and started through
# its API (POST /v1/scenarios/crdt/run with the token).  Prints:
#   - the writes achieved (attempted / the run's seconds) and the requests/s;
#   - perfwatchd's RSS (VmRSS of /proc/PID/status) before the run, sampled
#     every second during it (peak and the last before the read-back), its
#     VmHWM, and after: when the run ends and 10 s later;
#   - the time to read the documents back and classify every write (the
#     run's writes.read_back_ms less the scenario's read_after settle);
#   - the book-keeping: writes.book_bytes per attempted write, beside what
#     a Python checker's book would take for the same writes (a dict of
#     token -> (document, send time, status), measured with tracemalloc:
#     what a Locust-based check would hold);
#   - the verdict: lost, unexpected, conflicts, zero_data_loss.
# Also the machine's load average before and after (the 1000 users, the
# demo target and perfwatchd share the machine's cores).  Everything
# listens on 127.0.0.1 and is ended by PID on exit; the run is bounded by
# its duration (perfwatchd stops it) and this script waits at most
# DURATION + 3 minutes.
#   bench/lost-writes.sh [DURATION]   10m by default; 90s, 5m, 600 (seconds)
# PERFWATCHD and DEMO_TARGET, when both set, name prebuilt binaries.
set -u
. "$(dirname "$0")/lib.sh"

DUR=${1:-10m}
case $DUR in
*[0-9]s) SECS=${DUR%s} ;;
*[0-9]m) SECS=$((${DUR%m} * 60)) ;;
*[0-9]h) SECS=$((${DUR%h} * 3600)) ;;
*) SECS=$DUR ;;
esac
case $SECS in
''|*[!0-9]*|0) echo "usage: $0 [DURATION]: \"$DUR\" is not a duration (90s, 10m, 600)" >&2; exit 2 ;;
esac

install_missing || exit 1
bench_binaries
bench_work

start_demo_target
BASE=http://127.0.0.1:$API_PORT
curl -sf -o /dev/null "$BASE/docs/stats" || bail "GET $BASE/docs/stats does not answer 2xx"

perfwatchd_port
(umask 077; head -c 24 /dev/urandom | base64 >"$WORK/api-token")
TOKEN=$(cat "$WORK/api-token")
# The shipped crdt scenario, from the example config, on the demo target
# and for DURATION; the criteria that judge other runs are off.
{
        printf '[daemon]\ndatabase = %s\nlisten = 127.0.0.1:%s\napi_token_file = %s\n' \
                "$WORK/perfwatch.db" "$PW_PORT" "$WORK/api-token"
        printf '[criterion latency_p95]\nenabled = no\n[criterion acu_scaling]\nenabled = no\n'
        sed -n '/^\[scenario crdt\]/,/^\[/p' "$TOP/etc/perfwatchd.conf" | sed -e '$ { /^\[/d }' \
                -e "s|^base_url = .*|base_url = $BASE|" -e "s|^duration = .*|duration = ${SECS}s|"
} >"$WORK/perfwatchd.conf"
grep -q '^write = ' "$WORK/perfwatchd.conf" || bail "no [scenario crdt] with a write in etc/perfwatchd.conf"
"$PERFWATCHD" --check-config --config "$WORK/perfwatchd.conf" >/dev/null ||
        bail "the config does not pass --check-config: $("$PERFWATCHD" --check-config --config "$WORK/perfwatchd.conf" 2>&1)"
start_perfwatchd "perfwatchd did not start" curl -sf "$PW/healthz"
READ_AFTER_MS=$(awk -F' = ' '$1 == "read_after" { v = $2 } END {
        if (v ~ /ms$/) print v + 0; else if (v ~ /s$/) print v * 1000; else print 0 }' "$WORK/perfwatchd.conf")

echo "before: $(load_average)"
say "crdt: $(awk -F' = ' '$1 == "users" { print $2 }' "$WORK/perfwatchd.conf") users for ${SECS} s against the demo target, run by perfwatchd (config: $WORK/perfwatchd.conf)"
sleep 2
RSS0=$(status_kib "$PW_PID" VmRSS)
id=$(curl -s --max-time 5 -X POST -H "Authorization: Bearer $TOKEN" "$PW/v1/scenarios/crdt/run" | jq -r '.id // empty')
[ -n "$id" ] || bail "perfwatchd did not start the run: $(tail -3 "$WORK/perfwatchd.log")"
t0=$(now_usec)
# One sample a second, "SECOND RSS_KIB STATE", until the run is not running.
state=running
for s in $(seq 0 $((SECS + 180))); do
        rss=$(status_kib "$PW_PID" VmRSS) || bail "perfwatchd is gone: $(tail -5 "$WORK/perfwatchd.log")"
        state=$(jget "$PW/v1/runs/$id" .state)
        echo "$s $rss $state" >>"$WORK/rss.txt"
        [ "$state" = running ] || break
        if [ $((s % 60)) = 0 ] && [ "$s" -gt 0 ]; then
                jget "$PW/v1/runs/$id" '"  \(.duration_s | floor) s: \(.requests) requests"' |
                        sed "s/\$/, perfwatchd RSS $((rss / 1024)) MiB/"
        fi
        next=$((t0 + (s + 1) * 1000000 - $(now_usec)))
        [ "$next" -le 0 ] || sleep "$(usec_to_s "$next")"
done
[ "$state" = completed ] || bail "run $id: $(curl -s "$PW/v1/runs/$id" | jq -c '{state, reason}')"
RSS_END=$(status_kib "$PW_PID" VmRSS)
HWM=$(status_kib "$PW_PID" VmHWM)
sleep 10
RSS_LATER=$(status_kib "$PW_PID" VmRSS)
R=$(curl -s --max-time 5 "$PW/v1/runs/$id")
echo "$R" >"$WORK/run.json"
curl -s "$PW/v1/runs/$id?format=text" | sed 's/^/    /'
W() { jq -r ".extra.writes$1" <<<"$R"; }
ATTEMPTED=$(W .attempted)
[ "$ATTEMPTED" -gt 0 ] 2>/dev/null || bail "run $id has no writes report: $(jq -c .extra <<<"$R")"

# What a checker written in Python would hold for the same writes: a dict
# token (16 hex digits) -> (document, send time, status), as tracemalloc
# counts it.
PY_BYTES=$($PY - "$ATTEMPTED" <<'PY'
import random, sys, time, tracemalloc
n = int(sys.argv[1])
tracemalloc.start()
book = {}
t = time.time()
for i in range(n):
    book["%016x" % random.getrandbits(64)] = (i % 5, t + i / 1000.0, 201)
print(tracemalloc.get_traced_memory()[0])
PY
)

echo
awk -v secs="$(jq -r .duration_s <<<"$R")" -v req="$(jq -r .requests <<<"$R")" -v att="$ATTEMPTED" \
    -v ack="$(W .acknowledged)" -v lost="$(W .lost)" -v unexp="$(W .unexpected)" -v conf="$(W .conflicts)" \
    -v csrc="$(W .conflicts_source)" -v rb="$(W .read_back_ms)" -v ra="$READ_AFTER_MS" -v book="$(W .book_bytes)" \
    -v py="$PY_BYTES" -v rss0="$RSS0" -v rss_end="$RSS_END" -v rss_later="$RSS_LATER" -v hwm="$HWM" '
function mib(k) { return sprintf("%.1f MiB", k / 1024) }
{ if ($3 == "running") { n++; if ($2 > peak) peak = $2; last = $2 } }
END {
        printf "writes: %d attempted in %.1f s: %.0f writes/s (%.0f requests/s in all); %d acknowledged, %d lost, %d unexpected, %d conflicts (%s)\n",
                att, secs, att / secs, req / secs, ack, lost, unexp, conf, csrc
        printf "perfwatchd RSS: %s before the run; during it (%d samples, one a second) peak %s, last %s; VmHWM %s\n",
                mib(rss0), n, mib(peak), mib(last), mib(hwm)
        printf "perfwatchd RSS after: %s as the run ended, %s 10 s later\n", mib(rss_end), mib(rss_later)
        printf "read back and classify: %.3f s (read_back_ms %d, of which read_after %d ms of settling)\n",
                (rb - ra) / 1000, rb, ra
        printf "book-keeping: %d bytes for %d writes: %.2f bytes per write (%s)\n", book, att, book / att, mib(book / 1024)
        printf "a Python dict token -> (document, time, status) for as many writes: %.1f bytes per write (%s): %.0fx\n",
                py / att, mib(py / 1024), (py / att) / (book / att)
}' "$WORK/rss.txt"
echo "zero_data_loss: $(jget "$PW/v1/criteria/zero_data_loss" '"\(.state) on run \(.evidence.run // "-"): \(.evidence.summary // .reason)"')"
echo "after: $(load_average)"
