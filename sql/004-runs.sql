-- Schema version 4: load scenario runs.  One row per run, written when it
-- begins (state 'running'), updated with its figures so far every few
-- seconds while it runs, and finished in one transaction with its
-- histograms.  Times are unix milliseconds; ended_at is NULL while running.
-- state is one of running, completed, aborted, cancelled, failed; it has no
-- CHECK, so that a later state needs no table rebuild (the C enum guards
-- it).  extra is a JSON object for what later issues hang on a run (the
-- lost-write report, the ACU window): a new key there needs no migration;
-- it is always a JSON object.
-- AUTOINCREMENT: a run id once handed out (/v1/runs/ID, a criterion's
-- evidence) never names another run, even after retention.
CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        scenario TEXT NOT NULL,
        model TEXT NOT NULL,
        state TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        ended_at INTEGER,
        duration_ms INTEGER NOT NULL DEFAULT 0,
        requests INTEGER NOT NULL DEFAULT 0,
        ok INTEGER NOT NULL DEFAULT 0,
        err_connect INTEGER NOT NULL DEFAULT 0,
        err_timeout INTEGER NOT NULL DEFAULT 0,
        err_status INTEGER NOT NULL DEFAULT 0,
        err_other INTEGER NOT NULL DEFAULT 0,
        dropped INTEGER NOT NULL DEFAULT 0,
        aborted INTEGER NOT NULL DEFAULT 0,
        target_rps REAL NOT NULL DEFAULT 0,
        achieved_rps REAL NOT NULL DEFAULT 0,
        reason TEXT NOT NULL DEFAULT '',
        extra TEXT NOT NULL DEFAULT '{}'
                CHECK (CASE WHEN json_valid(extra) THEN json_type(extra) = 'object' ELSE 0 END)
) STRICT;

-- Listing newest first (all runs, one scenario's, or those in one state),
-- the latest completed run of a scenario, retention by age and the
-- interrupted runs at startup each walk one of these.
CREATE INDEX runs_started ON runs (started_at);
CREATE INDEX runs_scenario_started ON runs (scenario, started_at);
CREATE INDEX runs_state_started ON runs (state, started_at);

-- A run's full histograms, in histogram.c's encoding (hist_encode): one
-- per request name ('' for the run as a whole) and kind (latency from the
-- intended start, service from the actual send, lateness of the send).
-- A rowid table, not WITHOUT ROWID: the blobs run to several KiB.
CREATE TABLE run_histograms (
        run_id INTEGER NOT NULL REFERENCES runs (id),
        request TEXT NOT NULL,
        kind TEXT NOT NULL,
        data BLOB NOT NULL,
        UNIQUE (run_id, request, kind)
) STRICT;
