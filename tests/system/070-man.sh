#!/bin/bash
# The man pages: both lint clean with `mandoc -Tlint -W warning` and render;
# perfwatchd.conf(5) documents every key the example config uses, under the
# subsection of that key's section kind; perfwatchd(8) names every long
# option of `perfwatchd --help` and every route the API serves.
#
# Options and routes are looked up in the rendered page (mdoc writes
# `.Fl \-config`, which only reads as "--config" once rendered), in their
# own sections: an option in OPTIONS, a route as a "GET /route" entry in
# HTTP API, so a mere mention elsewhere does not count.
set -u

: "${TOP_SRCDIR:?TOP_SRCDIR must point at the source tree}"
: "${PERFWATCHD:?PERFWATCHD must point at the built perfwatchd}"

MAN8=$TOP_SRCDIR/man/perfwatchd.8
MAN5=$TOP_SRCDIR/man/perfwatchd.conf.5
EXAMPLE=$TOP_SRCDIR/etc/perfwatchd.conf
ROUTES="/ /v1 /healthz /v1/status /v1/criteria /v1/sources /v1/metrics /v1/series"

TMP=$(mktemp -d /tmp/perfwatch-man.XXXXXX)
N=0
FAILED=0

cleanup() {
        rm -rf -- "$TMP"
}
trap cleanup EXIT

ok() {          # ok STATUS DESCRIPTION: STATUS 0 passes
        N=$((N + 1))
        if [ "$1" -eq 0 ]; then
                echo "ok $N - $2"
        else
                echo "not ok $N - $2"
                FAILED=1
        fi
}

diag() { printf '%s\n' "$@" | sed 's/^/# /'; }

# lint PAGE: mandoc's warnings (and worse) fail the test and are shown.
lint() {
        local out rc
        out=$(mandoc -Tlint -W warning "$1" 2>&1); rc=$?
        ok $rc "mandoc -Tlint -W warning $(basename "$1") is clean"
        [ $rc -eq 0 ] || diag "$out"
}

# render PAGE: -Tutf8 exits 0, says nothing on stderr and writes a page.
render() {
        local name rc
        name=$(basename "$1")
        mandoc -Tutf8 "$1" >"$TMP/$name.utf8" 2>"$TMP/$name.err"; rc=$?
        [ $rc -eq 0 ] && [ ! -s "$TMP/$name.err" ] && [ -s "$TMP/$name.utf8" ]
        ok $? "$name renders with mandoc -Tutf8 without error"
        [ -s "$TMP/$name.err" ] && diag "$(cat "$TMP/$name.err")"
}

# Prints "KIND KEY" for every `key = value` line of an INI file, commented
# out (`; key = value`, `# key = value`) or not; KIND is the section kind of
# the last section header above it ("daemon", "target", "criterion").
example_keys() {
        awk '
        { line = $0; sub(/^[ \t]*[;#]?[ \t]*/, "", line) }
        line ~ /^\[[a-z_]+([ \t][^]]*)?\]/ {
                kind = line; sub(/^\[/, "", kind); sub(/[] \t].*/, "", kind); next
        }
        line ~ /^[a-z_][a-z0-9_]*[ \t]*=/ {
                key = line; sub(/[ \t]*=.*/, "", key); print kind, key
        }' "$1" | sort -u
}

# Prints "KIND KEY" for every `.It Cm KEY` under `.Ss [KIND ...]` in PAGE.
documented_keys() {
        awk '
        /^\.S[sh] / { kind = "" }
        /^\.Ss \[/ { kind = $2; sub(/^\[/, "", kind); sub(/\]$/, "", kind); next }
        kind != "" && /^\.It Cm / { print kind, $3 }' "$1" | sort -u
}

lint "$MAN8"
lint "$MAN5"
render "$MAN8"
render "$MAN5"

# section TITLE FILE: the lines of one top-level section of a rendered page.
section() {
        awk -v t="$1" '/^[A-Z]/ { on = ($0 == t); next } on' "$2"
}

mandoc -Tascii "$MAN8" 2>/dev/null | col -bx >"$TMP/perfwatchd.8.txt"
section OPTIONS "$TMP/perfwatchd.8.txt" >"$TMP/options.txt"
section "HTTP API" "$TMP/perfwatchd.8.txt" >"$TMP/api.txt"

# Keys of the example config.
example_keys "$EXAMPLE" >"$TMP/example-keys"
documented_keys "$MAN5" >"$TMP/documented-keys"
n=$(wc -l <"$TMP/example-keys")
[ "$n" -ge 5 ]
ok $? "the example config yields its keys ($n found)"
missing=$(comm -23 "$TMP/example-keys" "$TMP/documented-keys")
[ -z "$missing" ]
ok $? "perfwatchd.conf(5) documents every key of etc/perfwatchd.conf as .It Cm KEY in its section"
[ -z "$missing" ] || diag "undocumented (section key):" "$missing"

# Long options of --help.
help=$("$PERFWATCHD" --help 2>&1); rc=$?
ok $rc "perfwatchd --help exits 0"
opts=$(grep -oE -- '--[a-z][a-z0-9-]*' <<<"$help" | sort -u)
[ -n "$opts" ]
ok $? "perfwatchd --help lists long options ($(echo $opts))"
missing=""
for o in $opts; do
        grep -qE -- "(^|[ ,])$o([ ,=]|\$)" "$TMP/options.txt" || missing="$missing $o"
done
[ -z "$missing" ]
ok $? "perfwatchd(8) documents every long option of --help in OPTIONS"
[ -z "$missing" ] || diag "undocumented options:$missing"

# Routes of the API: the fixed list, plus any route in api.c's table
# (`{ "/path", ...`), so a route added there without a man page entry fails.
api_routes=$(grep -oE '^[[:space:]]*\{ *"/[^"]*"' "$TOP_SRCDIR/src/api/api.c" 2>/dev/null |
             grep -oE '/[^"]*' | sed 's|\(.\)/$|\1|')
ROUTES=$(printf '%s\n' $ROUTES $api_routes | sort -u | tr '\n' ' ')
ROUTES=${ROUTES% }
missing=""
for route in $ROUTES; do
        grep -qE -- "^ +GET $route([/?[ ]|\$)" "$TMP/api.txt" || missing="$missing $route"
done
[ -z "$missing" ]
ok $? "perfwatchd(8) has a GET entry in HTTP API for every route ($ROUTES)"
[ -z "$missing" ] || diag "undocumented routes:$missing"

echo "1..$N"
exit $FAILED
