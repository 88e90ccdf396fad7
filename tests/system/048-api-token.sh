#!/bin/bash
# [daemon] api_token_file: a file that is missing or that others can read
# stops the start with one line naming it; a good one turns the POST routes
# on; a reload to a bad file keeps the token in force; the token never
# reaches the log.
. "$TOP_SRCDIR/tests/system/lib.sh"

TOKEN=tok-$RANDOM$RANDOM-secret
TOKEN2=second-$RANDOM$RANDOM-secret
TF=$WORK/api-token

start_target
write_config "$WORK/pw.conf"
sed -i "/^\[daemon\]/a api_token_file = $TF" "$WORK/pw.conf"

# refused_start DESCRIPTION TEXT: the daemon exits non-zero at once,
# printing TEXT.
refused_start() {
        local out rc
        out=$(timeout 20 "$PERFWATCHD" --config "$WORK/pw.conf" 2>&1); rc=$?
        check "$1: the daemon does not start" test "$rc" -ne 0 -a "$rc" -ne 124
        check "$1: it says \"$2\"" grep -qF -- "$2" <<<"$out"
}
refused_start "a missing token file" "api_token_file $TF: No such file or directory"
printf '%s\n' "$TOKEN" >"$TF"
chmod 0644 "$TF"
refused_start "a world-readable token file" "api_token_file $TF: mode 0644 lets group or others read it"
chmod 0640 "$TF"
refused_start "a group-readable token file" "api_token_file $TF: mode 0640"
chmod 0600 "$TF"
: >"$TF"
refused_start "an empty token file" "api_token_file $TF: is empty"
printf '%s\n' "$TOKEN" >"$TF"

# post PATH TOKEN: the status of a POST with that bearer token ("" for none).
post() {
        if [ -n "$2" ]; then
                curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST -H "Authorization: Bearer $2" "$PW$1"
        else
                curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST "$PW$1"
        fi
}
# accepted CODE: past the token check (404: no such scenario; 503: no
# runner attached).
accepted() { [ "$1" = 404 ] || [ "$1" = 503 ]; }
token_works() { accepted "$(post /v1/scenarios/nosuch/run "$1")"; }

start_daemon "$WORK/pw.conf"
check "a 0600 token file: the daemon starts" kill -0 "$PW_PID"
check "POST without a token: 401" test "$(post /v1/scenarios/nosuch/run "")" = 401
check "POST with another token: 401" test "$(post /v1/scenarios/nosuch/run "$TOKEN2")" = 401
check "POST with the token passes the check" token_works "$TOKEN"
check "401 carries WWW-Authenticate: Bearer" \
        grep -qi '^WWW-Authenticate: Bearer' <(curl -si --max-time 5 -X POST "$PW/v1/runs/1/cancel")
check "POST on a GET route: 405" test "$(post /v1/status "$TOKEN")" = 405

chmod 0644 "$TF"
printf '%s\n' "$TOKEN2" >"$TF"
kill -HUP "$PW_PID"
check "a reload to a readable token file is logged, naming it" \
        wait_until 10 grep -qF "api_token_file $TF: mode 0644 lets group or others read it; chmod 600 it (or pass it with LoadCredential=); keeping the previous token" "$DAEMON_LOG"
check "the previous token stays in force" token_works "$TOKEN"
check "the refused file's token is not taken" test "$(post /v1/scenarios/nosuch/run "$TOKEN2")" = 401

chmod 0600 "$TF"
kill -HUP "$PW_PID"
check "a reload to a good file applies its token" \
        wait_until 10 token_works "$TOKEN2"
check "the old token is refused then" test "$(post /v1/scenarios/nosuch/run "$TOKEN")" = 401

sed -i "/^api_token_file/d" "$WORK/pw.conf"
kill -HUP "$PW_PID"
forbidden() { [ "$(post /v1/scenarios/nosuch/run "$TOKEN2")" = 403 ]; }
check "a reload without api_token_file turns the POST routes off: 403" wait_until 10 forbidden
check "the 403 says how to turn them on" \
        grep -qF "POST routes are off: set api_token_file in [daemon]" \
        <(curl -s --max-time 5 -X POST -H "Authorization: Bearer $TOKEN2" "$PW/v1/scenarios/x/run")
check "SIGTERM stops it with status 0" stop_daemon
check "neither token appears in the log" \
        test "$(cat "$WORK"/daemon.*.log | grep -c -e "$TOKEN" -e "$TOKEN2")" = 0
done_testing
