#!/bin/bash
# Secrets stay out of /v1/sources and the log: user-info in a memory_url and
# in the CloudWatch endpoint is shown redacted, an upstream's error text that
# quotes the request's Authorization header and session token is masked, a
# failure's log line names the (redacted) URL, and libpq's two-line
# "connection refused" reason is joined with "; ".
. "$TOP_SRCDIR/tests/system/lib.sh"

command -v jq >/dev/null || bail "jq is needed"
$PY -c 'import botocore.auth' 2>/dev/null || { echo "1..0 # SKIP python3-botocore not installed"; exit 0; }

AKID=AKIDPERFWATCHTEST
SECRET='wJalrXUtnFEMI/K7MDENG+bPxRfiSECRETX'
TOKEN=FwoGZXIvYXdzEsessiontokenSECRETTOKEN
URLPW=urlpassw0rdSECRET
CW_PORT=$(free_port)
CW=http://127.0.0.1:$CW_PORT
PG_PORT=$(free_port)    # nothing listens there

STANDIN_ACCESS_KEY=$AKID STANDIN_SECRET=$SECRET \
        $PY "$TOP_SRCDIR/tests/cloudwatch-standin.py" "$CW_PORT" --region eu-west-1 --session-token "$TOKEN" \
        >>"$WORK/standin.log" 2>&1 &
PIDS="$PIDS $!"
wait_until 10 curl -sf "$CW/_stats" || bail "the CloudWatch stand-in did not start"
umask 077
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\naws_session_token = %s\n' \
        "$AKID" "$SECRET" "$TOKEN" >"$WORK/credentials"
umask 022

start_target
MEM_URL=http://alice:$URLPW@127.0.0.1:$MEM_PORT/memory
write_config "$WORK/pw.conf" \
        "[target down]" "memory_url = http://bob:$URLPW@127.0.0.1:$PG_PORT/memory" "memory_interval = 1s" \
        "[capacity aurora]" "source = cloudwatch" "region = eu-west-1" "cluster = app-cluster" \
        "endpoint = http://carol:$URLPW@127.0.0.1:$CW_PORT/" "credentials_file = $WORK/credentials" \
        "interval = 1s" "timeout = 2s" \
        "[postgres gone]" "conninfo = host=127.0.0.1 port=$PG_PORT user=perfwatch password=$URLPW connect_timeout=2" \
        "interval = 1s" \
        "[criterion memory]" "series = go.app.Sys"
start_daemon "$WORK/pw.conf"

url_of() { jget "$PW/v1/sources" ".sources[] | select(.name == \"$1\") | .url"; }
error_of() { jget "$PW/v1/sources" ".sources[] | select(.name == \"$1\") | .last_error"; }
has_error() { [ -n "$(error_of "$1")" ] && [ "$(error_of "$1")" != null ]; }

check "the memory source is up (user-info in the URL is still sent)" wait_until 15 source_up_is go.app.memory true
check "its URL is shown as alice:***@" test "$(url_of go.app.memory)" = "http://alice:***@127.0.0.1:$MEM_PORT/memory"
check "the CloudWatch source comes up" wait_until 20 source_up_is aurora.aurora true
check "the endpoint is shown as carol:***@" test "$(url_of aurora.aurora)" = "http://carol:***@127.0.0.1:$CW_PORT/"

curl -sf -X POST "$CW/_control?mode=echo" >/dev/null
check "an answer quoting the request's credentials takes the source down" \
        wait_until 20 bash -c "[ \"\$(curl -s $PW/v1/sources | jq -r '.sources[] | select(.name==\"aurora.aurora\") | .up')\" = false ]"
e=$(error_of aurora.aurora)
diag "last_error: $e"
check "the reason keeps the error type" grep -q "HTTP 400: InvalidSignatureException" <<<"$e"
check "the session token is masked" grep -q "X-Amz-Security-Token=\*\*\*" <<<"$e"
check "the Authorization header is masked" grep -q "Authorization: \*\*\*" <<<"$e"
check "no signature, credential scope or key id is left" bash -c '! grep -q -E "Signature=|Credential=|AKID" <<<"$1"' _ "$e"

check "the unreachable memory target goes down" wait_until 15 has_error go.down.memory
check "the postgres source goes down" wait_until 15 has_error pg.gone
pe=$(error_of pg.gone)
diag "pg last_error: $pe"
check "libpq's lines are joined with '; '" grep -q -E "Connection refused; Is the server running" <<<"$pe"
check "no line break or tab is left in the reason" bash -c '! grep -q -P "[\t\n]" <<<"$1"' _ "$pe"

check "the failure log line names the redacted memory URL" \
        grep -q -F "go.down.memory: poll of http://bob:***@127.0.0.1:$PG_PORT/memory failed: connect failed" "$DAEMON_LOG"
check "the failure log line names the CloudWatch endpoint" \
        grep -q -F "aurora.aurora: poll of http://carol:***@127.0.0.1:$CW_PORT/ failed: HTTP 400" "$DAEMON_LOG"
check "the failure log line names the postgres conninfo, without its password" \
        grep -q -E "pg.gone: poll of [^:]*host=127.0.0.1 port=$PG_PORT[^:]* failed: .*; Is the server" "$DAEMON_LOG"

curl -s "$PW/v1/sources" >"$WORK/sources.json"
curl -s "$PW/v1/sources?format=text" >"$WORK/sources.txt"
for secret in "$URLPW" "$SECRET" "$TOKEN"; do
        check "${secret:0:6}... never appears in /v1/sources" bash -c '! grep -q -F -- "$1" "$2" "$3"' _ "$secret" \
                "$WORK/sources.json" "$WORK/sources.txt"
        check "${secret:0:6}... never appears in the log" bash -c '! grep -q -F -- "$1" "$2"' _ "$secret" "$DAEMON_LOG"
done

check "SIGTERM stops it with status 0" stop_daemon
done_testing
