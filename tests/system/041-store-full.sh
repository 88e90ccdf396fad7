#!/bin/bash
# A full disk is visible, not silent: /healthz answers 503 with the reason,
# /v1/status and /v1/sources carry the store's health, STATUS= says so; once
# space returns the samples are written and /healthz is 200 again.  SIGTERM
# while the disk is full retries, then logs how many samples were lost and
# exits with a failure status.  The database lives on a small tmpfs.
. "$TOP_SRCDIR/tests/system/lib.sh"

[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP mounting a tmpfs needs root"; exit 0; }
DB_DIR=$WORK/db
mkdir -p "$DB_DIR"
mount -t tmpfs -o size=3m perfwatch-test "$DB_DIR" || bail "cannot mount a tmpfs on $DB_DIR"
# The processes end first (an open file keeps the tmpfs busy), then the
# tmpfs goes, then WORK.
keep=${KEEP_WORK:-}
trap 'KEEP_WORK=1 cleanup; umount "$DB_DIR"; [ -n "$keep" ] || rm -rf "$WORK"' EXIT

sock=$WORK/notify.sock
msgs=$WORK/notify.txt
$PY "$TOP_SRCDIR/tests/system/notify-listen.py" "$sock" "$msgs" &
PIDS="$PIDS $!"
wait_until 10 test -S "$sock" || bail "notify listener did not start"

fill() {        # takes every free block of the tmpfs
        dd if=/dev/zero of="$DB_DIR/filler" bs=16k >/dev/null 2>&1
        true
}
healthz_code() { curl -s -o "$WORK/healthz.json" -w '%{http_code}' --max-time 5 "$PW/healthz"; }
healthz_is() { [ "$(healthz_code)" = "$1" ]; }

start_target
MEMORY_INTERVAL=100ms write_config "$WORK/pw.conf"
sed -i "s|^database = .*|database = $DB_DIR/perfwatch.db|" "$WORK/pw.conf"
NOTIFY_SOCKET=$sock start_daemon "$WORK/pw.conf"
check "the store is healthy at start" wait_until 10 \
        sh -c "curl -s '$PW/v1/status' | jq -e '.store.ok == true and .store.queued >= 0 and .store.last_error == null' >/dev/null"
check "/v1/sources carries the store object too" \
        sh -c "curl -s '$PW/v1/sources' | jq -e '.store.database == \"$DB_DIR/perfwatch.db\"' >/dev/null"

fill
check "/healthz answers 503 once the disk is full" wait_until 30 healthz_is 503
msg=$(jq -r '.error.message' "$WORK/healthz.json")
diag "healthz: $msg"
check "the 503 names the store, what it cannot write since when, and why" \
        grep -qE "^store $DB_DIR/perfwatch.db: cannot write [0-9]+ samples since 20[0-9-]+T[0-9:]+Z: database or disk is full$" \
        <<<"$msg"
check "its error code is store_failing" test "$(jq -r '.error.code' "$WORK/healthz.json")" = store_failing
st=$(curl -s "$PW/v1/status")
check "/v1/status shows the store failing with the error and since when" \
        jq -e '.store.ok == false and .store.last_error == "database or disk is full"
               and (.store.failing_since | test("^20.*Z$")) and .store.failed_samples > 0' <<<"$st"
check "/v1/sources shows it too" \
        sh -c "curl -s '$PW/v1/sources' | jq -e '.store.ok == false and .store.queued > 0' >/dev/null"
check "the text table of /v1/status ends with the store's reason" \
        grep -qE "^store $DB_DIR/perfwatch.db: cannot write [0-9]+ samples since .*: database or disk is full$" \
        <<<"$(curl -s "$PW/v1/status?format=text" | tail -n 1)"
check "and so does that of /v1/sources" \
        grep -qE "^store $DB_DIR/perfwatch.db: cannot write" <<<"$(curl -s "$PW/v1/sources?format=text" | tail -n 1)"
check "STATUS= says the store is failing" \
        wait_until 10 grep -q "^STATUS=store $DB_DIR/perfwatch.db failing: cannot write" "$msgs"
check "the log says it once, with the reason" \
        grep -q "store $DB_DIR/perfwatch.db: cannot write .* database or disk is full (kept for the next try)" "$DAEMON_LOG"

queued=$(jget "$PW/v1/status" '.store.queued')
rm -f "$DB_DIR/filler"
check "/healthz is 200 again once space returns" wait_until 15 healthz_is 200
check "/v1/status shows the store writing again" \
        wait_until 5 sh -c "curl -s '$PW/v1/status' | jq -e '.store.ok == true and .store.failing_since == null and .store.last_flush != null' >/dev/null"
check "the text table says it writes" \
        grep -qE "^store $DB_DIR/perfwatch.db: writing \([0-9]+ queued, 0 dropped since start\)$" \
        <<<"$(curl -s "$PW/v1/status?format=text" | tail -n 1)"
check "the log says it writes again" grep -q "store $DB_DIR/perfwatch.db: writing again" "$DAEMON_LOG"
newest=$(sqlite3 "file:$DB_DIR/perfwatch.db?mode=ro" 'SELECT max(ts) FROM samples')
check "the samples kept while full ($queued queued) were written, none given up" \
        test "$(jget "$PW/v1/status" '.store.dropped')" = 0
diag "newest stored sample after recovery: $newest"

fill
check "full again: /healthz 503" wait_until 30 healthz_is 503
start=$(date +%s)
kill -TERM "$PW_PID"
wait "$PW_PID"
status=$?
took=$(( $(date +%s) - start ))
check "SIGTERM while full exits with a failure status ($status)" test "$status" -ne 0
lost=$(grep -oE "samples lost at exit: .*" "$DAEMON_LOG")
line=$(grep -E "store $DB_DIR/perfwatch.db: [0-9]+ samples lost at exit: database or disk is full" "$DAEMON_LOG")
diag "$line (stop took ${took}s)"
check "the log says how many samples were lost and why" test -n "$line"
n=$(sed -E 's/.*: ([0-9]+) samples lost.*/\1/' <<<"$line")
check "a positive count ($n)" test "${n:-0}" -gt 0
check "it retried for about 10 s before giving up" test "$took" -ge 9 -a "$took" -le 20
check "the retry was announced" grep -q "samples pending; retrying for up to 10 s" "$DAEMON_LOG"
: "$lost"
done_testing
