#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "transport/pg-conn.h"
#include "probes/probe-pg.h"
#include "util/units.h"
#include "util/util.h"

/* Probes started together spread their first polls over this much time. */
#define PGP_FIRST_SPREAD_USEC USEC_PER_SEC
/* Longest column name of PGP_STATS_SQL, with room to spare. */
#define PGP_COLUMN_MAX 64

/* One row; every column becomes the series pg.<name>.<column>.
 * Connections are counted over the whole cluster, like max_connections
 * they are compared with, and only client backends (not the server's
 * own workers).  The lag is postgres_exporter's: 0 on a primary, and 0 on
 * a standby that has replayed all it received. */
#define PGP_STATS_SQL \
        "SELECT d.numbackends, d.xact_commit, d.xact_rollback, d.blks_read, d.blks_hit," \
        " d.tup_returned, d.tup_fetched, d.tup_inserted, d.tup_updated, d.tup_deleted," \
        " d.conflicts, d.temp_files, d.temp_bytes, d.deadlocks," \
        " pg_database_size(current_database()) AS database_size_bytes," \
        " current_setting('max_connections')::bigint AS max_connections," \
        " a.active AS \"connections.active\", a.idle AS \"connections.idle\"," \
        " a.idle_in_transaction AS \"connections.idle_in_transaction\"," \
        " a.idle_in_transaction_aborted AS \"connections.idle_in_transaction_aborted\"," \
        " a.fastpath_function_call AS \"connections.fastpath_function_call\"," \
        " a.disabled AS \"connections.disabled\", a.total AS \"connections.total\"," \
        " CASE WHEN NOT pg_is_in_recovery() THEN 0" \
        "  WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0" \
        "  ELSE GREATEST(0, EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())) END" \
        "  AS replication_lag_seconds" \
        " FROM pg_stat_database d CROSS JOIN (SELECT" \
        "  count(*) FILTER (WHERE state = 'active') AS active," \
        "  count(*) FILTER (WHERE state = 'idle') AS idle," \
        "  count(*) FILTER (WHERE state = 'idle in transaction') AS idle_in_transaction," \
        "  count(*) FILTER (WHERE state = 'idle in transaction (aborted)')" \
        "   AS idle_in_transaction_aborted," \
        "  count(*) FILTER (WHERE state = 'fastpath function call') AS fastpath_function_call," \
        "  count(*) FILTER (WHERE state = 'disabled') AS disabled," \
        "  count(*) AS total" \
        "  FROM pg_stat_activity WHERE backend_type = 'client backend') a" \
        " WHERE d.datname = current_database()"

/* Errors when the function does not exist: that is how Aurora is told apart. */
#define PGP_AURORA_SQL "SELECT aurora_version()"

/* The counters the rates and the cache-hit ratio are computed from. */
typedef struct PgCounters {
        double xact_commit, xact_rollback, blks_hit, blks_read;
} PgCounters;

typedef struct PgProbe {
        Poller base;                   /* first: a PgProbe is a Poller; never backs off:
                                        * PgConn's reconnect backoff does, and polls
                                        * during it report the source down. */
        Store *store;
        const PostgresConfig *pc;
        PgConn *conn;
        char *series;                  /* "pg.<name>." and room for a column name */
        size_t prefix_len;
        bool need_facts;               /* server_version and aurora_version() to (re)read */

        bool have_prev;
        PgCounters prev;
        uint64_t prev_mono_usec;
} PgProbe;

/* pg.<name>.<column> in p->series (valid until the next call). */
static const char *pgp_series(PgProbe *p, const char *column) {
        (void) snprintf(p->series + p->prefix_len, PGP_COLUMN_MAX, "%s", column);
        return p->series;
}

static int pgp_append(PgProbe *p, const char *column, double value) {
        return store_append(p->store, pgp_series(p, column), (int64_t) (p->base.started_usec / 1000), value);
}

static int pgp_value(const PGresult *res, const char *column, double *ret) {
        int i = PQfnumber(res, column);
        const char *text;
        char *end;

        if (i < 0 || PQgetisnull(res, 0, i))
                return -ENOENT;
        text = PQgetvalue(res, 0, i);
        errno = 0;
        *ret = strtod(text, &end);
        return errno != 0 || end == text || *end ? -EINVAL : 0;
}

static int pgp_counters(const PGresult *res, PgCounters *ret) {
        if (pgp_value(res, "xact_commit", &ret->xact_commit) < 0 ||
            pgp_value(res, "xact_rollback", &ret->xact_rollback) < 0 ||
            pgp_value(res, "blks_hit", &ret->blks_hit) < 0 ||
            pgp_value(res, "blks_read", &ret->blks_read) < 0)
                return -ENOENT;
        return 0;
}

/* Per-second rates and the cache-hit ratio over the time since the last
 * poll; skipped for the first poll and after the counters were reset
 * (pg_stat_reset(), a crash), where a delta would be meaningless. */
static int pgp_rates(PgProbe *p, const PGresult *res) {
        PgCounters now, *prev = &p->prev;
        double elapsed, hit, read;
        bool usable;
        int r = 0;

        if (pgp_counters(res, &now) < 0) {
                p->have_prev = false;
                return 0;
        }
        usable = p->have_prev && p->base.started_mono_usec > p->prev_mono_usec &&
                now.xact_commit >= prev->xact_commit && now.xact_rollback >= prev->xact_rollback &&
                now.blks_hit >= prev->blks_hit && now.blks_read >= prev->blks_read;
        if (usable) {
                elapsed = (double) (p->base.started_mono_usec - p->prev_mono_usec) / 1e6;
                hit = now.blks_hit - prev->blks_hit;
                read = now.blks_read - prev->blks_read;
                r = pgp_append(p, "xact_commit_rate", (now.xact_commit - prev->xact_commit) / elapsed);
                if (r >= 0)
                        r = pgp_append(p, "xact_rollback_rate",
                                       (now.xact_rollback - prev->xact_rollback) / elapsed);
                if (r >= 0 && hit + read > 0)
                        r = pgp_append(p, "cache_hit_ratio", hit / (hit + read));
        }
        p->have_prev = true;
        p->prev = now;
        p->prev_mono_usec = p->base.started_mono_usec;
        return r;
}

/* Every column of the one row becomes a sample; NULLs are skipped. */
static int pgp_ingest(PgProbe *p, const PGresult *res) {
        double v;
        int r;

        if (PQntuples(res) != 1)
                return -EBADMSG;
        for (int i = 0; i < PQnfields(res); i++) {
                r = pgp_value(res, PQfname(res, i), &v);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return r;
                r = pgp_append(p, PQfname(res, i), v);
                if (r < 0)
                        return r;
        }
        return pgp_rates(p, res);
}

static void pgp_on_aurora(PgConn *c, const PGresult *res, const char *error, void *userdata) {
        PgProbe *p = userdata;
        json_t *version = NULL;

        poller_end(&p->base);
        /* An error on a live connection means the function does not exist;
         * a lost connection decides nothing, and the next one asks again. */
        if (error && !pg_conn_get(c))
                return;
        if (res && PQntuples(res) == 1 && PQnfields(res) >= 1 && !PQgetisnull(res, 0, 0))
                version = json_string(PQgetvalue(res, 0, 0));
        source_set_info(p->base.source, "aurora_version", version);
        p->need_facts = false;
        log_source(LOG_DEBUG, source_name(p->base.source), "%s",
                   version ? "server is Aurora" : "server is not Aurora");
}

/* After each (re)connect: the server's version, and whether it is Aurora. */
static void pgp_read_facts(PgProbe *p) {
        PGconn *conn = pg_conn_get(p->conn);
        const char *version = conn ? PQparameterStatus(conn, "server_version") : NULL;
        int r;

        if (!conn) {
                poller_end(&p->base);
                return;
        }
        if (version)
                source_set_info(p->base.source, "server_version", json_string(version));
        r = pg_conn_query(p->conn, PGP_AURORA_SQL, pgp_on_aurora, p);
        if (r < 0) {
                log_source(LOG_DEBUG, source_name(p->base.source), "cannot ask for aurora_version(): %s",
                           strerror(-r));
                poller_end(&p->base);
        }
}

static void pgp_on_stats(PgConn *c, const PGresult *res, const char *error, void *userdata) {
        PgProbe *p = userdata;
        uint64_t duration = poller_duration(&p->base);
        int r;

        if (pg_conn_is_new(c))
                p->need_facts = true;

        if (error)
                source_report_down(p->base.source, p->base.started_usec, duration, "%s", error);
        else {
                r = pgp_ingest(p, res);
                if (r == -EBADMSG)
                        source_report_down(p->base.source, p->base.started_usec, duration,
                                           "statistics query returned %d rows instead of one",
                                           PQntuples(res));
                else if (r < 0)
                        source_report_down(p->base.source, p->base.started_usec, duration,
                                           "cannot record the statistics: %s", strerror(-r));
                else
                        source_report_up(p->base.source, p->base.started_usec, duration);
        }
        /* The facts' query ends the poll, so no tick starts a query beside it. */
        if (p->need_facts)
                pgp_read_facts(p);
        else
                poller_end(&p->base);
}

static int pgp_start(Poller *base) {
        PgProbe *p = (PgProbe *) base;
        const char *why;
        int r;

        r = pg_conn_query(p->conn, PGP_STATS_SQL, pgp_on_stats, p);
        if (r == -EAGAIN) {
                why = pg_conn_last_error(p->conn);
                poller_report_down(base, "%s (waiting before reconnecting)", why ? why : "connection failed");
        } else if (r < 0 && r != -EBUSY)
                poller_report_down(base, "cannot start the query: %s", strerror(-r));
        return r;
}

static void pgp_free(Poller *base) {
        PgProbe *p = (PgProbe *) base;

        pg_conn_free(p->conn);
        free(p->series);
        free(p);
}

static const PollerOps pgp_ops = {
        .kind = "postgres",
        .start = pgp_start,
        .free = pgp_free,
};

/* A value as conninfo wants it: quoted when empty or holding a space, a
 * quote or a backslash. */
static void pgp_write_value(FILE *f, const char *v) {
        if (*v && !strpbrk(v, " \t\n'\\")) {
                fputs(v, f);
                return;
        }
        fputc('\'', f);
        for (; *v; v++) {
                if (*v == '\'' || *v == '\\')
                        fputc('\\', f);
                fputc(*v, f);
        }
        fputc('\'', f);
}

/* The conninfo as shown in /v1/sources: libpq parses it (key=value or URI)
 * and every secret option (password, sslpassword) is left out.  NULL on
 * a parse error or out of memory. */
static char *pgp_public_conninfo(const char *conninfo) {
        PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
        char *buf = NULL;
        size_t size = 0;
        bool first = true;
        FILE *f;

        if (!opts)
                return NULL;
        f = open_memstream(&buf, &size);
        for (PQconninfoOption *o = opts; f && o->keyword; o++) {
                if (!o->val || strchr(o->dispchar, '*') || strcmp(o->keyword, "password") == 0)
                        continue;
                fprintf(f, "%s%s=", first ? "" : " ", o->keyword);
                pgp_write_value(f, o->val);
                first = false;
        }
        PQconninfoFree(opts);
        if (!f || fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

/* "ab" in a buffer with room for `extra` more bytes (a column suffix). */
static char *join_with_room(const char *a, const char *b, size_t extra) {
        size_t la = strlen(a), lb = strlen(b);
        char *s = malloc(la + lb + extra + 1);

        if (!s)
                return NULL;
        memcpy(s, a, la);
        memcpy(s + la, b, lb + 1);
        return s;
}

static int pgp_setup(PgProbe *p, sd_event *e, SourceSet *sources) {
        const PostgresConfig *pc = p->pc;
        char *description = NULL, *name = NULL, *url = NULL;
        int r = -ENOMEM;

        p->series = join_with_room("pg.", pc->name, 1 + PGP_COLUMN_MAX);
        description = strjoin("pg:", pc->name, NULL);
        name = strjoin("pg.", pc->name, NULL);
        if (!p->series || !description || !name)
                goto out;
        p->prefix_len = strlen(p->series) + 1;
        strcat(p->series, ".");

        r = pg_conn_new(e, pc->conninfo, pc->timeout_usec, description, &p->conn);
        if (r < 0)
                goto out;
        url = pgp_public_conninfo(pc->conninfo);
        if (!url) {
                r = -ENOMEM;
                goto out;
        }
        r = poller_init(&p->base, &pgp_ops, e, pc->interval_usec, PGP_FIRST_SPREAD_USEC, description);
        if (r >= 0)
                r = poller_register(&p->base, sources, name, "postgres", url);
out:
        free(description);
        free(name);
        free(url);
        return r;
}

static int pgp_new(const PollerContext *ctx, const PostgresConfig *pc, PollerList *list) {
        PgProbe *p;
        int r;

        if (!pc->name || !pc->conninfo || pc->interval_usec == 0 || pc->timeout_usec == 0)
                return -EINVAL;
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->base.ops = &pgp_ops;
        p->base.no_backoff = true;
        p->store = ctx->store;
        p->pc = pc;
        r = pgp_setup(p, ctx->event, ctx->sources);
        if (r < 0) {
                poller_free(&p->base);
                return r;
        }
        return poller_list_add(list, &p->base);
}

static int pgp_build(const PollerContext *ctx, PollerList *list) {
        int r;

        for (size_t i = 0; i < ctx->config->n_postgres; i++) {
                r = pgp_new(ctx, &ctx->config->postgres[i], list);
                if (r < 0)
                        return log_error_errno(r, "[postgres %s]: cannot start polling: %s",
                                               ctx->config->postgres[i].name, strerror(-r));
        }
        return 0;
}

const PollerKind pg_poller_kind = {
        .name = "postgres",
        .build = pgp_build,
};
