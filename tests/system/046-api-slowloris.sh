#!/bin/bash
# Slow clients cannot lock the API out: 1000 connections that send one
# header byte every 3 s (each byte restarts libmicrohttpd's 10 s idle
# timeout, so only the header deadline can end them; the issue's clients
# sent one every 10 s) leave /v1/status answering in under 100 ms, and each
# is closed once its headers are 10 s late.
. "$TOP_SRCDIR/tests/system/lib.sh"

MEM_URL=http://127.0.0.1:$(free_port)/memory
write_config "$WORK/pw.conf"
start_daemon "$WORK/pw.conf"

# Runs 15 s at most: a byte every 3 s, the server's cut at about 10 s.
$PY "$TOP_SRCDIR/tests/system/slowloris.py" 127.0.0.1 "$PW_PORT" 1000 3 15 >"$WORK/slow.out" 2>&1 &
SLOW=$!
PIDS="$PIDS $SLOW"
sleep 2
fast=0
for i in 1 2 3 4 5 6; do
        t=$(curl -s -o /dev/null --max-time 5 -w '%{http_code} %{time_total}' "$PW/v1/status")
        diag "/v1/status beside 1000 slow connections: $t"
        awk -v t="$t" 'BEGIN { split(t, a, " "); exit !(a[1] == 200 && a[2] < 0.100) }' || fast=1
        sleep 1
done
ok $fast "/v1/status answers 200 in under 100 ms six times beside 1000 slow connections"
wait "$SLOW"
diag "slowloris: $(cat "$WORK/slow.out")"
check "the 1000 slow connections were all opened" grep -q '^opened 1000 ' "$WORK/slow.out"
check "the server closed every one of them" grep -q ' closed_by_server 1000 ' "$WORK/slow.out"
last=$(awk '{ print $NF }' "$WORK/slow.out")
check "the last was closed 10 to 13 s after it opened ($last s)" \
        awk -v t="$last" 'BEGIN { exit !(t >= 9.5 && t <= 13) }'
check "the daemon logged that it closed slow connections" \
        grep -q 'API: closed [0-9]* connection(s) whose request headers took longer than 10 s' "$DAEMON_LOG"
check "/v1/status still answers after the slow clients are gone" \
        test "$(curl -s -o /dev/null -w '%{http_code}' "$PW/v1/status")" = 200
check "SIGTERM stops perfwatchd with exit status 0" stop_daemon
done_testing
