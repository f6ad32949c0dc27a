-- Full-text search moves to a file of its own beside the database (`<db>-search`),
-- written by its own thread (store/search_index.rs): in this file, every piece of
-- indexing held the single writer, and so every new event, up. The index is derived
-- from `events` and is rebuilt there from scratch.
DROP TABLE events_fts;
DELETE FROM meta WHERE key = 'fts_indexed_seq';
-- Names this database, so an index file left beside a replaced database is never
-- taken for its own.
INSERT INTO meta(key, value) VALUES ('db_id', random() & 9223372036854775807);
