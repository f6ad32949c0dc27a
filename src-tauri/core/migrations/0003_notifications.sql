-- Notification state: which failures were notified or acknowledged, and snoozes.
CREATE TABLE notified (
    kind         TEXT    NOT NULL,
    entity       TEXT    NOT NULL,
    seq          INTEGER NOT NULL,   -- the failure event that was notified
    notified_at  INTEGER NOT NULL,
    acknowledged INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, entity)
) WITHOUT ROWID;

CREATE TABLE snoozes (
    scope TEXT PRIMARY KEY,          -- '*' for everything, or a source / queue name
    until INTEGER                    -- ms; NULL = until resumed
) WITHOUT ROWID;
