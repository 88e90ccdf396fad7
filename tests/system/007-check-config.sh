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

# Every kind of problem in one file, each reported on its own line, syntax
# errors included (libinih alone stops reporting at the first).
{
        printf '[daemon]\n'                                   # 1
        printf 'database = /\n'                               # 2
        printf 'listen = 999.1.1.1:1\n'                       # 3
        printf 'log_level = d\xe9bug\n'                       # 4
        printf 'this line is not ini\n'                       # 5
        printf '[taget a]\n'                                  # 6
        printf '[target a]\n'                                 # 7
        printf 'memory_url = http:///memory\n'                # 8
        printf 'memory_ulr = x\n'                             # 9
        printf 'pprof_url = http://127.0.0.1:1/p\0\n'         # 10
        printf '[target b\n'                                  # 11
        printf '[target c]\n'                                 # 12
        printf 'memory_url = http://127.0.0.1:1/memory\n'     # 13
        printf '[target d]\n'                                 # 14
        printf 'memory_url = http://127.0.0.1:2/memory\n'     # 15
        printf '[criterion mine]\n'                           # 16
        printf 'series = s\nop = <\nthreshold = 1\n'          # 17-19
        printf 'window = 0\nmax_age = 100d\n'                 # 20-21
        printf 'also not ini\n'                               # 22
} >"$WORK/all.conf"
out=$("$PERFWATCHD" --check-config --config "$WORK/all.conf" 2>&1); rc=$?
diag "$out"
check "a file with many problems exits 1" test "$rc" = 1
for want in \
        'all.conf:2: [daemon] database: "/" is a directory, not a file' \
        'all.conf:3: [daemon] listen: "999.1.1.1:1" has an invalid IPv4 address' \
        'all.conf:4: line is not valid UTF-8 (column 14)' \
        'all.conf:5: syntax error, expected "[section]" or "key = value"' \
        'all.conf:6: [taget a]: unknown section kind "taget", did you mean "target"? (one of: daemon, target, postgres, capacity, criterion, scenario, suite)' \
        'all.conf:8: [target a] memory_url: "http:///memory" has no host' \
        'all.conf:9: [target a] memory_ulr: unknown key, did you mean "memory_url"?' \
        'all.conf:10: line contains a NUL byte (column 33)' \
        'all.conf:11: syntax error, "[" without a closing "]"' \
        'all.conf:14: [target d]: a second target polling /memory' \
        'all.conf:20: [criterion mine] window: "0" is below the minimum 1s' \
        'all.conf:21: [criterion mine] max_age: "100d" is above the maximum 30d' \
        'all.conf:22: syntax error, expected "[section]" or "key = value"'; do
        check "reported: $want" grep -qF "$WORK/$want" <<<"$out"
done
check "and nothing else (13 lines)" test "$(wc -l <<<"$out")" = 13

# Scenarios: each bad key on its line, through the command line.
{
        printf '[scenario a]\n'                                # 1
        printf 'base_url = http://127.0.0.1:1\n'               # 2
        printf 'rate = 0/s\n'                                  # 3
        printf 'duration = 1s\n'                               # 4
        printf 'request = GET\n'                               # 5
        printf '[scenario b]\n'                                # 6
        printf 'model = half-open\n'                           # 7
        printf 'base_url = http://127.0.0.1:1\n'               # 8
        printf 'request = GET /\n'                             # 9
        printf '[scenario c]\n'                                # 10
        printf 'base_url = http://127.0.0.1:1\n'               # 11
        printf 'stages = 10s:5/s\nrate = 5/s\n'                # 12-13
        printf 'request = GET /\nexpect = 2xx\nheader = nocolon\n' # 14-16
        printf '[scenario d]\n'                                # 17
        printf 'model = closed\nbase_url = http://127.0.0.1:1\nrequest = GET /\n' # 18-20
        printf '[scenario e]\nbase_url = http://127.0.0.1:1\nrate = 5/s\n' # 21-23
        printf 'duration = 0\ntimeout = 1ms\nmax_inflight = 0\nrequest = GET /\n' # 24-27
        printf '[scenario f]\nmodel = closed\nbase_url = http://127.0.0.1:1\n' # 28-30
        printf 'users = 0\nduration = 1m\nthink = 1s..x\nramp_up = forever\nrequest = GET /\n' # 31-35
        printf '[criterion latency_p95]\nscenario = ee\n'     # 36-37
        printf '[criterion memory]\nenabled = maybe\n'        # 38-39
        printf '[scenario g]\nmodel = exec\n'                 # 40-41
        printf "command = sh -c 'x\n"                          # 42
        printf 'grace = 2h\nusers = 5\n'                      # 43-44
        printf '[scenario h]\nbase_url = http://127.0.0.1:1\n' # 45-46
        printf 'rate = 1/s\nduration = 1s\nrequest = GET /\nclient = curl\n' # 47-50
} >"$WORK/scen.conf"
out=$("$PERFWATCHD" --check-config --config "$WORK/scen.conf" 2>&1); rc=$?
diag "$out"
check "a file with bad scenarios exits 1" test "$rc" = 1
for want in \
        'scen.conf:3: [scenario a] rate: "0/s" must be above 0' \
        'scen.conf:5: [scenario a] request: "GET" has no PATH: expected [WEIGHT] METHOD PATH [BODY]' \
        'scen.conf:7: [scenario b] model: "half-open" is not a load model (open, closed, exec)' \
        'scen.conf:13: [scenario c] rate: rate and stages both set: give one of them' \
        'scen.conf:15: [scenario c] expect: "2xx" has "2xx", which is not a status code 100-599 or a range LO-HI of them' \
        'scen.conf:16: [scenario c] header: "nocolon" is not "Name: value" (a field name, then a colon)' \
        'scen.conf:17: [scenario d]: missing required key users (model = closed)' \
        'scen.conf:17: [scenario d]: missing required key duration (model = closed)' \
        'scen.conf:24: [scenario e] duration: "0" is below the minimum 1s' \
        'scen.conf:25: [scenario e] timeout: "1ms" is below the minimum 10ms' \
        'scen.conf:26: [scenario e] max_inflight: "0" is below the minimum 1' \
        'scen.conf:31: [scenario f] users: "0" is below the minimum 1' \
        'scen.conf:33: [scenario f] think: "1s..x" is not a duration or MIN..MAX (1s..3s)' \
        'scen.conf:34: [scenario f] ramp_up: "forever" is not a duration' \
        'scen.conf:37: [criterion latency_p95] scenario: no [scenario ee] section, did you mean "e"? (one of: a, b, c, d, e, f, g, h)' \
        'scen.conf:39: [criterion memory] enabled: "maybe" is not yes or no' \
        'scen.conf:40: [scenario g]: missing required key duration (model = exec: the command is stopped after it and grace)' \
        "scen.conf:42: [scenario g] command: \"sh -c 'x\" has a quote that is not closed" \
        'scen.conf:43: [scenario g] grace: "2h" is above the maximum 1h' \
        "scen.conf:44: [scenario g] users: not for model = exec (the command's own options say what it sends)" \
        'scen.conf:50: [scenario h] client: "curl" is not an HTTP client (auto, libcurl)'; do
        check "reported: $want" grep -qF "$WORK/$want" <<<"$out"
done
check "and nothing else (21 lines)" test "$(wc -l <<<"$out")" = 21
"$PERFWATCHD" --config "$WORK/scen.conf" --duration 1s >/dev/null 2>"$WORK/usage.err"; rc=$?
check "--duration without --run is a usage error (exit 2)" test "$rc" = 2
check "and says so" grep -qF -- "--duration and --json go with --run NAME" "$WORK/usage.err"
"$PERFWATCHD" --config "$WORK/scen.conf" --run a >/dev/null 2>&1; rc=$?
check "--run with a broken configuration exits 2" test "$rc" = 2

# zero_data_loss: its keys, each bad value on its line.
{
        printf '[scenario crdt]\nbase_url = http://127.0.0.1:1\nrate = 1/s\nduration = 1s\nrequest = GET /\n' # 1-5
        printf '[criterion zero_data_loss]\n'                  # 6
        printf 'scenario = crdx\n'                             # 7
        printf 'min_conflicts = -5\n'                          # 8
        printf 'max_age = 0\n'                                 # 9
        printf 'threshold = 3\n'                               # 10
        printf 'enabled = off\n'                               # 11
        printf '[criterion latency_p95]\nmin_conflicts = 10\n' # 12-13
} >"$WORK/zdl.conf"
out=$("$PERFWATCHD" --check-config --config "$WORK/zdl.conf" 2>&1); rc=$?
diag "$out"
check "a file with bad zero_data_loss keys exits 1" test "$rc" = 1
for want in \
        'zdl.conf:7: [criterion zero_data_loss] scenario: no [scenario crdx] section, did you mean "crdt"? (one of: crdt)' \
        'zdl.conf:8: [criterion zero_data_loss] min_conflicts: "-5" is not a whole number' \
        'zdl.conf:9: [criterion zero_data_loss] max_age: "0" is below the minimum 1s' \
        'zdl.conf:10: [criterion zero_data_loss] threshold: not supported for this criterion yet' \
        'zdl.conf:11: [criterion zero_data_loss] enabled: "off" is not yes or no' \
        'zdl.conf:13: [criterion latency_p95] min_conflicts: not supported for this criterion yet'; do
        check "reported: $want" grep -qF "$WORK/$want" <<<"$out"
done
check "and nothing else (6 lines)" test "$(wc -l <<<"$out")" = 6
printf '[scenario docs]\nbase_url = http://127.0.0.1:1\nrate = 1/s\nduration = 1s\nrequest = GET /\n[criterion zero_data_loss]\nscenario = docs\nmin_conflicts = 0\nmax_age = 2h\n' >"$WORK/zdl-ok.conf"
out=$("$PERFWATCHD" --check-config --config "$WORK/zdl-ok.conf" 2>&1)
ok $? "zero_data_loss with scenario, min_conflicts = 0 and max_age passes --check-config"
diag "$out"

# acu_scaling's rule: each bad value on its line; several [capacity]
# sections need series = in a [criterion acu_scaling] section.
{
        printf '[capacity a]\nsource = sql\npostgres = p\nquery = SELECT 2\n'    # 1-4
        printf '[capacity b]\nsource = sql\npostgres = p\nquery = SELECT 3\n'    # 5-8
        printf '[postgres p]\nconninfo = host=127.0.0.1\n'                        # 9-10
        printf '[criterion acu_scaling]\nmax_acu = 20\nscale_to = 32\n'          # 11-13
        printf 'settle = soon\nscale_up_within = 0\nscenario = spkie\nwindow = 1h\n' # 14-17
} >"$WORK/acu.conf"
out=$("$PERFWATCHD" --check-config --config "$WORK/acu.conf" 2>&1); rc=$?
diag "$out"
check "a file with a bad acu_scaling rule exits 1" test "$rc" = 1
for want in \
        'acu.conf:11: [criterion acu_scaling]: missing required key series: several [capacity] sections (a, b), e.g. series = aurora.a.acu' \
        'acu.conf:13: [criterion acu_scaling] scale_to: scale_to 32 is above max_acu 20: it could never be met' \
        'acu.conf:14: [criterion acu_scaling] settle: "soon" is not a duration' \
        'acu.conf:15: [criterion acu_scaling] scale_up_within: "0" is below the minimum 1s' \
        'acu.conf:16: [criterion acu_scaling] scenario: no [scenario spkie] section (the file has no [scenario] section)' \
        'acu.conf:17: [criterion acu_scaling] window: not supported for this criterion yet'; do
        check "reported: $want" grep -qF "$WORK/$want" <<<"$out"
done
check "and nothing else (6 lines)" test "$(wc -l <<<"$out")" = 6
printf '[capacity a]\nsource = sql\npostgres = p\nquery = SELECT 2\n[postgres p]\nconninfo = host=127.0.0.1\n' \
        >"$WORK/acu-ok.conf"
printf '[criterion acu_scaling]\nscale_to = 8\nmax_acu = 8\nmin_acu = 0.5\nsettle = 0\n' >>"$WORK/acu-ok.conf"
out=$("$PERFWATCHD" --check-config --config "$WORK/acu-ok.conf" 2>&1)
ok $? "scale_to 8 within [0.5, 8] with no settle passes --check-config"
diag "$out"

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

out=$("$PERFWATCHD" --no-such-option 2>&1 >/dev/null); rc=$?
check "an unknown option exits 2" test "$rc" = 2
check "and says so in a line starting with perfwatchd:, like every other message" \
        grep -qx "perfwatchd: unknown option '--no-such-option'. Try 'perfwatchd --help'." <<<"$out"
out=$("$PERFWATCHD" --config 2>&1 >/dev/null); rc=$?
check "--config without its argument exits 2 with a perfwatchd: message" \
        grep -qx "perfwatchd: option '--config' needs an argument. Try 'perfwatchd --help'." <<<"$out"
out=$("$PERFWATCHD" --check-config=yes 2>&1 >/dev/null)
check "--check-config=yes says the option takes no argument" \
        grep -qx "perfwatchd: option '--check-config' takes no argument. Try 'perfwatchd --help'." <<<"$out"
default=$("$PERFWATCHD" --help | sed -n 's/.*configuration file (default \(.*\))$/\1/p')
if [ -n "$default" ] && [ ! -e "$default" ]; then
        out=$("$PERFWATCHD" --check-config 2>&1); rc=$?
        check "--check-config without an installed file exits 1" test "$rc" = 1
        check "and suggests --config FILE" \
                grep -qx "perfwatchd: no configuration installed at $default; name one with --config FILE" <<<"$out"
else
        TAP_N=$((TAP_N + 1)); echo "ok $TAP_N # SKIP $default exists on this machine"
fi
check "--help exits 0 and mentions --config" grep -q -- --config <<<"$("$PERFWATCHD" --help)"
check "--version prints the version" grep -q '^perfwatchd [0-9]' <<<"$("$PERFWATCHD" --version)"

# Startup failures are clear too.
printf '[daemon]\ndatabase = /nonexistent/dir/pw.db\nlisten = 127.0.0.1:%s\n' "$PW_PORT" >"$WORK/nodb.conf"
out=$("$PERFWATCHD" --config "$WORK/nodb.conf" 2>&1); rc=$?
check "an unopenable database exits 1" test "$rc" = 1
check "and names the database file" grep -q "/nonexistent/dir/pw.db" <<<"$out"
# The lost-write check's keys: a write without its token, write lines
# without a read, a bad JSON pointer, documents out of range, a key of the
# check without write lines; each on its own line.
{
        printf '[scenario w]\nmodel = closed\nusers = 2\nduration = 1s\n'     # 1-4
        printf 'base_url = http://127.0.0.1:1\n'                              # 5
        printf 'write = POST /docs/${doc} {}\n'                               # 6
        printf 'documents = 5000\n'                                           # 7
        printf 'elements = elements\n'                                        # 8
        printf '[scenario r]\nmodel = closed\nusers = 2\nduration = 1s\n'     # 9-12
        printf 'base_url = http://127.0.0.1:1\nrequest = GET /\n'             # 13-14
        printf 'read_after = 1s\n'                                            # 15
} >"$WORK/writes.conf"
out=$("$PERFWATCHD" --check-config --config "$WORK/writes.conf" 2>&1); rc=$?
diag "$out"
check "bad lost-write keys exit 1" test "$rc" = 1
check "a write without \${token} is reported on its line" \
        grep -qF "writes.conf:6: [scenario w] write: \"POST /docs/\${doc} {}\" has no \${token} in its PATH or BODY" <<<"$out"
check "documents out of range" grep -qF "writes.conf:7: [scenario w] documents: \"5000\" is above the maximum 4096" <<<"$out"
check "elements not a JSON pointer" grep -qF "writes.conf:8: [scenario w] elements: \"elements\" is not a JSON pointer" <<<"$out"
check "write lines need a read" \
        grep -qF "writes.conf:1: [scenario w]: missing required key read (the scenario has write lines)" <<<"$out"
check "read_after without write lines" \
        grep -qF "writes.conf:15: [scenario r] read_after: only with write lines (the lost-write check)" <<<"$out"
done_testing
