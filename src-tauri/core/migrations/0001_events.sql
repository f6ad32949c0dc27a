-- Events, latest state per entity, and source cursors.
-- Append-only: never edit a migration that has shipped; add a new file.

CREATE TABLE events (
    seq         INTEGER PRIMARY KEY,   -- assigned by the hub, strictly increasing
    source      TEXT    NOT NULL,
    received_at INTEGER NOT NULL,      -- ms since the Unix epoch
    occurred_at INTEGER,
    kind        TEXT    NOT NULL,      -- job | queue | worker | source
    entity      TEXT    NOT NULL,
    parent      TEXT,
    status      TEXT    NOT NULL,
    progress    REAL,
    stage       TEXT,
    message     TEXT,
    error       TEXT,
    counts      TEXT,                  -- JSON object, queue events only
    channel     TEXT,
    remote_id   TEXT,
    raw         TEXT    NOT NULL       -- the payload verbatim
);

-- One entity's timeline.
CREATE INDEX events_by_entity ON events(entity, kind, seq);
-- A time window: not an index on received_at (one more b-tree written per event) but
-- the seq range of each minute, maintained per batch. Sources stamp received_at just
-- before the hub assigns seq, so a minute's events lie within its [first, last] seq;
-- a window query scans that rowid range and filters on received_at: exact and cheap.
CREATE TABLE time_buckets (
    minute    INTEGER PRIMARY KEY,     -- received_at / 60000
    first_seq INTEGER NOT NULL,
    last_seq  INTEGER NOT NULL
);
-- Recent failures: partial, so it costs nothing for the other statuses.
CREATE INDEX events_failed_by_time ON events(received_at) WHERE status = 'failed';
-- Dedupe by the id the remote gave the message, where there is one.
CREATE UNIQUE INDEX events_remote_id ON events(source, remote_id) WHERE remote_id IS NOT NULL;

CREATE TABLE entities (
    kind        TEXT    NOT NULL,
    entity      TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    parent      TEXT,
    status      TEXT    NOT NULL,
    progress    REAL,
    stage       TEXT,
    message     TEXT,
    error       TEXT,
    counts      TEXT,
    first_seen  INTEGER NOT NULL,
    started_at  INTEGER,
    finished_at INTEGER,
    last_seen   INTEGER NOT NULL,
    last_seq    INTEGER NOT NULL,
    events      INTEGER NOT NULL,
    PRIMARY KEY (kind, entity)
) WITHOUT ROWID;

-- Written behind ingestion (the board lives in memory); `entities_seq` in meta (0002)
-- says up to which event this table is current, and the hub replays the rest at start.

-- A source's resume point, committed in the same transaction as the events it covers.
CREATE TABLE cursors (
    source     TEXT PRIMARY KEY,
    cursor     TEXT    NOT NULL,
    seq        INTEGER NOT NULL,   -- the last seq stored when the cursor was saved
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;
