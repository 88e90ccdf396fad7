-- Schema version 3: one row per series and minute summarising its samples,
-- so a statistic over a long window reads one row per minute instead of
-- every sample (store_series_stat).  minute is floor(ts / 60000); lo and hi
-- carry the time of the newest sample holding them, last the value of the
-- newest sample (the one stored last among equal times).  store_flush()
-- keeps the rows in the same transaction as the samples; retention deletes
-- a row once its whole minute is older than the cutoff.
CREATE TABLE rollups (
        series_id INTEGER NOT NULL REFERENCES series (id),
        minute INTEGER NOT NULL,
        n INTEGER NOT NULL,
        total REAL NOT NULL,
        lo REAL NOT NULL,
        lo_ts INTEGER NOT NULL,
        hi REAL NOT NULL,
        hi_ts INTEGER NOT NULL,
        last REAL NOT NULL,
        last_ts INTEGER NOT NULL,
        PRIMARY KEY (series_id, minute)
) STRICT, WITHOUT ROWID;

-- Backfill from the samples already stored.  The minute is a floor
-- division, also for times before 1970.
INSERT INTO rollups (series_id, minute, n, total, lo, lo_ts, hi, hi_ts, last, last_ts)
SELECT g.series_id, g.minute, g.n, g.total,
       g.lo, (SELECT ts FROM samples
              WHERE series_id = g.series_id AND ts BETWEEN g.minute * 60000 AND g.minute * 60000 + 59999
              ORDER BY value ASC, ts DESC LIMIT 1),
       g.hi, (SELECT ts FROM samples
              WHERE series_id = g.series_id AND ts BETWEEN g.minute * 60000 AND g.minute * 60000 + 59999
              ORDER BY value DESC, ts DESC LIMIT 1),
       (SELECT value FROM samples
        WHERE series_id = g.series_id AND ts BETWEEN g.minute * 60000 AND g.minute * 60000 + 59999
        ORDER BY ts DESC, rowid DESC LIMIT 1),
       g.last_ts
FROM (SELECT series_id, (ts - (((ts % 60000) + 60000) % 60000)) / 60000 AS minute,
             count(*) AS n, sum(value) AS total, min(value) AS lo, max(value) AS hi,
             max(ts) AS last_ts
      FROM samples GROUP BY 1, 2) AS g;
