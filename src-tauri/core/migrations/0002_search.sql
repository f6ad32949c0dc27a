-- Full-text search over entity, message, error and the raw payload.
-- Contentless (the text already lives in `events`), with delete support so retention
-- can drop rows. It is filled behind ingestion by the hub when it is idle, so indexing
-- never holds ingestion back; `fts_indexed_seq` records how far it has got, and
-- searches scan the short unindexed tail directly.
CREATE VIRTUAL TABLE events_fts USING fts5(
    entity, message, error, raw,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61'
);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO meta(key, value) VALUES ('fts_indexed_seq', 0);
-- How far the entities table is current (see 0001).
INSERT INTO meta(key, value) VALUES ('entities_seq', 0);
