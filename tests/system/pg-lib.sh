# A throwaway PostgreSQL for the system tests (recipe in recipes.md):
# initdb under /tmp owned by postgres, loopback only, fsync off, on a free
# port.  Source after lib.sh.  Sets PG_BINDIR, and after pg_start PGDATA,
# PGPORT, PG_DIR and PG_CONNINFO.  The cluster is stopped and removed on
# exit, together with lib.sh's own cleanup.
#
# Without PostgreSQL's server binaries the test is skipped (TAP "1..0").

PG_BINDIR=""
for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] && PG_BINDIR=$d
done
if [ -z "$PG_BINDIR" ] && command -v initdb >/dev/null 2>&1; then
        PG_BINDIR=$(dirname "$(command -v initdb)")
fi
for prog in initdb pg_ctl postgres; do
        if [ -z "$PG_BINDIR" ] || [ ! -x "$PG_BINDIR/$prog" ]; then
                echo "1..0 # SKIP PostgreSQL server binaries not found ($prog)"
                exit 0
        fi
done
PG_PSQL=$(command -v psql || echo "$PG_BINDIR/psql")
[ -x "$PG_PSQL" ] || { echo "1..0 # SKIP psql not found"; exit 0; }

# The server refuses to run as root: as root, run it as postgres.
if [ "$(id -u)" -eq 0 ]; then
        PG_AS="runuser -u postgres --"
else
        PG_AS=""
fi

PG_DIR=""
PGDATA=""
PGPORT=""
PG_CONNINFO=""

pg_ctl_as() { $PG_AS "$PG_BINDIR/pg_ctl" -D "$PGDATA" "$@"; }

# pg_start: creates and starts the cluster; bails out when it cannot.
pg_start() {
        PGPORT=$(free_port)
        PG_DIR=$(mktemp -d /tmp/pgtest.XXXXXX) || bail "cannot create a directory for PostgreSQL"
        [ -z "$PG_AS" ] || chown postgres:postgres "$PG_DIR"
        PGDATA=$PG_DIR/data
        PG_CONNINFO="host=127.0.0.1 port=$PGPORT user=postgres dbname=postgres"
        $PG_AS "$PG_BINDIR/initdb" -D "$PGDATA" -U postgres -A trust -E UTF8 --locale=C --no-sync \
                >"$WORK/initdb.log" 2>&1 || { sed 's/^/# /' "$WORK/initdb.log"; bail "initdb failed"; }
        pg_restart
}

# pg_restart: starts the existing cluster again, on the same port.
pg_restart() {
        pg_ctl_as -l "$PG_DIR/server.log" -w -t 30 \
                -o "-p $PGPORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off" start \
                >>"$WORK/pg_ctl.log" 2>&1 || { sed 's/^/# /' "$PG_DIR/server.log"; bail "PostgreSQL did not start"; }
}

# pg_stop [MODE]: stops the server (default mode fast); a no-op when it is
# not running.
pg_stop() {
        [ -n "$PGDATA" ] && [ -e "$PGDATA/postmaster.pid" ] || return 0
        pg_ctl_as -m "${1:-fast}" -w -t 30 stop >>"$WORK/pg_ctl.log" 2>&1
}

# pg_pids: the postmaster and its children (every process of this cluster).
pg_pids() {
        local pm
        [ -n "$PGDATA" ] && [ -r "$PGDATA/postmaster.pid" ] || return 0
        pm=$(head -n 1 "$PGDATA/postmaster.pid")
        [ -n "$pm" ] && kill -0 "$pm" 2>/dev/null || return 0
        echo "$pm"
        ps -o pid= --ppid "$pm"
}

# pg_signal SIG: sends SIG to every process of the cluster.
pg_signal() {
        local pid
        for pid in $(pg_pids); do
                kill "-$1" "$pid" 2>/dev/null
        done
}

# pg_psql ARGS...: psql on the cluster, unaligned, tuples only, no psqlrc.
pg_psql() {
        "$PG_PSQL" "$PG_CONNINFO" -X -A -t -q -v ON_ERROR_STOP=1 "$@"
}

pg_cleanup() {
        local pids pid
        [ -n "$PG_DIR" ] || return 0
        pids=$(pg_pids)
        # A stopped server would never answer pg_ctl: resume it first.
        pg_signal CONT
        pg_stop immediate
        # Stragglers of this cluster only: the PID must still run postgres.
        for pid in $pids; do
                case $(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") in
                postgres*|*/postgres\ *) kill -KILL "$pid" 2>/dev/null ;;
                esac
        done
        [ -n "${KEEP_WORK:-}" ] || rm -rf "$PG_DIR"
        PG_DIR=""
}

# lib.sh set `trap cleanup EXIT`: run ours with it, ours first so that a
# stopped server is resumed before anything waits on it.
trap 'pg_cleanup; cleanup' EXIT
