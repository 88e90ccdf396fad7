#!/bin/bash
# How long perfwatchd takes to summarise a heap profile, against what a user
# runs instead (go tool pprof -raw).  A fresh heap profile is taken from the
# demo target while it leaks (4 MiB/s) and serves some load; a small C driver
# compiled here from src/probes/pprof-decode.c decodes it N times (gzipped, as
# received, and once more from the inflated protobuf, to show what zlib
# costs); `go tool pprof -raw` reads the same file GO_RUNS times.  Prints the
# time per decode, per pprof run, the ratio, and both tools' inuse_space
# totals (they must agree).  Everything is on 127.0.0.1 and ended by PID.
#   bench/pprof-decode.sh [N] [GO_RUNS]     defaults 2000 and 10
# DEMO_TARGET names a prebuilt demo target and skips its build.
set -u
. "$(dirname "$0")/lib.sh"

N=${1:-2000}
GO_RUNS=${2:-10}
for v in "$N" "$GO_RUNS"; do
        case $v in
        ''|*[!0-9]*|0) echo "usage: $0 [N] [GO_RUNS]: \"$v\" is not a positive count" >&2; exit 2 ;;
        esac
done
install_missing || exit 1
bench_work

if [ -z "${DEMO_TARGET:-}" ]; then
        say "building the demo target"
        (cd "$TOP/tests/target" && GOFLAGS=-mod=mod GOPROXY=off go build -o "$WORK/demo-target" .) || exit 1
        DEMO_TARGET=$WORK/demo-target
fi

say "building the decode driver from src/probes/pprof-decode.c (-O2, no sanitizers)"
cat >"$WORK/driver.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <zlib.h>
#include "probes/pprof-decode.h"

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Decodes data n times; prints microseconds per decode and the totals. */
static int bench(const char *label, const void *data, size_t size, long n) {
        PprofSummary *s = NULL;
        char err[256];
        double t0, t;

        for (long i = 0; i < n / 10 + 1; i++) {       /* warm caches and malloc */
                if (pprof_decode(data, size, 64 << 20, &s, err, sizeof err) < 0) {
                        fprintf(stderr, "%s: %s\n", label, err);
                        return 1;
                }
                s = pprof_summary_free(s);
        }
        t0 = now();
        for (long i = 0; i < n; i++) {
                pprof_decode(data, size, 64 << 20, &s, err, sizeof err);
                s = pprof_summary_free(s);
        }
        t = now() - t0;
        printf("%s %zu bytes: %ld decodes in %.3f s, %.1f us per decode\n", label, size, n, t, t / n * 1e6);
        return 0;
}

int main(int argc, char **argv) {
        static unsigned char gz[64 << 20], raw[64 << 20];
        PprofSummary *s = NULL;
        char err[256];
        z_stream z = { 0 };
        long n = atol(argv[2]);
        FILE *f = fopen(argv[1], "rb");
        size_t size = f ? fread(gz, 1, sizeof gz, f) : 0;

        if (!f || size == 0 || inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
                return 1;
        fclose(f);
        z.next_in = gz, z.avail_in = size, z.next_out = raw, z.avail_out = sizeof raw;
        if (inflate(&z, Z_FINISH) != Z_STREAM_END)
                return 1;
        if (bench("gzipped", gz, size, n) || bench("inflated", raw, z.total_out, n))
                return 1;
        if (pprof_decode(gz, size, 64 << 20, &s, err, sizeof err) < 0)
                return 1;
        for (size_t i = 0; i < s->n_types; i++)
                printf("total %s %.0f\n", s->types[i].type, s->types[i].total);
        printf("top %s %.0f\n", s->n_top ? s->top[0].function : "-", s->n_top ? s->top[0].flat : 0);
        pprof_summary_free(s);
        inflateEnd(&z);
        return 0;
}
C
gcc -O2 -std=gnu11 -I"$TOP/src" $(pkg-config --cflags jansson zlib) "$WORK/driver.c" "$TOP/src/probes/pprof-decode.c" \
        "$TOP/src/util/protobuf.c" "$TOP/src/util/utf8.c" $(pkg-config --libs jansson zlib) -o "$WORK/driver" || exit 1

say "taking a heap profile of the demo target (leaking 4 MiB/s, under load)"
start_demo_target -leak 4MiB
if command -v wrk >/dev/null; then
        timeout 10 wrk -t1 -c8 -d3s "http://127.0.0.1:$API_PORT/api/items" >/dev/null 2>&1
else
        for _ in $(seq 300); do curl -s "http://127.0.0.1:$API_PORT/api/items" >/dev/null; done
fi
curl -sf --max-time 10 -o "$WORK/heap.pb.gz" "http://127.0.0.1:$PPROF_PORT/debug/pprof/heap" ||
        { echo "cannot fetch the heap profile" >&2; exit 1; }
kill -TERM "$TARGET_PID"; wait "$TARGET_PID" 2>/dev/null

say "perfwatchd's decoder, $N decodes"
"$WORK/driver" "$WORK/heap.pb.gz" "$N" | tee "$WORK/driver.out" || exit 1
C_US=$(awk '/^gzipped/ { print $(NF-3) }' "$WORK/driver.out")

say "go tool pprof -raw, $GO_RUNS runs"
export PPROF_TMPDIR=$WORK/pprof
mkdir -p "$PPROF_TMPDIR"
t0=${EPOCHREALTIME/./}
for _ in $(seq "$GO_RUNS"); do
        timeout 60 go tool pprof -raw "$WORK/heap.pb.gz" >/dev/null 2>&1 || { echo "go tool pprof failed" >&2; exit 1; }
done
t1=${EPOCHREALTIME/./}
GO_US=$(( (t1 - t0) / GO_RUNS ))
echo "go tool pprof -raw: $GO_RUNS runs, $((GO_US / 1000)) ms per run"

GO_TOTAL=$(go tool pprof -top -sample_index=inuse_space -unit=B "$WORK/heap.pb.gz" 2>/dev/null |
        sed -n 's/.* of \([0-9]*\)B total.*/\1/p')
C_TOTAL=$(awk '$1 == "total" && $2 == "inuse_space" { print $3 }' "$WORK/driver.out")
echo
printf '%-40s %s\n' "profile" "$(stat -c %s "$WORK/heap.pb.gz") bytes gzipped"
printf '%-40s %s us\n' "perfwatchd decode (gzipped)" "$C_US"
printf '%-40s %s ms\n' "go tool pprof -raw (whole process)" "$(awk -v u="$GO_US" 'BEGIN { printf "%.1f", u / 1000 }')"
printf '%-40s %s\n' "ratio go tool pprof / perfwatchd" "$(awk -v g="$GO_US" -v c="$C_US" 'BEGIN { printf "%.0fx", g / c }')"
printf '%-40s %s / %s\n' "inuse_space total: perfwatchd / pprof" "$C_TOTAL" "${GO_TOTAL:-?}"
if [ "$C_TOTAL" != "${GO_TOTAL:-}" ]; then
        echo "the inuse_space totals differ" >&2
        exit 1
fi
