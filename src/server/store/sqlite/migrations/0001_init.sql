-- Bins and the requests captured by them.
CREATE TABLE bins (
    id              TEXT PRIMARY KEY,          -- lower-case hyphenated UUIDv4
    created_at      INTEGER NOT NULL,          -- unix milliseconds
    response_status INTEGER NOT NULL,
    response_headers TEXT NOT NULL,            -- JSON array of [name, value]
    response_body   TEXT NOT NULL,
    response_delay_ms INTEGER NOT NULL
) WITHOUT ROWID;

-- AUTOINCREMENT: ids are never reused, so cursors (and later the tunnel's
-- delivery position) stay valid after deletes.
CREATE TABLE requests (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    bin_id      TEXT NOT NULL REFERENCES bins(id) ON DELETE CASCADE,
    received_at INTEGER NOT NULL,
    method      TEXT NOT NULL,
    path        TEXT NOT NULL,
    query       TEXT NOT NULL,
    headers     TEXT NOT NULL,                 -- JSON array of [name, value]
    remote_addr TEXT NOT NULL,
    body        BLOB NOT NULL
);
CREATE INDEX requests_by_bin ON requests(bin_id, id);
