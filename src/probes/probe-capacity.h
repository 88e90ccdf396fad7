/* Aurora Serverless v2 capacity in ACUs, as series aurora.<name>.acu (and
 * aurora.<name>.acu_utilization from CloudWatch):
 *   source = cloudwatch: CloudWatch GetMetricData (AWS JSON 1.0 protocol,
 *     namespace AWS/RDS, dimension DBClusterIdentifier) signed with libcurl's
 *     CURLOPT_AWS_SIGV4;
 *   source = sql: a user query on a PostgreSQL connection that returns one
 *     number. */
#pragma once

#include "probes/poller.h"

/* The kind's row for the manager's table: a poller for every [capacity]
 * section (source "aurora.<name>", kind "cloudwatch" or "capacity_sql";
 * for sql, a connection of its own to the [postgres] section it names). */
extern const PollerKind capacity_poller_kind;
