#!/bin/bash
# The API under heavy requests: routes that read the database run on
# workers, so /healthz and /v1/status stay fast while slow stepped
# /v1/series reads run; the cost limits of /v1/series and /v1/metrics; raw
# series answer their newest end and page back through `next`, bounds
# included; unknown query parameters and step=0s are refused; / lists the
# routes; integers keep every digit; sizes in text tables are in MiB.
. "$TOP_SRCDIR/tests/system/lib.sh"

# No target: nothing listens on this port, the API is all that is tested.
MEM_URL=http://127.0.0.1:$(free_port)/memory
write_config "$WORK/pw.conf" "[criterion memory]" "threshold = 2GiB"
start_daemon "$WORK/pw.conf"
stop_daemon || bail "perfwatchd did not stop to let the test fill its database"

# 2.1 million samples of heavy.a, 500 ms apart up to now (12.2 days): a
# stepped read of the newest 11 days takes over a second on the old API
# and stays under the limit of 2000000 samples read; one of 13 days does not.
NOW_MS=$(( $(date +%s) * 1000 ))
T0=$(( NOW_MS - 600000 ))
sqlite3 "$WORK/perfwatch.db" <<EOF || bail "cannot fill the database"
INSERT INTO series (name) VALUES ('heavy.a'), ('bounds.b'), ('page.c'), ('big.int');
WITH RECURSIVE t(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM t WHERE i < 2099999)
INSERT INTO samples (series_id, ts, value)
SELECT (SELECT id FROM series WHERE name = 'heavy.a'), $NOW_MS - i * 500, i FROM t;
INSERT INTO samples (series_id, ts, value)
SELECT (SELECT id FROM series WHERE name = 'bounds.b'), $T0 + k * 1000, k
FROM (SELECT 0 AS k UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4);
WITH RECURSIVE t(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM t WHERE i < 24999)
INSERT INTO samples (series_id, ts, value)
SELECT (SELECT id FROM series WHERE name = 'page.c'), $NOW_MS - 60000 - i * 1000, i FROM t;
INSERT INTO samples (series_id, ts, value)
SELECT id, $NOW_MS, 1796130778142160128.0 FROM series WHERE name = 'big.int';
WITH RECURSIVE t(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM t WHERE i < 10000)
INSERT INTO series (name) SELECT printf('many.%05d', i) FROM t;
EOF
start_daemon "$WORK/pw.conf"

code() { curl -s -o /dev/null -w '%{http_code}' "$1"; }
HEAVY="$PW/v1/series?metric=heavy.a&step=5m&from=now-11d"

# --- cheap routes beside heavy ones
check "a stepped read of 11 days of heavy.a is allowed" test "$(code "$HEAVY")" = 200
# fast URL: succeeds when the median of 5 tries of URL took under 50 ms and
# the slowest under 250 ms (one try may meet a busy CPU; an API queued
# behind heavy reads is slow on every try: 0.8 to 4 s were seen).
fast() {
        local i t times=""
        for i in 1 2 3 4 5; do
                t=$(curl -s -o /dev/null --max-time 5 -w '%{time_total}' "$1")
                diag "$1 took $t s"
                times="$times ${t:-9}"
        done
        echo $times | tr ' ' '\n' | sort -g |
                awk '{ v[NR] = $1 } END { exit !(NR == 5 && v[3] < 0.050 && v[5] < 0.250) }'
}
# beside_heavy ROUTE: starts four heavy reads (two run, two wait for a
# worker), then times ROUTE while they run.  The old API ran them on its
# two server threads, which both had to be free for ROUTE to answer.
beside_heavy() {
        local h="" i
        for i in 1 2 3 4; do
                curl -s -o /dev/null -w '%{http_code} %{time_total}\n' "$HEAVY" >"$WORK/h$i.code" &
                h="$h $!"
        done
        PIDS="$PIDS $h"
        sleep 0.2
        check "$1 answers in under 50 ms (median of 5) while heavy reads run" fast "$PW$1"
        check "... the heavy reads were still running while $1 was timed" kill -0 $h
        wait $h
        diag "heavy reads: $(cat "$WORK"/h[1-4].code | tr '\n' ' ')"
        check "... all four heavy reads answered 200" \
                test "$(cut -d' ' -f1 "$WORK"/h[1-4].code | sort -u)" = 200
}
beside_heavy /healthz
beside_heavy /v1/status

# --- a full queue: 2 workers and 16 waiting, so some of 30 at once are 503
busy=""
for i in $(seq 30); do
        curl -s --max-time 60 -o /dev/null -D "$WORK/busy.$i" \
                "$PW/v1/series?metric=heavy.a&step=5m&from=now-3d" &
        busy="$busy $!"
done
PIDS="$PIDS $busy"
wait $busy
statuses=$(cat "$WORK"/busy.* | grep -o '^HTTP/1.1 [0-9]*' | sort | uniq -c | tr -s ' ' | tr '\n' ';')
diag "30 heavy reads at once: $statuses"
check "30 heavy reads at once: every answer is 200 or 503" \
        test "$(cat "$WORK"/busy.* | grep '^HTTP/1.1' | grep -vc '^HTTP/1.1 \(200\|503\)')" = 0
check "... some are 503 with Retry-After: 1" grep -qi '^Retry-After: 1' "$WORK"/busy.*

# --- cost limits
check "step=1m over 11 days (15841 points) is a 400 too_many_points" \
        test "$(jget "$PW/v1/series?metric=heavy.a&step=1m&from=now-11d" .error.code)" = too_many_points
check "the too_many_points message names the limit and suggests step" \
        grep -q '10000.*larger step' <<<"$(jget "$PW/v1/series?metric=heavy.a&step=1m&from=now-11d" .error.message)"
check "a step read over 2.1 million samples is a 400 too_many_samples naming the limit" \
        grep -q '2000000' <<<"$(jget "$PW/v1/series?metric=heavy.a&step=1h&from=now-13d" .error.message)"
check "step=0s is a 400" test "$(code "$PW/v1/series?metric=heavy.a&step=0s")" = 400
check "an empty step= is a 400" test "$(code "$PW/v1/series?metric=heavy.a&step=")" = 400
check "/v1/metrics over more than 10000 series is a 400 too_many_series" \
        test "$(jget "$PW/v1/metrics" .error.code)" = too_many_series
check "the too_many_series message names the limit and suggests match=" \
        grep -q '10000.*match=' <<<"$(jget "$PW/v1/metrics" .error.message)"
check "match=heavy lists heavy.a alone" \
        test "$(jget "$PW/v1/metrics?match=heavy" '[.metrics[].name] | join(",")')" = heavy.a
check "match=many. still matches 10001 series: a 400" \
        test "$(code "$PW/v1/metrics?match=many.")" = 400
check "match=many.0 lists the 10000 that start with it" \
        test "$(jget "$PW/v1/metrics?match=many.0" '.metrics | length')" = 10000
check "an integer value keeps every digit in /v1/metrics" \
        grep -q '"name":"big.int","last":1796130778142160128,' <<<"$(curl -s "$PW/v1/metrics?match=big")"

# --- raw series: newest end, pages, inclusive bounds
iso_ms() { date -u -d "@$(( $1 / 1000 ))" +%Y-%m-%dT%H:%M:%S.$(printf %03d $(( $1 % 1000 )))Z; }
R=$(curl -s "$PW/v1/series?metric=page.c&from=now-1d")
check "a raw range of 25000 samples returns 10000 points" test "$(jq '.points | length' <<<"$R")" = 10000
check "... the newest ones, ending at the newest sample" \
        test "$(jq '.points[-1][0]' <<<"$R")" = $(( NOW_MS - 60000 ))
check "... marked truncated, with a next link" \
        test "$(jq -r '.truncated and (.next | startswith("/v1/series?metric=page.c&"))' <<<"$R")" = true
pages() {       # follows next from $1; prints every point's time
        local url=$1 n=0 body
        while [ -n "$url" ] && [ $n -lt 10 ]; do
                body=$(curl -s "$PW$url")
                jq -r '.points[][0]' <<<"$body"
                url=$(jq -r '.next // empty' <<<"$body")
                n=$((n + 1))
        done
}
pages "/v1/series?metric=page.c&from=now-1d" >"$WORK/pages"
check "following next walks all 25000 samples back" test "$(wc -l <"$WORK/pages")" = 25000
check "... without a repeat" test "$(sort -u "$WORK/pages" | wc -l)" = 25000
B=$(curl -s "$PW/v1/series?metric=bounds.b&from=$(iso_ms $((T0 + 1000)))&to=$(iso_ms $((T0 + 3000)))")
check "raw samples exactly at from and at to are both returned" \
        test "$(jq -c '[.points[][0]]' <<<"$B")" = "[$((T0 + 1000)),$((T0 + 2000)),$((T0 + 3000))]"
check "from = to = a sample's time returns that sample" \
        test "$(jget "$PW/v1/series?metric=bounds.b&from=$(iso_ms $T0)&to=$(iso_ms $T0)" '.points | length')" = 1

# --- unknown parameters, the route list, text sizes
E=$(curl -s "$PW/v1/series?metric=page.c&frm=now-1h")
check "frm= on /v1/series is a 400 unknown_parameter" test "$(jq -r .error.code <<<"$E")" = unknown_parameter
check "... naming frm and listing what /v1/series takes" \
        grep -q '"frm".*metric, from, to, step, format' <<<"$(jq -r .error.message <<<"$E")"
for u in "/v1/status?foo=bar" "/healthz?foo=bar" "/v1/sources?foo=bar" "/v1/criteria/memory?strict=1" \
         "/v1/metrics?metric=x" "/v1/profiles?foo=bar" "/v1/profiles/1?foo=bar" "/?foo=bar"; do
        check "$u is a 400 unknown_parameter" test "$(jget "$PW$u" .error.code)" = unknown_parameter
done
check "/v1/status?strict=0&format=text takes both" test "$(code "$PW/v1/status?strict=0&format=text")" = 200
check "/v1/criteria/memory?format=text is accepted" test "$(code "$PW/v1/criteria/memory?format=text")" = 200
for u in / /v1; do
        check "GET $u lists /v1/series and its parameters" \
                test "$(jget "$PW$u" '.routes[] | select(.route == "GET /v1/series") | .params | join(",")')" = \
                        "metric,from,to,step,format"
done
check "GET /v1?format=text is a table of the routes" \
        grep -q '^GET /v1/status  *strict,format' <<<"$(curl -s "$PW/v1?format=text")"
check "a 2 GiB threshold reads 2048.0 MiB in the text table, as perfwatchd(8) says" \
        grep -q '< 2048.0 MiB' <<<"$(curl -s "$PW/v1/criteria/memory?format=text")"

check "SIGTERM stops perfwatchd with exit status 0" stop_daemon
done_testing
