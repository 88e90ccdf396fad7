#!/bin/bash
# The CloudWatch stand-in's capacity shapes, for the acu_scaling tests: the
# default ramp, max=, stuck=, a scripted list of values per step with
# before/after, exact points from a JSON body, a gap, CloudWatch's lag, and
# bad controls refused with a 400 naming them; then perfwatchd's capacity
# poller stores a scripted shape exactly, and a later point from the body.
. "$TOP_SRCDIR/tests/system/lib.sh"

command -v jq >/dev/null || bail "jq is needed"
$PY -c 'import botocore.auth' 2>/dev/null || { echo "1..0 # SKIP python3-botocore not installed"; exit 0; }

AKID=AKIDSHAPETEST
SECRET='shape/secret+key'
start_standin "$AKID" "$SECRET"

control() { curl -sf -X POST "$CW/_control?$1" >/dev/null; }
refused() {     # refused QUERY TEXT: a 400 whose message has TEXT
        local code
        code=$(curl -s -o "$WORK/refused.out" -w '%{http_code}' -X POST "$CW/_control?$1")
        [ "$code" = 400 ] && grep -qF -- "$2" "$WORK/refused.out"
}

# get FROM TO JQ: a signed GetMetricData of ServerlessDatabaseCapacity over
# [FROM, TO) (epoch seconds, period 60), filtered by JQ on its result.
get() {
        local body
        body="{\"StartTime\":$1,\"EndTime\":$2,\"MetricDataQueries\":[{\"Id\":\"acu\",\"MetricStat\":{\"Metric\":{\"Namespace\":\"AWS/RDS\",\"MetricName\":\"ServerlessDatabaseCapacity\",\"Dimensions\":[{\"Name\":\"DBClusterIdentifier\",\"Value\":\"app-cluster\"}]},\"Period\":60,\"Stat\":\"Average\"},\"ReturnData\":true}]}"
        curl -s --max-time 5 --aws-sigv4 aws:amz:eu-west-1:monitoring -u "$AKID:$SECRET" \
                -H 'Content-Type: application/x-amz-json-1.0' \
                -H 'X-Amz-Target: GraniteServiceVersion20100801.GetMetricData' --data "$body" "$CW/" |
                jq -c ".MetricDataResults[0] | $3"
}
pairs() { get "$1" "$2" '[.Timestamps, (.Values | map(. + 0))] | transpose'; }

NOW=$(date +%s)
M=$((NOW - NOW % 60))           # this minute
S=$((M - 600))                  # a scripted shape's start: 10 minutes ago

check "the default ramp goes from 2 to 16 ACU" test "$(get $((M - 1200)) $M '[.Values | min, max]')" = '[2,16]'
control "max=20"
check "max=20: the ramp rises to 20 ACU" test "$(get $((M - 1200)) $((M + 120)) '.Values | max')" = 20
control "stuck=2"
check "stuck=2: 2 ACU at every time" test "$(get $((M - 1200)) $M '[.Values | unique[], length]')" = '[2,20]'
check "_stats names the shape" test "$(curl -s "$CW/_stats" | jq -r .capacity)" = "stuck at 2"

control "capacity=2,4,8,16@60&start=$S"
check "a script: one value per step, the first before it and the last after it" \
        test "$(pairs $((S - 120)) $((S + 360)))" = \
        "[[$((S - 120)),2],[$((S - 60)),2],[$S,2],[$((S + 60)),4],[$((S + 120)),8],[$((S + 180)),16],[$((S + 240)),16],[$((S + 300)),16]]"
control "capacity=2,16@120&start=$S&before=none&after=none"
check "@120 with before=none and after=none: only the script's own datapoints" \
        test "$(pairs $((S - 120)) $((S + 600)))" = "[[$S,2],[$((S + 60)),2],[$((S + 120)),16],[$((S + 180)),16]]"
control "capacity=2,4,8,16,16,16@60&start=$S&gap=$((S + 60))-$((S + 180))"
check "gap=FROM-TO: no datapoint in [FROM, TO)" \
        test "$(pairs $S $((S + 360)))" = "[[$S,2],[$((S + 180)),16],[$((S + 240)),16],[$((S + 300)),16]]"
control "gap=&lag=300"
check "lag=300: nothing newer than five minutes ago" \
        test "$(get $((M - 1200)) $((M + 60)) "[.Timestamps[] | select(. > $NOW - 300)] | length")" = 0
check "nor is the gap any more" test "$(get $S $((S + 120)) '.Timestamps | length')" = 2
control "lag=0&capacity=ramp"
check "capacity=ramp: the default ramp again" test "$(get $((M - 1200)) $((M + 120)) '[.Values | min, max]')" = '[2,20]'
check "max=16: as at the start" bash -c "curl -sf -X POST '$CW/_control?max=16' >/dev/null && \
        test \"\$(curl -s '$CW/_stats' | jq -r .capacity)\" = 'ramp 2..16 every 60s'"

curl -sf -X POST -d "{\"points\": [[$((S + 7)), 3], [$((S + 9)), 5.5]]}" "$CW/_control" >/dev/null
check "a JSON body of points: exactly those, at their own times" \
        test "$(pairs $((S - 600)) $M)" = "[[$((S + 7)),3],[$((S + 9)),5.5]]"

check "capacity=2,x is refused naming the value" refused "capacity=2,x" "capacity: 'x' is not a number"
check "a step of 0 is refused" refused "capacity=2@0" "capacity step: '0' is not positive"
check "gap=5 is refused" refused "gap=5" "gap: '5' is not FROM-TO"
check "lag=-1 is refused" refused "lag=-1" "lag: '-1' is negative"
check "stuck=nan is refused" refused "stuck=nan" "stuck: 'nan' is not a finite number"
check "a refused control changes nothing" test "$(curl -s "$CW/_stats" | jq -r .capacity)" = "2 points"
code=$(curl -s -o "$WORK/refused.out" -w '%{http_code}' -X POST -d '{"points": 3}' "$CW/_control")
check "a body that is not a list of points is refused" \
        bash -c "test $code = 400 && grep -qF 'points: the body must be' '$WORK/refused.out'"

# perfwatchd's poller stores a scripted shape as it is.
control "capacity=2,4,8,16,20,16@60&start=$S&before=none&after=none"
start_target
write_config "$WORK/pw.conf" "[capacity aurora]" "source = cloudwatch" "region = eu-west-1" "cluster = app-cluster" \
        "endpoint = $CW" "credentials_file = $WORK/credentials" "interval = 1s" "timeout = 2s" \
        "period = 1m" "lookback = 20m"
start_daemon "$WORK/pw.conf"
acu() { jget "$PW/v1/series?metric=aurora.aurora.acu&from=now-1h" "$1"; }
six() { [ "$(acu '.points | length')" = 6 ]; }
check "the poller stores the six scripted datapoints" wait_until 15 six
check "at the script's times (ms) with its values" \
        test "$(acu '.points' | jq -c .)" = \
        "[[${S}000,2],[$((S + 60))000,4],[$((S + 120))000,8],[$((S + 180))000,16],[$((S + 240))000,20],[$((S + 300))000,16]]"
LATER=$(($(date +%s) + 2))
curl -sf -X POST -d "{\"points\": [[$LATER, 7]]}" "$CW/_control" >/dev/null
newest() { [ "$(acu '.points | max_by(.[0]) | .[1]')" = 7 ]; }
check "a point scripted for two seconds from now is stored once it is due" wait_until 15 newest
check "at its time" test "$(acu '.points | max_by(.[0]) | .[0]')" = "${LATER}000"
check "SIGTERM stops perfwatchd with exit status 0" stop_daemon
done_testing
