# Shared helpers for the system tests: TAP output, free ports, the Go demo
# target and perfwatchd started on loopback with a temporary database.
# Every process a test starts is recorded and ended by PID on exit.

set -u

: "${PERFWATCHD:?set by the test harness (make check)}"
: "${DEMO_TARGET:?set by the test harness (make check)}"
PY=/usr/bin/python3

WORK=$(mktemp -d /tmp/perfwatch-test.XXXXXX)
PIDS=""
TAP_N=0
TAP_FAILED=0

cleanup() {
        for pid in $PIDS; do
                kill -TERM "$pid" 2>/dev/null
        done
        for pid in $PIDS; do
                for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
                kill -KILL "$pid" 2>/dev/null
        done
        [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

ok() {          # ok STATUS DESCRIPTION: STATUS 0 passes
        TAP_N=$((TAP_N + 1))
        if [ "$1" -eq 0 ]; then
                echo "ok $TAP_N - $2"
        else
                TAP_FAILED=$((TAP_FAILED + 1))
                echo "not ok $TAP_N - $2"
        fi
}

check() {       # check DESCRIPTION COMMAND...: passes when COMMAND succeeds
        local d=$1; shift
        "$@"; ok $? "$d"
}

diag() { echo "# $*"; }

done_testing() {
        sanitizer_clean
        echo "1..$TAP_N"
        [ "$TAP_FAILED" -eq 0 ]
        exit $?
}

bail() { echo "Bail out! $*"; exit 99; }

# Fails the test when a sanitizer reported anything in a daemon log.
sanitizer_clean() {
        local f bad=0
        for f in "$WORK"/daemon*.log; do
                [ -e "$f" ] || continue
                if grep -q -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$f"; then
                        grep -E -A30 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$f" | sed 's/^/# /' | head -60
                        bad=1
                fi
        done
        ok $bad "no sanitizer report in the daemon's logs"
}

# NB: a port below the kernel's ephemeral range (ip_local_port_range): one
# bind(2) picks from that range is free only until an outgoing connection
# takes it, and the tests beside this one open thousands (a daemon then
# failed to listen: "Address already in use").  A random one below it that
# binds now is taken by nobody but a listener.  Tests running at once
# could still draw the same one before either listens, so the ports handed
# out in the last 10 minutes are kept (under a lock) in a file and skipped.
free_port() {
        $PY - "${TMPDIR:-/tmp}/perfwatch-test-ports" <<'PYEOF'
import fcntl, random, socket, sys, time
try:
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except (OSError, ValueError, IndexError):
    low = 32768
try:
    f = open(sys.argv[1], "a+")
    fcntl.flock(f, fcntl.LOCK_EX)
    f.seek(0)
    lines = f.read().split("\n")
except OSError:     # another user's file: no record, as before
    f, lines = None, []
now, recent = time.time(), {}
for line in lines:
    try:
        port, at = line.split()
        if now - float(at) < 600:
            recent[int(port)] = float(at)
    except ValueError:
        pass
chosen = None
for _ in range(1000):
    port = random.randint(min(10000, low - 1000), low - 1) if low > 2024 else 0
    if port in recent:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        chosen = s.getsockname()[1]
        break
    except OSError:
        pass
    finally:
        s.close()
if chosen is None:
    sys.exit("free_port: no free port found")
if f:
    recent[chosen] = now
    f.seek(0)
    f.truncate()
    f.writelines("%d %.3f\n" % kv for kv in recent.items())
    f.close()
print(chosen)
PYEOF
}

# wait_until SECONDS COMMAND...: polls COMMAND every 0.1 s, bounded.
wait_until() {
        local limit=$(( $1 * 10 )) i; shift
        for i in $(seq "$limit"); do
                "$@" >/dev/null 2>&1 && return 0
                sleep 0.1
        done
        return 1
}

# start_target [FLAGS...]: starts the demo target on free ports; sets
# TARGET_PID, MEM_PORT, MEM_URL, API_PORT, PPROF_PORT.
start_target() {
        MEM_PORT=${MEM_PORT:-$(free_port)}
        API_PORT=${API_PORT:-$(free_port)}
        PPROF_PORT=${PPROF_PORT:-$(free_port)}
        MEM_URL=http://127.0.0.1:$MEM_PORT/memory
        "$DEMO_TARGET" -memory "127.0.0.1:$MEM_PORT" -api "127.0.0.1:$API_PORT" \
                -pprof "127.0.0.1:$PPROF_PORT" "$@" >>"$WORK/target.log" 2>&1 &
        TARGET_PID=$!
        PIDS="$PIDS $TARGET_PID"
        wait_until 20 curl -sf "$MEM_URL" || bail "demo target did not start (see $WORK/target.log)"
}

stop_target() {
        kill -TERM "$TARGET_PID" 2>/dev/null
        wait "$TARGET_PID" 2>/dev/null
}

target_control() {      # target_control PATH?QUERY
        curl -sf -X POST "http://127.0.0.1:$MEM_PORT/control/$1" >/dev/null
}

# start_standin AKID SECRET: starts the CloudWatch stand-in
# (tests/cloudwatch-standin.py, region eu-west-1) accepting that key,
# sets CW_PORT and CW (its URL) and writes WORK/credentials (mode 0600)
# with the key, for a [capacity] section's credentials_file.
start_standin() {
        CW_PORT=$(free_port)
        CW=http://127.0.0.1:$CW_PORT
        STANDIN_ACCESS_KEY=$1 STANDIN_SECRET=$2 \
                $PY "$TOP_SRCDIR/tests/cloudwatch-standin.py" "$CW_PORT" --region eu-west-1 >>"$WORK/standin.log" 2>&1 &
        PIDS="$PIDS $!"
        wait_until 10 curl -sf "$CW/_stats" || bail "the CloudWatch stand-in did not start"
        (umask 077; printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$1" "$2" \
                >"$WORK/credentials")
}

# write_config FILE [EXTRA...]: a config for one target on MEM_URL, API on
# API_LISTEN, database in WORK; extra lines are appended verbatim.
write_config() {
        local f=$1; shift
        {
                echo "[daemon]"
                echo "database = $WORK/perfwatch.db"
                echo "listen = 127.0.0.1:$PW_PORT"
                echo "flush_interval = ${FLUSH_INTERVAL:-1s}"
                echo "evaluate_interval = 500ms"
                echo "log_level = debug"
                echo "[target app]"
                echo "memory_url = $MEM_URL"
                echo "memory_interval = ${MEMORY_INTERVAL:-500ms}"
                echo "timeout = ${TARGET_TIMEOUT:-2s}"
                local line
                for line in "$@"; do echo "$line"; done
        } >"$f"
}

# start_daemon CONFIG: starts perfwatchd and waits for /healthz; sets PW_PID
# and PW (the API's base URL).  The log goes to WORK/daemon.N.log.
start_daemon() {
        DAEMON_RUN=$(( ${DAEMON_RUN:-0} + 1 ))
        DAEMON_LOG=$WORK/daemon.$DAEMON_RUN.log
        "$PERFWATCHD" --config "$1" >"$DAEMON_LOG" 2>&1 &
        PW_PID=$!
        PIDS="$PIDS $PW_PID"
        PW=http://127.0.0.1:$PW_PORT
        wait_until 20 curl -sf "$PW/healthz" || { cat "$DAEMON_LOG" | sed 's/^/# /'; bail "perfwatchd did not start"; }
}

# stop_daemon: SIGTERM and wait; returns the exit status.
stop_daemon() {
        kill -TERM "$PW_PID"
        wait "$PW_PID"
}

# jget URL FILTER: the jq FILTER applied to the JSON at URL (raw output).
jget() {
        curl -s --max-time 5 "$1" | jq -r "$2"
}

criterion_state() {     # criterion_state NAME
        jget "$PW/v1/status" ".criteria[] | select(.name == \"$1\") | .state"
}

state_is() {            # state_is NAME STATE
        [ "$(criterion_state "$1")" = "$2" ]
}

source_up() {           # source_up NAME: prints true/false/null
        jget "$PW/v1/sources" ".sources[] | select(.name == \"$1\") | .up"
}

source_up_is() { [ "$(source_up "$1")" = "$2" ]; }

PW_PORT=$(free_port)
