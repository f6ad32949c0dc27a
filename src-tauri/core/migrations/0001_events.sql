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
-- A time window.
CREATE INDEX events_by_time ON events(received_at);
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

CREATE INDEX entities_by_status ON entities(kind, status, last_seen);

-- A source's resume point, committed in the same transaction as the events it covers.
CREATE TABLE cursors (
    source     TEXT PRIMARY KEY,
    cursor     TEXT    NOT NULL,
    seq        INTEGER NOT NULL,   -- the last seq stored when the cursor was saved
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;
