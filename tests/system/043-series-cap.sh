#!/bin/bash
# The series-name cap is per source prefix: a target whose /memory keys
# change on every poll fills its own share (STORE_SERIES_PER_PREFIX_MAX =
# 10000 names under "go.churn."), while another target keeps storing new
# series; the cap holds across a restart and the daemon's memory stays
# bounded.
. "$TOP_SRCDIR/tests/system/lib.sh"

CAP=10000
db=$WORK/perfwatch.db
churn_port=$(free_port)
cat >"$WORK/churn.py" <<'PY'
# /memory with 1500 keys that are new on every request, as a target that
# puts ids or timestamps into its JSON keys would.
import http.server, json, sys
n = 0
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        global n
        body = {"Sys": 1000}
        for i in range(1500):
            body["req%d" % (n + i)] = i
        n += 1500
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
$PY "$WORK/churn.py" "$churn_port" &
PIDS="$PIDS $!"
wait_until 10 curl -sf "http://127.0.0.1:$churn_port/memory" || bail "churn server did not start"

start_target
MEMORY_INTERVAL=200ms write_config "$WORK/pw.conf" \
        "[target churn]" "memory_url = http://127.0.0.1:$churn_port/memory" "memory_interval = 200ms" \
        "[criterion memory]" "series = go.app.Sys"
start_daemon "$WORK/pw.conf"

names() { sqlite3 "file:$db?mode=ro" "SELECT count(*) FROM series WHERE name LIKE '$1%'"; }
capped() { [ "$(names go.churn.)" -ge "$CAP" ]; }
check "the churning target reaches the cap of $CAP names" wait_until 60 capped
sleep 2
check "and stays at it ($(names go.churn.))" test "$(names go.churn.)" = "$CAP"
check "the churning source reports why it is down" \
        wait_until 10 sh -c "curl -s '$PW/v1/sources' | jq -e '.sources[] | select(.name == \"go.churn.memory\") | .last_error | test(\"already has $CAP series names\")' >/dev/null"
rss_capped=$(awk '/VmRSS/ {print $2}' "/proc/$PW_PID/status")

before=$(names go.app.)
target_control "mode?memory=many"
grew() { [ "$(names go.app.Many.)" -ge 1900 ]; }
check "meanwhile the other target still stores new series (about 1970 new fields: the first 2000 of an answer are kept)" wait_until 20 grew
diag "go.app. names: $before before, $(names go.app.) after switching to the "many" answer"
check "the other target's samples keep arriving" wait_until 10 state_is memory met

sleep 5
rss_later=$(awk '/VmRSS/ {print $2}' "/proc/$PW_PID/status")
diag "RSS: ${rss_capped} KiB when capped, ${rss_later} KiB 5 s later (churn still polled 5x/s)"
# ASan's quarantine keeps freed memory on purpose: no RSS figure means much there.
if ldd "$PERFWATCHD" | grep -q libasan; then
        diag "RSS checks skipped under AddressSanitizer"
else
        limit=${RSS_LIMIT_KIB:-65536}
        check "RSS stays bounded (${rss_later} KiB <= $limit KiB)" test "$rss_later" -le "$limit"
        check "and does not keep growing with the churn" test "$rss_later" -le $(( rss_capped + 8192 ))
fi

check "SIGTERM stops it with status 0" stop_daemon
start_daemon "$WORK/pw.conf"
sleep 3
check "after a restart the cap still holds ($(names go.churn.))" test "$(names go.churn.)" = "$CAP"
check "the churning source is still reported" \
        wait_until 10 sh -c "curl -s '$PW/v1/sources' | jq -e '.sources[] | select(.name == \"go.churn.memory\") | .last_error | test(\"already has $CAP series names\")' >/dev/null"
check "SIGTERM stops it with status 0" stop_daemon
done_testing
