/* Aurora Serverless v2 capacity in ACUs, as series aurora.<name>.acu (and
 * aurora.<name>.acu_utilization from CloudWatch):
 *   source = cloudwatch: CloudWatch GetMetricData (AWS JSON 1.0 protocol,
 *     namespace AWS/RDS, dimension DBClusterIdentifier) signed with libcurl's
 *     CURLOPT_AWS_SIGV4;
 *   source = sql: a user query on a PostgreSQL connection that returns one
 *     number. */
#pragma once

#include <systemd/sd-event.h>

#include "config/config.h"
#include "transport/curl-glue.h"
#include "probes/source.h"
#include "store/store.h"

typedef struct CapacityProbe CapacityProbe;

/* Registers source "aurora.<name>" (kind "cloudwatch" or "capacity_sql") and
 * starts polling.  For source = sql, `pg` is the [postgres] section named by
 * cc->postgres (its conninfo; the probe opens a connection of its own).
 * Everything passed is borrowed and must outlive the probe. */
int capacity_probe_new(sd_event *e, CurlGlue *glue, Store *store, SourceSet *sources,
                       const CapacityConfig *cc, const PostgresConfig *pg, CapacityProbe **ret);

/* NULL is a no-op.  Returns NULL. */
CapacityProbe *capacity_probe_free(CapacityProbe *p);
