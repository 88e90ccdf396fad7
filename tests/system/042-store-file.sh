#!/bin/bash
# The database file is perfwatch's own: deleted or replaced under the running
# daemon, it is noticed at the next flush, logged, and the daemon stops with a
# failure status (systemd's Restart=on-failure then opens the path afresh);
# a database of another application is refused at start, never migrated.
. "$TOP_SRCDIR/tests/system/lib.sh"

db=$WORK/perfwatch.db
start_target
MEMORY_INTERVAL=200ms write_config "$WORK/pw.conf"

# exits_within SECONDS: the daemon ends by itself; its status in EXIT_STATUS.
exits_within() {
        local i
        for i in $(seq $(( $1 * 10 ))); do
                kill -0 "$PW_PID" 2>/dev/null || break
                sleep 0.1
        done
        kill -0 "$PW_PID" 2>/dev/null && return 1
        wait "$PW_PID"
        EXIT_STATUS=$?
        return 0
}

# --- deleted
start_daemon "$WORK/pw.conf"
check "samples are being stored" wait_until 15 state_is memory met
rm -f "$db" "$db-wal" "$db-shm"
check "the daemon stops by itself after the file was deleted" exits_within 10
check "with a failure status ($EXIT_STATUS)" test "${EXIT_STATUS:-0}" -ne 0
check "the log says the database file was deleted" \
        grep -q "store $db: cannot write .*: the database file was deleted; stopping" "$DAEMON_LOG"
start_daemon "$WORK/pw.conf"
check "a restart creates a fresh database and stores again" wait_until 15 state_is memory met
check "the fresh file is perfwatch's" test "$(sqlite3 "$db" 'PRAGMA application_id')" = 1348884324

# --- replaced, by a copy of itself as a restore from backup would
sqlite3 "$db" ".backup $WORK/backup.db"
before=$(sqlite3 "$WORK/backup.db" 'SELECT count(*) FROM samples')
mv "$WORK/backup.db" "$db"
check "the daemon stops by itself after the file was replaced" exits_within 10
check "with a failure status ($EXIT_STATUS)" test "${EXIT_STATUS:-0}" -ne 0
check "the log says the database file was replaced" \
        grep -q "store $db: cannot write .*: the database file was replaced (inode [0-9]*, opened [0-9]*); stopping" \
        "$DAEMON_LOG"
check "the replacement is intact" test "$(sqlite3 "$db" 'PRAGMA integrity_check')" = ok
check "and holds exactly what it held ($before samples): nothing of the old file leaked in" \
        test "$(sqlite3 "$db" 'SELECT count(*) FROM samples')" = "$before"
start_daemon "$WORK/pw.conf"
count_grew() { [ "$(sqlite3 "file:$db?mode=ro" 'SELECT count(*) FROM samples')" -gt "$before" ]; }
check "a restart opens the replacement and stores into it" wait_until 15 count_grew
check "SIGTERM then stops it with status 0" stop_daemon

# --- foreign
rm -f "$db" "$db-wal" "$db-shm"
sqlite3 "$db" 'PRAGMA application_id = 42; CREATE TABLE accounts (id INTEGER PRIMARY KEY, email TEXT);
               INSERT INTO accounts (email) VALUES ('"'a@example.com'"');'
sum=$(md5sum <"$db")
"$PERFWATCHD" --config "$WORK/pw.conf" >"$WORK/daemon.foreign.log" 2>&1 &
PW_PID=$!
PIDS="$PIDS $PW_PID"
check "the daemon refuses to start on another application's database" exits_within 10
check "with a failure status ($EXIT_STATUS)" test "${EXIT_STATUS:-0}" -ne 0
check "the error names the file and the application_id" \
        grep -q "$db: not a perfwatch database (application_id 0x0000002a, perfwatch's is 0x50665764); refusing to open it" \
        "$WORK/daemon.foreign.log"
check "the foreign file is untouched" test "$(md5sum <"$db")" = "$sum"

sqlite3 "$db" 'PRAGMA application_id = 0'
sum=$(md5sum <"$db")
"$PERFWATCHD" --config "$WORK/pw.conf" >"$WORK/daemon.plain.log" 2>&1 &
PW_PID=$!
PIDS="$PIDS $PW_PID"
check "a plain SQLite file with tables of its own is refused too" exits_within 10
check "saying why" grep -q "$db: not a perfwatch database (application_id 0, schema version 0, 1 tables" \
        "$WORK/daemon.plain.log"
check "and it is untouched (no perfwatch table added)" test "$(md5sum <"$db")" = "$sum"
done_testing
