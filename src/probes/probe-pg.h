/* Polls a PostgreSQL (or Aurora PostgreSQL) server's statistics into series
 * pg.<name>.*: pg_stat_database of the connected database (with per-second
 * rates and the cache-hit ratio), connections by state, max_connections,
 * database size, replication lag; Aurora is detected by aurora_version(). */
#pragma once

#include "probes/poller.h"

/* The kind's row for the manager's table: a poller for every [postgres]
 * section (source "pg.<name>", kind "postgres"), each on a connection of
 * its own. */
extern const PollerKind pg_poller_kind;
