/* Polls a Go service's /memory JSON endpoint: every numeric field becomes
 * a series go.<target>.<field>.  The body is parsed as it arrives (a
 * streaming parse, never a document in memory), so a large answer holds
 * the loop for no longer than one network read's worth of parsing at a
 * time. */
#pragma once

#include "probes/poller.h"

/* Numeric fields taken from one answer; a /memory endpoint has about 30. */
#define GOMEM_FIELDS_MAX 2000

/* The kind's row for the manager's table: a poller for every [target]
 * with a memory_url, polling it every memory_interval (source
 * "go.<target>.memory", kind "go_memory"). */
extern const PollerKind gomem_poller_kind;
