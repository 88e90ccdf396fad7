-- Schema version 1: named series and their raw samples.  Times are unix
-- milliseconds.  Series are never deleted, so their ids stay valid in
-- perfwatchd's in-memory name cache.
CREATE TABLE series (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE
) STRICT;

CREATE TABLE samples (
        series_id INTEGER NOT NULL REFERENCES series (id),
        ts INTEGER NOT NULL,
        value REAL NOT NULL
) STRICT;

-- Every read is one series over a time range; retention walks the same
-- index series by series, so no second index on ts is needed.
CREATE INDEX samples_series_ts ON samples (series_id, ts);
