/* One asynchronous libpq connection on the sd-event loop: connects with
 * PQconnectStart/PQconnectPoll, runs one query at a time with PQsendQuery,
 * watches the socket, and enforces a timeout on both (a server that stops
 * answering never blocks the loop).  After a failure the next query
 * reconnects, with capped exponential backoff. */
#pragma once

#include <libpq-fe.h>
#include <stdint.h>
#include <systemd/sd-event.h>

typedef struct PgConn PgConn;

/* Called once per query: `res` is the last result (PGRES_TUPLES_OK or
 * PGRES_COMMAND_OK; freed by PgConn after the call) or NULL with `error`
 * naming the problem in one line ("connect failed: ...", "timed out after
 * 5000 ms", "ERROR: relation ... does not exist"). */
typedef void (*pg_conn_done_t)(PgConn *c, const PGresult *res, const char *error, void *userdata);

/* `conninfo` as libpq takes it; `timeout_usec` bounds connecting and each
 * query (also sent as statement_timeout); `description` names the sd-event
 * sources ("pg:main"). */
int pg_conn_new(sd_event *e, const char *conninfo, uint64_t timeout_usec, const char *description,
                PgConn **ret);

/* Closes the connection without calling a pending callback; NULL is a no-op. */
PgConn *pg_conn_free(PgConn *c);

/* Runs `sql`, connecting first when needed.  -EBUSY while a query is in
 * flight; -EAGAIN while backing off after a failure (the reason is in
 * pg_conn_last_error()).  The callback may start the next query. */
int pg_conn_query(PgConn *c, const char *sql, pg_conn_done_t done, void *userdata);

/* The last failure, or NULL. */
const char *pg_conn_last_error(const PgConn *c);

/* The live connection (for PQserverVersion, PQparameterStatus), or NULL. */
PGconn *pg_conn_get(PgConn *c);

/* True when the connection was (re)established by the last query: callers
 * re-read per-connection facts (server version, aurora_version()). */
int pg_conn_is_new(const PgConn *c);
