#!/bin/bash
# [capacity] source = cloudwatch against tests/cloudwatch-standin.py, which
# checks every request's SigV4 signature with botocore's signer: the ACU ramp
# is stored, paginated answers are followed, wrong credentials and a missing
# session token give up=0 with the stand-in's own 403 message, 5xx /
# malformed / silent / absent endpoints give up=0 with the reason, and a
# credentials file others can read is refused by --check-config.
. "$TOP_SRCDIR/tests/system/lib.sh"

command -v jq >/dev/null || bail "jq is needed"
$PY -c 'import botocore.auth' 2>/dev/null || { echo "1..0 # SKIP python3-botocore not installed"; exit 0; }

AKID=AKIDPERFWATCHTEST
SECRET='wJalrXUtnFEMI/K7MDENG+bPxRfi:CYTEST'   # ':' and '/' must survive signing
TOKEN="FwoGZXIvYXdzE$(head -c 700 /dev/zero | tr '\0' T)Zz=="   # longer than a libinih line
CW_PORT=$(free_port)
CW=http://127.0.0.1:$CW_PORT
SOURCE=aurora.aurora

start_standin() {
        STANDIN_ACCESS_KEY=$AKID STANDIN_SECRET=$SECRET \
                $PY "$TOP_SRCDIR/tests/cloudwatch-standin.py" "$CW_PORT" --region eu-west-1 --page-size 8 \
                >>"$WORK/standin.log" 2>&1 &
        STANDIN_PID=$!
        PIDS="$PIDS $STANDIN_PID"
        wait_until 10 curl -sf "$CW/_stats" || bail "the CloudWatch stand-in did not start"
}
control() { curl -sf -X POST "$CW/_control?$1" >/dev/null; }
stats() { curl -s --max-time 5 "$CW/_stats" | jq -r "$1"; }

write_credentials() {   # write_credentials SECRET [TOKEN]
        umask 077
        {
                echo "[default]"
                echo "aws_access_key_id = $AKID"
                echo "aws_secret_access_key = $1"
                [ -z "${2:-}" ] || echo "aws_session_token = $2"
        } >"$WORK/credentials"
        umask 022
        chmod 600 "$WORK/credentials"
}

# A GetMetricData request signed by curl's own --aws-sigv4, to check the
# stand-in's check independently of perfwatchd.
curl_signed() {         # curl_signed SECRET: prints the HTTP status
        local now body
        now=$(date +%s)
        body="{\"StartTime\":$((now - 600)),\"EndTime\":$now,\"MetricDataQueries\":[{\"Id\":\"acu\",\"MetricStat\":{\"Metric\":{\"Namespace\":\"AWS/RDS\",\"MetricName\":\"ServerlessDatabaseCapacity\",\"Dimensions\":[{\"Name\":\"DBClusterIdentifier\",\"Value\":\"app-cluster\"}]},\"Period\":60,\"Stat\":\"Average\"},\"ReturnData\":true}]}"
        curl -s -o "$WORK/signed.out" -w '%{http_code}' --max-time 5 --aws-sigv4 aws:amz:eu-west-1:monitoring \
                -u "$AKID:$1" -H 'Content-Type: application/x-amz-json-1.0' \
                -H 'X-Amz-Target: GraniteServiceVersion20100801.GetMetricData' --data "$body" "$CW/"
}

last_error() { jget "$PW/v1/sources" ".sources[] | select(.name == \"$SOURCE\") | .last_error"; }
error_has() { source_up_is "$SOURCE" false && grep -qF -- "$1" <<<"$(last_error)"; }
up_again() { source_up_is "$SOURCE" true; }

start_standin
check "the stand-in accepts a request signed with the right secret" test "$(curl_signed "$SECRET")" = 200
check "the stand-in answers 403 to a request signed with a wrong secret" \
        test "$(curl_signed "${SECRET}x")" = 403
check "its 403 says SignatureDoesNotMatch with AWS's message" \
        grep -q 'SignatureDoesNotMatch.*does not match the signature you provided' "$WORK/signed.out"
check "a request without a signature is refused too" \
        test "$(curl -s -o /dev/null -w '%{http_code}' -H 'X-Amz-Target: GraniteServiceVersion20100801.GetMetricData' \
                --data '{}' "$CW/")" = 403

write_credentials "$SECRET"
start_target
CAPACITY=("[capacity aurora]" "source = cloudwatch" "region = eu-west-1" "cluster = app-cluster"
          "endpoint = $CW" "credentials_file = $WORK/credentials" "interval = 1s" "timeout = 2s"
          "period = 1m" "lookback = 20m")
write_config "$WORK/pw.conf" "${CAPACITY[@]}"
start_daemon "$WORK/pw.conf"

check "the cloudwatch source comes up" wait_until 15 source_up_is "$SOURCE" true
check "its kind is cloudwatch and its url the endpoint" \
        test "$(jget "$PW/v1/sources" ".sources[] | select(.name == \"$SOURCE\") | .kind + \" \" + .url")" = "cloudwatch $CW"
check "the stand-in logged a verified signature" grep -q 'verified signature of' "$WORK/standin.log"

acu() { jget "$PW/v1/series?metric=aurora.aurora.acu&from=now-1h" "$1"; }
has_full_window() { [ "$(acu '.points | length')" -ge 19 ]; }
check "the 20-minute window is stored (three pages of 8 datapoints followed)" wait_until 15 has_full_window
check "aurora.aurora.acu starts at 2 ACU" test "$(acu '[.points[][1]] | min')" = 2
check "aurora.aurora.acu reaches 16 ACU" test "$(acu '[.points[][1]] | max')" = 16
check "the ACU ramp never decreases in time order" \
        test "$(acu '[.points | sort_by(.[0]) | .[][1]] as $v | all(range(1; $v | length); $v[.] >= $v[. - 1])')" = true
check "each datapoint is stored once, at CloudWatch's timestamp (whole minutes)" \
        test "$(acu '[.points[][0]] | (length == (unique | length)) and all(.[]; . % 60000 == 0)')" = true
check "aurora.aurora.acu_utilization exists" \
        test "$(jget "$PW/v1/series?metric=aurora.aurora.acu_utilization&from=now-1h" '[.points[][1]] | max')" = 100

# Wrong secret, then the right one again, each picked up after SIGHUP.
write_credentials "wrong${SECRET}"
kill -HUP "$PW_PID"
check "a wrong secret gives up=0 with the stand-in's 403 message" \
        wait_until 20 error_has "HTTP 403: SignatureDoesNotMatch: The request signature we calculated does not match"
check "the secret never appears in /v1/sources or the log" \
        bash -c "! grep -qF -- 'K7MDENG' <(curl -s '$PW/v1/sources') '$DAEMON_LOG'"
write_credentials "$SECRET"
kill -HUP "$PW_PID"
check "with the secret fixed the source is up again" wait_until 30 up_again

# Session tokens: required by the stand-in from now on.
control "session_token=$TOKEN"
check "without the session token the source goes down naming the token" \
        wait_until 20 error_has "security token included in the request is invalid"
write_credentials "$SECRET" "$TOKEN"
check "with aws_session_token in the file (a line libinih cannot hold) it is up again" wait_until 30 up_again
check "X-Amz-Security-Token was sent and signed" \
        grep -q x-amz-security-token <<<"$(stats .last_signed_headers)"

# Failures of the endpoint.
control "mode=500"
check "a 500 gives up=0 naming the HTTP status and CloudWatch's error" \
        wait_until 30 error_has "HTTP 500: InternalServiceError: stand-in told to fail"
control "mode=forbidden"
check "an AccessDenied 403 gives up=0 with its message" \
        wait_until 30 error_has "HTTP 403: AccessDeniedException: User is not authorized"
control "mode=malformed"
check "a malformed answer gives up=0 with 'invalid JSON'" wait_until 30 error_has "invalid JSON"
control "mode=hang"
check "an endpoint that never answers gives up=0 with 'timed out'" wait_until 30 error_has "timed out after 2000 ms"
check "the API keeps answering meanwhile" curl -sf --max-time 1 -o /dev/null "$PW/v1/status"
control "mode=ok"
check "back to normal answers, the source is up again" wait_until 30 up_again

# A credentials file others can read: refused by --check-config, and by the poller.
chmod 644 "$WORK/credentials"
out=$("$PERFWATCHD" --check-config --config "$WORK/pw.conf" 2>&1); rc=$?
check "--check-config exits 1 for a world-readable credentials file" test "$rc" = 1
check "and names the file" grep -qF "$WORK/credentials" <<<"$out"
diag "$out"
check "the running poller refuses it too" wait_until 30 error_has "is readable by group or others"
chmod 600 "$WORK/credentials"
check "SIGTERM stops perfwatchd with exit status 0" stop_daemon

# Credentials from the environment, session token included.
write_config "$WORK/env.conf" "${CAPACITY[@]/credentials_file = */}"
AWS_ACCESS_KEY_ID=$AKID AWS_SECRET_ACCESS_KEY=$SECRET AWS_SESSION_TOKEN=$TOKEN start_daemon "$WORK/env.conf"
check "credentials from AWS_* variables, with AWS_SESSION_TOKEN, are accepted" \
        wait_until 15 source_up_is "$SOURCE" true
check "the restarted daemon does not store the window twice" \
        test "$(acu '[.points[][0]] | length == (unique | length)')" = true

kill -TERM "$STANDIN_PID"; wait "$STANDIN_PID" 2>/dev/null
check "with no endpoint listening, up=0 with 'connect failed'" wait_until 30 error_has "connect failed"
check "perfwatchd is still running" kill -0 "$PW_PID"
check "SIGTERM stops perfwatchd with exit status 0" stop_daemon
done_testing
