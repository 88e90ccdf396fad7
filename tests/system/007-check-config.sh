#!/bin/bash
# perfwatchd --check-config: the example config passes; broken ones print
# FILE:LINE: [section] key: problem and exit 1; usage errors exit 2.
. "$TOP_SRCDIR/tests/system/lib.sh"

out=$("$PERFWATCHD" --check-config --config "$TOP_SRCDIR/etc/perfwatchd.conf" 2>&1)
ok $? "the example config etc/perfwatchd.conf passes --check-config"
diag "$out"

printf '[daemon]\nlisten = 127.0.0.1:9470\n\n[target go]\nmemory_url = http://127.0.0.1:1/memory\nmemory_interval = 5q\n' >"$WORK/bad.conf"
out=$("$PERFWATCHD" --check-config --config "$WORK/bad.conf" 2>&1); rc=$?
check "a bad duration exits 1" test "$rc" = 1
check "the error names file, line, section, key and value" \
        grep -qF "$WORK/bad.conf:6: [target go] memory_interval: \"5q\" is not a duration" <<<"$out"

printf '[daemon]\ncolour = blue\n[target x]\n' >"$WORK/two.conf"
out=$("$PERFWATCHD" --check-config --config "$WORK/two.conf" 2>&1); rc=$?
check "every problem is printed, not only the first" test "$(grep -c "two.conf:" <<<"$out")" -ge 2
check "an unknown key is reported on its line" grep -q "two.conf:2: \[daemon\] colour: unknown key" <<<"$out"
check "a target without memory_url or pprof_url is reported at its header" \
        grep -qF "two.conf:3: [target x]: needs memory_url or pprof_url" <<<"$out"

# AWS keys that others can read are refused before the daemon ever runs.
creds=$WORK/aws-credentials
printf '[default]\naws_access_key_id = AKID\naws_secret_access_key = SECRET\n' >"$creds"
printf '[capacity aurora]\nsource = cloudwatch\nregion = eu-west-1\ncluster = db\ncredentials_file = %s\n' \
        "$creds" >"$WORK/cw.conf"
chmod 644 "$creds"
out=$("$PERFWATCHD" --check-config --config "$WORK/cw.conf" 2>&1); rc=$?
check "a world-readable credentials file exits 1" test "$rc" = 1
check "and the error names the file, its mode and the fix, on the credentials_file line" \
        grep -qF "cw.conf:5: [capacity aurora] credentials_file: $creds is readable by group or others (mode 0644); chmod 600 it" <<<"$out"
diag "$out"
chmod 600 "$creds"
out=$("$PERFWATCHD" --check-config --config "$WORK/cw.conf" 2>&1)
ok $? "the same file of mode 0600 passes --check-config"
diag "$out"
rm -f "$creds"
out=$("$PERFWATCHD" --check-config --config "$WORK/cw.conf" 2>&1); rc=$?
check "a missing credentials file exits 1" test "$rc" = 1
check "and says the file cannot be read" \
        grep -qF "cw.conf:5: [capacity aurora] credentials_file: $creds: cannot read: No such file or directory" <<<"$out"

# source = sql names a [postgres] section that must exist somewhere in the file.
printf '[capacity acu]\nsource = sql\npostgres = main\nquery = SELECT 2\n[postgres other]\nconninfo = host=127.0.0.1\n' \
        >"$WORK/sql.conf"
out=$("$PERFWATCHD" --check-config --config "$WORK/sql.conf" 2>&1); rc=$?
check "a capacity sql section naming a missing [postgres] section exits 1" test "$rc" = 1
check "and the error is on its postgres line" \
        grep -qF "sql.conf:3: [capacity acu] postgres: no [postgres main] section" <<<"$out"
printf '[postgres main]\nconninfo = host=127.0.0.1\n' >>"$WORK/sql.conf"
out=$("$PERFWATCHD" --check-config --config "$WORK/sql.conf" 2>&1)
ok $? "with [postgres main] defined after it, the file passes --check-config"
diag "$out"

out=$("$PERFWATCHD" --check-config --config "$WORK/missing.conf" 2>&1); rc=$?
check "a missing file exits 1 and says so" test "$rc" = 1
check "the message names the file and the problem" grep -q "missing.conf: No such file or directory" <<<"$out"

"$PERFWATCHD" --no-such-option >/dev/null 2>&1; rc=$?
check "an unknown option exits 2" test "$rc" = 2
check "--help exits 0 and mentions --config" grep -q -- --config <<<"$("$PERFWATCHD" --help)"
check "--version prints the version" grep -q '^perfwatchd [0-9]' <<<"$("$PERFWATCHD" --version)"

# Startup failures are clear too.
printf '[daemon]\ndatabase = /nonexistent/dir/pw.db\nlisten = 127.0.0.1:%s\n' "$PW_PORT" >"$WORK/nodb.conf"
out=$("$PERFWATCHD" --config "$WORK/nodb.conf" 2>&1); rc=$?
check "an unopenable database exits 1" test "$rc" = 1
check "and names the database file" grep -q "/nonexistent/dir/pw.db" <<<"$out"
done_testing
