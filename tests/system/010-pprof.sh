#!/bin/bash
# pprof profiles of the demo target: heap, goroutine and CPU profiles are
# stored raw, go tool pprof opens them from the API and agrees with their
# totals, the goroutine series matches the target's own count, /memory keeps
# its 1 s rhythm while a 10 s CPU profile runs, and unreachable or wrong
# pprof URLs give reasons that name the problem.
. "$TOP_SRCDIR/tests/system/lib.sh"

command -v go >/dev/null || bail "go is not installed (go tool pprof is needed)"
# go tool pprof writes its cache and saved profiles here, not in ~.
export PPROF_TMPDIR=$WORK HOME=$WORK GOCACHE=$WORK/gocache GOFLAGS=-mod=mod GOPROXY=off

MEMORY_INTERVAL=1s
start_target
PPROF=http://127.0.0.1:$PPROF_PORT/debug/pprof
write_config "$WORK/pw.conf" "pprof_url = $PPROF" "heap_interval = 2s" "goroutine_interval = 2s" \
        "cpu_interval = 30s" "cpu_seconds = 10s"
start_daemon "$WORK/pw.conf"

# ------------------------------------------------------------ heap
newest_profile() {      # newest_profile KIND FILTER
        jget "$PW/v1/profiles?kind=$1" ".profiles[0] // empty | $2"
}
has_profile() { [ -n "$(newest_profile "$1" .id)" ]; }
listed() {              # listed FILTER: FILTER applied to the listed heap profile ID
        jget "$PW/v1/profiles?kind=heap" ".profiles[] | select(.id == $ID) | $1"
}
metric_last() { jget "$PW/v1/metrics" ".metrics[] | select(.name == \"$1\") | .last"; }
has_metric() { [ -n "$(metric_last "$1")" ]; }

check "a heap profile is stored and listed by /v1/profiles?kind=heap" wait_until 15 has_profile heap
ID=$(newest_profile heap .id)
diag "heap profile id $ID"
check "the listed heap profile has kind heap" test "$(newest_profile heap .kind)" = heap

timeout 60 go tool pprof -top "$PW/v1/profiles/$ID" >"$WORK/top.txt" 2>"$WORK/top.err"
ok $? "go tool pprof -top opens the heap profile from /v1/profiles/ID"
check "go tool pprof -top prints the table of functions" grep -q 'flat%' "$WORK/top.txt"

curl -sf -o "$WORK/heap.pb.gz" "$PW/v1/profiles/$ID"
check "the raw profile is as many bytes as listed" \
        test "$(stat -c %s "$WORK/heap.pb.gz")" = "$(listed .bytes)"

# Each sample type's total as go tool pprof computes it: "TYPE TOTAL" lines
# from the "of N total" of -top with exact units (-unit=B prints bytes and
# counts as plain integers).  NB: not a sum of -raw's lines, which merges
# and drops samples.
pprof_totals() {
        local type
        for type in "$@"; do
                timeout 60 go tool pprof -top -nodecount=1 -unit=B -sample_index="$type" "$WORK/heap.pb.gz" 2>/dev/null |
                        sed -n "s/.* of \([0-9][0-9]*\)B* total.*/$type \1/p"
        done
}
pprof_totals inuse_space inuse_objects alloc_space alloc_objects >"$WORK/raw-totals.txt"
diag "go tool pprof -top totals: $(tr '\n' ' ' <"$WORK/raw-totals.txt")"
api_total() {           # api_total TYPE: the listed total of the heap profile ID
        listed ".totals[\"$1\"] | if . == null then empty else (. | floor | tostring) end"
}
for type in inuse_space inuse_objects alloc_space alloc_objects; do
        want=$(awk -v t="$type" '$1 == t { print $2 }' "$WORK/raw-totals.txt")
        got=$(api_total "$type")
        diag "$type: go tool pprof $want, /v1/profiles $got"
        check "the heap total $type equals go tool pprof's total for the same bytes" \
                test -n "$want" -a "$want" = "$got"
done
for type in inuse_space inuse_objects alloc_space alloc_objects; do
        check "the series go.app.heap.$type exists" wait_until 5 has_metric "go.app.heap.$type"
done

check "/v1/profiles/ID/top lists functions by flat value" \
        test "$(jget "$PW/v1/profiles/$ID/top" '[.top[] | select((.function | length) > 0)] | length > 0')" = true
check "/v1/profiles/ID/top ranks the heap profile by inuse_space" \
        test "$(jget "$PW/v1/profiles/$ID/top" .top_type)" = inuse_space

# ------------------------------------------------------------ goroutines
# The idle demo target's count is stable; a request in flight (ours or
# perfwatchd's) counts itself both ways, so the two agree once both settle.
goroutines_match() {
        local want got
        want=$(curl -s --max-time 5 "$PPROF/goroutine?debug=1" | sed -n 's/^goroutine profile: total \([0-9]*\).*/\1/p')
        got=$(jget "$PW/v1/metrics" '.metrics[] | select(.name == "go.app.goroutines") | .last')
        diag "goroutine?debug=1 total $want, go.app.goroutines $got"
        [ -n "$want" ] && [ "$want" = "$got" ]
}
goroutines_match_soon() {
        local i
        for i in $(seq 10); do goroutines_match && return 0; sleep 1; done
        return 1
}
check "a goroutine profile is stored" wait_until 15 has_profile goroutine
check "the series go.app.goroutines exists" wait_until 5 has_metric go.app.goroutines
check "go.app.goroutines equals goroutine?debug=1's total" goroutines_match_soon

# ------------------------------------------------------------ cpu
check "a CPU profile is stored within 25 s" wait_until 25 has_profile cpu
cpu_ms=$(newest_profile cpu '.time | if type == "string" then (sub("\\.[0-9]+Z$"; "Z") | fromdateiso8601 * 1000) else . end')
diag "cpu profile started at $cpu_ms ms"
# The points of go.app.Sys polled while the CPU profile ran.
sys_points() {
        jget "$PW/v1/series?metric=go.app.Sys&from=$((cpu_ms / 1000)).$(printf %03d $((cpu_ms % 1000)))&to=$(((cpu_ms + 10000) / 1000)).$(printf %03d $((cpu_ms % 1000)))" \
                "$1"
}
nine_points() { [ "$(sys_points '.points | length')" -ge 9 ]; }
check "/memory was polled at least 9 times during the 10 s CPU profile" wait_until 5 nine_points
gaps=$(sys_points '[.points as $p | range(1; $p | length) | $p[.][0] - $p[. - 1][0]] | map(tostring) | join(" ")')
diag "gaps between /memory polls (ms): $gaps"
bad=0
for g in $gaps; do [ "$g" -ge 800 ] && [ "$g" -le 1200 ] || bad=1; done
[ -n "$gaps" ] || bad=1
ok $bad "during the CPU profile every gap between /memory polls is within 1 s +- 20%"

check "the series go.app.cpu.samples exists" wait_until 5 has_metric go.app.cpu.samples
check "the series go.app.cpu.nanoseconds exists" has_metric go.app.cpu.nanoseconds
check "go.app.cpu.utilization is a fraction of a core, not negative" \
        test "$(jget "$PW/v1/metrics" '.metrics[] | select(.name == "go.app.cpu.utilization") | .last >= 0')" = true

# /v1/sources is a snapshot republished every evaluate_interval: wait for it.
has_profile_id() {
        [ "$(jget "$PW/v1/sources" ".sources[] | select(.name == \"$1\") | .last_profile_id | type")" = number ]
}
for kind in heap goroutine cpu; do
        check "the source go.app.$kind is up" wait_until 5 source_up_is "go.app.$kind" true
        check "the source go.app.$kind shows its last_profile_id" wait_until 5 has_profile_id "go.app.$kind"
        check "the source go.app.$kind is of kind pprof" \
                test "$(jget "$PW/v1/sources" ".sources[] | select(.name == \"go.app.$kind\") | .kind")" = pprof
done
check "the cpu source's URL asks for a 10 s profile" \
        test "$(jget "$PW/v1/sources" '.sources[] | select(.name == "go.app.cpu") | .url')" = "$PPROF/profile?seconds=10"

check "SIGTERM stops perfwatchd with exit status 0" stop_daemon

# ------------------------------------------------------------ failures
CLOSED_PORT=$(free_port)
write_config "$WORK/pw.conf" "pprof_url = http://127.0.0.1:$CLOSED_PORT/debug/pprof" "heap_interval = 1s" \
        "[target missing]" "pprof_url = http://127.0.0.1:$PPROF_PORT/nope" "heap_interval = 1s"
start_daemon "$WORK/pw.conf"
source_error() { jget "$PW/v1/sources" ".sources[] | select(.name == \"$1\") | .last_error"; }
check "a pprof_url on a closed port takes the heap source down" wait_until 10 source_up_is go.app.heap false
diag "closed port: $(source_error go.app.heap)"
check "the closed port's reason names the refused connection" \
        grep -qi 'connect.*refused' <<<"$(source_error go.app.heap)"
check "a pprof_url with a wrong path takes the heap source down" wait_until 10 source_up_is go.missing.heap false
diag "wrong path: $(source_error go.missing.heap)"
check "the wrong path's reason is HTTP 404" grep -q '^HTTP 404' <<<"$(source_error go.missing.heap)"
check "SIGTERM stops perfwatchd with exit status 0 after failing sources" stop_daemon

done_testing
