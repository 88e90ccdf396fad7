#!/bin/bash
# Targets that answer garbage, a 10 MB body, HTTP 500 or nothing at all:
# perfwatchd stays up, marks the source down and names the problem.
. "$TOP_SRCDIR/tests/system/lib.sh"

start_target
TARGET_TIMEOUT=1s write_config "$WORK/pw.conf"
start_daemon "$WORK/pw.conf"
check "the source is up at first" wait_until 15 source_up_is go.app.memory true

last_error() { jget "$PW/v1/sources" '.sources[] | select(.name=="go.app.memory") | .last_error'; }
error_matches() { last_error | grep -qi -E "$1"; }

try_mode() {    # try_mode MODE PATTERN DESCRIPTION
        target_control "mode?memory=$1"
        check "$1: the source goes down" wait_until 20 source_up_is go.app.memory false
        check "$1: the reason says $3" wait_until 10 error_matches "$2"
        diag "$1: last_error: $(last_error)"
        check "$1: perfwatchd still answers" curl -sf -o /dev/null --max-time 1 "$PW/healthz"
        target_control "mode?memory=ok"
        check "$1: the source recovers" wait_until 60 source_up_is go.app.memory true
}

try_mode garbage 'invalid JSON' "the JSON is invalid"
try_mode huge 'max_body' "the body exceeds max_body"
try_mode 500 'HTTP 500' "the status is 500"
try_mode hang 'timed out' "the request timed out"
try_mode many 'more than 2000 numeric fields' "the answer has too many fields"

check "perfwatchd is still running" kill -0 "$PW_PID"
check "SIGTERM stops it with status 0" stop_daemon
done_testing
