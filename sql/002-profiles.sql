-- Schema version 2: raw pprof profiles, stored exactly as received, so that
-- go tool pprof reads them back byte for byte.  Times are unix milliseconds.
-- AUTOINCREMENT: an id once handed out (/v1/profiles/ID, last_profile_id)
-- never names another profile, even after retention removed the newest row.
-- size repeats length(data) and data is the last column: a listing reads
-- only the short columns and never follows the blob's overflow pages.
CREATE TABLE profiles (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        target TEXT NOT NULL,
        kind TEXT NOT NULL,
        ts INTEGER NOT NULL,
        duration_ms INTEGER NOT NULL,
        size INTEGER NOT NULL,
        summary TEXT NOT NULL,
        data BLOB NOT NULL
) STRICT;

-- Listing one target's profiles of one kind over a time range, and pruning
-- one (target, kind) by age and by count, both walk this index.
CREATE INDEX profiles_target_kind_ts ON profiles (target, kind, ts);
