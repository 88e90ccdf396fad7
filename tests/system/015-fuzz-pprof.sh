#!/bin/bash
# The pprof decoder under libFuzzer (ASan + UBSan), bounded: seeded with the
# real profiles in tests/data, gzipped and inflated, it must run to the end
# without a crash, a leak, a timeout or a sanitizer report.
if [ ! -x "${FUZZ_PPROF:-}" ]; then
        echo "1..0 # SKIP no libFuzzer"
        exit 0
fi
. "$TOP_SRCDIR/tests/system/lib.sh"

RUNS=${FUZZ_RUNS:-200000}
SECONDS_MAX=${FUZZ_SECONDS:-30}
CORPUS=$WORK/corpus
mkdir -p "$CORPUS"
for f in "$TOP_SRCDIR"/tests/data/*.pb.gz; do
        b=$(basename "$f" .pb.gz)
        cp "$f" "$CORPUS/$b.pb.gz"
        gzip -dc "$f" >"$CORPUS/$b.pb" || bail "cannot inflate $f"
done
check "the corpus holds the three profiles, gzipped and inflated" test "$(ls "$CORPUS" | wc -l)" -eq 6

export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
( cd "$WORK" && timeout $((SECONDS_MAX + 60)) "$FUZZ_PPROF" -runs="$RUNS" -max_total_time="$SECONDS_MAX" \
        -max_len=65536 -timeout=10 -print_final_stats=1 -artifact_prefix="$WORK/artifact-" "$CORPUS" \
        >"$WORK/fuzz.log" 2>&1 )
rc=$?
[ $rc -eq 0 ] || tail -40 "$WORK/fuzz.log" | sed 's/^/# /'
ok $rc "the fuzzer ran to its bound and exited 0"
check "libFuzzer read every seed before fuzzing" grep -q 'INITED' "$WORK/fuzz.log"
check "the fuzzer executed inputs" grep -q -E '^Done [0-9]+ runs|stat::number_of_executed_units: [1-9]' "$WORK/fuzz.log"
check "no crash, leak, timeout or OOM input was saved" \
        test -z "$(find "$WORK" -maxdepth 1 -name 'artifact-*' -print -quit)"
check "no sanitizer report in the fuzzer's log" \
        sh -c '! grep -q -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$1"' _ "$WORK/fuzz.log"
diag "$(grep -E '^Done|stat::number_of_executed_units|cov:' "$WORK/fuzz.log" | tail -2 | tr '\n' ' ')"
done_testing
