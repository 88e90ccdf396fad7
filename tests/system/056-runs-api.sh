#!/bin/bash
# The runs API end to end, on the real daemon against the demo target:
# POST /v1/scenarios/NAME/run (202, Location) and GET of that run while it
# grows; 409 naming the active run; GET /v1/scenarios (active_run, the next
# 03:00 local of `0 3 * * *`, last_run); POST /v1/runs/ID/cancel mid-run:
# the run ends cancelled keeping its partial figures, as the runs table
# holds them, and the next POST starts a new run; the state filter;
# ?format=text; a clean run turns latency_p95 met and a run against the
# stalling target not_met, each with its run as evidence; the bearer token
# (none, wrong: 401 and no run; no api_token_file: 403); SIGTERM during a
# run started through the API: aborted.
. "$TOP_SRCDIR/tests/system/lib.sh"

# Cron works in local time: a zone half an hour off UTC shows a next_run_at
# computed in UTC, or printed as local without its offset.
export TZ=Asia/Kolkata

TOKEN=tok-$RANDOM$RANDOM-e2e
TF=$WORK/api-token
printf '%s\n' "$TOKEN" >"$TF"
chmod 0600 "$TF"

start_target
TA=http://127.0.0.1:$API_PORT
write_config "$WORK/pw.conf" \
        "[scenario long]" "base_url = $TA" "rate = 50/s" "duration = 40s" "timeout = 2s" \
        "request = GET /api/items" "schedule = 0 3 * * *" \
        "[scenario short]" "base_url = $TA" "rate = 200/s" "duration = 6s" "timeout = 3s" \
        "request = GET /api/items" \
        "[criterion latency_p95]" "scenario = short" "min_requests = 500" "max_age = 10m"
sed "/^\[daemon\]/a api_token_file = $TF" "$WORK/pw.conf" >"$WORK/token.conf"
start_daemon "$WORK/token.conf"
sql() { sqlite3 -cmd '.timeout 5000' "$WORK/perfwatch.db" "$@"; }

# post PATH [TOKEN]: the status of a POST ("" or no TOKEN: none sent).
post() {
        curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST \
                ${2:+-H "Authorization: Bearer $2"} "$PW$1"
}
nruns() { jget "$PW/v1/runs" '.runs | length'; }
run_state() { jget "$PW/v1/runs/$1" .state; }
run_ended() { [ "$(run_state "$1")" != running ]; }
lat() { jget "$PW/v1/status" ".criteria[] | select(.name == \"latency_p95\") | $1"; }
lat_is() { [ "$(lat '.state + " " + (.evidence.run | tostring)')" = "$1 $2" ]; }

# --- the token
check "POST without a token: 401" test "$(post /v1/scenarios/long/run)" = 401
check "POST with a wrong token: 401" test "$(post /v1/scenarios/long/run "wrong-$TOKEN")" = 401
check "cancel without a token: 401" test "$(post /v1/runs/1/cancel)" = 401
check "and no run was started" test "$(nruns)|$(sql 'SELECT count(*) FROM runs')" = "0|0"

# --- start, follow, 409
H=$(curl -si --max-time 5 -X POST -H "Authorization: Bearer $TOKEN" "$PW/v1/scenarios/long/run" | tr -d '\r')
diag "$(head -1 <<<"$H")"
check "POST /v1/scenarios/long/run: 202" grep -q '^HTTP/1.1 202' <<<"$H"
LOC=$(sed -n 's/^[Ll]ocation: //p' <<<"$H")
ID1=${LOC#/v1/runs/}
check "with Location: /v1/runs/ID ($LOC)" grep -qE '^[0-9]+$' <<<"$ID1"
check "the body names it running" test "$(sed -n '/^{/,$p' <<<"$H" | jq -r '"\(.id) \(.state) \(.url)"')" \
        = "$ID1 running $LOC"
reqs() { jget "$PW$LOC" .requests; }
grown() { [ "$(reqs)" -gt "$1" ]; }
check "GET $LOC: running" test "$(run_state "$ID1")" = running
wait_until 5 grown 0
r1=$(reqs)
check "its requests grow between two reads ($r1, then more)" wait_until 5 grown "$r1"
check "STATUS-like view: the scenario's active_run is $ID1" \
        test "$(jget "$PW/v1/scenarios" '.scenarios[] | select(.name == "long") | .active_run')" = "$ID1"
B=$(curl -s --max-time 5 -w '\n%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" "$PW/v1/scenarios/short/run")
diag "second POST: $(tr '\n' ' ' <<<"$B")"
check "a second POST while it runs: 409" test "$(tail -1 <<<"$B")" = 409
check "naming the active run" test "$(head -1 <<<"$B" | jq -r '"\(.error.active_run) \(.error.message)"')" \
        = "$ID1 a run is active (one at a time): run $ID1"
check "short has no active_run" \
        test "$(jget "$PW/v1/scenarios" '.scenarios[] | select(.name == "short") | .active_run')" = null

# --- next_run_at: the next 03:00 local
now=$(date +%s)
want=$(date -d 'today 03:00' +%s)
[ "$want" -gt "$now" ] || want=$(date -d 'tomorrow 03:00' +%s)
next=$(jget "$PW/v1/scenarios" '.scenarios[] | select(.name == "long") | .next_run_at')
diag "next_run_at $next; expected $(date -d "@$want" --rfc-3339=seconds)"
check "next_run_at is an RFC 3339 time" grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$' <<<"$next"
check "next_run_at is the next 03:00 local" test "$(date -d "$next" +%s 2>/dev/null)" = "$want"
check "an unscheduled scenario has none" \
        test "$(jget "$PW/v1/scenarios" '.scenarios[] | select(.name == "short") | .next_run_at')" = null

# --- cancel mid-run
check "cancel with a wrong token: 401" test "$(post "/v1/runs/$ID1/cancel" "x$TOKEN")" = 401
check "cancel of another id: 409" test "$(post "/v1/runs/$((ID1 + 7))/cancel" "$TOKEN")" = 409
check "POST /v1/runs/$ID1/cancel: 202" test "$(post "/v1/runs/$ID1/cancel" "$TOKEN")" = 202
check "the run ends within 5 s" wait_until 5 run_ended "$ID1"
J=$(curl -s --max-time 5 "$PW$LOC")
diag "cancelled: $(jq -c '{state, requests, ok, dropped, duration_s, latency_ms, reason}' <<<"$J")"
check "it ended cancelled" test "$(jq -r .state <<<"$J")" = cancelled
check "keeping its partial figures (requests > 50, all but a few ok)" \
        test "$(jq -r '.requests > 50 and .ok > 50 and .requests - .ok <= 5' <<<"$J")" = true
check "latency percentiles present" \
        test "$(jq -r '[.latency_ms.p50, .latency_ms.p95, .latency_ms.p99, .service_ms.p95] | map(type) | unique | join(",")' <<<"$J")" = number
check "its figures are those of the runs table" \
        test "$(jq -r '[.state, .requests, .ok, .dropped, .errors.connect, .errors.timeout, .errors.status] | join("|")' <<<"$J")" \
        = "$(sql "SELECT state, requests, ok, dropped, err_connect, err_timeout, err_status FROM runs WHERE id = $ID1")"
check "its reason says it was cancelled through the API" \
        grep -q '^cancelled through the API' <<<"$(sql "SELECT reason FROM runs WHERE id = $ID1")"
sums() { [ "$(jget "$PW/v1/series?metric=load.long.$1&from=now-5m" '[.points[][1]] | add')" = "$2" ]; }
check "its per-second series load.long.ok add up to its ok" wait_until 5 sums ok "$(jq -r .ok <<<"$J")"
check "its histograms are stored" test "$(sql "SELECT count(*) >= 3 FROM run_histograms WHERE run_id = $ID1")" = 1
check "ended well before its 40 s" test "$(jq -r '.duration_s < 15' <<<"$J")" = true
T=$(curl -s --max-time 5 "$PW$LOC?format=text")
diag "$(head -4 <<<"$T")"
line() { sed -n "$1p" <<<"$T"; }
check "?format=text: its first line names the run and when" \
        grep -qE "^Run $ID1: started [0-9T:-]+Z, ended [0-9T:-]+Z$" <<<"$(line 1)"
check "then who stopped it" test "$(line 2)" = "Stopped: cancelled through the API"
check "then the scenario and its state" grep -qE '^Scenario long \(open model\): cancelled after [0-9.]+s$' <<<"$(line 3)"
check "then its counts" grep -q "^  $(jq -r .requests <<<"$J") requests, $(jq -r .ok <<<"$J") ok, " <<<"$(line 4)"
check "and the latency from the intended start" grep -q '^  from the intended start ' <<<"$T"
check "GET /v1/scenarios: no active run, last_run is the cancelled one" \
        test "$(jget "$PW/v1/scenarios" '.scenarios[] | select(.name == "long") | "\(.active_run) \(.last_run.id) \(.last_run.state) \(.last_run.latency_ms.p95 | type)"')" \
        = "null $ID1 cancelled number"

# --- the next POST works: a clean run of short turns latency_p95 met
H=$(curl -si --max-time 5 -X POST -H "Authorization: Bearer $TOKEN" "$PW/v1/scenarios/short/run" | tr -d '\r')
ID2=$(sed -n 's|^[Ll]ocation: /v1/runs/||p' <<<"$H")
check "the next POST: 202 with a new id ($ID2)" test "$(head -1 <<<"$H" | cut -d' ' -f2)|$((ID2 > ID1))" = "202|1"
check "the clean run completes within 15 s" wait_until 15 run_ended "$ID2"
check "completed" test "$(run_state "$ID2")" = completed
check "latency_p95 met with run $ID2 as evidence" wait_until 5 lat_is met "$ID2"
diag "clean: p95 $(jget "$PW/v1/runs/$ID2" .latency_ms.p95) ms, latency_p95 $(lat .value)"

# --- the stalling target: 1 s every 5 s, so p95 ~ 750 ms
curl -sf -X POST "$TA/api/stall?d=1s&p=5s" >/dev/null; ok $? "the target stalls 1 s every 5 s"
H=$(curl -si --max-time 5 -X POST -H "Authorization: Bearer $TOKEN" "$PW/v1/scenarios/short/run" | tr -d '\r')
ID3=$(sed -n 's|^[Ll]ocation: /v1/runs/||p' <<<"$H")
check "the stalled run completes within 15 s" wait_until 15 run_ended "$ID3"
curl -sf -X POST "$TA/api/stall?d=0" >/dev/null
p95=$(jget "$PW/v1/runs/$ID3" .latency_ms.p95)
diag "stalled run $ID3: p95 $p95 ms, service p95 $(jget "$PW/v1/runs/$ID3" .service_ms.p95) ms"
check "its p95 is at least 500 ms (closed form: 750 ms)" awk -v p="$p95" 'BEGIN { exit !(p >= 500 && p < 1100) }'
check "latency_p95 not_met with run $ID3 as evidence" wait_until 5 lat_is not_met "$ID3"
check "its value is the run's p95" test "$(lat .value)" = "$p95"

# --- listing and filters
check "GET /v1/runs?scenario=long&state=cancelled: exactly run $ID1" \
        test "$(jget "$PW/v1/runs?scenario=long&state=cancelled" '[.runs[].id] | join(",")')" = "$ID1"
check "GET /v1/runs?scenario=short: runs $ID3,$ID2, newest first" \
        test "$(jget "$PW/v1/runs?scenario=short" '[.runs[] | "\(.id):\(.state)"] | join(",")')" = "$ID3:completed,$ID2:completed"
check "GET /v1/runs?format=text lists the three" \
        test "$(curl -s --max-time 5 "$PW/v1/runs?format=text" | grep -c -E "^ *($ID1|$ID2|$ID3) ")" = 3

# --- SIGTERM during a run started through the API
H=$(curl -si --max-time 5 -X POST -H "Authorization: Bearer $TOKEN" "$PW/v1/scenarios/long/run" | tr -d '\r')
ID4=$(sed -n 's|^[Ll]ocation: /v1/runs/||p' <<<"$H")
has_reqs() { [ "$(jget "$PW/v1/runs/$ID4" .requests)" -gt 50 ]; }
check "a run started through the API ($ID4) gets going" wait_until 10 has_reqs
check "SIGTERM: the daemon exits 0" stop_daemon
check "that run is aborted, with its figures" \
        test "$(sql "SELECT state || ' ' || (requests > 50) || ' ' || reason FROM runs WHERE id = $ID4")" \
        = "aborted 1 aborted: perfwatchd was stopped during the run"
check "its trigger was the API" test "$(sql "SELECT json_extract(extra, '$.trigger') FROM runs WHERE id = $ID4")" = api

# --- no api_token_file: 403 saying why
start_daemon "$WORK/pw.conf"
B=$(curl -s --max-time 5 -w '\n%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" "$PW/v1/scenarios/short/run")
check "without api_token_file: 403" test "$(tail -1 <<<"$B")" = 403
check "saying how to turn the routes on" \
        test "$(head -1 <<<"$B" | jq -r .error.message)" = "POST routes are off: set api_token_file in [daemon]"
check "cancel too: 403" test "$(post "/v1/runs/$ID4/cancel" "$TOKEN")" = 403
check "no run was started" test "$(sql 'SELECT count(*) FROM runs')" = 4
check "the restarted daemon answers the aborted run" test "$(run_state "$ID4")" = aborted
check "SIGTERM stops it" stop_daemon
done_testing
