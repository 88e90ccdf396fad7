/* Polls a PostgreSQL (or Aurora PostgreSQL) server's statistics into series
 * pg.<name>.*: pg_stat_database of the connected database (with per-second
 * rates and the cache-hit ratio), connections by state, max_connections,
 * database size, replication lag; Aurora is detected by aurora_version(). */
#pragma once

#include <systemd/sd-event.h>

#include "config/config.h"
#include "probes/source.h"
#include "store/store.h"

typedef struct PgProbe PgProbe;

/* Registers source "pg.<name>" (kind "postgres") and starts polling.
 * Everything passed is borrowed and must outlive the probe. */
int pg_probe_new(sd_event *e, Store *store, SourceSet *sources, const PostgresConfig *pc,
                 PgProbe **ret);

/* NULL is a no-op.  Returns NULL. */
PgProbe *pg_probe_free(PgProbe *p);
