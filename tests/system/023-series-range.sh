#!/bin/bash
# A raw /v1/series range includes both of its ends: from and to are
# inclusive, to the millisecond, so a point exactly at either end is
# returned and from = to = a point's time returns that point.
. "$TOP_SRCDIR/tests/system/lib.sh"

start_target
write_config "$WORK/pw.conf"
start_daemon "$WORK/pw.conf"

M=go.app.Sys
points() { curl -s --max-time 5 "$PW/v1/series?metric=$M&from=$1&to=$2" | jq -c '[.points[][0]]'; }
sec() { awk -v ms="$1" 'BEGIN { printf "%.3f", ms / 1000 }'; }     # epoch ms -> "s.mmm"
enough() { [ "$(points now-1m now | jq length)" -ge 5 ]; }

check "five samples of $M are stored" wait_until 20 enough
all=$(points now-1m now)
t1=$(jq '.[1]' <<<"$all") t3=$(jq '.[3]' <<<"$all")
diag "sample times (ms): $all"
check "from = to = a sample's time returns that sample" \
        test "$(points "$(sec "$t1")" "$(sec "$t1")")" = "[$t1]"
check "from and to at samples' times return both ends and what is between" \
        test "$(points "$(sec "$t1")" "$(sec "$t3")")" = "$(jq -c '.[1:4]' <<<"$all")"
check "a range 1 ms after a sample leaves it out" \
        test "$(points "$(sec $((t1 + 1)))" "$(sec "$t3")")" = "$(jq -c '.[2:4]' <<<"$all")"
done_testing
